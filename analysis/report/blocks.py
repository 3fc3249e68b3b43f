"""The blocks a report is made of (headings, text, tables, figures) and their two renderings.

A report is a list of blocks rendered twice: as Markdown, and as a self-contained HTML page. Both
gather every `Summary` block into one box before the first section; the page adds a table of
contents (one link per section heading) and scrolls a wide table inside its own box.
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


@dataclass(frozen=True)
class Summary:
    """Lines for the report's summary box at the top, wherever the block stands."""

    lines: tuple[str, ...]


Block = Heading | Text | Table | Image | Summary


def _cell(value) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return "inf" if math.isinf(value) else f"{value:.4g}"
    return "" if value is None else str(value)


def _shown_frame(table: Table) -> pd.DataFrame:
    return table.frame.reset_index() if table.index else table.frame


def _summary_first(blocks: list[Block]) -> list[Block]:
    """The blocks with every Summary merged into one, placed before the first section heading."""
    lines = tuple(line for b in blocks if isinstance(b, Summary) for line in b.lines)
    rest = [b for b in blocks if not isinstance(b, Summary)]
    if not lines:
        return rest
    at = next((i for i, b in enumerate(rest) if isinstance(b, Heading) and b.level > 1), len(rest))
    return [*rest[:at], Summary(lines), *rest[at:]]


def render_markdown(blocks: list[Block]) -> str:
    """The blocks as one Markdown document."""
    lines: list[str] = []
    for block in _summary_first(blocks):
        if isinstance(block, Summary):
            lines += ["> **Summary**", ">", *(f"> - {line}" for line in block.lines), ""]
        elif isinstance(block, Heading):
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
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.4}"
    ".summary{background:#f3f7fb;border:1px solid #9bb8d3;border-radius:6px;padding:.6em 1.2em}"
    ".toc{font-size:14px}.toc ul{margin:.2em 0}"
    ".table-wrap{max-width:100%;overflow-x:auto;margin:1em 0}"
    "table{border-collapse:collapse;font-size:13px}"
    "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right;white-space:nowrap}"
    "img{max-width:100%}"
)
TOC_LEVELS = (2, 3)  # the headings the table of contents links to


def anchors(blocks: list[Block]) -> dict[int, str]:
    """A unique HTML id for each heading of a TOC level, by its position in `blocks`."""
    ids: dict[int, str] = {}
    for number, block in enumerate(blocks):
        if isinstance(block, Heading) and block.level in TOC_LEVELS:
            slug = re.sub(r"[^a-z0-9]+", "-", block.text.lower()).strip("-") or "section"
            ids[number] = slug if slug not in ids.values() else f"{slug}-{number}"
    return ids


def _toc(headings: list[tuple[Heading, str]]) -> str:
    """Nested lists of links, one per heading and its anchor."""
    items, level = [], TOC_LEVELS[0]
    for block, anchor in headings:
        while block.level > level:
            items.append("<ul>")
            level += 1
        while block.level < level:
            items.append("</ul>")
            level -= 1
        items.append(f"<li><a href='#{anchor}'>{_inline(block.text)}</a></li>")
    items += ["</ul>"] * (level - TOC_LEVELS[0])
    return f"<nav class='toc'><strong>Contents</strong><ul>{''.join(items)}</ul></nav>"


def render_html(blocks: list[Block], title: str) -> str:
    """The blocks as one self-contained HTML page (figures linked, not embedded): the summary
    box and a table of contents before the first section."""
    blocks = _summary_first(blocks)
    ids = anchors(blocks)
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
    ]
    headings = [(b, ids[n]) for n, b in enumerate(blocks) if n in ids and isinstance(b, Heading)]
    toc = _toc(headings) if headings else ""
    for number, block in enumerate(blocks):
        if toc and number == min(ids) and not any(isinstance(b, Summary) for b in blocks):
            parts.append(toc)
        if isinstance(block, Summary):
            items = "".join(f"<li>{_inline(line)}</li>" for line in block.lines)
            parts += [f"<div class='summary'><strong>Summary</strong><ul>{items}</ul></div>", toc]
        elif isinstance(block, Heading):
            anchor = f" id='{ids[number]}'" if number in ids else ""
            parts.append(f"<h{block.level}{anchor}>{_inline(block.text)}</h{block.level}>")
        elif isinstance(block, Text):
            parts.append(f"<p>{_inline(block.text)}</p>")
        elif isinstance(block, Image):
            caption = html.escape(block.caption)
            parts.append(
                f"<figure><img src='{html.escape(block.file)}' alt='{caption}'>"
                f"<figcaption>{caption}</figcaption></figure>"
            )
        else:
            table = _shown_frame(block).map(_cell).to_html(index=False, escape=True)
            parts.append(f"<div class='table-wrap'>{table}</div>")
    return "\n".join([*parts, "</body></html>"])
