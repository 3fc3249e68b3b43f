"""Ctrl-C (SIGINT) to `tune-jobs run`: exit 130, say so, print the resume command, record it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analysis.layout import RUN_FILE
from trainables.reporting import EPOCH_DELAY_ENV
from tune_jobs.errors import EXIT_INTERRUPTED

CLI = [sys.executable, "-m", "tune_jobs.cli"]
ROOT = Path(__file__).resolve().parents[2]
ONE_TRIAL = ["--set", "lr=0.05", "--set", "weight_decay=1e-4", "--set", "dropout=0.25",
             "--set", "width=64"]  # fmt: skip


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "TUNE_JOBS_"))}
    return {**env, "PYTHONPATH": str(ROOT)}


@pytest.mark.slow
def test_sigint_exits_130_and_says_how_to_resume(mnist_dir, tmp_path):
    experiment = tmp_path / "ctrl-c"
    driver = subprocess.Popen(
        [*CLI, "run", "mnist-l2", *ONE_TRIAL, "--max-epochs", "3", "--train-subset", "64",
         "--data-dir", str(mnist_dir), "--storage", str(tmp_path), "--name", "ctrl-c"],
        env={**cli_env(), EPOCH_DELAY_ENV: "4"}, cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not list(experiment.glob("*/checkpoint_000000")) and time.monotonic() < deadline:
            assert driver.poll() is None, "the run ended before it could be interrupted"
            time.sleep(0.2)
        driver.send_signal(signal.SIGINT)
        output, _ = driver.communicate(timeout=120)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert driver.returncode == EXIT_INTERRUPTED, output[-3000:]
    assert "interrupted" in output.lower()
    assert f"tune-jobs resume {experiment}" in output
    record = json.loads((experiment / RUN_FILE).read_text())
    assert record["interrupted"] and record["ended"] is None

    resumed = subprocess.run(
        [*CLI, "resume", str(experiment)], env=cli_env(), cwd=ROOT,
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    record = json.loads((experiment / RUN_FILE).read_text())
    assert record["ended"] and record["interrupted"] is None and record["resumed"]
