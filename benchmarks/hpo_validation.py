"""Benchmark: does the replayed verdict predict real runs? Real compares, then the agreement.

Runs real `tune-jobs compare JOB --methods M --seeds N --budget-epochs B` at budgets (default: a
quarter and once the grid's epochs of the table) into REAL/budget-B/part-K (resumable the way
`hpo_replay.py` is: a rerun runs only the unfinished (method, seed) runs), then, with a replayed
verdict's folder (`hpo_replay.py --out`), prints and writes per budget: Spearman's rho between the
replayed and the real order of methods by median best val_acc and by median normalized regret
(against the best recorded epoch's and the worst mean final val_acc), and the share of real
runs whose best
val_acc lies inside the replayed 5-95% interval of the same method and budget. Goals: rho >= 0.8,
coverage >= 80%.

    .venv/bin/python benchmarks/hpo_validation.py --real-out results/validation-mnist-bench
    .venv/bin/python benchmarks/hpo_validation.py \
        --analyse-only results/validation-mnist-bench results/verdict-mnist-bench

The real runs' scores are also kept as benchmarks/tables/TABLE-validation-real.parquet (results
folders are not kept between machines); `--analyse-only` takes that file in place of the folder.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from hpo_replay import parse_list, parts_of, run_budget

from analysis import verdict
from analysis.compare import run_scores
from trainables.replay import REPLAY_SECONDS, read_table

METHODS = "grid,random,asha,hyperband,bohb,tpe"
RHO_GOAL, COVERAGE_GOAL = 0.8, 0.8


def budget_scores(folder: Path, budget: int, reference, replayed: bool) -> pd.DataFrame:
    """Per (method, seed) of a budget's folder: best val_acc within the budget and its regret."""
    parts = parts_of(folder)
    if not parts:
        return pd.DataFrame(columns=["method", "seed", "score", "regret"])
    _, curves = verdict.load_compares(parts, time_column=REPLAY_SECONDS if replayed else None)
    return verdict.per_run(run_scores(curves, budget_epochs=budget), *reference)


def agreement(real: pd.DataFrame, replayed: pd.DataFrame, budget: int) -> tuple[dict, pd.DataFrame]:
    """The budget's figures (rho by score and by regret, coverage) and its per-method table."""
    medians = {
        name: frame.groupby("method")[["score", "regret"]].median()
        for name, frame in (("real", real), ("replayed", replayed))
    }
    rho_score, p_score, methods = verdict.rank_agreement(
        medians["replayed"]["score"], medians["real"]["score"]
    )
    rho_regret, p_regret, _ = verdict.rank_agreement(
        medians["replayed"]["regret"], medians["real"]["regret"]
    )
    inside = verdict.coverage(replayed, real)
    table = inside.set_index("method").join(
        pd.concat(
            {
                "real_median": medians["real"]["score"],
                "replayed_median": medians["replayed"]["score"],
            },
            axis=1,
        ),
        how="left",
    )
    figures = {
        "budget": budget,
        "methods": methods,
        "spearman_score": rho_score,
        "p_score": p_score,
        "spearman_regret": rho_regret,
        "p_regret": p_regret,
        "real_runs": int(inside["real_runs"].sum()),
        "inside": int(inside["inside"].sum()),
    }
    figures["coverage"] = figures["inside"] / max(figures["real_runs"], 1)
    return figures, table


def real_scores(real_parent: Path, budgets: list[int], reference) -> pd.DataFrame:
    """Per (budget, method, seed): the real runs' best val_acc and regret. A parquet file is
    read as such (the compact copy `main` writes, since results folders are not kept)."""
    if real_parent.suffix == ".parquet":
        return pd.read_parquet(real_parent)
    frames = [
        budget_scores(real_parent / f"budget-{budget}", budget, reference, False).assign(
            budget=budget
        )
        for budget in budgets
    ]
    return pd.concat(frames, ignore_index=True)


def analyse(real: pd.DataFrame, replay_parent: Path, budgets: list[int], reference) -> pd.DataFrame:
    rows = []
    for budget in budgets:
        measured = real[real["budget"] == budget].drop(columns="budget")
        replayed = budget_scores(replay_parent / f"budget-{budget}", budget, reference, True)
        if measured.empty or replayed.empty:
            print(f"\nbudget {budget}: no {'real' if measured.empty else 'replayed'} runs; skipped")
            continue
        figures, table = agreement(measured, replayed, budget)
        print(f"\n== budget {budget} epochs: {len(measured)} real runs, {len(replayed)} replayed")
        print(table.to_string(float_format=lambda v: f"{v:.4f}"))
        print(
            f"Spearman rho over {figures['methods']} methods, by median best val_acc "
            f"{figures['spearman_score']:.2f} (p {figures['p_score']:.2g}), by median regret "
            f"{figures['spearman_regret']:.2f} (goal >= {RHO_GOAL}); real runs inside the "
            f"replayed 5-95% interval: {figures['inside']}/{figures['real_runs']} = "
            f"{figures['coverage']:.0%} (goal >= {COVERAGE_GOAL:.0%})"
        )
        rows.append(figures)
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job", default="mnist-bench")
    parser.add_argument("--table", default="benchmarks/tables/mnist-bench-192x3.parquet")
    parser.add_argument("--methods", default=METHODS)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--fractions", default="0.25,1", help="of the grid's epochs")
    parser.add_argument("--budgets", help="epoch budgets, comma-separated (replace --fractions)")
    parser.add_argument(
        "--real-out", help="parent of the real runs (default results/validation-JOB)"
    )
    parser.add_argument("--replay", help="the replayed verdict's parent: analyse after running")
    parser.add_argument("--max-epochs", type=int, help="shorter real trials (a quick check only)")
    parser.add_argument("--data-dir")
    parser.add_argument(
        "--analyse-only", nargs=2, metavar=("REAL_PARENT", "REPLAY_PARENT"), help="run nothing"
    )
    parser.add_argument("--out", help="parquet (default: benchmarks/tables/TABLE-validation)")
    args = parser.parse_args()

    table = read_table(args.table)
    total = verdict.grid_epochs(table)
    budgets = (
        parse_list(args.budgets, int)
        if args.budgets
        else verdict.budgets_of(total, parse_list(args.fractions))
    )
    reference = verdict.table_reference(table)
    print(
        f"{args.table}: grid's epochs {total}; budgets {budgets}; reference val_acc best "
        f"(any recorded epoch) {reference[0]:.4f}, worst (mean final) {reference[1]:.4f}"
    )
    if args.analyse_only:
        real_parent, replay_parent = (Path(p) for p in args.analyse_only)
    else:
        real_parent = Path(args.real_out or f"results/validation-{args.job}")
        compare_args = [args.job]
        if args.max_epochs:
            compare_args += ["--max-epochs", str(args.max_epochs)]
        if args.data_dir:
            compare_args += ["--data-dir", args.data_dir]
        for budget in budgets:
            folder = real_parent / f"budget-{budget}"
            methods = parse_list(args.methods, str)
            seconds = run_budget(folder, budget, methods, args.seeds, compare_args)
            print(f"budget {budget}: {seconds:.0f} s of wall time", flush=True)
        if not args.replay:
            print(f"\nreal runs in {real_parent}; analyse with --analyse-only {real_parent} REPLAY")
            return
        replay_parent = Path(args.replay)
    real = real_scores(real_parent, budgets, reference)
    stem = Path(args.table).stem
    if real_parent.suffix != ".parquet":
        kept = Path(f"benchmarks/tables/{stem}-validation-real.parquet")
        real.to_parquet(kept, index=False)
        print(f"real runs' scores: {kept} (pass it as REAL_PARENT to analyse again)")
    result = analyse(real, replay_parent, budgets, reference)
    path = Path(args.out or f"benchmarks/tables/{stem}-validation.parquet")
    result.to_parquet(path, index=False)
    print(f"\nagreement per budget: {path}")


if __name__ == "__main__":
    main()
