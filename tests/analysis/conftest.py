"""Real Ray Tune experiments for the analysis tests, run once per session on the tiny MNIST folder.

- `tiny_experiment`: `mnist-l2` with ASHA, 4 trials x up to 2 epochs, through tune_jobs.execute;
- `empty_experiment`: one trial that raises before reporting anything;
- `compare_folder`: a `tune-jobs compare` folder whose runs are copies of `tiny_experiment`
  (2 methods x 2 seeds) plus one failed run, with the manifest the compare command writes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from ray import tune

from analysis.layout import MANIFEST_FILE

TRIALS = 4
EPOCHS = 2


@pytest.fixture(scope="session")
def tiny_experiment(ray_local, mnist_dir, tmp_path_factory) -> Path:
    from tune_jobs.execute import execute
    from tune_jobs.options import RunOptions, load_data, prepare

    storage = tmp_path_factory.mktemp("analysis-results")
    options = RunOptions(
        "mnist-l2",
        method="asha",
        samples=TRIALS,
        max_epochs=EPOCHS,
        data_dir=str(mnist_dir),
        storage=str(storage),
        name="tiny-asha",
        train_subset=256,
    )
    prepared = prepare(options)
    execute(prepared, load_data(prepared.job, prepared.options))
    return storage / "tiny-asha"


def _raises(config):
    raise RuntimeError("this trial fails before its first report")


@pytest.fixture(scope="session")
def empty_experiment(ray_local, tmp_path_factory) -> Path:
    storage = tmp_path_factory.mktemp("analysis-empty")
    tune.Tuner(
        _raises,
        param_space={"lr": 0.1},
        run_config=tune.RunConfig(
            name="all-failed",
            storage_path=str(storage),
            failure_config=tune.FailureConfig(max_failures=0),
            verbose=0,
        ),
    ).fit()
    return storage / "all-failed"


@pytest.fixture(scope="session")
def compare_folder(tiny_experiment, tmp_path_factory) -> Path:
    parent = tmp_path_factory.mktemp("analysis-compare") / "compare-mnist-l2"
    parent.mkdir()
    runs = []
    for method in ("grid", "asha"):
        for seed in (0, 1):
            name = f"{method}-seed{seed}"
            shutil.copytree(tiny_experiment, parent / name)
            runs.append(_run(method, seed, name, "finished", None))
    runs.append(_run("asha", 2, "asha-seed2", "failed", "RuntimeError: out of memory"))
    manifest = {
        "job": "mnist-l2",
        "methods": ["grid", "asha"],
        "seeds": [0, 1, 2],
        "budget_epochs": None,
        "time_budget": None,
        "replay": None,
        "created": 1_800_000_000.0,
        "runs": runs,
    }
    (parent / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))
    return parent


def _run(method: str, seed: int, name: str, status: str, error: str | None) -> dict:
    return {
        "method": method,
        "seed": seed,
        "name": name,
        "path": name,
        "budget_epochs": None,
        "time_budget": None,
        "started": 1_800_000_000.0,
        "ended": 1_800_000_100.0,
        "status": status,
        "error": error,
    }
