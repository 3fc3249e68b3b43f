"""Momentum gradient descent (v <- mu v - eta grad; x <- x + v) for mu inside and outside [0, 1).

On a quadratic each eigendirection with curvature lam follows a linear recurrence whose roots solve
r^2 - (1 + mu - eta lam) r + mu = 0; their product is mu, so mu > 1 forces a root outside the unit
circle and mu = 1 puts complex roots on it. The measured verdicts are checked against that
spectral radius. A small tanh network shows the same behaviour where no such formula exists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from analysis.theory.checks import Check
from analysis.theory.threads import torch_single_thread

MOMENTA = (-0.5, 0.0, 0.5, 0.9, 1.0, 1.1)
CURVATURES = (1.0, 10.0)  # condition number 10: a slow and a stiff direction
QUAD_LR = 0.08  # eta * lam = 0.08 and 0.8, inside plain gradient descent's stable range (< 2)
NET_LR = 0.05
STEPS = 400
WINDOW = 50  # steps per envelope window; longer than the slowest oscillation period (~22)


@dataclass(frozen=True)
class Run:
    """Loss after each step (index 0 = start) and the step vectors v_t (one row per step)."""

    losses: np.ndarray
    steps: np.ndarray | None


@dataclass(frozen=True)
class MomentumResult:
    """Loss curves (long frame), a per-(problem, mu) summary, and the checks."""

    losses: pd.DataFrame
    summary: pd.DataFrame
    checks: list[Check] = field(default_factory=list)


def quadratic_run(mu: float, steps: int = STEPS, lr: float = QUAD_LR) -> Run:
    """Momentum descent on f(x) = 1/2 sum_i lam_i x_i^2 from x = (1, 1), v = 0."""
    lam = np.asarray(CURVATURES)
    x, v = np.ones_like(lam), np.zeros_like(lam)
    losses, moves = [0.5 * float(lam @ (x * x))], []
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run may overflow: it is data
        for _ in range(steps):
            v = mu * v - lr * lam * x
            x = x + v
            losses.append(0.5 * float(lam @ (x * x)))
            moves.append(v.copy())
    return Run(np.asarray(losses), np.asarray(moves))


def network_run(mu: float, steps: int = STEPS, lr: float = NET_LR, seed: int = 0) -> Run:
    """Momentum descent, full batch, on a 1-16-1 tanh network fitting sin(2x) on 32 points."""
    gen = torch.Generator().manual_seed(seed)
    opts = {"generator": gen, "dtype": torch.float64}
    x = torch.linspace(-2.0, 2.0, 32, dtype=torch.float64)[:, None]
    y = torch.sin(2.0 * x)
    params = [
        torch.randn(16, 1, **opts),
        torch.zeros(16, dtype=torch.float64),
        torch.randn(1, 16, **opts) / 4.0,
        torch.zeros(1, dtype=torch.float64),
    ]
    for p in params:
        p.requires_grad_(True)
    velocity = [torch.zeros_like(p) for p in params]
    losses = np.full(steps + 1, np.nan)  # nan after a divergence stops the run
    for t in range(steps + 1):
        w1, b1, w2, b2 = params
        cost = 0.5 * ((torch.tanh(x @ w1.T + b1) @ w2.T + b2 - y) ** 2).mean()
        losses[t] = cost.item()
        if t == steps or not math.isfinite(losses[t]):
            break
        grads = torch.autograd.grad(cost, params)
        with torch.no_grad():  # the update itself, written out rather than torch.optim.SGD
            for p, v, g in zip(params, velocity, grads, strict=True):
                v.mul_(mu).sub_(lr * g)
                p.add_(v)
    return Run(losses, None)


def spectral_radius(mu: float, lr: float = QUAD_LR) -> float:
    """Largest |root| of r^2 - (1 + mu - lr lam) r + mu over the quadratic's curvatures."""
    return max(
        float(np.abs(np.roots([1.0, -(1.0 + mu - lr * lam), mu])).max()) for lam in CURVATURES
    )


def predicted_verdict(radius: float, tol: float = 1e-9) -> str:
    """What the spectral radius says the loss does."""
    if radius > 1.0 + tol:
        return "diverges"
    if radius >= 1.0 - tol:
        return "does not converge"
    return "converges"


def verdict(losses: np.ndarray, converged_rtol: float, window: int = WINDOW) -> str:
    """Judge a loss curve: compare the loss envelope (window max) mid-run and at the end.

    Window maxima rather than single values, because an oscillating run's loss at one step
    depends on its phase.
    """
    if not np.all(np.isfinite(losses)):
        return "diverges"
    n = losses.size - 1
    mid = losses[n // 2 - window : n // 2].max()
    end = losses[n - window :].max()
    if end > 10.0 * mid or end > 10.0 * losses[0]:
        return "diverges"
    if end < converged_rtol * losses[0]:
        return "converges"
    return "does not converge"


def step_pattern(steps: np.ndarray, window: int = WINDOW) -> tuple[float, str]:
    """Fraction of steps that reverse the previous step, per coordinate (max), and its name."""
    head = steps[: window + 1]
    flips = float((head[1:] * head[:-1] < 0).mean(axis=0).max())
    if flips >= 0.8:
        name = "step sign alternates"
    elif flips >= 0.05:
        name = "overshoots (oscillates around the minimum)"
    else:
        name = "monotone"
    return flips, name


def momentum_study(
    momenta: tuple[float, ...] = MOMENTA, steps: int = STEPS, network: bool = True, seed: int = 0
) -> MomentumResult:
    """Run every momentum on the quadratic (and the network), judge each run, check the theory."""
    if steps < 2 * WINDOW:
        raise ValueError(f"need steps >= {2 * WINDOW} to compare loss envelopes")
    curves, rows, checks = [], [], []
    for mu in momenta:
        quad = quadratic_run(mu, steps)
        flips, pattern = step_pattern(quad.steps)
        radius = spectral_radius(mu)
        # The quadratic's minimum is 0: "converges" means down by 1e10.
        measured = verdict(quad.losses, converged_rtol=1e-10)
        rows.append(_row("quadratic", mu, quad.losses, measured, flips, pattern, radius))
        curves.append(_curve("quadratic", mu, quad.losses))
        checks.append(
            Check(
                f"quadratic mu={mu:g}: measured '{measured}' matches spectral radius {radius:.4f}",
                radius,
                measured == predicted_verdict(radius),
            )
        )
        if mu < 0:
            checks.append(Check(f"quadratic mu={mu:g}: step sign alternates", flips, flips >= 0.8))
        if network:
            with torch_single_thread():
                net = network_run(mu, steps, seed=seed)
            # A network's loss has no known floor: "converges" means down by 10x and settled.
            measured = verdict(net.losses, converged_rtol=0.1)
            rows.append(_row("network", mu, net.losses, measured, math.nan, "", math.nan))
            curves.append(_curve("network", mu, net.losses))
    return MomentumResult(pd.concat(curves, ignore_index=True), pd.DataFrame(rows), checks)


def _row(
    problem: str,
    mu: float,
    losses: np.ndarray,
    measured: str,
    flips: float,
    pattern: str,
    radius: float,
) -> dict[str, object]:
    return {
        "problem": problem,
        "mu": mu,
        "initial_loss": losses[0],
        "final_loss": losses[-1],
        "spectral_radius": radius,
        "flip_fraction": flips,
        "verdict": measured,
        "steps": pattern,
    }


def _curve(problem: str, mu: float, losses: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {"problem": problem, "mu": mu, "step": np.arange(losses.size), "loss": losses}
    )
