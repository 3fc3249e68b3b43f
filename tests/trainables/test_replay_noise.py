"""Replay with training noise: each trial draws one recorded training seed, reproducibly; the
surrogate replays recorded configurations exactly and predicts between them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ray import tune

from trainables.replay import (
    REPLAY_TRAIN_SEED,
    ReplayCursor,
    ReplayTrainable,
    read_table,
    write_table,
)

OLD_TABLE = Path(__file__).parents[2] / "benchmarks/tables/mnist-l2-grid-w128-10k-seed0.parquet"


def test_the_same_replay_seed_repeats_its_draws_and_other_seeds_differ(noisy_table):
    table = read_table(noisy_table(configs=4, seeds=3))
    draws = {
        replay_seed: [table.draw_seed(2, replay_seed, trial) for trial in range(200)]
        for replay_seed in (0, 1)
    }
    assert draws[0] == [table.draw_seed(2, 0, trial) for trial in range(200)]
    assert draws[0] != draws[1]
    for seeds in draws.values():
        assert set(seeds) == {0, 1, 2}  # every draw a recorded seed, and every seed drawn
        assert max(np.bincount(seeds)) < 100  # no seed dominates 200 draws of 3
    # Another configuration in the same trial draws independently.
    assert [table.draw_seed(1, 0, t) for t in range(200)] != draws[0]


def test_a_one_seed_table_always_draws_its_seed():
    table = read_table(OLD_TABLE, log_scale=["lr", "weight_decay"])
    assert table.sizes().startswith("replay table: 8 configurations x 1 training seed(s)")
    seed = table.seeds(0)
    assert len(seed) == 1
    assert {table.draw_seed(c, r, t) for c in range(8) for r in range(3) for t in range(20)} == set(
        seed
    )
    config = table.configs()[3]
    assert table.replay_curve(config, 3, seed[0]) == table.curve(3)


def test_different_seeds_of_a_configuration_replay_different_curves(noisy_table):
    table = read_table(noisy_table(configs=4, seeds=3))
    finals = {s: table.curve(1, s)[-1]["val_acc"] for s in table.seeds(1)}
    assert len(set(finals.values())) == 3


def test_the_surrogate_replays_recorded_configs_exactly_and_predicts_between_them(noisy_table):
    path = noisy_table(configs=24, seeds=3)
    nearest = read_table(path)
    frame, meta = nearest.frame, {**nearest.meta, "replay_model": "surrogate"}
    write_table(frame, meta, path)
    surrogate = read_table(path)
    for config_id, config in zip(surrogate.config_ids(), surrogate.configs(), strict=True):
        for seed in surrogate.seeds(config_id):
            replayed = pd.DataFrame(surrogate.replay_curve(config, config_id, seed))
            recorded = pd.DataFrame(surrogate.curve(config_id, seed))
            np.testing.assert_allclose(replayed["val_acc"], recorded["val_acc"], atol=1e-12)
    # Between two recorded lrs of the same optimizer, the prediction is not the nearest's curve
    # but lies inside the range of the recorded configurations' final accuracies.
    config = {"lr": 0.03, "opt": "a"}
    config_id = surrogate.snap(config)
    seed = surrogate.seeds(config_id)[0]
    predicted = surrogate.replay_curve(config, config_id, seed)[-1]["val_acc"]
    finals = [
        surrogate.curve(c, s)[-1]["val_acc"] for c in surrogate.config_ids() for s in range(3)
    ]
    assert predicted != surrogate.curve(config_id, seed)[-1]["val_acc"]
    assert min(finals) <= predicted <= max(finals)


def test_a_seed_that_failed_does_not_carry_its_deviation_beyond_what_neighbours_recorded(
    noisy_table,
):
    # One seed of the best configuration failed to learn (0.1 where its others reached ~0.9): its
    # deviation from the mean, about -0.5, must not push a neighbour's replay below anything its
    # neighbours recorded, nor, for the other seeds' +0.25, above the table's best.
    path = noisy_table(configs=24, seeds=3)
    table = read_table(path)
    frame = table.frame.copy()
    finals = frame[frame["epoch"] == frame["epoch"].max()]
    best = int(finals.groupby("config_id")["val_acc"].mean().idxmax())
    failed = (frame["config_id"] == best) & (frame["train_seed"] == 0)
    frame.loc[failed, "val_acc"] = 0.1
    write_table(frame, {**table.meta, "replay_model": "surrogate"}, path)
    surrogate = read_table(path)
    highest = surrogate.frame["val_acc"].max()
    lowest_final = surrogate.frame.loc[surrogate.frame["epoch"] == 3, "val_acc"].min()
    best_config = surrogate.configs()[best]
    for step in np.linspace(0.8, 1.25, 10):
        config = {**best_config, "lr": best_config["lr"] * step}
        for seed in surrogate.seeds(best):
            curve = surrogate.replay_curve(config, best, seed)
            assert max(row["val_acc"] for row in curve) <= highest + 1e-12
            assert curve[-1]["val_acc"] >= lowest_final - 1e-12
    # The recorded configuration itself still replays each seed exactly, the failed one included.
    assert surrogate.replay_curve(best_config, best, 0)[-1]["val_acc"] == 0.1


@pytest.mark.slow
def test_replayed_trials_of_one_configuration_draw_by_their_index_the_same_in_every_run(
    ray_local, noisy_table, tmp_path
):
    table = read_table(noisy_table(configs=4, seeds=3))

    def run(name):
        tuner = tune.Tuner(
            tune.with_parameters(ReplayTrainable, data=table),
            param_space={"lr": 0.03, "opt": "a", "epochs": 1, "seed": 7},
            tune_config=tune.TuneConfig(num_samples=12, reuse_actors=True),
            run_config=tune.RunConfig(storage_path=str(tmp_path), name=name, verbose=0),
        )
        grid = tuner.fit()
        # Tune's random sampler numbers its trials 0, 1, ...: its ids end with that count.
        return sorted(
            (int(r.metrics["trial_id"].split("_")[1]), int(r.metrics[REPLAY_TRAIN_SEED]))
            for r in grid
        )

    first, second = run("a"), run("b")
    assert [index for index, _ in first] == list(range(12))
    assert first == second
    config_id = table.snap({"lr": 0.03, "opt": "a"})
    assert [seed for _, seed in first] == [table.draw_seed(config_id, 7, i) for i in range(12)]
    assert len({seed for _, seed in first}) > 1


def test_the_committed_bench_table_replays_the_bench_job_as_recorded():
    # A newcomer's `compare mnist-bench --replay benchmarks/tables/mnist-bench-192x3.parquet`
    # needs no real run: the committed table matches the job's space and epochs.
    from tune_jobs.options import RunOptions
    from tune_jobs.replay import replay_job

    path = Path(__file__).parents[2] / "benchmarks/tables/mnist-bench-192x3.parquet"
    job = replay_job(RunOptions("mnist-bench"), str(path))
    table = job.load_data()
    assert job.trainable is ReplayTrainable and table.meta["replay_model"] == "nearest"
    assert len(table.config_ids()) == 192 and table.epochs == 9
    assert all(len(table.seeds(c)) >= 2 for c in table.config_ids())


def test_a_donors_position_past_a_diverged_curve_replays_its_last_epoch_and_ends(noisy_table):
    # PBT may restore a donor's epoch 3 onto a configuration whose recorded curve diverged at
    # epoch 1: the trial replays that diverged epoch and ends instead of reading past its curve.
    path = noisy_table(configs=4, seeds=1, epochs=3)
    table = read_table(path)
    frame = table.frame[(table.frame["config_id"] != 2) | (table.frame["epoch"] == 1)].copy()
    frame.loc[frame["config_id"] == 2, "diverged"] = True
    write_table(frame, table.meta, path)
    table = read_table(path)
    cursor = ReplayCursor(table, table.configs()[2], trial_index=0)
    cursor.load({"epoch": 2, "seconds": 2.0})
    last = cursor.step()
    assert last["done"] and last["diverged"] and last["epoch"] == 1
