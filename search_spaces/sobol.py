"""Space-filling configurations of a search space: a scrambled Sobol sequence, and the grid.

`sobol_configs` maps each Sobol point in [0, 1)^d onto the space's dimensions in their declared
order: log-scaled ones in log space, integers rounded (and kept inside their bounds),
categorical ones by equal bins of [0, 1). The same (space, n, seed) always gives the same
configurations, and the first n of a longer sequence are the same n.
"""

from __future__ import annotations

import itertools
import math
import warnings
from typing import Any

from search_spaces.space import Choice, Dimension, Float, Int, SearchSpace


def sobol_configs(space: SearchSpace, count: int, seed: int = 0) -> list[dict[str, Any]]:
    """`count` configurations (tuned dimensions only) from a scrambled Sobol sequence."""
    from scipy.stats import qmc

    if count < 0:
        raise ValueError(f"a Sobol sample needs count >= 0, got {count}")
    names = list(space.dimensions)
    if count == 0 or not names:
        return []
    sampler = qmc.Sobol(len(names), scramble=True, seed=seed)
    with warnings.catch_warnings():  # balance needs a power of 2; any prefix is still space-filling
        warnings.simplefilter("ignore", UserWarning)
        points = sampler.random(count)
    return [
        {
            name: from_unit(space.dimensions[name], float(u))
            for name, u in zip(names, row, strict=True)
        }
        for row in points
    ]


def from_unit(dimension: Dimension, u: float) -> Any:
    """The value of `dimension` at position `u` in [0, 1) of its range (module doc)."""
    if isinstance(dimension, Choice):
        options = list(dimension.options)
        return options[min(int(u * len(options)), len(options) - 1)]
    low, high = float(dimension.low), float(dimension.high)
    if dimension.log:
        value = math.exp(math.log(low) + u * (math.log(high) - math.log(low)))
    else:
        value = low + u * (high - low)
    if isinstance(dimension, Int):
        return min(max(round(value), dimension.low), dimension.high)
    assert isinstance(dimension, Float)
    return min(max(value, low), high)


def grid_configs(space: SearchSpace) -> list[dict[str, Any]]:
    """Every grid point of `space` (tuned dimensions only), the first dimension slowest."""
    names = list(space.dimensions)
    grids = [list(space.dimensions[name].grid) for name in names]
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*grids)]


def describe_space(space: SearchSpace) -> dict[str, Any]:
    """A JSON-ready description of `space` (kinds, ranges, scales, grids, fixed values)."""
    dimensions = {}
    for name, dimension in space.dimensions.items():
        if isinstance(dimension, Choice):
            dimensions[name] = {"kind": "choice", "options": list(dimension.options)}
        else:
            dimensions[name] = {
                "kind": "int" if isinstance(dimension, Int) else "float",
                "low": dimension.low,
                "high": dimension.high,
                "log": dimension.log,
            }
        dimensions[name]["grid"] = list(dimension.grid)
    return {"dimensions": dimensions, "fixed": dict(space.fixed)}
