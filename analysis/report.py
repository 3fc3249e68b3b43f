"""`report.md` and `report.html` for experiment folders and compare folders, with their figures.

A report is a list of blocks (headings, text, tables, figures) rendered twice, as Markdown and as a
self-contained HTML page beside it; figures are PNG files in the same folder.
"""

from __future__ import annotations

import html
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from analysis import compare, plots, significance
from analysis.optuna_export import parameter_importance, plain_value
from analysis.results import (
    CONFIG_PREFIX,
    CUM_EPOCHS,
    CUM_SECONDS,
    MANIFEST_FILE,
    TIME_TOTAL,
    config_columns,
    curves_frame,
    list_folder,
    load_compare,
    load_experiment,
    read_manifest,
    read_run_info,
    trials_frame,
)
from trainables import metrics

TOP_CURVES = 6  # trials drawn in an experiment's training-curve figure


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Table:
    frame: pd.DataFrame
    index: bool = False


@dataclass(frozen=True)
class Image:
    file: str
    caption: str


Block = Heading | Text | Table | Image


def report_kind(path: str | Path) -> str:
    """'compare' or 'experiment'; NotAnExperimentError naming the path for anything else."""
    names = list_folder(path)[2]
    if MANIFEST_FILE in names:
        return "compare"
    if any(n.startswith("experiment_state") and n.endswith(".json") for n in names):
        return "experiment"
    load_experiment(path)  # raises the full message
    return "experiment"


def write_report(
    paths: list[str | Path],
    out: str | Path,
    metric: str = metrics.METRIC,
    mode: str = metrics.MODE,
    time_column: str = TIME_TOTAL,
    target: float | None = None,
) -> list[Path]:
    """Write `out/report.md`, `out/report.html` and the figures; the files written.

    Every path is checked before anything is written.
    """
    kinds = [report_kind(path) for path in paths]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    blocks: list[Block] = [
        Heading(1, "Tune experiments report"),
        Text(
            f"Generated {time.strftime('%Y-%m-%d %H:%M:%S')}; selection metric `{metric}` "
            f"({mode}); the test set never chooses anything."
        ),
    ]
    for number, (path, kind) in enumerate(zip(paths, kinds, strict=True), start=1):
        prefix = f"{number:02d}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', Path(str(path)).name)}"
        section = compare_section if kind == "compare" else experiment_section
        blocks += section(path, out, prefix, metric, mode, time_column, target, written)
    (out / "report.md").write_text(render_markdown(blocks))
    (out / "report.html").write_text(render_html(blocks, "Tune experiments report"))
    return [out / "report.md", out / "report.html", *written]


def _save(fig: plt.Figure, out: Path, name: str, written: list[Path]) -> str:
    fig.savefig(out / name, dpi=110)
    plt.close(fig)
    written.append(out / name)
    return name


def _shown(trials: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The trials table of the report: outcome columns, then the varying hyperparameters."""
    outcome = [
        "trial_id",
        "status",
        "stop_reason",
        "epochs",
        f"best_{metric}",
        "best_epoch",
        f"final_{metric}",
        f"{metrics.TEST_ACC}_at_best",
        "seconds",
    ]
    columns = [c for c in outcome if c in trials] + config_columns(trials, varying=True)
    if "error" in trials and trials["error"].notna().any():
        columns.append("error")
    return trials[columns].rename(columns=lambda c: c.removeprefix(CONFIG_PREFIX))


def experiment_section(path, out, prefix, metric, mode, time_column, target, written):
    """Blocks for one experiment: summary, every trial, curves, configurations, importance."""
    grid = load_experiment(path)
    curves = curves_frame(grid, time_column)
    trials = trials_frame(grid, curves, metric, mode, time_column)
    info = read_run_info(grid)
    blocks: list[Block] = [Heading(2, f"Experiment `{Path(str(path)).name}`"), Text(f"`{path}`")]
    if info:
        took = info.get("ended", 0) - info.get("started", 0)
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(info.get("started", 0)))
        blocks.append(
            Text(
                f"Job `{info.get('job')}`, method `{info.get('method')}`, started "
                f"{started}, took {took:.0f} s."
            )
        )
    if trials.empty:
        return [*blocks, Text("This experiment has no trials.")]
    counts = trials["stop_reason"].value_counts()
    blocks.append(
        Text(
            f"{len(trials)} trials: "
            + ", ".join(f"{n} {r}" for r, n in counts.items())
            + f"; {len(curves)} epochs reported in all."
        )
    )
    best_column = f"best_{metric}"
    if trials[best_column].isna().all():
        blocks.append(Text("No trial of this experiment reported a result: nothing to compare."))
        return [*blocks, Table(_shown(trials, metric))]
    ascending = mode == "min"
    ranked = trials.sort_values(best_column, ascending=ascending, na_position="last")
    best = ranked.iloc[0]
    config = {c.removeprefix(CONFIG_PREFIX): plain_value(best[c]) for c in config_columns(trials)}
    blocks += [
        Heading(3, "Best trial"),
        Text(
            f"`{best['trial_id']}`: {metric} = {best[best_column]:.4f} at epoch "
            f"{best['best_epoch']:.0f}; test accuracy at that epoch "
            f"{best[f'{metrics.TEST_ACC}_at_best']:.4f}. Config: `{config}`."
        ),
        Heading(3, "Trials"),
        Text(f"Every trial, best {metric} first."),
        Table(_shown(ranked, metric)),
    ]
    top = list(ranked["trial_id"].head(TOP_CURVES))
    fig = plots.plot_training_curves(curves, trials, top, title=f"Training curves, top {len(top)}")
    blocks.append(
        Image(
            _save(fig, out, f"{prefix}-curves.png", written),
            f"Training cost and {metric} by epoch, best {len(top)} trials",
        )
    )
    scored = trials[trials[best_column].notna()]
    if len(scored) >= 2 and config_columns(trials, varying=True):
        fig = plots.plot_parallel_coordinates(trials, metric)
        blocks.append(
            Image(
                _save(fig, out, f"{prefix}-parallel.png", written),
                "Configurations against best score",
            )
        )
    importance = parameter_importance(trials, metric, mode)
    if not importance.empty:
        blocks += [Heading(3, "Hyperparameter importance (fANOVA, Optuna)"), Table(importance)]
        fig = plots.plot_importance(importance)
        blocks.append(
            Image(_save(fig, out, f"{prefix}-importance.png", written), "Hyperparameter importance")
        )
    return blocks


def compare_section(path, out, prefix, metric, mode, time_column, target, written):
    """Blocks for a compare folder: runs, the per-method table, ranks, anytime curves, and
    which differences are significant."""
    replay = read_manifest(path).get("replay")
    if replay and time_column == TIME_TOTAL:  # a replay's seconds are its simulated clock
        time_column = replay.get("time_attr", time_column)
    manifest, runs, _, curves = load_compare(path, metric, mode, time_column)
    blocks: list[Block] = [
        Heading(2, f"Comparison `{Path(str(path)).name}`"),
        Text(
            f"`{path}`: job `{manifest.get('job')}`, methods {manifest.get('methods')}, seeds "
            f"{manifest.get('seeds')}, epoch budget {manifest.get('budget_epochs')}, time budget "
            f"{manifest.get('time_budget')}, replay {manifest.get('replay')}; seconds from "
            f"`{time_column}`."
        ),
    ]
    per_method = runs.groupby("method", sort=False).agg(
        runs=("seed", "size"),
        finished=("status", lambda s: int((s == "finished").sum())),
        trials=("trials", "sum"),
    )
    blocks += [Heading(3, "Runs"), Table(per_method.reset_index())]
    problems = runs[runs["status"] != "finished"]
    if len(problems):
        blocks += [Text("Runs left out of the statistics:"), Table(problems)]
    if curves.empty or metric not in curves or curves[metric].isna().all():
        return [*blocks, Text("No run of this comparison reported a result: nothing to compare.")]
    budget = manifest.get("budget_epochs")
    table, used_target = compare.comparison_table(curves, metric, mode, target, budget)
    history = compare.anytime(curves, metric, mode)
    blocks += [
        Heading(3, "Methods"),
        Text(
            f"Score of a run: its best {metric}. Median and IQM over seeds with 95% percentile-"
            f"bootstrap intervals; regret normalized between the best and worst run of any "
            f"method; time to target {used_target:.4f} as cumulative epochs and trial-seconds "
            f"(median over seeds, `inf`: most seeds never reached it)."
        ),
        Table(table),
    ]
    ranks = {}
    for x in (CUM_EPOCHS, CUM_SECONDS):
        total = budget if x == CUM_EPOCHS else None
        budgets = compare.default_budgets(history, x, total)
        ranks[x] = compare.average_ranks(history, budgets, x, mode)
        blocks += [Heading(3, f"Average rank by {x}"), Table(ranks[x], index=True)]
        bands = compare.anytime_bands(history, x)
        blocks.append(
            Image(
                _save(
                    plots.plot_anytime(bands, x, metric), out, f"{prefix}-anytime-{x}.png", written
                ),
                f"Anytime curves against {x}",
            )
        )
    scores = compare.run_scores(curves, metric, mode, budget)
    summary = compare.summarize(scores, mode)
    fig = plots.plot_final_scores(scores, summary, metric)
    blocks.append(Image(_save(fig, out, f"{prefix}-scores.png", written), "Final scores"))
    fig = plots.plot_ranks(ranks[CUM_EPOCHS], CUM_EPOCHS)
    blocks.append(Image(_save(fig, out, f"{prefix}-ranks.png", written), "Average ranks"))
    return blocks + significance_blocks(history, budget, mode, out, prefix, written)


def significance_blocks(history, total, mode, out, prefix, written) -> list[Block]:
    """Normalized regret at budgets (median, IQM, CIs) and the Friedman + Nemenyi verdict."""
    budgets = compare.default_budgets(history, CUM_EPOCHS, total)
    regrets = significance.regret_at_budgets(history, budgets, CUM_EPOCHS, mode)
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
    name = _save(fig, out, f"{prefix}-critical-difference.png", written)
    return [
        *blocks,
        Image(name, f"Critical-difference diagram of regret at {budgets[-1]:g} epochs"),
    ]


def _cell(value) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return "inf" if math.isinf(value) else f"{value:.4g}"
    return "" if value is None else str(value)


def render_markdown(blocks: list[Block]) -> str:
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            lines += ["#" * block.level + " " + block.text, ""]
        elif isinstance(block, Text):
            lines += [block.text, ""]
        elif isinstance(block, Image):
            lines += [f"![{block.caption}]({block.file})", ""]
        else:
            frame = block.frame.reset_index() if block.index else block.frame
            lines.append("| " + " | ".join(str(c) for c in frame.columns) + " |")
            lines.append("|" + " --- |" * len(frame.columns))
            for row in frame.itertuples(index=False):
                cells = (_cell(v).replace("|", "\\|").replace("\n", " ") for v in row)
                lines.append("| " + " | ".join(cells) + " |")
            lines.append("")
    return "\n".join(lines)


def _inline(text: str) -> str:
    return re.sub(r"`([^`]*)`", r"<code>\1</code>", html.escape(text))


def render_html(blocks: list[Block], title: str) -> str:
    style = (
        "body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;font-size:13px;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}"
        "img{max-width:100%}"
    )
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title><style>{style}</style></head><body>"
    ]
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"<h{block.level}>{_inline(block.text)}</h{block.level}>")
        elif isinstance(block, Text):
            parts.append(f"<p>{_inline(block.text)}</p>")
        elif isinstance(block, Image):
            caption = html.escape(block.caption)
            parts.append(
                f"<figure><img src='{html.escape(block.file)}' alt='{caption}'>"
                f"<figcaption>{caption}</figcaption></figure>"
            )
        else:
            frame = block.frame.reset_index() if block.index else block.frame
            parts.append(frame.map(_cell).to_html(index=False, escape=True))
    return "\n".join([*parts, "</body></html>"])
