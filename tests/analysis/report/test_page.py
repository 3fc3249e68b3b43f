"""The report people read: a headline on a compare section, a summary box, a table of contents,
tables in scrolling boxes, and figures that keep one style per method (issue 18, Reports)."""

from __future__ import annotations

from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba

from analysis import compare, plots, significance
from analysis.report.blocks import Heading, Summary, Table, Text, render_html
from analysis.report.experiment import FANOVA_TRIALS, importance_blocks
from analysis.report.headline import FEW_SEEDS, headline_blocks, report_budgets, verdicts_at
from analysis.report.writer import ReportWriter, Section
from analysis.results import CUM_EPOCHS, CUM_SECONDS, load_compare
from tune_jobs.cli import main


class _Page(HTMLParser):
    """Headings with their ids, TOC links, and each table's enclosing element's class."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, dict]] = []
        self.order: list[str] = []  # "summary", "toc", "h1", "h2", ... in page order
        self.ids: list[str] = []
        self.links: list[str] = []
        self.table_parents: list[str | None] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "div" and attrs.get("class") == "summary":
            self.order.append("summary")
        if tag == "nav" and attrs.get("class") == "toc":
            self.order.append("toc")
        if tag in ("h1", "h2", "h3"):
            self.order.append(tag)
            if tag != "h1":
                self.ids.append(attrs.get("id"))
        if tag == "a" and any(t == "nav" for t, _ in self.stack):
            self.links.append(attrs["href"].removeprefix("#"))
        if tag == "table":
            self.table_parents.append(self.stack[-1][1].get("class") if self.stack else None)
        self.stack.append((tag, attrs))

    def handle_endtag(self, tag):
        while self.stack and self.stack.pop()[0] != tag:
            pass


def _page(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


def _assert_readable(page: _Page) -> None:
    """Summary box, then the TOC, before the first section; TOC links = heading ids; every
    table inside a scrolling box."""
    assert page.order[:3] == ["h1", "summary", "toc"], page.order[:4]
    assert page.links == page.ids and len(set(page.ids)) == len(page.ids) and None not in page.ids
    assert page.table_parents and set(page.table_parents) == {"table-wrap"}


def test_html_page_has_summary_toc_and_wrapped_tables():
    blocks = [
        Heading(1, "Report"),
        Text("generated now"),
        Heading(2, "First"),
        Summary(("one line",)),
        Table(pd.DataFrame({"a": [1.0], "b": ["x" * 300]})),
        Heading(3, "Detail"),
        Heading(2, "First"),  # the same text twice: two anchors
        Summary(("two line",)),
    ]
    text = render_html(blocks, "Report")
    page = _page(text)
    _assert_readable(page)
    assert page.ids == ["first", "detail", "first-6"]
    assert "<li>one line</li><li>two line</li>" in text
    assert ".table-wrap{max-width:100%;overflow-x:auto" in text


def test_real_report_reads_as_one_page_and_its_compare_section_opens_with_a_headline(
    tiny_experiment, compare_folder, tmp_path
):
    out = tmp_path / "report"
    assert main(["report", str(tiny_experiment), str(compare_folder), "--out", str(out)]) == 0
    _assert_readable(_page((out / "report.html").read_text()))
    markdown = (out / "report.md").read_text()
    assert markdown.index("> **Summary**") < markdown.index("## Experiment")
    assert "Comparison `compare-mnist-l2`: at " in markdown  # its line in the summary box
    section = markdown[markdown.index("## Comparison") :]
    assert section.index("### Headline") < section.index("### Runs")
    headline = section[section.index("### Headline") : section.index("### Runs")]
    assert "the best median val_acc" in headline
    assert "No Friedman test" in headline and headline.count("No Friedman test") == 1
    assert "min-max of too few seeds" in headline  # 2 seeds per method
    assert "None" not in section.splitlines()[2]  # the header line: no "time budget None"
    assert "time budget" not in section.splitlines()[2]


def test_epochs_to_target_no_seed_reached_says_so(compare_folder, tmp_path):
    out = tmp_path / "report"
    assert main(["report", str(compare_folder), "--out", str(out), "--target", "2"]) == 0
    methods = (out / "report.md").read_text().split("### Methods")[1].split("###")[0]
    rows = [line for line in methods.splitlines() if line.startswith("| asha") or "| grid" in line]
    assert rows and all(row.endswith("| 0 | not reached | not reached |") for row in rows)


def test_no_budget_below_the_first_report(compare_folder):
    _, _, _, curves = load_compare(compare_folder)
    history = compare.anytime(curves)
    assert min(compare.default_budgets(history)) < 1  # a tenth of 6 epochs
    assert min(report_budgets(history, CUM_EPOCHS)) >= 1
    first = history.groupby(["method", "seed"])[CUM_SECONDS].min().max()
    assert min(report_budgets(history, CUM_SECONDS)) >= first


def _comparison(seeds: int) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = []
    for method, level in (("grid", 0.85), ("asha", 0.95), ("random", 0.9)):
        for seed in range(seeds):
            best = level - 0.1 * np.exp(-np.arange(1, 11) / 3) + rng.normal(0, 0.002, 10)
            for epoch, score in enumerate(best, start=1):
                rows.append(
                    {"method": method, "seed": seed, CUM_EPOCHS: epoch, CUM_SECONDS: 3.0 * epoch}
                    | {"val_acc": score}
                )
    return pd.DataFrame(rows)


@pytest.mark.parametrize("seeds", [FEW_SEEDS, 3])
def test_headline_names_the_best_method_the_test_and_the_pairs(seeds):
    history = compare.anytime(_comparison(seeds))
    budgets = report_budgets(history, CUM_EPOCHS)
    regrets = significance.regret_at_budgets(history, budgets)
    blocks = headline_blocks(regrets, verdicts_at(regrets, budgets), "cmp", "val_acc", "max")
    summary, heading, *texts = blocks
    assert isinstance(summary, Summary) and heading == Heading(3, "Headline")
    words = " ".join(t.text for t in texts)
    assert f"At {budgets[-1]:g} epochs, asha has the best median val_acc" in words
    if seeds == FEW_SEEDS:
        assert "Friedman test finds a difference" in words and "asha beats grid" in words
        assert "too few seeds" not in words
    else:
        assert "min-max of too few seeds" in words
    assert "asha has the best median" in summary.lines[0]


def test_a_method_keeps_its_colour_and_line_style_in_every_figure():
    history = compare.anytime(_comparison(FEW_SEEDS))
    styles = plots.method_styles(["random", "grid", "asha"])
    colour = {m: to_rgba(s["color"]) for m, s in styles.items()}
    bands = compare.anytime_bands(history, CUM_EPOCHS, points=10)
    for line in plots.plot_anytime(bands, styles=styles).axes[0].get_lines():
        method = line.get_label().split(" (")[0]
        assert to_rgba(line.get_color()) == colour[method]
        assert line.get_linestyle() == styles[method]["linestyle"]
    ranks = compare.average_ranks(history, report_budgets(history, CUM_EPOCHS))
    for line in plots.plot_ranks(ranks, styles=styles).axes[0].get_lines():
        assert to_rgba(line.get_color()) == colour[line.get_label()]
    budgets = report_budgets(history, CUM_EPOCHS)
    regrets = significance.regret_at_budgets(history, budgets)
    verdict = significance.friedman_verdict(regrets, budgets[-1])
    fig = plots.plot_critical_difference(verdict.average_ranks, verdict.pvalues, styles=styles)
    texts = [t for t in fig.axes[0].texts if any(m in t.get_text() for m in styles)]
    assert len(texts) == 3
    for text in texts:
        method = next(m for m in styles if m in text.get_text())
        assert to_rgba(text.get_color()) == colour[method]
    # Without styles, every figure falls back to the same mapping (sorted method names).
    default = plots.method_styles(sorted(styles))
    lines = plots.plot_anytime(bands).axes[0].get_lines()
    assert {ln.get_label().split(" (")[0]: ln.get_color() for ln in lines} == {
        m: s["color"] for m, s in default.items()
    }


def _trials(count: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    lr = 10 ** rng.uniform(-3, 0, count)
    return pd.DataFrame(
        {
            "trial_id": [f"t{i}" for i in range(count)],
            "status": "TERMINATED",
            "stop_reason": "completed",
            "best_val_acc": 0.95 - 0.1 * (np.log10(lr) + 1.5) ** 2,
            "config/lr": lr,
            "config/width": rng.choice([64, 128, 256], count),
        }
    )


def test_fanova_importance_below_ten_trials_carries_a_caveat(tmp_path):
    section = Section(ReportWriter(tmp_path), "x")
    few = importance_blocks(_trials(FANOVA_TRIALS - 4), section)
    assert any(isinstance(b, Text) and b.text.startswith("Caveat: fANOVA") for b in few)
    many = importance_blocks(_trials(3 * FANOVA_TRIALS), section)
    assert many and not any(isinstance(b, Text) and "Caveat" in b.text for b in many)
