"""Adversarial search against a tiny model: it changes the prediction and reports the norms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from analysis.probes.adversarial import fgsm, fool, pgd
from analysis.probes.adversarial_probe import probe_adversarial, resolve_label
from analysis.probes.classifier import Classifier, Normalized
from analysis.probes.images import ProbeError

CLASSES = ("cat", "dog", "tabby cat, house cat")


def tiny_model() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten(),
        nn.Linear(64, 3),
    )  # fmt: skip
    return model.eval()


def test_fgsm_and_pgd_stay_in_the_epsilon_ball_and_in_range():
    model, x = tiny_model(), torch.rand(1, 3, 16, 16)
    for attack in (fgsm, pgd):
        adversarial = attack(model, x, 0, 0.03)
        assert (adversarial - x).abs().max() <= 0.03 + 1e-6
        assert 0 <= adversarial.min() and adversarial.max() <= 1


def test_search_changes_the_prediction_of_a_tiny_model_and_reports_the_norm():
    model, x = tiny_model(), torch.rand(1, 3, 16, 16)
    label = int(model(x).argmax())
    attempts = {a.kind: a for a in fool(model, x, label, pgd_steps=5)}
    assert set(attempts) == {"fgsm", "pgd", "noise", "rotation"}
    for kind in ("fgsm", "pgd"):
        attempt = attempts[kind]
        assert attempt.fooled and attempt.prediction != label
        assert int(model(attempt.image).argmax()) == attempt.prediction
        assert 0 < attempt.linf <= attempt.strength + 1e-6 and attempt.l2 > 0


def test_probe_writes_table_and_figure(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 255, (20, 24, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "img.png")
    classifier = Classifier(
        Normalized(tiny_model(), (0.5,) * 3, (0.25,) * 3), CLASSES, 16, 16, "none"
    )
    result = probe_adversarial(tmp_path / "img.png", tmp_path / "out", classifier, pgd_steps=3)
    assert result.table["fooled"].any()
    assert {"kind", "strength", "linf", "l2", "before", "after"} <= set(result.table.columns)
    assert set(result.top5["image"]) == {"original", "fgsm", "pgd", "noise", "rotation"}
    for path in result.files:
        assert path.stat().st_size > 0


def test_labels_resolve_by_index_or_unique_name():
    assert resolve_label("1", CLASSES) == 1 and resolve_label("TABBY", CLASSES) == 2
    assert resolve_label(None, CLASSES) is None
    with pytest.raises(ProbeError, match="matches 2 classes"):
        resolve_label("cat", CLASSES)
    with pytest.raises(ProbeError, match="below 3"):
        resolve_label("7", CLASSES)
