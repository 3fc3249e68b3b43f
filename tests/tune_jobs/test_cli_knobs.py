"""`tune-jobs run` knobs: --range/--choice, --method-opt, --metric/--mode, --track mlflow, and
--init-from taking the source's network; each through the CLI on a tiny MNIST folder."""

from __future__ import annotations

import json

import pytest

from analysis.layout import MANIFEST_FILE, RUN_FILE
from analysis.results import load_experiment
from search_spaces.methods import METHODS
from search_spaces.space import Choice, Float, Int
from tune_jobs.cli import main
from tune_jobs.jobs import get_job
from tune_jobs.options import RunOptions, prepare, space_and_init


def _run(*args: str, data, storage) -> list[str]:
    return ["run", *args, "--data-dir", str(data), "--storage", str(storage)]


def test_a_replaced_dimension_keeps_its_type_and_grids_its_ends_and_midpoint(tmp_path):
    options = RunOptions(
        "mnist-l2", storage=str(tmp_path),
        ranges={"lr": "0.01:0.16:log", "channels": "10:13", "conv_layers": "2:3",
                "dropout": "0.1:0.5"},
        choices={"optimizer": "sgd,adam,sgd"},
    )  # fmt: skip
    space = prepare(options).space
    lr = space.dimensions["lr"]
    assert isinstance(lr, Float) and lr.log and (lr.low, lr.high) == (0.01, 0.16)
    assert lr.grid == pytest.approx((0.01, 0.04, 0.16))  # the log midpoint
    assert space.dimensions["channels"] == Int(10, 13, grid=(10, 12, 13))  # 11.5 rounds to 12
    assert space.dimensions["conv_layers"] == Int(2, 3, grid=(2, 3))  # midpoint deduplicated
    assert space.dimensions["dropout"] == Float(0.1, 0.5, grid=(0.1, 0.3, 0.5))
    assert space.dimensions["optimizer"] == Choice(("sgd", "adam"))
    assert "channels" not in space.fixed and "optimizer" not in space.fixed  # were fixed


@pytest.mark.parametrize(
    ("metric", "mode", "chosen"),
    [
        (None, None, ("val_acc", "max")),
        ("train_loss", None, ("train_loss", "min")),
        ("val_acc", "min", ("val_acc", "min")),
    ],
)
def test_the_metric_and_its_mode_reach_the_method(metric, mode, chosen, tmp_path):
    prepared = prepare(
        RunOptions("mnist-l2", method="asha", metric=metric, mode=mode, storage=str(tmp_path))
    )
    assert (prepared.settings.metric, prepared.settings.mode) == chosen
    assert (prepared.job.metric, prepared.job.mode) == chosen


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--range", "colour=1:2"], "unknown hyperparameter 'colour'"),
        (["--choice", "colour=a,b"], "unknown hyperparameter 'colour'"),
        (["--range", "lr=0.01:0.1", "--set", "lr=0.05"], "lr: given both --set and --range"),
        (["--range", "width=8:16", "--choice", "width=8,16"], "given both --range and --choice"),
        (["--range", "dropout=0.1:1.0"], "dropout=1.0 is invalid"),  # checked at both ends
        # Its ends and midpoint are odd; a searcher would also sample 4 and 6.
        (["--range", "kernel_size=3:7"], "kernel_size=4 is invalid"),
        (["--range", "lr=0.1:0.01"], "needs LOW < HIGH"),
        (["--range", "dropout=0:0.5:log"], "a log range needs LOW > 0"),
        (["--range", "lr=0.01"], "KEY=LOW:HIGH or KEY=LOW:HIGH:log"),
        (["--range", "optimizer=sgd:adam"], "use --choice optimizer"),
        (["--choice", "width=64"], "needs two or more values"),
        (["--choice", "optimizer=sgd,bogus"], "optimizer='bogus' is invalid"),
        (["--method-opt", "eta=2"], "method grid has no knob 'eta'; its knobs: none"),
        (["--method", "asha", "--method-opt", "reduction_factor=1"],
         "reduction_factor=1 is not an integer >= 2; its knobs: grace_period, reduction_factor"),
        (["--method", "asha", "--method-opt", "grace_period=20"], "grace_period=20 exceeds"),
        (["--method-opt", "eta"], "--method-opt expects KNOB=VALUE"),
        (["--metric", "test_acc"], "reports for selection: val_acc, val_loss, train_loss"),
        (["--track", "wandb"], "--track expects mlflow or mlflow=TRACKING_URI"),
    ],
)  # fmt: skip
def test_bad_knobs_exit_2_naming_the_problem_and_write_nothing(args, named, tmp_path, capsys):
    assert main(["run", "mnist-l2", *args, "--storage", str(tmp_path / "results")]) == 2
    assert named in capsys.readouterr().err
    assert not (tmp_path / "results").exists()


def test_track_without_mlflow_exits_2_with_the_pip_command(tmp_path, capsys, monkeypatch):
    import tune_jobs.tracking

    real = tune_jobs.tracking.importlib.util.find_spec
    monkeypatch.setattr(
        tune_jobs.tracking.importlib.util, "find_spec",
        lambda name, *a: None if name == "mlflow" else real(name, *a),
    )  # fmt: skip
    assert main(["run", "mnist-l2", "--track", "mlflow", "--storage", str(tmp_path / "r")]) == 2
    assert "pip install 'tune-jobs[track]'" in capsys.readouterr().err


def test_methods_lists_every_knob_with_its_type_and_default(capsys):
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    for method in METHODS.values():
        for knob in method.knobs:
            assert f"--method-opt {knob.name} ({knob.kind.__name__}, default {knob.default}" in out


@pytest.mark.slow  # Ray runs: tens of seconds on two cores
def test_ranges_knobs_metric_and_mlflow_tracking_in_one_run(ray_local, mnist_dir, tmp_path, capsys):
    from mlflow.tracking import MlflowClient

    args = _run(
        "mnist-l2", "--name", "knobs", "--method", "asha", "--samples", "2", "--max-epochs", "2",
        "--set", "lr=0.1", "--set", "weight_decay=0.0001", "--range", "dropout=0.1:0.5",
        "--choice", "width=16,32", "--method-opt", "grace_period=2",
        "--method-opt", "reduction_factor=2", "--metric", "val_loss", "--track", "mlflow",
        data=mnist_dir, storage=tmp_path,
    )  # fmt: skip
    code = main(args)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "val_loss = " in out and f"sqlite:///{tmp_path}/mlflow.db" in out
    folder = tmp_path / "knobs"
    record = json.loads((folder / RUN_FILE).read_text())
    assert record["settings"]["metric"] == "val_loss" and record["settings"]["mode"] == "min"
    assert record["settings"]["options"] == {"grace_period": 2, "reduction_factor": 2}
    options = RunOptions(**record["options"])  # what resume rebuilds the space from
    space, _ = space_and_init(options, get_job("mnist-l2"))
    assert space.dimensions == {
        "dropout": Float(0.1, 0.5, grid=(0.1, 0.3, 0.5)),
        "width": Choice((16, 32)),
    }
    grid = load_experiment(folder)
    assert len(grid) == 2
    for trial in grid:
        assert 0.1 <= trial.config["dropout"] <= 0.5 and trial.config["width"] in (16, 32)

    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    experiment = client.get_experiment_by_name("knobs")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == len(grid)  # one MLflow run per trial
    by_trial = {trial.trial_id: trial for trial in grid}
    for run in runs:
        # Ray names a trial <trainable>_<trial id>, the id itself being <experiment>_<number>.
        trial = by_trial["_".join(run.data.tags["trial_name"].split("_")[-2:])]
        history = client.get_metric_history(run.info.run_id, "val_loss")
        reported = trial.metrics_dataframe
        assert [m.step for m in sorted(history, key=lambda m: m.step)] == [1, 2]
        assert sorted(m.value for m in history) == sorted(reported["val_loss"].tolist())
        assert float(run.data.params["dropout"]) == trial.config["dropout"]
        assert run.data.tags["method"] == "asha" and run.data.tags["metric"] == "val_loss"
        assert json.loads(run.data.tags["ranges"]) == {"dropout": "0.1:0.5"}

    assert main(["report", str(folder), "--out", str(tmp_path / "report")]) == 0
    assert "selection metric `val_loss` (min)" in (tmp_path / "report" / "report.md").read_text()


@pytest.mark.slow  # Ray runs: tens of seconds on two cores
def test_compare_applies_a_knob_to_the_methods_that_declare_it(
    ray_local, mnist_dir, tmp_path, capsys
):
    args = [
        "compare", "mnist-l2", "--methods", "asha,random", "--smoke-test", "--budget-epochs",
        "2", "--method-opt", "reduction_factor=2", "--name", "cmp",
        "--data-dir", str(mnist_dir), "--storage", str(tmp_path),
    ]  # fmt: skip
    assert main([*args[:-4], "--method-opt", "eta=2", *args[-4:]]) == 2
    assert "no method here declares it" in capsys.readouterr().err
    assert main(args) == 0
    assert "--method-opt reduction_factor: ignored by random" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "cmp" / MANIFEST_FILE).read_text())
    assert manifest["method_options"] == {"asha": {"reduction_factor": "2"}, "random": {}}
    assert manifest["metric"] == "val_acc" and manifest["mode"] == "max"
    asha = json.loads((tmp_path / "cmp" / "asha-seed0" / RUN_FILE).read_text())
    assert asha["settings"]["options"] == {"reduction_factor": 2}


@pytest.mark.slow  # Ray runs: tens of seconds on two cores
def test_init_from_takes_the_source_network_unless_set(ray_local, mnist_dir, tmp_path, capsys):
    source = _run("mnist-l2", "--smoke-test", "--name", "l2", data=mnist_dir, storage=tmp_path)
    assert main(source) == 0
    source_width = load_experiment(tmp_path / "l2")[0].config["width"]
    assert source_width != get_job("mnist-l1").space().fixed["width"]  # the case this is about
    capsys.readouterr()
    init = ["--smoke-test", "--init-from", str(tmp_path / "l2")]
    refused = _run("mnist-l1", *init, "--set", "width=128", data=mnist_dir, storage=tmp_path)
    assert main(refused) == 2
    assert f"width: source {source_width}, this run 128" in capsys.readouterr().err
    assert main(_run("mnist-l1", *init, "--name", "l1", data=mnist_dir, storage=tmp_path)) == 0
    out = capsys.readouterr().out
    assert f"takes the source trial's network: width={source_width}" in out
    trial = load_experiment(tmp_path / "l1")[0]
    assert trial.config["width"] == source_width
    assert trial.metrics_dataframe["init_trial"].notna().all()


class _StopBeforeTrials(Exception):
    pass


def _run_file_of(options: RunOptions, tmp_path, monkeypatch) -> dict:
    """The run file `execute` writes for `options`, stopped before any trial starts."""
    import tune_jobs.execute

    class Tuner:
        def fit(self):
            raise _StopBeforeTrials

    prepared = prepare(options)
    monkeypatch.setattr(tune_jobs.execute, "check_storage", lambda storage: None)
    monkeypatch.setattr(tune_jobs.execute, "build_tuner", lambda *args: Tuner())
    monkeypatch.setattr("ray.is_initialized", lambda: False)
    with pytest.raises(_StopBeforeTrials):
        tune_jobs.execute.execute(prepared, data=None)
    return json.loads((tmp_path / prepared.name / RUN_FILE).read_text())


def test_the_run_file_records_the_log_scales_of_the_runs_own_space(tmp_path, monkeypatch):
    options = RunOptions(
        job="mnist-l2", storage=str(tmp_path), ranges={"lr": "0.01:0.3", "width": "32:256:log"}
    )
    record = _run_file_of(options, tmp_path, monkeypatch)
    assert "lr" not in record["log_scaled"]  # log in the job's space, linear in this run's
    assert "width" in record["log_scaled"]


def test_the_run_file_records_the_jobs_own_training_subset(tmp_path, monkeypatch):
    record = _run_file_of(
        RunOptions(job="mnist-bench", storage=str(tmp_path)), tmp_path, monkeypatch
    )
    assert record["options"]["train_subset"] == get_job("mnist-bench").train_subset == 4000
