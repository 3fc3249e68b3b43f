"""Regret at budgets, its summary, and the Friedman + Nemenyi verdict on seeded synthetic frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.plots import plot_critical_difference
from analysis.significance import friedman_verdict, regret_at_budgets, summarize_regret


def history(finals: dict[str, list[float]]) -> pd.DataFrame:
    """An anytime frame: each run reports 0.5 at 1 epoch, then its final value at 10."""
    rows = []
    for method, values in finals.items():
        for seed, value in enumerate(values):
            for epochs, best in ((1, 0.5), (10, value)):
                rows.append(
                    {"method": method, "seed": seed, "cum_epochs": epochs, "cum_seconds": epochs,
                     "best_so_far": best}
                )  # fmt: skip
    return pd.DataFrame(rows)


def test_regret_is_normalized_between_best_and_worst_and_missing_is_one():
    frame = history({"a": [0.9, 0.8], "b": [0.7, 0.6]})
    regrets = regret_at_budgets(frame, [0.5, 1, 10])
    at = regrets.set_index(["method", "seed", "budget"])["regret"]
    assert at[("a", 0, 10.0)] == 0.0 and at[("b", 1, 10.0)] == pytest.approx(0.75)
    assert at[("a", 0, 1.0)] == 1.0  # 0.5 is the worst value of any run
    assert at[("a", 0, 0.5)] == 1.0  # no result yet
    given = regret_at_budgets(frame, [10], best=1.0, worst=0.0)
    assert given.set_index(["method", "seed"])["regret"][("b", 1)] == pytest.approx(0.4)
    summary = summarize_regret(regrets[regrets["budget"] == 10])
    assert list(summary["method"]) == ["a", "b"] and (summary["seeds"] == 2).all()
    assert summary["regret_median"].tolist() == pytest.approx([0.125, 0.625])


def test_friedman_finds_the_consistent_winner_and_names_the_significant_pairs():
    rng = np.random.default_rng(0)
    seeds = 12
    frame = history(
        {
            "best": list(0.95 + 0.01 * rng.random(seeds)),
            "middle": list(0.90 + 0.01 * rng.random(seeds)),
            "worst": list(0.80 + 0.01 * rng.random(seeds)),
        }
    )
    regrets = regret_at_budgets(frame, [10])
    verdict = friedman_verdict(regrets, 10)
    assert list(verdict.average_ranks.index) == ["best", "middle", "worst"]
    assert verdict.significant and verdict.friedman_p < 1e-4
    pairs = verdict.pairs()
    assert ("best", "worst") in set(zip(pairs["better"], pairs["worse"], strict=True))
    assert "best < worst" in verdict.statement()
    fig = plot_critical_difference(verdict.average_ranks, verdict.pvalues)
    assert fig.axes[0].get_title().startswith("Critical difference")


def test_friedman_reports_no_difference_when_every_seed_ties():
    frame = history({"a": [0.9] * 4, "b": [0.9] * 4, "c": [0.9] * 4})
    verdict = friedman_verdict(regret_at_budgets(frame, [10]), 10)
    assert not verdict.significant and verdict.pairs().empty
    assert "no significant difference" in verdict.statement()


def test_friedman_needs_three_methods_and_two_common_seeds():
    frame = history({"a": [0.9, 0.8], "b": [0.7, 0.6]})
    with pytest.raises(ValueError, match=">= 3 methods"):
        friedman_verdict(regret_at_budgets(frame, [10]), 10)
