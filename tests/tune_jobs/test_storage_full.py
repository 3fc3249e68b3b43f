"""A full disk: the run stops with one message (no retries), stays readable, and resumes.

Results go to a tiny tmpfs (mounting needs root; the test is skipped where it is not allowed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.layout import RUN_FILE
from analysis.results import load_experiment

CLI = [sys.executable, "-m", "tune_jobs.cli"]
ROOT = Path(__file__).resolve().parents[2]
TWO_TRIALS = ["--set", "lr=0.05", "--set", "weight_decay=1e-4", "--set", "dropout=0.25"]


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs: room for the first trial's first checkpoints (~0.5 MiB each), not all."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)],
        capture_output=True, text=True,
    )  # fmt: skip
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mount.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def cli(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "TUNE_JOBS_"))}
    return subprocess.run(
        [*CLI, *args], env={**env, "PYTHONPATH": str(ROOT)}, cwd=ROOT,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def epochs_by_trial(path: Path) -> dict[str, list[int]]:
    """Trial folder -> the epochs it reported, in order (read from its result files)."""
    found = {}
    for result in load_experiment(path):
        frame = result.metrics_dataframe
        reported = frame is not None and "epoch" in frame
        found[Path(result.path).name] = [int(e) for e in frame["epoch"]] if reported else []
    return found


@pytest.mark.slow
def test_a_full_disk_stops_the_run_once_and_resume_finishes_it(small_disk, mnist_dir):
    experiment = small_disk / "full"
    run = cli(
        "run", "mnist-l2", *TWO_TRIALS, "--max-epochs", "3", "--train-subset", "64",
        "--concurrency", "1", "--max-failures", "2", "--data-dir", str(mnist_dir),
        "--storage", str(small_disk), "--name", "full",
    )  # fmt: skip
    output = run.stdout + run.stderr
    assert run.returncode == 1, output[-3000:]
    assert "storage full" in run.stderr and str(small_disk) in run.stderr
    assert "MiB free" in run.stderr and f"tune-jobs resume {experiment}" in run.stderr
    assert output.count("Trial task failed") == 1, output[-3000:]  # stopped, not retried
    assert "Unpickling" not in output and "EOFError" not in output
    record = json.loads((experiment / RUN_FILE).read_text())
    assert record["ended"] is None and "MiB free" in record["storage_full"]
    before = epochs_by_trial(experiment)  # readable as it was left
    assert sum(map(len, before.values())) < 6

    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    resumed = cli("resume", str(experiment))
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    after = epochs_by_trial(experiment)
    assert sorted(after.values()) == [[1, 2, 3], [1, 2, 3]], after  # none lost or repeated
    assert json.loads((experiment / RUN_FILE).read_text())["ended"]
