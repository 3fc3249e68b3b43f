"""Run a prepared experiment with Ray Tune, resume one, and read back its best trial.

Beside Ray's own files every experiment keeps the run file (`RUN_FILE`): the options it was
started with, so that `resume` rebuilds the same trainable over the same data.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, fields, replace
from typing import Any

import ray
from ray import tune
from ray.tune.experiment import Trial
from ray.tune.logger import TBXLoggerCallback
from ray.tune.schedulers import HyperBandScheduler, PopulationBasedTraining

from analysis.experiment import saved_statuses
from analysis.layout import RUN_FILE
from analysis.results import read_run_info
from search_spaces.methods.base import Plan
from trainables import metrics
from tune_jobs.budget import EpochBudget
from tune_jobs.cluster.address import check_address, driver_runtime_env
from tune_jobs.cluster.auth import enable_token_auth
from tune_jobs.cluster.nodes import (
    alive_nodes,
    check_cpus_per_trial,
    check_gpus_per_trial,
    check_shared_storage,
    largest_node_cpus,
    largest_node_gpus,
    local_gpus,
)
from tune_jobs.console import prepare_console, tensorboard_hint, trial_table
from tune_jobs.errors import BadInputError
from tune_jobs.guard import StorageFullStop, StorageGuard, restored_guard
from tune_jobs.jobs import Job, get_job
from tune_jobs.options import Prepared, RunOptions, load_data, space_and_init
from tune_jobs.resources import resume_with_resources, trial_resources
from tune_jobs.storage import Folder
from tune_jobs.tracking import tracking_callback, ui_command


def trainable(
    job: Job, data: Any, init: dict[str, Any] | None, cpus: float, gpus: float = 0.0
) -> Any:
    """The job's trainable with its data (and starting weights) in Ray's object store."""
    extra = {} if init is None else {"init": init}
    return tune.with_resources(
        tune.with_parameters(job.trainable, data=data, **extra), trial_resources(cpus, gpus)
    )


BUDGET_SPENT = "budget_spent"  # run-file key: the epoch budget, not Ctrl-C, ended the fit


def trial_count(plan: Plan) -> float:
    """Trials the plan starts: its samples times the points of its grid dimensions."""
    if plan.num_samples < 0:  # Tune's "until a stopper says so"
        return math.inf
    grids = [v.get("grid_search") for v in plan.param_space.values() if isinstance(v, dict)]
    return plan.num_samples * math.prod(len(g) for g in grids if isinstance(g, list))


def pauses_trials(scheduler: Any) -> bool:
    """Whether the scheduler pauses trials to resume them later: PBT (and PB2) at each exploit,
    the HyperBand family (HyperBand, SHA, BOHB's) at each rung. ASHA stops, never pauses."""
    return isinstance(scheduler, (PopulationBasedTraining, HyperBandScheduler))


def reuses_actors(job: Job, plan: Plan, options: RunOptions) -> bool:
    """Whether a trial may start in an actor another trial left: where the job allows it, and
    either more trials than run at once or a scheduler that pauses trials, whose resumed
    trials would each start a new actor. Otherwise reuse saves nothing, and Tune would move a
    trial waiting for its own new actor (on another node) onto the first actor to finish; a
    pausing scheduler moves its resumed trials anyway."""
    if not job.reuse_actors:
        return False
    return pauses_trials(plan.scheduler) or trial_count(plan) > trial_slots(options)


def trial_slots(options: RunOptions) -> float:
    """How many trials can run at once: --concurrency, and what Ray's CPUs hold."""
    slots = float(options.concurrency or math.inf)
    if options.cpus_per_trial > 0:
        # Not connected yet: Tune will start a local Ray with this machine's CPUs.
        cpus = ray.cluster_resources().get("CPU", 0.0) if ray.is_initialized() else os.cpu_count()
        slots = min(slots, (cpus or 1) // options.cpus_per_trial)
    return slots


class NoTensorBoard(TBXLoggerCallback):
    """Takes the place of Ray's TensorBoard logger, which Tune adds unless one is given."""

    def __init__(self) -> None:
        super(TBXLoggerCallback, self).__init__()  # the base logger's state; no tensorboardX

    def log_trial_start(self, trial: Trial) -> None:
        pass

    def log_trial_result(self, iteration: int, trial: Trial, result: dict) -> None:
        pass

    def log_trial_end(self, trial: Trial, failed: bool = False) -> None:
        pass


def build_tuner(
    prepared: Prepared,
    data: Any,
    guard: StorageGuard | None = None,
    budget: EpochBudget | None = None,
) -> tune.Tuner:
    """The `tune.Tuner` of a prepared run: its method's plan, checkpoints, retries and budget."""
    job, plan, options = prepared.job, prepared.plan, prepared.options
    if budget is None and options.budget_epochs:
        budget = EpochBudget(options.budget_epochs)
    tracker = None
    if prepared.tracking_uri is not None:
        tags = {**asdict(options), "job": job.name, "method": prepared.method}
        tracker = tracking_callback(prepared.tracking_uri, prepared.name, tags)
    return tune.Tuner(
        trainable(job, data, prepared.init, options.cpus_per_trial, options.gpus_per_trial),
        param_space=plan.param_space,
        tune_config=tune.TuneConfig(
            metric=job.metric,
            mode=job.mode,
            search_alg=plan.search_alg,
            scheduler=plan.scheduler,
            num_samples=plan.num_samples,
            time_budget_s=options.time_budget,
            reuse_actors=reuses_actors(job, plan, options),
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
            stop=budget,
            # As a callback the budget sees which trials still save or run (see EpochBudget).
            callbacks=[
                c
                for c in (budget, guard, tracker, None if job.tensorboard else NoTensorBoard())
                if c is not None
            ]
            or None,
            # The live table: epoch, val_acc, test_acc... (Ray's default keeps the first four).
            progress_reporter=trial_table(str(prepared.folder)),
            verbose=1,
        ),
    )


def execute(prepared: Prepared, data: Any) -> tune.ResultGrid:
    """Run the experiment; Ray must be initialized (or is started locally)."""
    check_storage(prepared.storage)
    if ray.is_initialized():  # a cluster's nodes are known only once the driver has connected
        check_node_resources(prepared.options)
    guard = StorageGuard()
    budget = EpochBudget(prepared.options.budget_epochs) if prepared.options.budget_epochs else None
    tuner = build_tuner(prepared, data, guard, budget)
    record = {
        "options": asdict(prepared.options),
        # The job's reference (a name, or a file or module reference): `resume` loads it again.
        "job": prepared.options.job or prepared.job.name,
        # What `report` needs of the job's space, so that it never has to load the job's code.
        "log_scaled": prepared.space.log_scaled(),  # this run's own space: --range may change it
        "method": prepared.method,
        "settings": asdict(prepared.settings),
        "started": time.time(),
        "ended": None,
    }
    prepared.folder.write_json(RUN_FILE, record)  # first: `resume` needs it after a crash
    if prepared.job.tensorboard:
        print(tensorboard_hint(str(prepared.folder)))
    if prepared.tracking_uri is not None:
        print(f"MLflow:      {ui_command(prepared.tracking_uri)}")
    results = tuner.fit()
    if budget is not None and budget.spent >= budget.epochs:
        # Tune stops paused trials (HyperBand's) at the end but saves them PAUSED: by design.
        record[BUDGET_SPENT] = True
    close(prepared.folder, closing_record(record, results), guard)
    return results


def close(folder: Folder, record: dict[str, Any], guard: StorageGuard | None) -> None:
    """Write the run file after a fit; StorageFullStop if the guard stopped the run."""
    if guard is None or guard.message is None:
        folder.write_json(RUN_FILE, record)
        return
    try:  # the guard stopped before the disk was full: there should be room for this
        folder.write_json(RUN_FILE, {**record, "interrupted": None, "storage_full": guard.message})
    except OSError:
        pass  # the run file keeps `ended` null: still resumable, and reported as unfinished
    raise StorageFullStop(guard.message)


def unfinished(results: tune.ResultGrid) -> int:
    """Trials the experiment's saved state leaves unfinished: Tune's fit returned on SIGINT.

    Tuner.fit catches Ctrl-C itself: it saves the experiment state, then marks every trial
    TERMINATED in memory before it returns, so the grid cannot tell. The saved state, which
    `resume` reads, still lists them RUNNING, PENDING or PAUSED. (A Ctrl-C at a moment when
    every live trial is paused and none is pending reads as finished.)
    """
    if read_run_info(results.experiment_path).get(BUDGET_SPENT):
        return 0
    statuses = saved_statuses(results.filesystem, results.experiment_path)
    # Tune also saves as PAUSED the paused trials it stops at the end of a run (HyperBand's last
    # rung, a budget): only a RUNNING or PENDING trial shows that Ctrl-C ended the fit.
    if not any(status in (Trial.RUNNING, Trial.PENDING) for status in statuses):
        return 0
    return sum(status not in (Trial.TERMINATED, Trial.ERROR) for status in statuses)


def closing_record(record: dict[str, Any], results: tune.ResultGrid) -> dict[str, Any]:
    """The run file after a fit: `ended` when every trial finished or the epoch budget was
    spent (Tune saves the trials a budget stopped while paused as PAUSED), else
    `interrupted`."""
    if not record.get(BUDGET_SPENT) and unfinished(results):
        return {**record, "ended": None, "interrupted": time.time()}
    return {**record, "ended": time.time(), "interrupted": None}


def connect_first(options: RunOptions) -> None:
    """With `--address`: connect now and refuse trials larger than the cluster's largest node,
    before any data is read (a local run's resources are checked by `prepare`)."""
    if options.address:
        ensure_ray(options.address)
        check_node_resources(options)


def ensure_ray(address: str | None = None) -> None:
    """Connect to `address`, or start a local Ray in this process if none is running.

    An unreachable address fails in seconds (Ray itself would retry for a minute); a token for
    Ray's token authentication is sent when one is at hand.
    """
    if not ray.is_initialized():
        check_address(address)
        enable_token_auth()
        ray.init(
            address=address,
            runtime_env=driver_runtime_env(address),
            logging_level="ERROR",
            configure_logging=True,
        )


def check_node_resources(options: RunOptions) -> None:
    """Refuse trials larger than the connected Ray's largest node (CPUs and GPUs)."""
    where = "the cluster's largest node"
    check_cpus_per_trial(options.cpus_per_trial, largest_node_cpus(), where)
    check_gpus_per_trial(options.gpus_per_trial, largest_node_gpus(), where)


def check_storage(storage: str) -> None:
    """Refuse a plain local --storage when the connected cluster has several nodes."""
    check_shared_storage(storage, alive_nodes())


def read_run_file(path: str) -> dict[str, Any]:
    """The `RUN_FILE` of experiment folder `path` (local or URI); BadInputError if it is not one."""
    folder = Folder.at(path)
    if not tune.Tuner.can_restore(folder.location):
        raise BadInputError(
            f"{folder} is not a Ray Tune experiment folder (no tuner.pkl, which Tune writes when "
            "an experiment starts and Tuner.restore reads)"
        )
    try:
        return folder.read_json(RUN_FILE)
    except (FileNotFoundError, OSError, json.JSONDecodeError) as error:
        raise BadInputError(
            f"{folder} was not started by tune-jobs: its {RUN_FILE} is missing or unreadable "
            f"({error})"
        ) from None


def resume(
    path: str, address: str | None = None, gpus_per_trial: float | None = None
) -> tuple[tune.ResultGrid, Job]:
    """Continue the experiment at `path`: unfinished and errored trials from their checkpoints.

    The run file rebuilds the trainable with the same data; Ray's `Tuner.restore` does the rest.
    `gpus_per_trial` replaces the run's own (recorded) value, for the trials still to run.
    """
    record = read_run_file(path)
    folder = Folder.at(path)
    known = {f.name for f in fields(RunOptions)}
    options = RunOptions(**{k: v for k, v in record["options"].items() if k in known})
    if gpus_per_trial is not None:
        options = replace(options, gpus_per_trial=gpus_per_trial)
        record["options"]["gpus_per_trial"] = gpus_per_trial
    if not (address or os.environ.get("RAY_ADDRESS")):  # before the data is read
        check_gpus_per_trial(options.gpus_per_trial, local_gpus(), "this machine")
    settings = record.get("settings") or {}
    try:
        job = get_job(record["job"])
    except KeyError as error:  # a job of a distribution no longer installed
        raise BadInputError(f"cannot resume {path}: {error}") from None
    job = replace(
        job, metric=settings.get("metric", job.metric), mode=settings.get("mode", job.mode)
    )
    data = load_data(job, options)
    ensure_ray(address)
    check_node_resources(options)
    check_storage(folder.location)
    # Trials that had not started still need their starting weights.
    _, init = space_and_init(options, job)
    prepare_console()  # the restored run config holds its own table
    tuner = tune.Tuner.restore(
        folder.location,
        trainable=trainable(job, data, init, options.cpus_per_trial, options.gpus_per_trial),
        resume_unfinished=True,
        resume_errored=True,
    )
    resume_with_resources(tuner, trial_resources(options.cpus_per_trial, options.gpus_per_trial))
    before = tuner.get_results()
    if record.get("ended") and not unfinished(before) and not before.num_errors:
        return before, job  # finished, nothing to rerun: its run file keeps its `ended`
    results = tuner.fit()
    record.setdefault("resumed", []).append(time.time())
    record.pop("storage_full", None)
    close(folder, closing_record(record, results), restored_guard(tuner))
    return results, job


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
        # A user's job may report no test accuracy.
        metrics.TEST_ACC: float(row[metrics.TEST_ACC]) if metrics.TEST_ACC in row else None,
        "path": best.path,
    }
