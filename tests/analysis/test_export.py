"""`tune-jobs export` round trips through pandas' readers; export-optuna through Optuna's API."""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from analysis.results import (
    best_epoch_metrics,
    curves_frame,
    load_compare,
    load_experiment,
    trials_frame,
)
from tune_jobs.cli import main
from tune_jobs.cli.report import log_scaled_params

READERS = {"csv": pd.read_csv, "parquet": pd.read_parquet}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_writes_the_frames_of_analysis_results(tiny_experiment, tmp_path, fmt, capsys):
    out = tmp_path / "tables"
    assert main(["export", str(tiny_experiment), "--format", fmt, "--out", str(out)]) == 0
    assert f"trials.{fmt}" in capsys.readouterr().out
    grid = load_experiment(tiny_experiment)
    curves = curves_frame(grid)
    expected = {"trials": trials_frame(grid, curves), "curves": curves}
    for name, frame in expected.items():
        back = READERS[fmt](
            out / f"{name}.{fmt}", **({"dtype": {"trial_id": str}} if fmt == "csv" else {})
        )
        if fmt == "csv":  # CSV writes None and NaN alike: an empty cell
            frame = frame.replace({None: np.nan})
        pd.testing.assert_frame_equal(
            back, frame.reset_index(drop=True), check_dtype=fmt == "parquet"
        )


def test_export_of_a_compare_folder_carries_method_and_seed(compare_folder, tmp_path):
    out = tmp_path / "tables"
    assert main(["export", str(compare_folder), "--format", "parquet", "--out", str(out)]) == 0
    _, _, trials, curves = load_compare(compare_folder)
    back = pd.read_parquet(out / "trials.parquet")
    assert len(back) == len(trials) and {"method", "seed"} <= set(back.columns)
    assert len(pd.read_parquet(out / "curves.parquet")) == len(curves)


def test_export_refuses_bad_input_in_one_line(tiny_experiment, tmp_path, capsys):
    stray = tmp_path / "stray"
    stray.mkdir()
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    cases = [
        ([str(stray), "--out", str(tmp_path / "o")], "is not a Ray Tune experiment folder"),
        ([str(tiny_experiment), "--out", str(a_file)], "exists and is not a folder"),
        ([str(tiny_experiment), "--format", "xlsx", "--out", str(tmp_path / "o")], "xlsx"),
    ]
    for args, message in cases:
        assert main(["export", *args]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o").exists()


def test_export_optuna_keeps_real_times_pruned_trials_and_only_tuned_params(
    tiny_experiment, tmp_path
):
    storage = f"sqlite:///{tmp_path / 'tune.db'}"
    assert main(["export-optuna", str(tiny_experiment), "--storage", storage]) == 0
    study = optuna.load_study(study_name="tiny-asha", storage=storage)
    trials = trials_frame(load_experiment(tiny_experiment)).set_index("trial_id")
    for trial in study.trials:
        row = trials.loc[trial.user_attrs["tune_trial_id"]]
        duration = (trial.datetime_complete - trial.datetime_start).total_seconds()
        assert duration > 0 and duration == pytest.approx(row["ended"] - row["started"], abs=1)
        stopped = row["stop_reason"] == "stopped early"
        assert trial.state == (TrialState.PRUNED if stopped else TrialState.COMPLETE)
        assert set(trial.params) == {"lr", "dropout", "weight_decay", "width"}  # those that vary
    assert (trials["stop_reason"] == "stopped early").any()  # ASHA stopped some: PRUNED seen
    assert study.user_attrs["fixed_params"]["optimizer"] == "sgd"


def test_best_epoch_metrics_are_the_best_report_not_rays_last(tiny_experiment):
    grid = load_experiment(tiny_experiment)
    best = best_epoch_metrics(tiny_experiment)
    histories = {result.trial_id: result.metrics_dataframe for result in grid}
    top = max(h["val_acc"].max() for h in histories.values())
    assert best["val_acc"] == top
    history = histories[best["trial_id"]]
    row = history.loc[history["val_acc"].idxmax()]
    assert best["epoch"] == row["epoch"] and best["test_acc"] == row["test_acc"]
    assert (
        best["config"]["lr"] == next(r for r in grid if r.trial_id == best["trial_id"]).config["lr"]
    )
    assert best_epoch_metrics(grid, "val_loss", "min")["val_loss"] == min(
        h["val_loss"].min() for h in histories.values()
    )


def test_the_report_takes_log_scales_from_the_jobs_space():
    assert log_scaled_params({"job": "mnist-l2"}) == {"lr", "weight_decay"}
    assert log_scaled_params({"job": "not-a-job"}) is None
