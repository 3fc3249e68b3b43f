"""Build a replay table from a finished experiment: every configuration's curve, epoch by epoch.

The experiment must be one in which every trial trained its full number of epochs (a `grid` run);
the table then holds, per configuration, each epoch's reported metrics and the seconds it took.
`trainables.replay` reads and replays it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.layout import ITERATION, TIME_THIS_ITER, TIME_TOTAL
from analysis.results import (
    CONFIG_PREFIX,
    CUM_EPOCHS,
    CUM_SECONDS,
    curves_frame,
    load_experiment,
    read_run_info,
    recorded_metric,
    trials_frame,
)
from trainables import metrics
from trainables.replay import CONFIG_ID, SECONDS

# Columns of a curves frame that describe the replay run, not the recorded training; Ray's
# `TIME_THIS_ITER` becomes the table's `SECONDS`: the recorded epoch's length.
_NOT_RECORDED = ("trial_id", ITERATION, "timestamp", "done", "node_id", TIME_TOTAL, "trial")
_NOT_RECORDED += (CUM_EPOCHS, CUM_SECONDS, TIME_THIS_ITER)


FINISHED = ("completed", "diverged")  # stop reasons of trials whose whole curve was recorded


class UnfinishedExperimentError(ValueError):
    """An experiment whose trials did not all train their full number of epochs."""


def build_table(experiment: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The replay frame and metadata of the finished experiment at `experiment`.

    Raises UnfinishedExperimentError naming every trial that did not finish (errored, still
    running, stopped early), NotAnExperimentError for a folder that is not an experiment, and
    ValueError when two trials share a configuration.
    """
    grid = load_experiment(experiment)
    curves = curves_frame(grid)
    trials = trials_frame(grid, curves)
    _check_finished(experiment, trials)
    config_columns = [c for c in trials if c.startswith(CONFIG_PREFIX)]
    tuned = _tuned_columns(experiment, trials, config_columns)
    ids = {trial_id: number for number, trial_id in enumerate(trials["trial_id"])}
    frame = _recorded_rows(curves).merge(trials[["trial_id", *tuned]], on="trial_id")
    frame.insert(0, CONFIG_ID, frame.pop("trial_id").map(ids))
    frame = frame.sort_values([CONFIG_ID, metrics.EPOCH], kind="stable").reset_index(drop=True)
    first = trials.iloc[0]
    fixed = {c.removeprefix(CONFIG_PREFIX): first[c] for c in config_columns if c not in tuned}
    info = read_run_info(grid)
    meta = {
        "source": str(experiment),
        "job": info.get("job"),
        "method": info.get("method"),
        # The metric the recorded run optimised: a replay optimises the same by default.
        "metric": recorded_metric(info, metrics.METRIC, metrics.MODE)[0],
        "mode": recorded_metric(info, metrics.METRIC, metrics.MODE)[1],
        "epochs": int(frame[metrics.EPOCH].max()),
        "configs": len(trials),
        "tuned": [c.removeprefix(CONFIG_PREFIX) for c in tuned],
        "fixed": {k: v.item() if hasattr(v, "item") else v for k, v in fixed.items()},
        "built": time.time(),
    }
    return frame, meta


def finished_curves(experiment: str | Path) -> tuple[pd.DataFrame, list[str]]:
    """The curves of the trials that trained their full epochs (or diverged), one row per
    epoch with `seconds` and every `config/...` column; and the ids of the other trials.

    Raises NotAnExperimentError for a folder that is not an experiment.
    """
    grid = load_experiment(experiment)
    curves = curves_frame(grid)
    trials = trials_frame(grid, curves)
    if trials.empty:
        return pd.DataFrame(), []
    finished = trials["stop_reason"].isin(FINISHED)
    config_columns = [c for c in trials if c.startswith(CONFIG_PREFIX)]
    frame = _recorded_rows(curves).merge(
        trials.loc[finished, ["trial_id", *config_columns]], on="trial_id"
    )
    return frame, trials.loc[~finished, "trial_id"].tolist()


def _recorded_rows(curves: pd.DataFrame) -> pd.DataFrame:
    """A curves frame's recorded columns, with Ray's epoch length as `seconds`."""
    recorded = [c for c in curves if c not in _NOT_RECORDED]
    frame = curves[["trial_id", *recorded]].copy()
    frame[SECONDS] = curves[TIME_THIS_ITER].astype(float)
    return frame


def _check_finished(experiment: str | Path, trials: pd.DataFrame) -> None:
    """UnfinishedExperimentError naming every trial that did not train its full epochs."""
    if trials.empty:
        raise UnfinishedExperimentError(f"{experiment}: the experiment has no trials")
    ok = trials["stop_reason"].isin(FINISHED)
    if ok.all():
        return
    missing = trials.loc[~ok, ["trial_id", "stop_reason", "epochs"]]
    names = "; ".join(
        f"{row.trial_id} ({row.stop_reason}, {row.epochs:.0f} epochs)"
        if pd.notna(row.epochs)
        else f"{row.trial_id} ({row.stop_reason})"
        for row in missing.itertuples()
    )
    raise UnfinishedExperimentError(
        f"{experiment}: {len(missing)} of {len(trials)} trials did not train their full "
        f"epochs, so their curves cannot be replayed: {names}. Build from a finished grid run."
    )


def _tuned_columns(
    experiment: str | Path, trials: pd.DataFrame, config_columns: list[str]
) -> list[str]:
    """The config columns that vary; ValueError unless every trial has its own configuration."""
    as_text = trials[config_columns].astype(str)
    tuned = [c for c in config_columns if as_text[c].nunique() > 1]
    duplicated = as_text[tuned].duplicated(keep=False)
    if not tuned or duplicated.any():
        raise ValueError(
            f"{experiment}: every trial must have its own configuration; "
            f"{int(duplicated.sum()) or len(trials)} trials share one (use one grid pass)"
        )
    return tuned
