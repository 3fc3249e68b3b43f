"""The report writer owns its folder: every file it writes, and nothing it did not."""

from __future__ import annotations

import matplotlib.pyplot as plt

from analysis.layout import REPORT_HTML, REPORT_MARKDOWN
from analysis.report.blocks import Heading, Image, Text
from analysis.report.writer import ReportSettings, ReportWriter, Section, preamble


def _figure() -> plt.Figure:
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], [3, 1, 2])
    return fig


def test_figures_are_saved_closed_and_listed_after_the_documents(tmp_path):
    writer = ReportWriter(tmp_path / "out")
    assert (tmp_path / "out").is_dir() and writer.files == []
    fig = _figure()
    block = Section(writer, "01-run").figure(fig, "curves.png", "Curves")
    assert block == Image("01-run-curves.png", "Curves")
    assert not plt.fignum_exists(fig.number)  # closed: a long report does not pile up figures
    second = writer.figure(_figure(), "other.png", "Other")
    files = writer.write([*preamble("Title", "."), block, second], "Title")
    out = tmp_path / "out"
    assert files == [out / REPORT_MARKDOWN, out / REPORT_HTML, out / block.file, out / "other.png"]
    assert files == writer.files
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in files)
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in files[2:])
    markdown = files[0].read_text()
    assert markdown.startswith("# Title\n\nGenerated 2") and "](01-run-curves.png)" in markdown


def test_a_report_without_figures_writes_two_documents(tmp_path):
    files = ReportWriter(tmp_path).write([Heading(1, "T"), Text("nothing")], "T")
    assert [p.name for p in files] == [REPORT_MARKDOWN, REPORT_HTML]
    assert "<title>T</title>" in files[1].read_text()


def test_a_section_uses_the_default_settings_unless_told(tmp_path):
    settings = Section(ReportWriter(tmp_path), "p").settings
    assert settings == ReportSettings() and settings.metric == "val_acc" and settings.mode == "max"
