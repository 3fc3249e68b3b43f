"""Plain samplers: every grid point, or configurations drawn at random; no early stopping."""

from __future__ import annotations

from search_spaces.methods.base import Method, MethodSettings, Plan, basic_variants
from search_spaces.space import SearchSpace


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
        notes={"passes": "--samples (default 1)"},
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
