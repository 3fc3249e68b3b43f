"""Compare the hand-derived backpropagation with torch autograd on the same network, in float64."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from analysis.theory.backprop import (
    COSTS,
    ConvNetParams,
    backprop,
    conv2d,
    maxpool_forward,
    pool_windows,
    sigmoid,
)
from analysis.theory.threads import torch_single_thread

TOLERANCE = 1e-10

# What each compared quantity is, which equation gives it, and where it is implemented.
QUANTITIES: tuple[tuple[str, str, str, str], ...] = (
    ("cost", "forward", "C", "backprop.cost"),
    ("delta_out", "BP1", "dC/dz^L (output delta)", "backprop.output_delta"),
    ("delta_pooled", "BP2a", "dC/dp (fully connected -> pooled map)", "backprop.pooled_delta"),
    ("grad_a_conv", "BP2b", "dC/da^conv (max-pool routing)", "backprop.maxpool_backward"),
    ("delta_conv", "BP2c", "dC/dz^conv (through the sigmoid)", "backprop.conv_delta"),
    ("fc_b", "BP3", "dC/db^fc", "backprop.fc_gradients"),
    ("fc_w", "BP4", "dC/dW^fc", "backprop.fc_gradients"),
    ("conv_b", "BP3", "dC/db^conv (sum over positions)", "backprop.conv_gradients"),
    ("conv_w", "BP4", "dC/dw^conv (shared weights, sum over positions)", "backprop.conv_gradients"),
)


@dataclass(frozen=True)
class Case:
    """One network and batch to differentiate."""

    name: str
    params: ConvNetParams
    x: np.ndarray
    y: np.ndarray


def _fc_inputs(size: tuple[int, int], kernel: int, filters: int) -> int:
    return filters * ((size[0] - kernel + 1) // 2) * ((size[1] - kernel + 1) // 2)


def random_case(
    seed: int = 0,
    batch: int = 2,
    channels: int = 1,
    size: tuple[int, int] = (8, 8),
    filters: int = 3,
    kernel: int = 3,
    outputs: int = 4,
) -> Case:
    """Gaussian inputs and weights (continuous values: ties have probability 0)."""
    if min(size) - kernel + 1 < 2:
        raise ValueError(f"image {size} too small for a {kernel}x{kernel} conv and 2x2 pooling")
    rng = np.random.default_rng(seed)
    n_fc = _fc_inputs(size, kernel, filters)
    params = ConvNetParams(
        conv_w=rng.normal(0.0, 1.0 / kernel, (filters, channels, kernel, kernel)),
        conv_b=rng.normal(0.0, 0.5, filters),
        fc_w=rng.normal(0.0, 1.0 / np.sqrt(n_fc), (outputs, n_fc)),
        fc_b=rng.normal(0.0, 0.5, outputs),
    )
    x = rng.normal(size=(batch, channels, *size))
    y = rng.uniform(size=(batch, outputs))  # targets in [0, 1] suit both costs
    return Case(f"random seed={seed} x{x.shape}", params, x, y)


def tie_case(
    seed: int = 0, batch: int = 2, size: tuple[int, int] = (8, 8), filters: int = 2
) -> Case:
    """Binary images and weights in {-1, 0, 1}: conv outputs are small integers, computed exactly
    in float64 by both implementations, so many 2x2 windows hold tied maxima at every position.
    """
    rng = np.random.default_rng(seed)
    kernel = 2
    n_fc = _fc_inputs(size, kernel, filters)
    params = ConvNetParams(
        conv_w=rng.integers(-1, 2, (filters, 1, kernel, kernel)).astype(float),
        conv_b=np.zeros(filters),
        fc_w=rng.normal(0.0, 1.0 / np.sqrt(n_fc), (2, n_fc)),
        fc_b=rng.normal(0.0, 0.5, 2),
    )
    x = rng.integers(0, 2, (batch, 1, *size)).astype(float)
    return Case(f"ties seed={seed} x{x.shape}", params, x, rng.uniform(size=(batch, 2)))


def count_tied_windows(case: Case) -> int:
    """Number of 2x2 pooling windows whose maximum occurs more than once."""
    a = sigmoid(conv2d(case.x, case.params.conv_w, case.params.conv_b))
    win = pool_windows(a)
    pooled, _ = maxpool_forward(a)
    return int(((win == pooled[..., None]).sum(axis=-1) > 1).sum())


def autograd_gradients(case: Case, kind: str) -> dict[str, np.ndarray]:
    """The same quantities from torch autograd (conv2d, sigmoid, max_pool2d, linear)."""
    t = {
        k: torch.tensor(v, dtype=torch.float64, requires_grad=True)
        for k, v in vars(case.params).items()
    }
    x = torch.tensor(case.x, dtype=torch.float64)
    y = torch.tensor(case.y, dtype=torch.float64)
    z_conv = F.conv2d(x, t["conv_w"], t["conv_b"])
    a_conv = torch.sigmoid(z_conv)
    pooled = F.max_pool2d(a_conv, kernel_size=2, stride=2)
    z_out = F.linear(pooled.flatten(1), t["fc_w"], t["fc_b"])
    a_out = torch.sigmoid(z_out)
    if kind == "quadratic":
        cost = 0.5 * ((a_out - y) ** 2).sum(dim=1).mean()
    elif kind == "cross-entropy":
        cost = -(y * torch.log(a_out) + (1 - y) * torch.log1p(-a_out)).sum(dim=1).mean()
    else:
        raise ValueError(f"unknown cost {kind!r}; choose one of {COSTS}")
    inner = {
        "delta_out": z_out,
        "delta_pooled": pooled,
        "grad_a_conv": a_conv,
        "delta_conv": z_conv,
    }
    grads = torch.autograd.grad(cost, [*inner.values(), *t.values()])
    out = {"cost": cost.detach().numpy()}
    out.update({k: g.numpy() for k, g in zip([*inner, *t], grads, strict=True)})
    return out


def compare(case: Case, kind: str) -> pd.DataFrame:
    """Largest |hand - autograd| per quantity (columns case, cost, equation, ..., max_abs_diff)."""
    hand = backprop(case.params, case.x, case.y, kind)
    with torch_single_thread():
        auto = autograd_gradients(case, kind)
    rows = []
    for key, equation, quantity, function in QUANTITIES:
        diff = float(np.max(np.abs(hand[key] - auto[key])))
        rows.append(
            {
                "case": case.name,
                "cost": kind,
                "equation": equation,
                "quantity": quantity,
                "function": function,
                "max_abs_diff": diff,
            }
        )
    return pd.DataFrame(rows)


def backprop_check(seed: int = 0, costs: tuple[str, ...] = COSTS) -> pd.DataFrame:
    """Compare on a random case, a multi-channel odd-sized case and a tie case, for each cost."""
    cases = [
        random_case(seed),
        random_case(seed + 1, batch=3, channels=2, size=(9, 8), filters=2, kernel=2, outputs=3),
        tie_case(seed),
    ]
    return pd.concat([compare(c, k) for k in costs for c in cases], ignore_index=True)
