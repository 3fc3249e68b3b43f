"""Fault tolerance on a real one-node Ray cluster on 127.0.0.1: a driver killed with SIGKILL and
`tune-jobs resume`, a trial crashing mid-run (fault hook) retried from its checkpoint, and the
refusal to resume what is not an experiment.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trainables.reporting import CRASH_AT_EPOCH_ENV, EPOCH_DELAY_ENV
from tune_jobs.cluster.local import cluster_down, read_state

CLI = [sys.executable, "-m", "tune_jobs.cli"]
ROOT = Path(__file__).resolve().parents[2]
# Pins three of the grid's four dimensions: width's two grid points make two trials.
TWO_TRIALS = ["--set", "lr=0.05", "--set", "weight_decay=1e-4", "--set", "dropout=0.25"]
ONE_TRIAL = [*TWO_TRIALS, "--set", "width=64"]
CHECKPOINT = re.compile(r"checkpoint_\d{6}")


def tune_jobs(*args: str, env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    """`tune-jobs cluster up`: one head node with two CPUs, its own token and state file."""
    folder = tmp_path_factory.mktemp("head")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "TUNE_JOBS_"))}
    env.update(
        RAY_AUTH_MODE="token",
        RAY_AUTH_TOKEN_PATH=str(folder / "auth_token"),
        TUNE_JOBS_CLUSTER_STATE=str(folder / "cluster.json"),
    )
    up = tune_jobs("cluster", "up", "--num-cpus", "2", env=env)
    state = read_state(folder / "cluster.json")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield env, state.gcs_address
    finally:
        down = tune_jobs("cluster", "down", env=env)
        cluster_down(folder / "cluster.json")  # by pid, should `down` itself have failed
        assert down.returncode == 0, down.stderr


def experiment_state(path: Path) -> dict[str, bool]:
    """Trial id -> whether Tune's latest experiment snapshot records a checkpoint for it."""
    files = sorted(path.glob("experiment_state-*.json"))
    if not files:
        return {}
    try:
        snapshot = json.loads(files[-1].read_text())
    except json.JSONDecodeError:  # caught mid-write
        return {}
    return {
        json.loads(trial)["trial_id"]: bool(CHECKPOINT.search(meta))
        for trial, meta in snapshot["trial_data"]
    }


def histories(path: Path) -> dict[str, list[tuple[int, int]]]:
    """Trial id -> (epoch, iterations_since_restore) of every report, in order."""
    from analysis.results import load_experiment

    found = {}
    for result in load_experiment(path):
        assert result.error is None
        trial_id = re.search(r"_([0-9a-f]{5}_\d{5})_", Path(result.path).name).group(1)
        frame = result.metrics_dataframe  # None for a trial that never reported
        rows = [] if frame is None else frame.itertuples()
        found[trial_id] = [(int(row.epoch), int(row.iterations_since_restore)) for row in rows]
    return found


@pytest.mark.slow
def test_resume_completes_a_run_whose_driver_was_killed(head, mnist_dir, tmp_path):
    env, address = head
    experiment = tmp_path / "killed"
    driver = subprocess.Popen(
        [*CLI, "run", "mnist-l2", *TWO_TRIALS, "--max-epochs", "3", "--train-subset", "96",
         "--data-dir", str(mnist_dir), "--storage", str(tmp_path), "--name", "killed",
         "--address", address],
        env={**env, EPOCH_DELAY_ENV: "2"}, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not any(experiment_state(experiment).values()) and time.monotonic() < deadline:
            assert driver.poll() is None, "the run ended before it could be killed"
            time.sleep(0.2)
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    had_checkpoint = experiment_state(experiment)
    assert any(had_checkpoint.values())
    assert not all(len(h) == 3 for h in histories(experiment).values())  # really unfinished

    resumed = tune_jobs("resume", str(experiment), "--address", address, env=env)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "2 of 2 trials finished" in resumed.stdout

    final = histories(experiment)
    assert len(final) == 2  # every planned trial, once
    for trial_id, history in final.items():
        epochs = [epoch for epoch, _ in history]
        starts = [i for i, (_, since_restore) in enumerate(history) if since_restore == 1]
        resumed_at = starts[-1]  # the row where the trial's last (re)start reported first
        # The killed run's reports, then the resumed run's from its restore point to the end.
        # A report logged after Tune's last snapshot is redone (seen in CI: epoch 1 twice).
        assert epochs[:resumed_at] == list(range(1, resumed_at + 1)), (trial_id, history)
        assert epochs[resumed_at:] == list(range(epochs[resumed_at], 4)), (trial_id, history)
        assert epochs[resumed_at] <= resumed_at + 1, (trial_id, history)  # no epoch skipped
        if had_checkpoint.get(trial_id):  # continued from its checkpoint, not from epoch 1
            assert len(starts) == 2 and epochs[resumed_at] > 1, (trial_id, history)
    record = json.loads((experiment / "tune_jobs_run.json").read_text())
    assert record["resumed"] and record["ended"]


@pytest.mark.slow
def test_a_trial_crashing_at_epoch_2_is_retried_from_its_checkpoint(head, mnist_dir, tmp_path):
    env, address = head
    run = tune_jobs(
        "run", "mnist-l2", *ONE_TRIAL, "--max-epochs", "3", "--train-subset", "96",
        "--data-dir", str(mnist_dir), "--storage", str(tmp_path), "--name", "crash",
        "--max-failures", "1", "--address", address,
        env={**env, CRASH_AT_EPOCH_ENV: "2"},
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "InjectedFault" in run.stdout + run.stderr  # it did crash, and Tune said so
    ((trial_id, history),) = histories(tmp_path / "crash").items()
    # Epoch 1, the crash before epoch 2 was reported, then epochs 2 and 3 from the checkpoint.
    assert history == [(1, 1), (2, 1), (3, 2)], history


@pytest.mark.slow
def test_crashing_before_any_checkpoint_exhausts_max_failures(head, mnist_dir, tmp_path):
    env, address = head
    run = tune_jobs(
        "run", "mnist-l2", *ONE_TRIAL, "--max-epochs", "2", "--train-subset", "96",
        "--data-dir", str(mnist_dir), "--storage", str(tmp_path), "--name", "doomed",
        "--max-failures", "1", "--address", address,
        env={**env, CRASH_AT_EPOCH_ENV: "1"},
    )  # fmt: skip
    assert run.returncode == 1  # every attempt starts fresh and crashes: the trial errors
    assert "All 1 trials failed" in run.stderr and "InjectedFault" in run.stderr


def tree(path: Path) -> dict[str, tuple[int, float]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime) for p in sorted(path.rglob("*"))}


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ({"notes.txt": "not an experiment"}, "is not a Ray Tune experiment folder"),
        ({"tuner.pkl": "not a pickle"}, "was not started by tune-jobs"),
        (None, "is not a Ray Tune experiment folder"),
    ],
)
def test_resume_of_a_non_experiment_names_it_and_changes_nothing(layout, message, tmp_path):
    folder = tmp_path / "folder"
    if layout is not None:
        folder.mkdir()
        for name, text in layout.items():
            (folder / name).write_text(text)
    before = tree(tmp_path)
    result = tune_jobs("resume", str(folder), env=dict(os.environ), timeout=60)
    assert result.returncode == 2 and message in result.stderr and str(folder) in result.stderr
    assert tree(tmp_path) == before
