"""`tune-jobs probe ...` and the `cifar10-transfer` job end to end on files the test writes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from ray.tune import ExperimentAnalysis
from torch import nn

from tune_jobs.cli import main

CLASSES = ("bird", "cat", "ship")


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """A tiny ImageFolder tree: 32x32 images, the class is the colour of a centre square."""
    root = tmp_path_factory.mktemp("cifar")
    rng = np.random.default_rng(0)
    for split, count in (("train", 10), ("test", 3)):
        for index, name in enumerate(CLASSES):
            (root / split / name).mkdir(parents=True)
            for k in range(count):
                pixels = rng.integers(0, 80, (32, 32, 3), dtype=np.uint8)
                pixels[8:24, 8:24, index] = 255
                Image.fromarray(pixels).save(root / split / name / f"{k}.png")
    return root


@pytest.fixture
def photo(tmp_path):
    pixels = np.random.default_rng(1).integers(0, 255, (60, 80, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "photo.jpg")
    return tmp_path / "photo.jpg"


def test_probe_cifar10_saves_one_labelled_image_per_class(tree, tmp_path, capsys):
    assert main(["probe", "cifar10", "--data-dir", str(tree), "--out", str(tmp_path / "o")]) == 0
    names = sorted(p.name for p in (tmp_path / "o").iterdir())
    assert names == ["0_bird.png", "1_cat.png", "2_ship.png", "cifar10_classes.png"]
    assert "bird, cat, ship" in capsys.readouterr().out


def test_probe_alexnet_states_the_output_shape_and_warns_about_random_weights(
    photo, tmp_path, capsys
):
    out = tmp_path / "alexnet"
    args = ["probe", "alexnet", str(photo), "--weights", "none", "--transforms", "noise=0.2"]
    assert main([*args, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "64x55x55" in text and "RANDOM weights" in text and "noise=0.2" in text
    assert (out / "top5.md").is_file() and (out / "photo_feature_maps_transforms.png").is_file()


def test_probe_adversarial_fools_a_random_alexnet(photo, tmp_path, capsys):
    out = tmp_path / "adv"
    args = ["probe", "adversarial", str(photo), "--model", "alexnet", "--weights", "none"]
    assert main([*args, "--size", "64", "--pgd-steps", "3", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "RANDOM weights" in text and "linf" in text
    table = pd.read_csv(out / "adversarial.csv")
    fooled = table[table["fooled"]]
    assert len(fooled) >= 1  # the exit status 0 says so; the table must agree
    assert (fooled["after"] != fooled["before"]).all()
    assert (table.loc[~table["fooled"], "after"] == table.loc[~table["fooled"], "before"]).all()
    assert (out / "adversarial.png").is_file() and (out / "adversarial.csv").is_file()


def _bad_inputs(tmp_path, photo):
    (tmp_path / "broken.png").write_bytes(b"garbage")
    torch.save(nn.Linear(2, 2).state_dict(), tmp_path / "tiny.pt")
    for split in ("train", "test"):  # an ImageFolder tree without images (tests never download)
        (tmp_path / "empty" / split / "cat").mkdir(parents=True)
    return [
        (["alexnet", str(tmp_path / "missing.jpg")], "missing.jpg does not exist"),
        (["alexnet", str(tmp_path / "broken.png")], "cannot read"),
        (["alexnet", str(photo), "--transforms", "swirl"], "unknown transform 'swirl'"),
        (
            ["alexnet", str(photo), "--weights", str(tmp_path / "tiny.pt")],
            "not a AlexNet state dict",
        ),
        (["adversarial", str(photo), "--weights", str(tmp_path / "tiny.pt")], "not a ResNet18"),
        (["adversarial", str(photo), "--weights", "nowhere.pt"], "no such file"),
        (["cifar10", "--data-dir", str(tmp_path / "empty")], "not a usable ImageFolder tree"),
    ]


def test_bad_input_is_one_clear_message_exit_2_and_nothing_written(tmp_path, photo, capsys):
    for args, named in _bad_inputs(tmp_path, photo):
        out = tmp_path / "out"
        assert main(["probe", *args, "--out", str(out)]) == 2, args
        err = capsys.readouterr().err.strip()
        assert named in err and len(err.splitlines()) == 1, err
        assert not out.exists()


def test_cifar10_transfer_smoke_run_then_probe_transfer(ray_local, tree, tmp_path, capsys):
    run = ["run", "cifar10-transfer", "--smoke-test", "--data-dir", str(tree)]
    run += ["--storage", str(tmp_path), "--name", "smoke"]
    for pair in ("weights=none", "finetune=conv1", "resolution=32", "augmentation=more"):
        run += ["--set", pair]
    assert main(run) == 0, capsys.readouterr()
    analysis = ExperimentAnalysis(str(tmp_path / "smoke"))
    (trial,) = analysis.trials
    history = analysis.trial_dataframes[trial.trial_id]
    assert trial.config["finetune"] == "conv1" and list(history["epoch"]) == [1]
    assert not history["cached_features"].iloc[0] and not history["early_stopped"].iloc[0]
    capsys.readouterr()

    out = tmp_path / "report"
    assert main(["probe", "transfer", str(tmp_path / "smoke"), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "mean |after - before|" in text
    for name in ("val_acc_curves.png", "trials.csv", "conv1_filters_before_after.png"):
        assert (out / name).is_file(), name


def test_cifar10_transfer_rejects_bad_settings_before_ray_starts(tmp_path, capsys):
    wrong = tmp_path / "wrong.pt"
    torch.save(nn.Linear(2, 2).state_dict(), wrong)
    for pair, named in (
        ("finetune=layer3", "finetune='layer3'"),
        (f"weights={wrong}", "not a ResNet18 state dict"),
        ("augmentation=mixup", "augmentation='mixup'"),
    ):
        args = ["run", "cifar10-transfer", "--set", pair, "--storage", str(tmp_path / "r")]
        assert main(args) == 2
        assert named in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
