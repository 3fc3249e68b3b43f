"""`tune-jobs compare --replay TABLE --simulate`: Ray Tune's own searchers and schedulers driven on
a simulated clock, on the committed mnist-bench table (no Ray, no training)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from analysis.compare import run_scores
from analysis.layout import MANIFEST_FILE, SIMULATOR_ENGINE
from analysis.results import CUM_EPOCHS, load_compare
from search_spaces.methods import METHODS
from tune_jobs.cli import main
from tune_jobs.compare import plan_compare
from tune_jobs.options import RunOptions
from tune_jobs.replay import replay_job
from tune_jobs.simulate import curves_of, simulate_run

TABLE = str(Path(__file__).parents[2] / "benchmarks/tables/mnist-bench-192x3.parquet")
BUDGET = 58


def simulate(tmp_path, name, methods="all", seeds=1, seed=0, budget=BUDGET, extra=()):
    args = ["compare", "mnist-bench", "--replay", TABLE, "--simulate", "--methods", methods,
            "--seeds", str(seeds), "--seed", str(seed), "--budget-epochs", str(budget),
            "--storage", str(tmp_path), "--name", name, "--workers", "1", *extra]  # fmt: skip
    code = main(args)  # one process: whether this session runs Ray depends on the tests before
    return code, tmp_path / name


@pytest.fixture(scope="module")
def every_method(tmp_path_factory):
    """Every registered method, one seed, at a tenth of the grid's epochs."""
    code, folder = simulate(tmp_path_factory.mktemp("simulated"), "all")
    assert code == 0
    return folder


def test_every_method_runs_simulated_and_spends_the_budget_exactly(every_method):
    manifest = json.loads((every_method / MANIFEST_FILE).read_text())
    assert manifest["engine"] == SIMULATOR_ENGINE
    assert [run["method"] for run in manifest["runs"]] == list(METHODS)
    assert all(run["status"] == "finished" for run in manifest["runs"])
    _, runs, trials, curves = load_compare(every_method)
    epochs = curves.groupby("method")[CUM_EPOCHS].agg(["count", "max"])
    for method, row in epochs.iterrows():
        assert row["count"] == row["max"]  # cum_epochs counts every report once
        # Brackets and PBT's population are sized to fit the budget and may end below it;
        # methods that sample trials without end stop at the budget's last epoch.
        assert row["count"] <= BUDGET
        if method not in ("sha", "hyperband", "bohb", "pbt"):
            assert row["count"] == BUDGET, method
    counted = trials.groupby("method").size()
    assert runs.set_index("method")["trials"].to_dict() == counted.to_dict()
    scores = run_scores(curves)
    assert scores["score"].between(0.0, 1.0).all() and len(scores) == len(METHODS)


def test_a_paused_trial_resumes_where_it_stopped(every_method):
    _, _, _, curves = load_compare(every_method)
    for method in ("sha", "hyperband", "bohb", "asha", "grid"):
        for _, trial in curves[curves["method"] == method].groupby("trial_id"):
            epochs = trial.sort_values(CUM_EPOCHS)["epoch"].tolist()
            assert epochs == list(range(1, len(epochs) + 1)), method
    # Brackets paused trials and continued them later: some trial's epochs are not contiguous in
    # the run's order of reports.
    brackets = curves[curves["method"] == "hyperband"]
    assert (brackets.groupby("trial_id")[CUM_EPOCHS].agg(lambda s: s.max() - s.min() + 1)
            > brackets.groupby("trial_id").size()).any()  # fmt: skip


def test_pbt_continues_an_exploited_trial_from_its_donors_epoch_on_a_new_config(tmp_path):
    code, folder = simulate(tmp_path, "pbt", methods="pbt", budget=144)
    assert code == 0
    _, _, _, curves = load_compare(folder)
    exploited = 0
    for _, trial in curves.groupby("trial_id"):
        trial = trial.sort_values(CUM_EPOCHS)
        jumps = trial["epoch"].diff().fillna(1)
        changed = trial["replay_config"].ne(trial["replay_config"].shift()).iloc[1:]
        if (jumps != 1).any():
            exploited += 1
            assert changed.any()  # an exploit takes the donor's epoch with a perturbed config
    assert exploited > 0


def prepared_runs(tmp_path, methods, seeds=1, seed=0):
    base = RunOptions(job="mnist-bench", storage=str(tmp_path), budget_epochs=BUDGET, seed=seed)
    job = replay_job(base, TABLE)
    runs, _ = plan_compare(base, methods, seeds, "p", job)
    return runs, job.load_data()


def test_a_simulated_run_repeats_exactly_and_another_seed_differs(tmp_path):
    methods = ["asha", "tpe", "pbt"]
    first, table = prepared_runs(tmp_path / "a", methods)
    again, _ = prepared_runs(tmp_path / "b", methods)
    other, _ = prepared_runs(tmp_path / "c", methods, seed=1)
    columns = ["trial_index", "epoch", "replay_config", "replay_train_seed", "val_acc"]
    for a, b, c in zip(first, again, other, strict=True):
        run_a, run_b, run_c = (curves_of(simulate_run(r, table, 2)) for r in (a, b, c))
        pd.testing.assert_frame_equal(run_a[columns], run_b[columns])
        assert not run_a[columns].equals(run_c[columns])


def test_fewer_slots_run_fewer_trials_at_once(tmp_path):
    # A plan's searcher is spent by its run: each simulation gets its own.
    (run_one,), table = prepared_runs(tmp_path / "one", ["random"])
    (run_four,), _ = prepared_runs(tmp_path / "four", ["random"])
    one, four = (
        curves_of(simulate_run(run_one, table, 1)),
        curves_of(simulate_run(run_four, table, 4)),
    )
    # With one slot a trial's epochs are reported back to back; with four they interleave.
    assert (one["trial_index"].diff().fillna(0) != 0).sum() == one["trial_index"].nunique() - 1
    assert (four["trial_index"].diff().fillna(0) != 0).sum() > four["trial_index"].nunique()


@pytest.mark.parametrize(
    "extra, named",
    [
        (("--address", "127.0.0.1:6379"), "--address"),
        (("--storage", "s3://bucket/x"), "local path"),
    ],
)
def test_simulate_refuses_a_cluster_or_remote_storage(extra, named, tmp_path, capsys):
    args = ["compare", "mnist-bench", "--replay", TABLE, "--simulate", "--methods", "grid",
            "--storage", str(tmp_path), "--name", "x", *extra]  # fmt: skip
    assert main(args) == 2
    assert named in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_simulate_without_a_table_is_refused(tmp_path, capsys):
    args = ["compare", "mnist-l2", "--simulate", "--methods", "grid", "--storage", str(tmp_path)]
    assert main(args) == 2
    assert "--simulate needs --replay" in capsys.readouterr().err


def test_a_run_that_fails_is_recorded_and_the_others_still_run(tmp_path, monkeypatch):
    from tune_jobs import simulate as simulated

    real = simulated.simulate_run

    def fails_for_tpe(prepared, table, slots):
        if prepared.method == "tpe":
            raise RuntimeError("searcher broke")
        return real(prepared, table, slots)

    monkeypatch.setattr(simulated, "simulate_run", fails_for_tpe)
    code, folder = simulate(tmp_path, "partly", methods="random,tpe,asha")
    assert code == 1  # some runs failed
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    statuses = {run["method"]: (run["status"], run["error"]) for run in manifest["runs"]}
    assert statuses["tpe"] == ("failed", "RuntimeError: searcher broke")
    assert statuses["random"][0] == statuses["asha"][0] == "finished"
    _, runs, _, curves = load_compare(folder)
    assert set(curves["method"]) == {"random", "asha"}


def test_ctrl_c_keeps_the_finished_runs_and_marks_the_next_interrupted(tmp_path, monkeypatch):
    from tune_jobs import simulate as simulated

    real = simulated.simulate_run

    def interrupted_at_asha(prepared, table, slots):
        if prepared.method == "asha":
            raise KeyboardInterrupt
        return real(prepared, table, slots)

    monkeypatch.setattr(simulated, "simulate_run", interrupted_at_asha)
    code, folder = simulate(tmp_path, "stopped", methods="random,asha,tpe")
    assert code == 130
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    statuses = [(run["method"], run["status"]) for run in manifest["runs"]]
    assert statuses == [("random", "finished"), ("asha", "interrupted")]
    assert [p.name for p in (folder / "curves").iterdir()] == ["random-seed0.parquet"]


def test_a_simulated_compare_reports_like_a_replayed_one(every_method, tmp_path):
    assert main(["report", str(every_method), "--out", str(tmp_path / "report")]) == 0
    text = (tmp_path / "report" / "report.md").read_text()
    assert "replaying the curves of" in text and "seconds from `replay_seconds`" in text
    assert all(f"| {method} | 1 | 1 |" in text for method in METHODS)


def test_replay_model_replaces_the_tables_choice(tmp_path):
    from trainables.replay import read_table

    table = read_table(TABLE)
    assert table.meta["replay_model"] == "nearest"  # set by `replay use`, from the real runs
    recorded = table.frame.set_index(["config_id", "train_seed", "epoch"])["val_acc"]
    replayed = {}
    for model in ("nearest", "surrogate"):
        code, folder = simulate(tmp_path, model, methods="random", extra=("--replay-model", model))
        assert code == 0
        manifest, _, _, curves = load_compare(folder)
        assert manifest["replay"]["replay_model"] == model
        columns = [curves[c] for c in ("replay_config", "replay_train_seed", "epoch")]
        keys = list(zip(*columns, strict=True))
        replayed[model] = curves["val_acc"].to_numpy() - recorded.loc[keys].to_numpy()
    # Nearest replays the recorded curve of the configuration it snaps to; the surrogate
    # predicts between recorded configurations (random's draws are never recorded ones).
    assert abs(replayed["nearest"]).max() == 0
    assert abs(replayed["surrogate"]).max() > 0.01


def test_replay_model_without_a_table_is_refused(tmp_path, capsys):
    args = ["compare", "mnist-l2", "--replay-model", "nearest", "--methods", "grid",
            "--storage", str(tmp_path)]  # fmt: skip
    assert main(args) == 2
    assert "--replay-model needs --replay" in capsys.readouterr().err


def test_concurrency_caps_the_methods_that_honour_it_not_the_simulated_machine(tmp_path, capsys):
    # sha creates its whole bracket at once and ignores --concurrency on Ray's engine, where the
    # CPUs alone decide how many trials run: the simulator runs as many.
    extra = ("--concurrency", "1", "--cpus-per-trial", "0.5")
    code, _ = simulate(tmp_path, "cap", methods="sha", extra=extra)
    assert code == 0
    slots = int(os.cpu_count() // 0.5)
    assert slots > 1 and f"Simulated: {slots} trials at a time" in capsys.readouterr().out


def test_runs_simulated_by_two_processes_equal_those_simulated_by_one(tmp_path):
    # In a fresh process: one that runs Ray (as this test session may) forks no workers.
    args = ["compare", "mnist-bench", "--replay", TABLE, "--simulate", "--methods",
            "random,asha,pbt", "--seeds", "2", "--budget-epochs", str(BUDGET),
            "--storage", str(tmp_path)]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "tune_jobs.cli", *args, "--name", "two", "--workers", "2"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "2 runs at once" in done.stdout
    assert main([*args, "--name", "one", "--workers", "1"]) == 0
    two, one = (load_compare(tmp_path / name) for name in ("two", "one"))
    assert list(two[1]["method"]) == list(one[1]["method"])  # the manifest keeps the runs' order
    columns = ["method", "seed", "trial_index", "epoch", "replay_train_seed", "val_acc"]
    pd.testing.assert_frame_equal(two[3][columns], one[3][columns])


DIES_AT_ASHA = """
import os, sys
from tune_jobs import simulate
from tune_jobs.cli import main
real = simulate.simulate_run
def dies_at_asha(prepared, table, slots):
    if prepared.method == "asha":
        os._exit(9)  # as the kernel ends a process out of memory: no exception, no cleanup
    return real(prepared, table, slots)
simulate.simulate_run = dies_at_asha
sys.exit(main(sys.argv[1:]))
"""


def test_a_simulating_process_that_dies_fails_the_run_in_one_line(tmp_path):
    args = ["compare", "mnist-bench", "--replay", TABLE, "--simulate", "--methods",
            "asha,random", "--seeds", "2", "--budget-epochs", str(BUDGET),
            "--storage", str(tmp_path), "--name", "died", "--workers", "2"]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", DIES_AT_ASHA, *args], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 1, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert "failed: asha seed 0: the comparison stopped here: a simulating process died" in (
        done.stderr
    )
    (run,) = json.loads((tmp_path / "died" / MANIFEST_FILE).read_text())["runs"]
    assert (run["method"], run["status"]) == ("asha", "failed")
    assert "this run and the 3 after it were not recorded" in run["error"]


def test_workers_without_simulate_are_refused(tmp_path, capsys):
    args = ["compare", "mnist-bench", "--replay", TABLE, "--methods", "grid", "--workers", "2",
            "--storage", str(tmp_path), "--name", "x"]  # fmt: skip
    assert main(args) == 2
    assert "--workers needs --simulate" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
