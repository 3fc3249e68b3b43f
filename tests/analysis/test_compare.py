"""Comparison statistics on seeded synthetic frames whose answers are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import compare
from analysis.results import CUM_EPOCHS, CUM_SECONDS


def _curves(values: dict[tuple[str, int], list[float]], seconds_per_epoch: float = 2.0):
    """A curves frame: one report per value, cumulative epochs 1..n and seconds 2, 4, ..."""
    rows = []
    for (method, seed), scores in values.items():
        for epoch, score in enumerate(scores, start=1):
            rows.append(
                {
                    "method": method,
                    "seed": seed,
                    CUM_EPOCHS: epoch,
                    CUM_SECONDS: seconds_per_epoch * epoch,
                    "val_acc": score,
                    "test_acc": None if np.isnan(score) else score - 0.01,
                }
            )
    return pd.DataFrame(rows)


def test_iqm_is_the_mean_of_the_middle_half():
    assert compare.iqm(np.arange(1, 9)) == pytest.approx(4.5)  # mean of 3, 4, 5, 6
    assert compare.iqm(np.array([0.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 9.0])) == pytest.approx(0.5)


def test_bootstrap_interval_covers_the_true_median_about_95_percent():
    rng = np.random.default_rng(0)
    samples = rng.normal(0.9, 0.02, size=(200, 25))  # true median 0.9
    low, high = compare.bootstrap_interval(samples.T, np.median, resamples=999, seed=1)
    coverage = np.mean((low <= 0.9) & (0.9 <= high))
    assert 0.88 <= coverage <= 0.99
    one_low, one_high = compare.bootstrap_interval(samples[0], np.median, seed=1)
    assert one_low < np.median(samples[0]) < one_high and one_low < 0.9 < one_high


def test_bootstrap_interval_of_one_value_is_nan_and_of_equal_values_is_that_value():
    assert np.isnan(compare.bootstrap_interval([0.9], np.median)).all()
    assert compare.bootstrap_interval([0.7, 0.7, 0.7], compare.iqm) == pytest.approx((0.7, 0.7))


def test_anytime_keeps_the_best_so_far_and_ignores_nan():
    curves = _curves({("a", 0): [0.5, np.nan, 0.7, 0.6], ("a", 1): [np.nan, 0.4, 0.3, 0.9]})
    frame = compare.anytime(curves)
    assert list(frame[frame["seed"] == 0][compare.BEST_SO_FAR]) == [0.5, 0.5, 0.7, 0.7]
    best_1 = frame[frame["seed"] == 1][compare.BEST_SO_FAR].tolist()
    assert np.isnan(best_1[0]) and best_1[1:] == [0.4, 0.4, 0.9]
    low = compare.anytime(curves, mode="min")
    assert list(low[low["seed"] == 0][compare.BEST_SO_FAR]) == [0.5, 0.5, 0.5, 0.5]


def test_at_budgets_is_a_step_function_nan_before_the_first_report():
    frame = compare.anytime(_curves({("a", 0): [0.5, 0.6, 0.8]}))
    values = compare.at_budgets(frame, [0.5, 1, 2.5, 3, 10])["value"].tolist()
    assert np.isnan(values[0]) and values[1:] == [0.5, 0.6, 0.8, 0.8]
    seconds = compare.at_budgets(frame, [3.9, 4.0], x=CUM_SECONDS)["value"].tolist()
    assert seconds == [0.5, 0.6]


def test_run_scores_pick_the_best_validation_report_and_its_test_accuracy():
    curves = _curves({("a", 0): [0.5, 0.9, 0.7], ("b", 0): [0.6, 0.65, 0.95]})
    scores = compare.run_scores(curves).set_index("method")
    assert scores.loc["a", "score"] == 0.9 and scores.loc["a", "test_acc"] == pytest.approx(0.89)
    capped = compare.run_scores(curves, budget_epochs=2).set_index("method")
    assert capped.loc["b", "score"] == 0.65


def test_normalized_regret_is_zero_for_the_best_and_one_for_the_worst():
    scores = pd.DataFrame({"method": ["a", "b", "c"], "seed": 0, "score": [0.9, 0.8, 0.85]})
    assert compare.normalized_regret(scores).tolist() == pytest.approx([0.0, 1.0, 0.5])
    assert compare.normalized_regret(scores, mode="min").tolist() == pytest.approx([1.0, 0, 0.5])
    same = scores.assign(score=0.5)
    assert compare.normalized_regret(same).tolist() == [0.0, 0.0, 0.0]


def test_summarize_gives_median_iqm_intervals_and_sorts_best_first():
    rng = np.random.default_rng(3)
    values = {"good": 0.9 + rng.normal(0, 0.01, 10), "bad": 0.8 + rng.normal(0, 0.01, 10)}
    scores = pd.DataFrame(
        [{"method": m, "seed": s, "score": v} for m, vs in values.items() for s, v in enumerate(vs)]
    )
    summary = compare.summarize(scores).set_index("method")
    assert list(summary.index) == ["good", "bad"]
    for method, raw in values.items():
        row = summary.loc[method]
        assert row["seeds"] == 10
        assert row["median"] == pytest.approx(np.median(raw))
        assert row["iqm"] == pytest.approx(np.mean(np.sort(raw)[2:8]))
        assert row["median_low"] <= row["median"] <= row["median_high"]
        assert row["iqm_low"] <= row["iqm"] <= row["iqm_high"]
    everything = np.concatenate(list(values.values()))
    top, spread = everything.max(), everything.max() - everything.min()
    for method, raw in values.items():
        expected = np.median((top - raw) / spread)
        assert summary.loc[method, "regret_median"] == pytest.approx(expected)
    assert summary.loc["bad", "regret_median"] > 0.5 > summary.loc["good", "regret_median"]
    again = compare.summarize(scores)
    pd.testing.assert_frame_equal(again, compare.summarize(scores))  # seeded: reproducible


def test_time_to_target_in_epochs_and_seconds():
    curves = _curves(
        {("a", 0): [0.5, 0.8, 0.9], ("a", 1): [0.85, 0.8, 0.8], ("b", 0): [0.1, 0.2, 0.3]}
    )
    per_run = compare.time_to_target(compare.anytime(curves), target=0.8)
    assert per_run.loc[("a", 0)].tolist() == [2.0, 4.0]
    assert per_run.loc[("a", 1)].tolist() == [1.0, 2.0]
    assert np.isinf(per_run.loc[("b", 0)]).all()
    summary = compare.summarize_time_to_target(per_run)
    assert summary.loc["a"].tolist() == [1.0, 1.5, 3.0]
    assert summary.loc["b", "reached"] == 0.0 and np.isinf(summary.loc["b", "epochs_to_target"])


def test_average_ranks_share_ties_and_put_missing_results_last():
    curves = _curves(
        {
            ("a", 0): [0.9, 0.9],
            ("b", 0): [0.8, 0.95],
            ("c", 0): [np.nan, 0.7],
            ("a", 1): [0.9, 0.9],
            ("b", 1): [0.9, 0.9],
            ("c", 1): [0.7, 0.7],
        }
    )
    ranks = compare.average_ranks(compare.anytime(curves), [1, 2])
    assert ranks.loc[1.0].to_dict() == {"a": 1.25, "b": 1.75, "c": 3.0}
    assert ranks.loc[2.0].to_dict() == {"a": 1.75, "b": 1.25, "c": 3.0}


def test_comparison_table_and_bands_on_a_seeded_benchmark():
    rng = np.random.default_rng(0)
    values = {}
    for method, level in (("strong", 0.95), ("weak", 0.85)):
        for seed in range(8):
            values[(method, seed)] = list(
                level - 0.2 * np.exp(-np.arange(12) / 3) + rng.normal(0, 0.005, 12)
            )
    curves = _curves(values)
    table, target = compare.comparison_table(curves)
    assert target == pytest.approx(compare.run_scores(curves)["score"].median())
    table = table.set_index("method")
    assert table.loc["strong", "reached"] == 1.0 and table.loc["weak", "reached"] == 0.0
    assert table.loc["strong", "median_low"] > table.loc["weak", "median_high"]
    bands = compare.anytime_bands(compare.anytime(curves), CUM_EPOCHS, points=12)
    assert len(bands) == 24 and (bands["seeds"] == 8).all()
    assert ((bands["low"] <= bands["median"]) & (bands["median"] <= bands["high"])).all()
    assert compare.default_budgets(compare.anytime(curves)) == pytest.approx([1.2, 3, 6, 12])
