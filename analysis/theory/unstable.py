"""Per-layer gradient norms of a deep fully connected network at initialization.

Problem 1.2 asks whether an activation whose derivative can be much larger than the sigmoid's
(|sigma'| <= 1/4) would avoid the unstable-gradient problem. The gradient reaching layer l is a
product of one factor W^T diag(f'(z)) per later layer, so a larger f' changes which way the product
drifts, not the fact that it drifts: this module measures it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
import torch

from analysis.theory.checks import Check
from analysis.theory.threads import torch_single_thread

VANISH_RATIO = 1e-3  # first/last below this: gradients vanish toward the input
EXPLODE_RATIO = 10.0  # first/last above this: gradients explode toward the input


@dataclass(frozen=True)
class Activation:
    """An activation under test.

    Args:
        name: label in tables and plots.
        fn: the elementwise activation.
        max_derivative: sup |f'|, the number Problem 1.2 is about.
        weight_gain: weights are N(0, gain^2 / fan_in); 1 is LeCun init.
        expect: "vanishes", "explodes" or None (no claim, measured only).
    """

    name: str
    fn: Callable[[torch.Tensor], torch.Tensor]
    max_derivative: float
    weight_gain: float = 1.0
    expect: str | None = None


def _scaled_sigmoid(z: torch.Tensor) -> torch.Tensor:
    return 8.0 * torch.sigmoid(z)


def _scaled_tanh(z: torch.Tensor) -> torch.Tensor:
    return 4.0 * torch.tanh(z)


ACTIVATIONS: tuple[Activation, ...] = (
    Activation("sigmoid", torch.sigmoid, 0.25, expect="vanishes"),
    # No claim: its outputs in (0, 8) push the next layer into saturation, which cancels the
    # larger derivative; the measurement shows it.
    Activation("8*sigmoid", _scaled_sigmoid, 2.0),
    Activation("4*tanh", _scaled_tanh, 4.0, expect="explodes"),
    # ReLU' <= 1, but with twice He's gain every factor |w f'| is about 2.
    Activation(
        "relu, 2x He weights", torch.relu, 1.0, weight_gain=2.0 * math.sqrt(2.0), expect="explodes"
    ),
)


@dataclass(frozen=True)
class UnstableResult:
    """Per-layer norms (long frame), a per-activation summary, and the checks."""

    norms: pd.DataFrame
    summary: pd.DataFrame
    checks: list[Check] = field(default_factory=list)


def layer_gradient_norms(
    activation: Activation, depth: int = 15, width: int = 64, batch: int = 64, seed: int = 0
) -> pd.DataFrame:
    """Gradient norms of each hidden layer of a fresh `depth`-layer network, in float64.

    Layer 1 is next to the input; a linear readout follows layer `depth`. The cost is the
    quadratic cost on random targets, averaged over the batch. Returns columns layer,
    bias_grad_norm (||dC/db_l|| = ||delta_l||, Nielsen's speed of learning) and weight_grad_norm.
    """
    if depth < 2 or width < 1 or batch < 1:
        raise ValueError("need depth >= 2, width >= 1 and batch >= 1")
    # One seed for every activation: the same weights (up to gain) and data, so only f differs.
    gen = torch.Generator().manual_seed(seed)
    opts = {"generator": gen, "dtype": torch.float64}
    std = activation.weight_gain / math.sqrt(width)
    weights = [torch.randn(width, width, **opts) * std for _ in range(depth)]
    biases = [torch.zeros(width, dtype=torch.float64) for _ in range(depth)]
    readout = torch.randn(10, width, **opts) / math.sqrt(width)
    x = torch.randn(batch, width, **opts)
    y = torch.randn(batch, 10, **opts)
    params = weights + biases
    for p in params:
        p.requires_grad_(True)

    h = x
    for w, b in zip(weights, biases, strict=True):
        h = activation.fn(h @ w.T + b)
    cost = 0.5 * ((h @ readout.T - y) ** 2).sum(dim=1).mean()
    grads = torch.autograd.grad(cost, params)
    return pd.DataFrame(
        {
            "layer": range(1, depth + 1),
            "bias_grad_norm": [g.norm().item() for g in grads[depth:]],
            "weight_grad_norm": [g.norm().item() for g in grads[:depth]],
        }
    )


def classify_ratio(ratio: float) -> str:
    """Name the trend of first-layer / last-layer gradient norm."""
    if not math.isfinite(ratio):
        return "not finite"
    if ratio < VANISH_RATIO:
        return "vanishes"
    if ratio > EXPLODE_RATIO:
        return "explodes"
    return "neither (within 1e-3..10)"


def unstable_gradients(
    activations: tuple[Activation, ...] = ACTIVATIONS,
    depth: int = 15,
    width: int = 64,
    batch: int = 64,
    seed: int = 0,
) -> UnstableResult:
    """Measure per-layer gradient norms for each activation and check the expected trends."""
    frames, rows, checks = [], [], []
    for act in activations:
        with torch_single_thread():
            norms = layer_gradient_norms(act, depth=depth, width=width, batch=batch, seed=seed)
        frames.append(norms.assign(activation=act.name))
        first, last = norms.iloc[0], norms.iloc[-1]
        ratio = first["bias_grad_norm"] / last["bias_grad_norm"]
        trend = classify_ratio(ratio)
        rows.append(
            {
                "activation": act.name,
                "max_derivative": act.max_derivative,
                "weight_gain": act.weight_gain,
                "first_bias_grad": first["bias_grad_norm"],
                "last_bias_grad": last["bias_grad_norm"],
                "first_over_last": ratio,
                "weight_grad_first_over_last": first["weight_grad_norm"] / last["weight_grad_norm"],
                "trend": trend,
            }
        )
        if act.expect is not None:
            checks.append(
                Check(
                    f"{act.name}: gradient {act.expect} toward the input (first/last layer)",
                    ratio,
                    trend == act.expect,
                )
            )
    norms_long = pd.concat(frames, ignore_index=True)[
        ["activation", "layer", "bias_grad_norm", "weight_grad_norm"]
    ]
    return UnstableResult(norms=norms_long, summary=pd.DataFrame(rows), checks=checks)
