"""Checks of names against the tables: models (built-in, of other parts, plug-ins) and
tasks (and their suites), and whether a model can learn a task. Each raises a one-line
``ValueError`` naming the setting."""

from __future__ import annotations

from collections.abc import Sequence

from deepsets.core.checks import check_names
from deepsets.core.models import RHOS, SPECS, is_model_name, refusal, spec
from deepsets.core.tasks import SUITES, TASKS


def check_models(names: object, field: str = "models") -> tuple[str, ...]:
    """Built-in model names and importable plug-ins (``package.module:ClassName``)."""
    names = check_names(field, names, SPECS, "model", also=is_model_name)
    for name in names:  # a plug-in that does not import is an error now, not mid-run
        if spec(name).available is not None:
            spec(name).available()  # a missing extra too
    return names


def check_fit(models: Sequence[str], tasks: Sequence[str]) -> None:
    """A ValueError, one line, for the first task whose elements are not here (MNIST
    without its extra: how to install it), or model that cannot learn one of ``tasks`` (a
    plug-in that takes tokens only, on a task of vectors)."""
    for task in tasks:
        if TASKS[task].elements.available is not None:
            TASKS[task].elements.available()
        for model in models:
            why = refusal(model, TASKS[task].elements.inputs, TASKS[task].outputs)
            if why:
                raise ValueError(f"{why}: it cannot learn task {task!r}")


def check_tasks(names: object, field: str = "tasks") -> tuple[str, ...]:
    """Task names, where a suite's name (``SUITES``: ``default``, ``laf``) stands for all of
    its tasks."""
    names = check_names(field, names, [*TASKS, *SUITES], "task or suite")
    expanded = [task for name in names for task in SUITES.get(name, (name,))]
    return check_names(field, tuple(dict.fromkeys(expanded)), TASKS, "task")


def check_readouts(names: object, field: str = "readouts") -> tuple[str, ...]:
    """Readouts of ``models.RHOS``; none (the empty tuple): each model's own."""
    return () if names in ((), []) else check_names(field, names, RHOS, "readout")
