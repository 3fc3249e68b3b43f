"""Faults against tiny real runs: epochs lost or repeated after each (docs/reliability.md).

Each scenario runs `tune-jobs` in a subprocess on a tiny synthetic MNIST (the test suite's), then
reads every trial's reported epochs from its result files: an epoch missing from 1..N is lost, an
epoch reported twice is repeated. Scenarios: the driver SIGKILLed mid-run then `resume` (on a
one-node cluster, as a driver's own local Ray dies with it), a trial crashing at epoch 2 and
retried, Ctrl-C then `resume`, a full disk (a 2 MiB tmpfs; needs root) then `resume` after it
grows, and a budget stop (is each trial's registered checkpoint its last reported epoch?).

    PYTHONPATH=. .venv/bin/python benchmarks/fault_figures.py
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from conftest import write_tiny_mnist  # noqa: E402  (the tests' tiny MNIST writer)

from analysis.results import load_experiment  # noqa: E402
from trainables.reporting import CRASH_AT_EPOCH_ENV, EPOCH_DELAY_ENV, load_checkpoint_state  # noqa: E402

CLI = [sys.executable, "-m", "tune_jobs.cli"]
EPOCHS = 3
TWO_TRIALS = ["--set", "lr=0.05", "--set", "weight_decay=1e-4", "--set", "dropout=0.25"]
ONE_TRIAL = [*TWO_TRIALS, "--set", "width=64"]


def env(**extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "TUNE_JOBS_"))}
    return {**clean, "PYTHONPATH": str(ROOT), **extra}


def cli(*args: str, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *args], env=env(**(extra or {})), cwd=ROOT, capture_output=True, text=True
    )


def run_args(data: Path, storage: Path, name: str, trials: list[str]) -> list[str]:
    return ["run", "mnist-l2", *trials, "--max-epochs", str(EPOCHS), "--train-subset", "64",
            "--concurrency", "1", "--data-dir", str(data), "--storage", str(storage),
            "--name", name]  # fmt: skip


def counts(path: Path) -> tuple[int, int, int, list[list[int]]]:
    """Trials, epochs lost (missing from 1..EPOCHS), epochs repeated, and each trial's epochs."""
    histories = []
    for result in load_experiment(path):
        frame = result.metrics_dataframe
        has = frame is not None and "epoch" in frame
        histories.append([int(e) for e in frame["epoch"]] if has else [])
    lost = sum(len(set(range(1, EPOCHS + 1)) - set(h)) for h in histories)
    repeated = sum(len(h) - len(set(h)) for h in histories)
    return len(histories), lost, repeated, histories


def interrupted_run(data: Path, storage: Path, name: str, how: signal.Signals, **extra) -> int:
    """Start a run with a 2 s pause per epoch, send `how` once a checkpoint exists; its status."""
    driver = subprocess.Popen(
        [*CLI, *run_args(data, storage, name, TWO_TRIALS), *extra.pop("more", [])],
        env=env(**{EPOCH_DELAY_ENV: "2"}, **extra), cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 180
    while not list((storage / name).glob("*/checkpoint_000000")) and time.monotonic() < deadline:
        time.sleep(0.2)
    driver.send_signal(how)
    return driver.wait()


def sigkill(data: Path, tmp: Path) -> str:
    state = tmp / "cluster.json"
    cluster_env = {"TUNE_JOBS_CLUSTER_STATE": str(state), "RAY_AUTH_MODE": "token",
                   "RAY_AUTH_TOKEN_PATH": str(tmp / "token")}  # fmt: skip
    cli("cluster", "up", "--num-cpus", "2", extra=cluster_env)
    try:
        address = json.loads(state.read_text())["gcs_address"]
        more = ["--address", address]
        status = interrupted_run(data, tmp, "killed", signal.SIGKILL, more=more, **cluster_env)
        before = counts(tmp / "killed")
        resumed = cli("resume", str(tmp / "killed"), "--address", address, extra=cluster_env)
        return report("SIGKILL driver, resume", status, before, resumed, tmp / "killed")
    finally:
        cli("cluster", "down", extra=cluster_env)


def ctrl_c(data: Path, tmp: Path) -> str:
    status = interrupted_run(data, tmp, "ctrl-c", signal.SIGINT)
    before = counts(tmp / "ctrl-c")
    resumed = cli("resume", str(tmp / "ctrl-c"))
    return report("SIGINT (Ctrl-C), resume", status, before, resumed, tmp / "ctrl-c")


def crash(data: Path, tmp: Path) -> str:
    run = cli(*run_args(data, tmp, "crash", ONE_TRIAL), "--max-failures", "1",
              extra={CRASH_AT_EPOCH_ENV: "2"})  # fmt: skip
    return report("trial crash at epoch 2, retry", run.returncode, None, None, tmp / "crash")


def full_disk(data: Path, tmp: Path) -> str:
    disk = tmp / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)])
    if mounted.returncode:
        return "| full disk (2 MiB tmpfs), resume | not run: cannot mount a tmpfs |"
    try:
        run = cli(*run_args(data, disk, "full", TWO_TRIALS))
        before = counts(disk / "full")
        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
        resumed = cli("resume", str(disk / "full"))
        return report("full disk (2 MiB tmpfs), resume", run.returncode, before, resumed,
                      disk / "full")  # fmt: skip
    finally:
        subprocess.run(["umount", "-l", str(disk)])


def budget(data: Path, tmp: Path) -> str:
    run = cli("run", "mnist-l2", "--method", "random", "--samples", "3", "--max-epochs", "3",
              "--train-subset", "64", "--concurrency", "2", "--budget-epochs", "4",
              "--data-dir", str(data), "--storage", str(tmp), "--name", "budget")  # fmt: skip
    kept = reported = trials = 0
    for result in load_experiment(tmp / "budget"):
        frame = result.metrics_dataframe
        if frame is None or "epoch" not in frame:
            continue
        reported += len(frame)
        trials += 1
        last = int(frame["epoch"].max())
        kept += (
            result.checkpoint is not None
            and load_checkpoint_state(result.checkpoint)["epoch"] == last
        )
    return (
        f"| budget stop (4 epochs, 2 at once) | exit {run.returncode}; {reported} epochs "
        f"reported; last checkpoint registered for {kept} of {trials} reporting trials |"
    )


def report(name, status, before, resumed, path: Path) -> str:
    trials, lost, repeated, histories = counts(path)
    first = "" if before is None else f"{sum(map(len, before[3]))} epochs before resume; "
    again = "" if resumed is None else f"resume exit {resumed.returncode}; "
    return (f"| {name} | exit {status}; {first}{again}{trials} trials {histories}: "
            f"{lost} epochs lost, {repeated} repeated |")  # fmt: skip


def main() -> None:
    scenarios: list[Callable[[Path, Path], str]] = [sigkill, crash, ctrl_c, full_disk, budget]
    with tempfile.TemporaryDirectory() as folder:
        data = write_tiny_mnist(Path(folder) / "data")
        for scenario in scenarios:
            tmp = Path(folder) / scenario.__name__
            tmp.mkdir()
            print(scenario(data, tmp), flush=True)


if __name__ == "__main__":
    main()
