"""Augmentation policies applied to whole batches of uint8 tensors (no per-sample PIL work).

Each policy takes a uint8 N x C x H x W batch at the stored resolution and a generator, and returns
a float batch in [0, 1]; the model resizes and normalizes it. Random crops are one gather over the
batch, flips one masked `flip`, so a policy costs a few milliseconds per batch on a CPU.
Random draws come from the epoch's CPU generator (the same augmentation on every device) and move
to the batch's device.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import torch
import torch.nn.functional as F

CROP_PADDING = 4  # pixels of reflection padding for random crops (CIFAR-10's usual 4 of 32)
CUTOUT_FRACTION = 0.25  # side of the erased square, as a fraction of the image side
JITTER = 0.2  # brightness and contrast factors drawn from [1 - JITTER, 1 + JITTER]


def _to_unit(x: torch.Tensor) -> torch.Tensor:
    return x.float().div(255.0) if x.dtype == torch.uint8 else x


def random_flip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mirror a random half of the batch left-right."""
    flip = (torch.rand(len(x), generator=generator) < 0.5).to(x.device)
    # A select, not masked indexing: no host sync on a GPU (masked indexing counts the mask).
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def random_crop(x: torch.Tensor, generator: torch.Generator, padding: int = CROP_PADDING):
    """Reflection-pad by `padding` and crop back to H x W at a random offset per image."""
    n, c, h, w = x.shape
    padded = F.pad(x, (padding,) * 4, mode="reflect")
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator).to(x.device)
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator).to(x.device)
    arange = lambda size: torch.arange(size, device=x.device)  # noqa: E731
    rows = (dy[:, None] + arange(h))[:, None, :, None]
    cols = (dx[:, None] + arange(w))[:, None, None, :]
    return padded[arange(n)[:, None, None, None], arange(c)[None, :, None, None], rows, cols]


def cutout(x: torch.Tensor, generator: torch.Generator, fraction: float = CUTOUT_FRACTION):
    """Erase (set to 0.5 grey) one random square per image."""
    n, _, h, w = x.shape
    size = max(1, round(min(h, w) * fraction))
    top = torch.randint(0, h - size + 1, (n,), generator=generator).to(x.device)
    left = torch.randint(0, w - size + 1, (n,), generator=generator).to(x.device)
    ys, xs = torch.arange(h, device=x.device), torch.arange(w, device=x.device)
    inside_y = (ys[None] >= top[:, None]) & (ys[None] < top[:, None] + size)
    inside_x = (xs[None] >= left[:, None]) & (xs[None] < left[:, None] + size)
    mask = (inside_y[:, :, None] & inside_x[:, None, :])[:, None]
    return torch.where(mask, torch.full_like(x, 0.5), x)


def color_jitter(x: torch.Tensor, generator: torch.Generator, strength: float = JITTER):
    """Random brightness and contrast per image, clamped to [0, 1]."""
    n = len(x)
    brightness = 1 + (torch.rand(n, 1, 1, 1, generator=generator) * 2 - 1) * strength
    contrast = 1 + (torch.rand(n, 1, 1, 1, generator=generator) * 2 - 1) * strength
    brightness, contrast = brightness.to(x.device), contrast.to(x.device)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return ((x * brightness - mean) * contrast + mean).clamp(0, 1)


def _none(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return _to_unit(x)


def _crop_flip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return random_flip(random_crop(_to_unit(x), generator), generator)


def _more(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return cutout(color_jitter(_crop_flip(x, generator), generator), generator)


AUGMENTATIONS: dict[str, Callable[[torch.Tensor, torch.Generator], torch.Tensor]] = {
    "none": _none,
    "crop-flip": _crop_flip,  # random 4-pixel-padded crop + horizontal flip
    "more": _more,  # crop-flip + brightness/contrast jitter + cutout
}


def augmented(
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]], policy: str, generator: torch.Generator
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """`batches` with the augmentation `policy` applied to each image batch."""
    augment = AUGMENTATIONS[policy]
    for x, y in batches:
        yield augment(x, generator), y
