"""Registry of HPO methods: each is a small factory returning Ray Tune's searcher and scheduler.

A method knows nothing about which network it tunes: it receives a `SearchSpace` and the settings
of the run (metric, seed, epoch limit, sample count, budget) and returns a `Plan` for `tune.Tuner`.
Families live in their own modules; this one holds the plain samplers and the registry.
"""

from __future__ import annotations

from search_spaces.halving import HALVING_METHODS
from search_spaces.method_types import (
    IncompatibleSpaceError,
    Method,
    MethodSettings,
    MissingPackageError,
    Plan,
    UnknownMethodError,
    basic_variants,
)
from search_spaces.model_based import MODEL_BASED_METHODS
from search_spaces.population import POPULATION_METHODS
from search_spaces.space import SearchSpace

__all__ = [
    "METHODS",
    "IncompatibleSpaceError",
    "Method",
    "MethodSettings",
    "MissingPackageError",
    "Plan",
    "UnknownMethodError",
    "get_method",
]


def _grid(space: SearchSpace, settings: MethodSettings) -> Plan:
    # num_samples repeats the whole grid; one pass is the usual grid search.
    return Plan(space.grid_points(), settings.samples or 1, basic_variants(settings))


def _random(space: SearchSpace, settings: MethodSettings) -> Plan:
    return Plan(space.distributions(), settings.default_samples(space), basic_variants(settings))


SAMPLING_METHODS = (
    Method(
        "grid",
        "sampling",
        "Every point of the job's grid, each trained for the full epoch limit.",
        "Exhaustive and reproducible; trivially parallel; easy to explain.",
        "Cost grows exponentially with dimensions; wastes trials on unimportant axes.",
        _grid,
        {"passes": "--samples (default 1)"},
        seeded=False,
    ),
    Method(
        "random",
        "sampling",
        "Configurations drawn from the job's distributions (log scales kept), seeded.",
        "Covers important axes better than a grid at equal cost; trivially parallel.",
        "No learning from past trials; every trial runs to the end.",
        _random,
    ),
)

METHODS: dict[str, Method] = {
    method.name: method
    for method in (*SAMPLING_METHODS, *HALVING_METHODS, *MODEL_BASED_METHODS, *POPULATION_METHODS)
}


def get_method(name: str) -> Method:
    """The registered method `name`, or an error listing the choices."""
    if name not in METHODS:
        raise UnknownMethodError(f"unknown method {name!r}; choose one of: {', '.join(METHODS)}")
    return METHODS[name]
