"""Benchmark: the marginal cost of one trial of `tune-jobs run`, against a bare Tune trial.

Usage (from the project root, with the real data folder):
    TUNE_JOBS_DATA_DIR=../shared/data .venv/bin/python benchmarks/trial_overhead.py [--out t.csv]

Runs `tune-jobs run mnist-l2 --method random --samples N --max-epochs 1 --train-subset 512
--concurrency 2` for N = 4 and N = 12, each in its own process as a user would, and the floor: a
bare Ray Tune function trainable that imports torch, reports once and reuses actors, with the same
N and 2 trials at a time. The difference between the two runs, per extra trial, is the marginal
cost of a trial (Ray's start, imports and data load are paid once and cancel). It is split into
in-trial seconds (the trials' own `time_total_s`) and start-up: a trial slot's time (2 slots, so
2 x wall difference / extra trials) minus the in-trial time. (The floor's wall is its `fit` alone.)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SLOTS = 2  # trials at a time


def floor_experiment(trials: int, storage: str) -> tuple[float, list[float]]:
    """The floor, in this process: the fit's wall seconds and its trials' `time_total_s`.

    Only the fit is timed: Ray's start is a fixed cost (it cancels) whose noise on a loaded
    machine is larger than the marginal cost of a bare trial.
    """
    import ray
    from ray import tune

    def bare_trial(config):
        import torch  # noqa: F401 - the import a real trial pays

        tune.report({"done": 1})

    ray.init(num_cpus=SLOTS, include_dashboard=False, logging_level="ERROR")
    tuner = tune.Tuner(
        tune.with_resources(bare_trial, {"cpu": 1}),
        tune_config=tune.TuneConfig(
            num_samples=trials, max_concurrent_trials=SLOTS, reuse_actors=True
        ),
        run_config=tune.RunConfig(storage_path=storage, name="floor", verbose=0),
    )
    started = time.perf_counter()
    results = tuner.fit()
    wall = time.perf_counter() - started
    return wall, [float(result.metrics["time_total_s"]) for result in results]


def timed(argv: list[str]) -> float:
    """Wall seconds of a child process running `argv` (which must succeed)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return wall


def cli_run(trials: int, storage: str, name: str) -> tuple[float, list[float]]:
    """`tune-jobs run` with `trials` trials: wall seconds, and each trial's `time_total_s`."""
    from analysis.results import load_experiment

    argv = [sys.executable, "-m", "tune_jobs.cli", "run", "mnist-l2", "--method", "random",
            "--samples", str(trials), "--max-epochs", "1", "--train-subset", "512",
            "--concurrency", str(SLOTS), "--storage", storage, "--name", name]  # fmt: skip
    wall = timed(argv)
    results = load_experiment(str(Path(storage) / name))
    return wall, [float(result.metrics["time_total_s"]) for result in results]


def floor_run(trials: int, storage: str) -> tuple[float, list[float]]:
    out = Path(storage) / f"floor-{trials}.json"
    timed([sys.executable, __file__, "--floor", str(trials), "--storage", str(out)])
    wall, times = json.loads(out.read_text())
    return wall, times


def marginal(what: str, small: tuple[float, list[float]], large: tuple[float, list[float]]):
    """One table row: the two runs and the cost of each extra trial."""
    extra = len(large[1]) - len(small[1])
    slot = SLOTS * (large[0] - small[0]) / extra
    in_trial = (sum(large[1]) - sum(small[1])) / extra
    return {
        "what": what,
        f"wall_s_{len(small[1])}": round(small[0], 2),
        f"wall_s_{len(large[1])}": round(large[0], 2),
        "slot_s_per_trial": round(slot, 2),
        "in_trial_s": round(in_trial, 2),
        "start_up_s": round(slot - in_trial, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, nargs=2, default=(4, 12), metavar=("FEW", "MANY"))
    parser.add_argument("--out", help="write the table here (.csv or .parquet)")
    parser.add_argument("--floor", type=int, help=argparse.SUPPRESS)  # the floor's own process
    parser.add_argument("--storage", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor:
        with tempfile.TemporaryDirectory() as storage:
            Path(args.storage).write_text(json.dumps(floor_experiment(args.floor, storage)))
        return
    if not os.environ.get("TUNE_JOBS_DATA_DIR"):
        sys.exit("set TUNE_JOBS_DATA_DIR to the real data (e.g. ../shared/data)")
    few, many = args.trials
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as storage:
        rows = [
            marginal("tune-jobs run", cli_run(few, storage, "few"), cli_run(many, storage, "many")),
            marginal("floor", floor_run(few, storage), floor_run(many, storage)),
        ]
    table = pd.DataFrame(rows).set_index("what")
    table["start_up_vs_floor"] = (table["start_up_s"] / table.loc["floor", "start_up_s"]).round(2)
    print(f"\n== marginal cost of a trial, {SLOTS} at a time ({few} vs {many} trials)")
    print(table.to_string())
    if args.out:
        write = table.to_parquet if args.out.endswith(".parquet") else table.to_csv
        write(args.out)
        print(f"written: {args.out}")


if __name__ == "__main__":
    main()
