"""Blocks rendered as Markdown and as HTML: every cell, escape and link."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from analysis.report.blocks import Heading, Image, Table, Text, render_html, render_markdown

FRAME = pd.DataFrame(
    {
        "method": ["a|b", "c\nd", None],
        "score": [0.123456, math.nan, math.inf],
        "runs": [3, 4, 5],
    }
)
BLOCKS = [
    Heading(2, "Section `x<y>`"),
    Text("A line with `code` & more."),
    Table(FRAME),
    Table(FRAME.set_index("runs"), index=True),
    Image("01-a.png", "A <figure>"),
]


def test_markdown_renders_each_block_in_order():
    lines = render_markdown(BLOCKS).splitlines()
    assert lines[0] == "## Section `x<y>`" and lines[2] == "A line with `code` & more."
    assert lines[4:9] == [
        "| method | score | runs |",
        "| --- | --- | --- |",
        "| a\\|b | 0.1235 | 3 |",  # 4 significant digits; a pipe would end the cell
        "| c d |  | 4 |",  # NaN is empty, a newline would end the row
        "|  | inf | 5 |",
    ]
    assert lines[10] == "| runs | method | score |"  # an index table shows its index first
    assert lines[-1] == "![A <figure>](01-a.png)"


def test_html_escapes_text_and_shows_code_and_figures():
    page = render_html(BLOCKS, "Title & <more>")
    assert "<title>Title &amp; &lt;more&gt;</title>" in page
    assert "<h2 id='section-x-y'>Section <code>x&lt;y&gt;</code></h2>" in page  # TOC anchor
    assert "<p>A line with <code>code</code> &amp; more.</p>" in page
    assert "<td>a|b</td>" in page and "<td>0.1235</td>" in page and "<td>inf</td>" in page
    assert page.count("<table") == 2 and page.index("<th>runs</th>") < page.rindex("<table")
    assert "<img src='01-a.png' alt='A &lt;figure&gt;'>" in page
    assert page.rstrip().endswith("</body></html>")


def test_a_heading_level_markdown_cannot_show_is_refused():
    for level in (0, 7):
        with pytest.raises(ValueError, match="1 to 6"):
            Heading(level, "x")
