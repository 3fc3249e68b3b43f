"""Fooling a classifier: the smallest FGSM / PGD perturbation (L-infinity, pixel units in [0, 1]),
plain Gaussian noise, and a rotation, each searched on an increasing scale until the top-1 class
changes. Works on any model that takes [0, 1] RGB batches (see `classifier.Normalized`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.transforms.v2 import functional as TF

# Budgets tried in order, smallest first: the first that changes the prediction is reported.
EPSILONS = tuple(e / 255 for e in (0.25, 0.5, 1, 2, 4, 8, 16, 32))
NOISE_STDS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5)
ROTATIONS = (5.0, 10.0, 20.0, 45.0, 90.0, 180.0)
PGD_STEPS = 10
NOISE_SEED = 0


def fgsm(model: nn.Module, x: torch.Tensor, label: int, epsilon: float) -> torch.Tensor:
    """One signed-gradient step of size `epsilon` that increases the loss of `label`."""
    x = x.detach().clone().requires_grad_(True)
    F.cross_entropy(model(x), torch.tensor([label])).backward()
    return (x + epsilon * x.grad.sign()).clamp(0, 1).detach()


def pgd(
    model: nn.Module, x: torch.Tensor, label: int, epsilon: float, steps: int = PGD_STEPS
) -> torch.Tensor:
    """Projected gradient descent in the L-infinity ball of radius `epsilon` (no random start)."""
    step = 2.5 * epsilon / steps
    adversarial = x.detach().clone()
    for _ in range(steps):
        adversarial.requires_grad_(True)
        loss = F.cross_entropy(model(adversarial), torch.tensor([label]))
        (grad,) = torch.autograd.grad(loss, adversarial)
        moved = adversarial.detach() + step * grad.sign()
        adversarial = (x + (moved - x).clamp(-epsilon, epsilon)).clamp(0, 1)
    return adversarial.detach()


def gaussian_noise(x: torch.Tensor, std: float) -> torch.Tensor:
    generator = torch.Generator().manual_seed(NOISE_SEED)
    return (x + std * torch.randn(x.shape, generator=generator)).clamp(0, 1)


def rotation(x: torch.Tensor, degrees: float) -> torch.Tensor:
    return TF.rotate(x, degrees, interpolation=TF.InterpolationMode.BILINEAR)


@dataclass(frozen=True)
class Attempt:
    """The first perturbation of one kind that changed the prediction (or the largest tried)."""

    kind: str  # fgsm | pgd | noise | rotation
    strength: float  # epsilon, noise std or degrees
    image: torch.Tensor  # 1 x 3 x H x W, in [0, 1]
    linf: float  # max |perturbation| in pixel units ([0, 1] scale)
    l2: float  # Euclidean norm of the perturbation over all pixels and channels
    prediction: int
    fooled: bool


@torch.no_grad()
def _predict(model: nn.Module, x: torch.Tensor) -> int:
    return int(model(x).argmax(1))


def search(
    model: nn.Module,
    x: torch.Tensor,
    label: int,
    kind: str,
    make: Callable[[float], torch.Tensor],
    strengths: tuple[float, ...],
) -> Attempt:
    """Try `make(s)` for increasing s until the top-1 class is no longer `label`."""
    for strength in strengths:
        candidate = make(strength)
        prediction = _predict(model, candidate)
        if prediction != label or strength == strengths[-1]:
            delta = candidate - x
            return Attempt(
                kind, strength, candidate, float(delta.abs().max()), float(delta.norm()),
                prediction, prediction != label,
            )  # fmt: skip
    raise ValueError("no strengths to try")


def fool(
    model: nn.Module, x: torch.Tensor, label: int, pgd_steps: int = PGD_STEPS
) -> list[Attempt]:
    """FGSM, PGD, noise and rotation attempts against `model` on one [0, 1] image batch `x`."""
    model.eval()
    return [
        search(model, x, label, "fgsm", lambda e: fgsm(model, x, label, e), EPSILONS),
        search(model, x, label, "pgd", lambda e: pgd(model, x, label, e, pgd_steps), EPSILONS),
        search(model, x, label, "noise", lambda s: gaussian_noise(x, s), NOISE_STDS),
        search(model, x, label, "rotation", lambda d: rotation(x, d), ROTATIONS),
    ]


def attempts_frame(attempts: list[Attempt], categories: tuple[str, ...], label: int):
    """One row per attempt: its kind, strength, norms and the class it produced."""
    return pd.DataFrame(
        {
            "kind": [a.kind for a in attempts],
            "strength": [a.strength for a in attempts],
            "strength_unit": [
                {"rotation": "degrees", "noise": "std"}.get(a.kind, "epsilon") for a in attempts
            ],
            "linf": [a.linf for a in attempts],
            "linf_over_255": [a.linf * 255 for a in attempts],
            "l2": [a.l2 for a in attempts],
            "fooled": [a.fooled for a in attempts],
            "before": [categories[label]] * len(attempts),
            "after": [categories[a.prediction] for a in attempts],
        }
    )
