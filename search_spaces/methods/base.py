"""What an HPO method is: its settings, the plan it hands to `tune.Tuner`, and its errors."""

from __future__ import annotations

import importlib
import math
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
    # `--method-opt` values, parsed by the method's knobs (`Method.parse_options`); a knob not
    # here takes its default (`knob_value`).
    options: Mapping[str, Any] = field(default_factory=dict)

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
class Knob:
    """A setting a method declares, changed with `--method-opt NAME=VALUE`."""

    name: str
    kind: type  # int or float
    default: int | float
    help: str
    low: float  # smallest valid value
    high: float = math.inf  # largest valid value

    def __post_init__(self) -> None:
        self.check(self.default)

    def parse(self, text: Any) -> int | float:
        """`text` as this knob's type, inside its range; ValueError saying what is valid."""
        try:
            number = float(text)
            if self.kind is int and number != int(number):
                raise ValueError(text)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"{self.name}={text!r} is not {self.domain()}") from None
        return self.check(self.kind(number))

    def check(self, value: int | float) -> int | float:
        if not self.low <= value <= self.high:
            raise ValueError(f"{self.name}={value!r} is not {self.domain()}")
        return value

    def domain(self) -> str:
        kind = "an integer" if self.kind is int else "a number"
        if math.isinf(self.high):
            return f"{kind} >= {self.low:g}"
        return f"{kind} from {self.low:g} to {self.high:g}"

    def describe(self) -> str:
        """One line: name, type, default, valid range and help."""
        return (
            f"{self.name} ({self.kind.__name__}, default {self.default}, {self.domain()}): "
            f"{self.help}"
        )


def knob_value(settings: MethodSettings, knob: Knob) -> int | float:
    """The run's value of `knob`: its `--method-opt`, else its default."""
    return settings.options.get(knob.name, knob.default)


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
    knobs: tuple[Knob, ...] = ()  # what `--method-opt` may change
    # Settings that come from other run options (e.g. concurrency from --concurrency).
    notes: Mapping[str, str] = field(default_factory=dict)
    seeded: bool = True

    def knob_names(self) -> str:
        return ", ".join(knob.name for knob in self.knobs) or "none"

    def parse_options(self, values: Mapping[str, Any]) -> dict[str, int | float]:
        """`--method-opt` values parsed by this method's knobs; ValueError naming its knobs."""
        knobs = {knob.name: knob for knob in self.knobs}
        parsed = {}
        for name, value in values.items():
            if name not in knobs:
                raise ValueError(
                    f"method {self.name} has no knob {name!r}; its knobs: {self.knob_names()}"
                )
            try:
                parsed[name] = knobs[name].parse(value)
            except ValueError as error:
                raise ValueError(
                    f"method {self.name}: {error}; its knobs: {self.knob_names()}"
                ) from None
        return parsed


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
