"""The blocks a report is made of (headings, text, tables, figures) and their two renderings.

A report is a list of blocks rendered twice: as Markdown, and as a self-contained HTML page.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Heading:
    """A heading; level 1 is the report's title."""

    level: int
    text: str

    def __post_init__(self) -> None:
        if not 1 <= self.level <= 6:  # Markdown and HTML both stop at six levels
            raise ValueError(f"a heading's level is 1 to 6, not {self.level}")


@dataclass(frozen=True)
class Text:
    """A paragraph; `code` spans are kept in both renderings."""

    text: str


@dataclass(frozen=True)
class Table:
    """A frame as a table, its index shown first when `index`."""

    frame: pd.DataFrame
    index: bool = False


@dataclass(frozen=True)
class Image:
    """A figure saved beside the report, with its caption."""

    file: str  # relative to the report, which sits in the same folder
    caption: str


Block = Heading | Text | Table | Image


def _cell(value) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return "inf" if math.isinf(value) else f"{value:.4g}"
    return "" if value is None else str(value)


def _shown_frame(table: Table) -> pd.DataFrame:
    return table.frame.reset_index() if table.index else table.frame


def render_markdown(blocks: list[Block]) -> str:
    """The blocks as one Markdown document."""
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            lines += ["#" * block.level + " " + block.text, ""]
        elif isinstance(block, Text):
            lines += [block.text, ""]
        elif isinstance(block, Image):
            lines += [f"![{block.caption}]({block.file})", ""]
        else:
            lines += [*_markdown_table(_shown_frame(block)), ""]
    return "\n".join(lines)


def _markdown_table(frame: pd.DataFrame) -> list[str]:
    lines = ["| " + " | ".join(str(c) for c in frame.columns) + " |"]
    lines.append("|" + " --- |" * len(frame.columns))
    for row in frame.itertuples(index=False):
        cells = (_cell(v).replace("|", "\\|").replace("\n", " ") for v in row)
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _inline(text: str) -> str:
    return re.sub(r"`([^`]*)`", r"<code>\1</code>", html.escape(text))


_STYLE = (
    "body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
    "table{border-collapse:collapse;font-size:13px;margin:1em 0}"
    "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}"
    "img{max-width:100%}"
)


def render_html(blocks: list[Block], title: str) -> str:
    """The blocks as one self-contained HTML page (figures linked, not embedded)."""
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title><style>{_STYLE}</style></head><body>"
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
            parts.append(_shown_frame(block).map(_cell).to_html(index=False, escape=True))
    return "\n".join([*parts, "</body></html>"])
