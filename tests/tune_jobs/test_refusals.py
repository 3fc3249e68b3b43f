"""Issue 19: bad input is refused with exit 2 and one line, before data is read or Ray starts.

Every command's next expensive step (data load, Ray, the Tuner, the Jobs API) is replaced by a
tripwire, so a refusal that comes too late fails the test instead of running or hanging.
"""

from __future__ import annotations

import json

import pytest

from analysis.layout import RUN_FILE
from tune_jobs.errors import BadInputError
from tune_jobs.options import RunOptions, load_data, prepare

BAD_NAMES = ["../escape", "a/b", "", ".", "..", "bad\x01name", "tab\tname", "/abs"]


# Point 6 (and 12's empty name): a name is one folder under --storage, nothing else.
@pytest.mark.parametrize("command", ["run", "compare", "study", "submit"])
@pytest.mark.parametrize("name", BAD_NAMES)
def test_name_must_be_a_single_path_component(command, name, no_work, tmp_path, commands, refused):
    storage = tmp_path / "results"
    err = refused([*commands[command], "--storage", str(storage), "--name", name])
    assert "--name" in err and repr(name) in err
    assert list(tmp_path.iterdir()) == []  # nothing written, inside --storage or beside it


# Point 8: ranges bound what the trainable can build, and say the bound.
@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--set", "width=1e12"], "width=1000000000000 is invalid: must be an integer from 1"),
        (["--set", "channels=100000"], "channels=100000"),
        (["--set", "batch_size=1e9"], "batch_size=1000000000"),
        (["--set", "kernel_size=101"], "kernel_size=101"),
        (["--seed", "99999999999999999999"], "--seed must be an integer from 0 to 4294967295"),
        (["--seed", "-1"], "--seed must be an integer from 0 to 4294967295"),
        (
            ["--set", "width=4096", "--set", "channels=512"],
            "parameters; at most 100,000,000",
        ),
    ],
)
def test_sizes_beyond_what_fits_are_refused(argv, named, no_work, tmp_path, refused):
    err = refused(["run", "mnist-l2", "--storage", str(tmp_path / "r"), *argv])
    assert named in err
    assert not (tmp_path / "r").exists()


def test_config_bounds_state_their_limits():
    from trainables.cifar10 import CifarConfig
    from trainables.config import ConfigError
    from trainables.mnist import MnistConfig

    with pytest.raises(ConfigError, match="from 1 to 4096"):
        MnistConfig(width=4097)
    with pytest.raises(ConfigError, match="parameters"):
        MnistConfig(width=4096, channels=512)
    with pytest.raises(ConfigError, match="from 0 to 4294967295"):
        CifarConfig(seed=2**32, weights="none")
    with pytest.raises(ConfigError, match="batch_size"):
        CifarConfig(batch_size=10**9, weights="none")
    MnistConfig(seed=2**32 - 1, width=4096)  # the bounds themselves are allowed


@pytest.mark.parametrize(
    "values",
    [{}, {"batchnorm": True, "conv_layers": 4, "kernel_size": 3}, {"channels": 7, "width": 33}],
)
def test_parameter_estimate_counts_what_build_cnn_builds(values):
    from trainables.mnist import MnistConfig, build_cnn, parameter_count

    config = MnistConfig(**values)
    built = sum(p.numel() for p in build_cnn(config).parameters())
    assert parameter_count(config) == built


# Point 9: resources the cluster can never give would leave trials PENDING for ever.
def test_more_cpus_per_trial_than_this_machine_has_is_refused(
    no_work, tmp_path, monkeypatch, refused
):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    import ray

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    argv = ["run", "mnist-l2", "--storage", str(tmp_path), "--cpus-per-trial", "100"]
    err = refused(argv)
    assert "--cpus-per-trial 100" in err and "2 CPUs" in err


def test_more_cpus_per_trial_than_the_largest_node_is_refused_on_connect(
    tmp_path, monkeypatch, tripwire
):
    import ray

    import tune_jobs.execute as execute

    monkeypatch.setenv("RAY_ADDRESS", "10.1.2.3:6379")  # a cluster: this machine's CPUs don't count
    prepared = prepare(RunOptions(job="mnist-l2", storage=str(tmp_path), cpus_per_trial=8))
    nodes = [
        {"Alive": True, "Resources": {"CPU": 4.0}},
        {"Alive": True, "Resources": {"CPU": 6.0}},
        {"Alive": False, "Resources": {"CPU": 64.0}},
    ]
    monkeypatch.setattr(ray, "is_initialized", lambda: True)
    monkeypatch.setattr(ray, "nodes", lambda: nodes)
    monkeypatch.setattr(execute, "check_storage", lambda storage: None)
    monkeypatch.setattr(execute, "build_tuner", tripwire("the Tuner"))
    with pytest.raises(BadInputError, match="largest node has 6 CPUs"):
        execute.execute(prepared, data=None)
    assert not (tmp_path / prepared.name).exists()


def test_submit_refuses_more_cpus_per_trial_than_the_largest_node(tmp_path, monkeypatch, refused):
    import tune_jobs.cli.service as service

    class Client:
        def submit_job(self, **kwargs):
            raise AssertionError("submitted a job whose trials could never start")

    monkeypatch.setattr(service, "job_client", lambda url: Client())
    monkeypatch.setattr(service, "node_cpus", lambda url: [4.0, 2.0])
    argv = ["submit", "mnist-l2", "--storage", f"file://{tmp_path}", "--cpus-per-trial", "6"]
    argv += ["--address", "http://10.1.2.3:8265"]
    err = refused(argv)
    assert "--cpus-per-trial 6" in err and "largest node has 4 CPUs" in err


# Point 10: a results root that is a file, or below one.
@pytest.mark.parametrize("below", ["", "sub"])
def test_storage_that_is_a_file_or_below_one_is_refused(below, no_work, tmp_path, refused):
    file = tmp_path / "results.txt"
    file.write_text("not a folder\n")
    storage = file / below if below else file
    err = refused(["run", "mnist-l2", "--storage", str(storage)])
    assert f"{file} is a file" in err
    assert file.read_text() == "not a folder\n"


# Point 12: weak spots.
def test_train_subset_larger_than_the_split_says_so(mnist_dir, capsys):
    options = RunOptions(job="mnist-l2", data_dir=str(mnist_dir), train_subset=10**6)
    data = load_data(prepare(options).job, options)
    out = capsys.readouterr().out
    train = data.sizes()["train"]
    assert f"--train-subset 1000000 is larger than the training split ({train} images)" in out


@pytest.mark.parametrize(("method", "samples"), [("random", 2), ("grid", 1), ("asha", 2)])
def test_samples_are_capped_by_what_the_budget_can_train(method, samples, tmp_path, capsys):
    options = RunOptions(
        job="mnist-l2", method=method, samples=10**9, budget_epochs=2, storage=str(tmp_path)
    )
    prepared = prepare(options)
    assert prepared.plan.num_samples == samples
    assert "--samples 1000000000 capped to" in capsys.readouterr().out


def test_samples_within_the_budget_are_kept(tmp_path, capsys):
    options = RunOptions(
        job="mnist-l2", method="random", samples=3, budget_epochs=5, storage=str(tmp_path)
    )
    assert prepare(options).plan.num_samples == 3
    assert "capped" not in capsys.readouterr().out


def test_address_auto_says_which_cluster_it_joins(monkeypatch, capsys):
    from ray._private import services

    import tune_jobs.cluster.address as address

    monkeypatch.setattr(services, "canonicalize_bootstrap_address", lambda a: "10.1.2.3:6379")
    monkeypatch.setattr(address.socket, "create_connection", lambda *a, **k: _Closing())
    monkeypatch.setattr(address, "_gcs_answers", lambda *a: None)
    address.check_address("auto")
    out = capsys.readouterr().out
    assert "--address auto" in out and "10.1.2.3:6379" in out


class _Closing:
    def close(self) -> None:
        pass


def test_probe_transfer_refuses_another_jobs_experiment(tmp_path, refused):
    experiment = tmp_path / "mnist-run"
    experiment.mkdir()
    (experiment / RUN_FILE).write_text(json.dumps({"job": "mnist-l2", "options": {}}))
    err = refused(["probe", "transfer", str(experiment), "--out", str(tmp_path / "o")])
    assert "mnist-l2" in err and "cifar10-transfer" in err
    assert not (tmp_path / "o").exists()
