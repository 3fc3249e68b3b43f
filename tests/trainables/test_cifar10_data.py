"""CIFAR-10 loaders on files the test writes (ImageFolder tree and torchvision's pickles), and the
batch augmentations."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from trainables.augment import AUGMENTATIONS, random_crop, random_flip
from trainables.data import (
    CIFAR10_CLASSES,
    CIFAR10_FOLDER,
    DATA_DIR_ENV,
    IMAGENET_MEAN,
    DataNotFoundError,
    cifar10_classes,
    load_cifar10,
)


def write_image_folder(root: Path, classes=("cat", "dog", "ship"), per_class=(6, 2)) -> Path:
    rng = np.random.default_rng(0)
    for split, count in zip(("train", "test"), per_class, strict=True):
        for index, name in enumerate(classes):
            folder = root / split / name
            folder.mkdir(parents=True)
            for k in range(count):
                size = (32, 32) if k % 2 else (48, 40)  # a larger one is resized and cropped
                pixels = rng.integers(0, 255, (*size, 3), dtype=np.uint8)
                pixels[..., index] = 255
                suffix = "png" if k % 3 else "jpg"
                Image.fromarray(pixels).save(folder / f"{k}.{suffix}")
    return root


def test_image_folder_tree_loads_as_uint8_splits(tmp_path):
    root = write_image_folder(tmp_path / "tree")
    data = load_cifar10(root, download=False)
    assert data.sizes() == {"train": 15, "val": 3, "test": 6}
    assert data.train_x.shape == (15, 3, 32, 32) and data.train_x.dtype == torch.uint8
    assert data.num_classes == 3 and data.mean == IMAGENET_MEAN
    assert set(data.test_y.tolist()) == {0, 1, 2}
    assert cifar10_classes(root) == ("cat", "dog", "ship")
    again = load_cifar10(root, download=False)
    assert torch.equal(again.val_x, data.val_x)  # the validation split is seeded


def test_torchvision_cifar10_layout_loads(tmp_path, monkeypatch):
    import torchvision.datasets.cifar as cifar

    folder = tmp_path / CIFAR10_FOLDER
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        entry = {"data": rng.integers(0, 255, (4, 3072), dtype=np.uint8), "labels": [0, 1, 2, 9]}
        (folder / name).write_bytes(pickle.dumps(entry))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": list(CIFAR10_CLASSES)}))
    monkeypatch.setattr(cifar, "check_integrity", lambda *args: True)  # our files, not the md5s
    data = load_cifar10(tmp_path, download=False)
    assert data.sizes() == {"train": 17, "val": 3, "test": 4}
    assert data.train_x.shape[1:] == (3, 32, 32) and data.num_classes == 10
    assert cifar10_classes(tmp_path) == CIFAR10_CLASSES


def test_missing_data_names_both_layouts_and_both_ways_to_point_at_them(tmp_path):
    with pytest.raises(DataNotFoundError) as error:
        load_cifar10(tmp_path / "nowhere", download=False)
    message = str(error.value)
    assert "train/<class>" in message and "data_batch_1" in message
    assert "--data-dir" in message and DATA_DIR_ENV in message
    assert not (tmp_path / "nowhere").exists()


def test_unreadable_image_names_the_file(tmp_path):
    root = write_image_folder(tmp_path / "tree")
    (root / "train" / "cat" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataNotFoundError, match="broken.png"):
        load_cifar10(root, download=False)


def test_augmentations_keep_shape_and_range_and_are_seeded():
    x = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8)
    for name, augment in AUGMENTATIONS.items():
        a = augment(x, torch.Generator().manual_seed(3))
        b = augment(x, torch.Generator().manual_seed(3))
        assert a.shape == x.shape and a.dtype == torch.float32, name
        assert 0 <= a.min() and a.max() <= 1 and torch.equal(a, b), name
    unit = x.float() / 255
    assert torch.equal(AUGMENTATIONS["none"](x, torch.Generator()), unit)


def test_flip_mirrors_some_images_and_crop_shifts_content():
    x = torch.arange(2 * 1 * 8 * 8, dtype=torch.float32).view(2, 1, 8, 8)
    flipped = random_flip(x.repeat(8, 1, 1, 1), torch.Generator().manual_seed(0))
    mirrored = [torch.equal(f, x[i % 2].flip(-1)) for i, f in enumerate(flipped)]
    kept = [torch.equal(f, x[i % 2]) for i, f in enumerate(flipped)]
    assert any(mirrored) and any(kept) and all(a or b for a, b in zip(mirrored, kept, strict=True))
    cropped = random_crop(x, torch.Generator().manual_seed(0), padding=2)
    assert cropped.shape == x.shape
    # The centre of a crop with |offset| <= 2 is the original shifted: rows of x stay rows.
    inner = cropped[:, :, 2:6, 2:6]
    assert all(
        any(
            torch.equal(inner[i], x[i, :, r : r + 4, c : c + 4]) for r in range(5) for c in range(5)
        )
        for i in range(2)
    )
