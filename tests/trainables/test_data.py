from __future__ import annotations

import pytest
import torch

from trainables.data import (
    DATA_DIR_ENV,
    DataNotFoundError,
    batches,
    load_mnist,
    normalize,
    resolve_data_dir,
    split_train_val,
)


def test_loader_reads_idx_files_and_splits_one_sixth_for_validation(mnist_dir):
    data = load_mnist(mnist_dir, download=False)
    assert data.sizes() == {"train": 300, "val": 60, "test": 120}
    assert data.train_x.shape == (300, 1, 28, 28) and data.train_x.dtype == torch.uint8
    assert data.test_y.dtype == torch.int64 and int(data.test_y.max()) <= 9


def test_split_is_seeded_and_disjoint():
    x = torch.arange(60).view(60, 1, 1, 1)
    y = torch.arange(60)
    first = split_train_val(x, y)
    again = split_train_val(x, y)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    train_y, val_y = first[1], first[3]
    assert len(val_y) == 10 and len(train_y) == 50
    assert not set(train_y.tolist()) & set(val_y.tolist())


def test_missing_data_offline_names_files_and_both_ways_to_point_at_them(tmp_path):
    with pytest.raises(DataNotFoundError) as error:
        load_mnist(tmp_path / "nowhere", download=False)
    message = str(error.value)
    assert "train-images-idx3-ubyte" in message and "--data-dir" in message
    assert DATA_DIR_ENV in message
    assert not (tmp_path / "nowhere").exists()


def test_failed_download_leaves_nothing_behind(tmp_path, monkeypatch):
    from torchvision.datasets import MNIST

    def offline(self):
        (tmp_path / "root" / "MNIST" / "raw").mkdir(parents=True, exist_ok=True)
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(MNIST, "download", offline)
    with pytest.raises(DataNotFoundError, match="Download failed"):
        load_mnist(tmp_path / "root", download=True)
    assert list(tmp_path.iterdir()) == []


def test_data_dir_comes_from_argument_then_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "env"))
    assert resolve_data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_data_dir(None) == tmp_path / "env"
    monkeypatch.delenv(DATA_DIR_ENV)
    assert resolve_data_dir(None).parts[-2:] == ("tune-jobs", "data")


def test_batches_cover_every_example_once():
    x, y = torch.arange(10).view(10, 1), torch.arange(10)
    seen = [b for _, yb in batches(x, y, 4, torch.Generator().manual_seed(0)) for b in yb.tolist()]
    assert sorted(seen) == list(range(10)) and seen != list(range(10))
    assert [len(yb) for _, yb in batches(x, y, 4)] == [4, 4, 2]


def test_normalize_standardizes_with_given_statistics():
    x = torch.full((1, 1, 2, 2), 255, dtype=torch.uint8)
    assert torch.allclose(normalize(x, (0.5,), (0.25,)), torch.full((1, 1, 2, 2), 2.0))
