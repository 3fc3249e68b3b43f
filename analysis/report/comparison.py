"""The report section of one `tune-jobs compare` folder: runs, methods, ranks, significance."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from analysis import compare, plots, significance
from analysis.report.blocks import Block, Heading, Table, Text
from analysis.report.headline import headline_blocks, report_budgets, verdicts_at
from analysis.report.writer import Section
from analysis.results import CUM_EPOCHS, CUM_SECONDS, TIME_TOTAL, load_compare, read_manifest
from analysis.significance import Verdict


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

    @property
    def styles(self) -> dict[str, plots.Style]:
        """One colour and line style per method, the same in every figure of the section."""
        methods = [str(m) for m in self.manifest.get("methods") or []]
        methods += [str(m) for m in self.runs["method"].unique() if str(m) not in methods]
        return plots.method_styles(methods)


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
    """Blocks for a compare folder: the headline, runs, the per-method table, ranks, anytime
    curves, and which differences are significant."""
    comparison = read_comparison(path, section)
    settings = section.settings
    header = header_blocks(comparison)
    curves = comparison.curves
    if curves.empty or settings.metric not in curves or curves[settings.metric].isna().all():
        return [
            *header,
            *runs_blocks(comparison.runs),
            Text("No run of this comparison reported a result: nothing to compare."),
        ]
    history = compare.anytime(curves, settings.metric, settings.mode)
    budgets = report_budgets(history, CUM_EPOCHS, comparison.budget)
    regrets = significance.regret_at_budgets(history, budgets, CUM_EPOCHS, settings.mode)
    verdicts = verdicts_at(regrets, budgets)
    name = Path(str(path)).name
    rank_sections, ranks = rank_blocks(history, comparison, section)
    return [
        *header,
        *headline_blocks(regrets, verdicts, name, settings.metric, settings.mode),
        *runs_blocks(comparison.runs),
        *methods_blocks(comparison, section),
        *rank_sections,
        *score_blocks(comparison, ranks, section),
        *significance_blocks(regrets, verdicts, comparison, section),
    ]


def header_blocks(comparison: Comparison) -> list[Block]:
    """The folder's name, and the job, methods, seeds and budgets its manifest records (only
    those it sets)."""
    manifest, path = comparison.manifest, comparison.path
    facts = [
        f"job `{manifest.get('job')}`",
        f"methods {', '.join(str(m) for m in manifest.get('methods') or [])}",
        f"seeds {', '.join(str(s) for s in manifest.get('seeds') or [])}",
    ]
    if manifest.get("budget_epochs") is not None:
        facts.append(f"an epoch budget of {manifest['budget_epochs']} per run")
    if manifest.get("time_budget") is not None:
        facts.append(f"a time budget of {manifest['time_budget']} s per run")
    replay = manifest.get("replay")
    if replay:
        facts.append(f"replaying the curves of `{replay.get('table')}`")
    return [
        Heading(2, f"Comparison `{Path(str(path)).name}`"),
        Text(f"`{path}`: {'; '.join(facts)}; seconds from `{comparison.time_column}`."),
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
    never = table["reached"] == 0
    if never.any():  # a median of "never" is no number of epochs: say it in words
        for column in ("epochs_to_target", "seconds_to_target"):
            table[column] = table[column].astype(object).where(~never, "not reached")
    return [
        Heading(3, "Methods"),
        Text(
            f"Score of a run: its best {metric}. Median and IQM over seeds with 95% percentile-"
            f"bootstrap intervals; regret normalized between the best and worst run of any "
            f"method; time to target {used_target:.4f} as cumulative epochs and trial-seconds "
            f"(median over seeds; `reached`: the fraction of seeds that reached it; `inf`: "
            f"fewer than half did; `not reached`: no seed did)."
        ),
        Table(table),
    ]


def rank_blocks(
    history: pd.DataFrame, comparison: Comparison, section: Section
) -> tuple[list[Block], pd.DataFrame]:
    """Average ranks and anytime curves by cumulative epochs, then by trial-seconds; with the
    ranks by epochs, which the ranks figure draws."""
    blocks: list[Block] = []
    ranks = {}
    for x in (CUM_EPOCHS, CUM_SECONDS):
        total = comparison.budget if x == CUM_EPOCHS else None
        budgets = report_budgets(history, x, total)
        ranks[x] = compare.average_ranks(history, budgets, x, section.settings.mode)
        bands = compare.anytime_bands(history, x)
        fig = plots.plot_anytime(bands, x, section.settings.metric, styles=comparison.styles)
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
    styles = comparison.styles
    fig = plots.plot_final_scores(scores, summary, settings.metric, styles=styles)
    return [
        section.figure(fig, "scores.png", "Final scores"),
        section.figure(plots.plot_ranks(ranks, CUM_EPOCHS, styles), "ranks.png", "Average ranks"),
    ]


def significance_blocks(
    regrets: pd.DataFrame,
    verdicts: dict[float, Verdict | str],
    comparison: Comparison,
    section: Section,
) -> list[Block]:
    """Normalized regret at budgets (median, IQM, CIs) and the Friedman + Nemenyi verdicts."""
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
    done = [v for v in verdicts.values() if isinstance(v, Verdict)]
    blocks += [Text(v.statement().replace("At ", "At budget ", 1)) for v in done]
    failed = [v for v in verdicts.values() if isinstance(v, str)]
    if failed or not done:  # the test needs as many methods and seeds at every budget
        return [*blocks, Text(f"No significance test: {failed[0] if failed else 'no budget'}.")]
    last = done[-1]
    fig = plots.plot_critical_difference(
        last.average_ranks, last.pvalues, last.alpha, styles=comparison.styles
    )
    caption = f"Critical-difference diagram of regret at {last.budget:g} epochs"
    return [*blocks, section.figure(fig, "critical-difference.png", caption)]
