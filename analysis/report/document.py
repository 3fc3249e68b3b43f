"""The `tune-jobs report` document: one section per experiment folder or compare folder."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from analysis.layout import COMPARE, EXPERIMENT, TIME_TOTAL, folder_kind
from analysis.report.blocks import Block
from analysis.report.comparison import compare_section
from analysis.report.experiment import experiment_section
from analysis.report.writer import ReportSettings, ReportWriter, Section, preamble
from analysis.results import folder_metric, list_folder, load_experiment

TITLE = "Tune experiments report"
SECTIONS = {EXPERIMENT: experiment_section, COMPARE: compare_section}


def report_kind(path: str | Path) -> str:
    """'compare' or 'experiment'; NotAnExperimentError naming the path for anything else."""
    kind = folder_kind(list_folder(path)[2])
    if kind is None:
        load_experiment(path)  # raises the full message
        return EXPERIMENT
    return kind


def section_prefix(number: int, path: str | Path) -> str:
    """`NN-<folder name>`, the start of the name of each figure of a path's section."""
    return f"{number:02d}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', Path(str(path)).name)}"


def write_report(
    paths: list[str | Path],
    out: str | Path,
    metric: str | None = None,
    mode: str | None = None,
    time_column: str = TIME_TOTAL,
    target: float | None = None,
    log_scaled: Callable[[dict[str, Any]], Collection[str] | None] | None = None,
) -> list[Path]:
    """Write `out/report.md`, `out/report.html` and the figures; the files written.

    Every path is checked before anything is written. Without `metric` each folder is scored by
    the metric its run optimised (`folder_metric`). `log_scaled` names the log-scaled
    hyperparameters of an experiment from its run file (`ReportSettings.log_scaled`).
    """
    kinds = [report_kind(path) for path in paths]
    scoring = [folder_metric(path, metric, mode) for path in paths]
    writer = ReportWriter(out)
    chosen = sorted({f"`{m}` ({d})" for m, d in scoring})
    blocks: list[Block] = preamble(
        TITLE, f"; selection metric {', '.join(chosen)}; the test set never chooses anything."
    )
    for number, (path, kind, (run_metric, run_mode)) in enumerate(
        zip(paths, kinds, scoring, strict=True), start=1
    ):
        settings = ReportSettings(run_metric, run_mode, time_column, target, log_scaled)
        section = Section(writer, section_prefix(number, path), settings)
        blocks += SECTIONS[kind](path, section)
    return writer.write(blocks, TITLE)
