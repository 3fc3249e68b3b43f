"""Hand-derived conv/max-pool/FC backpropagation against autograd, ties included."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from analysis.theory.backprop import (
    COSTS,
    backprop,
    cost,
    forward,
    maxpool_backward,
    maxpool_forward,
    pool_windows,
)
from analysis.theory.backprop_check import (
    QUANTITIES,
    TOLERANCE,
    autograd_gradients,
    compare,
    count_tied_windows,
    random_case,
    tie_case,
)

SHAPES = [
    {},  # 2 x 1 x 8x8, 3 filters 3x3, 4 outputs
    {"batch": 3, "channels": 2, "size": (9, 8), "filters": 2, "kernel": 2, "outputs": 3},
    {"batch": 1, "channels": 3, "size": (7, 10), "filters": 4, "kernel": 4, "outputs": 1},
]


@pytest.mark.parametrize("kind", COSTS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", [0, 7, 123])
def test_every_equation_matches_autograd(seed: int, shape: dict, kind: str) -> None:
    diffs = compare(random_case(seed, **shape), kind)
    assert len(diffs) == len(QUANTITIES)
    assert diffs["max_abs_diff"].max() < TOLERANCE


@pytest.mark.parametrize("kind", COSTS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ties_route_to_the_first_maximum_like_torch(seed: int, kind: str) -> None:
    case = tie_case(seed)
    assert count_tied_windows(case) > 0
    assert compare(case, kind)["max_abs_diff"].max() < TOLERANCE


def test_tie_case_tells_tie_rules_apart() -> None:
    # Routing to the *last* maximum instead must disagree with autograd on the tie case,
    # otherwise the tie case would not be testing the documented rule.
    case = tie_case(0)
    fwd = forward(case.params, case.x)
    win = pool_windows(fwd.a_conv)
    last = 3 - np.argmax(win[..., ::-1], axis=-1)
    assert np.any(last != fwd.argmax)
    hand = backprop(case.params, case.x, case.y, "quadratic")
    wrong = maxpool_backward(hand["delta_pooled"], last, fwd.a_conv.shape)
    auto = autograd_gradients(case, "quadratic")["grad_a_conv"]
    assert np.max(np.abs(wrong - auto)) > 1e-6


def test_routing_of_one_tied_window() -> None:
    a = np.array([[1.0, 3.0], [3.0, 2.0]])[None, None]  # tie between top-right and bottom-left
    pooled, argmax = maxpool_forward(a)
    assert pooled.item() == 3.0 and argmax.item() == 1
    grad = maxpool_backward(np.full((1, 1, 1, 1), 5.0), argmax, a.shape)
    assert np.array_equal(grad[0, 0], [[0.0, 5.0], [0.0, 0.0]])
    _, torch_index = F.max_pool2d(torch.tensor(a), 2, return_indices=True)
    assert torch_index.item() == 1  # flat index of the top-right entry


def test_odd_trailing_row_gets_no_gradient() -> None:
    a = np.arange(15.0).reshape(1, 1, 3, 5)
    pooled, argmax = maxpool_forward(a)
    assert pooled.shape == (1, 1, 1, 2)
    grad = maxpool_backward(np.ones(pooled.shape), argmax, a.shape)
    assert grad[0, 0, 2].sum() == 0 and grad[0, 0, :, 4].sum() == 0
    assert grad.sum() == 2


def test_unknown_cost_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown cost"):
        cost(np.full((1, 1), 0.5), np.zeros((1, 1)), "hinge")
