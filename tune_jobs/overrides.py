"""What a run changes in its job from the command line: pins, ranges and choices, the metric.

`run_space` is the one place a run's search space is built from its options, so that `prepare`
and `resume` (which reads the options back from the run file) build the same space.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from search_spaces.space import Choice, Dimension, Float, Int, SearchSpace
from trainables.metrics import default_mode
from tune_jobs.errors import BadInputError
from tune_jobs.jobs import Job

LOG = "log"


def run_epochs(options: Any, job: Job) -> int:
    """Epochs per trial: one for a smoke test, else --max-epochs, else the job's."""
    return 1 if options.smoke_test else options.max_epochs or job.max_epochs


def run_metric(job: Job, metric: str | None, mode: str | None) -> tuple[str, str]:
    """The metric and mode a run optimises: `--metric`/`--mode`, else the job's own."""
    if metric is None:
        return job.metric, mode or job.mode
    if metric not in job.metrics:
        raise BadInputError(
            f"--metric {metric!r}: choose one of the metrics job {job.name} reports for "
            f"selection: {', '.join(job.metrics)} (the test set never chooses)"
        )
    if mode is None:
        try:
            mode = default_mode(metric)
        except ValueError as error:
            raise BadInputError(f"--{error}") from None
    return metric, mode


def replaced_dimensions(options: Any, job: Job) -> dict[str, Dimension]:
    """The dimensions `--range` and `--choice` put in place of the job's, values parsed by it."""
    both = sorted(set(options.ranges) & set(options.choices))
    pinned = sorted((set(options.ranges) | set(options.choices)) & set(options.overrides))
    if both:
        raise BadInputError(f"{', '.join(both)}: given both --range and --choice; choose one")
    if pinned:
        raise BadInputError(
            f"{', '.join(pinned)}: given both --set and --range/--choice; --set pins one value, "
            "drop one of them"
        )
    try:
        ranges = {key: _range(job, key, text) for key, text in options.ranges.items()}
        choices = {key: _choice(job, key, text) for key, text in options.choices.items()}
    except ValueError as error:
        raise BadInputError(str(error)) from None
    return {**ranges, **choices}


def _range(job: Job, key: str, text: str) -> Float | Int:
    """`LOW:HIGH[:log]` as a dimension; grid: both ends and the (log or linear) midpoint."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] != LOG):
        raise ValueError(f"--range expects KEY=LOW:HIGH or KEY=LOW:HIGH:log, got {key}={text}")
    low, high = (job.parse(key, part.strip()) for part in parts[:2])
    log = len(parts) == 3
    if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in (low, high)):
        raise ValueError(f"--range {key}: {key} is not numeric; use --choice {key}=A,B,...")
    if not low < high:
        raise ValueError(f"--range {key}={text}: needs LOW < HIGH")
    if log and low <= 0:
        raise ValueError(f"--range {key}={text}: a log range needs LOW > 0")
    middle = math.sqrt(low * high) if log else (low + high) / 2
    if isinstance(low, int) and isinstance(high, int):
        grid = sorted({low, round(middle), high})
        return Int(low, high, grid=tuple(grid), log=log)
    return Float(float(low), float(high), grid=(float(low), middle, float(high)), log=log)


def _choice(job: Job, key: str, text: str) -> Choice:
    options = tuple(dict.fromkeys(job.parse(key, part.strip()) for part in text.split(",")))
    if len(options) < 2:
        raise ValueError(f"--choice {key}={text}: needs two or more values; --set pins one")
    return Choice(options)


def run_space(options: Any, job: Job, pins: dict[str, Any]) -> SearchSpace:
    """The job's space with --range/--choice dimensions in place, `pins` (the parsed --set
    values and the run's epochs and seed) fixed, one point for a smoke test; checked against the
    job's validation at every grid point and both ends of every range."""
    replaced = replaced_dimensions(options, job)
    try:
        space = job.space()
        dimensions = {k: d for k, d in space.dimensions.items() if k not in replaced}
        fixed = {k: v for k, v in space.fixed.items() if k not in replaced}
        space = SearchSpace({**dimensions, **replaced}, fixed).pin(pins)
        if options.smoke_test:  # one configuration: the first grid point of every dimension
            space = space.pin({k: d.grid[0] for k, d in space.dimensions.items()})
        job.check_space(space)
    except ValueError as error:
        raise BadInputError(str(error)) from None
    return space


def parse_pins(options: Any, job: Job) -> dict[str, Any]:
    """The `--set` values parsed by the job (BadInputError for a key or value it refuses)."""
    try:
        return {key: job.parse(key, value) for key, value in options.overrides.items()}
    except (KeyError, ValueError) as error:
        raise BadInputError(str(error)) from None
