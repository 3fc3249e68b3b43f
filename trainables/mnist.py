"""MNIST CNN: its hyperparameters, model builder and Ray Tune function trainable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from trainables.config import (
    FRACTION,
    NON_NEGATIVE,
    POSITIVE_FINITE,
    Constraint,
    HyperparameterConfig,
    integer_at_least,
    integer_between,
    one_of,
    setting,
)
from trainables.data import ImageSplits, normalize
from trainables.loop import EpochLoop, FixedMetrics, build_and_restore, start_from, start_trial
from trainables.training import OPTIMIZERS

INITS = ("default", "kaiming", "xavier")
MAX_CONV_LAYERS = 4  # 28x28 halves to 1x1 after four 2x2 poolings
ODD_KERNEL = Constraint("must be an odd integer >= 1", lambda v: v >= 1 and v % 2 == 1)


@dataclass(frozen=True)
class MnistConfig(HyperparameterConfig):
    """Every hyperparameter of the MNIST CNN and its training; names are public (`--set`)."""

    lr: float = setting(0.05, POSITIVE_FINITE)
    batch_size: int = setting(64, integer_at_least(1))
    optimizer: str = setting("sgd", one_of(OPTIMIZERS))
    momentum: float = setting(0.0, FRACTION)  # used by optimizer="momentum"
    beta1: float = setting(0.9, FRACTION)  # Adam's betas
    beta2: float = setting(0.999, FRACTION)
    weight_decay: float = setting(0.0, NON_NEGATIVE)  # L2 strength, as optimizer weight decay
    l1: float = setting(0.0, NON_NEGATIVE)  # L1 strength: l1 * sum|w| added to the loss
    dropout: float = setting(0.0, FRACTION)
    conv_layers: int = setting(2, integer_between(2, MAX_CONV_LAYERS))
    # Channels of the first conv layer; each further layer doubles them.
    channels: int = setting(32, integer_at_least(1))
    kernel_size: int = setting(5, ODD_KERNEL)
    width: int = setting(128, integer_at_least(1))  # hidden fully connected layer
    batchnorm: bool = False
    init: str = setting("default", one_of(INITS))
    epochs: int = setting(10, integer_at_least(1))
    seed: int = 0


coerce = MnistConfig.coerce  # one `--set KEY=VALUE`, parsed as its hyperparameter's type


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
    start_trial(cfg.seed)
    channels, size = data.train_x.shape[1], data.train_x.shape[-1]
    model = build_cnn(cfg, channels, size, data.num_classes)
    optimizer, state = build_and_restore(
        model, cfg.optimizer, lr=cfg.lr, weight_decay=cfg.weight_decay, momentum=cfg.momentum,
        betas=(cfg.beta1, cfg.beta2),
    )  # fmt: skip
    splits = (data.train_x, data.val_x, data.test_x)
    train_x, val_x, test_x = (normalize(x, data.mean, data.std) for x in splits)
    origin = {} if init is None else start_from(model, init, state, val_x, data.val_y)
    loop = EpochLoop(
        model=model, optimizer=optimizer, net=model, inputs=(train_x, val_x, test_x), data=data,
        batch_size=cfg.batch_size, seed=cfg.seed, epochs=cfg.epochs, l1=cfg.l1,
        weight_decay=cfg.weight_decay, extras=FixedMetrics(origin), fault_injection=True,
    )  # fmt: skip
    loop.run(state)
