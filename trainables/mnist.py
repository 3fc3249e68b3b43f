"""MNIST CNN: its hyperparameters, model builder and Ray Tune function trainable."""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from trainables import metrics as m
from trainables.data import ImageSplits, batches, normalize
from trainables.reporting import inject_faults, report, restored_state, trial_cpus
from trainables.training import (
    OPTIMIZERS,
    build_optimizer,
    evaluate,
    set_hyperparameters,
    train_epoch,
)

INITS = ("default", "kaiming", "xavier")
MAX_CONV_LAYERS = 4  # 28x28 halves to 1x1 after four 2x2 poolings


class ConfigError(ValueError):
    """A hyperparameter value outside its domain, or an unknown hyperparameter."""


@dataclass(frozen=True)
class MnistConfig:
    """Every hyperparameter of the MNIST CNN and its training; names are public (`--set`)."""

    lr: float = 0.05
    batch_size: int = 64
    optimizer: str = "sgd"
    momentum: float = 0.0  # used by optimizer="momentum"
    beta1: float = 0.9  # Adam's betas
    beta2: float = 0.999
    weight_decay: float = 0.0  # L2 strength, as optimizer weight decay
    l1: float = 0.0  # L1 strength: l1 * sum|w| added to the loss
    dropout: float = 0.0
    conv_layers: int = 2
    channels: int = 32  # channels of the first conv layer; each further layer doubles them
    kernel_size: int = 5
    width: int = 128  # hidden fully connected layer
    batchnorm: bool = False
    init: str = "default"
    epochs: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        checks = {
            "lr": self.lr > 0 and math.isfinite(self.lr),
            "batch_size": self.batch_size >= 1,
            "optimizer": self.optimizer in OPTIMIZERS,
            "momentum": 0 <= self.momentum < 1,
            "beta1": 0 <= self.beta1 < 1,
            "beta2": 0 <= self.beta2 < 1,
            "weight_decay": self.weight_decay >= 0,
            "l1": self.l1 >= 0,
            "dropout": 0 <= self.dropout < 1,
            "conv_layers": 2 <= self.conv_layers <= MAX_CONV_LAYERS,
            "channels": self.channels >= 1,
            "kernel_size": self.kernel_size >= 1 and self.kernel_size % 2 == 1,
            "width": self.width >= 1,
            "init": self.init in INITS,
            "epochs": self.epochs >= 1,
        }
        for name, ok in checks.items():
            if not ok:
                raise ConfigError(f"{name}={getattr(self, name)!r} is invalid: {CONSTRAINTS[name]}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> MnistConfig:
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
    "beta1": "must be in [0, 1)",
    "beta2": "must be in [0, 1)",
    "weight_decay": "must be >= 0",
    "l1": "must be >= 0",
    "dropout": "must be in [0, 1)",
    "conv_layers": f"must be an integer from 2 to {MAX_CONV_LAYERS}",
    "channels": "must be an integer >= 1",
    "kernel_size": "must be an odd integer >= 1",
    "width": "must be an integer >= 1",
    "init": f"must be one of {', '.join(INITS)}",
    "epochs": "must be an integer >= 1",
}
FIELD_TYPES: dict[str, type] = {
    f.name: typing.get_type_hints(MnistConfig)[f.name] for f in dataclasses.fields(MnistConfig)
}


def coerce(name: str, value: Any) -> Any:
    """`value` as the type of hyperparameter `name`; text such as "0.1" or "true" is parsed."""
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


def build_cnn(
    config: MnistConfig, in_channels: int = 1, image_size: int = 28, num_classes: int = 10
) -> nn.Sequential:
    """conv -> [batchnorm] -> ReLU -> 2x2 max-pool, per conv layer; then FC -> dropout -> FC."""
    layers: list[nn.Module] = []
    channels, size = in_channels, image_size
    for index in range(config.conv_layers):
        out = config.channels * 2**index
        layers += [nn.Conv2d(channels, out, config.kernel_size, padding=config.kernel_size // 2)]
        layers += [nn.BatchNorm2d(out)] if config.batchnorm else []
        layers += [nn.ReLU(), nn.MaxPool2d(2)]
        channels, size = out, size // 2
    layers += [nn.Flatten(), nn.Linear(channels * size * size, config.width)]
    layers += [nn.BatchNorm1d(config.width)] if config.batchnorm else []
    layers += [nn.ReLU(), nn.Dropout(config.dropout), nn.Linear(config.width, num_classes)]
    model = nn.Sequential(*layers)
    _initialize(model, config.init)
    return model


def _initialize(model: nn.Module, scheme: str) -> None:
    if scheme == "default":
        return
    for module in model.modules():
        if isinstance(module, nn.Conv2d | nn.Linear):
            if scheme == "kaiming":
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            else:
                nn.init.xavier_uniform_(module.weight)
            nn.init.zeros_(module.bias)


# Problem 4.2's L1 job trains without dropout and weight decay, whatever its config says.
L1_ENFORCED = {"dropout": 0.0, "weight_decay": 0.0}


def l1_config(config: dict[str, Any]) -> dict[str, Any]:
    """`config` with `L1_ENFORCED` applied: what `train_mnist_l1` trains."""
    return {**config, **L1_ENFORCED}


def train_mnist_l1(
    config: dict[str, Any], data: ImageSplits, init: dict[str, Any] | None = None
) -> None:
    """`train_mnist` with zero dropout and zero weight decay (Problem 4.2)."""
    train_mnist(l1_config(config), data, init)


def train_mnist(
    config: dict[str, Any], data: ImageSplits, init: dict[str, Any] | None = None
) -> None:
    """Ray Tune function trainable: train the CNN, report metrics and a checkpoint every epoch.

    Args:
        init: weights to start from (`model`), with the `source_trial` and `source_checkpoint`
            they came from; recorded in every report. A resumed trial uses its own checkpoint.
    """
    cfg = MnistConfig.from_dict(config)
    torch.set_num_threads(trial_cpus())
    torch.manual_seed(cfg.seed)
    channels, size = data.train_x.shape[1], data.train_x.shape[-1]
    model = build_cnn(cfg, channels, size, data.num_classes)
    optimizer = build_optimizer(
        cfg.optimizer, model, cfg.lr, cfg.weight_decay, cfg.momentum, (cfg.beta1, cfg.beta2)
    )
    start_epoch = 0
    state = restored_state()
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        set_hyperparameters(
            optimizer, cfg.lr, cfg.weight_decay, cfg.momentum, (cfg.beta1, cfg.beta2)
        )
        start_epoch = state["epoch"]

    train_x = normalize(data.train_x, data.mean, data.std)
    val_x = normalize(data.val_x, data.mean, data.std)
    test_x = normalize(data.test_x, data.mean, data.std)
    origin: dict[str, Any] = {}
    if init is not None:
        if state is None:
            model.load_state_dict(init["model"])
        origin = {
            m.INIT_TRIAL: init["source_trial"],
            m.INIT_CHECKPOINT: init["source_checkpoint"],
            m.INIT_VAL_ACC: evaluate(model, val_x, data.val_y)[1] if state is None else None,
        }
    for epoch in range(start_epoch, cfg.epochs):
        # Seeded per epoch, so a trial resumed from a checkpoint sees the same batches.
        shuffle = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
        stats = train_epoch(
            model, optimizer, batches(train_x, data.train_y, cfg.batch_size, shuffle),
            l1=cfg.l1, weight_decay=cfg.weight_decay,
        )  # fmt: skip
        val_loss, val_acc = evaluate(model, val_x, data.val_y)
        _, test_acc = evaluate(model, test_x, data.test_y)
        results = {
            m.EPOCH: epoch + 1,
            m.TRAIN_LOSS: stats.train_loss,
            m.TRAIN_COST: stats.train_cost,
            m.VAL_LOSS: val_loss,
            m.VAL_ACC: val_acc,
            m.TEST_ACC: test_acc,
            m.DIVERGED: not stats.finite,
            **origin,
        }
        inject_faults(epoch + 1, restored=start_epoch > 0)  # inert unless a test asks
        if not stats.finite:
            report(results)  # no checkpoint: the weights are no longer numbers
            return
        state = {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "epoch": epoch + 1,
        }
        report(results, state)
