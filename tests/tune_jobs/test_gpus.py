"""`--gpus-per-trial` on a machine without a GPU: refusals, the resources Tune is given, the
value a resume keeps or replaces, and its record in the run file and the compare manifest.

A GPU is pretended by patching the count the checks read; no trial runs.
"""

from __future__ import annotations

import json

import pytest
from ray import tune
from ray.tune.execution.placement_groups import resource_dict_to_pg_factory
from ray.tune.experiment import Trial
from ray.tune.trainable import wrap_function

import tune_jobs.cli.run
import tune_jobs.cli.service
import tune_jobs.compare
import tune_jobs.execute
import tune_jobs.options
import tune_jobs.study
from analysis.layout import MANIFEST_FILE, RUN_FILE
from tune_jobs.errors import BadInputError
from tune_jobs.options import RunOptions, prepare
from tune_jobs.resources import ResumeResources


@pytest.fixture
def gpus(monkeypatch):
    """Set the GPUs this machine seems to have (0 unless a test says otherwise)."""

    def pretend(count: float) -> None:
        monkeypatch.setattr(tune_jobs.options, "local_gpus", lambda: float(count))
        monkeypatch.setattr(tune_jobs.execute, "local_gpus", lambda: float(count))

    pretend(0)
    return pretend


@pytest.mark.parametrize("command", ["run", "compare", "study", "submit"])
@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("-0.5", "--gpus-per-trial must be a number >= 0, got -0.5"),
        ("1.5", "--gpus-per-trial 1.5: above 1 it must be a whole number of GPUs"),
        ("nan", "--gpus-per-trial must be a number >= 0, got nan"),
    ],
)
def test_gpu_shares_ray_cannot_place_are_refused(
    command, value, named, gpus, no_work, tmp_path, commands, refused
):
    gpus(8)  # the value itself is wrong, whatever the machine has
    argv = [*commands[command], "--storage", f"file://{tmp_path}", "--gpus-per-trial", value]
    assert named in refused(argv)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["run", "compare", "study"])
def test_gpus_on_a_machine_without_one_are_refused(
    command, gpus, no_work, tmp_path, commands, refused
):
    argv = [*commands[command], "--storage", str(tmp_path), "--gpus-per-trial", "0.25"]
    err = refused(argv)
    assert "--gpus-per-trial 0.25: this machine has no GPU" in err
    assert "leave --gpus-per-trial at 0" in err


def test_more_gpus_than_this_machine_has_are_refused(gpus, no_work, tmp_path, refused):
    gpus(2)
    argv = ["run", "mnist-l2", "--storage", str(tmp_path), "--gpus-per-trial", "4"]
    assert "this machine has 2 GPUs" in refused(argv)


@pytest.mark.parametrize(
    ("node_gpus", "named"), [([0.0, 0.0], "has no GPU"), ([1.0], "has 1 GPUs")]
)
def test_submit_refuses_gpus_the_cluster_lacks(node_gpus, named, tmp_path, monkeypatch, refused):
    import tune_jobs.cli.service as service

    class Client:
        def submit_job(self, **kwargs):
            raise AssertionError("submitted a job whose trials could never start")

    monkeypatch.setattr(service, "job_client", lambda url: Client())
    monkeypatch.setattr(service, "node_cpus", lambda url: [4.0] * len(node_gpus))
    monkeypatch.setattr(service, "node_gpus", lambda url: node_gpus)
    argv = ["submit", "mnist-l2", "--storage", f"file://{tmp_path}", "--gpus-per-trial", "2"]
    err = refused([*argv, "--address", "http://10.1.2.3:8265"])
    assert f"--gpus-per-trial 2: the cluster's largest node {named}" in err


def test_submit_forwards_gpus_per_trial_to_the_run():
    from tune_jobs.cli.service import run_argv

    argv = run_argv(RunOptions(job="mnist-l2", gpus_per_trial=0.25))
    assert argv[argv.index("--gpus-per-trial") + 1] == "0.25"


def test_gpus_on_a_cluster_without_one_are_refused_on_connect(tmp_path, monkeypatch, tripwire):
    import ray

    monkeypatch.setenv("RAY_ADDRESS", "10.1.2.3:6379")  # a cluster: this machine's GPUs don't count
    prepared = prepare(RunOptions(job="mnist-l2", storage=str(tmp_path), gpus_per_trial=1))
    nodes = [{"Alive": True, "Resources": {"CPU": 8.0}}, {"Alive": False, "Resources": {"GPU": 8}}]
    monkeypatch.setattr(ray, "is_initialized", lambda: True)
    monkeypatch.setattr(ray, "nodes", lambda: nodes)
    monkeypatch.setattr(tune_jobs.execute, "check_storage", lambda storage: None)
    monkeypatch.setattr(tune_jobs.execute, "build_tuner", tripwire("the Tuner"))
    with pytest.raises(BadInputError, match="largest node has no GPU"):
        tune_jobs.execute.execute(prepared, data=None)
    assert not (tmp_path / prepared.name).exists()


@pytest.mark.parametrize("command", ["run", "compare", "study"])
def test_gpus_a_cluster_lacks_are_refused_before_data_is_read(
    command, tmp_path, monkeypatch, commands, refused, tripwire
):
    import ray

    nodes = [{"Alive": True, "Resources": {"CPU": 8.0}}]
    monkeypatch.setattr(ray, "nodes", lambda: nodes)
    monkeypatch.setattr(tune_jobs.options, "check_address", lambda address: None)  # reachable
    monkeypatch.setattr(tune_jobs.execute, "ensure_ray", lambda address: None)  # and connected
    for module in (tune_jobs.cli.run, tune_jobs.compare, tune_jobs.study):
        monkeypatch.setattr(module, "load_data", tripwire("data load"), raising=False)
    argv = [*commands[command], "--storage", str(tmp_path), "--gpus-per-trial", "1"]
    err = refused([*argv, "--address", "10.1.2.3:6379"])
    assert "largest node has no GPU" in err
    assert list(tmp_path.iterdir()) == []


def _trial_resources(trainable) -> dict[str, float]:
    """The one bundle Tune requests for each trial of `trainable` (as Tune wraps it)."""
    (bundle,) = wrap_function(trainable).default_resource_request({}).bundles
    return bundle


@pytest.mark.parametrize(("given", "gpu"), [(None, 0.0), ("0.25", 0.25), ("2", 2.0)])
def test_the_tuner_asks_for_the_gpus_given(given, gpu, gpus, tmp_path):
    gpus(2)
    options = RunOptions(
        job="mnist-l2", storage=str(tmp_path), cpus_per_trial=0.5,
        **({} if given is None else {"gpus_per_trial": float(given)}),
    )  # fmt: skip
    tuner = tune_jobs.execute.build_tuner(prepare(options), data=None)
    resources = _trial_resources(tuner._local_tuner.converted_trainable)
    assert resources["CPU"] == 0.5 and resources.get("GPU", 0.0) == gpu


@pytest.fixture
def recorded_run(tmp_path):
    """An experiment folder as `resume` reads it, started with --gpus-per-trial 0.5."""
    folder = tmp_path / "gpu-run"
    folder.mkdir()
    (folder / "tuner.pkl").write_bytes(b"")  # Tuner.can_restore looks for it; never read here
    options = {"job": "mnist-l2", "storage": str(tmp_path), "gpus_per_trial": 0.5}
    record = {"options": options, "job": "mnist-l2", "method": "grid", "ended": None}
    (folder / RUN_FILE).write_text(json.dumps(record))
    return folder


class Restored(Exception):
    """Raised by the patched Tuner.restore with the trainable it was given."""


@pytest.fixture
def restore_spy(monkeypatch):
    monkeypatch.setattr(tune_jobs.execute, "load_data", lambda job, options: None)
    monkeypatch.setattr(tune_jobs.execute, "ensure_ray", lambda address: None)
    monkeypatch.setattr(tune_jobs.execute, "check_node_resources", lambda options: None)
    monkeypatch.setattr(tune_jobs.execute, "check_storage", lambda storage: None)

    def restore(path, trainable, **kwargs):
        raise Restored(trainable)

    monkeypatch.setattr(tune.Tuner, "restore", restore)


@pytest.mark.parametrize(("given", "gpu"), [(None, 0.5), (1.0, 1.0), (0.0, 0.0)])
def test_resume_keeps_the_recorded_gpus_unless_given(
    given, gpu, recorded_run, gpus, restore_spy, monkeypatch
):
    gpus(1)
    with pytest.raises(Restored) as restored:
        tune_jobs.execute.resume(str(recorded_run), gpus_per_trial=given)
    assert _trial_resources(restored.value.args[0]).get("GPU", 0.0) == gpu


def test_resume_on_a_machine_without_gpus_is_refused_before_data(
    recorded_run, gpus, no_work, monkeypatch, refused
):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    err = refused(["resume", str(recorded_run)])  # the run's own 0.5
    assert "--gpus-per-trial 0.5: this machine has no GPU" in err
    err = refused(["resume", str(recorded_run), "--gpus-per-trial", "1.5"])
    assert "above 1 it must be a whole number" in err


def test_resume_resources_reach_the_restored_trials_not_the_running_ones():
    stub = dict(stub=True, placement_group_factory=resource_dict_to_pg_factory({"cpu": 1}))
    pending, running = Trial("f", **stub), Trial("f", **stub)
    for trial in (pending, running):
        trial.create_placement_group_factory()  # as Tune does when it adds a trial
    running.set_status(Trial.RUNNING)
    ResumeResources({"cpu": 1, "gpu": 0.5}).on_step_begin(0, [pending, running])
    assert pending.placement_group_factory.required_resources == {"CPU": 1, "GPU": 0.5}
    assert running.placement_group_factory.required_resources == {"CPU": 1}


def test_the_run_file_records_gpus_per_trial(gpus, tmp_path, monkeypatch):
    gpus(1)
    prepared = prepare(RunOptions(job="mnist-l2", storage=str(tmp_path), gpus_per_trial=0.25))

    class Tuner:
        def fit(self):
            raise Restored("stop before any trial")

    monkeypatch.setattr(tune_jobs.execute, "check_storage", lambda storage: None)
    monkeypatch.setattr(tune_jobs.execute, "build_tuner", lambda *args: Tuner())
    monkeypatch.setattr("ray.is_initialized", lambda: False)
    with pytest.raises(Restored):
        tune_jobs.execute.execute(prepared, data=None)
    record = json.loads((tmp_path / prepared.name / RUN_FILE).read_text())
    assert record["options"]["gpus_per_trial"] == 0.25


def test_the_compare_manifest_records_gpus_per_trial(gpus, tmp_path, monkeypatch, tripwire):
    gpus(1)

    class Data:
        def sizes(self):
            return {}

    monkeypatch.setattr(tune_jobs.compare, "load_data", lambda job, options: Data())
    monkeypatch.setattr(tune_jobs.compare, "ensure_ray", lambda address: None)
    monkeypatch.setattr(tune_jobs.compare, "execute", tripwire("a run"))
    base = RunOptions(job="mnist-l2", storage=str(tmp_path), gpus_per_trial=0.25, budget_epochs=1)
    parent, manifest = tune_jobs.compare.run_compare(base, ["grid"], 1, "cmp")
    written = json.loads((tmp_path / "cmp" / MANIFEST_FILE).read_text())
    assert written["options"]["gpus_per_trial"] == 0.25 == manifest["options"]["gpus_per_trial"]
