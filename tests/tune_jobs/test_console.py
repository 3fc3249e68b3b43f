"""What a person sees: the live table's columns, next steps, budget-skipped trials, the durable
TensorBoard folder, progress across runs, and which cluster `jobs` asks."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest

from analysis.results import NOT_STARTED, load_experiment, trials_frame
from tune_jobs.cli import main
from tune_jobs.cluster.address import dashboard_address
from tune_jobs.cluster.local import LocalCluster
from tune_jobs.compare import format_summary
from tune_jobs.console import (
    METRIC_COLUMNS,
    Progress,
    clock,
    durable_logdir,
    prepare_console,
    report_command,
    tensorboard_hint,
)
from tune_jobs.errors import ClusterError


def test_the_table_shows_epoch_val_acc_and_test_acc():
    assert list(METRIC_COLUMNS)[:3] == ["epoch", "val_acc", "test_acc"]


def test_ray_logdir_line_names_the_durable_folder():
    table = "== Status ==\nResult logdir: /tmp/ray/session_1/artifacts/x/driver_artifacts\n+--+"
    shown = durable_logdir(table, "/results/exp")
    assert "Result logdir: /results/exp\n" in shown and "/tmp/ray" not in shown
    assert tensorboard_hint("/results/exp") == "TensorBoard: tensorboard --logdir /results/exp"


def test_report_command_names_the_folder_and_a_local_out():
    assert report_command("/r/exp") == "tune-jobs report /r/exp --out /r/exp-report"
    assert report_command("s3://b/r/exp/") == "tune-jobs report s3://b/r/exp/ --out exp-report"


def test_progress_line_counts_runs_and_estimates_what_is_left():
    progress = Progress(4, now=0.0)
    assert progress.line(1, "grid seed 0", now=0.0) == "== [1/4] grid seed 0 | elapsed 0:00:00"
    line = progress.line(3, "asha seed 0", now=120.0)  # two runs took 60 s each
    assert line == "== [3/4] asha seed 0 | elapsed 0:02:00 | about 0:02:00 left"
    progress.skipped = 1  # a finished study stage took no time: not in the estimate
    assert progress.line(3, "x", now=120.0).endswith("about 0:04:00 left")
    assert clock(3725.4) == "1:02:05"


def test_missing_metrics_warning_of_unstarted_trials_is_dropped_others_kept(caplog):
    prepare_console()
    logger = logging.getLogger("ray.tune.analysis.experiment_analysis")
    missing = (
        "Failed to fetch metrics for 2 trial(s):\n"
        "- a: FileNotFoundError('x')\n- b: FileNotFoundError('y')"
    )
    broken = "Failed to fetch metrics for 1 trial(s):\n- c: JSONDecodeError('bad')"
    with caplog.at_level(logging.WARNING, logger=logger.name):
        logger.warning(missing)
        logger.warning(broken)
    assert [record.getMessage() for record in caplog.records] == [broken]


def test_method_summary_formats_medians_and_unreached_targets():
    table = pd.DataFrame(
        {
            "runs": [2, 2],
            "trained": [5, 3],
            "best val_acc (median)": [0.91234, np.nan],
            "epochs to target (median)": [6.0, np.inf],
        },
        index=pd.Index(["asha", "grid"], name="method"),
    )
    text = format_summary(table, 0.9, "val_acc")
    grid = next(line for line in text.splitlines() if line.startswith("grid"))
    assert grid.split() == ["grid", "2", "3", "-", "not", "reached"]
    assert "0.9123" in text
    assert "Target val_acc: 0.9000" in text and "trained" in text


def test_jobs_without_any_address_say_so(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("RAY_API_SERVER_ADDRESS", raising=False)
    monkeypatch.setenv("TUNE_JOBS_CLUSTER_STATE", str(tmp_path / "none.json"))
    with pytest.raises(ClusterError, match="no cluster address"):
        dashboard_address(None)
    for args in (["list"], ["status", "raysubmit_1"], ["logs", "raysubmit_1"]):
        assert main(["jobs", *args]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "no cluster address" in err and "8265" in err


def test_jobs_say_which_address_they_used(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RAY_API_SERVER_ADDRESS", "127.0.0.1:9")  # nothing listens on discard
    assert dashboard_address(None) == ("http://127.0.0.1:9", "$RAY_API_SERVER_ADDRESS")
    assert main(["jobs", "list"]) == 2  # unreachable, but named first
    assert "Cluster: http://127.0.0.1:9 (from $RAY_API_SERVER_ADDRESS)" in capsys.readouterr().err
    monkeypatch.delenv("RAY_API_SERVER_ADDRESS")
    state = tmp_path / "cluster.json"
    monkeypatch.setenv("TUNE_JOBS_CLUSTER_STATE", str(state))
    cluster = LocalCluster("127.0.0.1:8", "http://127.0.0.1:9", str(tmp_path), None)
    state.write_text(json.dumps(asdict(cluster)))
    url, source = dashboard_address(None)
    assert url == "http://127.0.0.1:9" and str(state) in source
    assert dashboard_address("10.0.0.1:8265") == ("http://10.0.0.1:8265", "--address")


@pytest.mark.slow
def test_a_budgeted_run_shows_val_acc_unstarted_trials_and_its_next_step(
    ray_local, mnist_dir, tmp_path, capsys
):
    code = main(
        [
            "run", "mnist-l2", "--method", "grid", "--max-epochs", "1", "--budget-epochs", "2",
            "--train-subset", "64", "--data-dir", str(mnist_dir), "--storage", str(tmp_path),
            "--name", "b", "--cpus-per-trial", "2",
        ]
    )  # fmt: skip
    # One trial at a time: with two, a third could report while the budget waited for a save.
    captured = capsys.readouterr()
    out, folder = captured.out, tmp_path / "b"
    assert code == 0, out + captured.err
    # The closing table's header (Ray leaves out metric columns until a trial reports).
    header = [line for line in out.splitlines() if line.startswith("| Trial name")][-1]
    assert all(f" {column} " in header for column in ("epoch", "val_acc", "test_acc"))
    logdirs = {line for line in out.splitlines() if line.startswith("Result logdir:")}
    assert logdirs == {f"Result logdir: {folder}"}
    assert f"TensorBoard: tensorboard --logdir {folder}" in out
    assert f"trials {NOT_STARTED}: " in out and f"14 {NOT_STARTED}" in out
    assert f"Next:    tune-jobs report {folder} --out {folder}-report" in out
    assert "Failed to fetch metrics" not in out + captured.err
    trials = trials_frame(load_experiment(str(folder)))
    assert (trials["stop_reason"] == NOT_STARTED).sum() == 14
    assert main(["report", str(folder), "--out", str(tmp_path / "report")]) == 0
    captured = capsys.readouterr()
    assert "Failed to fetch metrics" not in captured.out + captured.err
    assert NOT_STARTED in (tmp_path / "report" / "report.md").read_text()
