"""What a person sees in the console during and after a run: the live trial table, the hints
that name the results folder, and progress across the runs of a `compare` or `study`.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import time
from typing import Any

from ray import tune
from ray.tune.experiment import Trial
from ray.tune.result import TRAINING_ITERATION

from analysis.results import NOT_STARTED
from trainables import metrics

# Ray's default console output (`RAY_AIR_NEW_OUTPUT` unset) shows the first four metrics a trial
# reports, ignores `RunConfig(progress_reporter=...)`, and names Ray's temporary session folder
# in its TensorBoard hint. Its classic reporter shows the columns we name and prints no hint.
NEW_OUTPUT_ENV = "RAY_AIR_NEW_OUTPUT"
METRIC_COLUMNS = {
    metrics.EPOCH: "epoch",
    metrics.VAL_ACC: "val_acc",
    metrics.TEST_ACC: "test_acc",
    metrics.VAL_LOSS: "val_loss",
    metrics.TRAIN_LOSS: "train_loss",
    "time_total_s": "total time (s)",
}
# Logged by Ray's ExperimentAnalysis, once per trial without result files, when a fit returns.
_MISSING_METRICS = "Failed to fetch metrics"
_ANALYSIS_LOGGER = "ray.tune.analysis.experiment_analysis"
_LOGDIR = "Result logdir: "


def not_started(trial: Trial) -> bool:
    """Whether a budget ended the experiment before `trial` ran: terminated, never reported."""
    # Ray fills a never-run trial's last result with its id (and auto-filled keys), never an
    # iteration.
    reported = TRAINING_ITERATION in trial.last_result
    return trial.status == Trial.TERMINATED and not reported and not trial.error_file


class TrialTable(tune.CLIReporter):
    """Ray's classic trial table with our metric columns, naming the durable results folder
    (Ray names its temporary session folder); the closing table names the trials a budget never
    started (Ray lists them TERMINATED with empty metrics)."""

    def __init__(self, location: str) -> None:
        # Tune hands the reporter the TuneConfig's metric and mode (and refuses a second pair).
        # Tables are asked for explicitly: left to Ray, it decides from a process-wide verbosity
        # that the previous run in this process has already lowered, and prints none.
        super().__init__(metric_columns=METRIC_COLUMNS, print_intermediate_tables=True)
        self.location = location

    def report(self, trials: list[Trial], done: bool, *sys_info: str) -> None:
        with contextlib.redirect_stdout(io.StringIO()) as table:
            super().report(trials, done, *sys_info)
        print(durable_logdir(table.getvalue(), self.location), end="")
        idle = [str(trial) for trial in trials if not_started(trial)]
        if done and idle:
            print(f"{len(idle)} of {len(trials)} trials {NOT_STARTED}: {', '.join(idle)}")


def durable_logdir(table: str, location: str) -> str:
    """Ray's table with its `Result logdir` line naming `location`, not the session folder."""
    lines = [
        f"{_LOGDIR}{location}" if line.startswith(_LOGDIR) else line for line in table.split("\n")
    ]
    return "\n".join(lines)


class _MissingMetricsFilter(logging.Filter):
    """Drops Ray's warning about trials without result files when every one of them is merely
    missing (a trial a budget never started has none); other read failures still show."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if not message.startswith(_MISSING_METRICS):
            return True
        lines = message.splitlines()[1:]
        return not lines or not all("FileNotFoundError" in line for line in lines)


def trial_table(location: str) -> TrialTable:
    """The progress reporter of the run whose results go to `location` (see `prepare_console`)."""
    prepare_console()
    return TrialTable(location)


def prepare_console() -> None:
    """Select Ray's classic output, which honours our table, and install the missing-metrics
    filter on Ray's analysis logger (once); before any fit or restore."""
    os.environ.setdefault(NEW_OUTPUT_ENV, "0")  # a user's explicit choice wins
    logger = logging.getLogger(_ANALYSIS_LOGGER)
    if not any(isinstance(f, _MissingMetricsFilter) for f in logger.filters):
        logger.addFilter(_MissingMetricsFilter())


def tensorboard_hint(location: str) -> str:
    """The TensorBoard command for the durable experiment (or compare) folder `location`."""
    return f"TensorBoard: tensorboard --logdir {location}"


def report_command(location: str) -> str:
    """The `tune-jobs report` command for folder `location`; a URI's report is written here."""
    out = f"{location.rstrip('/')}-report"
    if "://" in location:
        out = f"{location.rstrip('/').rsplit('/', 1)[-1]}-report"
    return f"tune-jobs report {location} --out {out}"


def trial_counts(results: Any) -> str:
    """How many trials of a finished ResultGrid trained, failed, and never started."""
    trained = sum(1 for result in results if _trained(result))
    failed = sum(1 for result in results if result.error is not None)
    idle = sum(1 for result in results if result.error is None and not _trained(result))
    text = f"{trained} of {len(results)} trials trained"
    text += f", {failed} failed" if failed else ""
    return text + (f", {idle} {NOT_STARTED}" if idle else "")


def _trained(result: Any) -> bool:
    frame = result.metrics_dataframe
    return frame is not None and len(frame) > 0


def clock(seconds: float) -> str:
    """`H:MM:SS` of a duration."""
    seconds = max(0, round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class Progress:
    """Progress across the runs of a `compare` or `study`: run i of n, elapsed, what is left.

    A line per run rather than a bar: Ray's trial tables are printed between runs and would
    tear a bar apart. The estimate is the mean time of the runs done so far (skipped ones, such
    as a study's stages finished earlier, not counted) times the runs left.
    """

    def __init__(self, total: int, now: float | None = None) -> None:
        self.total = total
        self.started = time.monotonic() if now is None else now
        self.skipped = 0

    def line(self, index: int, label: str, now: float | None = None) -> str:
        """The line printed as run `index` (1-based) starts."""
        elapsed = (time.monotonic() if now is None else now) - self.started
        timed = index - 1 - self.skipped
        text = f"== [{index}/{self.total}] {label} | elapsed {clock(elapsed)}"
        if timed > 0:
            text += f" | about {clock(elapsed / timed * (self.total - index + 1))} left"
        return text
