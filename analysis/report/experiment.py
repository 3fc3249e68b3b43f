"""The report section of one experiment folder: summary, best trial, every trial, figures."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd

from analysis import plots
from analysis.optuna_export import parameter_importance, plain_value
from analysis.report.blocks import Block, Heading, Summary, Table, Text
from analysis.report.writer import Section
from analysis.results import (
    CONFIG_PREFIX,
    config_columns,
    curves_frame,
    load_experiment,
    read_run_info,
    trials_frame,
)
from trainables import metrics

TOP_CURVES = 6  # trials drawn in an experiment's training-curve figure
FANOVA_TRIALS = 10  # below this many scored trials, fANOVA's forest has too little to fit


def experiment_section(path: str | Path, section: Section) -> list[Block]:
    """Blocks for one experiment: summary, every trial, curves, configurations, importance."""
    settings = section.settings
    grid = load_experiment(path)
    curves = curves_frame(grid, settings.time_column)
    trials = trials_frame(grid, curves, settings.metric, settings.mode, settings.time_column)
    blocks: list[Block] = [
        Heading(2, f"Experiment `{Path(str(path)).name}`"),
        Text(f"`{path}`"),
        *run_info_blocks(read_run_info(grid), path, len(curves)),
    ]
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
    if trials[f"best_{settings.metric}"].isna().all():
        blocks.append(Text("No trial of this experiment reported a result: nothing to compare."))
        return [*blocks, Table(shown_trials(trials, settings.metric))]
    return [
        *blocks,
        summary(path, trials, section),
        *trial_blocks(trials, section),
        *curve_blocks(trials, curves, section, read_run_info(grid)),
        *importance_blocks(trials, section),
    ]


def run_info_blocks(info: dict[str, Any], path: str | Path = "", epochs: int = 0) -> list[Block]:
    """Job, method, start and duration from the run file (nothing without one), and a line
    when the run did not end by itself: interrupted, killed (no end recorded), or budget-stopped.
    """
    if not info:
        return []
    started_at, ended_at = info.get("started") or 0, info.get("ended")
    started = time.strftime("%Y-%m-%d %H:%M", time.localtime(started_at))
    took = "" if ended_at is None else f", took {ended_at - started_at:.0f} s"
    blocks: list[Block] = [
        Text(f"Job `{info.get('job')}`, method `{info.get('method')}`, started {started}{took}.")
    ]
    reported = "the tables show the epochs it reported"
    if info.get("storage_full"):
        blocks.append(
            Text(
                f"This run stopped because its storage was full ({info['storage_full']}); "
                f"{reported}. Free space, then continue it with `tune-jobs resume {path}`."
            )
        )
    elif info.get("interrupted"):
        after = info["interrupted"] - started_at
        blocks.append(
            Text(
                f"This run was interrupted after {after:.0f} s and has not finished: {reported}; "
                f"continue it with `tune-jobs resume {path}`."
            )
        )
    elif ended_at is None:
        blocks.append(
            Text(
                "This run has not ended: its driver was killed (or a disk filled) or it is "
                f"still running; {reported} so far. Continue a stopped run with "
                f"`tune-jobs resume {path}`."
            )
        )
    budget = (info.get("options") or {}).get("budget_epochs")
    if budget and epochs >= budget:
        blocks.append(
            Text(f"Its epoch budget of {budget} epochs stopped it ({epochs} epochs reported).")
        )
    return blocks


def shown_trials(trials: pd.DataFrame, metric: str) -> pd.DataFrame:
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


def _ranked(trials: pd.DataFrame, section: Section) -> pd.DataFrame:
    """The trials, best score first (trials without one last)."""
    ascending = section.settings.mode == "min"
    column = f"best_{section.settings.metric}"
    return trials.sort_values(column, ascending=ascending, na_position="last")


def summary(path: str | Path, trials: pd.DataFrame, section: Section) -> Summary:
    """The experiment's line in the report's summary box: its best trial and score."""
    metric = section.settings.metric
    best = _ranked(trials, section).iloc[0]
    return Summary(
        (
            f"Experiment `{Path(str(path)).name}`: best {metric} {best[f'best_{metric}']:.4f} "
            f"(trial `{best['trial_id']}`, epoch {best['best_epoch']:.0f}; test accuracy there "
            f"{best[f'{metrics.TEST_ACC}_at_best']:.4f}) of {len(trials)} trials.",
        )
    )


def trial_blocks(trials: pd.DataFrame, section: Section) -> list[Block]:
    """The best trial with its configuration, then every trial, best first."""
    metric = section.settings.metric
    ranked = _ranked(trials, section)
    best = ranked.iloc[0]
    config = {c.removeprefix(CONFIG_PREFIX): plain_value(best[c]) for c in config_columns(trials)}
    return [
        Heading(3, "Best trial"),
        Text(
            f"`{best['trial_id']}`: {metric} = {best[f'best_{metric}']:.4f} at epoch "
            f"{best['best_epoch']:.0f}; test accuracy at that epoch "
            f"{best[f'{metrics.TEST_ACC}_at_best']:.4f}. Config: `{config}`."
        ),
        Heading(3, "Trials"),
        Text(f"Every trial, best {metric} first."),
        Table(shown_trials(ranked, metric)),
    ]


def curve_blocks(
    trials: pd.DataFrame, curves: pd.DataFrame, section: Section, info: dict[str, Any]
) -> list[Block]:
    """Training curves of the best trials; configurations against score when two or more vary,
    on log axes where the run's search space (`info`, its run file) samples on a log scale."""
    metric = section.settings.metric
    top = list(_ranked(trials, section)["trial_id"].head(TOP_CURVES))
    fig = plots.plot_training_curves(curves, trials, top, title=f"Training curves, top {len(top)}")
    caption = f"Training cost and {metric} by epoch, best {len(top)} trials"
    blocks: list[Block] = [section.figure(fig, "curves.png", caption)]
    scored = trials[trials[f"best_{metric}"].notna()]
    if len(scored) >= 2 and config_columns(trials, varying=True):
        find = section.settings.log_scaled
        fig = plots.plot_parallel_coordinates(trials, metric, find(info) if find else None)
        blocks.append(section.figure(fig, "parallel.png", "Configurations against best score"))
    return blocks


def importance_blocks(trials: pd.DataFrame, section: Section) -> list[Block]:
    """fANOVA importance of each hyperparameter (nothing when Optuna cannot tell), with a
    caveat below `FANOVA_TRIALS` scored trials."""
    importance = parameter_importance(trials, section.settings.metric, section.settings.mode)
    if importance.empty:
        return []
    scored = int(trials[f"best_{section.settings.metric}"].notna().sum())
    caveat = ""
    if scored < FANOVA_TRIALS:
        caveat = f"only {scored} trials: a rough indication, not a measurement"
    blocks: list[Block] = [Heading(3, "Hyperparameter importance (fANOVA, Optuna)")]
    if caveat:
        blocks.append(
            Text(
                f"Caveat: fANOVA fits a random forest to {scored} trials; below "
                f"{FANOVA_TRIALS} the importances below are {caveat.split(': ')[1]}."
            )
        )
    figure = plots.plot_importance(importance, caveat=caveat)
    return [
        *blocks,
        Table(importance),
        section.figure(figure, "importance.png", "Hyperparameter importance"),
    ]
