"""The study report, every stage read from the tiny experiment: sections, tables and figures."""

from __future__ import annotations

import pandas as pd

from analysis.report.study import (
    BATCHNORM_TARGET,
    SECTIONS,
    StudyPaths,
    epochs_to,
    stage_best,
    write_study_report,
)
from analysis.results import load_experiment, trials_frame
from trainables import metrics


def test_every_section_names_the_best_trial_of_its_stage(tiny_experiment, tmp_path):
    stage = str(tiny_experiment)
    paths = StudyPaths(stage, stage, stage, {"sgd": stage, "adam": stage}, stage)
    files = write_study_report(paths, tmp_path / "study", "MNIST study")
    names = [p.name for p in files]
    assert names[:2] == ["report.md", "report.html"]
    assert sorted(names[2:]) == sorted(
        f"{prefix}-{metric}.png"
        for prefix in ("l1", "optimizers", "batchnorm")
        for metric in (metrics.TRAIN_COST, metrics.VAL_ACC)
    )
    assert all(p.is_file() for p in files)
    markdown = files[0].read_text()
    assert markdown.startswith("# MNIST study\n")
    headings = [line[3:] for line in markdown.splitlines() if line.startswith("## ")]
    assert headings == list(SECTIONS)

    trials = trials_frame(load_experiment(tiny_experiment))
    best = trials.loc[trials["best_val_acc"].idxmax()]
    # Six stages in the summary, then the L2 table, both L1 rows and both optimizers.
    assert markdown.count(f"| {best['trial_id']} |") == 6 + 1 + 2 + 2
    assert f"from L2 trial {best['trial_id']}" in markdown
    assert "Winner: random, by 0.0000" in markdown  # the same folder on both sides: a tie
    assert "Best: sgd." in markdown  # a tie goes to the first optimizer
    for png in names[2:]:
        assert f"]({png})" in markdown and f"src='{png}'" in files[1].read_text()


def test_stage_best_is_chosen_on_validation_accuracy(tiny_experiment):
    best = stage_best(str(tiny_experiment))
    trials = trials_frame(load_experiment(tiny_experiment))
    assert best.val_acc == trials["best_val_acc"].max()
    assert set(best.curve["trial_id"]) == {best.trial_id} and len(best.trials) == 1
    assert best.config["lr"] == trials.set_index("trial_id").loc[best.trial_id, "config/lr"]


def test_epochs_to_is_the_first_epoch_at_the_target():
    curve = pd.DataFrame({metrics.EPOCH: [1, 2, 3, 4], metrics.VAL_ACC: [0.9, 0.99, 0.98, 0.995]})
    assert epochs_to(curve) == 2 and BATCHNORM_TARGET == 0.985
    assert epochs_to(curve, target=0.999) is None
