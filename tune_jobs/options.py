"""The options of one run, and `prepare`: every input checked before data is read or Ray starts."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from search_spaces.methods import MethodSettings, MissingPackageError, Plan, get_method
from search_spaces.space import SearchSpace
from trainables import metrics
from tune_jobs.cluster.address import check_address
from tune_jobs.errors import BadInputError
from tune_jobs.init_from import InitFromError, load_init
from tune_jobs.jobs import Job, get_job
from tune_jobs.storage import Folder

DEFAULT_STORAGE = "./results"
SMOKE_TRAIN_IMAGES = 512


@dataclass(frozen=True)
class RunOptions:
    """One `tune-jobs run`: checked on construction, before data is read or Ray starts."""

    job: str
    method: str | None = None
    samples: int | None = None
    max_epochs: int | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    data_dir: str | None = None
    storage: str = DEFAULT_STORAGE
    name: str | None = None
    seed: int = 0
    cpus_per_trial: float = 1.0
    concurrency: int | None = None
    train_subset: int | None = None
    budget_epochs: int | None = None
    time_budget: float | None = None
    address: str | None = None
    max_failures: int = 2
    smoke_test: bool = False
    init_from: str | None = None  # an experiment whose best checkpoint every trial starts from

    def __post_init__(self) -> None:
        for option, value, low in (
            ("--samples", self.samples, 1),
            ("--max-epochs", self.max_epochs, 1),
            ("--concurrency", self.concurrency, 1),
            ("--train-subset", self.train_subset, 1),
            ("--budget-epochs", self.budget_epochs, 1),
            ("--max-failures", self.max_failures, 0),
        ):
            if value is not None and value < low:
                raise BadInputError(f"{option} must be >= {low}, got {value}")
        if self.cpus_per_trial <= 0:
            raise BadInputError(f"--cpus-per-trial must be > 0, got {self.cpus_per_trial}")
        if self.time_budget is not None and self.time_budget <= 0:
            raise BadInputError(f"--time-budget must be > 0 seconds, got {self.time_budget}")


@dataclass(frozen=True)
class Prepared:
    """A run whose inputs are all checked: what `execute` needs."""

    options: RunOptions
    job: Job
    method: str
    space: SearchSpace
    settings: MethodSettings
    plan: Plan
    storage: str
    name: str
    init: dict[str, Any] | None = None  # starting weights (`init_from.load_init`)

    @property
    def folder(self) -> Folder:
        return Folder(self.storage).child(self.name)


def prepare(options: RunOptions, job: Job | None = None) -> Prepared:
    """Check every input (job, method, overrides, budget, results folder); raise BadInputError.

    `job` replaces the registered job `options.job` (a replayed job, `tune_jobs.replay`).
    """
    try:
        job = job or get_job(options.job)
        method = get_method(options.method or job.default_method)
        overrides = {key: job.parse(key, value) for key, value in options.overrides.items()}
    except (KeyError, ValueError) as error:
        raise BadInputError(str(error)) from None
    max_epochs = 1 if options.smoke_test else options.max_epochs or job.max_epochs
    space = _space(options, job, {**{"epochs": max_epochs, "seed": options.seed}, **overrides})
    settings = MethodSettings(
        metric=job.metric,
        mode=job.mode,
        max_epochs=max_epochs,
        resource_attr=metrics.RESOURCE_ATTR,
        seed=options.seed,
        samples=1 if options.smoke_test else options.samples,
        concurrency=options.concurrency,
        budget_epochs=options.budget_epochs,
    )
    try:  # builds the searcher now: a missing package or an unsuited space stops us here
        plan = method.build(space, settings)
    except (MissingPackageError, ValueError) as error:
        raise BadInputError(str(error)) from None
    check_address(options.address)
    storage = Folder.at(options.storage)
    name = options.name or f"{job.name}-{method.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    if storage.child(name).exists():
        raise BadInputError(
            f"{storage}/{name} already exists; choose another --name (results are never "
            "overwritten)"
        )
    init = initial_weights(options, job, space)
    return Prepared(options, job, method.name, space, settings, plan, str(storage), name, init)


def _space(options: RunOptions, job: Job, pins: dict[str, Any]) -> SearchSpace:
    """The job's space with `pins` fixed (and one point only for a smoke test), checked."""
    try:
        space = job.space().pin(pins)
        if options.smoke_test:  # one configuration: the first grid point of every dimension
            space = space.pin({k: d.grid[0] for k, d in space.dimensions.items()})
        job.check_space(space)
    except ValueError as error:
        raise BadInputError(str(error)) from None
    return space


def initial_weights(options: RunOptions, job: Job, space: SearchSpace) -> dict[str, Any] | None:
    """The `--init-from` experiment's best weights, checked to fit this run's network."""
    if options.init_from is None:
        return None
    try:
        return load_init(options.init_from, job, space)
    except InitFromError as error:
        raise BadInputError(str(error)) from None


def load_data(job: Job, options: RunOptions) -> Any:
    """The job's data, cut to the requested subset (raises the loader's own errors)."""
    data = job.load_data(options.data_dir)
    if options.smoke_test:
        return data.subset(train=options.train_subset or SMOKE_TRAIN_IMAGES, evaluation=512)
    if options.train_subset:
        return data.subset(train=options.train_subset)
    return data
