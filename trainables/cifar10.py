"""ResNet18 transfer learning on CIFAR-10 (Problem 6): hyperparameters, early stopping, and the Ray
Tune function trainable.

When only `fc` trains and augmentation is off, the frozen backbone's features are computed once and
`fc` trains on them: the same gradients as the full forward pass (batch norm runs in eval mode in
both), at a small fraction of the cost. Each report says which path ran (`cached_features`).
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass
from typing import Any

import torch

from trainables import metrics as m
from trainables.augment import AUGMENTATIONS, augmented
from trainables.data import ImageSplits, batches
from trainables.mnist import ConfigError
from trainables.pretrained import IMAGENET, NO_WEIGHTS, WeightsError, check_source
from trainables.reporting import report, restored_state, trial_cpus
from trainables.resnet_transfer import (
    FINETUNE_PARTS,
    backbone_features,
    build_transfer_resnet,
    check_weights,
)
from trainables.training import (
    OPTIMIZERS,
    build_optimizer,
    evaluate,
    set_hyperparameters,
    train_epoch,
)

# Metrics of this trainable beyond the ones every trainable reports.
EARLY_STOPPED = "early_stopped"  # True on the last report of a trial stopped by its patience
CACHED_FEATURES = "cached_features"  # True when fc trained on precomputed backbone features
BEST_VAL_ACC = "best_val_acc"  # best val_acc so far: what early stopping compares against
EPOCHS_WITHOUT_IMPROVEMENT = "epochs_without_improvement"
CONV1_BEFORE = "conv1_before"  # checkpoint key: conv1's filters before fine-tuning


@dataclass(frozen=True)
class CifarConfig:
    """Every hyperparameter of the transfer-learning job; names are public (`--set`)."""

    lr: float = 1e-3
    batch_size: int = 64
    optimizer: str = "adam"
    momentum: float = 0.9  # used by optimizer="momentum"
    weight_decay: float = 0.0
    finetune: str = "fc"  # fc: only the new head; conv1: also conv1 and layer1[0].conv1
    weights: str = IMAGENET  # imagenet | none | path of a ResNet18 state-dict file
    resolution: int = 64  # input side the images are resized to (ResNet18 was trained at 224)
    augmentation: str = "none"
    patience: int = 3  # epochs without a val_acc improvement before stopping; 0: never stop
    cache_features: bool = True  # train fc on precomputed features when nothing else trains
    epochs: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        checks = {
            "lr": self.lr > 0 and math.isfinite(self.lr),
            "batch_size": self.batch_size >= 1,
            "optimizer": self.optimizer in OPTIMIZERS,
            "momentum": 0 <= self.momentum < 1,
            "weight_decay": self.weight_decay >= 0,
            "finetune": self.finetune in FINETUNE_PARTS,
            "resolution": self.resolution >= 32,
            "augmentation": self.augmentation in AUGMENTATIONS,
            "patience": self.patience >= 0,
            "epochs": self.epochs >= 1,
        }
        for name, ok in checks.items():
            if not ok:
                raise ConfigError(f"{name}={getattr(self, name)!r} is invalid: {CONSTRAINTS[name]}")
        try:
            check_source(self.weights)
        except WeightsError as error:
            raise ConfigError(str(error)) from None

    @property
    def uses_cached_features(self) -> bool:
        return self.cache_features and self.finetune == "fc" and self.augmentation == "none"

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> CifarConfig:
        """Build from a Tune config, refusing unknown names and values of the wrong type."""
        unknown = sorted(set(values) - set(FIELD_TYPES))
        if unknown:
            raise ConfigError(
                f"unknown hyperparameter(s) {', '.join(unknown)}; known: {', '.join(FIELD_TYPES)}"
            )
        return cls(**{name: coerce(name, value) for name, value in values.items()})


CONSTRAINTS = {
    "lr": "must be a positive finite number",
    "batch_size": "must be an integer >= 1",
    "optimizer": f"must be one of {', '.join(OPTIMIZERS)}",
    "momentum": "must be in [0, 1)",
    "weight_decay": "must be >= 0",
    "finetune": f"must be one of {', '.join(FINETUNE_PARTS)}",
    "weights": f"must be {IMAGENET}, {NO_WEIGHTS} or the path of a ResNet18 state-dict file",
    "resolution": "must be an integer >= 32 (pixels)",
    "augmentation": f"must be one of {', '.join(AUGMENTATIONS)}",
    "patience": "must be an integer >= 0 (0 disables early stopping)",
    "cache_features": "must be true or false",
    "epochs": "must be an integer >= 1",
}
FIELD_TYPES: dict[str, type] = {
    f.name: typing.get_type_hints(CifarConfig)[f.name] for f in dataclasses.fields(CifarConfig)
}


def coerce(name: str, value: Any) -> Any:
    """`value` as the type of hyperparameter `name`; text such as "0.1" or "64" is parsed."""
    if name not in FIELD_TYPES:
        raise ConfigError(f"unknown hyperparameter {name!r}; known: {', '.join(FIELD_TYPES)}")
    kind = FIELD_TYPES[name]
    try:
        if kind is bool:
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                return value.lower() in ("true", "1", "yes")
            return bool(value)
        if kind is int:
            number = float(value)
            if number != int(number):
                raise ValueError(value)
            return int(number)
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{name}={value!r} is not a valid {kind.__name__}: {CONSTRAINTS.get(name, '')}"
        ) from None


def validate(values: dict[str, Any]) -> CifarConfig:
    """The job's config check, run in the driver: also loads the weights source once (cached), so
    a missing download or a file of another architecture fails before any trial starts."""
    config = CifarConfig.from_dict(dict(values))
    try:
        check_weights(config.weights)
    except WeightsError as error:
        raise ConfigError(str(error)) from None
    return config


@dataclass
class EarlyStopping:
    """Stop once `patience` epochs in a row bring no val_acc above the best so far (0: never)."""

    patience: int
    best: float = -math.inf
    bad_epochs: int = 0

    def update(self, val_acc: float) -> bool:
        """Record one epoch's val_acc; True when training should stop now."""
        if val_acc > self.best:
            self.best, self.bad_epochs = val_acc, 0
        else:
            self.bad_epochs += 1
        return self.patience > 0 and self.bad_epochs >= self.patience


def train_cifar10(config: dict[str, Any], data: ImageSplits) -> None:
    """Ray Tune function trainable: fine-tune ResNet18: metrics and a checkpoint every epoch."""
    cfg = CifarConfig.from_dict(config)
    torch.set_num_threads(trial_cpus())
    torch.manual_seed(cfg.seed)
    model = build_transfer_resnet(
        cfg.weights, data.num_classes, cfg.finetune, cfg.resolution, data.mean, data.std
    )
    conv1_before = model.conv1.weight.detach().clone()
    optimizer = build_optimizer(cfg.optimizer, model, cfg.lr, cfg.weight_decay, cfg.momentum)
    stopper = EarlyStopping(cfg.patience)
    start_epoch = 0
    state = restored_state()
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        set_hyperparameters(optimizer, cfg.lr, cfg.weight_decay, cfg.momentum)
        start_epoch = state["epoch"]
        conv1_before = state[CONV1_BEFORE]
        stopper = EarlyStopping(cfg.patience, float(state["best"]), int(state["bad_epochs"]))

    cached = cfg.uses_cached_features
    if cached:  # the backbone never changes: its features are the inputs of fc
        net = model.fc
        train_x, val_x, test_x = (
            backbone_features(model, x) for x in (data.train_x, data.val_x, data.test_x)
        )
    else:
        net, train_x, val_x, test_x = model, data.train_x, data.val_x, data.test_x
    for epoch in range(start_epoch, cfg.epochs):
        # Seeded per epoch, so a resumed trial sees the same batches and augmentations.
        shuffle = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
        train_batches = batches(train_x, data.train_y, cfg.batch_size, shuffle)
        if not cached:
            train_batches = augmented(train_batches, cfg.augmentation, shuffle)
        stats = train_epoch(net, optimizer, train_batches, weight_decay=cfg.weight_decay)
        val_loss, val_acc = evaluate(net, val_x, data.val_y)
        _, test_acc = evaluate(net, test_x, data.test_y)
        stop = stopper.update(val_acc)
        results = {
            m.EPOCH: epoch + 1,
            m.TRAIN_LOSS: stats.train_loss,
            m.TRAIN_COST: stats.train_cost,
            m.VAL_LOSS: val_loss,
            m.VAL_ACC: val_acc,
            m.TEST_ACC: test_acc,
            m.DIVERGED: not stats.finite,
            EARLY_STOPPED: stop and stats.finite,
            CACHED_FEATURES: cached,
            BEST_VAL_ACC: stopper.best,
            EPOCHS_WITHOUT_IMPROVEMENT: stopper.bad_epochs,
        }
        if not stats.finite:
            report(results)  # no checkpoint: the weights are no longer numbers
            return
        state = {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "epoch": epoch + 1,
            CONV1_BEFORE: conv1_before,
            "best": stopper.best,
            "bad_epochs": stopper.bad_epochs,
        }
        report(results, state)
        if stop:
            return
