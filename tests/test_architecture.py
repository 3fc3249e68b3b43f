"""The shape DESIGN.md promises, read from the source with `ast` (nothing is imported).

No import cycle between project modules; imports point down the layers; the theory checks are a
leaf; no module over 400 lines and no function over 60. Every import statement counts, those inside
functions too: a function-local import still couples two modules, it only hides it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("trainables", "search_spaces", "analysis", "tune_jobs")
# The theory checks may live in analysis/theory/ or become a fifth top-level package `theory/`.
LEAVES = tuple(p for p in ("analysis.theory", "theory") if (ROOT / p.replace(".", "/")).is_dir())
# What each package must never import (DESIGN.md, "Layout and layering").
FORBIDDEN = {
    "trainables": ("tune_jobs", "analysis", "search_spaces"),
    "search_spaces": ("tune_jobs", "analysis", "trainables"),
    "analysis": ("tune_jobs",),
}
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources() -> dict[str, Path]:
    """Every module of the project's packages, by dotted name."""
    roots = [*PACKAGES, *(leaf for leaf in LEAVES if "." not in leaf)]
    return {
        _module_name(path): path
        for package in roots
        for path in sorted((ROOT / package).rglob("*.py"))
    }


SOURCES = _sources()
TREES = {name: ast.parse(path.read_text(), str(path)) for name, path in SOURCES.items()}


def _imported_names(module: str, tree: ast.Module) -> Iterator[tuple[str, int]]:
    """Each name an import anywhere in `tree` (functions included) brings in, and its line.

    `from a.b import c` yields `a.b.c`, which resolves to module `a.b.c` or else to `a.b`.
    """
    package = module if SOURCES[module].name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: climb from this module's package
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield from ((f"{base}.{alias.name}", node.lineno) for alias in node.names)


def _resolve(name: str) -> str | None:
    """The project module `name` denotes: itself or its longest prefix that is a module."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in SOURCES:
            return candidate
    return None


def _graph() -> dict[str, set[str]]:
    """Module -> project modules it imports. Importing `a.b.c` runs `a/__init__` too, but that is
    not counted: a package's `__init__` re-exporting its submodules is not a cycle (as in grimp)."""
    graph: dict[str, set[str]] = {name: set() for name in SOURCES}
    for module, tree in TREES.items():
        for name, _ in _imported_names(module, tree):
            target = _resolve(name)
            if target is not None and target != module:
                graph[module].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[str]:
    """Each strongly connected component of more than one module (Tarjan), with one cycle in it."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [
        " -> ".join(_cycle_in(graph, set(component), component[0]))
        + f"  (one tangle: {', '.join(component)})"
        for component in components
    ]


def _cycle_in(graph: dict[str, set[str]], component: set[str], start: str) -> list[str]:
    """A shortest path from `start` back to itself inside `component` (breadth first)."""
    paths = {succ: [start, succ] for succ in sorted(graph[start] & component)}
    frontier = list(paths)
    while start not in paths:
        node = frontier.pop(0)
        for succ in sorted(graph[node] & component):
            if succ not in paths:
                paths[succ] = [*paths[node], succ]
                frontier.append(succ)
    return paths[start]


def test_no_import_cycle_between_project_modules():
    cycles = _cycles(_graph())
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def _imports_of(prefix: str) -> Iterator[tuple[str, int, str]]:
    """(path, line, imported name) for every import in the modules under `prefix`."""
    for module, tree in TREES.items():
        if module == prefix or module.startswith(prefix + "."):
            path = SOURCES[module].relative_to(ROOT)
            yield from ((str(path), line, name) for name, line in _imported_names(module, tree))


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_point_down_the_layers(package):
    upward = [
        f"{path}:{line}: {name}"
        for path, line, name in _imports_of(package)
        if any(_within(name, forbidden) for forbidden in FORBIDDEN[package])
    ]
    assert not upward, f"{package} must not import {FORBIDDEN[package]}:\n" + "\n".join(upward)


def test_theory_checks_are_a_leaf():
    assert LEAVES, "the theory checks are neither in analysis/theory/ nor in theory/"
    for leaf in LEAVES:
        outside = [
            f"{path}:{line}: {name}"
            for path, line, name in _imports_of(leaf)
            if any(_within(name, p) for p in PACKAGES + ("theory",)) and not _within(name, leaf)
        ]
        assert not outside, f"{leaf} imports the project outside itself:\n" + "\n".join(outside)


def test_no_module_over_400_lines():
    long = [
        f"{path.relative_to(ROOT)}:{lines}"
        for path in SOURCES.values()
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    ]
    assert not long, f"modules over {MAX_MODULE_LINES} lines:\n" + "\n".join(long)


def _functions(node: ast.AST, prefix: str = "") -> Iterator[tuple[str, ast.AST]]:
    """Every function and method under `node`, with its dotted name (Class.method, f.inner)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            name = f"{prefix}{child.name}"
            if not isinstance(child, ast.ClassDef):
                yield name, child
            yield from _functions(child, name + ".")
        else:
            yield from _functions(child, prefix)


def test_no_function_over_60_lines():
    long = [
        f"{SOURCES[module].relative_to(ROOT)}:{name}:{lines}"
        for module, tree in TREES.items()
        for name, function in _functions(tree)
        if (lines := function.end_lineno - function.lineno + 1) > MAX_FUNCTION_LINES
    ]
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(long)
