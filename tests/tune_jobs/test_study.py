"""Problem 4.2 and 4.3: --init-from, the mnist-l1/-optimizers/-batchnorm jobs, the study command."""

from __future__ import annotations

import json

import pytest
import torch
from ray.tune import ExperimentAnalysis

from analysis.report.study import SECTIONS
from search_spaces.mnist import OPTIMIZER_PARAMETERS, mnist_optimizers_space, optimizer_pins
from trainables.mnist import MnistConfig, build_cnn, l1_config
from trainables.training import build_optimizer
from tune_jobs.cli import main
from tune_jobs.study import STUDY_FILE


def _run(*args: str) -> int:
    return main(["run", *args])


@pytest.fixture(scope="module")
def source(ray_local, mnist_dir, tmp_path_factory):
    """A one-trial mnist-l2 experiment (width 64: the first grid point)."""
    storage = tmp_path_factory.mktemp("source")
    code = _run("mnist-l2", "--smoke-test", "--data-dir", str(mnist_dir),
                "--storage", str(storage), "--name", "l2")  # fmt: skip
    assert code == 0
    return storage / "l2"


def test_init_from_starts_every_trial_from_the_source_weights(source, mnist_dir, tmp_path):
    code = _run(
        "mnist-l1",
        "--smoke-test",
        "--data-dir",
        str(mnist_dir),
        "--storage",
        str(tmp_path),
        "--name",
        "l1",
        "--set",
        "width=64",
        "--init-from",
        str(source),
    )
    assert code == 0
    before = ExperimentAnalysis(str(source))
    source_trial = before.trials[0]
    source_val_acc = before.trial_dataframes[source_trial.trial_id]["val_acc"].max()
    after = ExperimentAnalysis(str(tmp_path / "l1"))
    history = after.trial_dataframes[after.trials[0].trial_id]
    # Evaluated on the same validation split before any step: the source checkpoint's accuracy.
    assert history["init_val_acc"].iloc[0] == pytest.approx(source_val_acc, abs=1e-9)
    assert (history["init_trial"] == source_trial.trial_id).all()
    assert str(source) in history["init_checkpoint"].iloc[0]


def test_init_from_a_different_network_is_refused_saying_what_differs(
    source, mnist_dir, tmp_path, capsys
):
    code = _run(
        "mnist-l1",
        "--smoke-test",
        "--data-dir",
        str(mnist_dir),
        "--storage",
        str(tmp_path),
        "--name",
        "l1",
        "--set",
        "channels=8",
        "--init-from",
        str(source),
    )
    error = capsys.readouterr().err
    assert code == 2
    # Only the explicit --set conflicts: the run takes the source's width itself.
    assert "channels: source 16, this run 8" in error and "width" not in error
    assert not (tmp_path / "l1").exists()


def test_init_from_a_folder_that_is_no_experiment_is_refused(tmp_path, capsys):
    assert _run("mnist-l1", "--smoke-test", "--init-from", str(tmp_path)) == 2
    assert "is not a Ray Tune experiment folder" in capsys.readouterr().err


def test_mnist_l1_trains_without_dropout_and_weight_decay_whatever_is_set(capsys):
    assert l1_config({"dropout": 0.5, "weight_decay": 0.1, "l1": 1e-4}) == {
        "dropout": 0.0, "weight_decay": 0.0, "l1": 1e-4,
    }  # fmt: skip
    assert _run("mnist-l1", "--set", "dropout=0.5") == 2
    assert "mnist-l1 holds dropout=0.0" in capsys.readouterr().err
    assert _run("mnist-l1", "--set", "weight_decay=0.01") == 2
    assert "weight_decay" in capsys.readouterr().err


@pytest.mark.parametrize("optimizer", list(OPTIMIZER_PARAMETERS))
def test_each_optimizer_tunes_its_learning_rate_and_its_own_parameters(optimizer):
    space = mnist_optimizers_space().pin(optimizer_pins(optimizer))
    assert set(space.dimensions) == {"lr", *OPTIMIZER_PARAMETERS[optimizer]}
    config = MnistConfig(optimizer=optimizer, lr=0.01, momentum=0.7, beta1=0.8, beta2=0.95)
    group = build_optimizer(
        optimizer, build_cnn(config), config.lr, 0.0, config.momentum, (config.beta1, config.beta2)
    ).param_groups[0]
    assert group["lr"] == 0.01
    if optimizer == "momentum":
        assert group["momentum"] == 0.7
    if optimizer == "adam":
        assert group["betas"] == (0.8, 0.95)
    if optimizer == "sgd":
        assert group["momentum"] == 0
    if optimizer == "adagrad":
        assert isinstance(
            build_optimizer(optimizer, torch.nn.Linear(2, 2), 0.1), torch.optim.Adagrad
        )


@pytest.mark.slow
def test_study_runs_every_stage_skips_finished_ones_and_reports_every_question(
    ray_local, mnist_dir, tmp_path, capsys
):
    args = ["study", "mnist", "--smoke-test", "--data-dir", str(mnist_dir),
            "--storage", str(tmp_path), "--name", "study"]  # fmt: skip
    assert main(args) == 0
    folder = tmp_path / "study"
    record = json.loads((folder / STUDY_FILE).read_text())
    stages = record["stages"]
    assert list(stages) == [
        "4.1-l2", "4.2-l1-random", "4.2-l1-from-l2", "4.3a-sgd", "4.3a-momentum",
        "4.3a-adagrad", "4.3a-adam", "4.3b-batchnorm",
    ]  # fmt: skip
    # Each stage starts from the previous stage's best.
    l2 = stages["4.1-l2"]["config"]
    assert stages["4.2-l1-random"]["config"]["width"] == l2["width"]
    assert stages["4.2-l1-random"]["config"]["dropout"] == 0.0
    assert stages["4.3a-adam"]["config"]["optimizer"] == "adam"
    assert stages["4.3b-batchnorm"]["config"]["batchnorm"] is True
    from_l2 = ExperimentAnalysis(str(folder / "4.2-l1-from-l2")).dataframe()
    assert (from_l2["init_trial"] == stages["4.1-l2"]["trial_id"]).all()
    report = (folder / "report" / "report.md").read_text()
    for section in SECTIONS:
        assert f"## {section}" in report
    assert "Winner:" in report and "epochs to 98.5% val_acc" in report
    for figure in ("optimizers-train_cost.png", "optimizers-val_acc.png", "l1-val_acc.png"):
        assert (folder / "report" / figure).exists()
    capsys.readouterr()

    # Rerun: finished stages are skipped; an interrupted one (not in study.json) is resumed.
    del record["stages"]["4.3b-batchnorm"]
    (folder / STUDY_FILE).write_text(json.dumps(record))
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.count("finished earlier, skipped") == 7
    assert "Stage 4.3b-batchnorm: interrupted earlier, resuming" in out
    assert "4.3b-batchnorm" in json.loads((folder / STUDY_FILE).read_text())["stages"]
