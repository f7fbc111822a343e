"""The add-on's imports flow one way, read from its source (``ast``: every import written, at any
depth, not only those a run happened to load): no module imports one that imports it back, through
any number of others; no subpackage (``bake/``, ``rig/``, ``core/``, ``setup/``) imports a module
that imports the subpackage back; the worker client never reaches the backend's installer
(``setup/``), and the panel's settings never reach the operators."""

import ast
import os

from conftest import REPO

PACKAGE = "asynfusion_blender"
ADDON = os.path.join(REPO, PACKAGE)


def modules() -> dict[str, str]:
    """Every module of the add-on (``core/`` is a link to the backend's: followed) -> its file."""
    found = {}
    for folder, subfolders, files in os.walk(ADDON, followlinks=True):
        subfolders[:] = sorted(d for d in subfolders if d not in ("data", "__pycache__"))
        for name in files:
            if name.endswith(".py"):
                parts = os.path.relpath(os.path.join(folder, name[:-3]), ADDON).split(os.sep)
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                found[".".join([PACKAGE, *parts])] = os.path.join(folder, name)
    return found


def imports() -> dict[str, set[str]]:
    """module -> the add-on's modules (or packages, for a name that is no module) it imports."""
    found = modules()
    graph: dict[str, set[str]] = {}
    for module, path in found.items():
        package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
        with open(path, encoding="utf-8") as fh:
            tree = ast.parse(fh.read(), path)
        targets = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1])
                    base = f"{base}.{node.module}" if node.module else base
                else:
                    base = node.module or ""
                targets.update(f"{base}.{a.name}" if f"{base}.{a.name}" in found else base for a in node.names)
            elif isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
        graph[module] = {t for t in targets if t == PACKAGE or t.startswith(PACKAGE + ".")} - {module}
    return graph


def by_package(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The same graph with each subpackage's modules as one node (top-level modules stay themselves)."""
    def node(name: str) -> str:
        return ".".join(name.split(".")[:2])
    merged: dict[str, set[str]] = {}
    for module, targets in graph.items():
        merged.setdefault(node(module), set()).update(node(t) for t in targets)
    return {n: targets - {n} for n, targets in merged.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected parts of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while not part or part[-1] != v:
                part.append(stack.pop())
            if len(part) > 1:
                found.append(sorted(part))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for target in graph.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def test_the_graph_holds_every_module_and_import():
    graph = imports()
    assert {"asynfusion_blender.core.protocol", "asynfusion_blender.bake.bake", "asynfusion_blender.setup.install",
            "asynfusion_blender.operators"} <= set(graph)
    assert "asynfusion_blender.core.protocol" in graph["asynfusion_blender.client"]      # from .core import protocol
    assert "asynfusion_blender.errors" in graph["asynfusion_blender.rig.profiles"]       # from ..errors import ...
    assert "asynfusion_blender.core.skeleton" in graph["asynfusion_blender.core.rest_pose"]


def test_no_module_imports_itself_back():
    assert cycles(imports()) == []


def test_no_subpackage_imports_itself_back():
    graph = by_package(imports())
    assert {"asynfusion_blender.bake", "asynfusion_blender.rig", "asynfusion_blender.core",
            "asynfusion_blender.setup"} <= set(graph)
    assert cycles(graph) == []


def test_the_worker_client_never_reaches_the_installer():
    reached = reachable(imports(), "asynfusion_blender.client")
    assert "asynfusion_blender.backend_venv" in reached
    assert sorted(m for m in reached if m.startswith("asynfusion_blender.setup")) == []


def test_the_panel_settings_never_reach_the_operators():
    reached = reachable(imports(), "asynfusion_blender.properties")
    assert "asynfusion_blender.job" in reached
    assert "asynfusion_blender.operators" not in reached
