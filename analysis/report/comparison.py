"""The report section of one `tune-jobs compare` folder: runs, methods, ranks, significance."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from analysis import compare, plots, significance
from analysis.report.blocks import Block, Heading, Table, Text
from analysis.report.writer import Section
from analysis.results import CUM_EPOCHS, CUM_SECONDS, TIME_TOTAL, load_compare, read_manifest


@dataclass(frozen=True)
class Comparison:
    """What the section reads from a compare folder, once."""

    path: str | Path
    manifest: dict[str, Any]
    runs: pd.DataFrame
    curves: pd.DataFrame
    time_column: str

    @property
    def budget(self) -> int | None:
        return self.manifest.get("budget_epochs")


def read_comparison(path: str | Path, section: Section) -> Comparison:
    """The manifest, runs and curves of the compare folder at `path`."""
    settings = section.settings
    time_column = settings.time_column
    replay = read_manifest(path).get("replay")
    if replay and time_column == TIME_TOTAL:  # a replay's seconds are its simulated clock
        time_column = replay.get("time_attr", time_column)
    manifest, runs, _, curves = load_compare(path, settings.metric, settings.mode, time_column)
    return Comparison(path, manifest, runs, curves, time_column)


def compare_section(path: str | Path, section: Section) -> list[Block]:
    """Blocks for a compare folder: runs, the per-method table, ranks, anytime curves, and
    which differences are significant."""
    comparison = read_comparison(path, section)
    blocks = [*header_blocks(comparison), *runs_blocks(comparison.runs)]
    metric = section.settings.metric
    curves = comparison.curves
    if curves.empty or metric not in curves or curves[metric].isna().all():
        return [*blocks, Text("No run of this comparison reported a result: nothing to compare.")]
    history = compare.anytime(curves, metric, section.settings.mode)
    rank_sections, ranks = rank_blocks(history, comparison.budget, section)
    return [
        *blocks,
        *methods_blocks(comparison, section),
        *rank_sections,
        *score_blocks(comparison, ranks, section),
        *significance_blocks(history, comparison.budget, section),
    ]


def header_blocks(comparison: Comparison) -> list[Block]:
    """The folder's name, and the job, methods, seeds and budgets its manifest records."""
    manifest, path = comparison.manifest, comparison.path
    return [
        Heading(2, f"Comparison `{Path(str(path)).name}`"),
        Text(
            f"`{path}`: job `{manifest.get('job')}`, methods {manifest.get('methods')}, seeds "
            f"{manifest.get('seeds')}, epoch budget {manifest.get('budget_epochs')}, time budget "
            f"{manifest.get('time_budget')}, replay {manifest.get('replay')}; seconds from "
            f"`{comparison.time_column}`."
        ),
    ]


def runs_blocks(runs: pd.DataFrame) -> list[Block]:
    """Runs, finished runs and trials per method, then every run left out of the statistics."""
    per_method = runs.groupby("method", sort=False).agg(
        runs=("seed", "size"),
        finished=("status", lambda s: int((s == "finished").sum())),
        trials=("trials", "sum"),
    )
    blocks: list[Block] = [Heading(3, "Runs"), Table(per_method.reset_index())]
    problems = runs[runs["status"] != "finished"]
    if len(problems):
        blocks += [Text("Runs left out of the statistics:"), Table(problems)]
    return blocks


def methods_blocks(comparison: Comparison, section: Section) -> list[Block]:
    """Per method: scores over seeds with intervals, regret, and time to target."""
    settings = section.settings
    metric = settings.metric
    table, used_target = compare.comparison_table(
        comparison.curves, metric, settings.mode, settings.target, comparison.budget
    )
    return [
        Heading(3, "Methods"),
        Text(
            f"Score of a run: its best {metric}. Median and IQM over seeds with 95% percentile-"
            f"bootstrap intervals; regret normalized between the best and worst run of any "
            f"method; time to target {used_target:.4f} as cumulative epochs and trial-seconds "
            f"(median over seeds, `inf`: most seeds never reached it)."
        ),
        Table(table),
    ]


def rank_blocks(
    history: pd.DataFrame, budget: int | None, section: Section
) -> tuple[list[Block], pd.DataFrame]:
    """Average ranks and anytime curves by cumulative epochs, then by trial-seconds; with the
    ranks by epochs, which the ranks figure draws."""
    blocks: list[Block] = []
    ranks = {}
    for x in (CUM_EPOCHS, CUM_SECONDS):
        total = budget if x == CUM_EPOCHS else None
        budgets = compare.default_budgets(history, x, total)
        ranks[x] = compare.average_ranks(history, budgets, x, section.settings.mode)
        bands = compare.anytime_bands(history, x)
        fig = plots.plot_anytime(bands, x, section.settings.metric)
        blocks += [
            Heading(3, f"Average rank by {x}"),
            Table(ranks[x], index=True),
            section.figure(fig, f"anytime-{x}.png", f"Anytime curves against {x}"),
        ]
    return blocks, ranks[CUM_EPOCHS]


def score_blocks(comparison: Comparison, ranks: pd.DataFrame, section: Section) -> list[Block]:
    """The final score of every run by method, and the methods' average ranks."""
    settings = section.settings
    scores = compare.run_scores(
        comparison.curves, settings.metric, settings.mode, comparison.budget
    )
    summary = compare.summarize(scores, settings.mode)
    fig = plots.plot_final_scores(scores, summary, settings.metric)
    return [
        section.figure(fig, "scores.png", "Final scores"),
        section.figure(plots.plot_ranks(ranks, CUM_EPOCHS), "ranks.png", "Average ranks"),
    ]


def significance_blocks(history: pd.DataFrame, total: int | None, section: Section) -> list[Block]:
    """Normalized regret at budgets (median, IQM, CIs) and the Friedman + Nemenyi verdict."""
    budgets = compare.default_budgets(history, CUM_EPOCHS, total)
    regrets = significance.regret_at_budgets(history, budgets, CUM_EPOCHS, section.settings.mode)
    blocks: list[Block] = [
        Heading(3, "Normalized regret at budgets"),
        Text(
            "Regret of a run at a budget of cumulative epochs: (best - its best so far) / "
            "(best - worst), best and worst over all runs; median and IQM over seeds with 95% "
            "percentile-bootstrap intervals."
        ),
        Table(significance.summarize_regret(regrets)),
        Heading(3, "Which differences are significant"),
    ]
    for budget in budgets:
        try:
            verdict = significance.friedman_verdict(regrets, budget)
        except ValueError as error:
            return [*blocks, Text(f"No significance test: {error}.")]
        blocks.append(Text(verdict.statement().replace("At ", "At budget ", 1)))
    fig = plots.plot_critical_difference(verdict.average_ranks, verdict.pvalues, verdict.alpha)
    caption = f"Critical-difference diagram of regret at {budgets[-1]:g} epochs"
    return [*blocks, section.figure(fig, "critical-difference.png", caption)]
