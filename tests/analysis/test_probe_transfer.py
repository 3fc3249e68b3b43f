"""`probe transfer` reads its experiment through the results frames: one row per trial."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.probes.images import ProbeError
from analysis.probes.transfer import read_experiment, report_transfer, trial_history
from analysis.results import load_experiment, trials_frame


def test_summary_agrees_with_the_trials_frame(tiny_experiment, tmp_path):
    summary, change, files = report_transfer(tiny_experiment, tmp_path / "out")
    trials = trials_frame(load_experiment(tiny_experiment)).set_index("trial_id")
    assert change is None  # no finetune=conv1 trial in an MNIST experiment
    assert [p.name for p in files] == ["val_acc_curves.png", "trials.csv", "trials.md"]
    assert all(p.is_file() for p in files)
    assert sorted(summary["trial_id"]) == sorted(trials.index)
    assert list(summary["best_val_acc"]) == sorted(summary["best_val_acc"], reverse=True)
    for row in summary.itertuples():
        assert row.best_val_acc == trials.loc[row.trial_id, "best_val_acc"]
        assert row.test_acc_at_best == trials.loc[row.trial_id, "test_acc_at_best"]
        assert row.epochs_run == trials.loc[row.trial_id, "epochs"]
        assert row.optimizer == trials.loc[row.trial_id, "config/optimizer"]
        assert row.finetune is None  # not a key of this job's config
    assert pd.read_csv(files[1])["trial_id"].tolist() == summary["trial_id"].tolist()


def test_history_runs_trial_by_trial_with_labels(tiny_experiment):
    _, curves, trials = read_experiment(tiny_experiment)
    history = trial_history(curves, trials)
    assert len(history) == len(curves)
    order = list(dict.fromkeys(history["trial_id"]))
    assert order == list(trials["trial_id"])  # each trial's reports together, in trial order
    for trial_id, rows in history.groupby("trial_id"):
        assert list(rows["epoch"]) == sorted(rows["epoch"])
        assert set(rows["label"]) == {f"{trial_id} None/None"}


def test_what_is_not_an_experiment_is_a_probe_error(tmp_path, empty_experiment):
    with pytest.raises(ProbeError, match="is not a Ray Tune experiment folder"):
        report_transfer(tmp_path, tmp_path / "out")
    with pytest.raises(ProbeError, match="all-failed holds no reported results"):
        report_transfer(empty_experiment, tmp_path / "out")
    assert not (tmp_path / "out").exists()
