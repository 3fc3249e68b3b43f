"""Benchmark: the verdict on HPO methods, replayed on a recorded table at several budgets.

For each budget (default: a tenth, a quarter, half, one and three times the grid's epochs, the
table's grid points x its epochs) runs `tune-jobs compare JOB --replay TABLE --budget-epochs B
--methods M --seeds N` into OUT/budget-B/, then prints and writes per budget: throughput (trials
per second, wall time), normalized regret at B (0: the best val_acc of any recorded epoch, 1: the
worst configuration's mean final val_acc) per method with median, IQM and bootstrap 95%
intervals, the Friedman + Nemenyi verdict,
and figures (critical-difference diagram, anytime curves against epochs and simulated seconds);
and a summary parquet of every budget.

Resumable: each budget's folder holds compare folders part-1, part-2, ...; a rerun reads their
manifests and runs only the (method, seed) runs that did not finish, into the next part.
`--engine simulator` (the default) simulates the runs (`tune-jobs compare --simulate`,
tune_jobs/simulate.py); `--engine ray` runs each as a Ray Tune experiment.

    .venv/bin/python benchmarks/hpo_replay.py --table benchmarks/tables/mnist-bench-192x3.parquet \
        --methods all --seeds 50 --out results/verdict-mnist-bench
    .venv/bin/python benchmarks/hpo_replay.py --analyse-only ...   # same arguments, no runs
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from analysis import plots, significance, verdict  # noqa: E402
from analysis.compare import anytime, anytime_bands  # noqa: E402
from analysis.results import CUM_EPOCHS, CUM_SECONDS, read_manifest  # noqa: E402
from search_spaces.methods import METHODS  # noqa: E402
from trainables.replay import REPLAY_SECONDS, read_table  # noqa: E402

EXIT_INTERRUPTED = 130  # tune-jobs' status after Ctrl-C: stop, do not start the next budget


def parse_list(text: str, kind=float) -> list:
    return [kind(item) for item in text.split(",") if item.strip()]


def parts_of(folder: Path) -> list[Path]:
    """The compare folders of one budget, in the order they were run."""
    found = [p for p in folder.glob("part-*") if (p / "manifest.json").exists()]
    return sorted(found, key=lambda p: int(p.name.removeprefix("part-")))


def run_budget(
    folder: Path,
    budget: int,
    methods: list[str],
    seeds: int,
    compare_args: list[str],
    processes: int = 1,
) -> float:
    """Run the (method, seed) runs of `budget` that no part of `folder` finished; wall seconds.

    Methods missing the same seeds share one `tune-jobs compare` per consecutive range of seeds,
    split into `processes` ranges run side by side: a replayed run spends most of its seconds
    starting a Tune experiment, which a second process overlaps.
    `compare_args`: the job and its options (`--replay TABLE`, `--max-epochs`, ...).
    """
    parts = parts_of(folder)
    runs = [run for part in parts for run in read_manifest(part)["runs"]]
    missing = verdict.missing_runs(runs, methods, range(seeds))
    groups: dict[tuple[int, ...], list[str]] = {}
    for method, left in missing.items():
        groups.setdefault(tuple(left), []).append(method)
    commands, number = [], len(parts)
    for left, group in groups.items():
        for first, count in verdict.seed_ranges(left):
            for start, size in split_range(first, count, processes):
                number += 1
                commands.append([
                    str(Path(sys.executable).with_name("tune-jobs")), "compare", *compare_args,
                    "--budget-epochs", str(budget), "--methods", ",".join(group),
                    "--seed", str(start), "--seeds", str(size),
                    "--storage", str(folder), "--name", f"part-{number}",
                ])  # fmt: skip
    started = time.time()
    run_side_by_side(commands, processes, budget)
    if not missing:
        print(f"budget {budget}: every run finished already ({len(parts)} part(s))")
    return time.time() - started


def split_range(first: int, count: int, pieces: int) -> list[tuple[int, int]]:
    """(first, count) cut into at most `pieces` consecutive ranges of near-equal size."""
    pieces = max(1, min(pieces, count))
    sizes = [count // pieces + (i < count % pieces) for i in range(pieces)]
    starts = [first + sum(sizes[:i]) for i in range(pieces)]
    return list(zip(starts, sizes, strict=True))


def run_side_by_side(commands: list[list[str]], processes: int, budget: int) -> None:
    """Run `commands`, at most `processes` at a time; stop at the first interrupted one."""
    waiting, running = list(commands), []
    while waiting or running:
        while waiting and len(running) < max(1, processes):
            command = waiting.pop(0)
            print("$", " ".join(command), flush=True)
            running.append(subprocess.Popen(command, stdout=subprocess.DEVNULL))
        time.sleep(0.2)
        for process in [p for p in running if p.poll() is not None]:
            running.remove(process)
            if process.returncode == EXIT_INTERRUPTED:
                for other in running:
                    other.wait()
                raise SystemExit(f"interrupted at budget {budget}; rerun to resume")


def throughput(runs: list[dict], session_seconds: float | None) -> str:
    wall = sum(run["ended"] - run["started"] for run in runs)
    trials = sum(run.get("trials") or 0 for run in runs)
    finished = sum(run["status"] == "finished" for run in runs)
    text = (
        f"{finished}/{len(runs)} runs finished, {trials} trials in {wall:.0f} s of runs "
        f"({trials / max(wall, 1e-9):.2f} trials/s, {wall / max(len(runs), 1):.1f} s per run)"
    )
    if session_seconds:
        text += f"; this session's compare calls: {session_seconds:.0f} s of wall time"
    return text


def figures(history, result, budget: int, prefix: Path) -> list[Path]:
    """The budget's critical-difference diagram and anytime curves (epochs, simulated seconds)."""
    styles = plots.method_styles(sorted(history["method"].unique()))
    made = []
    if isinstance(result, significance.Verdict):
        title = f"Critical difference of regret at {budget} epochs (Nemenyi, alpha {result.alpha})"
        made.append(
            (
                "cd",
                plots.plot_critical_difference(
                    result.average_ranks, result.pvalues, result.alpha, title, styles
                ),
            )
        )
    for x, name in ((CUM_EPOCHS, "anytime-epochs"), (CUM_SECONDS, "anytime-seconds")):
        made.append((name, plots.plot_anytime(anytime_bands(history, x), x, styles=styles)))
    paths = []
    for name, fig in made:
        path = prefix.with_name(f"{prefix.name}-{name}.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def analyse_budget(
    folder: Path, budget: int, table, reference, prefix: Path | None, session=None
) -> pd.DataFrame:
    """Print the budget's throughput, regret table, verdict and retrained picks; return its
    summary frame."""
    parts = parts_of(folder)
    if not parts:
        print(f"\nbudget {budget}: no runs in {folder}")
        return pd.DataFrame()
    runs, curves = verdict.load_compares(parts, time_column=REPLAY_SECONDS)
    print(f"\n== budget {budget} epochs ({folder}): {throughput(runs, session)}")
    history = anytime(curves)
    best, worst = reference
    regrets = significance.regret_at_budgets(history, [budget], best=best, worst=worst)
    tested, left_out = verdict.fully_seeded(regrets)
    try:
        result = significance.friedman_verdict(tested, budget)
    except ValueError as error:
        result = f"no significance test: {error}"
    ranks = result.average_ranks if isinstance(result, significance.Verdict) else None
    retrained = verdict.retrained_picks(curves, table).groupby("method")["retrained"].median()
    summary = verdict.regret_summary(regrets, ranks)
    summary["retrained_median"] = summary["method"].map(retrained)
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(
        "retrained_median: the median over runs of the mean final val_acc over recorded seeds "
        "of the configuration each run's best report replayed (its pick, retrained)"
    )
    print(result.statement() if ranks is not None else result)
    if left_out:
        print(f"Left out of the test (fewer seeds than the others): {', '.join(left_out)}")
    if prefix is not None:
        for path in figures(history, result, budget, prefix.with_name(f"{prefix.name}-{budget}")):
            print(f"figure: {path}")
    friedman_p = result.friedman_p if ranks is not None else float("nan")
    return summary.assign(budget=budget, friedman_p=friedman_p)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job", default="mnist-bench")
    parser.add_argument("--table", default="benchmarks/tables/mnist-bench-192x3.parquet")
    parser.add_argument("--methods", default="all")
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--fractions", default="0.1,0.25,0.5,1,3", help="of the grid's epochs")
    parser.add_argument("--budgets", help="epoch budgets, comma-separated (replace --fractions)")
    parser.add_argument("--out", help="parent folder (default: results/verdict-JOB)")
    parser.add_argument("--figures", default="docs/figures", help="'' for none")
    parser.add_argument("--summary", help="parquet (default: benchmarks/tables/TABLE-verdict)")
    parser.add_argument("--cpus-per-trial", type=float, default=1.0)
    parser.add_argument(
        "--processes",
        type=int,
        default=2,
        help="simulator: compare's --workers; ray: compare processes side by side (default 2)",
    )
    parser.add_argument("--max-epochs", type=int, help="replay fewer epochs than recorded")
    parser.add_argument(
        "--replay-model",
        choices=("nearest", "surrogate"),
        help="replace the table's replay model (compare --replay-model)",
    )
    parser.add_argument(
        "--engine",
        choices=("simulator", "ray"),
        default="simulator",
        help="simulator: compare --simulate, Tune's searchers and schedulers in one process "
        "(default); ray: one Ray Tune experiment per run",
    )
    parser.add_argument("--analyse-only", action="store_true", help="run nothing, only analyse")
    args = parser.parse_args()

    methods = list(METHODS) if args.methods == "all" else parse_list(args.methods, str)
    table = read_table(args.table)
    total = verdict.grid_epochs(table) // table.epochs * (args.max_epochs or table.epochs)
    budgets = (
        parse_list(args.budgets, int)
        if args.budgets
        else verdict.budgets_of(total, parse_list(args.fractions))
    )
    reference = verdict.table_reference(table)
    out = Path(args.out or f"results/verdict-{args.job}")
    print(
        f"{args.table}: {table.sizes()}; grid's epochs {total}; budgets {budgets}; reference "
        f"val_acc best (any recorded epoch) {reference[0]:.4f}, "
        f"worst (mean final) {reference[1]:.4f}"
    )
    compare_args = [args.job, "--replay", args.table, "--cpus-per-trial", str(args.cpus_per_trial)]
    if args.max_epochs:
        compare_args += ["--max-epochs", str(args.max_epochs)]
    side_by_side = args.processes
    if args.engine == "simulator":  # one compare a seed range, its runs shared by its workers
        compare_args += ["--simulate", "--workers", str(args.processes)]
        side_by_side = 1
    if args.replay_model:
        compare_args += ["--replay-model", args.replay_model]
    sessions = {}
    if not args.analyse_only:
        for budget in budgets:
            folder = out / f"budget-{budget}"
            sessions[budget] = run_budget(
                folder, budget, methods, args.seeds, compare_args, side_by_side
            )
            print(f"budget {budget}: {sessions[budget]:.0f} s of wall time", flush=True)
    prefix = None
    if args.figures:
        Path(args.figures).mkdir(parents=True, exist_ok=True)
        prefix = Path(args.figures) / f"verdict-{args.job}"
    summaries = [
        analyse_budget(out / f"budget-{b}", b, table, reference, prefix, sessions.get(b))
        for b in budgets
    ]
    summary = pd.concat(summaries, ignore_index=True).assign(job=args.job, table=args.table)
    if prefix is not None and summary["budget"].nunique() > 1:
        fig = plots.plot_regret_by_budget(summary, styles=plots.method_styles(methods))
        path = prefix.with_name(f"{prefix.name}-regret-by-budget.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        print(f"figure: {path}")
    if summary["budget"].nunique() > 1:
        print("\nmedian regret (rank among methods) by budget:")
        print(verdict.budget_matrix(summary).to_string())
    path = Path(args.summary or f"benchmarks/tables/{Path(args.table).stem}-verdict.parquet")
    summary.to_parquet(path, index=False)
    print(f"\nsummary of {len(summary)} (method, budget) rows: {path}")


if __name__ == "__main__":
    main()
