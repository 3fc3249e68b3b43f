"""Reports of runs that did not end normally: killed, interrupted (Ctrl-C), budget-stopped."""

from __future__ import annotations

import json
import shutil

import pytest

from analysis.layout import RUN_FILE
from analysis.report import write_report


def copy_with_run_file(tiny_experiment, tmp_path, **changes):
    """A copy of the tiny experiment whose run file has `changes` applied."""
    folder = tmp_path / "runs" / tiny_experiment.name
    shutil.copytree(tiny_experiment, folder)
    record = json.loads((folder / RUN_FILE).read_text())
    record.update(changes)
    (folder / RUN_FILE).write_text(json.dumps(record))
    return folder, record


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"ended": None}, "has not ended"),
        ({"ended": None, "interrupted": 1_800_000_050.0}, "was interrupted"),
        ({"ended": None, "storage_full": "/r has 0.5 MiB free"}, "its storage was full"),
    ],
)
def test_a_run_without_an_end_is_reported_and_says_so(tiny_experiment, tmp_path, changes, says):
    folder, _ = copy_with_run_file(tiny_experiment, tmp_path, **changes)
    written = write_report([folder], tmp_path / "out")
    markdown = written[0].read_text()
    assert says in markdown and f"tune-jobs resume {folder}" in markdown
    assert "Best trial" in markdown  # the epochs it did report are still reported


def test_a_budget_stopped_run_says_its_budget_ended_it(tiny_experiment, tmp_path):
    folder, record = copy_with_run_file(tiny_experiment, tmp_path)
    record["options"]["budget_epochs"] = 2  # the tiny run reported more epochs than that
    (folder / RUN_FILE).write_text(json.dumps(record))
    markdown = write_report([folder], tmp_path / "out")[0].read_text()
    assert "epoch budget of 2 epochs" in markdown
