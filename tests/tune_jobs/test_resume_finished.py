"""`resume` of an experiment that finished: nothing reruns and its run file keeps its end."""

from __future__ import annotations

import json

from analysis.layout import RUN_FILE
from tune_jobs.execute import execute, resume
from tune_jobs.options import RunOptions, load_data, prepare


def test_resume_of_a_finished_experiment_keeps_its_end(ray_local, mnist_dir, tmp_path):
    options = RunOptions(
        "mnist-l2", method="random", samples=1, max_epochs=1, data_dir=str(mnist_dir),
        storage=str(tmp_path), name="done", train_subset=64,
    )  # fmt: skip
    prepared = prepare(options)
    execute(prepared, load_data(prepared.job, prepared.options))
    before = json.loads((tmp_path / "done" / RUN_FILE).read_text())
    assert before["ended"]
    results, _ = resume(str(tmp_path / "done"))
    assert len(results) == 1 and not results.num_errors
    assert json.loads((tmp_path / "done" / RUN_FILE).read_text()) == before
