"""examples/digits_mlp.py through the CLI, as docs/own-job.md runs it (`--smoke-test`)."""

from __future__ import annotations

import json
from pathlib import Path

from analysis.layout import RUN_FILE
from tune_jobs.cli import main
from tune_jobs.jobs import get_job

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "digits_mlp.py"


def test_the_digits_data_splits_and_cuts_without_a_download():
    data = get_job(f"{EXAMPLE}:digits").read_data(None)
    assert data.sizes() == {"train": 1078, "val": 359, "test": 360}  # of sklearn's 1,797
    assert data.subset(train=100, evaluation=50).sizes() == {"train": 100, "val": 50, "test": 50}


def test_smoke_test_runs_the_example_and_records_its_reference(ray_local, tmp_path, capsys):
    argv = ["run", f"{EXAMPLE}:digits", "--method", "asha", "--smoke-test"]
    assert main([*argv, "--storage", str(tmp_path), "--name", "smoke"]) == 0
    out = capsys.readouterr().out
    assert "Best trial" in out and "test_acc = " in out
    record = json.loads((tmp_path / "smoke" / RUN_FILE).read_text())
    assert record["job"] == f"{EXAMPLE}:digits"
    assert record["log_scaled"] == []  # the run's own space: a smoke test tunes nothing
    (progress,) = (tmp_path / "smoke").glob("*/result.json")
    reported = json.loads(progress.read_text().splitlines()[-1])
    assert {"epoch", "val_acc", "test_acc", "train_loss", "val_loss"} <= reported.keys()
    assert list((tmp_path / "smoke").glob("*/checkpoint_000000"))  # ASHA/PBT/resume need it
