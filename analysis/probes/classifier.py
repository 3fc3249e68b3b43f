"""ImageNet classifiers for the probes: torchvision's AlexNet / ResNet18 with their weights' own
preprocessing and class names, taking [0, 1] RGB images (normalization is part of the model)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import torch
from torch import nn
from torchvision.models import AlexNet_Weights, ResNet18_Weights, alexnet, resnet18
from torchvision.transforms.v2 import functional as TF

from trainables.pretrained import (
    IMAGENET,
    NO_WEIGHTS,
    check_source,
    imagenet_state_dict,
    load_into,
    read_state_dict,
)

ARCHITECTURES: dict[str, tuple[Callable[[], nn.Module], object, str]] = {
    "alexnet": (alexnet, AlexNet_Weights.IMAGENET1K_V1, "AlexNet"),
    "resnet18": (resnet18, ResNet18_Weights.IMAGENET1K_V1, "ResNet18"),
}


class Normalized(nn.Module):
    """`model` behind the ImageNet normalization: it takes [0, 1] RGB batches."""

    def __init__(self, model: nn.Module, mean, std) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model((x - self.mean) / self.std)


@dataclass(frozen=True)
class Classifier:
    """A model, the geometric part of its preprocessing, and its class names."""

    model: Normalized
    categories: tuple[str, ...]
    resize: int
    crop: int
    weights: str

    @property
    def random(self) -> bool:
        return self.weights == NO_WEIGHTS

    def prepare(self, image: torch.Tensor) -> torch.Tensor:
        """The weights' own resize and centre crop, on a [0, 1] 3 x H x W image."""
        resized = TF.resize(image, [self.resize], antialias=True)
        return TF.center_crop(resized, [self.crop, self.crop]).clamp(0, 1)

    @torch.no_grad()
    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        self.model.eval()
        return self.model(images).softmax(1)


def load_classifier(architecture: str, weights: str, size: int | None = None) -> Classifier:
    """`architecture` with `weights` (imagenet | none | FILE); raises WeightsError on a bad source.

    Preprocessing and class names come from torchvision's weights metadata in every case (they
    need no download). `size` replaces the crop size (and scales the resize) for quick runs.
    """
    build, enum, name = ARCHITECTURES[architecture]
    check_source(weights)
    torch.manual_seed(0)  # random weights: the same network on every run
    model = build()
    if weights == IMAGENET:
        model.load_state_dict(imagenet_state_dict(enum))
    elif weights != NO_WEIGHTS:
        load_into(model, read_state_dict(weights), name, weights)
    preset = enum.transforms()
    crop, resize = preset.crop_size[0], preset.resize_size[0]
    if size is not None:
        crop, resize = size, round(size * resize / crop)
    normalized = Normalized(model, preset.mean, preset.std).eval()
    return Classifier(normalized, tuple(enum.meta["categories"]), resize, crop, weights)


def top5_frame(probabilities: torch.Tensor, categories: tuple[str, ...], **labels) -> pd.DataFrame:
    """Rank 1-5 classes (fewer if there are fewer) of one probability vector, with `labels` as
    extra columns."""
    k = min(5, len(probabilities))
    values, indices = probabilities.topk(k)
    return pd.DataFrame(
        {
            **{key: [value] * k for key, value in labels.items()},
            "rank": range(1, k + 1),
            "class_index": indices.tolist(),
            "class_name": [categories[i] for i in indices.tolist()],
            "probability": values.tolist(),
        }
    )
