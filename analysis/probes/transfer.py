"""Reading a `cifar10-transfer` experiment.

val_acc curves per trial, early stops, the cached-feature path, and conv1's filters before and
after fine-tuning from the best conv1 trial's checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import torch
from ray import tune

from analysis.probes.figures import filter_change_figure, learning_curves_figure
from analysis.probes.images import ProbeError, markdown_table
from trainables.cifar10 import CACHED_FEATURES, CONV1_BEFORE, EARLY_STOPPED
from trainables.metrics import EPOCH, TEST_ACC, VAL_ACC
from trainables.reporting import load_checkpoint_state

CONFIG_COLUMNS = ("finetune", "augmentation", "lr", "optimizer", "batch_size", "resolution")


@dataclass(frozen=True)
class FilterChange:
    trial_id: str
    epoch: int
    val_acc: float
    mean_abs_change: float  # mean |after - before| over all conv1 weights
    relative_change: float  # mean_abs_change / mean |before|


def read_experiment(path: str | Path) -> tune.ExperimentAnalysis:
    try:
        return tune.ExperimentAnalysis(str(path))
    except Exception as error:  # Ray raises ValueError / FileNotFoundError / RuntimeError
        raise ProbeError(f"{path} is not a Ray Tune experiment folder: {error}") from None


def trial_history(analysis: tune.ExperimentAnalysis) -> pd.DataFrame:
    """Every report of every trial, with trial_id, the tuned config values and a short label."""
    frames = []
    for trial in analysis.trials:
        frame = analysis.trial_dataframes.get(trial.trial_id)
        if frame is None or frame.empty:
            continue
        frame = frame.copy()
        frame["trial_id"] = trial.trial_id
        for key in CONFIG_COLUMNS:
            frame[key] = trial.config.get(key)
        frame["label"] = (
            f"{trial.trial_id} {trial.config.get('finetune')}/{trial.config.get('augmentation')}"
        )
        frames.append(frame)
    if not frames:
        raise ProbeError(f"{analysis.experiment_path} holds no reported results")
    return pd.concat(frames, ignore_index=True)


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


def conv1_change(analysis: tune.ExperimentAnalysis, summary: pd.DataFrame):
    """conv1 before/after from the best `finetune=conv1` trial's best checkpoint, or None."""
    candidates = summary[summary["finetune"] == "conv1"]
    if candidates.empty:
        return None
    best = candidates.iloc[0]
    trial = next(t for t in analysis.trials if t.trial_id == best["trial_id"])
    checkpoint = analysis.get_best_checkpoint(trial, metric=VAL_ACC, mode="max")
    if checkpoint is None:
        return None
    state = load_checkpoint_state(checkpoint)
    before, after = state[CONV1_BEFORE], state["model"]["conv1.weight"]
    change = float((after - before).abs().mean())
    relative = change / max(float(before.abs().mean()), 1e-12)
    info = FilterChange(
        best["trial_id"], int(state["epoch"]), best["best_val_acc"], change, relative
    )
    return info, before, after


def report_transfer(path: str | Path, out: Path) -> tuple[pd.DataFrame, FilterChange | None, list]:
    """Write the learning curves, the trial table and the conv1 comparison for an experiment."""
    analysis = read_experiment(path)
    history = trial_history(analysis)
    summary = trial_summary(history)
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "val_acc_curves.png", out / "trials.csv", out / "trials.md"]
    figure = learning_curves_figure(history)
    figure.savefig(files[0], dpi=110, bbox_inches="tight")
    plt.close(figure)
    summary.to_csv(files[1], index=False)
    files[2].write_text(markdown_table(summary, ".4g"))
    found = conv1_change(analysis, summary)
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
