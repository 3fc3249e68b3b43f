"""Real dataset loaders: read once in the driver, returned as in-memory uint8 tensors.

Trials receive an `ImageSplits` through Ray's object store (`tune.with_parameters`), so no trial
re-reads files or decodes images; batches are slices of tensors.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

DATA_DIR_ENV = "TUNE_JOBS_DATA_DIR"
MNIST_RAW_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
MNIST_MEAN, MNIST_STD = (0.1307,), (0.3081,)
# 60,000 MNIST training images split 50,000 / 10,000: validation is one sixth of the training set.
VALIDATION_FRACTION = 1 / 6
SPLIT_SEED = 0  # fixed, so every trial and every job sees the same validation images


# IDX magic numbers: 0x08 (unsigned bytes) then the number of dimensions; MNIST's images have 3.
IDX_UBYTE = 0x08
MNIST_DIMENSIONS = {"images": 3, "labels": 1}


class DataError(RuntimeError):
    """The dataset cannot be used: missing, not downloadable, or its files are damaged."""


class DataNotFoundError(DataError):
    """The dataset is neither on disk nor downloadable."""


@dataclass(frozen=True)
class ImageSplits:
    """Train / validation / test images (uint8, N x C x H x W) with labels and normalization."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    mean: tuple[float, ...]
    std: tuple[float, ...]
    num_classes: int = 10

    def subset(self, train: int | None = None, evaluation: int | None = None) -> ImageSplits:
        """The first `train` training images and first `evaluation` validation and test images."""
        return ImageSplits(
            self.train_x[:train], self.train_y[:train],
            self.val_x[:evaluation], self.val_y[:evaluation],
            self.test_x[:evaluation], self.test_y[:evaluation],
            self.mean, self.std, self.num_classes,
        )  # fmt: skip

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train_y), "val": len(self.val_y), "test": len(self.test_y)}


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """`data_dir` if given, else $TUNE_JOBS_DATA_DIR, else the user cache folder."""
    if data_dir:
        return Path(data_dir).expanduser()
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV]).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "tune-jobs" / "data"


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """`resolve_data_dir`, refused (DataError) when it, or a folder above it, is a file."""
    root = resolve_data_dir(data_dir)
    for candidate in (root, *root.absolute().parents):  # the nearest existing one decides
        if candidate.exists():
            if not candidate.is_dir():
                raise DataError(
                    f"data folder {root}: {candidate} is a file, not a folder; point --data-dir "
                    f"or {DATA_DIR_ENV} at the folder that holds the data"
                )
            break
    return root


def split_train_val(
    x: torch.Tensor, y: torch.Tensor, seed: int = SPLIT_SEED
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Seeded random split of a training set into train and validation parts."""
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    n_val = round(len(y) * VALIDATION_FRACTION)
    val, train = order[:n_val], order[n_val:]
    return x[train], y[train], x[val], y[val]


def load_mnist(data_dir: str | os.PathLike | None = None, download: bool = True) -> ImageSplits:
    """MNIST from `<data_dir>/MNIST/raw/*-ubyte` (torchvision layout); downloads if missing."""
    from torchvision.datasets import MNIST

    root = data_root(data_dir)
    raw = root / "MNIST" / "raw"
    missing = [name for name in MNIST_RAW_FILES if not (raw / name).is_file()]
    if missing:
        if not download:
            raise DataNotFoundError(_mnist_missing_message(raw, missing))
        _download(lambda: MNIST(str(root), train=True, download=True), root, raw, missing)
    check_mnist_files(raw)
    train = MNIST(str(root), train=True, download=False)
    test = MNIST(str(root), train=False, download=False)
    train_x, train_y, val_x, val_y = split_train_val(train.data.unsqueeze(1), train.targets)
    return ImageSplits(
        train_x, train_y, val_x, val_y, test.data.unsqueeze(1), test.targets,
        MNIST_MEAN, MNIST_STD,
    )  # fmt: skip


def check_mnist_files(raw: Path) -> None:
    """Refuse (DataError, naming the file) IDX files that are truncated, padded or not IDX at all,
    and image and label files that disagree on their count: torchvision would fail obscurely."""
    counts = {}
    for name in MNIST_RAW_FILES:
        kind = "images" if "-images-" in name else "labels"
        counts[name] = _idx_shape(raw / name, MNIST_DIMENSIONS[kind])[0]
    for split in ("train", "t10k"):
        images, labels = counts[f"{split}-images-idx3-ubyte"], counts[f"{split}-labels-idx1-ubyte"]
        if images != labels:
            raise DataError(
                f"{raw}/{split}-images-idx3-ubyte holds {images} images but "
                f"{split}-labels-idx1-ubyte {labels} labels; the MNIST files are of different sets"
            )


def _idx_shape(path: Path, dimensions: int) -> tuple[int, ...]:
    """The shape an IDX file of unsigned bytes declares, checked against the file's size."""
    header_size = 4 + 4 * dimensions
    with path.open("rb") as stream:
        header = stream.read(header_size)
    expected = IDX_UBYTE << 8 | dimensions
    if len(header) < 4 or struct.unpack(">I", header[:4])[0] != expected:
        raise DataError(
            f"{path} is not an MNIST IDX file: it does not start with the magic number "
            f"0x{expected:08x} (unsigned bytes, {dimensions} dimension(s)); replace it"
        )
    if len(header) < header_size:
        raise DataError(f"{path} is a truncated IDX file: its header is cut short; replace it")
    shape = struct.unpack(f">{dimensions}I", header[4:])
    expected_size = header_size + math.prod(shape)
    size = path.stat().st_size
    if size != expected_size:
        raise DataError(
            f"{path} is a damaged IDX file: its header declares shape {shape}, "
            f"{expected_size} bytes, but the file has {size}; replace it"
        )
    return shape


def _download(fetch, root: Path, folder: Path, missing: list[str]) -> None:
    """Run torchvision's download; on failure remove what it created and explain."""
    created = _first_missing_ancestor(folder)
    try:
        fetch()
    except Exception as error:  # torchvision raises RuntimeError, URLError or OSError offline
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise DataNotFoundError(
            _mnist_missing_message(folder, missing) + f"\nDownload failed: {error}"
        ) from error


def _first_missing_ancestor(path: Path) -> Path | None:
    """The outermost folder on the way to `path` that does not exist yet (None if all exist)."""
    missing = None
    for candidate in [path, *path.parents]:
        if candidate.exists():
            break
        missing = candidate
    return missing


def _mnist_missing_message(raw: Path, missing: list[str]) -> str:
    return (
        f"MNIST not found: expected {', '.join(missing)} in {raw}/ "
        f"(torchvision's raw IDX layout). Point at a folder that holds MNIST/raw/ with "
        f"--data-dir DIR or the environment variable {DATA_DIR_ENV}=DIR."
    )


def normalize(
    x: torch.Tensor,
    mean: tuple[float, ...] | torch.Tensor,
    std: tuple[float, ...] | torch.Tensor,
) -> torch.Tensor:
    """uint8 images to float32, scaled to [0, 1] and standardized per channel, on x's device."""
    mean_t = torch.as_tensor(mean, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    std_t = torch.as_tensor(std, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    return (x.float().div_(255.0) - mean_t) / std_t


def to_device(data: ImageSplits, device: torch.device | str) -> ImageSplits:
    """`data` with every tensor on `device` (the same tensors, uncopied, where they already are)."""
    tensors = ("train_x", "train_y", "val_x", "val_y", "test_x", "test_y")
    return dataclasses.replace(data, **{name: getattr(data, name).to(device) for name in tensors})


def batches(
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    generator: torch.Generator | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Mini-batches of in-memory tensors, indexed where they are; shuffled when a generator (a CPU
    one, so the order is the same on every device) is given."""
    if generator is None:
        for start in range(0, len(y), batch_size):
            yield x[start : start + batch_size], y[start : start + batch_size]
        return
    order = torch.randperm(len(y), generator=generator).to(y.device)
    for start in range(0, len(y), batch_size):
        index = order[start : start + batch_size]
        yield x[index], y[index]


# CIFAR-10 (Problem 6): torchvision's `cifar-10-batches-py/`, or any ImageFolder tree.
CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_FILES = (
    *(f"data_batch_{index}" for index in range(1, 6)),
    "test_batch",
    "batches.meta",
)
CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
# The statistics the ImageNet-pretrained torchvision models were trained with.
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
IMAGE_FOLDER_SPLITS = ("train", "test")
CIFAR10_IMAGE_SIZE = 32


def is_image_folder_tree(root: Path) -> bool:
    """True when `root` holds `train/` and `test/` folders (ImageFolder layout)."""
    return all((root / split).is_dir() for split in IMAGE_FOLDER_SPLITS)


def load_cifar10(
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    image_size: int = CIFAR10_IMAGE_SIZE,
) -> ImageSplits:
    """CIFAR-10 as uint8 N x 3 x H x W, with a seeded validation split and ImageNet statistics.

    Reads an ImageFolder tree (`<root>/train/<class>/*`, `<root>/test/<class>/*`) when `root` holds
    one, else torchvision's `<root>/cifar-10-batches-py/`, downloading it when missing.
    """
    root = data_root(data_dir)
    if is_image_folder_tree(root):
        return load_image_folder(root, image_size)
    folder = root / CIFAR10_FOLDER
    missing = [name for name in CIFAR10_FILES if not (folder / name).is_file()]
    from torchvision.datasets import CIFAR10

    if missing:
        message = _cifar10_missing_message(root, missing)
        if not download:
            raise DataNotFoundError(message)
        archive_existed = (root / CIFAR10_ARCHIVE).exists()
        created = _first_missing_ancestor(root)
        try:
            CIFAR10(str(root), train=True, download=True)
        except Exception as error:  # offline: URLError / OSError / RuntimeError
            if created is not None:
                shutil.rmtree(created, ignore_errors=True)
            elif not archive_existed:
                (root / CIFAR10_ARCHIVE).unlink(missing_ok=True)
            raise DataNotFoundError(f"{message}\nDownload failed: {error}") from error
    train = CIFAR10(str(root), train=True, download=False)
    test = CIFAR10(str(root), train=False, download=False)
    to_tensor = lambda images: torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()  # noqa: E731
    train_x, train_y, val_x, val_y = split_train_val(
        _square(to_tensor(train.data), image_size), torch.tensor(train.targets)
    )
    return ImageSplits(
        train_x, train_y, val_x, val_y,
        _square(to_tensor(test.data), image_size), torch.tensor(test.targets),
        IMAGENET_MEAN, IMAGENET_STD, len(train.classes),
    )  # fmt: skip


def load_image_folder(root: str | os.PathLike, image_size: int = CIFAR10_IMAGE_SIZE) -> ImageSplits:
    """An ImageFolder tree (`train/<class>/*`, `test/<class>/*`) decoded once to uint8 tensors.

    Images are resized (shorter side) and center-cropped to `image_size` when they differ.
    """
    from torchvision.datasets import ImageFolder

    root = Path(root)
    try:
        train = ImageFolder(str(root / "train"))
        test = ImageFolder(str(root / "test"))
    except (FileNotFoundError, OSError) as error:
        raise DataNotFoundError(
            f"{root} is not a usable ImageFolder tree: {error}. "
            + _cifar10_missing_message(root, [])
        ) from None
    if train.classes != test.classes:
        raise DataNotFoundError(
            f"{root}/train and {root}/test name different classes: "
            f"{train.classes} vs {test.classes}"
        )
    train_x, train_y = _decode_samples(train.samples, image_size)
    test_x, test_y = _decode_samples(test.samples, image_size)
    train_x, train_y, val_x, val_y = split_train_val(train_x, train_y)
    return ImageSplits(
        train_x, train_y, val_x, val_y, test_x, test_y,
        IMAGENET_MEAN, IMAGENET_STD, len(train.classes),
    )  # fmt: skip


def cifar10_classes(data_dir: str | os.PathLike | None = None) -> tuple[str, ...]:
    """Class names in label order: the ImageFolder tree's folders, else CIFAR-10's own."""
    root = resolve_data_dir(data_dir)
    if is_image_folder_tree(root):
        from torchvision.datasets.folder import find_classes

        return tuple(find_classes(str(root / "train"))[0])
    return CIFAR10_CLASSES


def _decode_samples(
    samples: list[tuple[str, int]], image_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    import numpy as np
    from PIL import Image
    from torchvision.datasets.folder import default_loader  # ImageFolder's own: PIL, RGB

    images = torch.empty(len(samples), 3, image_size, image_size, dtype=torch.uint8)
    for index, (path, _) in enumerate(samples):
        try:
            image = torch.from_numpy(np.array(default_loader(path))).permute(2, 0, 1)
        except OSError as error:  # PIL.UnidentifiedImageError, truncated files
            raise DataNotFoundError(f"cannot decode image {path}: {error}") from None
        except Image.DecompressionBombError as error:  # not an OSError
            raise DataError(f"image {path} is too large to decode safely: {error}") from None
        images[index] = _square(image.unsqueeze(0), image_size)[0]
    labels = torch.tensor([label for _, label in samples], dtype=torch.int64)
    return images, labels


def _square(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize the shorter side to `size` and center-crop to size x size (a no-op when it fits)."""
    if images.shape[-2:] == (size, size):
        return images
    from torchvision.transforms.v2 import functional as TF

    return TF.center_crop(TF.resize(images, size, antialias=True), [size, size])


def _cifar10_missing_message(root: Path, missing: list[str]) -> str:
    found = f" (missing {', '.join(missing)})" if missing else ""
    return (
        f"CIFAR-10 not found in {root}/: expected an ImageFolder tree {root}/train/<class>/*.jpg "
        f"and {root}/test/<class>/*.jpg, or torchvision's {root}/{CIFAR10_FOLDER}/ with "
        f"{', '.join(CIFAR10_FILES)}{found}. Point at a folder that holds one with --data-dir DIR "
        f"or the environment variable {DATA_DIR_ENV}=DIR."
    )
