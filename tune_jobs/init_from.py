"""`--init-from PATH`: every trial starts from the best checkpoint of the experiment at PATH."""

from __future__ import annotations

from typing import Any

from analysis.results import NotAnExperimentError, load_experiment
from search_spaces.space import SearchSpace
from trainables.reporting import NotACheckpointError, load_checkpoint_state
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
                f"--set {name}={getattr(there, name)}"
            )
        elif getattr(here, name) != getattr(there, name):
            differences.append(
                f"{name}: source {getattr(there, name)!r}, this run {getattr(here, name)!r}"
            )
    return differences


def load_init(path: str, job: Job, space: SearchSpace) -> dict[str, Any]:
    """The best checkpoint (by the job's metric) of the experiment at `path`, checked to fit.

    Returns the `init` a trainable takes: `model` (a state dict), `source_trial`,
    `source_checkpoint` and `source_metric`. Raises InitFromError before any trial starts.
    """
    if not job.architecture:
        raise InitFromError(f"job {job.name} cannot start from another experiment's weights")
    try:
        grid = load_experiment(path)
    except NotAnExperimentError as error:
        raise InitFromError(f"--init-from: {error}") from None
    sign = 1 if job.mode == "max" else -1
    best = None
    for result in grid:
        for checkpoint, values in result.best_checkpoints:
            score = values.get(job.metric)
            if score is not None and (best is None or sign * score > sign * best[0]):
                best = (score, checkpoint, values, result)
    if best is None:
        raise InitFromError(f"--init-from {path}: no trial there saved a checkpoint with "
                            f"{job.metric}")  # fmt: skip
    score, checkpoint, values, result = best
    trial = values.get("trial_id")
    differences = architecture_differences(job, space, dict(result.config))
    if differences:
        raise InitFromError(
            f"--init-from {path}: the network differs from that of its best trial {trial}: "
            + "; ".join(differences)
        )
    try:
        state = load_checkpoint_state(checkpoint)
    except NotACheckpointError as error:
        raise InitFromError(f"--init-from {path}: {error}") from None
    return {
        "model": state["model"],
        "source_trial": trial,
        "source_checkpoint": checkpoint.path,
        "source_metric": score,
    }
