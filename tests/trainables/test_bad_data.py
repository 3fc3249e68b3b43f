"""Issue 19, point 11: damaged data and input files are one clear error naming the file."""

from __future__ import annotations

import shutil
import struct

import numpy as np
import pytest

from trainables.data import DataError, load_cifar10, load_mnist
from tune_jobs.cli import main

TRAIN_IMAGES = "train-images-idx3-ubyte"


@pytest.fixture
def damaged_mnist(mnist_dir, tmp_path):
    """A copy of the tiny MNIST folder whose files each test may damage."""
    return shutil.copytree(mnist_dir, tmp_path / "data")


def _damage(root, name: str, how: str) -> None:
    path = root / "MNIST" / "raw" / name
    content = path.read_bytes()
    if how == "truncated":
        path.write_bytes(content[: len(content) // 2])
    elif how == "bad magic":
        path.write_bytes(b"\x12\x34\x56\x78" + content[4:])
    elif how == "header only":
        path.write_bytes(content[:6])
    else:  # too long: a trailing byte no header accounts for
        path.write_bytes(content + b"\x00")


@pytest.mark.parametrize("how", ["truncated", "bad magic", "header only", "too long"])
@pytest.mark.parametrize("name", [TRAIN_IMAGES, "t10k-labels-idx1-ubyte"])
def test_damaged_idx_file_is_one_error_naming_it(damaged_mnist, name, how):
    _damage(damaged_mnist, name, how)
    with pytest.raises(DataError) as error:
        load_mnist(damaged_mnist, download=False)
    message = str(error.value)
    assert name in message and "IDX" in message and "\n" not in message


def test_images_and_labels_of_different_counts_are_refused(damaged_mnist):
    labels = np.zeros(7, dtype=np.uint8)  # IDX: magic 0x0801 (unsigned bytes, 1 dim), count
    raw = damaged_mnist / "MNIST" / "raw"
    (raw / "train-labels-idx1-ubyte").write_bytes(struct.pack(">II", 0x0801, 7) + labels.tobytes())
    with pytest.raises(DataError, match="7 labels"):
        load_mnist(damaged_mnist, download=False)


def test_run_on_damaged_mnist_exits_2_with_one_line(damaged_mnist, tmp_path, capsys):
    _damage(damaged_mnist, TRAIN_IMAGES, "truncated")
    code = main(["run", "mnist-l2", "--data-dir", str(damaged_mnist), "--storage", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and TRAIN_IMAGES in err and len(err.splitlines()) == 1, err


@pytest.mark.parametrize("below", ["", "sub"])
def test_data_dir_that_is_a_file_is_refused(below, tmp_path):
    file = tmp_path / "data.txt"
    file.write_text("not a folder\n")
    with pytest.raises(DataError, match=f"{file} is a file, not a folder"):
        load_cifar10(file / below if below else file, download=False)
    with pytest.raises(DataError, match="is a file, not a folder"):
        load_mnist(file / below if below else file, download=False)
    assert file.read_text() == "not a folder\n"


def test_probe_cifar10_with_a_file_as_data_dir_exits_2(tmp_path, capsys):
    file = tmp_path / "data.txt"
    file.write_text("x")
    code = main(["probe", "cifar10", "--data-dir", str(file), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "is a file, not a folder" in err and len(err.splitlines()) == 1, err


def test_probe_alexnet_on_a_decompression_bomb_is_one_message(tmp_path, capsys, monkeypatch):
    from PIL import Image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # a 30x30 image then counts as a bomb
    bomb = tmp_path / "bomb.png"
    Image.new("RGB", (30, 30)).save(bomb)
    argv = ["probe", "alexnet", str(bomb), "--weights", "none", "--out", str(tmp_path / "o")]
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2 and "bomb.png" in err and "too large" in err, err
    assert len(err.splitlines()) == 1


def test_weights_that_are_a_text_file_say_so(tmp_path, capsys):
    from PIL import Image

    photo = tmp_path / "photo.png"
    Image.new("RGB", (40, 40)).save(photo)
    text = tmp_path / "weights.txt"
    text.write_text("hello, these are not weights\n")
    argv = ["probe", "alexnet", str(photo), "--weights", str(text), "--out", str(tmp_path / "o")]
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2 and f"{text} is not a state-dict file" in err, err
    assert len(err.splitlines()) == 1
