"""The Python package's shape: no import cycles, the library apart from the tools.

The import graph is read from the sources (every ``import`` statement,
function-level ones included, so that a lazy import cannot hide a cycle;
those under ``if TYPE_CHECKING:`` are left out, as they never run), and a
fresh interpreter imports every module.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import gelu_ext

PACKAGE_DIR = os.path.dirname(os.path.abspath(gelu_ext.__file__))
# The library: what ``import gelu_ext`` loads. Everything else is tooling (cli/).
LIBRARY = {"gelu_ext", "gelu_ext._library", "gelu_ext.nn", "gelu_ext.ops"}


def _modules() -> dict[str, str]:
    """Dotted name -> path of every Python module of the package."""
    out = {}
    for folder, _, files in os.walk(PACKAGE_DIR):
        package = os.path.relpath(folder, os.path.dirname(PACKAGE_DIR)).replace(os.sep, ".")
        for name in files:
            if name.endswith(".py"):
                stem = name[:-3]
                out[package if stem == "__init__" else f"{package}.{stem}"] = os.path.join(
                    folder, name
                )
    return out


def _extensions() -> set[str]:
    """Dotted names of the compiled modules (gelu_ext._C, gelu_ext._ops)."""
    return {
        f"gelu_ext.{name.split('.')[0]}" for name in os.listdir(PACKAGE_DIR) if name.endswith(".so")
    }


def _ancestors(name: str) -> set[str]:
    """The packages above a dotted name (a.b.c: a and a.b)."""
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def _is_type_checking(node: ast.If) -> bool:
    """Whether ``node`` is ``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``)."""
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement that can run (not those under TYPE_CHECKING)."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.append(child)
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules whose code its imports run or need.

    A module's own packages are not edges (Python runs them before it; the
    cycles that matter are elsewhere), unless it takes a name from one that
    is not a submodule (``from .. import __version__``): that name exists
    only once the package's ``__init__`` has run that far."""
    modules = _modules()
    submodules = set(modules) | _extensions()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        with open(path) as f:
            tree = ast.parse(f.read(), path)
        is_package = os.path.basename(path) == "__init__.py"
        here = name if is_package else name.rpartition(".")[0]
        implicit = _ancestors(name) | {name}
        needed: set[str] = set()
        for node in _imports(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:
                    parts = here.split(".")
                    base = parts[: len(parts) - (node.level - 1)]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                targets = [module]
                for alias in node.names:
                    if f"{module}.{alias.name}" in submodules:
                        targets.append(f"{module}.{alias.name}")
                    else:
                        needed.add(module)  # an attribute of module itself
            for target in targets:
                needed |= ({target} | _ancestors(target)) - implicit
        graph[name] = {m for m in needed if m in modules and m != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the graph as a list of modules, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_graph_sees_the_package():
    graph = import_graph()
    assert LIBRARY | {"gelu_ext.cli", "gelu_ext.cli.bench", "gelu_ext.cli.reference"} <= set(graph)
    assert "gelu_ext.cli.bench" in graph["gelu_ext.cli"]  # the dispatcher imports its commands
    assert "gelu_ext.cli.reference" in graph["gelu_ext.cli.accuracy"]


def test_no_import_cycles():
    cycle = _cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_cycle_detection_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_the_library_does_not_import_the_tools():
    graph = import_graph()
    for name in LIBRARY:
        assert not {m for m in graph[name] if m.startswith("gelu_ext.cli")}, name


def test_every_module_imports_in_a_fresh_interpreter():
    """A new process imports every module, by name. (Importing a submodule
    runs its packages first, and gelu_ext.cli imports all of its commands,
    so this is the order of initialisation that every program gets.)"""
    names = sorted(n for n in _modules() if n != "gelu_ext.__main__")
    code = (
        "import importlib, sys\n"
        "for name in sys.argv[1:]:\n"
        "    importlib.import_module(name)\n"
        "print('ok')\n"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(PACKAGE_DIR), env.get("PYTHONPATH", "")]
    ).rstrip(os.pathsep)
    run = subprocess.run(
        [sys.executable, "-c", code, *names], capture_output=True, text=True, env=env, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok"
