"""Turn Ray Tune experiment folders into tidy pandas frames.

`load_experiment` (from `analysis.experiment`) reads a folder's JSON and CSV files into an
`Experiment`, never unpickling anything; `trials_frame` (one row per trial) and `curves_frame`
(one row per trial and report) are the only places that read one. Everything downstream
(statistics, plots, reports) works on these frames.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pyarrow import fs

# Callers read experiments through this module: it re-exports the reader's public names.
from analysis.experiment import (
    Experiment,
    NotAnExperimentError,
    TrialResult,
    filesystem_and_path,
    list_folder,
    load_experiment,
)
from analysis.layout import (
    COMPARE,
    ITERATION,
    MANIFEST_FILE,
    RUN_FILE,
    SIMULATOR_ENGINE,
    TIME_TOTAL,
    folder_kind,
)
from trainables import metrics

CONFIG_PREFIX = "config/"
CUM_EPOCHS = "cum_epochs"  # epochs trained by all trials of the experiment so far
CUM_SECONDS = "cum_seconds"  # trial-seconds spent by all trials so far (sum over trials)
LOG_SPAN = 100.0  # positive values of a hyperparameter spanning two decades: log-scaled
NOT_STARTED = "not started (budget)"  # stop reason of a trial an experiment budget never ran

# Ray's bookkeeping columns that say nothing about training; left out of the curves frame.
_RAY_BOOKKEEPING = (
    "pid",
    "hostname",
    "node_ip",
    "date",
    "checkpoint_dir_name",
    "should_checkpoint",
    "experiment_tag",
    "time_since_restore",
    "iterations_since_restore",
)


def read_run_info(grid_or_path: Experiment | str | Path) -> dict[str, Any]:
    """The options `tune-jobs run` saved beside the experiment ({} when there is no such file)."""
    if isinstance(grid_or_path, Experiment):
        filesystem, root = grid_or_path.filesystem, grid_or_path.experiment_path
    else:
        filesystem, root = filesystem_and_path(grid_or_path)
    target = f"{root}/{RUN_FILE}"
    if filesystem.get_file_info(target).type != fs.FileType.File:
        return {}
    with filesystem.open_input_stream(target) as stream:
        return json.loads(stream.readall().decode())


def recorded_metric(info: dict[str, Any], metric: str, mode: str) -> tuple[str, str]:
    """The metric and mode a run file (`read_run_info`) says its run optimised; else the given."""
    settings = info.get("settings") or {}
    return settings.get("metric") or metric, settings.get("mode") or mode


def manifest_metric(manifest: dict[str, Any]) -> tuple[str, str]:
    """The metric and mode the runs of a compare manifest optimised (val_acc/max before they
    were recorded)."""
    return manifest.get("metric") or metrics.METRIC, manifest.get("mode") or metrics.MODE


def folder_metric(
    path: str | Path, metric: str | None = None, mode: str | None = None
) -> tuple[str, str]:
    """The metric and mode to score the experiment or compare folder at `path` by: those given,
    else those its run recorded (run file or manifest), else val_acc/max. A metric given
    without a mode takes the recorded mode if the run optimised it, else what its name says."""
    if folder_kind(list_folder(path)[2]) == COMPARE:
        recorded = manifest_metric(read_manifest(path))
    else:
        recorded = recorded_metric(read_run_info(path), metrics.METRIC, metrics.MODE)
    metric = metric or recorded[0]
    if mode is None:
        mode = recorded[1] if metric == recorded[0] else metrics.default_mode(metric)
    return metric, mode


def _flatten(config: dict[str, Any], prefix: str = CONFIG_PREFIX) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}/"))
        else:
            flat[f"{prefix}{key}"] = value if np.isscalar(value) or value is None else str(value)
    return flat


def config_columns(frame: pd.DataFrame, varying: bool = False) -> list[str]:
    """The hyperparameter columns of a frame; with `varying`, only those that take two values."""
    columns = [c for c in frame.columns if c.startswith(CONFIG_PREFIX)]
    if varying:
        columns = [c for c in columns if frame[c].astype(str).nunique(dropna=False) > 1]
    return columns


def is_log_scaled(column: pd.Series) -> bool:
    """Whether a hyperparameter's values look log-sampled: positive numbers spanning two decades
    (a guess from the values; a search space that says so is the better source)."""
    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return False
    values = column.dropna().astype(float)
    return bool(len(values) and values.min() > 0 and values.max() / values.min() >= LOG_SPAN)


def curves_frame(grid: Experiment, time_column: str = TIME_TOTAL) -> pd.DataFrame:
    """One row per trial and report: every reported metric, with the experiment's running totals.

    Rows are in the order the reports happened (trial start time + `time_total_s`).
    `cum_epochs` counts the reports (epochs) of all trials so far; `cum_seconds` adds up the
    per-report increments of `time_column` over all trials (trial-seconds, so that methods compare
    regardless of how many trials ran at once). `time_column` is a per-trial running total such as
    Ray's `time_total_s` or a replay's simulated seconds.
    """
    parts, ids, starts = [], [], []
    for result in grid:
        history = result.metrics_dataframe
        if history.empty:
            continue
        parts.append(history)
        ids.append(result.trial_id)
        starts.append(np.nan if result.start_time is None else result.start_time)
    if not parts:
        columns = ["trial_id", ITERATION, metrics.EPOCH, CUM_EPOCHS, CUM_SECONDS]
        return pd.DataFrame(columns=columns)
    # One concat and whole-column operations: per-trial pandas calls dominate large experiments.
    frame = pd.concat(parts, ignore_index=True)
    if time_column not in frame:
        reported = sorted(c for c in frame if not c.startswith(CONFIG_PREFIX))
        raise KeyError(
            f"time column {time_column!r} is not reported; reported columns: {', '.join(reported)}"
        )
    keep = [c for c in frame if not c.startswith(CONFIG_PREFIX) and c not in _RAY_BOOKKEEPING]
    frame = frame[keep]
    lengths = [len(part) for part in parts]
    frame["trial_id"] = np.repeat(ids, lengths)
    clock = frame[TIME_TOTAL] if TIME_TOTAL in frame else frame[time_column]
    # Without a start time, Ray's whole-second timestamp orders trials, its seconds the rest.
    start = pd.Series(np.repeat(starts, lengths), index=frame.index)
    if start.isna().any():
        start = start.fillna(frame.get("timestamp", 0) - clock)
    order = (start + clock).to_numpy()
    seconds = frame[time_column].astype(float)
    spent = seconds.groupby(frame["trial_id"], sort=False).diff().fillna(seconds).clip(lower=0)
    frame = frame.iloc[np.argsort(order, kind="stable")].reset_index(drop=True)
    spent = spent.to_numpy()[np.argsort(order, kind="stable")]
    frame[CUM_EPOCHS] = np.arange(1, len(frame) + 1)
    frame[CUM_SECONDS] = np.cumsum(spent)
    if metrics.DIVERGED in frame:
        frame[metrics.DIVERGED] = frame[metrics.DIVERGED].astype("boolean").fillna(False)
        frame[metrics.DIVERGED] = frame[metrics.DIVERGED].astype(bool)
    first = ["trial_id", ITERATION, metrics.EPOCH]
    return frame[[c for c in first if c in frame] + [c for c in frame if c not in first]]


def _stop_reason(status: str, error: str | None, last: pd.Series | None, target: Any) -> str:
    if error is not None or status == "ERROR":
        return "error"
    if last is None:
        # Terminated without a report or an error: the experiment's budget ended before it ran.
        return NOT_STARTED if status == "TERMINATED" else "never reported"
    if bool(last.get(metrics.DIVERGED, False)):
        return "diverged"
    if status != "TERMINATED":
        return f"unfinished ({status.lower()})"
    epochs = last.get(metrics.EPOCH, last.get(ITERATION))
    if target is not None and epochs is not None and epochs < target:
        return "stopped early"  # by the scheduler, or by the experiment's budget
    return "completed"


def trials_frame(
    grid: Experiment,
    curves: pd.DataFrame | None = None,
    metric: str = metrics.METRIC,
    mode: str = metrics.MODE,
    time_column: str = TIME_TOTAL,
) -> pd.DataFrame:
    """One row per trial: status, epochs, best and final `metric`, test accuracy at the best
    epoch, seconds, why it stopped, the error's first line, and `config/...` columns.

    Args:
        curves: `curves_frame(grid)` when already built (saves reading it twice).
    """
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    curves = curves_frame(grid, time_column) if curves is None else curves
    best_rows = _best_rows(curves, metric, mode)
    last_rows = curves.groupby("trial_id", sort=False).tail(1).set_index("trial_id")
    # Trials that never reach their configured epochs stopped early; without an `epochs`
    # hyperparameter, the longest trial of the experiment is taken as the full length.
    longest = curves[metrics.EPOCH].max() if metrics.EPOCH in curves and len(curves) else None
    rows = []
    for result in grid:
        trial_id, config, status = result.trial_id, result.config, result.status
        last = last_rows.loc[trial_id] if trial_id in last_rows.index else None
        best = best_rows.loc[trial_id] if trial_id in best_rows.index else None
        error = last_line(result.error)
        row = {
            "trial_id": trial_id,
            "status": status,
            "stop_reason": _stop_reason(status, result.error, last, config.get("epochs", longest)),
            "epochs": _get(last, ITERATION),
            f"best_{metric}": _get(best, metric),
            "best_epoch": _get(best, metrics.EPOCH, _get(best, ITERATION)),
            f"final_{metric}": _get(last, metric),
            f"{metrics.TEST_ACC}_at_best": _get(best, metrics.TEST_ACC),
            "seconds": _get(last, time_column),
            **_clock(result),
            "error": error,
            "path": result.path,
        }
        rows.append({**row, **_flatten(config)})
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    return frame.sort_values("trial_id", kind="stable").reset_index(drop=True)


def _clock(result: TrialResult) -> dict[str, float]:
    """When a trial started and sent its last report (Unix seconds, wall clock): from the
    experiment state, else from its first report's timestamp less the seconds it had run."""
    started, ended = result.start_time, result.end_time
    history = result.metrics_dataframe
    if started is None and {"timestamp", TIME_TOTAL} <= set(history.columns):
        started = float(history["timestamp"].iloc[0] - history[TIME_TOTAL].iloc[0])
    if ended is None and started is not None and TIME_TOTAL in history:
        ended = started + float(history[TIME_TOTAL].iloc[-1])
    return {
        "started": np.nan if started is None else started,
        "ended": np.nan if ended is None else ended,
    }


def best_epoch_metrics(
    grid: Experiment | str | Path, metric: str = metrics.METRIC, mode: str = metrics.MODE
) -> dict[str, Any]:
    """The best trial's report at its best epoch by `metric`, with its `trial_id`, `config` and
    `path`; {} when no trial reported `metric`.

    Ray's `ResultGrid.get_best_result(metric, mode, scope="all").metrics` is that trial's last
    report, not its best: this is the report that selection by `metric` actually chose.
    """
    grid = grid if isinstance(grid, Experiment) else load_experiment(grid)
    curves = curves_frame(grid)
    best_rows = _best_rows(curves, metric, mode)
    if best_rows.empty:
        return {}
    order = best_rows[metric] if mode == "max" else -best_rows[metric]
    trial_id = order.idxmax()
    trial = next(result for result in grid if result.trial_id == trial_id)
    row = best_rows.loc[trial_id].dropna().to_dict()
    return {**row, "trial_id": trial_id, "config": trial.config, "path": trial.path}


def last_line(text: str | None) -> str | None:
    """The last line of an error's traceback: the exception and its message."""
    lines = [] if text is None else text.strip().splitlines()
    return lines[-1] if lines else None


def _get(row: pd.Series | None, column: str, default: Any = np.nan) -> Any:
    if row is None or column not in row.index:
        return default
    value = row[column]
    return default if value is None else value


def _best_rows(curves: pd.DataFrame, metric: str, mode: str) -> pd.DataFrame:
    """The report with the best `metric` of each trial (first one on ties), by trial_id."""
    if metric not in curves or curves.empty:
        return pd.DataFrame(index=pd.Index([], name="trial_id"))
    scored = curves[curves[metric].notna()]
    order = scored[metric] if mode == "max" else -scored[metric]
    index = order.groupby(scored["trial_id"], sort=False).idxmax()
    return scored.loc[index.to_numpy()].set_index("trial_id")


# --- `tune-jobs compare` folders: a manifest.json and one experiment folder per method and seed.

_RUN_KEYS = ("method", "seed", "path", "status")


def is_compare_folder(path: str | Path) -> bool:
    """Whether `path` is a folder holding a compare manifest.json."""
    try:
        return MANIFEST_FILE in list_folder(path)[2]
    except NotAnExperimentError:
        return False


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The compare manifest of `path`, checked for the keys the analysis needs."""
    filesystem, root, names = list_folder(path)
    if MANIFEST_FILE not in names:
        raise NotAnExperimentError(f"{path} is not a compare folder: it has no {MANIFEST_FILE}")
    with filesystem.open_input_stream(f"{root}/{MANIFEST_FILE}") as stream:
        try:
            manifest = json.loads(stream.readall().decode())
        except ValueError as error:
            raise NotAnExperimentError(f"{path}/{MANIFEST_FILE} is not JSON ({error})") from None
    runs = manifest.get("runs") if isinstance(manifest, dict) else None
    if not isinstance(runs, list):
        raise NotAnExperimentError(f"{path}/{MANIFEST_FILE} has no list of runs")
    for number, run in enumerate(runs):
        missing = [key for key in _RUN_KEYS if key not in run]
        if missing:
            raise NotAnExperimentError(
                f"{path}/{MANIFEST_FILE}: run {number} lacks {', '.join(missing)}"
            )
    return manifest


def load_compare(
    path: str | Path,
    metric: str = metrics.METRIC,
    mode: str = metrics.MODE,
    time_column: str = TIME_TOTAL,
) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Manifest, runs, trials and curves frames of a compare folder.

    The runs frame has one row per manifest run (method, seed, status, trials, error); a run that
    failed or whose folder cannot be read is listed there with its message and left out of the
    trials and curves frames, which carry `method` and `seed` columns.
    """
    manifest = read_manifest(path)
    if manifest.get("engine") == SIMULATOR_ENGINE:
        from analysis.simulated import load_simulated

        return manifest, *load_simulated(path, manifest, metric, mode)
    # Run paths are relative to the compare folder; keep a URI a URI.
    base = str(path).rstrip("/") if "://" in str(path) else filesystem_and_path(path)[1]
    runs, trial_parts, curve_parts = [], [], []
    for run in manifest["runs"]:
        record = {
            "method": run["method"],
            "seed": run["seed"],
            "status": run["status"],
            "trials": 0,
            "error": run.get("error"),
        }
        if run["status"] == "finished":
            try:
                grid = load_experiment(f"{base}/{run['path']}")
                curves = curves_frame(grid, time_column)
                trials = trials_frame(grid, curves, metric, mode, time_column)
            except (NotAnExperimentError, KeyError) as error:
                record.update(status="unreadable", error=str(error).strip("'\""))
            else:
                # Trials that trained an epoch: a budget leaves the rest of a grid unstarted.
                record["trials"] = int(trials["epochs"].notna().sum()) if len(trials) else 0
                for part, parts in ((trials, trial_parts), (curves, curve_parts)):
                    parts.append(part.assign(method=run["method"], seed=run["seed"]))
        runs.append(record)
    trials = pd.concat(trial_parts, ignore_index=True) if trial_parts else pd.DataFrame()
    curves = pd.concat(curve_parts, ignore_index=True) if curve_parts else pd.DataFrame()
    return manifest, pd.DataFrame(runs), trials, curves
