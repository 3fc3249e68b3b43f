"""The layout of a results folder: the names of its files and columns, and how to tell its kind.

The one place for these names: `tune_jobs` writes the folders and `analysis` reads them, and both
import them from here. Standard library only, so that the CLI can import it without Ray or pandas.
"""

from __future__ import annotations

from collections.abc import Iterable

RUN_FILE = "tune_jobs_run.json"  # the options a `tune-jobs run` started with, beside Ray's files
MANIFEST_FILE = "manifest.json"  # a `tune-jobs compare` folder's list of runs
# A simulated compare (`tune-jobs compare --replay TABLE --simulate`) keeps each run's reports as
# one table, curves/<run>.parquet, instead of a Tune experiment; its manifest's `engine` says so.
SIMULATED_CURVES_DIR = "curves"
SIMULATOR_ENGINE = "simulator"
# Tune writes experiment_state-<date>.json when an experiment starts: the mark of one.
EXPERIMENT_STATE_PREFIX = "experiment_state"
EXPERIMENT_STATE_GLOB = f"{EXPERIMENT_STATE_PREFIX}-*.json"
# Ray's per-trial files that `analysis` reads: all JSON, CSV or text, never a pickle.
PARAMS_FILE = "params.json"  # the trial's config
RESULT_FILE = "result.json"  # one JSON line per report
PROGRESS_FILE = "progress.csv"  # the same reports as CSV (read when result.json is missing)
ERROR_FILE = "error.txt"  # the traceback of each failure, as text (Ray's error.pkl is never read)
CHECKPOINT_PREFIX = "checkpoint_"  # checkpoint_NNNNNN/ folders
CHECKPOINT_DIR_NAME = "checkpoint_dir_name"  # the report column naming the checkpoint saved with it
REPORT_MARKDOWN = "report.md"  # `tune-jobs report` and `tune-jobs study` write both documents
REPORT_HTML = "report.html"

# Ray's own per-report columns.
TIME_TOTAL = "time_total_s"  # seconds since the trial started
TIME_THIS_ITER = "time_this_iter_s"  # seconds of this report alone
ITERATION = "training_iteration"

EXPERIMENT = "experiment"
COMPARE = "compare"


def is_experiment_state(name: str) -> bool:
    """Whether the file name `name` is one of Tune's experiment_state-*.json files."""
    return name.startswith(EXPERIMENT_STATE_PREFIX) and name.endswith(".json")


def has_experiment_state(names: Iterable[str]) -> bool:
    """Whether a folder holding the files `names` is a Ray Tune experiment folder."""
    return any(is_experiment_state(name) for name in names)


def folder_kind(names: Iterable[str]) -> str | None:
    """`COMPARE` or `EXPERIMENT` for a folder holding the files `names`; None for neither.

    A compare folder wins: its manifest is what says how to read the experiments below it.
    """
    names = list(names)
    if MANIFEST_FILE in names:
        return COMPARE
    return EXPERIMENT if has_experiment_state(names) else None
