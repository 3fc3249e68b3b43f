"""Momentum descent: converges for 0 <= mu < 1, never settles at mu = 1, diverges above 1."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.theory.momentum import (
    momentum_study,
    predicted_verdict,
    quadratic_run,
    spectral_radius,
    step_pattern,
    verdict,
)


@pytest.fixture(scope="module")
def study():
    return momentum_study()


def _summary(study, problem: str, mu: float):
    s = study.summary
    return s[(s["problem"] == problem) & (s["mu"] == mu)].iloc[0]


@pytest.mark.parametrize("problem", ["quadratic", "network"])
def test_diverges_above_one_and_converges_at_half(study, problem: str) -> None:
    assert _summary(study, problem, 1.1)["verdict"] == "diverges"
    assert _summary(study, problem, 1.1)["final_loss"] > 1e6
    assert _summary(study, problem, 0.5)["verdict"] == "converges"
    assert _summary(study, problem, 1.0)["verdict"] == "does not converge"


def test_quadratic_losses_match_the_spectral_radius() -> None:
    run = quadratic_run(1.1)
    # The loss envelope grows like radius^(2t); compare windows 100 steps apart.
    growth = run.losses[300:350].max() / run.losses[200:250].max()
    assert growth == pytest.approx(spectral_radius(1.1) ** 200, rel=0.5)
    assert spectral_radius(1.0) == pytest.approx(1.0, abs=1e-12)
    assert predicted_verdict(spectral_radius(0.5)) == "converges"


def test_negative_momentum_alternates_the_step_sign() -> None:
    flips, pattern = step_pattern(quadratic_run(-0.5).steps)
    assert flips >= 0.8 and pattern == "step sign alternates"
    flips, pattern = step_pattern(quadratic_run(0.0).steps)
    assert flips == 0.0 and pattern == "monotone"


def test_verdict_reads_numbers() -> None:
    assert verdict(np.array([1.0, 2.0, np.inf] + [np.nan] * 200), 1e-10) == "diverges"
    flat = np.ones(201)
    assert verdict(flat, 1e-10) == "does not converge"
    assert verdict(0.5 ** np.arange(201), 1e-10) == "converges"


def test_every_check_passes(study) -> None:
    assert study.checks and all(check.passed for check in study.checks)


def test_rejects_too_few_steps() -> None:
    with pytest.raises(ValueError, match="steps"):
        momentum_study(steps=10)
