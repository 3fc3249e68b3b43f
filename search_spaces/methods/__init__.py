"""HPO methods, each a factory from a space to a `Plan`: types, one module per family, registry."""

from __future__ import annotations

from search_spaces.methods.base import (
    IncompatibleSpaceError,
    Knob,
    Method,
    MethodSettings,
    MissingPackageError,
    Plan,
    UnknownMethodError,
)
from search_spaces.methods.registry import METHODS, get_method

__all__ = [
    "METHODS",
    "IncompatibleSpaceError",
    "Knob",
    "Method",
    "MethodSettings",
    "MissingPackageError",
    "Plan",
    "UnknownMethodError",
    "get_method",
]
