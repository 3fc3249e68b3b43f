"""The report of `tune-jobs study mnist`: Problem 4's questions, each with its table and figures.

Built from the blocks, renderers and plots of `analysis.report` and `analysis.plots`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis import plots
from analysis.report import Block, Heading, Image, Table, Text, _save, render_html, render_markdown
from analysis.results import CONFIG_PREFIX, curves_frame, load_experiment, trials_frame
from trainables import metrics

BATCHNORM_TARGET = 0.985  # validation accuracy whose first epoch the batch-norm table reports
SECTIONS = (
    "Best test accuracy of each stage",
    "4.1 Dropout and L2",
    "4.2 L1: random initialization or the best L2 weights",
    "4.3(a) Optimizers",
    "4.3(b) Batch normalization",
)


@dataclass(frozen=True)
class StudyPaths:
    """The experiment folders of one study, stage by stage."""

    l2: str
    l1_random: str
    l1_from_l2: str
    optimizers: dict[str, str]  # optimizer -> experiment
    batchnorm: str


@dataclass(frozen=True)
class StageBest:
    """A stage's best trial at its best epoch, with that trial's curve."""

    trial_id: str
    val_acc: float
    test_acc: float
    epoch: int
    config: dict
    curve: pd.DataFrame
    trials: pd.DataFrame


def stage_best(path: str) -> StageBest:
    """The best trial (by val_acc) of the experiment at `path`."""
    grid = load_experiment(path)
    curves = curves_frame(grid)
    trials = trials_frame(grid, curves)
    best = trials.sort_values(f"best_{metrics.VAL_ACC}", ascending=False).iloc[0]
    config = {
        c.removeprefix(CONFIG_PREFIX): best[c]
        for c in trials.columns
        if c.startswith(CONFIG_PREFIX)
    }
    return StageBest(
        trial_id=str(best["trial_id"]),
        val_acc=float(best[f"best_{metrics.VAL_ACC}"]),
        test_acc=float(best[f"{metrics.TEST_ACC}_at_best"]),
        epoch=int(best["best_epoch"]),
        config=config,
        curve=curves[curves["trial_id"] == best["trial_id"]],
        trials=trials[trials["trial_id"] == best["trial_id"]],
    )


def epochs_to(curve: pd.DataFrame, target: float = BATCHNORM_TARGET) -> int | None:
    """The first epoch whose validation accuracy reaches `target` (None if none does)."""
    reached = curve[curve[metrics.VAL_ACC] >= target]
    return None if reached.empty else int(reached[metrics.EPOCH].min())


def _row(stage: str, best: StageBest, *keys: str) -> dict:
    return {
        "stage": stage,
        "trial": best.trial_id,
        "best val_acc": best.val_acc,
        "epoch": best.epoch,
        "test_acc": best.test_acc,
        **{key: best.config.get(key) for key in keys},
    }


def study_blocks(paths: StudyPaths, out: Path, written: list[Path]) -> list[Block]:
    """Every section of the study report (`SECTIONS`, in order)."""
    l2, l1_random, l1_from_l2 = (
        stage_best(p) for p in (paths.l2, paths.l1_random, paths.l1_from_l2)
    )
    optimizers = {name: stage_best(p) for name, p in paths.optimizers.items()}
    best_optimizer = max(optimizers, key=lambda name: optimizers[name].val_acc)
    batchnorm = stage_best(paths.batchnorm)
    stages = {
        "4.1 L2": l2,
        "4.2 L1, random init": l1_random,
        "4.2 L1, from L2": l1_from_l2,
        **{f"4.3(a) {name}": best for name, best in optimizers.items()},
        "4.3(b) batchnorm": batchnorm,
    }
    summary = pd.DataFrame([_row(stage, best) for stage, best in stages.items()])
    blocks: list[Block] = [
        Heading(2, SECTIONS[0]),
        Text("Each stage's best trial by validation accuracy; test accuracy at that epoch."),
        Table(summary),
        Heading(2, SECTIONS[1]),
        Table(pd.DataFrame([_row("4.1 L2", l2, "lr", "weight_decay", "dropout", "width")])),
    ]
    l1_rows = [
        _row("random", l1_random, "lr", "l1"),
        _row(f"from L2 trial {l2.trial_id}", l1_from_l2, "lr", "l1"),
    ]
    winner, loser = (
        ("from the L2 weights", "random") if l1_from_l2.val_acc > l1_random.val_acc
        else ("random", "from the L2 weights")
    )  # fmt: skip
    margin = abs(l1_from_l2.val_acc - l1_random.val_acc)
    blocks += [
        Heading(2, SECTIONS[2]),
        Text(
            "Dropout 0, weight decay 0; L1 strength tuned with the learning rate; both "
            f"initializations under the same budget. Winner: {winner}, by {margin:.4f} validation "
            f"accuracy over {loser} (test accuracy {l1_from_l2.test_acc:.4f} from L2, "
            f"{l1_random.test_acc:.4f} random)."
        ),
        Table(pd.DataFrame(l1_rows)),
    ]
    blocks += _curves(
        {"random": l1_random, "from L2": l1_from_l2}, "init", out, "l1", written,
        "L1 stage, best trial of each initialization",
    )  # fmt: skip
    own = ["lr", "momentum", "beta1", "beta2"]
    optimizer_rows = [_row(name, best, *own) for name, best in optimizers.items()]
    blocks += [
        Heading(2, SECTIONS[3]),
        Text(
            "The best network's hyperparameters kept; each optimizer's learning rate and own "
            "parameters tuned on validation accuracy (momentum: momentum; Adam: beta1, beta2; "
            f"SGD and AdaGrad: the learning rate only). Best: {best_optimizer}."
        ),
        Table(pd.DataFrame(optimizer_rows)),
    ]
    blocks += _curves(optimizers, "optimizer", out, "optimizers", written, "Optimizers")
    without = optimizers[best_optimizer]
    rows = [
        {"batch normalization": "without", "optimizer": best_optimizer, "lr": without.config["lr"],
         "test_acc": without.test_acc, "best val_acc": without.val_acc,
         f"epochs to {BATCHNORM_TARGET:.1%} val_acc": epochs_to(without.curve)},
        {"batch normalization": "with", "optimizer": batchnorm.config.get("optimizer"),
         "lr": batchnorm.config["lr"], "test_acc": batchnorm.test_acc,
         "best val_acc": batchnorm.val_acc,
         f"epochs to {BATCHNORM_TARGET:.1%} val_acc": epochs_to(batchnorm.curve)},
    ]  # fmt: skip
    blocks += [
        Heading(2, SECTIONS[4]),
        Text(
            "Batch normalization on every hidden layer, learning rate retuned; epochs to target "
            "empty where the target was not reached."
        ),
        Table(pd.DataFrame(rows)),
    ]
    blocks += _curves(
        {"without": without, "with": batchnorm}, "batchnorm", out, "batchnorm", written,
        "Batch normalization",
    )  # fmt: skip
    return blocks


def _curves(
    bests: dict[str, StageBest],
    label: str,
    out: Path,
    prefix: str,
    written: list[Path],
    title: str,
) -> list[Block]:
    """Training cost and validation accuracy against epochs, one line per entry of `bests`."""
    curves = pd.concat(
        [best.curve.assign(trial_id=name) for name, best in bests.items()], ignore_index=True
    )
    trials = pd.DataFrame({"trial_id": list(bests), label: list(bests)})
    blocks: list[Block] = []
    for metric in (metrics.TRAIN_COST, metrics.VAL_ACC):
        fig = plots.plot_training_curves(curves, trials, panels=(metric,), title=title)
        name = _save(fig, out, f"{prefix}-{metric}.png", written)
        blocks.append(Image(name, f"{title}: {metric} against epochs"))
    return blocks


def write_study_report(paths: StudyPaths, out: str | Path, title: str) -> list[Path]:
    """Write `out/report.md`, `out/report.html` and the figures; the files written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    blocks: list[Block] = [
        Heading(1, title),
        Text(
            f"Generated {time.strftime('%Y-%m-%d %H:%M:%S')}. Every choice is made on validation "
            "accuracy; the test set never chooses anything."
        ),
        *study_blocks(paths, out, written),
    ]
    (out / "report.md").write_text(render_markdown(blocks))
    (out / "report.html").write_text(render_html(blocks, title))
    return [out / "report.md", out / "report.html", *written]
