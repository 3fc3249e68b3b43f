"""The writer of one report folder: it saves the figures, then the Markdown and HTML documents."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from analysis.layout import REPORT_HTML, REPORT_MARKDOWN, TIME_TOTAL
from analysis.report.blocks import Block, Heading, Image, Text, render_html, render_markdown
from trainables import metrics

DPI = 110


class ReportWriter:
    """Owns the folder `out` and every file it writes there; `files` lists them in order."""

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self._figures: list[Path] = []
        self._documents: list[Path] = []

    @property
    def files(self) -> list[Path]:
        """The documents (once written), then the figures, in the order they were written."""
        return [*self._documents, *self._figures]

    def figure(self, fig: plt.Figure, name: str, caption: str) -> Image:
        """Save and close `fig` as `out/name`; the block that shows it in the report."""
        fig.savefig(self.out / name, dpi=DPI)
        plt.close(fig)
        self._figures.append(self.out / name)
        return Image(name, caption)

    def write(self, blocks: list[Block], title: str) -> list[Path]:
        """Write report.md and report.html of `blocks`; every file written, documents first."""
        markdown, page = self.out / REPORT_MARKDOWN, self.out / REPORT_HTML
        markdown.write_text(render_markdown(blocks))
        page.write_text(render_html(blocks, title))
        self._documents = [markdown, page]
        return self.files


def preamble(title: str, after: str) -> list[Block]:
    """The title, and a line saying when the report was generated, then `after` (punctuated)."""
    return [Heading(1, title), Text(f"Generated {time.strftime('%Y-%m-%d %H:%M:%S')}{after}")]


@dataclass(frozen=True)
class ReportSettings:
    """How a report scores trials and counts time; the same for every section."""

    metric: str = metrics.METRIC
    mode: str = metrics.MODE
    time_column: str = TIME_TOTAL
    target: float | None = None  # score for "time to target" (default: median of all runs)
    # The hyperparameters an experiment's search space samples on a log scale, from its run file
    # (None: guessed from the values). The CLI passes the job registry's answer: analysis cannot
    # import tune_jobs.
    log_scaled: Callable[[dict[str, Any]], Collection[str] | None] | None = None


@dataclass(frozen=True)
class Section:
    """One section of a report: its writer, the prefix of its figures' names, the settings."""

    writer: ReportWriter
    prefix: str
    settings: ReportSettings = ReportSettings()

    def figure(self, fig: plt.Figure, suffix: str, caption: str) -> Image:
        """Save `fig` as `<prefix>-<suffix>` through the writer; the block that shows it."""
        return self.writer.figure(fig, f"{self.prefix}-{suffix}", caption)
