"""Shared fixtures: tiny MNIST files in torchvision's raw layout, and one local Ray per session."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import ray


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write `array` (uint8) as an IDX file, the format of MNIST's *-ubyte files."""
    magic = 0x0800 | array.ndim  # 0x08: unsigned byte data
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def synthetic_digits(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """28x28 images whose class is a bright square at a class-specific place, plus noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, count)
    images = rng.integers(0, 60, (count, 28, 28))
    for image, label in zip(images, labels, strict=True):
        row, col = 2 + (label // 5) * 13, 1 + (label % 5) * 5
        image[row : row + 8, col : col + 5] = 255
    return images.astype(np.uint8), labels.astype(np.uint8)


def write_tiny_mnist(root: Path, train: int = 360, test: int = 120) -> Path:
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, count, seed in (("train", train, 0), ("t10k", test, 1)):
        images, labels = synthetic_digits(count, seed)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return root


@pytest.fixture(scope="session")
def mnist_dir(tmp_path_factory) -> Path:
    return write_tiny_mnist(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray for the whole session: starting Ray costs seconds."""
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    yield
    ray.shutdown()
