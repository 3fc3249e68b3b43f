"""A search space declared once: every dimension knows its grid points and its distribution."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ray import tune


@dataclass(frozen=True)
class Float:
    """A real hyperparameter in [low, high], sampled on a log scale when `log`."""

    low: float
    high: float
    grid: Sequence[float]
    log: bool = False

    def __post_init__(self) -> None:
        if not self.low < self.high:
            raise ValueError(f"Float needs low < high, got [{self.low}, {self.high}]")
        if self.log and self.low <= 0:
            raise ValueError(f"a log-scaled Float needs low > 0, got {self.low}")
        _check_grid(self.grid, lambda v: self.low <= v <= self.high, f"[{self.low}, {self.high}]")

    def distribution(self) -> tune.search.sample.Domain:
        return (
            tune.loguniform(self.low, self.high) if self.log else tune.uniform(self.low, self.high)
        )


@dataclass(frozen=True)
class Int:
    """An integer hyperparameter in [low, high] (both included)."""

    low: int
    high: int
    grid: Sequence[int]
    log: bool = False

    def __post_init__(self) -> None:
        if not self.low < self.high:
            raise ValueError(f"Int needs low < high, got [{self.low}, {self.high}]")
        _check_grid(self.grid, lambda v: self.low <= v <= self.high, f"[{self.low}, {self.high}]")

    def distribution(self) -> tune.search.sample.Domain:
        # Tune's randint excludes the upper bound.
        if self.log:
            return tune.lograndint(self.low, self.high + 1)
        return tune.randint(self.low, self.high + 1)


@dataclass(frozen=True)
class Choice:
    """A categorical hyperparameter; its grid is every option."""

    options: Sequence[Any]
    grid: Sequence[Any] = field(default=())

    def __post_init__(self) -> None:
        if len(self.options) < 2:
            raise ValueError("Choice needs at least two options")
        if not self.grid:
            object.__setattr__(self, "grid", tuple(self.options))
        _check_grid(self.grid, lambda v: v in self.options, str(list(self.options)))

    def distribution(self) -> tune.search.sample.Domain:
        return tune.choice(list(self.options))


Dimension = Float | Int | Choice


def _check_grid(grid: Sequence[Any], inside, domain: str) -> None:
    if not grid:
        raise ValueError("a dimension needs at least one grid point")
    outside = [v for v in grid if not inside(v)]
    if outside:
        raise ValueError(f"grid points {outside} lie outside {domain}")


@dataclass(frozen=True)
class SearchSpace:
    """Tuned dimensions plus fixed values; hands each method the form it needs."""

    dimensions: Mapping[str, Dimension]
    fixed: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        both = sorted(set(self.dimensions) & set(self.fixed))
        if both:
            raise ValueError(f"{', '.join(both)} both tuned and fixed")

    def grid_size(self) -> int:
        size = 1
        for dimension in self.dimensions.values():
            size *= len(dimension.grid)
        return size

    def grid_points(self) -> dict[str, Any]:
        """Tune `param_space` that enumerates the grid (one trial per point)."""
        grid = {name: tune.grid_search(list(d.grid)) for name, d in self.dimensions.items()}
        return {**self.fixed, **grid}

    def distributions(self) -> dict[str, Any]:
        """Tune `param_space` with a sampling distribution per tuned dimension."""
        sampled = {name: d.distribution() for name, d in self.dimensions.items()}
        return {**self.fixed, **sampled}

    def log_scaled(self) -> list[str]:
        """The tuned dimensions sampled on a log scale, sorted by name."""
        return sorted(n for n, d in self.dimensions.items() if getattr(d, "log", False))

    def pin(self, values: Mapping[str, Any]) -> SearchSpace:
        """The same space with `values` fixed instead of tuned."""
        dimensions = {k: d for k, d in self.dimensions.items() if k not in values}
        return SearchSpace(dimensions, {**self.fixed, **values})
