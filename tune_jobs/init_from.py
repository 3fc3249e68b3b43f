"""`--init-from PATH`: every trial starts from the best checkpoint of the experiment at PATH."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ray.tune import Checkpoint

from analysis.results import NotAnExperimentError, load_experiment, read_run_info, recorded_metric
from search_spaces.space import SearchSpace
from trainables.reporting import NotACheckpointError, load_checkpoint_state
from tune_jobs.job import config_value
from tune_jobs.jobs import Job


class InitFromError(ValueError):
    """The source experiment cannot give this run its starting weights."""


def architecture_differences(
    job: Job, space: SearchSpace, source_config: dict[str, Any]
) -> list[str]:
    """How this run's network differs from the source trial's, one line per hyperparameter."""
    base = {**space.fixed, **{k: d.grid[0] for k, d in space.dimensions.items()}}
    here = job.validate(base)
    try:
        there = job.validate({k: v for k, v in source_config.items() if k not in job.enforced})
    except ValueError as error:
        return [f"the source trial's config is not a {job.name} config ({error})"]
    differences = []
    for name in job.architecture:
        if name in space.dimensions:
            differences.append(
                f"{name} is tuned here; pin it to the source's value with "
                f"--set {name}={config_value(there, name)}"
            )
        elif (ours := config_value(here, name)) != (theirs := config_value(there, name)):
            differences.append(f"{name}: source {theirs!r}, this run {ours!r}")
    return differences


@dataclass(frozen=True)
class Source:
    """The best checkpoint of an `--init-from` experiment, by the metric that run optimised."""

    path: str
    score: float
    metric: str
    checkpoint: Checkpoint
    trial: str | None
    config: dict[str, Any]


def best_source(path: str, job: Job) -> Source:
    """The best checkpoint of the experiment at `path`, by the metric and mode its run file
    records (the job's own when it has none). InitFromError before any trial starts."""
    if not job.architecture:
        raise InitFromError(f"job {job.name} cannot start from another experiment's weights")
    try:
        grid = load_experiment(path)
    except NotAnExperimentError as error:
        raise InitFromError(f"--init-from: {error}") from None
    metric, mode = recorded_metric(read_run_info(grid), job.metric, job.mode)
    sign = 1 if mode == "max" else -1
    best = None
    for result in grid:
        for checkpoint, values in result.best_checkpoints:
            score = values.get(metric)
            if score is not None and (best is None or sign * score > sign * best[0]):
                best = (score, checkpoint, values, result)
    if best is None:
        raise InitFromError(f"--init-from {path}: no trial there saved a checkpoint with "
                            f"{metric}")  # fmt: skip
    score, checkpoint, values, result = best
    return Source(path, score, metric, checkpoint, values.get("trial_id"), dict(result.config))


def architecture_pins(job: Job, source: Source, chosen: set[str]) -> dict[str, Any]:
    """The source trial's value of every architecture hyperparameter the user did not choose
    (`chosen`: --set, --range, --choice) nor the job holds: the run takes the source's network."""
    try:
        there = job.validate({k: v for k, v in source.config.items() if k not in job.enforced})
    except ValueError:
        return {}  # not this job's config: `load_init` names the difference
    return {
        name: config_value(there, name)
        for name in job.architecture
        if name not in chosen and name not in job.enforced
    }


def load_init(source: Source, job: Job, space: SearchSpace) -> dict[str, Any]:
    """The `init` a trainable takes from `source`, checked to fit this run's network.

    Returns `model` (a state dict), `source_trial`, `source_checkpoint` and `source_metric`.
    Raises InitFromError before any trial starts.
    """
    differences = architecture_differences(job, space, source.config)
    if differences:
        raise InitFromError(
            f"--init-from {source.path}: the network differs from that of its best trial "
            f"{source.trial}: " + "; ".join(differences)
        )
    try:
        state = load_checkpoint_state(source.checkpoint)
    except NotACheckpointError as error:
        raise InitFromError(f"--init-from {source.path}: {error}") from None
    return {
        "model": state["model"],
        "source_trial": source.trial,
        "source_checkpoint": source.checkpoint.path,
        "source_metric": source.score,
    }
