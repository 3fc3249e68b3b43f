"""Image transforms with a severity, for probing how predictions and feature maps change.

Each takes a float RGB image in [0, 1] (3 x H x W, after the model's resize and crop) and a
severity, and returns an image of the same size. `--transforms NAME[=SEVERITY] ...` picks them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torchvision.transforms.v2 import functional as TF

from analysis.probes.images import ProbeError

NOISE_SEED = 0


def _crop(image: torch.Tensor, keep: float) -> torch.Tensor:
    h, w = image.shape[-2:]
    cropped = TF.center_crop(image, [max(1, round(h * keep)), max(1, round(w * keep))])
    return TF.resize(cropped, [h, w], antialias=True)


def _blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    kernel = 2 * math.ceil(3 * sigma) + 1
    return TF.gaussian_blur(image, [kernel, kernel], [sigma, sigma])


def _noise(image: torch.Tensor, std: float) -> torch.Tensor:
    generator = torch.Generator().manual_seed(NOISE_SEED)
    return (image + std * torch.randn(image.shape, generator=generator)).clamp(0, 1)


def _rotate(image: torch.Tensor, degrees: float) -> torch.Tensor:
    return TF.rotate(image, degrees, interpolation=TF.InterpolationMode.BILINEAR)


def _occlude(image: torch.Tensor, fraction: float) -> torch.Tensor:
    h, w = image.shape[-2:]
    sh, sw = round(h * fraction), round(w * fraction)
    top, left = (h - sh) // 2, (w - sw) // 2
    out = image.clone()
    out[..., top : top + sh, left : left + sw] = 0.5
    return out


@dataclass(frozen=True)
class Transform:
    name: str
    apply: Callable[[torch.Tensor, float], torch.Tensor]
    default: float
    low: float
    high: float
    meaning: str

    def check(self, severity: float) -> None:
        if not (self.low <= severity <= self.high) or not math.isfinite(severity):
            raise ProbeError(
                f"{self.name}={severity:g} is outside [{self.low:g}, {self.high:g}]: {self.meaning}"
            )


TRANSFORMS: dict[str, Transform] = {
    t.name: t
    for t in (
        Transform("crop", _crop, 0.6, 0.05, 1.0, "fraction of the side kept, centre, resized back"),
        Transform("blur", _blur, 2.0, 0.1, 20.0, "Gaussian blur sigma in pixels"),
        Transform("noise", _noise, 0.1, 0.0, 1.0, "std of added Gaussian noise, seeded"),
        Transform("rotate", _rotate, 30.0, -360.0, 360.0, "rotation in degrees"),
        Transform(
            "occlude", _occlude, 0.4, 0.0, 1.0, "side of a grey centre square, as a fraction"
        ),
    )
}


@dataclass(frozen=True)
class Applied:
    """One transform at one severity: `label` names both (e.g. "blur=2")."""

    transform: Transform
    severity: float

    @property
    def label(self) -> str:
        return f"{self.transform.name}={self.severity:g}"

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        return self.transform.apply(image, self.severity)


def parse_transforms(specs: list[str] | None) -> list[Applied]:
    """`["crop=0.5", "blur"]` -> transforms with severities; None -> all at their defaults."""
    if specs is None:
        return [Applied(t, t.default) for t in TRANSFORMS.values()]
    applied = []
    for spec in specs:
        name, sep, value = spec.partition("=")
        if name not in TRANSFORMS:
            raise ProbeError(
                f"unknown transform {name!r}; choose from {', '.join(TRANSFORMS)} "
                "(NAME or NAME=SEVERITY)"
            )
        transform = TRANSFORMS[name]
        try:
            severity = float(value) if sep else transform.default
        except ValueError:
            raise ProbeError(f"{spec!r}: severity must be a number ({transform.meaning})") from None
        transform.check(severity)
        applied.append(Applied(transform, severity))
    return applied
