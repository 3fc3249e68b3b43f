"""The report of `tune-jobs study mnist`: Problem 4's questions, each with its table and figures.

One function per section (`SECTIONS`), each over the best trial of every stage (`StudyBests`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis import plots
from analysis.report.blocks import Block, Heading, Table, Text
from analysis.report.writer import ReportWriter, Section, preamble
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


@dataclass(frozen=True)
class StudyBests:
    """The best trial of every stage of a study."""

    l2: StageBest
    l1_random: StageBest
    l1_from_l2: StageBest
    optimizers: dict[str, StageBest]  # optimizer -> its stage's best
    batchnorm: StageBest

    @classmethod
    def read(cls, paths: StudyPaths) -> StudyBests:
        """Each stage's best trial, read from its experiment folder."""
        return cls(
            l2=stage_best(paths.l2),
            l1_random=stage_best(paths.l1_random),
            l1_from_l2=stage_best(paths.l1_from_l2),
            optimizers={name: stage_best(p) for name, p in paths.optimizers.items()},
            batchnorm=stage_best(paths.batchnorm),
        )

    @property
    def best_optimizer(self) -> str:
        return max(self.optimizers, key=lambda name: self.optimizers[name].val_acc)


def _row(stage: str, best: StageBest, *keys: str) -> dict:
    return {
        "stage": stage,
        "trial": best.trial_id,
        "best val_acc": best.val_acc,
        "epoch": best.epoch,
        "test_acc": best.test_acc,
        **{key: best.config.get(key) for key in keys},
    }


def summary_section(bests: StudyBests) -> list[Block]:
    """Every stage's best trial, validation and test accuracy."""
    stages = {
        "4.1 L2": bests.l2,
        "4.2 L1, random init": bests.l1_random,
        "4.2 L1, from L2": bests.l1_from_l2,
        **{f"4.3(a) {name}": best for name, best in bests.optimizers.items()},
        "4.3(b) batchnorm": bests.batchnorm,
    }
    summary = pd.DataFrame([_row(stage, best) for stage, best in stages.items()])
    return [
        Heading(2, SECTIONS[0]),
        Text("Each stage's best trial by validation accuracy; test accuracy at that epoch."),
        Table(summary),
    ]


def l2_section(bests: StudyBests) -> list[Block]:
    """4.1: the best dropout, weight decay and width."""
    keys = ("lr", "weight_decay", "dropout", "width")
    return [Heading(2, SECTIONS[1]), Table(pd.DataFrame([_row("4.1 L2", bests.l2, *keys)]))]


def l1_section(bests: StudyBests, section: Section) -> list[Block]:
    """4.2: L1 from a random initialization against L1 from the best L2 weights."""
    from_random, from_l2 = bests.l1_random, bests.l1_from_l2
    rows = [
        _row("random", from_random, "lr", "l1"),
        _row(f"from L2 trial {bests.l2.trial_id}", from_l2, "lr", "l1"),
    ]
    winner, loser = (
        ("from the L2 weights", "random") if from_l2.val_acc > from_random.val_acc
        else ("random", "from the L2 weights")
    )  # fmt: skip
    margin = abs(from_l2.val_acc - from_random.val_acc)
    return [
        Heading(2, SECTIONS[2]),
        Text(
            "Dropout 0, weight decay 0; L1 strength tuned with the learning rate; both "
            f"initializations under the same budget. Winner: {winner}, by {margin:.4f} validation "
            f"accuracy over {loser} (test accuracy {from_l2.test_acc:.4f} from L2, "
            f"{from_random.test_acc:.4f} random)."
        ),
        Table(pd.DataFrame(rows)),
        *_curves(
            {"random": from_random, "from L2": from_l2},
            "init",
            section,
            "L1 stage, best trial of each initialization",
        ),
    ]


def optimizers_section(bests: StudyBests, section: Section) -> list[Block]:
    """4.3(a): each optimizer's best trial with its own hyperparameters."""
    own = ["lr", "momentum", "beta1", "beta2"]
    rows = [_row(name, best, *own) for name, best in bests.optimizers.items()]
    return [
        Heading(2, SECTIONS[3]),
        Text(
            "The best network's hyperparameters kept; each optimizer's learning rate and own "
            "parameters tuned on validation accuracy (momentum: momentum; Adam: beta1, beta2; "
            f"SGD and AdaGrad: the learning rate only). Best: {bests.best_optimizer}."
        ),
        Table(pd.DataFrame(rows)),
        *_curves(bests.optimizers, "optimizer", section, "Optimizers"),
    ]


def _batchnorm_row(label: str, optimizer: str | None, best: StageBest) -> dict:
    return {
        "batch normalization": label,
        "optimizer": optimizer,
        "lr": best.config["lr"],
        "test_acc": best.test_acc,
        "best val_acc": best.val_acc,
        f"epochs to {BATCHNORM_TARGET:.1%} val_acc": epochs_to(best.curve),
    }


def batchnorm_section(bests: StudyBests, section: Section) -> list[Block]:
    """4.3(b): the best optimizer without batch normalization against the network with it."""
    without, batchnorm = bests.optimizers[bests.best_optimizer], bests.batchnorm
    rows = [
        _batchnorm_row("without", bests.best_optimizer, without),
        _batchnorm_row("with", batchnorm.config.get("optimizer"), batchnorm),
    ]
    return [
        Heading(2, SECTIONS[4]),
        Text(
            "Batch normalization on every hidden layer, learning rate retuned; epochs to target "
            "empty where the target was not reached."
        ),
        Table(pd.DataFrame(rows)),
        *_curves(
            {"without": without, "with": batchnorm}, "batchnorm", section, "Batch normalization"
        ),
    ]


def study_blocks(paths: StudyPaths, writer: ReportWriter) -> list[Block]:
    """Every section of the study report (`SECTIONS`, in order); `writer` saves the figures."""
    bests = StudyBests.read(paths)
    return [
        *summary_section(bests),
        *l2_section(bests),
        *l1_section(bests, Section(writer, "l1")),
        *optimizers_section(bests, Section(writer, "optimizers")),
        *batchnorm_section(bests, Section(writer, "batchnorm")),
    ]


def _curves(bests: dict[str, StageBest], label: str, section: Section, title: str) -> list[Block]:
    """Training cost and validation accuracy against epochs, one line per entry of `bests`."""
    curves = pd.concat(
        [best.curve.assign(trial_id=name) for name, best in bests.items()], ignore_index=True
    )
    trials = pd.DataFrame({"trial_id": list(bests), label: list(bests)})
    blocks: list[Block] = []
    for metric in (metrics.TRAIN_COST, metrics.VAL_ACC):
        fig = plots.plot_training_curves(curves, trials, panels=(metric,), title=title)
        blocks.append(section.figure(fig, f"{metric}.png", f"{title}: {metric} against epochs"))
    return blocks


def write_study_report(paths: StudyPaths, out: str | Path, title: str) -> list[Path]:
    """Write `out/report.md`, `out/report.html` and the figures; the files written."""
    writer = ReportWriter(out)
    blocks = preamble(
        title,
        ". Every choice is made on validation accuracy; the test set never chooses anything.",
    )
    return writer.write([*blocks, *study_blocks(paths, writer)], title)
