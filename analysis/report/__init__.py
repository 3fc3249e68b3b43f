"""Reports of results folders: `report.md`, `report.html` and their PNG figures, side by side.

- `blocks`: headings, text, tables and figures, rendered as Markdown and as HTML;
- `writer`: `ReportWriter`, which owns the report folder and every file it writes there;
- `document`: `write_report` for `tune-jobs report`, one section per folder, from
  `experiment` (an experiment folder) and `comparison` (a `tune-jobs compare` folder);
- `study`: `write_study_report` for `tune-jobs study mnist`.

A new section is a function `(path, Section) -> list[Block]` beside these, listed in
`document.SECTIONS` when it reports a new kind of folder.
"""

from __future__ import annotations

from analysis.report.document import report_kind, write_report

__all__ = ["report_kind", "write_report"]
