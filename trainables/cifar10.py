"""ResNet18 transfer learning on CIFAR-10 (Problem 6): hyperparameters, early stopping, and the Ray
Tune function trainable.

When only `fc` trains and augmentation is off, the frozen backbone's features are computed once and
`fc` trains on them: the same gradients as the full forward pass (batch norm runs in eval mode in
both), at a small fraction of the cost. Each report says which path ran (`cached_features`).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch

from trainables.augment import AUGMENTATIONS, augmented
from trainables.config import (
    BATCH_SIZE,
    BOOLEAN,
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
from trainables.data import ImageSplits, to_device
from trainables.loop import Batches, EpochLoop, build_and_restore, start_trial
from trainables.pretrained import IMAGENET, NO_WEIGHTS, WeightsError, check_source
from trainables.resnet_transfer import (
    FINETUNE_PARTS,
    TransferResNet,
    backbone_features,
    build_transfer_resnet,
    check_weights,
)
from trainables.training import OPTIMIZERS, eval_batch_size

# Metrics of this trainable beyond the ones every trainable reports.
EARLY_STOPPED = "early_stopped"  # True on the last report of a trial stopped by its patience
CACHED_FEATURES = "cached_features"  # True when fc trained on precomputed backbone features
BEST_VAL_ACC = "best_val_acc"  # best val_acc so far: what early stopping compares against
EPOCHS_WITHOUT_IMPROVEMENT = "epochs_without_improvement"
CONV1_BEFORE = "conv1_before"  # checkpoint key: conv1's filters before fine-tuning

# Checked by `check_source` in __post_init__ (its own message); the text is for `coerce`.
WEIGHTS_SOURCE = Constraint(
    f"must be {IMAGENET}, {NO_WEIGHTS} or the path of a ResNet18 state-dict file"
)


@dataclass(frozen=True)
class CifarConfig(HyperparameterConfig):
    """Every hyperparameter of the transfer-learning job; names are public (`--set`)."""

    lr: float = setting(1e-3, POSITIVE_FINITE)
    batch_size: int = setting(64, BATCH_SIZE)
    optimizer: str = setting("adam", one_of(OPTIMIZERS))
    momentum: float = setting(0.9, FRACTION)  # used by optimizer="momentum"
    weight_decay: float = setting(0.0, NON_NEGATIVE)
    # fc: only the new head; conv1: also conv1 and layer1[0].conv1
    finetune: str = setting("fc", one_of(FINETUNE_PARTS))
    weights: str = setting(IMAGENET, WEIGHTS_SOURCE)  # imagenet | none | path of a state dict
    # Input side the images are resized to (ResNet18 was trained at 224).
    # Bounded: ResNet18's activations grow with its square.
    resolution: int = setting(64, integer_between(32, 1024, "(pixels)"))
    augmentation: str = setting("none", one_of(AUGMENTATIONS))
    # Epochs without a val_acc improvement before stopping; 0: never stop.
    patience: int = setting(3, integer_at_least(0, "(0 disables early stopping)"))
    # Train fc on precomputed features when nothing else trains.
    cache_features: bool = setting(True, BOOLEAN)
    epochs: int = setting(10, integer_at_least(1))
    seed: int = setting(0, SEED)

    def __post_init__(self) -> None:
        super().__post_init__()
        try:
            check_source(self.weights)
        except WeightsError as error:
            raise ConfigError(str(error)) from None

    @property
    def uses_cached_features(self) -> bool:
        return self.cache_features and self.finetune == "fc" and self.augmentation == "none"


coerce = CifarConfig.coerce  # one `--set KEY=VALUE`, parsed as its hyperparameter's type


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


@dataclass
class TransferExtras:
    """This trainable's part of each epoch: early stopping, which path trained, conv1 before."""

    stopper: EarlyStopping
    cached: bool  # fc trains on precomputed backbone features
    conv1_before: torch.Tensor
    stopping: bool = False  # the latest epoch's early-stopping verdict

    def metrics(self, val_acc: float, finite: bool) -> dict[str, Any]:
        self.stopping = self.stopper.update(val_acc)
        return {
            EARLY_STOPPED: self.stopping and finite,
            CACHED_FEATURES: self.cached,
            BEST_VAL_ACC: self.stopper.best,
            EPOCHS_WITHOUT_IMPROVEMENT: self.stopper.bad_epochs,
        }

    def checkpoint(self) -> dict[str, Any]:
        best, bad_epochs = self.stopper.best, self.stopper.bad_epochs
        return {CONV1_BEFORE: self.conv1_before, "best": best, "bad_epochs": bad_epochs}

    def stop(self) -> bool:
        return self.stopping


# The last features computed in this process: a reused actor's next trial with the same backbone
# weights and images (an HPO over fc's lr and weight decay) skips the backbone's forward passes.
_LAST_FEATURES: dict[str, Any] = {}


def split_features(
    model: TransferResNet, splits: tuple[torch.Tensor, ...], batch: int
) -> tuple[torch.Tensor, ...]:
    """The frozen backbone's features of each split, reused while weights and images match."""
    backbone = [t for name, t in model.state_dict().items() if not name.startswith("fc.")]
    key = _fingerprint([*backbone, model.mean, model.std], model.resolution, splits)
    if _LAST_FEATURES.get("key") != key:
        _LAST_FEATURES.clear()  # one set at a time: the old one is freed first
        features = tuple(backbone_features(model, x, batch) for x in splits)
        _LAST_FEATURES.update(key=key, features=features)
    return _LAST_FEATURES["features"]


def _fingerprint(
    tensors: Iterable[torch.Tensor], resolution: int, splits: tuple[torch.Tensor, ...]
) -> str:
    """A digest of the backbone's tensors, its input resolution, and each image's pixel sum in
    order (a reordered split must not reuse features whose rows belong to other labels)."""
    digest = hashlib.sha256(str(resolution).encode())
    for tensor in tensors:
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    for x in splits:
        digest.update(repr((tuple(x.shape), str(x.device), str(x.dtype))).encode())
        sums = x.reshape(len(x), -1).sum(dim=1, dtype=torch.int64) if len(x) else x.new_zeros(0)
        digest.update(sums.cpu().numpy().tobytes())
    return digest.hexdigest()


def train_cifar10(config: dict[str, Any], data: ImageSplits) -> None:
    """Ray Tune function trainable: fine-tune ResNet18: metrics and a checkpoint every epoch."""
    cfg = CifarConfig.from_dict(config)
    device = start_trial(cfg.seed)
    data = to_device(data, device)  # uint8 splits; the model resizes and normalizes each batch
    model = build_transfer_resnet(
        cfg.weights, data.num_classes, cfg.finetune, cfg.resolution, data.mean, data.std
    )
    conv1_before = model.conv1.weight.detach().clone()  # on the CPU, as checkpoints hold it
    optimizer, state = build_and_restore(
        model, cfg.optimizer, device, lr=cfg.lr, weight_decay=cfg.weight_decay,
        momentum=cfg.momentum,
    )  # fmt: skip
    stopper = EarlyStopping(cfg.patience)
    if state is not None:
        conv1_before = state[CONV1_BEFORE]
        stopper = EarlyStopping(cfg.patience, float(state["best"]), int(state["bad_epochs"]))
    cached, batch = cfg.uses_cached_features, eval_batch_size(device)
    splits = (data.train_x, data.val_x, data.test_x)
    if cached:  # the backbone never changes: its features are the inputs of fc
        net, inputs = model.fc, split_features(model, splits, batch)
    else:
        net, inputs = model, splits
    loop = EpochLoop(
        model=model, optimizer=optimizer, net=net, inputs=inputs, data=data,
        batch_size=cfg.batch_size, seed=cfg.seed, epochs=cfg.epochs,
        weight_decay=cfg.weight_decay, augment=None if cached else _augmentation(cfg.augmentation),
        extras=TransferExtras(stopper, cached, conv1_before), device=device,
        eval_batch_size=batch,
    )  # fmt: skip
    loop.run(state)


def _augmentation(policy: str) -> Callable[[Batches, torch.Generator], Batches]:
    """The loop's batch transform that applies augmentation `policy`."""
    return lambda train_batches, generator: augmented(train_batches, policy, generator)
