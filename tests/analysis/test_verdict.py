"""The verdict's helpers on known inputs: budgets from a table, its reference, the regret summary
(IQM, bootstrap interval, mean rank), resumption bookkeeping, rank agreement and coverage."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis import verdict
from trainables.replay import read_table, write_table


def test_the_grids_epochs_and_the_budgets_come_from_the_table(noisy_table):
    table = read_table(noisy_table(epochs=3))  # grid: lr (0.01, 0.1) x opt (a, b)
    assert verdict.grid_epochs(table) == 2 * 2 * 3
    assert verdict.budgets_of(576) == [58, 144, 288, 576, 1728]
    assert verdict.budgets_of(12, (0.01, 0.05, 1)) == [1, 12]  # at least 1 epoch, no repeats
    with pytest.raises(ValueError):
        verdict.budgets_of(12, (0, 1))


def test_a_built_tables_grid_is_every_recorded_value(tmp_path):
    rows = [
        {"config_id": i, "epoch": e, "val_acc": 0.5, "seconds": 1.0, "config/lr": lr, "config/d": d}
        for i, (lr, d) in enumerate([(0.1, 0.2), (0.1, 0.4), (0.3, 0.2), (0.3, 0.4)])
        for e in (1, 2)
    ]
    path = write_table(pd.DataFrame(rows), {"tuned": ["lr", "d"]}, tmp_path / "built.parquet")
    assert verdict.grid_epochs(read_table(path)) == 4 * 2


def test_the_reference_is_the_best_epoch_recorded_and_the_worst_mean_final_value(tmp_path):
    finals = {(0, 0): 0.9, (0, 1): 0.7, (1, 0): 0.5, (1, 1): 0.3}  # (config, seed) -> final
    rows = [
        {"config_id": c, "train_seed": s, "epoch": e, "seconds": 1.0, "config/lr": 0.1 * (c + 1),
         "val_acc": final if e == 2 else 0.1 + c}  # config 1 peaks at its first epoch
        for (c, s), final in finals.items()
        for e in (1, 2)
    ]  # fmt: skip
    path = write_table(pd.DataFrame(rows), {"tuned": ["lr"]}, tmp_path / "t.parquet")
    # best: config 1's first epoch (1.1); worst: config 1's mean final (0.5 + 0.3) / 2
    assert verdict.table_reference(read_table(path)) == pytest.approx((1.1, 0.4))
    # best: config 0's first epoch (0.1); worst: config 0's mean final (0.9 + 0.7) / 2
    assert verdict.table_reference(read_table(path), mode="min") == pytest.approx((0.1, 0.8))


def test_a_runs_pick_retrained_is_its_best_configurations_mean_final_over_seeds(tmp_path):
    # Config 0 is steady (0.8 with either seed); config 1 has one lucky seed (0.9) and one poor
    # (0.5). A run whose best report drew config 1's lucky seed wins on regret, not retrained.
    finals = {(0, 0): 0.8, (0, 1): 0.8, (1, 0): 0.9, (1, 1): 0.5}
    rows = [
        {"config_id": c, "train_seed": s, "epoch": e, "seconds": 1.0, "config/lr": 0.1 * (c + 1),
         "val_acc": final if e == 2 else 0.1}
        for (c, s), final in finals.items()
        for e in (1, 2)
    ]  # fmt: skip
    table = read_table(write_table(pd.DataFrame(rows), {"tuned": ["lr"]}, tmp_path / "t.parquet"))
    curves = pd.DataFrame(
        {
            "method": ["lucky", "lucky", "steady", "steady"],
            "seed": [0, 0, 0, 0],
            "replay_config": [0, 1, 1, 0],
            "val_acc": [0.8, 0.9, 0.5, 0.8],
        }
    )
    picks = verdict.retrained_picks(curves, table).set_index("method")
    assert picks["replay_config"].to_dict() == {"lucky": 1, "steady": 0}
    assert picks["retrained"].to_dict() == pytest.approx({"lucky": 0.7, "steady": 0.8})


def test_the_regret_summary_has_median_iqm_their_intervals_and_the_mean_rank():
    values = np.arange(8) / 10  # 0.0 .. 0.7
    regrets = pd.DataFrame(
        {"method": ["a"] * 8 + ["b"] * 8, "seed": [*range(8)] * 2,
         "regret": [*values, *(values + 0.2)]}
    )  # fmt: skip
    summary = verdict.regret_summary(regrets, pd.Series({"a": 1.2, "b": 1.8})).set_index("method")
    assert summary.loc["a", "median"] == pytest.approx(0.35)
    assert summary.loc["a", "iqm"] == pytest.approx(np.mean(values[2:6]))  # the middle half
    assert summary.loc["b", "iqm"] == pytest.approx(np.mean(values[2:6]) + 0.2)
    for name in ("median", "iqm"):
        low, high = summary[f"{name}_low"], summary[f"{name}_high"]
        assert ((low <= summary[name]) & (summary[name] <= high) & (low < high)).all()
    assert summary["mean_rank"].tolist() == [1.2, 1.8] and summary["seeds"].tolist() == [8, 8]
    assert verdict.regret_summary(regrets)["mean_rank"].isna().all()


def test_only_unfinished_runs_are_missing_and_seeds_group_into_ranges():
    runs = [
        {"method": "a", "seed": 0, "status": "finished"},
        {"method": "a", "seed": 1, "status": "failed"},
        {"method": "b", "seed": 0, "status": "finished"},
        {"method": "b", "seed": 1, "status": "finished"},
    ]
    assert verdict.missing_runs(runs, ["a", "b", "c"], range(3)) == {
        "a": [1, 2], "b": [2], "c": [0, 1, 2]
    }  # fmt: skip
    assert verdict.seed_ranges([5, 0, 1, 2, 7, 8]) == [(0, 3), (5, 1), (7, 2)]
    assert verdict.seed_ranges([]) == []


def test_rank_agreement_on_known_orders():
    real = pd.Series({"a": 0.9, "b": 0.8, "c": 0.7, "d": 0.6})
    assert verdict.rank_agreement(real * 0.5, real)[:1] == pytest.approx((1.0,))
    rho, _, methods = verdict.rank_agreement(-real, real)
    assert rho == pytest.approx(-1.0) and methods == 4
    swapped = pd.Series({"a": 0.8, "b": 0.9, "c": 0.7, "d": 0.6, "extra": 0.1})
    rho, _, methods = verdict.rank_agreement(swapped, real)  # one swap of 4: 1 - 6*2/60
    assert rho == pytest.approx(0.8) and methods == 4
    assert math.isnan(verdict.rank_agreement(real[:2], real)[0])


def test_coverage_counts_real_runs_inside_the_replayed_5_to_95_percent_interval():
    replayed = pd.DataFrame({"method": "a", "score": np.arange(101) / 100})  # 5-95%: 0.05-0.95
    real = pd.DataFrame({"method": ["a", "a", "a", "z"], "score": [0.5, 0.04, 0.95, 0.5]})
    table = verdict.coverage(replayed, real).set_index("method")
    assert table.loc["a", ["real_runs", "inside"]].tolist() == [3, 2]
    assert table.loc["a", "low"] == pytest.approx(0.05) and table.loc["a", "high"] == 0.95
    assert table.loc["z", "inside"] == 0 and math.isnan(table.loc["z", "low"])  # never replayed


def test_per_run_regret_is_against_the_given_reference_and_clipped():
    scores = pd.DataFrame({"method": ["a", "a", "b"], "seed": [0, 1, 0], "score": [1.0, 0.6, 0.1]})
    regret = verdict.per_run(scores, best=0.9, worst=0.4)["regret"].tolist()
    assert regret == pytest.approx([0.0, 0.6, 1.0])


def test_a_method_with_fewer_seeds_is_left_out_of_the_test_not_shrinking_it():
    runs = [(m, s) for m in ("a", "b", "c") for s in range(5)] + [("gp", 0), ("gp", 1)]
    regrets = pd.DataFrame([{"method": m, "seed": s, "budget": 58, "regret": 0.1} for m, s in runs])
    tested, left_out = verdict.fully_seeded(regrets)
    assert left_out == ["gp"]
    assert sorted(tested["method"].unique()) == ["a", "b", "c"] and len(tested) == 15


def test_the_budget_matrix_ranks_methods_per_budget_and_marks_fewer_seeds():
    summary = pd.DataFrame(
        [
            {"method": "a", "budget": 58, "median": 0.01, "seeds": 50},
            {"method": "b", "budget": 58, "median": 0.02, "seeds": 50},
            {"method": "a", "budget": 576, "median": 0.004, "seeds": 50},
            {"method": "b", "budget": 576, "median": 0.003, "seeds": 20},
        ]
    )
    matrix = verdict.budget_matrix(summary)
    assert list(matrix.index) == ["a", "b"]  # mean rank 1.5 each: the first stays first
    assert matrix.loc["a", 58] == "0.0100 (1)" and matrix.loc["b", 58] == "0.0200 (2)"
    assert matrix.loc["b", 576] == "0.0030 (1) [20]"
