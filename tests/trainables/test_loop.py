"""The shared epoch loop, run in-process on tiny synthetic tensors with Ray's calls recorded."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from torch import nn

import trainables.loop as loop
from trainables import metrics as m
from trainables.data import ImageSplits
from trainables.loop import (
    BEST_VAL_ACC_KEY,
    TEST_ACC_KEY,
    EpochLoop,
    FixedMetrics,
    build_and_restore,
    start_from,
)
from trainables.reporting import CRASH_AT_EPOCH_ENV, InjectedFault
from trainables.training import evaluate

SEED = 7


def tiny_splits() -> ImageSplits:
    """12 training and 6 evaluation 1x2x2 'images' of 3 linearly separable classes."""
    generator = torch.Generator().manual_seed(0)

    def make(count: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.arange(count) % 3
        x = torch.randn(count, 1, 2, 2, generator=generator) * 0.1
        x[:, 0, 0, 0] += y.float()
        return x, y

    (tx, ty), (vx, vy), (sx, sy) = make(12), make(6), make(6)
    return ImageSplits(tx, ty, vx, vy, sx, sy, (0.0,), (1.0,), 3)


class Recorder:
    """Stands in for Ray: what the loop reported, and the labels of every epoch's batches."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, restored: dict | None = None) -> None:
        self.reports: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
        self.batches: list[list[int]] = []  # per epoch, the training labels in batch order
        monkeypatch.setattr(loop, "report", lambda metrics, state=None: self.reports.append(
            (metrics, state)))  # fmt: skip
        monkeypatch.setattr(loop, "restored_state", lambda: restored)

    def augment(self, batches, generator: torch.Generator):
        """An identity augmentation that records what it sees (and the epoch's generator)."""
        labels: list[int] = []
        self.batches.append(labels)
        for x, y in batches:
            labels.extend(y.tolist())
            yield x, y

    def epochs(self) -> list[int]:
        return [metrics[m.EPOCH] for metrics, _ in self.reports]


def untimed(metrics: dict[str, Any]) -> dict[str, Any]:
    """A report without its seconds, which no two runs share."""
    return {k: v for k, v in metrics.items() if k not in (m.TRAIN_SECONDS, m.EVAL_SECONDS)}


def run(monkeypatch, epochs: int, lr: float = 0.5, restored=None, data=None, **options) -> Recorder:
    """A fresh tiny model trained by the loop, resumed from `restored` if given."""
    recorder = Recorder(monkeypatch, restored)
    data = data if data is not None else tiny_splits()
    torch.manual_seed(SEED)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    optimizer, state = build_and_restore(model, "momentum", lr=lr, momentum=0.5)
    inputs = (data.train_x, data.val_x, data.test_x)
    EpochLoop(
        model=model, optimizer=optimizer, net=model, inputs=inputs, data=data, batch_size=5,
        seed=SEED, epochs=epochs, augment=recorder.augment, **options,
    ).run(state)  # fmt: skip
    return recorder


def test_every_epoch_reports_the_metrics_with_a_checkpoint(monkeypatch):
    recorder = run(monkeypatch, epochs=3)
    assert recorder.epochs() == [1, 2, 3]
    for metrics, state in recorder.reports:
        assert set(metrics) == {
            m.EPOCH, m.TRAIN_LOSS, m.TRAIN_COST, m.VAL_LOSS, m.VAL_ACC, m.TEST_ACC, m.DIVERGED,
            m.DEVICE, m.TRAIN_SECONDS, m.EVAL_SECONDS,
        }  # fmt: skip
        assert metrics[m.DIVERGED] is False and metrics[m.TRAIN_COST] == metrics[m.TRAIN_LOSS]
        assert metrics[m.DEVICE] == "cpu"
        assert metrics[m.TRAIN_SECONDS] > 0 and metrics[m.EVAL_SECONDS] > 0
        assert list(state) == ["model", "optimizer", "epoch", BEST_VAL_ACC_KEY, TEST_ACC_KEY]
        assert state["epoch"] == metrics[m.EPOCH]


def test_each_epoch_shuffles_with_its_own_seed(monkeypatch):
    recorder = run(monkeypatch, epochs=2)
    labels = tiny_splits().train_y
    for epoch, seen in enumerate(recorder.batches):
        order = torch.randperm(12, generator=torch.Generator().manual_seed(SEED * 100_003 + epoch))
        assert seen == labels[order].tolist()
    assert recorder.batches[0] != recorder.batches[1]
    assert loop.epoch_generator(SEED, 4).initial_seed() == SEED * 100_003 + 4


def test_a_resumed_trial_continues_at_the_next_epoch_with_that_epochs_batches(monkeypatch):
    straight = run(monkeypatch, epochs=3)
    first_two = run(monkeypatch, epochs=2)
    resumed = run(monkeypatch, epochs=3, restored=first_two.reports[-1][1])
    assert resumed.epochs() == [3]
    assert resumed.batches == straight.batches[2:]
    assert untimed(resumed.reports[0][0]) == untimed(straight.reports[-1][0])
    final, expected = resumed.reports[0][1], straight.reports[-1][1]
    for name, tensor in expected["model"].items():
        assert torch.equal(final["model"][name], tensor), name


def test_restoring_imposes_the_configs_hyperparameters_on_the_saved_optimizer(monkeypatch):
    saved = run(monkeypatch, epochs=1, lr=0.5).reports[-1][1]
    monkeypatch.setattr(loop, "restored_state", lambda: saved)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    optimizer, state = build_and_restore(model, "momentum", lr=0.01, momentum=0.25)
    assert state is saved and torch.equal(model[1].weight, saved["model"]["1.weight"])
    assert [group["lr"] for group in optimizer.param_groups] == [0.01, 0.01]
    assert [group["momentum"] for group in optimizer.param_groups] == [0.25, 0.25]
    assert optimizer.state_dict()["state"]  # the momentum buffers came back


def test_divergence_reports_once_without_a_checkpoint_and_ends_the_trial(monkeypatch):
    data = tiny_splits()
    data.train_x[5] = math.inf  # the loss of the batch that holds it is not a number
    recorder = run(monkeypatch, epochs=4, data=data, extras=FixedMetrics({"origin": "x"}))
    assert len(recorder.reports) == 1
    metrics, state = recorder.reports[0]
    assert state is None and metrics[m.EPOCH] == 1 and metrics[m.DIVERGED] is True
    assert math.isnan(metrics[m.TRAIN_LOSS]) and metrics["origin"] == "x"


class StopAtSecond:
    """Extras that stop the trial after its second epoch and checkpoint a counter."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, bool]] = []

    def metrics(self, val_acc: float, finite: bool) -> dict[str, Any]:
        self.seen.append((val_acc, finite))
        return {"extra_epoch": len(self.seen)}

    def checkpoint(self) -> dict[str, Any]:
        return {"counter": len(self.seen)}

    def stop(self) -> bool:
        return len(self.seen) == 2


def test_extras_add_metrics_and_checkpoint_entries_and_may_stop_the_trial(monkeypatch):
    extras = StopAtSecond()
    recorder = run(monkeypatch, epochs=5, extras=extras)
    assert recorder.epochs() == [1, 2]
    assert [metrics["extra_epoch"] for metrics, _ in recorder.reports] == [1, 2]
    assert [metrics[m.VAL_ACC] for metrics, _ in recorder.reports] == [v for v, _ in extras.seen]
    assert list(recorder.reports[-1][1])[-1] == "counter"


def test_fault_injection_crashes_only_where_it_is_asked_for(monkeypatch):
    monkeypatch.setenv(CRASH_AT_EPOCH_ENV, "2")
    assert run(monkeypatch, epochs=3).epochs() == [1, 2, 3]  # not asked for: inert
    with pytest.raises(InjectedFault, match="epoch 2"):
        run(monkeypatch, epochs=3, fault_injection=True)
    saved = run(monkeypatch, epochs=1).reports[-1][1]
    resumed = run(monkeypatch, epochs=3, restored=saved, fault_injection=True)
    assert resumed.epochs() == [2, 3]  # a restored attempt runs on


def test_start_from_loads_weights_unless_resumed_and_records_their_origin():
    data = tiny_splits()
    source = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    init = {"model": source.state_dict(), "source_trial": "t0", "source_checkpoint": "/ck"}
    fresh = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    origin = start_from(fresh, init, None, data.val_x, data.val_y)
    assert torch.equal(fresh[1].weight, source[1].weight)
    assert origin[m.INIT_TRIAL] == "t0" and origin[m.INIT_CHECKPOINT] == "/ck"
    expected = (source(data.val_x).argmax(1) == data.val_y).float().mean().item()
    assert origin[m.INIT_VAL_ACC] == pytest.approx(expected)
    resumed = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    before = resumed[1].weight.detach().clone()
    origin = start_from(resumed, init, {"epoch": 1}, data.val_x, data.val_y)
    assert torch.equal(resumed[1].weight, before) and origin[m.INIT_VAL_ACC] is None


class ScriptedValidation:
    """Replaces the loop's `evaluate`: scripted validation accuracies; counts test evaluations."""

    def __init__(self, monkeypatch, val_x: torch.Tensor, val_accs: list[float]) -> None:
        self.val_accs, self.test_calls = iter(val_accs), 0

        def scripted(net, x, y, *options):
            loss, _ = evaluate(net, x, y, *options)
            if x is val_x:
                return loss, next(self.val_accs)
            self.test_calls += 1
            return loss, 0.5 + self.test_calls / 100  # which evaluation produced a report

        monkeypatch.setattr(loop, "evaluate", scripted)


def test_test_accuracy_is_evaluated_only_when_validation_improves(monkeypatch):
    data = tiny_splits()
    script = ScriptedValidation(monkeypatch, data.val_x, [0.4, 0.6, 0.6, 0.5, 0.7])
    recorder = run(monkeypatch, epochs=5, data=data)
    assert script.test_calls == 3  # epochs 1, 2 and 5 improved on the best validation so far
    assert [metrics[m.TEST_ACC] for metrics, _ in recorder.reports] == [
        0.51,
        0.52,
        0.52,
        0.52,
        0.53,
    ]
    states = [state for _, state in recorder.reports]
    assert [state[BEST_VAL_ACC_KEY] for state in states] == [0.4, 0.6, 0.6, 0.6, 0.7]
    assert [state[TEST_ACC_KEY] for state in states] == [0.51, 0.52, 0.52, 0.52, 0.53]


def test_a_resumed_trial_keeps_its_best_validation_and_test_accuracy(monkeypatch):
    data = tiny_splits()
    saved = run(monkeypatch, epochs=2, data=data).reports[-1][1]
    saved = {**saved, BEST_VAL_ACC_KEY: 0.9, TEST_ACC_KEY: 0.88}
    script = ScriptedValidation(monkeypatch, data.val_x, [0.8, 0.95])
    resumed = run(monkeypatch, epochs=4, restored=saved, data=data)
    assert script.test_calls == 1  # epoch 3 (0.8) did not beat the restored 0.9; epoch 4 did
    assert [metrics[m.TEST_ACC] for metrics, _ in resumed.reports] == [0.88, 0.51]
    # A checkpoint from before these keys existed evaluates the test set at once.
    old = {k: v for k, v in saved.items() if k not in (BEST_VAL_ACC_KEY, TEST_ACC_KEY)}
    script = ScriptedValidation(monkeypatch, data.val_x, [0.1])
    assert run(monkeypatch, epochs=3, restored=old, data=data).reports[0][0][m.TEST_ACC] == 0.51
