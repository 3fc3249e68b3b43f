"""Backpropagation by hand through conv -> sigmoid -> 2x2 max-pool -> fully connected sigmoid.

The network of Problem 3, in float64 numpy with no autograd. Shapes: x (N, C, H, W); conv
weights (K, C, F, F) shared over positions, one bias per filter; conv output (N, K, Ho, Wo) with
Ho = H - F + 1 (valid cross-correlation, as torch's conv2d); pooled map (N, K, Hp, Wp) with
Hp = Ho // 2 (a trailing odd row or column is dropped, as torch's max_pool2d); output (N, M).
The cost is averaged over the batch.

Max-pooling ties: each 2x2 window routes its delta to the first maximum in row-major order
(top-left, top-right, bottom-left, bottom-right), the entry np.argmax picks and the one torch's
max_pool2d records (its kernels replace the running max only on a strictly larger value).

The equations, one function each (docs/theory.md writes them out):
BP1 `output_delta`; BP2a `pooled_delta`; BP2b `maxpool_backward`; BP2c `conv_delta`;
BP3 and BP4 `fc_gradients` and `conv_gradients`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COSTS = ("quadratic", "cross-entropy")


@dataclass(frozen=True)
class ConvNetParams:
    """Weights of the network: conv (K, C, F, F) and (K,), fully connected (M, K*Hp*Wp) and (M,)."""

    conv_w: np.ndarray
    conv_b: np.ndarray
    fc_w: np.ndarray
    fc_b: np.ndarray


@dataclass(frozen=True)
class Forward:
    """Every intermediate the backward pass reads."""

    x: np.ndarray
    z_conv: np.ndarray
    a_conv: np.ndarray
    argmax: np.ndarray  # (N, K, Hp, Wp), index 0..3 of the winner inside its 2x2 window
    pooled: np.ndarray
    z_out: np.ndarray
    a_out: np.ndarray


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic sigmoid, split by sign so neither branch overflows."""
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """z[n,k,i,j] = b[k] + sum_{c,u,v} w[k,c,u,v] x[n,c,i+u,j+v] (valid, stride 1)."""
    f = w.shape[-1]
    ho, wo = x.shape[2] - f + 1, x.shape[3] - f + 1
    z = np.broadcast_to(b[None, :, None, None], (x.shape[0], w.shape[0], ho, wo)).copy()
    for u in range(f):
        for v in range(f):
            z += np.einsum("kc,ncij->nkij", w[:, :, u, v], x[:, :, u : u + ho, v : v + wo])
    return z


def pool_windows(a: np.ndarray) -> np.ndarray:
    """(N, K, Ho, Wo) -> (N, K, Hp, Wp, 4): each 2x2 window flattened in row-major order."""
    n, k, ho, wo = a.shape
    hp, wp = ho // 2, wo // 2
    crop = a[:, :, : 2 * hp, : 2 * wp]
    return crop.reshape(n, k, hp, 2, wp, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, k, hp, wp, 4)


def maxpool_forward(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2x2 max-pooling, stride 2: the pooled map and the winner's index in each window."""
    win = pool_windows(a)
    argmax = np.argmax(win, axis=-1)  # first occurrence: the documented tie rule
    return np.take_along_axis(win, argmax[..., None], axis=-1)[..., 0], argmax


def forward(params: ConvNetParams, x: np.ndarray) -> Forward:
    """The forward pass, keeping what backpropagation needs."""
    z_conv = conv2d(x, params.conv_w, params.conv_b)
    a_conv = sigmoid(z_conv)
    pooled, argmax = maxpool_forward(a_conv)
    z_out = pooled.reshape(x.shape[0], -1) @ params.fc_w.T + params.fc_b
    return Forward(x, z_conv, a_conv, argmax, pooled, z_out, sigmoid(z_out))


def cost(a_out: np.ndarray, y: np.ndarray, kind: str) -> float:
    """Quadratic 1/2 ||a - y||^2 or cross-entropy -sum[y ln a + (1-y) ln(1-a)], batch mean."""
    if kind == "quadratic":
        per_sample = 0.5 * ((a_out - y) ** 2).sum(axis=1)
    elif kind == "cross-entropy":
        per_sample = -(y * np.log(a_out) + (1.0 - y) * np.log1p(-a_out)).sum(axis=1)
    else:
        raise ValueError(f"unknown cost {kind!r}; choose one of {COSTS}")
    return float(per_sample.mean())


def output_delta(fwd: Forward, y: np.ndarray, kind: str) -> np.ndarray:
    """BP1: delta^L = dC/dz^L = grad_a C * sigma'(z^L); sigma' cancels for cross-entropy."""
    n = y.shape[0]  # the cost is a batch mean
    if kind == "quadratic":
        return (fwd.a_out - y) * fwd.a_out * (1.0 - fwd.a_out) / n
    if kind == "cross-entropy":
        return (fwd.a_out - y) / n
    raise ValueError(f"unknown cost {kind!r}; choose one of {COSTS}")


def pooled_delta(params: ConvNetParams, delta_out: np.ndarray, pooled_shape: tuple) -> np.ndarray:
    """BP2a: dC/dp = (W^fc)^T delta^L, reshaped to the pooled map (pooling has no activation)."""
    return (delta_out @ params.fc_w).reshape(pooled_shape)


def maxpool_backward(
    delta_pooled: np.ndarray, argmax: np.ndarray, conv_shape: tuple[int, ...]
) -> np.ndarray:
    """BP2b: dC/da^conv is delta_pooled at each window's (first) argmax and 0 elsewhere."""
    n, k, hp, wp = delta_pooled.shape
    win = np.zeros((n, k, hp, wp, 4))
    np.put_along_axis(win, argmax[..., None], delta_pooled[..., None], axis=-1)
    routed = (
        win.reshape(n, k, hp, wp, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, k, 2 * hp, 2 * wp)
    )
    grad = np.zeros(conv_shape)
    grad[:, :, : 2 * hp, : 2 * wp] = routed  # a dropped odd row/column gets no gradient
    return grad


def conv_delta(grad_a_conv: np.ndarray, a_conv: np.ndarray) -> np.ndarray:
    """BP2c: delta^conv = dC/da^conv * sigma'(z^conv), with sigma' = a (1 - a)."""
    return grad_a_conv * a_conv * (1.0 - a_conv)


def fc_gradients(delta_out: np.ndarray, pooled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BP3/BP4, fully connected: dC/db = sum_n delta^L, dC/dW = sum_n delta^L p^T."""
    flat = pooled.reshape(pooled.shape[0], -1)
    return delta_out.T @ flat, delta_out.sum(axis=0)


def conv_gradients(
    delta_conv: np.ndarray, x: np.ndarray, kernel: int
) -> tuple[np.ndarray, np.ndarray]:
    """BP3/BP4, conv: sums over every position that shares the weight or bias.

    dC/db_k = sum_{n,i,j} delta[n,k,i,j]
    dC/dw_{k,c,u,v} = sum_{n,i,j} delta[n,k,i,j] x[n,c,i+u,j+v]
    """
    _, k, ho, wo = delta_conv.shape
    grad_w = np.empty((k, x.shape[1], kernel, kernel))
    for u in range(kernel):
        for v in range(kernel):
            grad_w[:, :, u, v] = np.einsum(
                "nkij,ncij->kc", delta_conv, x[:, :, u : u + ho, v : v + wo]
            )
    return grad_w, delta_conv.sum(axis=(0, 2, 3))


def backprop(
    params: ConvNetParams, x: np.ndarray, y: np.ndarray, kind: str
) -> dict[str, np.ndarray]:
    """Every delta and gradient of the cost, by the equations above."""
    fwd = forward(params, x)
    d_out = output_delta(fwd, y, kind)
    d_pool = pooled_delta(params, d_out, fwd.pooled.shape)
    g_a_conv = maxpool_backward(d_pool, fwd.argmax, fwd.a_conv.shape)
    d_conv = conv_delta(g_a_conv, fwd.a_conv)
    fc_w, fc_b = fc_gradients(d_out, fwd.pooled)
    conv_w, conv_b = conv_gradients(d_conv, x, params.conv_w.shape[-1])
    return {
        "cost": np.asarray(cost(fwd.a_out, y, kind)),
        "delta_out": d_out,
        "delta_pooled": d_pool,
        "grad_a_conv": g_a_conv,
        "delta_conv": d_conv,
        "fc_w": fc_w,
        "fc_b": fc_b,
        "conv_w": conv_w,
        "conv_b": conv_b,
    }
