"""Build and run a Ray Tune experiment for one job and one HPO method."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import ray
from ray import tune

from search_spaces.methods import MethodSettings, MissingPackageError, Plan, get_method
from search_spaces.space import SearchSpace
from trainables import metrics
from tune_jobs.budget import EpochBudget
from tune_jobs.jobs import Job, get_job

DEFAULT_STORAGE = "./results"
RUN_FILE = "tune_jobs_run.json"  # the options a run was started with, beside Ray's own files
SMOKE_TRAIN_IMAGES = 512


class BadInputError(ValueError):
    """A user mistake found before any expensive work (CLI exit status 2)."""


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


def prepare(options: RunOptions, job: Job | None = None) -> Prepared:
    """Check every input (job, method, overrides, budget, results folder); raise BadInputError.

    `job` replaces the registered job `options.job` (a replayed job, `tune_jobs.replay`).
    """
    try:
        job = job or get_job(options.job)
        method_name = options.method or job.default_method
        method = get_method(method_name)
        overrides = {key: job.parse(key, value) for key, value in options.overrides.items()}
    except (KeyError, ValueError) as error:
        raise BadInputError(str(error)) from None
    max_epochs = 1 if options.smoke_test else options.max_epochs or job.max_epochs
    space = job.space()
    try:
        space = space.pin({**{"epochs": max_epochs, "seed": options.seed}, **overrides})
        if options.smoke_test:  # one configuration: the first grid point of every dimension
            space = space.pin({k: d.grid[0] for k, d in space.dimensions.items()})
        job.check_space(space)
    except ValueError as error:
        raise BadInputError(str(error)) from None
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
    from tune_jobs.cluster import check_address  # it imports this module

    check_address(options.address)
    storage = absolute_uri(options.storage)
    name = options.name or f"{job.name}-{method.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    _refuse_existing(storage, name)
    init = _load_init(options, job, space)
    return Prepared(options, job, method.name, space, settings, plan, storage, name, init)


def _load_init(options: RunOptions, job: Job, space: SearchSpace) -> dict[str, Any] | None:
    if options.init_from is None:
        return None
    from tune_jobs.init_from import InitFromError, load_init

    try:
        return load_init(options.init_from, job, space)
    except InitFromError as error:
        raise BadInputError(str(error)) from None


def _with_data(job: Job, data, init: dict[str, Any] | None):
    """The job's trainable with its data (and starting weights) in Ray's object store."""
    extra = {} if init is None else {"init": init}
    return tune.with_parameters(job.trainable, data=data, **extra)


def absolute_uri(location: str) -> str:
    """A local path made absolute (a job on a cluster runs in its own folder); a URI as it is."""
    return location if "://" in location else str(Path(location).expanduser().resolve())


def _refuse_existing(storage: str, name: str) -> None:
    if "://" in storage:
        from pyarrow import fs

        filesystem, root = fs.FileSystem.from_uri(storage)
        exists = filesystem.get_file_info(f"{root}/{name}").type != fs.FileType.NotFound
    else:
        exists = (Path(storage) / name).exists()
    if exists:
        raise BadInputError(
            f"{storage}/{name} already exists; choose another --name (results are never "
            "overwritten)"
        )


def load_data(prepared: Prepared):
    """The job's data, cut to the requested subset (raises the loader's own errors)."""
    options = prepared.options
    data = prepared.job.load_data(options.data_dir)
    if options.smoke_test:
        return data.subset(train=options.train_subset or SMOKE_TRAIN_IMAGES, evaluation=512)
    if options.train_subset:
        return data.subset(train=options.train_subset)
    return data


def execute(prepared: Prepared, data) -> tune.ResultGrid:
    """Run the experiment; Ray must be initialized (or is started locally)."""
    job, plan, options = prepared.job, prepared.plan, prepared.options
    check_storage(prepared.storage)
    trainable = tune.with_resources(
        _with_data(job, data, prepared.init), {"cpu": options.cpus_per_trial}
    )
    tuner = tune.Tuner(
        trainable,
        param_space=plan.param_space,
        tune_config=tune.TuneConfig(
            metric=job.metric,
            mode=job.mode,
            search_alg=plan.search_alg,
            scheduler=plan.scheduler,
            num_samples=plan.num_samples,
            time_budget_s=options.time_budget,
            reuse_actors=job.reuse_actors,
        ),
        run_config=tune.RunConfig(
            name=prepared.name,
            storage_path=prepared.storage,
            # Keep the best checkpoint by the job's metric; Ray always keeps the latest too.
            checkpoint_config=tune.CheckpointConfig(
                num_to_keep=None if plan.keeps_all_checkpoints else job.keep_checkpoints,
                checkpoint_score_attribute=job.metric,
                checkpoint_score_order=job.mode,
                # Trainables checkpoint each epoch themselves (a replay's position is saved when
                # a scheduler asks): a class trainable's extra save at the end adds nothing.
                checkpoint_at_end=False,
            ),
            failure_config=tune.FailureConfig(max_failures=options.max_failures),
            stop=EpochBudget(options.budget_epochs) if options.budget_epochs else None,
            verbose=1,
        ),
    )
    started = time.time()
    _write_run_file(prepared, started, None)  # first: `resume` needs it after a crash
    results = tuner.fit()
    _write_run_file(prepared, started, time.time())
    return results


def _write_run_file(prepared: Prepared, started: float, ended: float | None) -> None:
    record = {
        "options": asdict(prepared.options),
        "job": prepared.job.name,
        "method": prepared.method,
        "settings": asdict(prepared.settings),
        "started": started,
        "ended": ended,
    }
    if "://" in prepared.storage:
        from pyarrow import fs

        filesystem, root = fs.FileSystem.from_uri(prepared.storage)
        filesystem.create_dir(f"{root}/{prepared.name}", recursive=True)
        with filesystem.open_output_stream(f"{root}/{prepared.name}/{RUN_FILE}") as stream:
            stream.write(json.dumps(record, indent=2, default=str).encode())
    else:
        path = Path(prepared.storage) / prepared.name / RUN_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=2, default=str))


def ensure_ray(address: str | None = None) -> None:
    """Connect to `address`, or start a local Ray in this process if none is running.

    An unreachable address fails in seconds (Ray itself would retry for a minute); a token for
    Ray's token authentication is sent when one is at hand.
    """
    if not ray.is_initialized():
        from tune_jobs.cluster import check_address, driver_runtime_env, enable_token_auth

        check_address(address)
        enable_token_auth()
        ray.init(
            address=address,
            runtime_env=driver_runtime_env(address),
            logging_level="ERROR",
            configure_logging=True,
        )


def check_storage(storage: str) -> None:
    """Refuse a plain local --storage when the connected cluster has several nodes."""
    from tune_jobs.cluster import alive_nodes, check_shared_storage

    check_shared_storage(storage, alive_nodes())


def read_run_file(path: str) -> dict[str, Any]:
    """The `RUN_FILE` of experiment folder `path` (local or URI); BadInputError if it is not one."""
    path = absolute_uri(path)
    if not tune.Tuner.can_restore(path):
        raise BadInputError(
            f"{path} is not a Ray Tune experiment folder (no tuner.pkl, which Tune writes when "
            "an experiment starts and Tuner.restore reads)"
        )
    try:
        if "://" in path:
            from pyarrow import fs

            filesystem, root = fs.FileSystem.from_uri(path)
            with filesystem.open_input_stream(f"{root}/{RUN_FILE}") as stream:
                return json.loads(stream.read())
        return json.loads((Path(path) / RUN_FILE).read_text())
    except (FileNotFoundError, OSError, json.JSONDecodeError) as error:
        raise BadInputError(
            f"{path} was not started by tune-jobs: its {RUN_FILE} is missing or unreadable "
            f"({error})"
        ) from None


def resume(path: str, address: str | None = None) -> tuple[tune.ResultGrid, Job]:
    """Continue the experiment at `path`: unfinished and errored trials from their checkpoints.

    The run file rebuilds the trainable with the same data; Ray's `Tuner.restore` does the rest.
    """
    record = read_run_file(path)
    path = absolute_uri(path)
    known = {f.name for f in fields(RunOptions)}
    options = RunOptions(**{k: v for k, v in record["options"].items() if k in known})
    job = get_job(record["job"])
    data = load_data(SimpleNamespace(options=options, job=job))  # all load_data reads
    ensure_ray(address)
    check_storage(path)
    init = None
    if options.init_from:  # trials that had not started still need their starting weights
        init = _load_init(options, job, job.space().pin(options.overrides))
    trainable = tune.with_resources(_with_data(job, data, init), {"cpu": options.cpus_per_trial})
    tuner = tune.Tuner.restore(
        path, trainable=trainable, resume_unfinished=True, resume_errored=True
    )
    results = tuner.fit()
    record.setdefault("resumed", []).append(time.time())
    record["ended"] = time.time()
    _write_json(path, record)
    return results, job


def _write_json(experiment: str, record: dict[str, Any]) -> None:
    text = json.dumps(record, indent=2, default=str)
    if "://" in experiment:
        from pyarrow import fs

        filesystem, root = fs.FileSystem.from_uri(experiment)
        with filesystem.open_output_stream(f"{root}/{RUN_FILE}") as stream:
            stream.write(text.encode())
    else:
        (Path(experiment) / RUN_FILE).write_text(text)


def best_summary(results: tune.ResultGrid, job: Job) -> dict[str, Any]:
    """Best trial by the job's metric at its best epoch, with the test accuracy of that epoch."""
    best = results.get_best_result(metric=job.metric, mode=job.mode, scope="all")
    history = best.metrics_dataframe
    column = history[job.metric]
    row = history.loc[column.idxmax() if job.mode == "max" else column.idxmin()]
    return {
        "trial_id": best.metrics.get("trial_id"),
        "config": best.config,
        "epoch": int(row[metrics.EPOCH]),
        job.metric: float(row[job.metric]),
        metrics.TEST_ACC: float(row[metrics.TEST_ACC]),
        "path": best.path,
    }
