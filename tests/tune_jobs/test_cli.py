"""`tune-jobs` end to end on a tiny MNIST folder, and every bad input before Ray starts."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from ray.tune import ExperimentAnalysis

from analysis.layout import RUN_FILE
from tune_jobs.cli import main


def test_list_names_jobs_and_methods(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "mnist-l2" in out and "asha" in out and "grid" in out


def test_smoke_test_writes_an_experiment_that_ray_reads(ray_local, mnist_dir, tmp_path, capsys):
    code = main(
        [
            "run",
            "mnist-l2",
            "--smoke-test",
            "--data-dir",
            str(mnist_dir),
            "--storage",
            str(tmp_path),
            "--name",
            "smoke",
            "--set",
            "lr=0.07",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Best trial" in out and "test_acc" in out and str(tmp_path / "smoke") in out
    analysis = ExperimentAnalysis(str(tmp_path / "smoke"))
    assert len(analysis.trials) == 1
    trial = analysis.trials[0]
    assert trial.config["lr"] == 0.07 and trial.config["epochs"] == 1
    assert analysis.trial_dataframes[trial.trial_id]["val_acc"].notna().all()
    recorded = json.loads((tmp_path / "smoke" / RUN_FILE).read_text())
    assert recorded["method"] == "grid" and recorded["settings"]["max_epochs"] == 1


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["run", "mnist-cnn"], "unknown job 'mnist-cnn'; choose one of: mnist-l2"),
        (["run", "mnist-l2", "--method", "bayes"], "unknown method 'bayes'; choose one of: grid"),
        (["run", "mnist-l2", "--set", "lr=-0.1"], "lr=-0.1"),
        (["run", "mnist-l2", "--set", "dropout=1.0"], "dropout=1.0"),
        (["run", "mnist-l2", "--set", "colour=red"], "unknown hyperparameter 'colour'"),
        (["run", "mnist-l2", "--set", "lr"], "KEY=VALUE"),
        (["run", "mnist-l2", "--max-epochs", "0"], "--max-epochs must be >= 1, got 0"),
    ],
)
def test_bad_input_exits_2_naming_the_value_and_writes_nothing(args, named, tmp_path, capsys):
    assert main([*args, "--storage", str(tmp_path / "results")]) == 2
    assert named in capsys.readouterr().err
    assert not (tmp_path / "results").exists()


def test_set_accepts_values_off_the_grid(tmp_path, mnist_dir, monkeypatch):
    from tune_jobs.options import RunOptions, prepare

    prepared = prepare(
        RunOptions("mnist-l2", overrides={"lr": "0.0123", "width": "300"}, storage=str(tmp_path))
    )
    assert prepared.space.fixed["lr"] == 0.0123 and prepared.space.fixed["width"] == 300
    assert "lr" not in prepared.space.dimensions


def test_missing_data_offline_exits_2_naming_the_files(tmp_path, capsys, monkeypatch):
    from torchvision.datasets import MNIST

    def offline(self):
        raise RuntimeError("no network")

    monkeypatch.setattr(MNIST, "download", offline)
    code = main(
        [
            "run",
            "mnist-l2",
            "--data-dir",
            str(tmp_path / "empty"),
            "--storage",
            str(tmp_path / "results"),
        ]
    )
    assert code == 2
    assert "train-images-idx3-ubyte" in capsys.readouterr().err
    assert not (tmp_path / "empty").exists() and not (tmp_path / "results").exists()


def test_existing_experiment_folder_is_never_overwritten(tmp_path, capsys):
    (tmp_path / "taken" / "keep.txt").parent.mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("earlier results")
    assert main(["run", "mnist-l2", "--storage", str(tmp_path), "--name", "taken"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (tmp_path / "taken" / "keep.txt").read_text() == "earlier results"


@pytest.mark.parametrize(("method", "kept"), [("random", 1), ("pbt", None)])
def test_only_pbt_runs_keep_every_checkpoint(method, kept, ray_local, tmp_path, monkeypatch):
    """PBT restores a donor's checkpoint from its last perturbation; keeping only the best and the
    latest can delete it first (Ray warns about num_to_keep <= 2 with PBT)."""
    from tune_jobs import execute
    from tune_jobs.options import RunOptions, prepare

    tuners = []

    class Fitted(Exception):
        """Ends the run once the Tuner was built: only its arguments are under test."""

    class Tuner:
        def __init__(self, *args, **kwargs):
            tuners.append(kwargs)

        def fit(self):
            raise Fitted

    monkeypatch.setattr(execute.tune, "Tuner", Tuner)
    prepared = prepare(
        RunOptions("mnist-l2", method=method, samples=4, storage=str(tmp_path), name="k")
    )
    with pytest.raises(Fitted):
        execute.execute(prepared, data=None)
    assert tuners[0]["run_config"].checkpoint_config.num_to_keep == kept


def test_help_imports_neither_torch_nor_ray_tune():
    """`tune-jobs --help` builds only the top-level parser: start-up costs milliseconds."""
    probe = (
        "import sys, contextlib, io\n"
        "from tune_jobs.cli import main\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['--help'])\n"
        "print(sorted(m for m in ('torch', 'ray.tune', 'pandas') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
