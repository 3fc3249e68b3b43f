"""Benchmark: every HPO method on real MNIST under one epoch budget (the grid's), over seeds.

Runs `tune-jobs compare mnist-l2 --methods all` (unless --analyse PATH is given), then prints, per
method: the median best validation accuracy over seeds, the median test accuracy of the chosen
configs, the epochs and trial-seconds each run took to come within `--within` of the grid's best
validation accuracy (median over seeds; inf if fewer than half did), and the median wall seconds
of a run. The run recorded in docs/hpo-methods.md (53 minutes per seed on 2 cores):

    .venv/bin/python benchmarks/hpo_methods.py --data-dir ../shared/data --seeds 1 \
        --train-subset 10000 --max-epochs 9 --set width=128

More seeds later: `--seeds 2 --seed 1` runs seeds 1 and 2 into a new folder, and
`--analyse FIRST SECOND` adds them up.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.compare import anytime, run_scores, time_to_target
from analysis.results import load_compare

FAST_METHODS = ("asha", "hyperband", "bohb")


def run_comparison(args: argparse.Namespace) -> Path:
    name = args.name or f"bench-hpo-methods-{time.strftime('%Y%m%d-%H%M%S')}"
    command = [
        str(Path(sys.executable).with_name("tune-jobs")), "compare", "mnist-l2",
        "--methods", args.methods, "--seeds", str(args.seeds), "--seed", str(args.seed),
        "--max-epochs", str(args.max_epochs), "--train-subset", str(args.train_subset),
        "--storage", args.storage, "--name", name,
    ]  # fmt: skip
    if args.data_dir:
        command += ["--data-dir", args.data_dir]
    for pin in args.set:
        command += ["--set", pin]
    print("$", " ".join(command), flush=True)
    started = time.time()
    subprocess.run(command, check=False)
    print(f"compare took {time.time() - started:.0f} s")
    return Path(args.storage) / name


def method_table(paths: list[Path], within: float) -> tuple[pd.DataFrame, float, float]:
    """The per-method table over one or more compare folders run with the same budget.

    A (method, seed) run again in a later folder (say, after a fix) replaces its earlier run, so
    folders that ran different seeds add up.
    """
    loaded = [load_compare(path) for path in paths]
    budgets = {float(manifest["budget_epochs"]) for manifest, *_ in loaded}
    if len(budgets) != 1:
        raise SystemExit(f"the folders were run with different epoch budgets: {sorted(budgets)}")
    owner = {}  # (method, seed) -> index of the last folder that ran it
    for index, (manifest, *_) in enumerate(loaded):
        for run in manifest["runs"]:
            key = (run["method"], int(run["seed"]))
            if owner.get(key, index) != index:
                print(f"{key[0]} seed {key[1]}: the run in {paths[index]} replaces an earlier one")
            owner[key] = index
    runs = [
        run
        for index, (manifest, *_) in enumerate(loaded)
        for run in manifest["runs"]
        if owner[(run["method"], int(run["seed"]))] == index
    ]
    manifest = {"runs": runs, "methods": [m for man, *_ in loaded for m in man["methods"]]}

    def kept(frame: pd.DataFrame, index: int) -> pd.DataFrame:
        keys = pd.MultiIndex.from_arrays([frame["method"], frame["seed"].astype(int)])
        return frame[[owner.get(key) == index for key in keys]]

    curves = pd.concat([kept(frame, i) for i, (*_, frame) in enumerate(loaded)], ignore_index=True)
    scores = run_scores(curves)
    grid_scores = scores[scores["method"] == "grid"]["score"]
    if grid_scores.empty:
        raise SystemExit("no finished grid run to measure the others against")
    grid_best = float(grid_scores.median())
    target = grid_best - within
    reach = time_to_target(anytime(curves), target).reset_index()
    walls = pd.DataFrame(
        {
            "method": [r["method"] for r in manifest["runs"]],
            "seed": [r["seed"] for r in manifest["runs"]],
            "wall_s": [r["ended"] - r["started"] for r in manifest["runs"]],
            "status": [r["status"] for r in manifest["runs"]],
        }
    )
    per_run = scores.merge(reach, on=["method", "seed"], how="outer").merge(
        walls, on=["method", "seed"], how="outer"
    )
    order = [m for m in dict.fromkeys(manifest["methods"]) if m in set(per_run["method"])]

    def median_or_inf(values: pd.Series) -> float:
        values = values.astype(float)
        return float(values.median()) if np.isfinite(values).mean() >= 0.5 else float("inf")

    table = (
        per_run.groupby("method", sort=False)
        .agg(
            seeds=("seed", "count"),
            best_val_acc=("score", "median"),
            test_acc=("test_acc", "median"),
            reached=("epochs_to_target", lambda s: f"{int(np.isfinite(s).sum())}/{len(s)}"),
            epochs_to_target=("epochs_to_target", median_or_inf),
            seconds_to_target=("seconds_to_target", median_or_inf),
            wall_s=("wall_s", "median"),
            failed=("status", lambda s: int((s != "finished").sum())),
        )
        .reindex(order)
    )
    table[["seeds", "failed"]] = table[["seeds", "failed"]].astype("Int64")
    return table, grid_best, budgets.pop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--analyse", nargs="+", help="existing compare folders (same budget): only print the table"
    )
    parser.add_argument("--data-dir")
    parser.add_argument("--storage", default="results")
    parser.add_argument("--name")
    parser.add_argument("--methods", default="all")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument("--max-epochs", type=int, default=9)
    parser.add_argument("--train-subset", type=int, default=10000)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--within", type=float, default=0.001, help="accuracy below grid's best")
    args = parser.parse_args()

    paths = [Path(p) for p in args.analyse] if args.analyse else [run_comparison(args)]
    table, grid_best, budget = method_table(paths, args.within)
    target = grid_best - args.within
    print(f"\n{', '.join(map(str, paths))}: budget {budget:.0f} epochs per run; "
          f"grid's best val_acc {grid_best:.4f}; target {target:.4f}\n")  # fmt: skip
    print(table.to_string(float_format=lambda v: f"{v:.4f}"))
    fast = table.reindex([m for m in FAST_METHODS if m in table.index])
    third = budget / 3
    winners = fast[fast["epochs_to_target"] <= third].index.tolist()
    print(
        f"\nWithin {third:.0f} epochs (a third of the grid's): "
        f"{', '.join(winners) if winners else 'none of ' + ', '.join(fast.index)}"
    )


if __name__ == "__main__":
    main()
