"""Figures for the theory checks.

Figures are built with `matplotlib.figure.Figure` rather than pyplot, so they need no GUI backend
and leave no global state behind; callers save them with `fig.savefig`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.theory.vanishing import WidthMaximum


def plot_width(curve: pd.DataFrame, maximum: WidthMaximum) -> Figure:
    """Width of {a : |w sigma'(wa + b)| >= 1} against |w|, with the maximum marked."""
    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(curve["w"], curve["width"], color="C0", label="(2/|w|) ln(|w|(1+sqrt(1-4/|w|))/2 - 1)")
    ax.plot(
        maximum.weight,
        maximum.width,
        "o",
        color="C3",
        label=f"maximum: |w| = {maximum.weight:.3f}, width = {maximum.width:.4f}",
    )
    ax.axvline(maximum.weight, color="C3", linestyle=":", linewidth=1)
    ax.set_xlabel("|w|")
    ax.set_ylabel("width of the set of a with |w sigma'(wa+b)| >= 1")
    ax.set_title("Inputs where a sigmoid neuron does not shrink the gradient")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper right", fontsize="small")
    ax.grid(alpha=0.3)
    return fig


def plot_layer_norms(norms: pd.DataFrame, depth_label: str = "") -> Figure:
    """||dC/db_l|| per layer (log y), one line per activation."""
    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.add_subplot()
    for name, group in norms.groupby("activation", sort=False):
        ax.semilogy(group["layer"], group["bias_grad_norm"], "o-", markersize=3, label=name)
    ax.set_xlabel("layer (1 = next to the input)")
    ax.set_ylabel("gradient norm ||dC/db_l||")
    ax.set_title(f"Per-layer gradient norms at initialization {depth_label}".strip())
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3, which="both")
    return fig


def plot_momentum(losses: pd.DataFrame, floor: float = 1e-30) -> Figure:
    """Loss against step (log y) per momentum, one panel per problem.

    Converging quadratic runs reach 1e-90; the y axis stops at `floor` so the others stay legible.
    """
    problems = list(dict.fromkeys(losses["problem"]))
    fig = Figure(figsize=(6.0 * len(problems), 4.2), layout="constrained")
    axes = fig.subplots(1, len(problems), squeeze=False)[0]
    for ax, problem in zip(axes, problems, strict=True):
        frame = losses[losses["problem"] == problem]
        for mu, run in frame.groupby("mu"):
            ax.semilogy(run["step"], run["loss"], label=f"mu = {mu:g}", linewidth=1.2)
        finite = frame["loss"][np.isfinite(frame["loss"]) & (frame["loss"] > 0)]
        ax.set_ylim(bottom=max(floor, float(finite.min()) / 2))
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.set_title(f"Momentum descent on the {problem}")
        ax.legend(fontsize="small")
        ax.grid(alpha=0.3, which="both")
    return fig
