"""`tune-jobs compare`: methods x seeds under one epoch budget, a manifest, bad input refused."""

from __future__ import annotations

import json
import re

import pytest
from ray.tune import ExperimentAnalysis

from analysis.layout import MANIFEST_FILE
from analysis.results import load_compare
from tune_jobs.cli import main


@pytest.mark.slow
def test_compare_runs_each_method_and_seed_under_the_budget(ray_local, mnist_dir, tmp_path, capsys):
    budget = 4
    code = main(
        [
            "compare", "mnist-l2", "--methods", "random,asha", "--seeds", "2", "--seed", "5",
            "--max-epochs", "2", "--budget-epochs", str(budget), "--concurrency", "1",
            "--data-dir", str(mnist_dir), "--storage", str(tmp_path), "--name", "cmp",
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "== [1/4] random seed 5 | elapsed " in out
    assert re.search(r"== \[4/4\] asha seed 6 \| elapsed \S+ \| about \S+ left", out)
    summary = out[out.index("Comparison:") :]
    assert "trained" in summary and "best val_acc (median)" in summary
    assert "epochs to target (median)" in summary and "Target val_acc:" in summary
    lines = summary.splitlines()
    start = next(i for i, line in enumerate(lines) if "trained" in line) + 1
    rows = {line.split()[0]: line.split() for line in lines[start : start + 2]}
    assert rows["random"][1] == "2" and rows["asha"][1] == "2"  # runs per method
    folder = tmp_path / "cmp"
    assert f"Next: tune-jobs report {folder} --out {folder}-report" in summary
    manifest = json.loads((tmp_path / "cmp" / MANIFEST_FILE).read_text())
    assert manifest["budget_epochs"] == budget and manifest["seeds"] == [5, 6]
    entries = manifest["runs"]
    trained = {m: sum(r["trials"] for r in entries if r["method"] == m) for m in ("random", "asha")}
    assert all(rows[m][2] == str(n) for m, n in trained.items())  # trials that trained
    # The report's Runs table counts the same: trials a budget never started are left out.
    assert list(load_compare(folder)[1]["trials"]) == [r["trials"] for r in entries]
    runs = {(run["method"], run["seed"]): run for run in manifest["runs"]}
    assert set(runs) == {("random", 5), ("random", 6), ("asha", 5), ("asha", 6)}
    for run in runs.values():
        assert run["status"] == "finished", run
        analysis = ExperimentAnalysis(str(tmp_path / "cmp" / run["path"]))
        epochs = sum(len(frame) for frame in analysis.trial_dataframes.values())
        assert 1 <= epochs <= budget + 1  # one trial in flight may finish its epoch
        assert run["trials"] == sum(1 for f in analysis.trial_dataframes.values() if len(f))
    first = {t.config["lr"] for t in ExperimentAnalysis(str(tmp_path / "cmp/random-seed5")).trials}
    other = {t.config["lr"] for t in ExperimentAnalysis(str(tmp_path / "cmp/random-seed6")).trials}
    assert first != other  # each seed samples its own configurations


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--methods", "grid,bayes"], "unknown method(s) bayes"),
        (["--methods", ","], "(none given)"),
        (["--methods", "random", "--seeds", "0"], "--seeds must be >= 1"),
        (["--methods", "random", "--budget-epochs", "0"], "--budget-epochs must be >= 1"),
    ],
)
def test_compare_bad_input_exits_2_and_writes_nothing(args, named, tmp_path, capsys):
    code = main(["compare", "mnist-l2", *args, "--storage", str(tmp_path), "--name", "cmp"])
    assert code == 2
    assert named in capsys.readouterr().err
    assert not (tmp_path / "cmp").exists()


def test_compare_refuses_an_existing_folder(tmp_path, capsys):
    (tmp_path / "cmp").mkdir()
    assert main(["compare", "mnist-l2", "--methods", "random", "--storage", str(tmp_path),
                 "--name", "cmp"]) == 2  # fmt: skip
    assert "already exists" in capsys.readouterr().err


def test_methods_table_lists_every_method_with_pros_and_cons(capsys):
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    for name in ("grid", "random", "sha", "hyperband", "asha", "bohb", "tpe", "hyperopt", "gp",
                 "cmaes", "ga", "pso", "pbt"):  # fmt: skip
        assert f"\n{name}: " in out
    assert "reduction_factor=3" in out and "+ " in out and "- " in out


def test_compare_stored_through_a_uri_exits_1_when_a_run_fails(
    mnist_dir, tmp_path, monkeypatch, capsys
):
    """The manifest is read the same way wherever it is stored (here through a file:// URI)."""
    from tune_jobs import compare

    def crash(run, data):  # as Ray words a trial's error: its traceback, the exception last
        raise RuntimeError("Traceback (most recent call last):\n  ...\nValueError: the run crashed")

    monkeypatch.setattr(compare, "ensure_ray", lambda address=None: None)
    monkeypatch.setattr(compare, "execute", crash)
    code = main(
        [
            "compare", "mnist-l2", "--methods", "random", "--max-epochs", "1",
            "--budget-epochs", "2", "--data-dir", str(mnist_dir),
            "--storage", tmp_path.as_uri(), "--name", "cmp",
        ]
    )  # fmt: skip
    assert code == 1
    err = capsys.readouterr().err
    assert "failed: random seed 0: ValueError: the run crashed\n" in err  # its last line
    assert "1 run(s) failed; see manifest.json." in err
    (run,) = json.loads((tmp_path / "cmp" / MANIFEST_FILE).read_text())["runs"]
    assert run["status"] == "failed" and "the run crashed" in run["error"]
