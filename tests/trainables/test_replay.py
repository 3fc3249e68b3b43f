"""The replay trainable reports a recorded table exactly, snaps unknown configs to the nearest."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from ray import tune

from trainables.replay import (
    REPLAY_CONFIG,
    REPLAY_SECONDS,
    ReplayTableError,
    ReplayTrainable,
    read_table,
    write_table,
)

LRS = (0.05, 0.15)
DROPOUTS = (0.25, 0.5)
EPOCHS = 3


def tiny_table(path):
    """4 configurations x 3 epochs with distinct, known numbers."""
    rows = []
    for config_id, (lr, dropout) in enumerate((a, b) for a in LRS for b in DROPOUTS):
        for epoch in range(1, EPOCHS + 1):
            rows.append(
                {
                    "config_id": config_id,
                    "epoch": epoch,
                    "val_acc": round(0.5 + 0.1 * config_id + 0.01 * epoch, 4),
                    "test_acc": round(0.4 + 0.1 * config_id + 0.01 * epoch, 4),
                    "diverged": False,
                    "seconds": 1.0 + config_id + 0.5 * epoch,
                    "config/lr": lr,
                    "config/dropout": dropout,
                }
            )
    meta = {"job": "mnist-l2", "tuned": ["lr", "dropout"], "fixed": {"epochs": EPOCHS}}
    write_table(pd.DataFrame(rows), meta, path)
    return pd.DataFrame(rows)


def test_snap_picks_the_nearest_config_on_each_dimension_scale(tmp_path):
    tiny_table(tmp_path / "t.parquet")
    log = read_table(tmp_path / "t.parquet", log_scale=["lr"])
    linear = read_table(tmp_path / "t.parquet")
    assert log.snap({"lr": 0.05, "dropout": 0.5}) == 1  # recorded: itself
    # 0.09 lies above the log midpoint of 0.05 and 0.15 (0.0866), below the linear one (0.1).
    assert log.snap({"lr": 0.09, "dropout": 0.3}) == 2
    assert linear.snap({"lr": 0.09, "dropout": 0.3}) == 0
    assert log.snap({"lr": 5.0, "dropout": -1.0}) == 2  # outside the range: the nearest end
    with pytest.raises(ReplayTableError, match="lacks tuned dimension"):
        log.snap({"lr": 0.05})


def test_read_table_refuses_files_that_are_not_replay_tables(tmp_path):
    with pytest.raises(ReplayTableError, match="no such replay table"):
        read_table(tmp_path / "missing.parquet")
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "plain.parquet")
    with pytest.raises(ReplayTableError, match="not a replay table"):
        read_table(tmp_path / "plain.parquet")


def test_replay_reproduces_the_recorded_table_exactly(ray_local, tmp_path):
    recorded = tiny_table(tmp_path / "t.parquet")
    table = read_table(tmp_path / "t.parquet", log_scale=["lr"])
    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(ReplayTrainable, data=table), {"cpu": 0.5}),
        param_space={
            "lr": tune.grid_search(list(LRS)),
            "dropout": tune.grid_search(list(DROPOUTS)),
            "epochs": EPOCHS,
        },
        tune_config=tune.TuneConfig(metric="val_acc", mode="max", reuse_actors=True),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="exact", verbose=0),
    )
    results = tuner.fit()
    assert results.num_errors == 0 and len(results) == 4
    for result in results:
        history = result.metrics_dataframe
        config_id = int(history[REPLAY_CONFIG].iloc[0])
        expected = recorded[recorded["config_id"] == config_id]
        assert (expected["config/lr"] == result.config["lr"]).all()
        assert (expected["config/dropout"] == result.config["dropout"]).all()
        for column in ("epoch", "val_acc", "test_acc"):
            np.testing.assert_array_equal(history[column], expected[column])
        np.testing.assert_allclose(history[REPLAY_SECONDS], expected["seconds"].cumsum())


def test_an_unknown_config_replays_its_nearest_recorded_one(ray_local, tmp_path):
    recorded = tiny_table(tmp_path / "t.parquet")
    table = read_table(tmp_path / "t.parquet", log_scale=["lr"])
    tuner = tune.Tuner(
        tune.with_parameters(ReplayTrainable, data=table),
        param_space={"lr": 0.13, "dropout": 0.3, "epochs": 2},
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="snap", verbose=0),
    )
    history = tuner.fit()[0].metrics_dataframe
    assert list(history[REPLAY_CONFIG]) == [2, 2]  # lr 0.15, dropout 0.25
    expected = recorded[recorded["config_id"] == 2]["val_acc"].iloc[:2]
    np.testing.assert_array_equal(history["val_acc"], expected)
