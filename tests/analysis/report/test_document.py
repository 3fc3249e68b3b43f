"""`tune-jobs report` on a real tiny experiment, a compare folder, and inputs it must refuse."""

from __future__ import annotations

from analysis.report import write_report
from analysis.results import load_experiment, trials_frame
from tune_jobs.cli import main


def _pngs_ok(out) -> list:
    pngs = sorted(out.glob("*.png"))
    assert pngs and all(p.read_bytes()[:4] == b"\x89PNG" and p.stat().st_size > 5000 for p in pngs)
    return pngs


def test_report_names_every_trial_and_writes_figures(
    tiny_experiment, compare_folder, tmp_path, capsys
):
    out = tmp_path / "report"
    assert main(["report", str(tiny_experiment), str(compare_folder), "--out", str(out)]) == 0
    assert "report.md" in capsys.readouterr().out
    markdown = (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    for trial_id in trials_frame(load_experiment(tiny_experiment))["trial_id"]:
        assert trial_id in markdown and trial_id in html
    for section in (
        "## Experiment `tiny-asha`",
        "### Best trial",
        "## Comparison",
        "### Methods",
        "Average rank by cum_epochs",
        "RuntimeError: out of memory",
    ):
        assert section in markdown
    pngs = _pngs_ok(out)
    names = {p.name for p in pngs}
    assert {
        "01-tiny-asha-curves.png",
        "02-compare-mnist-l2-anytime-cum_epochs.png",
        "02-compare-mnist-l2-anytime-cum_seconds.png",
        "02-compare-mnist-l2-scores.png",
    } <= names
    for png in pngs:  # every figure is linked from both documents
        assert f"]({png.name})" in markdown and f"src='{png.name}'" in html


def test_an_experiment_with_no_finished_trial_is_reported_as_such(empty_experiment, tmp_path):
    written = write_report([empty_experiment], tmp_path / "out")
    markdown = written[0].read_text()
    assert "No trial of this experiment reported a result" in markdown
    assert "fails before its first report" in markdown  # the trial's error, in its row
    assert [p.suffix for p in written] == [".md", ".html"]  # no figures of nothing


def test_a_folder_that_is_not_an_experiment_exits_2_and_writes_nothing(
    tiny_experiment, tmp_path, capsys
):
    (tmp_path / "stray").mkdir()
    out = tmp_path / "out"
    assert main(["report", str(tiny_experiment), str(tmp_path / "stray"), "--out", str(out)]) == 2
    assert "stray is not a Ray Tune experiment folder" in capsys.readouterr().err
    assert not out.exists()
    assert main(["report", str(tmp_path / "nowhere"), "--out", str(out)]) == 2
    assert "nowhere: no such folder" in capsys.readouterr().err


def test_a_time_column_that_was_never_reported_exits_2(tiny_experiment, tmp_path, capsys):
    args = ["report", str(tiny_experiment), "--out", str(tmp_path), "--time-column", "sim_s"]
    assert main(args) == 2
    assert "time column 'sim_s' is not reported" in capsys.readouterr().err
