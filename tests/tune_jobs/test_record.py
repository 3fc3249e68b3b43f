"""`tune-jobs replay record`: a resumable recording of grid + Sobol configurations x training
seeds, refused when the table was recorded with other arguments; replays refuse a table whose
space is not the job's."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from search_spaces.mnist import mnist_bench_space
from search_spaces.sobol import describe_space, grid_configs, sobol_configs
from search_spaces.space import Choice, Float, SearchSpace
from trainables.replay import read_table, write_table
from tune_jobs import record as rec
from tune_jobs.cli import main
from tune_jobs.errors import BadInputError
from tune_jobs.jobs import JOBS, Job
from tune_jobs.options import RunOptions
from tune_jobs.replay import replay_job

FAKE_SPACE = SearchSpace(
    {"lr": Float(1e-3, 1.0, grid=(0.01, 0.1), log=True), "opt": Choice(("a", "b"))}
)


class FakeData:
    def sizes(self):
        return {"train": 10, "val": 5, "test": 5}

    def subset(self, train=None, evaluation=None):
        return self


def validate(config):
    unknown = set(config) - {"lr", "opt", "epochs", "seed"}
    if unknown or not 0 < config.get("lr", 0.1) <= 1:
        raise ValueError(f"bad config {config}")


@pytest.fixture
def fake_job(monkeypatch):
    """A registered job whose 'training' is stubbed: chunks yield rows without Ray."""
    job = Job(
        name="fake-record", description="stub", trainable=lambda config, data: None,
        space=lambda: FAKE_SPACE, load_data=lambda data_dir=None: FakeData(), validate=validate,
        coerce=lambda key, value: value, max_epochs=2,
    )  # fmt: skip
    monkeypatch.setitem(JOBS, job.name, job)
    monkeypatch.setattr(rec, "ensure_ray", lambda address=None: None)
    trained: list[list[tuple[int, int]]] = []

    def fake_execute(run, data):
        trained.append([(p["lr"], p["seed"]) for p in run.plan.search_alg._points_to_evaluate])

    def fake_rows(experiment, configs, pairs):
        rows = [
            {"config_id": c, "train_seed": s, "epoch": e, "val_acc": 0.1 * e + 0.01 * s,
             "seconds": 1.0, **{f"config/{k}": v for k, v in configs[c].items()}}
            for c, s in pairs for e in (1, 2)
        ]  # fmt: skip
        return pd.DataFrame(rows), 0

    monkeypatch.setattr(rec, "execute", fake_execute)
    monkeypatch.setattr(rec, "rows_of_chunk", fake_rows)
    monkeypatch.setattr(rec, "unfinished", lambda results: 0)
    return trained


def request(out: Path, storage: Path, **changes) -> rec.RecordRequest:
    options = RunOptions(
        job="fake-record", storage=str(storage), max_epochs=changes.pop("epochs", None)
    )
    return rec.RecordRequest(
        options, out, **{"configs": 3, "train_seeds": 2, "chunk_size": 4, **changes}
    )


def pairs(path: Path) -> set[tuple[int, int]]:
    frame = read_table(path).frame
    return set(zip(frame["config_id"], frame["train_seed"], strict=True))


def test_an_interrupted_recording_resumes_with_only_the_missing_pairs(
    fake_job, tmp_path, monkeypatch
):
    whole = tmp_path / "whole.parquet"
    rec.record(request(whole, tmp_path))
    assert [len(chunk) for chunk in fake_job] == [4, 4, 4, 2]  # (4 grid + 3 Sobol) x 2 seeds
    assert pairs(whole) == {(c, s) for c in range(7) for s in range(2)}
    meta = read_table(whole).meta
    assert meta["configs"] == {"grid": 4, "sobol": 3} and meta["train_seeds"] == [0, 1]
    assert meta["recorded_on"][0]["trials"] == 14 and meta["epochs"] == 2

    fake_job.clear()
    real_rows = rec.rows_of_chunk

    def interrupted(experiment, configs, chunk):
        if len(fake_job) == 2:  # the second chunk trains, then Ctrl-C before it is written
            raise KeyboardInterrupt
        return real_rows(experiment, configs, chunk)

    monkeypatch.setattr(rec, "rows_of_chunk", interrupted)
    resumed = tmp_path / "resumed.parquet"
    with pytest.raises(KeyboardInterrupt):
        rec.record(request(resumed, tmp_path))
    assert len(pairs(resumed)) == 4  # the first chunk only
    assert not list(tmp_path.glob(".*.partial"))
    monkeypatch.setattr(rec, "rows_of_chunk", real_rows)
    fake_job.clear()
    rec.record(request(resumed, tmp_path))
    assert sum(len(chunk) for chunk in fake_job) == 10  # only the missing pairs trained
    assert pairs(resumed) == pairs(whole)
    assert len(read_table(resumed).frame) == len(read_table(whole).frame)
    fake_job.clear()
    rec.record(request(resumed, tmp_path))  # complete: nothing to train
    assert fake_job == []


def test_the_configurations_are_the_grid_then_sobol_points_each_validated(fake_job, tmp_path):
    base, configs = rec.plan_recording(request(tmp_path / "t.parquet", tmp_path, configs=5))
    assert configs == grid_configs(FAKE_SPACE) + sobol_configs(FAKE_SPACE, 5, 0)
    assert all(1e-3 <= c["lr"] <= 1.0 and c["opt"] in ("a", "b") for c in configs)


def test_a_table_recorded_with_other_arguments_is_refused(fake_job, tmp_path, capsys):
    out = tmp_path / "t.parquet"
    rec.record(request(out, tmp_path))
    with pytest.raises(BadInputError, match="epochs: table 2, now 1"):
        rec.record(request(out, tmp_path, epochs=1))
    with pytest.raises(BadInputError, match="sobol_seed: table 0, now 4"):
        rec.record(request(out, tmp_path, sobol_seed=4))
    code = main(
        ["replay", "record", "fake-record", "--configs", "3", "--train-seeds", "2", "--out",
         str(out), "--storage", str(tmp_path), "--no-grid"]
    )  # fmt: skip
    assert code == 2 and "grid: table True, now False" in capsys.readouterr().err


def bench_table(path: Path, space: SearchSpace, epochs: int) -> Path:
    rows = [
        {"config_id": 0, "train_seed": 0, "epoch": e, "val_acc": 0.5, "seconds": 1.0,
         **{f"config/{k}": v for k, v in grid_configs(space)[0].items()}}
        for e in range(1, epochs + 1)
    ]  # fmt: skip
    meta = {"job": "mnist-bench", "tuned": list(space.dimensions), "fixed": {"epochs": epochs},
            "space": describe_space(space)}  # fmt: skip
    return write_table(pd.DataFrame(rows), meta, path)


def test_a_replay_refuses_a_table_whose_space_or_epochs_are_not_the_jobs(tmp_path, capsys):
    space = mnist_bench_space()
    good = bench_table(tmp_path / "good.parquet", space, 9)
    assert replay_job(RunOptions(job="mnist-bench"), str(good)).max_epochs == 9
    short = bench_table(tmp_path / "short.parquet", space, 3)
    with pytest.raises(BadInputError, match="epochs: table 3, job 9"):
        replay_job(RunOptions(job="mnist-bench"), str(short))
    narrow = dict(space.dimensions, lr=Float(1e-3, 0.1, grid=(1e-3, 1e-1), log=True))
    other = bench_table(tmp_path / "other.parquet", SearchSpace(narrow, space.fixed), 9)
    code = main(["compare", "mnist-bench", "--replay", str(other), "--methods", "random",
                 "--storage", str(tmp_path)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "does not match job mnist-bench's space: lr: table" in err
    assert err.count("\n") == 1  # one message


@pytest.mark.slow
def test_a_real_recording_resumes_and_its_replay_draws_recorded_seeds(
    ray_local, mnist_dir, tmp_path, monkeypatch
):
    out, runs = tmp_path / "bench.parquet", []
    real_execute = rec.execute

    def stop_after_one_chunk(run, data):
        if runs:
            raise KeyboardInterrupt
        runs.append(run.name)
        return real_execute(run, data)

    arguments = [
        "replay", "record", "mnist-bench", "--configs", "2", "--train-seeds", "2", "--no-grid",
        "--max-epochs", "1", "--train-subset", "60", "--chunk-size", "2", "--concurrency", "2",
        "--cpus-per-trial", "0.5", "--data-dir", str(mnist_dir), "--storage", str(tmp_path / "r"),
        "--out", str(out),
    ]  # fmt: skip
    monkeypatch.setattr(rec, "execute", stop_after_one_chunk)
    with pytest.raises(KeyboardInterrupt):
        main(arguments)
    assert len(pairs(out)) == 2
    monkeypatch.setattr(rec, "execute", real_execute)
    assert main(arguments) == 0
    assert pairs(out) == {(c, s) for c in range(2) for s in range(2)}
    table = read_table(out)
    assert table.meta["data_sizes"]["train"] == 60 and table.epochs == 1
    assert set(table.tuned) == set(mnist_bench_space().dimensions)

    code = main(
        ["compare", "mnist-bench", "--replay", str(out), "--methods", "random", "--seeds", "2",
         "--max-epochs", "1", "--budget-epochs", "6", "--cpus-per-trial", "0.5",
         "--storage", str(tmp_path), "--name", "replayed"]
    )  # fmt: skip
    assert code == 0
    drawn = pd.concat(
        pd.read_json(p, lines=True) for p in (tmp_path / "replayed").glob("*/*/result.json")
    )
    assert len(drawn) == 12 and set(drawn["replay_train_seed"]) == {0, 1}  # both seeds drawn
    assert set(drawn["replay_config"]) <= {0, 1}


def test_the_bench_job_trains_on_its_default_subset_unless_told_otherwise(mnist_dir):
    from dataclasses import replace

    from tune_jobs.jobs import get_job
    from tune_jobs.options import load_data

    bench = get_job("mnist-bench")
    assert bench.max_epochs == 9 and bench.train_subset == 4000
    job = replace(bench, train_subset=100)  # the tiny files hold 300 training images
    options = RunOptions(job="mnist-bench", data_dir=str(mnist_dir))
    assert load_data(job, options).sizes()["train"] == 100
    assert load_data(job, replace(options, train_subset=50)).sizes()["train"] == 50
    assert load_data(bench, options).sizes()["val"] == 60  # evaluation sets stay whole
