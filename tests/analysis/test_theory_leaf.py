"""`analysis/theory` is a leaf: it imports nothing of the project but its own modules."""

from __future__ import annotations

import ast
from pathlib import Path

import analysis.theory

PROJECT = ("analysis", "trainables", "search_spaces", "tune_jobs")
THEORY = Path(analysis.theory.__file__).parent


def _imported(path: Path) -> set[str]:
    """Every module `path` imports, at any depth (function-local imports count too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import"
            names.add(node.module or "")
    return names


def test_theory_imports_only_itself_of_the_project():
    modules = sorted(THEORY.glob("*.py"))
    assert len(modules) >= 7  # the check reads the real package
    outside = {
        f"{path.name}: {name}"
        for path in modules
        for name in _imported(path)
        if name.split(".")[0] in PROJECT and not name.startswith("analysis.theory")
    }
    assert not outside, outside
