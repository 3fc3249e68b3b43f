"""Per-layer gradient norms: vanishing for the sigmoid, exploding for large-derivative choices."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from analysis.theory.unstable import ACTIVATIONS, layer_gradient_norms, unstable_gradients

BY_NAME = {act.name: act for act in ACTIVATIONS}


@pytest.fixture(scope="module")
def result():
    return unstable_gradients()


def _norms(result, name: str) -> np.ndarray:
    frame = result.norms[result.norms["activation"] == name].sort_values("layer")
    return frame["bias_grad_norm"].to_numpy()


def test_sigmoid_shrinks_layer_by_layer_toward_the_input(result) -> None:
    norms = _norms(result, "sigmoid")
    assert np.all(np.diff(norms) > 0)  # every layer closer to the input gets less
    assert norms[0] / norms[-1] < 1e-6


def test_large_derivative_grows_layer_by_layer_toward_the_input(result) -> None:
    norms = _norms(result, "4*tanh")
    assert BY_NAME["4*tanh"].max_derivative > 1
    assert np.all(np.diff(norms) < 0)
    assert norms[0] / norms[-1] > 100


@pytest.mark.parametrize("seed", [1, 2])
def test_trends_hold_for_other_seeds(seed: int) -> None:
    summary = unstable_gradients(seed=seed).summary.set_index("activation")
    assert summary.loc["sigmoid", "first_over_last"] < 1e-3
    assert summary.loc["4*tanh", "first_over_last"] > 10
    assert summary.loc["relu, 2x He weights", "first_over_last"] > 10


def test_checks_pass_and_runs_are_deterministic(result) -> None:
    assert result.checks and all(check.passed for check in result.checks)
    again = layer_gradient_norms(BY_NAME["sigmoid"])
    assert np.array_equal(again["bias_grad_norm"].to_numpy(), _norms(result, "sigmoid"))


def test_thread_count_is_restored() -> None:
    before = torch.get_num_threads()
    unstable_gradients(depth=3, width=4, batch=2)
    assert torch.get_num_threads() == before


def test_rejects_a_too_shallow_network() -> None:
    with pytest.raises(ValueError, match="depth"):
        layer_gradient_norms(BY_NAME["sigmoid"], depth=1)
