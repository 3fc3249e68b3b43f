"""The options of one run, and `prepare`: every input checked before data is read or Ray starts."""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field, replace
from typing import Any

from search_spaces.methods import Method, MethodSettings, MissingPackageError, Plan, get_method
from search_spaces.space import SearchSpace
from trainables import metrics
from trainables.config import MAX_SEED
from tune_jobs.cluster.address import check_address
from tune_jobs.cluster.nodes import (
    check_cpus_per_trial,
    check_gpus_per_trial,
    local_cpus,
    local_gpus,
)
from tune_jobs.errors import BadInputError
from tune_jobs.init_from import architecture_pins, best_source, load_init
from tune_jobs.job import config_value
from tune_jobs.jobs import Job, get_job
from tune_jobs.overrides import parse_pins, run_epochs, run_metric, run_space
from tune_jobs.storage import Folder, check_name, check_storage_root
from tune_jobs.tracking import tracking_uri
from tune_jobs.user_jobs import canonical_reference

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
    gpus_per_trial: float = 0.0  # fractions share one GPU; above 1, whole GPUs
    concurrency: int | None = None
    train_subset: int | None = None
    budget_epochs: int | None = None
    time_budget: float | None = None
    address: str | None = None
    max_failures: int = 2
    smoke_test: bool = False
    init_from: str | None = None  # an experiment whose best checkpoint every trial starts from
    # KEY -> "LOW:HIGH[:log]" and KEY -> "A,B,C": dimensions that replace the job's (`overrides`)
    ranges: dict[str, str] = field(default_factory=dict)
    choices: dict[str, str] = field(default_factory=dict)
    method_options: dict[str, str] = field(default_factory=dict)  # knob -> value, as given
    metric: str | None = None  # None: the job's own
    mode: str | None = None  # None: the job's own, or what the metric's name says
    track: str | None = None  # "mlflow" or "mlflow=TRACKING_URI" (`tune_jobs.tracking`)

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
        check_gpu_request(self.gpus_per_trial)
        if self.time_budget is not None and self.time_budget <= 0:
            raise BadInputError(f"--time-budget must be > 0 seconds, got {self.time_budget}")
        if not 0 <= self.seed <= MAX_SEED:  # the searchers' and numpy's seeds are 32-bit
            raise BadInputError(f"--seed must be an integer from 0 to {MAX_SEED}, got {self.seed}")
        if self.name is not None:
            check_name(self.name)
        if self.job:  # a file reference is recorded, and resumed, by its absolute path
            object.__setattr__(self, "job", canonical_reference(self.job))
        if self.mode not in (None, "min", "max"):
            raise BadInputError(f"--mode must be min or max, got {self.mode!r}")


def check_gpu_request(gpus: float) -> None:
    """Refuse a GPU share Ray cannot place: negative, or above 1 and not a whole number."""
    if not math.isfinite(gpus) or gpus < 0:
        raise BadInputError(f"--gpus-per-trial must be a number >= 0, got {gpus:g}")
    if gpus > 1 and not float(gpus).is_integer():
        raise BadInputError(
            f"--gpus-per-trial {gpus:g}: above 1 it must be a whole number of GPUs (Ray gives "
            "a trial either a share of one GPU or whole GPUs)"
        )


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
    tracking_uri: str | None = None  # where `--track mlflow` logs (`tune_jobs.tracking`)

    @property
    def folder(self) -> Folder:
        return Folder(self.storage).child(self.name)


def prepare(options: RunOptions, job: Job | None = None, on_cluster: bool = False) -> Prepared:
    """Check every input (job, method, overrides, budget, results folder); raise BadInputError.

    `job` replaces the registered job `options.job` (a replayed job, `tune_jobs.replay`).
    `on_cluster`: the run will start on a cluster (a Ray Job), whose CPUs are checked there.
    """
    try:
        job = job or get_job(options.job)
        method = get_method(options.method or job.default_method)
        method_options = method.parse_options(options.method_options)
    except (KeyError, ValueError) as error:
        raise BadInputError(str(error)) from None
    metric, mode = run_metric(job, options.metric, options.mode)
    job = replace(job, metric=metric, mode=mode)  # the job as this run scores its trials
    space, init = space_and_init(options, job)
    settings = MethodSettings(
        metric=metric,
        mode=mode,
        max_epochs=run_epochs(options, job),
        resource_attr=metrics.RESOURCE_ATTR,
        seed=options.seed,
        samples=1 if options.smoke_test else options.samples,
        concurrency=options.concurrency,
        budget_epochs=options.budget_epochs,
        options=method_options,
    )
    plan = _plan_within_budget(method, space, settings)
    check_address(options.address)
    if not (on_cluster or options.address or os.environ.get("RAY_ADDRESS")):
        check_cpus_per_trial(options.cpus_per_trial, local_cpus(), "this machine")
        check_gpus_per_trial(options.gpus_per_trial, local_gpus(), "this machine")
    check_storage_root(options.storage)
    storage = Folder.at(options.storage)
    name = options.name
    if name is None:
        name = f"{job.name}-{method.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    if storage.child(name).exists():
        raise BadInputError(
            f"{storage}/{name} already exists; choose another --name (results are never "
            "overwritten)"
        )
    tracking = tracking_uri(options.track, str(storage))
    options = with_job_defaults(options, job)  # recorded as trained
    return Prepared(
        options, job, method.name, space, settings, plan, str(storage), name, init, tracking
    )


def with_job_defaults(options: RunOptions, job: Job) -> RunOptions:
    """`options` with the job's own training subset (`Job.train_subset`) unless one was given."""
    if options.train_subset is None and job.train_subset and not options.smoke_test:
        return replace(options, train_subset=job.train_subset)
    return options


def _build(method: Method, space: SearchSpace, settings: MethodSettings) -> Plan:
    """The method's plan; builds the searcher now: a missing package or unsuited space stops us."""
    try:
        return method.build(space, settings)
    except (MissingPackageError, ValueError) as error:
        raise BadInputError(str(error)) from None


def _plan_within_budget(method: Method, space: SearchSpace, settings: MethodSettings) -> Plan:
    """The plan, its `--samples` capped to the trials an epoch budget can train.

    Every trial trains at least one epoch before any scheduler can stop it, so a budget of B
    epochs trains at most B trials; more samples only create trial folders that never train.
    """
    plan = _build(method, space, settings)
    budget, asked = settings.budget_epochs, settings.samples
    points = _grid_points(plan.param_space)  # Tune repeats a grid num_samples times
    if budget is None or asked is None or plan.num_samples * points <= budget:
        return plan
    capped = max(1, math.ceil(budget / points))
    if capped >= plan.num_samples:
        return plan
    per_pass = f" passes over the {points}-point grid" if points > 1 else ""
    print(
        f"--samples {asked} capped to {capped}{per_pass}: with --budget-epochs {budget} at most "
        f"{budget} trials can train an epoch"
    )
    return _build(method, space, replace(settings, samples=capped))


def _grid_points(param_space: dict[str, Any]) -> int:
    """Configurations in one pass over the `grid_search` entries of a Tune param_space."""
    sizes = [
        len(value["grid_search"])
        for value in param_space.values()
        if isinstance(value, dict) and "grid_search" in value
    ]
    return math.prod(sizes)


def space_and_init(options: RunOptions, job: Job) -> tuple[SearchSpace, dict[str, Any] | None]:
    """The run's search space and, with `--init-from`, its starting weights.

    An `--init-from` run takes the source trial's network: every architecture hyperparameter
    the user did not choose is pinned to the source's value.
    """
    pins = {"epochs": run_epochs(options, job), "seed": options.seed, **parse_pins(options, job)}
    if options.init_from is None:
        return run_space(options, job, pins), None
    try:
        source = best_source(options.init_from, job)
        chosen = {*options.overrides, *options.ranges, *options.choices}
        taken = architecture_pins(job, source, chosen)
        own = run_space(options, job, pins)
        space = own.pin(taken)
        job.check_space(space)
        _say_taken(job, own, taken)
        return space, load_init(source, job, space)
    except ValueError as error:  # InitFromError, or the job refusing the source's network
        raise BadInputError(str(error)) from None


def _say_taken(job: Job, own: SearchSpace, taken: dict[str, Any]) -> None:
    """One line naming the architecture values `--init-from` changed in this run's space."""
    base = job.validate({**own.fixed, **{k: d.grid[0] for k, d in own.dimensions.items()}})
    changed = {
        name: value
        for name, value in taken.items()
        if name in own.dimensions or config_value(base, name) != value
    }
    if changed:
        pairs = ", ".join(f"{name}={value!r}" for name, value in changed.items())
        print(f"--init-from: this run takes the source trial's network: {pairs}")


def load_data(job: Job, options: RunOptions) -> Any:
    """The job's data, cut to the requested subset (raises the loader's own errors).

    Cutting needs data with `sizes()` and `subset(train=, evaluation=)` (a user's job may load
    any object): `--train-subset` on other data is refused, `--smoke-test` uses all of it.
    """
    data = job.read_data(options.data_dir)
    options = with_job_defaults(options, job)
    can_cut = callable(getattr(data, "subset", None)) and callable(getattr(data, "sizes", None))
    if options.train_subset and not can_cut:
        raise BadInputError(
            f"--train-subset: the data of job {job.name} ({type(data).__name__}) has no "
            "sizes() and subset(train=, evaluation=) to cut it with (see docs/own-job.md)"
        )
    if not can_cut:
        return data
    # A replay's table has no training split; it refuses --train-subset before this.
    available = data.sizes()["train"] if options.train_subset else None
    if available is not None and options.train_subset > available:
        print(
            f"--train-subset {options.train_subset} is larger than the training split "
            f"({available} images): training on all {available}"
        )
    if options.smoke_test:
        return data.subset(train=options.train_subset or SMOKE_TRAIN_IMAGES, evaluation=512)
    if options.train_subset:
        return data.subset(train=options.train_subset)
    return data


def describe_data(data: Any) -> str:
    """The data's split sizes, or its type when it has no `sizes()` (a user's job's own data)."""
    sizes = getattr(data, "sizes", None)
    return str(sizes()) if callable(sizes) else type(data).__name__
