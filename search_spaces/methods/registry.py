"""Registry of HPO methods: the name of each method mapped to its entry, one family per module.

A method knows nothing about which network it tunes: it receives a `SearchSpace` and the settings
of the run (metric, seed, epoch limit, sample count, budget) and returns a `Plan` for `tune.Tuner`.
A new method is a `Method` in its family's tuple (sampling, halving, model_based, population).
"""

from __future__ import annotations

from search_spaces.methods.base import Method, UnknownMethodError
from search_spaces.methods.halving import HALVING_METHODS
from search_spaces.methods.model_based import MODEL_BASED_METHODS
from search_spaces.methods.population import POPULATION_METHODS
from search_spaces.methods.sampling import SAMPLING_METHODS

METHODS: dict[str, Method] = {
    method.name: method
    for method in (*SAMPLING_METHODS, *HALVING_METHODS, *MODEL_BASED_METHODS, *POPULATION_METHODS)
}


def get_method(name: str) -> Method:
    """The registered method `name`, or an error listing the choices."""
    if name not in METHODS:
        raise UnknownMethodError(f"unknown method {name!r}; choose one of: {', '.join(METHODS)}")
    return METHODS[name]
