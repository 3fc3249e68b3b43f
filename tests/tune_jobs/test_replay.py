"""`tune-jobs replay build` and `tune-jobs compare --replay`: tables from finished grid runs,
replayed by Ray Tune's real searchers and schedulers, PBT included, and the statistics
(regret, Friedman and Nemenyi)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from ray import tune
from scipy import stats

from analysis import compare, significance
from analysis.compare import anytime
from analysis.layout import MANIFEST_FILE
from analysis.report import write_report
from analysis.results import load_compare
from trainables.replay import REPLAY_CONFIG, REPLAY_SECONDS, read_table, write_table
from trainables.reporting import report
from tune_jobs.cli import main
from tune_jobs.execute import execute
from tune_jobs.options import RunOptions, prepare
from tune_jobs.replay import replay_job

EPOCHS = 4
LRS = [0.05, 0.1, 0.15]
CONFIGS = 2 * len(LRS)


def recorded(config):
    """A cheap 'training' whose accuracy depends on the config; dropout 0.5 can be made to fail."""
    if config.get("fail") and config["dropout"] == 0.5:
        raise RuntimeError("this trial fails")
    quality = 1.0 - abs(config["lr"] - 0.12) - 0.2 * config["dropout"]
    for epoch in range(1, config["epochs"] + 1):
        accuracy = quality * epoch / config["epochs"]
        report({"epoch": epoch, "val_acc": accuracy, "test_acc": accuracy - 0.01}, {"e": epoch})


def record_grid(folder, name, fail=False):
    tuner = tune.Tuner(
        tune.with_resources(recorded, {"cpu": 0.5}),
        param_space={
            "lr": tune.grid_search(LRS),
            "dropout": tune.grid_search([0.25, 0.5]),
            "epochs": EPOCHS,
            "fail": fail,
        },
        tune_config=tune.TuneConfig(metric="val_acc", mode="max"),
        run_config=tune.RunConfig(storage_path=str(folder), name=name, verbose=0),
    )
    tuner.fit()
    return folder / name


@pytest.fixture(scope="module")
def table(ray_local, tmp_path_factory):
    folder = tmp_path_factory.mktemp("recorded")
    experiment = record_grid(folder, "grid")
    path = folder / "grid.parquet"
    assert main(["replay", "build", str(experiment), "--out", str(path)]) == 0
    return path


@pytest.mark.slow
def test_build_writes_every_config_and_epoch(table):
    replay = read_table(table)
    assert replay.epochs == EPOCHS and sorted(replay.tuned) == ["dropout", "lr"]
    assert len(replay.configs()) == CONFIGS and len(replay.frame) == CONFIGS * EPOCHS
    assert (replay.frame["seconds"] > 0).all()


@pytest.mark.slow
def test_build_refuses_an_unfinished_experiment_naming_its_trials(ray_local, tmp_path, capsys):
    experiment = record_grid(tmp_path, "broken", fail=True)
    out = tmp_path / "broken.parquet"
    assert main(["replay", "build", str(experiment), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"3 of {CONFIGS} trials did not train their full epochs" in err and "(error)" in err
    failed = [t.trial_id for t in tune.ExperimentAnalysis(str(experiment)).trials if t.error_file]
    assert len(failed) == 3 and all(trial_id in err for trial_id in failed)
    assert not out.exists()


@pytest.mark.slow
def test_compare_replays_three_methods_three_seeds_and_computes_the_verdict(table, tmp_path):
    code = main(
        [
            "compare", "mnist-l2", "--replay", str(table), "--methods", "random,asha,tpe",
            "--seeds", "3", "--max-epochs", "2", "--budget-epochs", "6", "--cpus-per-trial", "0.25",
            "--storage", str(tmp_path), "--name", "r",
        ]
    )  # fmt: skip
    assert code == 0
    manifest = json.loads((tmp_path / "r" / MANIFEST_FILE).read_text())
    assert manifest["replay"]["table"] == str(table) and manifest["replay"]["configs"] == CONFIGS
    assert manifest["budget_epochs"] == 6
    assert [r["status"] for r in manifest["runs"]] == ["finished"] * 9
    # Replayed epochs are microseconds: no TensorBoard logger flushing to disk after each one.
    assert not list((tmp_path / "r").rglob("events.out.tfevents*"))
    assert list((tmp_path / "r").rglob("result.json"))

    _, runs, _, curves = load_compare(tmp_path / "r", time_column=REPLAY_SECONDS)
    assert set(curves[REPLAY_CONFIG]) <= set(range(CONFIGS))
    history = anytime(curves)
    regrets = significance.regret_at_budgets(history, [2, 6])
    summary = significance.summarize_regret(regrets)
    assert len(summary) == 6 and summary["regret_median"].between(0, 1).all()
    verdict = significance.friedman_verdict(regrets, 6)
    assert set(verdict.average_ranks.index) == {"random", "asha", "tpe"}
    assert verdict.seeds == 3 and verdict.statement().startswith("At 6")
    # The verdict is Friedman's test over these runs' regrets at 6 epochs (1 when all tie).
    at_6 = regrets[np.isclose(regrets["budget"], 6)]
    matrix = at_6.pivot_table(index="seed", columns="method", values="regret")
    tied = (matrix.nunique(axis=1) == 1).all()
    expected_p = 1.0 if tied else stats.friedmanchisquare(*matrix.T.to_numpy()).pvalue
    assert verdict.friedman_p == pytest.approx(expected_p)
    # Simulated seconds: each report's clock is the table's recorded seconds of its configuration
    # up to that epoch, and the anytime curve adds those up (not wall time).
    recorded = read_table(table).frame.sort_values(["config_id", "epoch"])
    clock = recorded.groupby("config_id")["seconds"].cumsum()
    expected = clock.set_axis(pd.MultiIndex.from_frame(recorded[["config_id", "epoch"]]))
    keys = list(zip(curves[REPLAY_CONFIG], curves["epoch"], strict=True))
    np.testing.assert_allclose(curves[REPLAY_SECONDS], expected.loc[keys].to_numpy())
    for _, run in curves.groupby(["method", "seed"]):
        spent = run.groupby("trial_id")[REPLAY_SECONDS].max().sum()
        assert run["cum_seconds"].max() == pytest.approx(spent)
    assert compare.average_ranks(history, [6]).shape == (1, 3)

    files = write_report([tmp_path / "r"], tmp_path / "report")
    text = (tmp_path / "report" / "report.md").read_text()
    assert "Which differences are significant" in text and "Friedman" in text
    assert any(f.name.endswith("critical-difference.png") for f in files)


def synthetic_table(path, lrs, dropouts, epochs):
    """A replay table written directly: val_acc rises with epochs to a ceiling set by the config."""
    rows = []
    for config_id, (lr, dropout) in enumerate((a, b) for a in lrs for b in dropouts):
        ceiling = 0.99 - abs(lr - 0.12) - 0.1 * dropout
        for epoch in range(1, epochs + 1):
            accuracy = ceiling * (1 - 0.5**epoch)
            rows.append(
                {
                    "config_id": config_id, "epoch": epoch, "val_acc": accuracy,
                    "test_acc": accuracy, "seconds": 2.0, "config/lr": lr,
                    "config/dropout": dropout,
                }
            )  # fmt: skip
    meta = {"job": "mnist-l2", "tuned": ["lr", "dropout"], "fixed": {"epochs": epochs}}
    write_table(pd.DataFrame(rows), meta, path)
    return path


@pytest.mark.slow
def test_pbt_exploits_and_explores_against_the_replay(ray_local, tmp_path):
    table = synthetic_table(tmp_path / "t.parquet", [0.02, 0.05, 0.1, 0.2], [0.25, 0.5], 9)
    options = RunOptions(
        job="mnist-l2", method="pbt", samples=8, cpus_per_trial=0.25, storage=str(tmp_path),
        name="pbt", seed=1,
    )  # fmt: skip
    job = replay_job(options, str(table))
    prepared = prepare(options, job)
    results = execute(prepared, job.load_data())
    assert results.num_errors == 0 and len(results) == 8
    # PBT logs each exploit (a trial restored from a donor's checkpoint, its config perturbed).
    exploits = (tmp_path / "pbt" / "pbt_global.txt").read_text().splitlines()
    assert exploits
    # Restored trials go on from the donor's epoch to the last one. (The last result, not the
    # metrics_dataframe: Ray's JSON logger can drop lines of a trial restored within its sync
    # period, see docs/hpo-methods.md.)
    assert all(result.metrics["epoch"] == 9 for result in results)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--train-subset", "10"], "--train-subset does not apply to a replay"),
        (["--max-epochs", "9"], f"the table recorded {EPOCHS} epochs only"),
        (["--set", "batch_size=128"], "not in the table"),
    ],
)
def test_compare_replay_bad_input_exits_2(table, args, named, tmp_path, capsys):
    argv = ["compare", "mnist-l2", "--replay", str(table), "--methods", "random"]
    assert main([*argv, *args, "--storage", str(tmp_path), "--name", "r"]) == 2
    assert named in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_replay_space_is_the_tables(table):
    job = replay_job(RunOptions(job="mnist-l2"), str(table))
    space = job.space()
    assert sorted(space.dimensions) == ["dropout", "lr"]
    assert list(space.dimensions["lr"].grid) == LRS and space.dimensions["lr"].log
    assert (space.dimensions["dropout"].low, space.dimensions["dropout"].high) == (0.25, 0.5)
    assert job.max_epochs == EPOCHS


@pytest.mark.slow
def test_hyperband_pauses_and_resumes_replayed_trials_where_they_stopped(ray_local, tmp_path):
    table = synthetic_table(tmp_path / "t.parquet", [0.02, 0.05, 0.1, 0.2], [0.25, 0.5], 9)
    options = RunOptions(
        job="mnist-l2", method="hyperband", samples=8, cpus_per_trial=0.5,
        storage=str(tmp_path), name="hb", seed=0,
    )  # fmt: skip
    job = replay_job(options, str(table))
    results = execute(prepare(options, job), job.load_data())
    assert results.num_errors == 0
    longest = 0
    for result in results:
        history = result.metrics_dataframe
        # A resumed trial goes on from its checkpoint: epochs 1, 2, ... with none replayed twice.
        assert list(history["epoch"]) == list(range(1, len(history) + 1))
        np.testing.assert_allclose(history[REPLAY_SECONDS], 2.0 * history["epoch"])
        longest = max(longest, len(history))
    # Trials were paused at a rung (their position saved on demand) and the best ran on to the end.
    assert any((tmp_path / "hb").glob("*/checkpoint_*"))
    assert longest == 9
