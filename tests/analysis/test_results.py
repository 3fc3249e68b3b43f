"""Loading experiment folders (JSON and CSV only) into tidy frames, on a real tiny experiment."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from ray.tune import ExperimentAnalysis, ResultGrid

from analysis.layout import MANIFEST_FILE, RUN_FILE
from analysis.results import (
    CUM_EPOCHS,
    CUM_SECONDS,
    Experiment,
    NotAnExperimentError,
    curves_frame,
    is_compare_folder,
    load_compare,
    load_experiment,
    read_run_info,
    trials_frame,
)
from trainables import metrics

TRIALS, EPOCHS = 4, 2  # the tiny_experiment fixture's (tests/analysis/conftest.py)


def test_the_run_file_is_read_from_the_experiment_folder(tiny_experiment, tmp_path):
    # tiny_experiment was written by `tune_jobs`: its run file sits under layout's RUN_FILE.
    recorded = json.loads((tiny_experiment / RUN_FILE).read_text())
    assert recorded["method"] == "asha" and recorded["job"] == "mnist-l2"
    assert read_run_info(tiny_experiment) == recorded
    assert read_run_info(f"file://{tiny_experiment}") == recorded
    copy = tmp_path / "copy"
    shutil.copytree(tiny_experiment, copy)
    (copy / RUN_FILE).unlink()
    assert read_run_info(copy) == {} and len(load_experiment(copy)) == TRIALS


def test_experiment_loads_into_frames_that_agree_with_ray(tiny_experiment):
    grid = load_experiment(tiny_experiment)
    assert isinstance(grid, Experiment) and len(grid) == TRIALS
    curves = curves_frame(grid)
    trials = trials_frame(grid, curves)

    assert len(trials) == TRIALS and trials["trial_id"].is_unique
    assert {"config/lr", "config/dropout", "config/width", "status", "stop_reason"} <= set(trials)
    assert set(trials["stop_reason"]) <= {"completed", "stopped early"}
    for metric in (metrics.TRAIN_LOSS, metrics.TRAIN_COST, metrics.VAL_LOSS, metrics.TEST_ACC):
        assert curves[metric].notna().all()
    # One row per report, in the order they happened, with the experiment's running totals.
    assert len(curves) == trials["epochs"].sum() <= TRIALS * EPOCHS
    assert list(curves[CUM_EPOCHS]) == list(range(1, len(curves) + 1))
    assert np.all(np.diff(curves[CUM_SECONDS]) >= 0)
    last = curves.groupby("trial_id")["time_total_s"].max().sum()
    assert curves[CUM_SECONDS].iloc[-1] == pytest.approx(last)

    for result in grid:  # best and final val_acc and test_acc at the best epoch, per trial
        history = result.metrics_dataframe
        row = trials.set_index("trial_id").loc[result.metrics["trial_id"]]
        best = history.loc[history[metrics.VAL_ACC].idxmax()]
        assert row["best_val_acc"] == best[metrics.VAL_ACC]
        assert row["test_acc_at_best"] == best[metrics.TEST_ACC]
        assert row["best_epoch"] == best[metrics.EPOCH]
        assert row["final_val_acc"] == history[metrics.VAL_ACC].iloc[-1]
        assert row["epochs"] == len(history)
        assert row["config/lr"] == result.config["lr"]
    assert read_run_info(grid)["method"] == "asha"


@pytest.mark.parametrize("fixture", ["tiny_experiment", "empty_experiment"])
def test_the_json_reader_agrees_with_rays_own_reader(fixture, request):
    # Ray's reader unpickles parts of the folder: fine on this trusted fixture, and the reference.
    folder = request.getfixturevalue(fixture)
    ours, rays = load_experiment(folder), ResultGrid(ExperimentAnalysis(str(folder)))
    assert len(ours) == len(rays)
    for trial, result, ray_trial in zip(ours, rays, rays._experiment_analysis.trials, strict=True):
        assert (trial.trial_id, trial.status) == (ray_trial.trial_id, ray_trial.status)
        assert trial.config == ray_trial.config and trial.path == result.path
        assert trial.start_time == ray_trial.run_metadata.start_time
        if result.metrics_dataframe is None or result.metrics_dataframe.empty:
            assert trial.metrics_dataframe.empty
        else:
            assert trial.metrics_dataframe.equals(result.metrics_dataframe)
        ours_kept = [(c.path, m["training_iteration"]) for c, m in trial.best_checkpoints]
        rays_kept = [(c.path, m["training_iteration"]) for c, m in result.best_checkpoints]
        # Every checkpoint Ray registered, and those on disk it did not (issue 19, point 1).
        assert set(rays_kept) <= set(ours_kept)
        for checkpoint, report in trial.best_checkpoints:
            assert Path(checkpoint.path).name == report["checkpoint_dir_name"]
            assert (Path(checkpoint.path) / "checkpoint.pt").is_file()
        assert (trial.error is None) == (result.error is None)
        if trial.error is not None:
            last = str(result.error).strip().splitlines()[-1]
            assert trial.error.strip().splitlines()[-1] == last


def test_a_state_that_is_not_json_is_read_from_the_trial_folders(tiny_experiment, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_experiment, copy)
    expected = trials_frame(load_experiment(copy))
    for state in copy.glob("experiment_state-*.json"):
        state.write_bytes(b"\x80\x05 not JSON")
    trials = trials_frame(load_experiment(copy))
    assert list(trials["trial_id"]) == list(expected["trial_id"])
    assert trials["best_val_acc"].equals(expected["best_val_acc"])
    assert set(trials["status"]) <= {"TERMINATED", "UNKNOWN"}


def test_a_storage_uri_loads_like_a_path(tiny_experiment):
    grid = load_experiment(f"file://{tiny_experiment}")
    assert len(trials_frame(grid)) == TRIALS


def test_a_replayed_time_column_drives_the_seconds(tiny_experiment, tmp_path):
    copy = tmp_path / "replayed"
    shutil.copytree(tiny_experiment, copy)
    for result_file in copy.glob("*/result.json"):
        rows = [json.loads(line) for line in result_file.read_text().splitlines()]
        for row in rows:
            row["sim_seconds"] = 100.0 * row[metrics.EPOCH]
        result_file.write_text("".join(json.dumps(row) + "\n" for row in rows))
    grid = load_experiment(copy)
    curves = curves_frame(grid, time_column="sim_seconds")
    assert curves[CUM_SECONDS].iloc[-1] == pytest.approx(100.0 * len(curves))
    assert trials_frame(grid, curves, time_column="sim_seconds")["seconds"].max() <= 100 * EPOCHS
    with pytest.raises(KeyError, match="time column 'wall' is not reported.*val_acc"):
        curves_frame(grid, time_column="wall")


def test_a_diverged_report_is_kept_and_named(tiny_experiment, tmp_path):
    copy = tmp_path / "diverged"
    shutil.copytree(tiny_experiment, copy)
    result_file = sorted(copy.glob("*/result.json"))[0]
    rows = [json.loads(line) for line in result_file.read_text().splitlines()]
    rows.append(
        {
            **rows[-1],
            "training_iteration": len(rows) + 1,
            "epoch": len(rows) + 1,
            "diverged": True,
            "train_loss": float("nan"),
            "val_loss": float("nan"),
            "val_acc": 0.0,
        }
    )
    result_file.write_text("".join(json.dumps(row) + "\n" for row in rows))
    grid = load_experiment(copy)
    curves = curves_frame(grid)
    trials = trials_frame(grid, curves).set_index("trial_id")
    trial_id = rows[0]["trial_id"]
    assert curves["diverged"].dtype == bool and curves["diverged"].sum() == 1
    assert trials.loc[trial_id, "stop_reason"] == "diverged"
    assert trials.loc[trial_id, "best_val_acc"] == max(r["val_acc"] for r in rows)
    assert trials.loc[trial_id, "final_val_acc"] == 0.0


def test_an_experiment_without_reports_gives_empty_curves(empty_experiment):
    grid = load_experiment(empty_experiment)
    curves = curves_frame(grid)
    trials = trials_frame(grid, curves)
    assert curves.empty and {CUM_EPOCHS, CUM_SECONDS} <= set(curves)
    assert list(trials["status"]) == ["ERROR"] and list(trials["stop_reason"]) == ["error"]
    assert trials["best_val_acc"].isna().all()
    assert "fails before its first report" in trials["error"].iloc[0]


def test_what_is_not_an_experiment_is_named(tmp_path, compare_folder):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(NotAnExperimentError, match="is not a Ray Tune experiment folder"):
        load_experiment(tmp_path)
    with pytest.raises(NotAnExperimentError, match="missing: no such folder"):
        load_experiment(tmp_path / "missing")
    with pytest.raises(NotAnExperimentError, match="is a file, not an experiment folder"):
        load_experiment(tmp_path / "notes.txt")
    with pytest.raises(NotAnExperimentError, match="compare"):
        load_experiment(compare_folder)


def test_compare_folder_frames_carry_method_and_seed(compare_folder, tmp_path):
    assert is_compare_folder(compare_folder)
    manifest, runs, trials, curves = load_compare(compare_folder)
    assert manifest["job"] == "mnist-l2" and len(runs) == 5
    assert list(runs["status"]).count("finished") == 4
    failed = runs[runs["status"] == "failed"].iloc[0]
    assert failed["seed"] == 2 and "out of memory" in failed["error"]
    assert len(trials) == 4 * TRIALS
    assert set(zip(curves["method"], curves["seed"], strict=True)) == {
        ("grid", 0),
        ("grid", 1),
        ("asha", 0),
        ("asha", 1),
    }

    # A finished run whose folder is gone is listed as unreadable, not a crash.
    broken = tmp_path / "broken"
    shutil.copytree(compare_folder, broken)
    shutil.rmtree(broken / "grid-seed1")
    _, runs, trials, _ = load_compare(broken)
    row = runs[(runs["method"] == "grid") & (runs["seed"] == 1)].iloc[0]
    assert row["status"] == "unreadable" and "no such folder" in row["error"]
    assert len(trials) == 3 * TRIALS


def test_a_bad_manifest_is_named(tmp_path):
    (tmp_path / MANIFEST_FILE).write_text(json.dumps({"runs": [{"method": "grid"}]}))
    with pytest.raises(NotAnExperimentError, match="run 0 lacks seed, path, status"):
        load_compare(tmp_path)
