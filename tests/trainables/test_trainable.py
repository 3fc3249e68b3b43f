"""The MNIST trainable run through Ray Tune on tiny synthetic data."""

from __future__ import annotations

import math

import torch
from ray import tune

from trainables import metrics as m
from trainables.data import load_mnist
from trainables.mnist import train_mnist
from trainables.reporting import load_checkpoint_state
from trainables.training import EVAL_BATCH_SIZE

EVERY_METRIC = (m.EPOCH, m.TRAIN_LOSS, m.TRAIN_COST, m.VAL_LOSS, m.VAL_ACC, m.TEST_ACC)
SMALL = {"channels": 4, "width": 16, "batch_size": 32, "lr": 0.1}


def fit(data, param_space, storage, num_samples=1):
    tuner = tune.Tuner(
        tune.with_parameters(train_mnist, data=data),
        param_space=param_space,
        tune_config=tune.TuneConfig(num_samples=num_samples),
        run_config=tune.RunConfig(storage_path=str(storage), name="exp", verbose=0),
    )
    return tuner.fit()


def test_reports_every_metric_each_epoch_and_checkpoints(ray_local, mnist_dir, tmp_path):
    data = load_mnist(mnist_dir, download=False)
    results = fit(data, {**SMALL, "epochs": 3, "l1": 1e-4, "weight_decay": 1e-3}, tmp_path)
    result = results[0]
    assert result.error is None
    history = result.metrics_dataframe
    assert list(history[m.EPOCH]) == [1, 2, 3]
    for name in EVERY_METRIC:
        assert history[name].notna().all(), name
    assert (history[m.TRAIN_COST] > history[m.TRAIN_LOSS]).all()
    assert history[m.VAL_ACC].iloc[-1] > 0.5  # the synthetic classes are easy to learn
    state = load_checkpoint_state(result.checkpoint)
    assert state["epoch"] == 3 and set(state) >= {"model", "optimizer"}


def test_diverging_trial_reports_once_and_does_not_fail_the_run(ray_local, mnist_dir, tmp_path):
    data = load_mnist(mnist_dir, download=False)
    space = {**SMALL, "epochs": 3, "lr": tune.grid_search([0.1, 1e12])}
    results = fit(data, space, tmp_path)
    assert results.num_errors == 0
    by_lr = {r.config["lr"]: r for r in results}
    diverged = by_lr[1e12].metrics_dataframe
    assert len(diverged) == 1 and bool(diverged[m.DIVERGED].iloc[0])
    assert math.isnan(diverged[m.TRAIN_LOSS].iloc[0])
    assert by_lr[1e12].checkpoint is None
    assert len(by_lr[0.1].metrics_dataframe) == 3


def run_in_process(monkeypatch, config, data, restored=None):
    """Run the trainable without Ray, collecting what it reports."""
    import trainables.loop as module

    reports = []
    monkeypatch.setattr(
        module, "report", lambda metrics, state=None: reports.append((metrics, state))
    )
    monkeypatch.setattr(module, "restored_state", lambda: restored)
    train_mnist(config, data)
    return reports


def test_resumed_trial_continues_where_its_checkpoint_left_off(monkeypatch, mnist_dir):
    data = load_mnist(mnist_dir, download=False)
    straight = run_in_process(monkeypatch, {**SMALL, "epochs": 3}, data)
    first_two = run_in_process(monkeypatch, {**SMALL, "epochs": 2}, data)
    resumed = run_in_process(monkeypatch, {**SMALL, "epochs": 3}, data, restored=first_two[-1][1])
    assert [r[m.EPOCH] for r, _ in resumed] == [3]
    assert resumed[0][0][m.VAL_ACC] == straight[-1][0][m.VAL_ACC]
    for name, tensor in straight[-1][1]["model"].items():
        assert torch.equal(tensor, resumed[0][1]["model"][name]), name


def untimed(reports):
    seconds = (m.TRAIN_SECONDS, m.EVAL_SECONDS)
    return [{k: v for k, v in metrics.items() if k not in seconds} for metrics, _ in reports]


def test_a_trial_standardizes_batches_not_whole_splits(monkeypatch, mnist_dir):
    import trainables.mnist as module

    data = load_mnist(mnist_dir, download=False)
    sizes, normalize = [], module.normalize
    monkeypatch.setattr(module, "normalize", lambda x, *a: sizes.append(len(x)) or normalize(x, *a))
    reports = run_in_process(monkeypatch, {**SMALL, "epochs": 1}, data)
    assert reports[0][0][m.DEVICE] == "cpu"
    assert max(sizes) <= max(SMALL["batch_size"], EVAL_BATCH_SIZE) < len(data.train_y)
    assert sum(sizes) == len(data.train_y) + len(data.val_y) + len(data.test_y)


def test_a_reused_process_runs_a_trial_as_a_fresh_one_would(monkeypatch, mnist_dir):
    # Tune's reuse_actors restarts the function in the same process: nothing may carry over.
    data = load_mnist(mnist_dir, download=False)
    fresh = run_in_process(monkeypatch, {**SMALL, "epochs": 2}, data)
    torch.set_num_threads(2)
    run_in_process(monkeypatch, {**SMALL, "epochs": 1, "seed": 5, "dropout": 0.5}, data)
    assert torch.get_num_threads() == 1  # the trial set the threads Ray gave it
    torch.set_num_threads(2)
    reused = run_in_process(monkeypatch, {**SMALL, "epochs": 2}, data)
    assert untimed(reused) == untimed(fresh)
