"""Reading a `cifar10-transfer` experiment.

val_acc curves per trial, early stops, the cached-feature path, and conv1's filters before and
after fine-tuning from the best conv1 trial's checkpoint.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import torch
from ray.tune import Checkpoint

from analysis.layout import ITERATION, RUN_FILE
from analysis.probes.figures import filter_change_figure, learning_curves_figure
from analysis.probes.images import ProbeError, markdown_table
from analysis.results import (
    CONFIG_PREFIX,
    Experiment,
    NotAnExperimentError,
    TrialResult,
    curves_frame,
    load_experiment,
    trials_frame,
)
from trainables.cifar10 import CACHED_FEATURES, CONV1_BEFORE, EARLY_STOPPED
from trainables.metrics import EPOCH, TEST_ACC, VAL_ACC
from trainables.reporting import NotACheckpointError, load_checkpoint_state

TRANSFER_JOB = "cifar10-transfer"  # the job (tune_jobs.jobs) whose experiments this probe reads
CONFIG_COLUMNS = ("finetune", "augmentation", "lr", "optimizer", "batch_size", "resolution")


@dataclass(frozen=True)
class FilterChange:
    trial_id: str
    epoch: int
    val_acc: float
    mean_abs_change: float  # mean |after - before| over all conv1 weights
    relative_change: float  # mean_abs_change / mean |before|


def read_experiment(path: str | Path) -> tuple[Experiment, pd.DataFrame, pd.DataFrame]:
    """The experiment, curves and trials frames of an experiment with at least one report.

    ProbeError, naming the path, for a folder that is not an experiment or holds no reports.
    """
    try:
        grid = load_experiment(path)
    except NotAnExperimentError as error:
        raise ProbeError(str(error)) from None
    curves = curves_frame(grid)
    if curves.empty:
        raise ProbeError(f"{path} holds no reported results")
    return grid, curves, trials_frame(grid, curves)


def check_job(path: str | Path) -> None:
    """Refuse an experiment of another job (its run file says which); none or unreadable: allow."""
    try:
        job = json.loads((Path(path) / RUN_FILE).read_text()).get("job")
    except (OSError, ValueError, AttributeError):  # not started by tune-jobs: read it as it is
        return
    if job is not None and job != TRANSFER_JOB:
        raise ProbeError(
            f"{path} is an experiment of job {job}; probe transfer reads {TRANSFER_JOB} "
            "experiments only (its curves, early stops and conv1 filters)"
        )


def trial_history(curves: pd.DataFrame, trials: pd.DataFrame) -> pd.DataFrame:
    """Every report of every trial, with trial_id, the tuned config values and a short label."""
    config = pd.DataFrame({"trial_id": trials["trial_id"]})
    for key in CONFIG_COLUMNS:
        column = f"{CONFIG_PREFIX}{key}"
        config[key] = trials[column].astype(object) if column in trials else None
    config["label"] = [
        f"{row.trial_id} {_text(row.finetune)}/{_text(row.augmentation)}"
        for row in config.itertuples()
    ]
    # Trial by trial (trials_frame's order), each trial's reports in the order it made them.
    history = curves.merge(config, on="trial_id", how="left")
    order = history["trial_id"].map({t: n for n, t in enumerate(config["trial_id"])})
    history = history.assign(_order=order).sort_values(["_order", ITERATION], kind="stable")
    return history.drop(columns="_order").reset_index(drop=True)


def _text(value: object) -> str:
    """A config value as `str(trial.config.get(key))` wrote it: a missing one is None."""
    return (
        "None" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
    )


def trial_summary(history: pd.DataFrame) -> pd.DataFrame:
    """One row per trial: its config, epochs run, best val_acc (and test_acc at that epoch),
    whether early stopping ended it and whether the cached-feature path ran."""
    rows = []
    for trial_id, frame in history.groupby("trial_id", sort=False):
        best = frame.loc[frame[VAL_ACC].idxmax()]
        rows.append(
            {
                "trial_id": trial_id,
                **{key: frame[key].iloc[0] for key in CONFIG_COLUMNS},
                "epochs_run": int(frame[EPOCH].max()),
                "best_epoch": int(best[EPOCH]),
                "best_val_acc": float(best[VAL_ACC]),
                "test_acc_at_best": float(best[TEST_ACC]),
                EARLY_STOPPED: bool(frame.get(EARLY_STOPPED, pd.Series([False])).iloc[-1]),
                CACHED_FEATURES: bool(frame.get(CACHED_FEATURES, pd.Series([False])).iloc[0]),
            }
        )
    return pd.DataFrame(rows).sort_values("best_val_acc", ascending=False)


def _best_checkpoint(result: TrialResult) -> Checkpoint | None:
    """The trial's checkpoint with the highest val_acc (checkpoints without one left out)."""
    scored = [
        (checkpoint, values[VAL_ACC])
        for checkpoint, values in result.best_checkpoints
        if values.get(VAL_ACC) is not None and not math.isnan(values[VAL_ACC])
    ]
    return max(scored, key=lambda pair: pair[1])[0] if scored else None


def conv1_change(grid: Experiment, trials: pd.DataFrame, summary: pd.DataFrame):
    """conv1 before/after from the best `finetune=conv1` trial's best checkpoint, or None."""
    candidates = summary[summary["finetune"] == "conv1"]
    if candidates.empty:
        return None
    best = candidates.iloc[0]
    path = trials.loc[trials["trial_id"] == best["trial_id"], "path"].iloc[0]
    checkpoint = _best_checkpoint(next(result for result in grid if result.path == path))
    if checkpoint is None:
        return None
    try:
        state = load_checkpoint_state(checkpoint)
    except NotACheckpointError as error:
        raise ProbeError(str(error)) from None
    before, after = state[CONV1_BEFORE], state["model"]["conv1.weight"]
    change = float((after - before).abs().mean())
    relative = change / max(float(before.abs().mean()), 1e-12)
    info = FilterChange(
        best["trial_id"], int(state["epoch"]), best["best_val_acc"], change, relative
    )
    return info, before, after


def report_transfer(path: str | Path, out: Path) -> tuple[pd.DataFrame, FilterChange | None, list]:
    """Write the learning curves, the trial table and the conv1 comparison for an experiment."""
    grid, curves, trials = read_experiment(path)
    history = trial_history(curves, trials)
    summary = trial_summary(history)
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "val_acc_curves.png", out / "trials.csv", out / "trials.md"]
    figure = learning_curves_figure(history)
    figure.savefig(files[0], dpi=110, bbox_inches="tight")
    plt.close(figure)
    summary.to_csv(files[1], index=False)
    files[2].write_text(markdown_table(summary, ".4g"))
    found = conv1_change(grid, trials, summary)
    if found is None:
        return summary, None, files
    info, before, after = found
    title = (
        f"conv1 filters, trial {info.trial_id} (epoch {info.epoch}, val_acc {info.val_acc:.4f}): "
        f"mean |change| {info.mean_abs_change:.3g} ({info.relative_change:.2%} of mean |w|)"
    )
    figure = filter_change_figure(before.to(torch.float32), after.to(torch.float32), title)
    figure.savefig(out / "conv1_filters_before_after.png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    files.append(out / "conv1_filters_before_after.png")
    return summary, info, files
