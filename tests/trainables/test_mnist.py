from __future__ import annotations

import pytest
import torch
from torch import nn

from trainables.config import ConfigError
from trainables.mnist import MnistConfig, build_cnn, coerce


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"conv_layers": 3, "channels": 8, "kernel_size": 3, "width": 32},
        {"conv_layers": 4, "batchnorm": True, "init": "kaiming"},
        {"kernel_size": 7, "dropout": 0.5, "init": "xavier"},
    ],
)
def test_cnn_maps_images_to_ten_logits(overrides):
    model = build_cnn(MnistConfig(**overrides))
    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    convs = [m for m in model if isinstance(m, nn.Conv2d)]
    pools = [m for m in model if isinstance(m, nn.MaxPool2d)]
    assert len(convs) == len(pools) == MnistConfig(**overrides).conv_layers


def test_channels_double_per_layer_and_batchnorm_follows_every_hidden_layer():
    model = build_cnn(MnistConfig(conv_layers=3, channels=4, batchnorm=True))
    convs = [m.out_channels for m in model if isinstance(m, nn.Conv2d)]
    assert convs == [4, 8, 16]
    assert sum(isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d) for m in model) == 4


def test_kaiming_and_xavier_initializations_change_the_weights():
    torch.manual_seed(0)
    default = build_cnn(MnistConfig())[0].weight.std().item()
    torch.manual_seed(0)
    kaiming = build_cnn(MnistConfig(init="kaiming"))[0].weight
    assert kaiming.std().item() == pytest.approx((2 / 25) ** 0.5, rel=0.25)
    assert kaiming.std().item() != pytest.approx(default, rel=0.05)


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"lr": -0.1}, "lr=-0.1"),
        ({"dropout": 1.0}, "dropout=1.0"),
        ({"conv_layers": 1}, "conv_layers=1"),
        ({"optimizer": "rmsprop"}, "optimizer='rmsprop'"),
        ({"kernel_size": 4}, "kernel_size=4"),
        ({"nonsense": 3}, "nonsense"),
        ({"width": "wide"}, "width='wide'"),
        ({"batch_size": 3.5}, "batch_size=3.5"),
    ],
)
def test_bad_values_are_refused_with_the_name_and_value(values, named):
    with pytest.raises(ConfigError, match=named.replace("(", r"\(").replace(".", r"\.")):
        MnistConfig.from_dict(values)


def test_coerce_parses_command_line_text():
    assert coerce("lr", "0.02") == 0.02
    assert coerce("width", "96") == 96
    assert coerce("batchnorm", "true") is True
    assert coerce("optimizer", "adam") == "adam"
