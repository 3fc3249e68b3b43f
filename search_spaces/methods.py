"""Registry of HPO methods: each is a small factory returning Ray Tune's searcher and scheduler.

A method knows nothing about which network it tunes: it receives a `SearchSpace` and the settings
of the run (metric, seed, epoch limit, sample count) and returns a `Plan` for `tune.Tuner`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ray.tune.schedulers import AsyncHyperBandScheduler, TrialScheduler
from ray.tune.search import SearchAlgorithm, Searcher
from ray.tune.search.basic_variant import BasicVariantGenerator

from search_spaces.space import SearchSpace


class UnknownMethodError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class MethodSettings:
    """What every method needs to know about the run it drives."""

    metric: str
    mode: str
    max_epochs: int
    resource_attr: str = "training_iteration"
    seed: int = 0
    samples: int | None = None  # None: the method's default
    concurrency: int | None = None  # None: as many trials as the CPUs allow

    def __post_init__(self) -> None:
        if self.mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {self.mode!r}")
        if self.max_epochs < 1:
            raise ValueError(f"max_epochs must be >= 1, got {self.max_epochs}")
        if self.samples is not None and self.samples < 1:
            raise ValueError(f"samples must be >= 1, got {self.samples}")
        if self.concurrency is not None and self.concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {self.concurrency}")


@dataclass(frozen=True)
class Plan:
    """Everything `tune.Tuner` needs from a method."""

    param_space: dict[str, Any]
    num_samples: int
    search_alg: Searcher | SearchAlgorithm | None = None
    scheduler: TrialScheduler | None = None


@dataclass(frozen=True)
class Method:
    name: str
    summary: str
    pros: str
    cons: str
    build: Callable[[SearchSpace, MethodSettings], Plan]
    knobs: Mapping[str, Any] = field(default_factory=dict)


def _basic_variants(settings: MethodSettings) -> BasicVariantGenerator:
    return BasicVariantGenerator(
        max_concurrent=settings.concurrency or 0, random_state=settings.seed
    )


def _grid(space: SearchSpace, settings: MethodSettings) -> Plan:
    # num_samples repeats the whole grid; one pass is the usual grid search.
    return Plan(space.grid_points(), settings.samples or 1, _basic_variants(settings))


def _random(space: SearchSpace, settings: MethodSettings) -> Plan:
    samples = settings.samples or space.grid_size()
    return Plan(space.distributions(), samples, _basic_variants(settings))


ASHA_KNOBS = {"grace_period": 1, "reduction_factor": 3}


def _asha(space: SearchSpace, settings: MethodSettings) -> Plan:
    scheduler = AsyncHyperBandScheduler(
        time_attr=settings.resource_attr, max_t=settings.max_epochs, **ASHA_KNOBS
    )
    samples = settings.samples or space.grid_size()
    return Plan(space.distributions(), samples, _basic_variants(settings), scheduler)


METHODS: dict[str, Method] = {
    method.name: method
    for method in (
        Method(
            "grid",
            "Every point of the job's grid, each trained for the full epoch budget.",
            "Exhaustive and reproducible; trivially parallel; easy to explain.",
            "Cost grows exponentially with dimensions; wastes trials on unimportant axes.",
            _grid,
        ),
        Method(
            "random",
            "Configurations drawn from the job's distributions (log scales kept), seeded.",
            "Covers important axes better than a grid at equal cost; trivially parallel.",
            "No learning from past trials; every trial runs to the end.",
            _random,
        ),
        Method(
            "asha",
            "Random sampling with asynchronous successive halving (AsyncHyperBandScheduler).",
            "Stops poor trials early without waiting for a full rung; keeps workers busy.",
            "Can stop late bloomers; promotions are noisier than synchronous halving.",
            _asha,
            ASHA_KNOBS,
        ),
    )
}


def get_method(name: str) -> Method:
    """The registered method `name`, or an error listing the choices."""
    if name not in METHODS:
        raise UnknownMethodError(f"unknown method {name!r}; choose one of: {', '.join(METHODS)}")
    return METHODS[name]
