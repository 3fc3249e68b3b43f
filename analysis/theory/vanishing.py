"""Width of the inputs a for which a sigmoid neuron's gradient factor |w sigma'(wa + b)| >= 1.

The closed form (2/|w|) ln(|w|(1 + sqrt(1 - 4/|w|))/2 - 1) holds for |w| >= 4. It is checked here
against an independent measurement: the two roots of |w| sigma'(z) = 1 found by root finding on
the inequality itself, then divided by |w| to go from z = wa + b back to a.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import brentq, minimize_scalar
from scipy.special import expit

from analysis.theory.checks import Check

# max_z sigma'(z) = sigma'(0) = 1/4, so |w sigma'| >= 1 needs |w| >= 4.
MIN_WEIGHT = 4.0
TABLE_WEIGHTS = (4.0, 4.5, 5.0, 6.0, 6.9, 8.0, 10.0, 20.0, 50.0, 100.0)
AGREEMENT_TOL = 1e-8


@dataclass(frozen=True)
class WidthMaximum:
    """Where the width is largest, and how wide it is there."""

    weight: float
    width: float


@dataclass(frozen=True)
class BelowFour:
    """The largest |w| sigma'(wa + b) found on a grid of weights with |w| < 4."""

    max_factor: float
    at_weight: float
    at_z: float


@dataclass(frozen=True)
class VanishingResult:
    """Everything the vanishing-gradient check measured."""

    table: pd.DataFrame
    curve: pd.DataFrame
    maximum: WidthMaximum
    maximum_numerical: WidthMaximum
    below_four: BelowFour
    checks: list[Check] = field(default_factory=list)


def sigmoid_prime(z: np.ndarray | float) -> np.ndarray | float:
    """sigma'(z) = sigma(z)(1 - sigma(z)), with expit so large |z| does not overflow."""
    s = expit(z)
    return s * (1.0 - s)


def width_formula(w: float) -> float:
    """The closed form (2/|w|) ln(|w|(1 + sqrt(1 - 4/|w|))/2 - 1), defined for |w| >= 4."""
    aw = abs(w)
    if aw < MIN_WEIGHT:
        raise ValueError(f"the width formula needs |w| >= 4, got |w| = {aw}")
    r = math.sqrt(1.0 - MIN_WEIGHT / aw)
    # ln(|w|(1+r)/2 - 1) written as log1p(...) so that |w| near 4 (argument near 1) keeps precision.
    return 2.0 / aw * math.log1p((aw - MIN_WEIGHT) / 2.0 + aw * r / 2.0)


def width_numerical(w: float) -> float:
    """Width in a of {a : |w sigma'(wa + b)| >= 1}, from brentq roots of |w| sigma'(z) = 1.

    sigma' is even and decreasing in |z|, so the set in z is one interval around 0; each end is
    bracketed separately (no symmetry assumed). b only shifts the interval, so it drops out.
    """
    aw = abs(w)
    if aw < MIN_WEIGHT:
        return 0.0  # the set is empty

    def excess(z: float) -> float:
        return aw * float(sigmoid_prime(z)) - 1.0

    # sigma'(z) < exp(-|z|), so |w| sigma'(z) < 1 for |z| > ln|w|: a bracket end past the root.
    z_far = math.log(aw) + 1.0
    z_hi = brentq(excess, 0.0, z_far, xtol=1e-15, rtol=4 * np.finfo(float).eps)
    z_lo = brentq(excess, -z_far, 0.0, xtol=1e-15, rtol=4 * np.finfo(float).eps)
    return (z_hi - z_lo) / aw


def width_table(weights: tuple[float, ...] = TABLE_WEIGHTS) -> pd.DataFrame:
    """Formula against numerical width for each weight: columns w, formula, numerical, abs_diff."""
    rows = [(w, width_formula(w), width_numerical(w)) for w in weights]
    table = pd.DataFrame(rows, columns=["w", "formula", "numerical"])
    table["abs_diff"] = (table["formula"] - table["numerical"]).abs()
    return table


def _maximize(width: Callable[[float], float], upper: float) -> WidthMaximum:
    result = minimize_scalar(
        lambda w: -width(w), bounds=(MIN_WEIGHT, upper), method="bounded", options={"xatol": 1e-10}
    )
    return WidthMaximum(weight=float(result.x), width=float(-result.fun))


def max_width(upper: float = 50.0) -> WidthMaximum:
    """The |w| that maximises the width formula (bounded scalar minimisation of -width)."""
    return _maximize(width_formula, upper)


def max_width_numerical(upper: float = 50.0) -> WidthMaximum:
    """The same maximum found on the root-finding width, independent of the formula."""
    return _maximize(width_numerical, upper)


def below_four_maximum(n_weights: int = 801, n_z: int = 4001, z_max: float = 20.0) -> BelowFour:
    """Largest |w| sigma'(z) over a grid of weights in (-4, 4) and z in [-z_max, z_max]."""
    # Open interval: drop the endpoints +-4, where the maximum is exactly 1.
    weights = np.linspace(-MIN_WEIGHT, MIN_WEIGHT, n_weights + 2)[1:-1]
    zs = np.linspace(-z_max, z_max, n_z)
    factor = np.abs(weights)[:, None] * sigmoid_prime(zs)[None, :]
    i, j = np.unravel_index(np.argmax(factor), factor.shape)
    return BelowFour(float(factor[i, j]), float(weights[i]), float(zs[j]))


def width_curve(upper: float = 30.0, n: int = 400) -> pd.DataFrame:
    """Width formula on a grid of |w| in [4, upper], for plotting."""
    weights = np.linspace(MIN_WEIGHT, upper, n)
    return pd.DataFrame({"w": weights, "width": [width_formula(w) for w in weights]})


def vanishing_gradient_check() -> VanishingResult:
    """Run every measurement of the vanishing-gradient problem and judge it."""
    table = width_table()
    maximum, maximum_numerical = max_width(), max_width_numerical()
    below = below_four_maximum()
    worst = float(table["abs_diff"].max())
    checks = [
        Check(f"formula and root finding agree to {AGREEMENT_TOL:g}", worst, worst < AGREEMENT_TOL),
        # The width is flat at its maximum, so the argmax is only defined to about sqrt(eps).
        Check(
            "formula and root-finding argmax agree to 1e-5",
            abs(maximum.weight - maximum_numerical.weight),
            abs(maximum.weight - maximum_numerical.weight) < 1e-5,
        ),
        Check("|w sigma'| < 1 everywhere for |w| < 4", below.max_factor, below.max_factor < 1.0),
    ]
    return VanishingResult(
        table=table,
        curve=width_curve(),
        maximum=maximum,
        maximum_numerical=maximum_numerical,
        below_four=below,
        checks=checks,
    )
