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


@pytest.fixture
def synchronous_pbt():
    """Prepared run -> its PBT, synchronous: at each perturbation it waits for every live trial,
    so that a test's exploits do not depend on timing. The method's asynchronous PBT exploits
    only where a worse trial reports after a better one has saved; with few trials, a second
    actor that starts late lets the first ones finish alone (seen in CI)."""
    from search_spaces.methods.population import pbt_scheduler

    return lambda prepared: pbt_scheduler(prepared.space, prepared.settings, synch=True)


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray for the whole session: starting Ray costs seconds."""
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    yield
    ray.shutdown()


def write_noisy_table(path: Path, configs: int = 24, seeds: int = 3, epochs: int = 3) -> Path:
    """A replay table of `configs` configurations (lr on a log scale, an optimizer) x `seeds`
    training seeds: val_acc is a smooth function of the config plus seed noise."""
    import pandas as pd

    from search_spaces.sobol import describe_space
    from search_spaces.space import Choice, Float, SearchSpace
    from trainables.replay import write_table

    space = SearchSpace(
        {"lr": Float(1e-3, 1.0, grid=(0.01, 0.1), log=True), "opt": Choice(("a", "b"))},
        {"epochs": epochs},
    )
    rng = np.random.default_rng(0)
    rows = []
    for config_id in range(configs):
        lr = float(10 ** rng.uniform(-3, 0))
        opt = "ab"[config_id % 2]
        quality = 0.9 - 0.1 * (np.log10(lr) + 1.5) ** 2 - (0.05 if opt == "b" else 0)
        for seed in range(seeds):
            noise = float(rng.normal(0, 0.01))
            for epoch in range(1, epochs + 1):
                acc = quality * epoch / epochs + noise
                rows.append(
                    {"config_id": config_id, "train_seed": seed, "epoch": epoch,
                     "val_acc": acc, "val_loss": 1 - acc, "test_acc": acc - 0.01,
                     "diverged": False, "seconds": 1.0, "config/lr": lr, "config/opt": opt}
                )  # fmt: skip
    meta = {
        "job": "synthetic", "tuned": ["lr", "opt"], "fixed": {"epochs": epochs},
        "space": describe_space(space), "train_seeds": list(range(seeds)),
    }  # fmt: skip
    write_table(pd.DataFrame(rows), meta, path)
    return path


@pytest.fixture
def noisy_table(tmp_path):
    """`write_noisy_table` into this test's folder: call it with the sizes wanted."""
    return lambda name="t.parquet", **sizes: write_noisy_table(tmp_path / name, **sizes)
