"""Pretrained weights: torchvision's weights API (its cache under TORCH_HOME), or a state-dict file.

A weights source is `imagenet` (torchvision's ImageNet weights, downloaded once into the torch hub
cache), `none` (random initialization) or the path of a state-dict file. Files are read with
`torch.load(weights_only=True)`: tensors only, never pickled code.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

IMAGENET, NO_WEIGHTS = "imagenet", "none"
TORCH_ZIP_MAGIC, PICKLE_PROTOCOL = b"PK\x03\x04", b"\x80"


class WeightsError(ValueError):
    """A weights source that cannot be used: unreadable, unavailable or of another architecture."""


def check_source(source: str) -> None:
    """Raise WeightsError unless `source` is `imagenet`, `none` or an existing file."""
    if source in (IMAGENET, NO_WEIGHTS):
        return
    path = Path(source).expanduser()
    if not path.is_file():
        raise WeightsError(
            f"weights={source!r}: no such file; use {IMAGENET}, {NO_WEIGHTS} or the path of a "
            "state-dict file"
        )


def imagenet_state_dict(weights) -> dict[str, torch.Tensor]:
    """torchvision's state dict for `weights` (e.g. ResNet18_Weights.IMAGENET1K_V1), from the
    torch hub cache, downloading it there when missing."""
    try:
        return weights.get_state_dict(progress=False, check_hash=True)
    except Exception as error:  # offline: URLError / OSError; a corrupt cache: RuntimeError
        cache = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
        raise WeightsError(
            f"ImageNet weights {weights} are not in the torch cache ({cache}; set TORCH_HOME to "
            f"move it) and could not be downloaded: {error}. Copy the file there, or use "
            f"weights=FILE (a state-dict file) or weights={NO_WEIGHTS}."
        ) from None


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict saved with torch.save, read without unpickling code."""
    file = Path(path).expanduser()
    with file.open("rb") as stream:
        head = stream.read(4)
    # torch.save writes a zip archive; files of torch < 1.6 are a pickle (protocol byte 0x80).
    # Anything else is not one, and torch.load's own error for it says nothing useful ("101").
    if not (head.startswith(TORCH_ZIP_MAGIC) or head.startswith(PICKLE_PROTOCOL)):
        raise WeightsError(
            f"{path} is not a state-dict file: torch.save writes a zip archive, and this file "
            f"starts with {head!r}"
        )
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as error:  # pickle.UnpicklingError, RuntimeError, EOFError...
        # torch's own text runs to many lines and suggests weights_only=False: never that.
        raise WeightsError(
            f"{path} is not a state-dict file that torch.save wrote ({type(error).__name__})"
        ) from None
    if not isinstance(state, Mapping) or not all(
        isinstance(v, torch.Tensor) for v in state.values()
    ):
        raise WeightsError(f"{path} does not hold a state dict (a mapping of names to tensors)")
    return dict(state)


def load_into(
    model: nn.Module,
    state: Mapping[str, torch.Tensor],
    architecture: str,
    source: str,
    skip_prefixes: tuple[str, ...] = (),
) -> None:
    """Load `state` into `model` strictly, apart from parameters under `skip_prefixes`.

    Raises one WeightsError naming the mismatch when `state` belongs to another architecture.
    """
    keep = lambda name: not name.startswith(skip_prefixes)  # noqa: E731
    expected = {k: v.shape for k, v in model.state_dict().items() if keep(k)}
    given = {k: v for k, v in state.items() if keep(k)}
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    wrong_shape = sorted(k for k in set(expected) & set(given) if given[k].shape != expected[k])
    if missing or unexpected or wrong_shape:
        parts = [
            f"{label} {', '.join(names[:3])}{' ...' if len(names) > 3 else ''}"
            for label, names in (
                ("missing", missing),
                ("unexpected", unexpected),
                ("wrong shape", wrong_shape),
            )
            if names
        ]
        raise WeightsError(
            f"weights {source} are not a {architecture} state dict ({'; '.join(parts)})"
        )
    model.load_state_dict(given, strict=False)


@functools.lru_cache(maxsize=8)
def _check_file_cached(
    path: str, mtime: float, size: int, build, architecture: str, skip: tuple[str, ...]
) -> None:
    load_into(build(), read_state_dict(path), architecture, path, skip)


def check_file_architecture(
    path: str, build, architecture: str, skip_prefixes: tuple[str, ...] = ()
) -> None:
    """Raise WeightsError unless the file at `path` loads into `build()`; cached per file version.

    The check runs in the driver before trials start, so a wrong file fails once, clearly.
    """
    stat = Path(path).expanduser().stat()
    _check_file_cached(path, stat.st_mtime, stat.st_size, build, architecture, skip_prefixes)
