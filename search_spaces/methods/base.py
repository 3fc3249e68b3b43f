"""What an HPO method is: its settings, the plan it hands to `tune.Tuner`, and its errors."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from ray.tune.schedulers import TrialScheduler
from ray.tune.search import ConcurrencyLimiter, SearchAlgorithm, Searcher
from ray.tune.search.basic_variant import BasicVariantGenerator

from search_spaces.space import Choice, Float, Int, SearchSpace

# Sequential model-based searchers learn from finished trials; running many at once turns them
# into random search. Two is this reference machine's core count; raise it with --concurrency.
DEFAULT_MODEL_BASED_CONCURRENCY = 2


class UnknownMethodError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


class MissingPackageError(ImportError):
    """An optional backend of a method is not installed."""


class IncompatibleSpaceError(ValueError):
    """A method cannot search a job's space."""


@dataclass(frozen=True)
class MethodSettings:
    """What every method needs to know about the run it drives."""

    metric: str
    mode: str
    max_epochs: int
    resource_attr: str = "training_iteration"
    seed: int = 0
    samples: int | None = None  # None: the method's default
    concurrency: int | None = None  # None: the method's default
    budget_epochs: int | None = None  # the experiment's total epochs, when budgeted

    def __post_init__(self) -> None:
        if self.mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {self.mode!r}")
        for name in ("max_epochs", "samples", "concurrency", "budget_epochs"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")

    def default_samples(self, space: SearchSpace) -> int:
        """Trials to sample: as asked; with an epoch budget, enough to spend it; else grid size.

        Each trial trains at least one epoch, so `budget_epochs` trials always exhaust the budget;
        the budget stopper, not the sample count, ends such a run.
        """
        if self.samples is not None:
            return self.samples
        return max(space.grid_size(), self.budget_epochs or 0)


@dataclass(frozen=True)
class Plan:
    """Everything `tune.Tuner` needs from a method."""

    param_space: dict[str, Any]
    num_samples: int
    search_alg: Searcher | SearchAlgorithm | None = None
    scheduler: TrialScheduler | None = None
    # PBT restores donors' earlier checkpoints, which a small num_to_keep would delete first.
    keeps_all_checkpoints: bool = False


@dataclass(frozen=True)
class Method:
    """One registry entry: a factory from (space, settings) to a Plan, and what to know about it."""

    name: str
    family: str
    summary: str
    pros: str
    cons: str
    build: Callable[[SearchSpace, MethodSettings], Plan]
    knobs: Mapping[str, Any] = field(default_factory=dict)
    seeded: bool = True


def require(module: str, package: str, method: str) -> ModuleType:
    """Import an optional backend, or say which package to install."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingPackageError(
            f"method {method!r} needs the package {package!r}: pip install {package} "
            f"(or pip install 'tune-jobs[methods]'); import failed: {error}"
        ) from None


def basic_variants(settings: MethodSettings) -> BasicVariantGenerator:
    """Tune's own sampler (grid points or random draws), seeded."""
    return BasicVariantGenerator(
        max_concurrent=settings.concurrency or 0, random_state=settings.seed
    )


def unlimited_variants(settings: MethodSettings) -> BasicVariantGenerator:
    """Tune's seeded sampler creating every trial at once (synchronous brackets need them all)."""
    return BasicVariantGenerator(random_state=settings.seed)


def limited(searcher: Searcher, settings: MethodSettings) -> ConcurrencyLimiter:
    """A model-based searcher with a bounded number of trials in flight."""
    return ConcurrencyLimiter(
        searcher, max_concurrent=settings.concurrency or DEFAULT_MODEL_BASED_CONCURRENCY
    )


def numeric_dimensions(space: SearchSpace) -> list[str]:
    return [name for name, d in space.dimensions.items() if isinstance(d, Float | Int)]


def categorical_dimensions(space: SearchSpace) -> list[str]:
    return [name for name, d in space.dimensions.items() if isinstance(d, Choice)]


def fixed_only(space: SearchSpace) -> dict[str, Any]:
    """The param_space left for Tune when a searcher was built with the tuned dimensions."""
    return dict(space.fixed)
