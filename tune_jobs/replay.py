"""A job replayed from a table: the real job's name, metric and methods, the table's trainable.

`replay_job` turns a registered job and a replay table into a `Job` whose trainable replays the
recorded curves and whose space is the table's: each recorded dimension keeps the kind and scale
it has in the job (so every method that runs on the job runs on the replay, PBT and PSO included),
its range shrunk to the recorded values and its grid made of exactly those values. `grid` thus
enumerates the table; other searchers propose values inside its range, which the trainable snaps
to the nearest recorded configuration.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from search_spaces.sobol import describe_space
from search_spaces.space import Choice, Dimension, Float, Int, SearchSpace
from trainables import metrics
from trainables.replay import (
    REPLAY_MODELS,
    REPLAY_SECONDS,
    ReplayTable,
    ReplayTableError,
    ReplayTrainable,
    read_table,
)
from tune_jobs.errors import BadInputError
from tune_jobs.jobs import Job, get_job
from tune_jobs.options import RunOptions

# Keys whose recorded value a replay may change: the epochs replayed (up to the recorded ones) and
# the seed (it seeds the searcher; the curves are those of the recorded training seed).
FREE_KEYS = ("epochs", "seed")


def replay_job(options: RunOptions, table_path: str, model: str | None = None) -> Job:
    """The job `options.job` replayed from `table_path`; BadInputError for any mismatch.

    `model` ("nearest" or "surrogate") replaces the replay model the table's metadata names
    (`tune-jobs replay check` chose it), to see how much a verdict depends on it.
    """
    if model is not None and model not in REPLAY_MODELS:
        raise BadInputError(f"--replay-model must be one of {', '.join(REPLAY_MODELS)}")
    try:
        job = get_job(options.job)
    except KeyError as error:
        raise BadInputError(str(error)) from None
    for option, value in (
        ("--train-subset", options.train_subset),
        ("--smoke-test", options.smoke_test or None),
        ("--time-budget", options.time_budget),
    ):
        if value is not None:
            raise BadInputError(
                f"{option} does not apply to a replay (the table fixes the data and its "
                "curves; the clock is simulated): use --budget-epochs"
            )
    job_space = job.space()
    try:
        table = read_table(table_path, job_space.log_scaled())
        if model is not None and model != table.meta.get("replay_model", "nearest"):
            meta = {**table.meta, "replay_model": model, "replay_model_reason": "--replay-model"}
            table = ReplayTable(table.frame, meta, table.log_scale)
    except ReplayTableError as error:
        raise BadInputError(str(error)) from None
    recorded_job = table.meta.get("job")
    if recorded_job is not None and recorded_job not in (job.name, options.job):
        raise BadInputError(
            f"{table_path} was recorded from job {recorded_job!r}, not {job.name!r}"
        )
    if options.max_epochs is not None and options.max_epochs > table.epochs:
        raise BadInputError(
            f"--max-epochs {options.max_epochs}: the table recorded {table.epochs} epochs only"
        )
    check_table_space(job, job_space, table, table_path, options.max_epochs)
    # A recorded table spans the job's space (its grid recorded exactly); a built one is finite.
    space = job_space if "space" in table.meta else replay_space(job_space, table)
    return dataclasses.replace(
        job,
        description=f"{job.description} (replayed from {table_path})",
        trainable=ReplayTrainable,
        space=lambda: space,
        load_data=lambda data_dir=None: table,
        train_subset=None,  # the table holds the curves, not a training split
        validate=lambda config: check_config(table, config),
        max_epochs=table.epochs,
        # By default a replay optimises what the recorded run did (--metric changes it).
        metric=table.meta.get("metric", job.metric),
        mode=table.meta.get("mode", job.mode),
        reuse_actors=True,  # a replayed trial is milliseconds: do not start an actor for each
        tensorboard=False,
        # Replayed epochs take milliseconds: a PBT donor would delete the checkpoint an exploiting
        # trial is about to restore. Replay checkpoints are a few bytes, so keep them all.
        keep_checkpoints=None,
    )


def check_table_space(
    job: Job, job_space: SearchSpace, table: ReplayTable, path: str, max_epochs: int | None
) -> None:
    """BadInputError naming every way the table's space differs from the job's.

    A recorded table must hold the job's dimensions with the same kinds, ranges, scales and
    grids, and the job's epochs (or at least `--max-epochs`); a built table (one grid run) only
    needs its tuned dimensions to be the job's and its values inside the job's ranges.
    """
    recorded = table.meta.get("space", {}).get("dimensions")
    wanted = describe_space(job_space)["dimensions"]
    problems = []
    if recorded is not None:
        for name in sorted({*recorded, *wanted}):
            if recorded.get(name) != wanted.get(name):
                problems.append(f"{name}: table {recorded.get(name)}, job {wanted.get(name)}")
        if max_epochs is None and table.epochs != job.max_epochs:
            problems.append(f"epochs: table {table.epochs}, job {job.max_epochs}")
    for name in table.tuned if recorded is None else ():
        dimension = job_space.dimensions.get(name)
        if dimension is None and name not in job_space.fixed:
            problems.append(f"{name}: tuned in the table, not part of the job")
        elif isinstance(dimension, Float | Int):
            outside = [v for v in table.values(name) if not dimension.low <= v <= dimension.high]
            if outside:
                problems.append(f"{name}: table values {outside} outside the job's range")
    if problems:
        raise BadInputError(f"{path} does not match job {job.name}'s space: {'; '.join(problems)}")


def replay_space(job_space: SearchSpace, table: ReplayTable) -> SearchSpace:
    """The table's space: recorded dimensions shrunk to their recorded values (module doc)."""
    dimensions: dict[str, Dimension] = {}
    for name in table.tuned:
        values = table.values(name)
        dimension = job_space.dimensions.get(name)
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        if isinstance(dimension, Choice) or not numeric:
            dimensions[name] = Choice(tuple(values))
        elif isinstance(dimension, Int) or (
            dimension is None and all(isinstance(v, int) for v in values)
        ):
            log = bool(getattr(dimension, "log", False))
            dimensions[name] = Int(int(values[0]), int(values[-1]), grid=tuple(values), log=log)
        else:
            log = bool(getattr(dimension, "log", False))
            dimensions[name] = Float(
                float(values[0]), float(values[-1]), grid=tuple(values), log=log
            )
    return SearchSpace(dimensions, dict(table.meta.get("fixed", {})))


def check_config(table: ReplayTable, config: Mapping[str, Any]) -> None:
    """Refuse a configuration the table cannot answer: more epochs, or another fixed value."""
    epochs = config.get("epochs")
    if epochs is not None and int(epochs) > table.epochs:
        raise ValueError(f"epochs={epochs}: the replay table recorded {table.epochs} epochs only")
    fixed = table.meta.get("fixed", {})
    unknown = [key for key in config if key not in {*fixed, *table.tuned, *FREE_KEYS}]
    if unknown:
        raise ValueError(
            f"{', '.join(unknown)}: not in the table, which recorded "
            f"{', '.join(sorted({*fixed, *table.tuned}))}"
        )
    for key, value in fixed.items():
        if key not in FREE_KEYS and key in config and str(config[key]) != str(value):
            raise ValueError(f"{key}={config[key]}: the replay table recorded {key}={value} only")


def replay_record(table_path: str, table: ReplayTable) -> dict[str, Any]:
    """What a compare manifest says about the table it replayed."""
    keys = ("source", "job", "method", "epochs", "configs", "tuned", "built", "replay_model",
            "replay_model_reason")  # fmt: skip
    return {
        "table": table_path,
        "time_attr": REPLAY_SECONDS,
        "metric": table.meta.get("metric", metrics.METRIC),
        **{key: table.meta.get(key) for key in keys},
    }
