"""Benchmark: HPO methods replayed on a real grid run's recorded curves, many seeds, in minutes.

Builds a replay table from a finished MNIST `grid` experiment (unless the table exists), runs
`tune-jobs compare mnist-l2 --replay TABLE` over the methods and seeds (unless --analyse PATH is
given), then prints: replay throughput (trials and epochs per second of wall time), per method the
distribution of the replayed runs' best val_acc against the real runs' of a real compare folder
(is each real result inside the replayed range?), normalized regret at budgets and the Friedman +
Nemenyi verdict. The default table is the one kept in benchmarks/tables/ (the grid run of the
HPO-methods benchmark), so no real run is needed first:

    .venv/bin/python benchmarks/hpo_replay.py --seeds 20 [--real results/bench-hpo-seed0]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import significance
from analysis.compare import anytime, default_budgets, run_scores
from analysis.results import load_compare
from trainables.replay import REPLAY_SECONDS, read_table

METHODS = "grid,random,sha,hyperband,asha,bohb,tpe,ga,pso,pbt"


def tune_jobs(*args: str) -> None:
    command = [str(Path(sys.executable).with_name("tune-jobs")), *args]
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True)


def run_replay(args: argparse.Namespace) -> Path:
    if not Path(args.table).exists():
        tune_jobs("replay", "build", args.experiment, "--out", args.table)
    name = args.name or f"bench-hpo-replay-{time.strftime('%Y%m%d-%H%M%S')}"
    started = time.time()
    subprocess.run(
        [
            str(Path(sys.executable).with_name("tune-jobs")), "compare", "mnist-l2",
            "--replay", args.table, "--methods", args.methods, "--seeds", str(args.seeds),
            "--cpus-per-trial", str(args.cpus_per_trial), "--storage", args.storage,
            "--name", name,
            *(["--budget-epochs", str(args.budget_epochs)] if args.budget_epochs else []),
        ],
        check=False,
    )  # fmt: skip
    print(f"replayed compare took {time.time() - started:.0f} s")
    return Path(args.storage) / name


def throughput(manifest: dict) -> str:
    runs = manifest["runs"]
    wall = sum(run["ended"] - run["started"] for run in runs)
    trials = sum(run.get("trials") or 0 for run in runs)
    return (
        f"{len(runs)} runs, {trials} trials in {wall:.0f} s of runs "
        f"({trials / wall:.2f} trials/s, {wall / len(runs):.1f} s per run)"
    )


def distribution_table(
    replayed: pd.DataFrame, real: pd.DataFrame | None, table_best: float
) -> pd.DataFrame:
    """Per method: replayed best val_acc (median, 5-95% range, min-max) and the real runs'.

    The replay holds one training seed's curves and only the grid's points, so a real run can
    land above the table's best. `real_gap` sets each real run against the grid run of its own
    seed (best val_acc minus the grid's), which removes the seed's training noise; the replayed
    gap is measured from the table's best (its grid run), and `gap_inside` says whether each real
    gap lies within the replayed gaps' range.
    """
    rows = []
    grid_by_seed = {} if real is None else _grid_scores(real)
    for method, group in replayed.groupby("method", sort=False):
        values = group["score"].to_numpy(dtype=float)
        low, high = np.percentile(values, [5, 95])
        row = {
            "method": method,
            "seeds": len(values),
            "replay_median": np.median(values),
            "replay_p5": low,
            "replay_p95": high,
            "replay_min": values.min(),
            "replay_max": values.max(),
        }
        if real is not None:
            mine = real[real["method"] == method]
            row["real"] = ", ".join(f"{v:.4f}" for v in mine["score"]) or "-"
            inside = [values.min() <= v <= values.max() for v in mine["score"]]
            row["real_inside"] = f"{sum(inside)}/{len(inside)}" if inside else "-"
            gaps = values - table_best
            row["replay_gap_median"] = np.median(gaps)
            real_gaps = [
                score - grid_by_seed[seed]
                for seed, score in zip(mine["seed"], mine["score"], strict=True)
                if seed in grid_by_seed
            ]
            row["real_gap"] = ", ".join(f"{g:+.4f}" for g in real_gaps) or "-"
            inside = [gaps.min() <= g <= gaps.max() for g in real_gaps]
            row["gap_inside"] = f"{sum(inside)}/{len(inside)}" if inside else "-"
        rows.append(row)
    return pd.DataFrame(rows).set_index("method")


def _grid_scores(real: pd.DataFrame) -> dict[int, float]:
    grid = real[real["method"] == "grid"]
    return dict(zip(grid["seed"].astype(int), grid["score"].astype(float), strict=True))


def rank_agreement(replayed: pd.DataFrame, real: pd.DataFrame) -> str:
    """Spearman correlation of the methods' median best val_acc, replayed vs real."""
    from scipy.stats import spearmanr

    both = pd.concat(
        {
            "replay": replayed.groupby("method")["score"].median(),
            "real": real.groupby("method")["score"].median(),
        },
        axis=1,
    ).dropna()
    rho, p = spearmanr(both["replay"], both["real"])
    return (
        f"Methods ordered by median best val_acc, replay vs real ({len(both)} methods): "
        f"Spearman rho = {rho:.2f} (p = {p:.2g})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--analyse", nargs="+", help="replayed compare folders (seeds of one table): only print"
    )
    parser.add_argument("--experiment", default="results/bench-hpo-seed0/grid-seed0")
    parser.add_argument("--table", default="benchmarks/tables/mnist-l2-grid-w128-10k-seed0.parquet")
    parser.add_argument("--real", nargs="+", help="real compare folders to set against the replay")
    parser.add_argument("--methods", default=METHODS)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument(
        "--budget-epochs", type=int, help="epochs per run (default: the table's grid, once)"
    )
    parser.add_argument("--cpus-per-trial", type=float, default=1.0)
    parser.add_argument("--storage", default="results")
    parser.add_argument("--name")
    args = parser.parse_args()

    paths = [Path(p) for p in args.analyse] if args.analyse else [run_replay(args)]
    loaded = [load_compare(path, time_column=REPLAY_SECONDS) for path in paths]
    manifest = loaded[0][0]
    manifest = {**manifest, "runs": [run for m, *_ in loaded for run in m["runs"]]}
    runs = pd.concat([r for _, r, _, _ in loaded], ignore_index=True)
    curves = pd.concat([c for *_, c in loaded], ignore_index=True)
    path = ", ".join(str(p) for p in paths)
    table = read_table(manifest["replay"]["table"])
    best = float(table.frame.groupby("config_id")["val_acc"].max().max())
    worst = float(table.frame.groupby("config_id")["val_acc"].max().min())
    budget = float(manifest["budget_epochs"])
    print(f"\n{path}: {throughput(manifest)}")
    print(
        f"table {manifest['replay']['table']}: {manifest['replay']['configs']} configs x "
        f"{manifest['replay']['epochs']} epochs; best config's val_acc {best:.4f}, "
        f"worst {worst:.4f}"
    )
    failed = runs[runs["status"] != "finished"]
    if len(failed):
        print(f"{len(failed)} runs not finished:\n{failed.to_string()}")
    scores = run_scores(curves, budget_epochs=budget)
    real = None
    if args.real:
        parts = []
        for folder in args.real:
            real_manifest, _, _, real_curves = load_compare(folder)
            real_budget = float(real_manifest["budget_epochs"])
            parts.append(run_scores(real_curves, budget_epochs=real_budget))
        real = pd.concat(parts, ignore_index=True)
        done = sorted(set(real["method"]))
        print(f"real runs from {', '.join(args.real)}: {len(real)} runs of {', '.join(done)}")
    print("\nBest val_acc within the budget, replayed vs real:")
    print(distribution_table(scores, real, best).to_string(float_format=lambda v: f"{v:.4f}"))
    if real is not None:
        print(rank_agreement(scores, real))

    history = anytime(curves)
    budgets = default_budgets(history, total=budget)
    regrets = significance.regret_at_budgets(history, budgets, best=best, worst=worst)
    print("\nNormalized regret (0: the table's best config, 1: its worst) at budgets:")
    summary = significance.summarize_regret(regrets)
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print()
    for at in budgets:
        print(significance.friedman_verdict(regrets, at).statement())


if __name__ == "__main__":
    main()
