"""`Job`: what one tune job runs: trainable, search space, data, epochs, the metric it selects on.

A built-in job (`tune_jobs.jobs`) and a user's job (a file, a module or an entry point,
`tune_jobs.user_jobs`) are the same object and go through the same checks. A user's job needs
only a name, a trainable, a space and `max_epochs`; `coerce` and `validate` then default to the
space's own types (`coerce_from_space`) and to accepting every config.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from search_spaces.space import Choice, Float, Int, SearchSpace
from trainables import metrics
from trainables.config import as_type

# Keys `prepare` pins in every config besides the space's own: the epochs to train and the seed.
RUN_KEYS = {"epochs": int, "seed": int}


class UnknownJobError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Job:
    """A tune job. Only `name`, `trainable`, `space` and `max_epochs` are required.

    Args:
        trainable: `trainable(config, data)` runs one trial; it reports once per epoch
            (`epoch` and `metric` at least) through `trainables.reporting.report`.
        space: a `SearchSpace`, or a function returning one.
        load_data: `load_data(data_dir)` (or `load_data()`) returns the data every trial gets,
            any picklable object; None: the trainable gets `data=None`.
        validate: raises ValueError on a bad config; default: every config is accepted.
        coerce: `coerce(key, value)` parses one `--set KEY=VALUE`; default: by the space's types.
    """

    name: str
    trainable: Callable[..., None]
    space: Callable[[], SearchSpace] | SearchSpace
    max_epochs: int
    load_data: Callable[..., Any] | None = None
    description: str = ""
    validate: Callable[[Mapping[str, Any]], Any] | None = None  # raises on a bad config
    coerce: Callable[[str, Any], Any] | None = None  # parses one `--set KEY=VALUE`
    default_method: str = "grid"
    metric: str = metrics.METRIC
    mode: str = metrics.MODE
    # The metrics its trials report that `--metric` may choose (with `metric` among them).
    metrics: tuple[str, ...] = metrics.SELECTABLE
    # Tune's actor reuse: a finished trial's worker process starts the next trial (its function
    # anew, with its own config), saving the process start and torch import of each trial.
    reuse_actors: bool = False
    keep_checkpoints: int | None = 1  # per trial, besides the latest; None keeps all
    # Ray's TensorBoard logger (it flushes to disk after every result): off for replays, whose
    # simulated epochs take microseconds and whose curves are the table's.
    tensorboard: bool = True
    # Hyperparameters that shape the weights: `--init-from` needs the source to match on them.
    architecture: tuple[str, ...] = ()
    # Hyperparameters the job holds at one value; `--set` of another value is refused.
    enforced: Mapping[str, Any] = field(default_factory=dict)
    # Training images used unless `--train-subset` says otherwise (None: the whole split).
    train_subset: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"a job needs a non-empty name, got {self.name!r}")
        if not callable(self.trainable):
            raise ValueError(f"job {self.name}: trainable must be a function or a Trainable class")
        if isinstance(self.space, SearchSpace):
            object.__setattr__(self, "space", partial(_same, self.space))
        elif not callable(self.space):
            raise ValueError(f"job {self.name}: space must be a SearchSpace or return one")
        if not isinstance(self.max_epochs, int) or self.max_epochs < 1:
            raise ValueError(f"job {self.name}: max_epochs must be >= 1")
        if self.mode not in ("min", "max"):
            raise ValueError(f"job {self.name}: mode must be 'min' or 'max', got {self.mode!r}")
        if self.metric not in self.metrics:
            raise ValueError(f"job {self.name}: metric {self.metric} is not among {self.metrics}")
        if self.load_data is None:
            object.__setattr__(self, "load_data", no_data)
        elif not callable(self.load_data):
            raise ValueError(f"job {self.name}: load_data must be a function")
        if self.validate is None:
            object.__setattr__(self, "validate", accept)
        if self.coerce is None:
            object.__setattr__(self, "coerce", partial(coerce_from_space, self.name, self.space))

    def parse(self, key: str, value: Any) -> Any:
        """One `--set KEY=VALUE` parsed by `coerce`, refusing a change to an enforced value."""
        parsed = self.coerce(key, value)
        if key in self.enforced and parsed != self.enforced[key]:
            raise ValueError(
                f"job {self.name} holds {key}={self.enforced[key]!r}; {key}={value!r} is refused"
            )
        return parsed

    def read_data(self, data_dir: str | None) -> Any:
        """`load_data(data_dir)`, or `load_data()` for a loader that takes no arguments."""
        try:
            takes_nothing = not inspect.signature(self.load_data).parameters
        except (TypeError, ValueError):  # a builtin without a signature: give it the folder
            takes_nothing = False
        return self.load_data() if takes_nothing else self.load_data(data_dir)

    def check_space(self, space: SearchSpace) -> None:
        """Validate every grid point and both ends of every range against the trainable's
        config, and the values inside an integer range (a range of odd kernel sizes would
        sample even ones)."""
        base = {**space.fixed, **{k: d.grid[0] for k, d in space.dimensions.items()}}
        self.validate(base)
        for name, dimension in space.dimensions.items():
            ends = [getattr(dimension, "low", None), getattr(dimension, "high", None)]
            for value in [*dimension.grid, *(v for v in ends if v is not None)]:
                self.validate({**base, name: value})
            if isinstance(dimension, Int):
                for value in _inside(dimension):
                    try:
                        self.validate({**base, name: value})
                    except ValueError as error:
                        raise ValueError(
                            f"{error} (inside the range {name} {dimension.low}..{dimension.high}, "
                            f"which a searcher may sample; list the values with --choice)"
                        ) from None


def _inside(dimension: Int, most: int = 64) -> list[int]:
    """The integers of a range, or `most` of them spread over it (on its own scale)."""
    if dimension.high - dimension.low < most:
        return list(range(dimension.low, dimension.high + 1))
    spread = np.geomspace if dimension.log else np.linspace
    return sorted({int(round(v)) for v in spread(dimension.low, dimension.high, most)})


def config_value(config: Any, name: str) -> Any:
    """`name` of a validated config: a config object's attribute, or a plain dict's entry (the
    default `validate` returns the dict it was given)."""
    return config.get(name) if isinstance(config, Mapping) else getattr(config, name)


def _same(space: SearchSpace) -> SearchSpace:
    return space


def no_data(data_dir: str | None = None) -> None:
    """A job without `load_data`: its trainable gets `data=None`."""
    return None


def accept(config: Mapping[str, Any]) -> Mapping[str, Any]:
    """The default `validate`: a user's trainable checks its own config."""
    return config


def coerce_from_space(job: str, space: Callable[[], SearchSpace], key: str, value: Any) -> Any:
    """`--set KEY=VALUE` as the type the job's space gives `key`: a tuned dimension's (a
    `Choice` value must be one of its options), a fixed value's, or int for `epochs`/`seed`."""
    declared = space()
    dimension = declared.dimensions.get(key)
    if isinstance(dimension, Choice):
        return _option(job, key, dimension, value)
    if isinstance(dimension, Float | Int):
        kind: type = float if isinstance(dimension, Float) else int
    elif key in declared.fixed:
        kind = type(declared.fixed[key])
    elif key in RUN_KEYS:
        kind = RUN_KEYS[key]
    else:
        known = [*declared.dimensions, *declared.fixed, *RUN_KEYS]
        raise ValueError(
            f"unknown hyperparameter {key!r} of job {job}; known: {', '.join(dict.fromkeys(known))}"
        )
    if kind not in (bool, int, float, str):  # a fixed list or dict: pinned as text is ambiguous
        raise ValueError(f"job {job}: {key} holds a {kind.__name__}; it cannot be set as text")
    try:
        return as_type(kind, value)
    except (TypeError, ValueError):
        raise ValueError(f"{key}={value!r} is not a valid {kind.__name__}") from None


def _option(job: str, key: str, dimension: Choice, value: Any) -> Any:
    """The option of `dimension` that `value` (or its text) names."""
    for option in dimension.options:
        if option == value or str(option).lower() == str(value).lower():
            return option
    shown = ", ".join(str(option) for option in dimension.options)
    raise ValueError(f"{key}={value!r} is not an option of job {job}'s {key}: {shown}")
