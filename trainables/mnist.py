"""MNIST CNN: its hyperparameters, model builder and Ray Tune function trainable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from trainables.config import (
    BATCH_SIZE,
    FRACTION,
    NON_NEGATIVE,
    POSITIVE_FINITE,
    SEED,
    ConfigError,
    Constraint,
    HyperparameterConfig,
    integer_at_least,
    integer_between,
    one_of,
    setting,
)
from trainables.data import ImageSplits, normalize, to_device
from trainables.loop import EpochLoop, FixedMetrics, build_and_restore, start_from, start_trial
from trainables.training import OPTIMIZERS, eval_batch_size

INITS = ("default", "kaiming", "xavier")
MAX_CONV_LAYERS = 4  # 28x28 halves to 1x1 after four 2x2 poolings
MAX_KERNEL = 27  # the largest odd kernel that still fits a 28x28 image
ODD_KERNEL = Constraint(
    f"must be an odd integer from 1 to {MAX_KERNEL}", lambda v: 1 <= v <= MAX_KERNEL and v % 2 == 1
)
MAX_CHANNELS, MAX_WIDTH = 512, 4096
# Weights, gradients and up to two optimizer moments: 16 bytes a parameter, 1.6 GB at the limit.
MAX_PARAMETERS = 100_000_000
CHANNELS_LAST = True  # faster on a CPU: benchmarks/epoch_speed.py --variants (see README)


@dataclass(frozen=True)
class MnistConfig(HyperparameterConfig):
    """Every hyperparameter of the MNIST CNN and its training; names are public (`--set`)."""

    lr: float = setting(0.05, POSITIVE_FINITE)
    batch_size: int = setting(64, BATCH_SIZE)
    optimizer: str = setting("sgd", one_of(OPTIMIZERS))
    momentum: float = setting(0.0, FRACTION)  # used by optimizer="momentum"
    beta1: float = setting(0.9, FRACTION)  # Adam's betas
    beta2: float = setting(0.999, FRACTION)
    weight_decay: float = setting(0.0, NON_NEGATIVE)  # L2 strength, as optimizer weight decay
    l1: float = setting(0.0, NON_NEGATIVE)  # L1 strength: l1 * sum|w| added to the loss
    dropout: float = setting(0.0, FRACTION)
    conv_layers: int = setting(2, integer_between(2, MAX_CONV_LAYERS))
    # Channels of the first conv layer; each further layer doubles them.
    channels: int = setting(32, integer_between(1, MAX_CHANNELS))
    kernel_size: int = setting(5, ODD_KERNEL)
    width: int = setting(128, integer_between(1, MAX_WIDTH))  # hidden fully connected layer
    batchnorm: bool = False
    init: str = setting("default", one_of(INITS))
    epochs: int = setting(10, integer_at_least(1))
    seed: int = setting(0, SEED)

    def __post_init__(self) -> None:
        super().__post_init__()
        count = parameter_count(self)
        if count > MAX_PARAMETERS:
            raise ConfigError(
                f"conv_layers={self.conv_layers}, channels={self.channels}, kernel_size="
                f"{self.kernel_size}, width={self.width} give a network of {count:,} "
                f"parameters; at most {MAX_PARAMETERS:,} fit a trial's memory (16 bytes each "
                "with gradients and optimizer state)"
            )


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


class Standardize(nn.Module):
    """uint8 images in, standardized float32 out (`normalize`): splits stay uint8 in memory and
    on the device, and only each batch is made float."""

    def __init__(
        self, mean: tuple[float, ...], std: tuple[float, ...], channels_last: bool = False
    ) -> None:
        super().__init__()
        # Not persistent: the checkpoint holds the CNN's own state dict, not this wrapper's.
        self.register_buffer("mean", torch.tensor(mean), persistent=False)
        self.register_buffer("std", torch.tensor(std), persistent=False)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return normalize(x, self.mean, self.std).contiguous(memory_format=self.memory_format)


def standardized(
    model: nn.Module, mean: tuple[float, ...], std: tuple[float, ...], channels_last: bool = False
) -> nn.Sequential:
    """`model` behind a `Standardize` of its uint8 inputs; with `channels_last`, both run in that
    memory format (same parameters, in place)."""
    if channels_last:
        model.to(memory_format=torch.channels_last)
    return nn.Sequential(Standardize(mean, std, channels_last), model)


def parameter_count(
    config: MnistConfig, in_channels: int = 1, image_size: int = 28, num_classes: int = 10
) -> int:
    """The parameters `build_cnn` creates, counted without allocating them."""
    norm = 2 if config.batchnorm else 0  # a batch-norm layer's weight and bias per channel
    count, channels, size = 0, in_channels, image_size
    for index in range(config.conv_layers):
        out = config.channels * 2**index
        count += channels * out * config.kernel_size**2 + out + norm * out
        channels, size = out, size // 2
    count += channels * size * size * config.width + config.width + norm * config.width
    return count + config.width * num_classes + num_classes


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
    device = start_trial(cfg.seed)
    data = to_device(data, device)  # uint8 splits, moved once (on a CPU: the same tensors)
    channels, size = data.train_x.shape[1], data.train_x.shape[-1]
    model = build_cnn(cfg, channels, size, data.num_classes)
    net = standardized(model, data.mean, data.std, channels_last=CHANNELS_LAST).to(device)
    optimizer, state = build_and_restore(
        model, cfg.optimizer, device, lr=cfg.lr, weight_decay=cfg.weight_decay,
        momentum=cfg.momentum, betas=(cfg.beta1, cfg.beta2),
    )  # fmt: skip
    batch = eval_batch_size(device)
    origin = {} if init is None else start_from(
        model, init, state, data.val_x, data.val_y, net=net, batch_size=batch
    )  # fmt: skip
    loop = EpochLoop(
        model=model, optimizer=optimizer, net=net, inputs=(data.train_x, data.val_x, data.test_x),
        data=data, batch_size=cfg.batch_size, seed=cfg.seed, epochs=cfg.epochs, l1=cfg.l1,
        weight_decay=cfg.weight_decay, extras=FixedMetrics(origin), fault_injection=True,
        device=device, eval_batch_size=batch,
    )  # fmt: skip
    loop.run(state)
