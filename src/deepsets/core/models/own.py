"""Models of your own handed over as Python objects: a class, or a function that builds one.

The command line names a model of your own by its import path, ``package.module:Class``,
and every worker imports it. From Python the model can be the object itself
(``deepsets.compare(models=[MySetNet])``). A module class that a worker can import by that
path goes by that name, as on the command line (``name_of``). Any other (a class defined
in a notebook's cell or a script's ``__main__``, a function that builds a model) goes by
its own ``__name__``: it is handed over here (``HANDED``), and travels to the workers by
value with cloudpickle, which Ray uses too (``by_value``, ``receive``), so that a worker
needs neither the notebook nor the script.

What defines its code is a fingerprint (``code_fingerprint``), taken where it was handed
over and sent with it: a checkpoint of other code is trained again, as a plug-in's is.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import marshal
from collections.abc import Callable, Collection, Iterable
from pathlib import Path

from torch import nn

#: The models handed over as objects in this process, by name: the object and the
#: fingerprint of its code.
HANDED: dict[str, tuple[Callable[..., nn.Module], str]] = {}

#: Where a model's inherited code is the libraries', not the user's: left out of its
#: fingerprint, so that it changes with the user's own code only.
LIBRARIES = ("builtins", "abc", "typing", "torch", "torch_geometric", "deepsets")


def name_of(model: object, reserved: Collection[str] = ()) -> str:
    """The name ``model`` goes by in a sweep, its run folders and its tables: a name as it
    is; an ``nn.Module`` class that importing its module gives, ``module:Class`` (the
    command line's name for it); any other class or function, its ``__name__``, handed
    over (``HANDED``). ``reserved`` (the built-in models' names) it may not take."""
    if isinstance(model, str):
        return model
    if not callable(model) or not hasattr(model, "__name__"):
        raise ValueError(f"models: {model!r} is neither a model's name, an nn.Module class "
                         "nor a function that builds one")
    path = import_path(model)
    if path is not None:
        return path
    name = model.__name__
    if not name.isidentifier():
        raise ValueError(f"models: {model!r} has no name to go by; define it with def or "
                         "class")
    if name in reserved:
        raise ValueError(f"models: your model {model!r} is named {name!r}, a built-in "
                         "model's name; rename it")
    HANDED[name] = (model, code_fingerprint(model))
    return name


def import_path(model: object) -> str | None:
    """``module:Class`` where ``model`` is an ``nn.Module`` class that importing its module
    gives by that name; None otherwise (a class of ``__main__``, or of a function's body)."""
    module, name = getattr(model, "__module__", None), getattr(model, "__qualname__", "")
    if not (isinstance(model, type) and issubclass(model, nn.Module)) \
            or module in (None, "__main__") or "." in name or "<" in name:
        return None
    try:
        found = getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None
    return f"{module}:{name}" if found is model else None


def by_value(names: Iterable[str]) -> dict[str, tuple[bytes, str]]:
    """Of ``names``, the models handed over here, pickled by value with their
    fingerprints: what a worker needs to build them (``receive``)."""
    import cloudpickle

    return {name: (cloudpickle.dumps(HANDED[name][0]), HANDED[name][1])
            for name in names if name in HANDED}


def receive(models: dict[str, tuple[bytes, str]]) -> None:
    """In a worker: hand over the models ``by_value`` pickled."""
    import cloudpickle

    for name, (pickled, fingerprint) in models.items():
        HANDED[name] = (cloudpickle.loads(pickled), fingerprint)


def code_fingerprint(model: object) -> str:
    """A SHA-256 (16 hex digits) of the source of ``model``, and of each class it inherits
    from outside the libraries (``LIBRARIES``), its own first: each one's file where it has
    one (a module's, a script's), read from disk so that an edit since the import counts;
    else its own text (``source_of``)."""
    digest, seen = hashlib.sha256(), set()
    for part in model.__mro__ if isinstance(model, type) else (model,):
        if part.__module__.split(".")[0] in LIBRARIES:
            continue
        path = source_file(part)
        if path in seen:
            continue
        seen.add(path)
        digest.update(path.read_bytes() if path is not None else source_of(part))
    return digest.hexdigest()[:16]


def source_file(obj: object) -> Path | None:
    """The file ``obj`` is defined in: the one its code was compiled from (a class's
    methods'), else its module's; None where that is no file on disk (a notebook's cell,
    ``python -c``). Not the module's alone: a class of ``__main__`` may come from a cell
    while ``__main__`` is a file (pytest's, a worker's)."""
    functions = [obj] if inspect.isfunction(obj) else methods(obj)
    try:
        path = functions[0].__code__.co_filename if functions \
            else inspect.getsourcefile(obj)  # type: ignore[arg-type]
    except (OSError, TypeError):  # a class of a notebook's __main__
        return None
    return Path(path) if path is not None and Path(path).is_file() else None


def methods(cls: object) -> list[Callable[..., object]]:
    """The functions a class defines itself, in order, each unwrapped of its decorators
    (``staticmethod``, ``property``, ``functools.wraps``)."""
    found = []
    for value in vars(cls).values() if isinstance(cls, type) else ():
        function = getattr(value, "__func__", getattr(value, "fget", value))
        if inspect.isfunction(function):
            found.append(inspect.unwrap(function))
    return found


def source_of(obj: object) -> bytes:
    """The text of ``obj``'s definition; of a class whose text Python cannot find (one
    defined in a notebook's cell), that of each of its methods, by name, and the value of
    each plain attribute; of a function without text (``python -c``), its compiled code."""
    try:
        return inspect.getsource(obj).encode()  # type: ignore[arg-type]
    except (OSError, TypeError):
        pass
    if inspect.isfunction(obj):
        return marshal.dumps(obj.__code__)
    if not isinstance(obj, type):
        return repr(obj).encode()
    parts = [obj.__qualname__.encode(), *map(source_of, methods(obj))]
    parts += [f"{key} = {value!r}".encode() for key, value in sorted(vars(obj).items())
              if isinstance(value, (bool, int, float, str, tuple, type(None)))]
    return b"\n".join(parts)
