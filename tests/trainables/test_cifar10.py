"""ResNet18 transfer learning: frozen parts, cached features, early stopping, weights sources.

Everything runs offline on random weights (weights=none) or a state-dict file the test writes, at
32 px, on a few synthetic images.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from trainables import metrics as m
from trainables.cifar10 import (
    CACHED_FEATURES,
    CONV1_BEFORE,
    EARLY_STOPPED,
    CifarConfig,
    EarlyStopping,
    coerce,
    train_cifar10,
    validate,
)
from trainables.config import ConfigError
from trainables.data import IMAGENET_MEAN, IMAGENET_STD, ImageSplits
from trainables.pretrained import WeightsError
from trainables.resnet_transfer import backbone_features, build_transfer_resnet
from trainables.training import build_optimizer, train_epoch

STATS = (IMAGENET_MEAN, IMAGENET_STD)


def tiny_splits(train: int = 24, evaluation: int = 10, seed: int = 0) -> ImageSplits:
    """32x32 RGB images whose class (of 3) is the colour of a bright square."""
    generator = torch.Generator().manual_seed(seed)

    def make(count: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.randint(0, 3, (count,), generator=generator)
        x = torch.randint(0, 60, (count, 3, 32, 32), generator=generator, dtype=torch.uint8)
        for image, label in zip(x, y, strict=True):
            image[label, 8:24, 8:24] = 255
        return x, y

    (tx, ty), (vx, vy), (sx, sy) = make(train), make(evaluation), make(evaluation)
    return ImageSplits(tx, ty, vx, vy, sx, sy, IMAGENET_MEAN, IMAGENET_STD, 3)


def model_for(finetune: str, weights: str = "none"):
    torch.manual_seed(0)
    return build_transfer_resnet(weights, 3, finetune, 32, *STATS)


def one_step(model) -> dict[str, torch.Tensor]:
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    optimizer = build_optimizer("sgd", model, lr=0.5)
    data = tiny_splits(train=8)
    train_epoch(model, optimizer, [(data.train_x, data.train_y)])
    return {k: v for k, v in model.named_parameters() if not torch.equal(v, before[k])}


def test_finetune_fc_changes_only_fc_and_keeps_batchnorm_statistics():
    model = model_for("fc")
    buffers = {k: v.clone() for k, v in model.named_buffers()}
    assert set(one_step(model)) == {"fc.weight", "fc.bias"}
    for name, value in model.named_buffers():  # running mean / var untouched: BN stays in eval
        assert torch.equal(value, buffers[name]), name


def test_finetune_conv1_changes_exactly_fc_conv1_and_layer1_0_conv1():
    changed = one_step(model_for("conv1"))
    assert set(changed) == {"fc.weight", "fc.bias", "conv1.weight", "layer1.0.conv1.weight"}


def test_cached_features_give_the_same_fc_gradients_as_the_full_forward_pass():
    data = tiny_splits(train=6)
    model = model_for("fc")
    model.train()
    F.cross_entropy(model(data.train_x), data.train_y).backward()
    full = [p.grad.clone() for p in model.fc.parameters()]
    model.zero_grad()
    features = backbone_features(model, data.train_x, batch_size=4)  # chunked on purpose
    model.fc.train()
    F.cross_entropy(model.fc(features), data.train_y).backward()
    for expected, got in zip(full, model.fc.parameters(), strict=True):
        torch.testing.assert_close(got.grad, expected, rtol=1e-4, atol=1e-6)


def test_early_stopping_stops_after_patience_epochs_without_improvement():
    stopper = EarlyStopping(patience=2)
    assert [stopper.update(v) for v in (0.5, 0.6, 0.6, 0.55)] == [False, False, False, True]
    assert stopper.best == 0.6
    never = EarlyStopping(patience=0)
    assert not any(never.update(0.1) for _ in range(20))


def run_in_process(monkeypatch, config, data, val_accs=None):
    """Run the trainable without Ray, collecting its reports; optionally script its val_acc."""
    import trainables.loop as module

    reports = []
    monkeypatch.setattr(
        module, "report", lambda metrics, state=None: reports.append((metrics, state))
    )
    monkeypatch.setattr(module, "restored_state", lambda: None)
    if val_accs is not None:
        real, calls = module.evaluate, iter(val_accs)

        def scripted(net, x, y, *options):  # validation is evaluated before test in each epoch
            loss, acc = real(net, x, y, *options)
            return (loss, next(calls)) if y is data.val_y else (loss, acc)

        monkeypatch.setattr(module, "evaluate", scripted)
    train_cifar10({"weights": "none", "resolution": 32, "batch_size": 8, **config}, data)
    return reports


def test_trainable_stops_early_and_records_it(monkeypatch):
    data = tiny_splits()
    reports = run_in_process(
        monkeypatch, {"epochs": 10, "patience": 2}, data, val_accs=[0.3, 0.5, 0.5, 0.4, 0.9]
    )
    epochs = [r[m.EPOCH] for r, _ in reports]
    assert epochs == [1, 2, 3, 4]  # best at epoch 2, then two epochs without improvement
    assert [r[EARLY_STOPPED] for r, _ in reports] == [False, False, False, True]
    for name in (m.EPOCH, m.TRAIN_LOSS, m.TRAIN_COST, m.VAL_LOSS, m.VAL_ACC, m.TEST_ACC):
        assert name in reports[-1][0]


def test_cached_and_full_paths_train_the_same_fc(monkeypatch):
    data = tiny_splits()
    config = {"epochs": 2, "lr": 0.01, "patience": 0}
    cached = run_in_process(monkeypatch, {**config, "augmentation": "none"}, data)
    # "crop-flip" forces the full pass; scripting its augmentation to the identity keeps the data.
    import trainables.augment as augment

    monkeypatch.setitem(augment.AUGMENTATIONS, "crop-flip", lambda x, g: x)
    full = run_in_process(monkeypatch, {**config, "augmentation": "crop-flip"}, data)
    assert [r[CACHED_FEATURES] for r, _ in cached] == [True, True]
    assert [r[CACHED_FEATURES] for r, _ in full] == [False, False]
    for (a, _), (b, _) in zip(cached, full, strict=True):
        assert a[m.TRAIN_LOSS] == pytest.approx(b[m.TRAIN_LOSS], rel=1e-4)
        assert a[m.VAL_ACC] == b[m.VAL_ACC]
    fc_cached, fc_full = cached[-1][1]["model"]["fc.weight"], full[-1][1]["model"]["fc.weight"]
    torch.testing.assert_close(fc_cached, fc_full, rtol=1e-4, atol=1e-6)


def test_checkpoint_keeps_conv1_before_fine_tuning(monkeypatch):
    data = tiny_splits()
    reports = run_in_process(
        monkeypatch, {"epochs": 1, "finetune": "conv1", "lr": 0.05, "augmentation": "more"}, data
    )
    state = reports[-1][1]
    assert state[CONV1_BEFORE].shape == (64, 3, 7, 7)
    assert not torch.equal(state[CONV1_BEFORE], state["model"]["conv1.weight"])


def test_weights_file_loads_and_a_file_of_another_architecture_is_one_clear_error(tmp_path):
    from torchvision.models import resnet18

    torch.manual_seed(1)
    source = resnet18(num_classes=1000)
    good = tmp_path / "resnet18.pt"
    torch.save(source.state_dict(), good)
    model = build_transfer_resnet(str(good), 3, "fc", 32, *STATS)
    assert torch.equal(model.conv1.weight, source.conv1.weight)
    assert model.fc.out_features == 3
    validate({"weights": str(good)})

    wrong = tmp_path / "tiny.pt"
    torch.save(nn.Linear(3, 2).state_dict(), wrong)
    with pytest.raises(ConfigError, match="not a ResNet18 state dict"):
        validate({"weights": str(wrong)})
    with pytest.raises(WeightsError, match="not a ResNet18 state dict"):
        build_transfer_resnet(str(wrong), 3, "fc", 32, *STATS)
    garbage = tmp_path / "notes.txt"
    garbage.write_text("not weights")
    with pytest.raises(ConfigError, match="is not a state-dict file"):
        validate({"weights": str(garbage)})
    with pytest.raises(ConfigError, match="no such file"):
        validate({"weights": str(tmp_path / "missing.pt")})


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"finetune": "layer4"}, "finetune='layer4'"),
        ({"augmentation": "mixup"}, "augmentation='mixup'"),
        ({"resolution": 16}, "resolution=16"),
        ({"colour": "red"}, "unknown hyperparameter"),
    ],
)
def test_bad_config_names_the_value(values, named):
    with pytest.raises(ConfigError, match=named):
        CifarConfig.from_dict({"weights": "none", **values})


def test_coerce_parses_set_values():
    assert coerce("resolution", "64") == 64 and coerce("lr", "0.01") == 0.01
    assert coerce("weights", "none") == "none"
    with pytest.raises(ConfigError):
        coerce("patience", "two")


def test_a_reused_process_recomputes_features_only_for_other_weights_or_images(monkeypatch):
    # A reused actor's next trial: same backbone and images -> the features are not recomputed;
    # another backbone (weights=none with another seed) or reordered images -> they are.
    import trainables.cifar10 as cifar10

    computed = []
    real = cifar10.backbone_features

    def counting(model, x, batch_size):
        computed.append(len(x))
        return real(model, x, batch_size)

    monkeypatch.setattr(cifar10, "backbone_features", counting)
    monkeypatch.setattr(cifar10, "_LAST_FEATURES", {})
    data = tiny_splits()
    splits = (data.train_x, data.val_x, data.test_x)
    first = cifar10.split_features(model_for("fc"), splits, 8)
    again = cifar10.split_features(model_for("fc"), splits, 8)
    assert len(computed) == 3 and all(a is b for a, b in zip(first, again, strict=True))
    torch.manual_seed(1)
    other = build_transfer_resnet("none", 3, "fc", 32, *STATS)
    cifar10.split_features(other, splits, 8)
    assert len(computed) == 6
    reordered = (data.train_x.flip(0), data.val_x, data.test_x)
    features = cifar10.split_features(other, reordered, 8)
    assert len(computed) == 9
    torch.testing.assert_close(features[0], backbone_features(other, reordered[0], 8))
