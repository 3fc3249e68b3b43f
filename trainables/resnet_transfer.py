"""ResNet18 for transfer learning: torchvision's network with a new head and frozen parts.

It owns its input pipeline (uint8 batches in, resized and ImageNet-normalized inside) and computes
the backbone features that the cached-feature path trains `fc` on.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import ResNet18_Weights
from torchvision.models.resnet import BasicBlock, ResNet

from trainables.pretrained import (
    IMAGENET,
    NO_WEIGHTS,
    check_file_architecture,
    check_source,
    imagenet_state_dict,
    load_into,
    read_state_dict,
)

ARCHITECTURE = "ResNet18"
IMAGENET_WEIGHTS = ResNet18_Weights.IMAGENET1K_V1
# Which parameters train in each fine-tuning mode (everything else is frozen).
FINETUNE_PARTS: dict[str, tuple[str, ...]] = {
    "fc": ("fc",),
    "conv1": ("fc", "conv1", "layer1.0.conv1"),
}
FEATURE_BATCH_SIZE = 250


class TransferResNet(ResNet):
    """torchvision's ResNet18 (same state-dict names), taking uint8 or [0, 1] float images.

    Batch norm always runs in eval mode: its statistics belong to the pretrained backbone, which
    no fine-tuning mode trains, and it makes the full forward pass and the cached features agree.
    """

    def __init__(
        self,
        resolution: int,
        mean: tuple[float, ...],
        std: tuple[float, ...],
        num_classes: int = 1000,
    ) -> None:
        super().__init__(BasicBlock, [2, 2, 2, 2], num_classes=num_classes)
        self.resolution = resolution
        # Not persistent: the state dict stays exactly torchvision's resnet18 one.
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 (or [0, 1] float) images -> resized to `resolution`, ImageNet-normalized."""
        x = x.float().div(255.0) if x.dtype == torch.uint8 else x
        if x.shape[-1] != self.resolution or x.shape[-2] != self.resolution:
            x = F.interpolate(
                x, size=(self.resolution, self.resolution), mode="bilinear", antialias=True
            )
        return (x - self.mean) / self.std

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The 512-d pooled backbone output: everything but `fc`."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(self.prepare(x)))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))

    def train(self, mode: bool = True) -> TransferResNet:
        super().train(mode)
        for module in self.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.eval()
        return self


def build_transfer_resnet(
    weights: str,
    num_classes: int,
    finetune: str,
    resolution: int,
    mean: tuple[float, ...],
    std: tuple[float, ...],
) -> TransferResNet:
    """ResNet18 with `weights` (imagenet | none | FILE), a new `num_classes`-way fc, and only the
    parts of `FINETUNE_PARTS[finetune]` trainable. The caller seeds torch for the new fc."""
    if finetune not in FINETUNE_PARTS:
        raise ValueError(f"finetune={finetune!r}: choose one of {', '.join(FINETUNE_PARTS)}")
    check_source(weights)
    model = TransferResNet(resolution, mean, std)
    if weights == IMAGENET:
        model.load_state_dict(imagenet_state_dict(IMAGENET_WEIGHTS))
    elif weights != NO_WEIGHTS:
        load_into(model, read_state_dict(weights), ARCHITECTURE, weights, skip_prefixes=("fc.",))
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    set_trainable(model, finetune)
    return model


def check_weights(weights: str) -> None:
    """Raise WeightsError (in the driver, before trials start) if `weights` cannot be used."""
    check_source(weights)
    if weights == IMAGENET:
        imagenet_state_dict(IMAGENET_WEIGHTS)  # downloads once into the torch cache if online
    elif weights != NO_WEIGHTS:
        check_file_architecture(weights, _plain_resnet18, ARCHITECTURE, skip_prefixes=("fc.",))


def _plain_resnet18() -> nn.Module:
    return ResNet(BasicBlock, [2, 2, 2, 2])


def set_trainable(model: nn.Module, finetune: str) -> None:
    """Freeze every parameter except those under the modules named by `FINETUNE_PARTS`."""
    parts = FINETUNE_PARTS[finetune]
    for name, parameter in model.named_parameters():
        parameter.requires_grad = any(name.startswith(part + ".") for part in parts)


@torch.no_grad()
def backbone_features(
    model: TransferResNet, x: torch.Tensor, batch_size: int = FEATURE_BATCH_SIZE
) -> torch.Tensor:
    """The frozen backbone's features of every image in `x`, computed once, in chunks."""
    model.eval()
    chunks = [model.features(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    return torch.cat(chunks) if chunks else torch.empty(0, model.fc.in_features, device=x.device)
