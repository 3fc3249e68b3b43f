"""The AlexNet probe on an image the test writes, with random weights (offline)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from analysis.probes.alexnet import probe_alexnet
from analysis.probes.classifier import load_classifier
from analysis.probes.images import ProbeError, markdown_table, read_image, tile
from analysis.probes.transforms import TRANSFORMS, parse_transforms


@pytest.fixture(scope="module")
def alexnet():
    return load_classifier("alexnet", "none")


def write_photo(path, size=(90, 70)):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    pixels[20:50, 30:60] = (250, 30, 30)
    Image.fromarray(pixels).save(path)
    return path


def test_probe_writes_grids_of_the_right_shapes_and_the_top5_table(alexnet, tmp_path):
    image = write_photo(tmp_path / "photo.png")
    transforms = parse_transforms(["blur=1", "rotate=15", "occlude"])
    result = probe_alexnet([image], tmp_path / "out", transforms, classifier=alexnet)
    assert result.feature_maps["photo"].shape == (64, 55, 55)
    assert result.filters.shape == (64, 3, 11, 11)
    assert result.random_weights
    top5 = result.top5
    assert len(top5) == 4 * 5  # original + 3 transforms, 5 classes each
    assert list(dict.fromkeys(top5["transform"])) == [
        "original",
        "blur=1",
        "rotate=15",
        "occlude=0.4",
    ]
    for _, rows in top5.groupby("transform"):
        assert list(rows["rank"]) == [1, 2, 3, 4, 5]
        assert rows["probability"].is_monotonic_decreasing
        assert rows["class_name"].iloc[0] == alexnet.categories[rows["class_index"].iloc[0]]
    written = ["filters_channel0.png", "filters_rgb.png", "photo_feature_maps.png", "top5.csv"]
    written += ["photo_feature_maps_transforms.png", "top5.png", "alexnet.md"]
    for name in written:
        assert (tmp_path / "out" / name).stat().st_size > 0, name
    assert "RANDOM" in (tmp_path / "out" / "top5.md").read_text()


def test_tile_makes_an_8x8_grid_with_borders():
    grid = tile(torch.randn(64, 55, 55), 8, 8)
    assert grid.shape == (8 * 56 - 1, 8 * 56 - 1)
    assert 0 <= grid.min() and grid.max() <= 1
    assert tile(torch.randn(64, 3, 11, 11), 8, 8).shape == (8 * 12 - 1, 8 * 12 - 1, 3)


def test_transforms_keep_the_image_size():
    image = torch.rand(3, 40, 40)
    for transform in TRANSFORMS.values():
        assert transform.apply(image, transform.default).shape == image.shape, transform.name


@pytest.mark.parametrize(
    ("specs", "named"),
    [(["sharpen"], "unknown transform 'sharpen'"), (["blur=x"], "must be a number"),
     (["crop=2"], "crop=2 is outside")],
)  # fmt: skip
def test_bad_transforms_are_one_clear_error(specs, named):
    with pytest.raises(ProbeError, match=named):
        parse_transforms(specs)


def test_missing_and_unreadable_images_are_clear_errors(tmp_path):
    with pytest.raises(ProbeError, match="does not exist"):
        read_image(tmp_path / "nope.jpg")
    (tmp_path / "bad.jpg").write_bytes(b"\x00 not an image")
    with pytest.raises(ProbeError, match="cannot read"):
        read_image(tmp_path / "bad.jpg")


def test_markdown_table_escapes_pipes():
    import pandas as pd

    text = markdown_table(pd.DataFrame({"a": ["x|y"], "b": [0.5]}))
    assert text.splitlines() == ["| a | b |", "| --- | --- |", "| x\\|y | 0.5000 |"]
