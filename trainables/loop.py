"""The epoch loop every function trainable runs: restore, train, evaluate, report, checkpoint.

A function trainable builds its config, model and inputs, then hands them to `EpochLoop`; what
one trainable adds to each epoch (its own metrics, checkpoint entries, a stop rule) comes in as
`TrialExtras`. Reports, checkpoints and restores go through `trainables.reporting`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import nn

from trainables import metrics as m
from trainables.data import ImageSplits, batches
from trainables.reporting import (
    inject_faults,
    report,
    restored_state,
    trial_cpus,
    trial_device,
)
from trainables.training import (
    EVAL_BATCH_SIZE,
    build_optimizer,
    evaluate,
    set_hyperparameters,
    train_epoch,
)

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]
# Epoch e of a trial seeded s shuffles with seed s * EPOCH_SEED_STRIDE + e: a prime stride keeps
# the seeds of different trials' epochs apart. Changing it changes every recorded run's batches.
EPOCH_SEED_STRIDE = 100_003
# Checkpoint keys of the best validation accuracy so far and the test accuracy at its epoch.
BEST_VAL_ACC_KEY, TEST_ACC_KEY = "best_val_acc", "test_acc_at_best"


def start_trial(seed: int) -> torch.device:
    """Use the CPUs Ray gave the trial, seed torch's generators (weights, dropout), and return the
    device to train on. Called at every trial start: a reused Ray actor keeps its process."""
    torch.set_num_threads(trial_cpus())
    torch.manual_seed(seed)
    return trial_device()


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The generator of epoch `epoch`'s shuffle and augmentation (epochs count from 0).

    Seeded per epoch, so a trial resumed from a checkpoint sees the same batches.
    """
    return torch.Generator().manual_seed(seed * EPOCH_SEED_STRIDE + epoch)


def build_and_restore(
    model: nn.Module,
    optimizer_name: str,
    device: torch.device | str = "cpu",
    **hyperparameters: Any,
) -> tuple[torch.optim.Optimizer, dict[str, Any] | None]:
    """`model` moved to `device`, the optimizer over it, both loaded from the trial's checkpoint if
    Tune resumed it from one; and that checkpoint's state (None for a fresh start).

    `hyperparameters` (`lr`, `weight_decay`, `momentum`, `betas` of `build_optimizer`) are the
    config's; they override the checkpoint's own, which a PBT exploit has just replaced.
    """
    model.to(device)  # first: the optimizer's state then loads onto the parameters' device
    optimizer = build_optimizer(optimizer_name, model, **hyperparameters)
    state = restored_state()
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        set_hyperparameters(optimizer, **hyperparameters)
    return optimizer, state


def start_from(
    model: nn.Module,
    init: Mapping[str, Any],
    state: Mapping[str, Any] | None,
    val_x: torch.Tensor,
    val_y: torch.Tensor,
    net: nn.Module | None = None,
    batch_size: int = EVAL_BATCH_SIZE,
) -> dict[str, Any]:
    """Load `init`'s weights (`--init-from`) unless the trial resumed from its own checkpoint;
    the metrics that record where the weights came from and how good they were on the validation
    set, as `net` (`model` by default, or what wraps it) sees it."""
    if state is None:
        model.load_state_dict(init["model"])
    val_acc = None
    if state is None:
        val_acc = evaluate(model if net is None else net, val_x, val_y, batch_size)[1]
    return {
        m.INIT_TRIAL: init["source_trial"],
        m.INIT_CHECKPOINT: init["source_checkpoint"],
        m.INIT_VAL_ACC: val_acc,
    }


class TrialExtras(Protocol):
    """What one trainable adds to the shared loop's epochs."""

    def metrics(self, val_acc: float, finite: bool) -> dict[str, Any]:
        """Its metrics of the epoch just evaluated (called once per epoch, before the report)."""

    def checkpoint(self) -> dict[str, Any]:
        """Its entries in the epoch's checkpoint, besides model, optimizer and epoch."""

    def stop(self) -> bool:
        """True when the trial ends after this epoch's report."""


@dataclass(frozen=True)
class FixedMetrics:
    """Extras that add the same metrics to every report, checkpoint nothing and never stop."""

    values: Mapping[str, Any] = field(default_factory=dict)

    def metrics(self, val_acc: float, finite: bool) -> dict[str, Any]:
        return dict(self.values)

    def checkpoint(self) -> dict[str, Any]:
        return {}

    def stop(self) -> bool:
        return False


@dataclass
class EpochLoop:
    """One trial's epochs: train, evaluate, report metrics and a checkpoint; end on divergence."""

    model: nn.Module  # what the checkpoint holds
    optimizer: torch.optim.Optimizer
    net: nn.Module  # what trains and is evaluated: `model`, or a part of it on cached inputs
    inputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # train, val, test, as `net` takes them
    data: ImageSplits  # the labels
    batch_size: int
    seed: int
    epochs: int
    l1: float = 0.0
    weight_decay: float = 0.0
    augment: Callable[[Batches, torch.Generator], Batches] | None = (
        None  # with the epoch's generator
    )
    extras: TrialExtras = field(default_factory=FixedMetrics)
    fault_injection: bool = False  # honour TUNE_JOBS_CRASH_AT_EPOCH (see reporting.inject_faults)
    device: torch.device | str = "cpu"  # where `net` and `inputs` are (reported)
    eval_batch_size: int = EVAL_BATCH_SIZE
    best_val_acc: float = -math.inf  # the trial's best so far, and the test accuracy at its epoch
    test_acc: float | None = None

    def run(self, state: Mapping[str, Any] | None = None) -> None:
        """Train from the epoch after `state`'s (a restored checkpoint; None: from the first)."""
        start = 0 if state is None else state["epoch"]
        if state is not None:  # checkpoints written before these keys existed: test at once
            self.best_val_acc = float(state.get(BEST_VAL_ACC_KEY, -math.inf))
            self.test_acc = state.get(TEST_ACC_KEY)
        for epoch in range(start, self.epochs):
            results, finite = self.train_and_evaluate(epoch)
            if self.fault_injection:
                inject_faults(epoch + 1, restored=start > 0)  # inert unless a test asks
            if not finite:
                report(results)  # no checkpoint: the weights are no longer numbers
                return
            report(results, self.checkpoint(epoch + 1))
            if self.extras.stop():
                return

    def train_and_evaluate(self, epoch: int) -> tuple[dict[str, Any], bool]:
        """One epoch's training and evaluation: its report, and whether the loss stayed finite."""
        train_x, val_x, test_x = self.inputs
        shuffle = epoch_generator(self.seed, epoch)
        train_batches = batches(train_x, self.data.train_y, self.batch_size, shuffle)
        if self.augment is not None:
            train_batches = self.augment(train_batches, shuffle)
        started = time.perf_counter()
        stats = train_epoch(
            self.net, self.optimizer, train_batches, l1=self.l1, weight_decay=self.weight_decay
        )
        trained = time.perf_counter()
        val_loss, val_acc = evaluate(self.net, val_x, self.data.val_y, self.eval_batch_size)
        # The test set is evaluated only when validation improves: what is reported is the test
        # accuracy at the best validation epoch so far, and nothing selects on it.
        if val_acc > self.best_val_acc:
            self.best_val_acc = val_acc
            self.test_acc = evaluate(self.net, test_x, self.data.test_y, self.eval_batch_size)[1]
        results = {
            m.EPOCH: epoch + 1,
            m.TRAIN_LOSS: stats.train_loss,
            m.TRAIN_COST: stats.train_cost,
            m.VAL_LOSS: val_loss,
            m.VAL_ACC: val_acc,
            m.TEST_ACC: self.test_acc,
            m.DIVERGED: not stats.finite,
            m.DEVICE: str(self.device),
            m.TRAIN_SECONDS: trained - started,
            m.EVAL_SECONDS: time.perf_counter() - trained,
            **self.extras.metrics(val_acc, stats.finite),
        }
        return results, stats.finite

    def checkpoint(self, epoch: int) -> dict[str, Any]:
        """The state saved after `epoch` (counted from 1): what `build_and_restore` reads back."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "epoch": epoch,
            BEST_VAL_ACC_KEY: self.best_val_acc,
            TEST_ACC_KEY: self.test_acc,
            **self.extras.checkpoint(),
        }
