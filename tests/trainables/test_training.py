from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import trainables.training
from trainables.training import (
    build_optimizer,
    evaluate,
    l1_penalty,
    l2_penalty,
    penalized_parameters,
    train_epoch,
)


def tiny_model() -> nn.Sequential:
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 3))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, -2.0], [0.5, 0.0]]))
        model[0].bias.copy_(torch.tensor([10.0, -10.0]))
        model[2].weight.copy_(torch.tensor([[-1.0, 1.0], [3.0, 0.0], [0.0, -0.25]]))
        model[2].bias.fill_(7.0)
    return model


def test_penalties_equal_hand_computed_values_and_leave_biases_out():
    model = tiny_model()
    # |w|: 1 + 2 + 0.5 + 0 + 1 + 1 + 3 + 0 + 0 + 0.25 = 8.75; biases (10, -10, 7, ...) excluded.
    assert l1_penalty(model, 0.1).item() == pytest.approx(0.875)
    # w^2: 1 + 4 + 0.25 + 1 + 1 + 9 + 0.0625 = 16.3125; cost is (wd / 2) * sum w^2.
    assert l2_penalty(model, 0.2).item() == pytest.approx(0.1 * 16.3125)
    assert len(penalized_parameters(model)) == 2


def test_l1_penalty_gradient_is_sign_of_weights():
    model = tiny_model()
    l1_penalty(model, 0.5).backward()
    assert torch.equal(model[0].weight.grad, 0.5 * torch.sign(model[0].weight.detach()))
    assert model[0].bias.grad is None


@pytest.mark.parametrize(
    ("name", "kind", "expected"),
    [
        ("sgd", torch.optim.SGD, {"lr": 0.1, "momentum": 0}),
        ("momentum", torch.optim.SGD, {"lr": 0.1, "momentum": 0.9}),
        ("adagrad", torch.optim.Adagrad, {"lr": 0.1}),
        ("adam", torch.optim.Adam, {"lr": 0.1, "betas": (0.8, 0.99)}),
    ],
)
def test_optimizer_factory_builds_each_optimizer_with_its_parameters(name, kind, expected):
    optimizer = build_optimizer(name, tiny_model(), 0.1, 1e-3, momentum=0.9, betas=(0.8, 0.99))
    assert type(optimizer) is kind
    decayed, plain = optimizer.param_groups
    for key, value in expected.items():
        assert decayed[key] == value
    assert decayed["weight_decay"] == 1e-3 and plain["weight_decay"] == 0.0
    assert all(p.dim() > 1 for p in decayed["params"])
    assert all(p.dim() == 1 for p in plain["params"])


def test_unknown_optimizer_is_refused():
    with pytest.raises(ValueError, match="rmsprop"):
        build_optimizer("rmsprop", tiny_model(), 0.1)


def test_train_epoch_lowers_loss_and_cost_includes_penalties():
    torch.manual_seed(0)
    x = torch.randn(64, 2)
    y = (x[:, 0] > 0).long()
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
    optimizer = build_optimizer("sgd", model, 0.5)
    before, _ = evaluate(model, x, y)
    stats = train_epoch(
        model,
        optimizer,
        [(x[i : i + 8], y[i : i + 8]) for i in range(0, 64, 8)],
        l1=1e-3,
        weight_decay=1e-2,
    )
    after, accuracy = evaluate(model, x, y)
    assert stats.finite and after < before and accuracy > 0.5
    assert stats.train_cost > stats.train_loss


def test_train_epoch_reports_a_diverging_loss_as_not_finite():
    model = nn.Linear(2, 2)
    with torch.no_grad():
        model.weight.fill_(math.inf)
    stats = train_epoch(
        model, build_optimizer("sgd", model, 0.1), [(torch.ones(4, 2), torch.zeros(4).long())]
    )
    assert not stats.finite and math.isnan(stats.train_loss)


@pytest.mark.parametrize("interval", [1, 4])
def test_a_loss_that_blows_up_between_sparse_checks_still_ends_the_epoch_diverged(
    interval, monkeypatch
):
    # On a GPU the finiteness check runs every few batches; a blow-up in between leaves NaN
    # weights that the next check, or the one after the last batch, still catches.
    monkeypatch.setattr(trainables.training, "finiteness_interval", lambda model: interval)
    model = nn.Linear(2, 2)
    huge = torch.full((4, 2), 1e30)
    batches = [(torch.ones(4, 2), torch.zeros(4).long())] + [(huge, torch.zeros(4).long())] * 2
    stats = train_epoch(model, build_optimizer("sgd", model, 1e10), batches)
    assert not stats.finite and math.isnan(stats.train_loss)
