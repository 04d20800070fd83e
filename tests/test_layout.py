"""The package's layout: three parts whose arrows run one way, no import circles, and
modules and functions of a size a reader can hold."""

import ast
from pathlib import Path

import deepsets

PACKAGE = Path(deepsets.__file__).parent
#: What each part may import of the package, besides itself.
ALLOWED = {"core": set(), "lab": {"core"}, "sweep": {"core", "lab"}}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """The package modules ``path`` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(
                "deepsets"):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names
                      if (PACKAGE.parent / node.module.replace(".", "/") / a.name).exists()
                      or (PACKAGE.parent / node.module.replace(".", "/")
                          / f"{a.name}.py").exists()}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("deepsets")}
    return found


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def part(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


def test_the_arrows_run_one_way_between_the_three_parts():
    for name, path in MODULES.items():
        mine = part(name)
        if mine not in ALLOWED:
            continue  # the interface (cli, flags) and the package's own __init__
        for target in imports(path):
            theirs = part(target)
            assert theirs == mine or theirs in ALLOWED[mine], f"{name} imports {target}"


def test_no_import_circles():
    graph = {name: {t for t in imports(path) if t in MODULES and t != name}
             for name, path in MODULES.items()}
    graph = {name: {t for t in targets if not name.startswith(t + ".")}  # a package's own
             for name, targets in graph.items()}
    done, path = set(), []

    def visit(name):
        assert name not in path, " -> ".join([*path[path.index(name):], name])
        if name in done:
            return
        path.append(name)
        for target in graph[name]:
            visit(target)
        path.pop()
        done.add(name)

    for name in graph:
        visit(name)


def test_modules_and_functions_stay_small():
    for name, path in MODULES.items():
        lines = path.read_text().splitlines()
        assert len(lines) <= 330, f"{name}: {len(lines)} lines"
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                doc = node.body[0]  # its docstring does not count
                if isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant) \
                        and isinstance(doc.value.value, str):
                    length -= doc.end_lineno - doc.lineno + 1
                assert length <= 60, f"{name}.{node.name}: {length} lines"
