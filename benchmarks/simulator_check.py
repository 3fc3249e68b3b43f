"""Benchmark: does the simulator give Ray Tune's verdict? The same replayed comparison both ways.

Reads two parents written by `hpo_replay.py` with the same table, budgets, methods and seeds,
one with `--engine ray` (each run a Ray Tune experiment) and one with `--engine simulator`, and
prints per budget and method: the median best val_acc and regret of each engine, the
Mann-Whitney p-value of the two engines' runs (a small p: they differ), the share of Ray runs
inside the simulator's 5-95% interval, and Spearman's rho between the two orders of methods.
The runs of one seed are not expected to match one for one: Ray's engine orders the reports of
concurrent trials by wall-clock noise, the simulator by their recorded seconds.

    .venv/bin/python benchmarks/hpo_replay.py --engine ray --budgets 58 --seeds 10 \
        --out results/engine-check --figures '' --summary /tmp/engine-check.parquet
    .venv/bin/python benchmarks/hpo_replay.py --engine simulator --budgets 58 --seeds 10 \
        --out results/sim-check --figures '' --summary /tmp/sim-check.parquet
    .venv/bin/python benchmarks/simulator_check.py results/engine-check results/sim-check \
        --budgets 58
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from hpo_replay import parse_list
from hpo_validation import agreement, budget_scores
from scipy import stats

from analysis import verdict
from trainables.replay import read_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ray_parent", type=Path)
    parser.add_argument("simulated_parent", type=Path)
    parser.add_argument("--budgets", required=True, help="comma-separated epoch budgets")
    parser.add_argument("--table", default="benchmarks/tables/mnist-bench-192x3.parquet")
    parser.add_argument("--out", help="parquet of the per-method rows (default: none)")
    args = parser.parse_args()

    reference = verdict.table_reference(read_table(args.table))
    rows = []
    for budget in parse_list(args.budgets, int):
        folder = f"budget-{budget}"
        ray = budget_scores(args.ray_parent / folder, budget, reference, replayed=True)
        simulated = budget_scores(args.simulated_parent / folder, budget, reference, True)
        figures, table = agreement(ray, simulated, budget)
        for method, mine in ray.groupby("method"):
            theirs = simulated.loc[simulated["method"] == method, "regret"]
            table.loc[method, "mann_whitney_p"] = (
                stats.mannwhitneyu(mine["regret"], theirs).pvalue if len(theirs) else float("nan")
            )
        table = table.rename(columns=lambda c: c.replace("real", "ray").replace("replayed", "sim"))
        print(f"\n== budget {budget}: Ray engine ({len(ray)} runs) vs simulator ({len(simulated)})")
        print(table.to_string(float_format=lambda v: f"{v:.4f}"))
        print(
            f"rho (median score) {figures['spearman_score']:.2f}, (median regret) "
            f"{figures['spearman_regret']:.2f}; Ray runs inside the simulator's 5-95% interval: "
            f"{figures['inside']}/{figures['real_runs']}; methods whose engines differ at "
            f"p < 0.05 (Mann-Whitney): {int((table['mann_whitney_p'] < 0.05).sum())} of "
            f"{len(table)}"
        )
        figures.pop("budget")
        rows.append(table.reset_index().assign(budget=budget, **figures))
    if args.out:
        pd.concat(rows, ignore_index=True).to_parquet(args.out, index=False)
        print(f"\nwritten: {args.out}")


if __name__ == "__main__":
    main()
