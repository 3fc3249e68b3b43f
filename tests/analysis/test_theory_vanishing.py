"""The sigmoid vanishing-gradient width: closed form, root finding, maximum, |w| < 4."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.theory.vanishing import (
    below_four_maximum,
    max_width,
    max_width_numerical,
    sigmoid_prime,
    vanishing_gradient_check,
    width_formula,
    width_numerical,
    width_table,
)


@pytest.mark.parametrize("w", [4.2, 5.0, 6.9, 12.0, 37.5, 250.0, -8.0])
def test_formula_matches_root_finding(w: float) -> None:
    assert width_numerical(w) == pytest.approx(width_formula(w), abs=1e-8)


@pytest.mark.parametrize("w", [5.0, 6.9, 20.0])
def test_width_matches_a_grid_count(w: float) -> None:
    # A third estimate that uses neither formula nor brentq: count grid points that satisfy it.
    a = np.linspace(-2.0, 2.0, 400_001)
    b = 0.3
    inside = np.abs(w * sigmoid_prime(w * a + b)) >= 1.0
    assert inside.sum() * (a[1] - a[0]) == pytest.approx(width_formula(w), abs=2e-5)


def test_table_agrees_and_starts_at_zero_width() -> None:
    table = width_table()
    assert table["abs_diff"].max() < 1e-8
    assert table.loc[table["w"] == 4.0, "formula"].item() == 0.0


def test_maximum_near_6_9_and_0_45() -> None:
    for found in (max_width(), max_width_numerical()):
        assert abs(found.weight - 6.9) < 0.05
        assert abs(found.width - 0.45) < 0.005
    # It is a maximum: both neighbours are narrower.
    m = max_width()
    assert width_formula(m.weight - 0.1) < m.width > width_formula(m.weight + 0.1)


def test_impossible_below_four() -> None:
    below = below_four_maximum()
    assert below.max_factor < 1.0
    # The grid's largest |w| is just under 4 and the peak of sigma' is at z = 0.
    assert below.max_factor == pytest.approx(abs(below.at_weight) / 4.0)
    assert below.at_z == 0.0
    assert width_numerical(3.9) == 0.0
    with pytest.raises(ValueError, match="4"):
        width_formula(3.9)


def test_all_checks_pass() -> None:
    assert all(check.passed for check in vanishing_gradient_check().checks)
