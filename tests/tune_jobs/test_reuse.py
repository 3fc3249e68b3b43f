"""Actor reuse (`Job.reuse_actors`): a trial that starts in a finished trial's worker process
trains exactly as in a fresh one; PBT's exploits and `--init-from` still work.

Tune reports each result's `pid`: trials that share one show that the actor was reused.
"""

from __future__ import annotations

import dataclasses

import pytest

from tune_jobs.execute import execute
from tune_jobs.options import RunOptions, load_data, prepare

# Pins three of the grid's four dimensions: width's two grid points make two trials.
TWO_TRIALS = {"lr": "0.05", "weight_decay": "1e-4", "dropout": "0.25"}
COMPARED = ["width", "epoch", "train_loss", "val_loss", "val_acc", "test_acc"]


def _run(options: RunOptions, reuse: bool, scheduler=None):
    prepared = prepare(options)
    assert prepared.job.reuse_actors  # the registered jobs reuse actors
    plan = prepared.plan
    if scheduler:
        plan = dataclasses.replace(plan, scheduler=scheduler(prepared))
    job = dataclasses.replace(prepared.job, reuse_actors=reuse)
    prepared = dataclasses.replace(prepared, job=job, plan=plan)
    results = execute(prepared, load_data(prepared.job, options))
    assert results.num_errors == 0
    return results


def _rows(results) -> list[tuple]:
    frames = [r.metrics_dataframe.assign(width=r.config["width"]) for r in results]
    rows = [tuple(row) for frame in frames for row in frame[COMPARED].itertuples(index=False)]
    return sorted(rows)


@pytest.mark.slow
def test_a_reused_actor_trains_its_next_trial_as_a_new_one_would(ray_local, mnist_dir, tmp_path):
    options = RunOptions(
        job="mnist-l2", overrides=TWO_TRIALS, max_epochs=2, concurrency=1, seed=3,
        data_dir=str(mnist_dir), storage=str(tmp_path), train_subset=200,
    )  # fmt: skip
    reused = _run(dataclasses.replace(options, name="reused"), reuse=True)
    fresh = _run(dataclasses.replace(options, name="fresh"), reuse=False)
    assert sorted(r.config["width"] for r in reused) == [64, 128]  # each trial its own config
    assert len({r.metrics["pid"] for r in reused}) == 1  # one process ran both
    assert len({r.metrics["pid"] for r in fresh}) == 2
    assert _rows(reused) == _rows(fresh)  # same seeds, same batches: the same numbers


@pytest.mark.slow
def test_init_from_reaches_every_trial_of_a_reused_actor(ray_local, mnist_dir, tmp_path):
    base = RunOptions(
        job="mnist-l2", smoke_test=True, data_dir=str(mnist_dir), storage=str(tmp_path),
        name="source",
    )  # fmt: skip
    source = _run(base, reuse=True)
    source_val_acc = source[0].metrics_dataframe["val_acc"].max()
    # The source is the grid's first point (width 64); two dropouts make two trials of its network.
    same_network = {"lr": "0.05", "weight_decay": "1e-4", "width": "64"}
    options = dataclasses.replace(
        base, name="from-source", smoke_test=False, max_epochs=1, overrides=same_network,
        concurrency=1, train_subset=512, init_from=str(tmp_path / "source"),
    )  # fmt: skip
    results = _run(options, reuse=True)
    assert sorted(r.config["dropout"] for r in results) == [0.25, 0.5]
    assert len({r.metrics["pid"] for r in results}) == 1
    # Both trials start from the source's weights, not from the previous trial's checkpoint.
    for result in results:
        first = result.metrics_dataframe.iloc[0]
        assert first["init_val_acc"] == pytest.approx(source_val_acc, abs=1e-9)
        assert first["epoch"] == 1


@pytest.mark.slow
def test_pbt_exploits_into_reused_actors(ray_local, mnist_dir, tmp_path, synchronous_pbt):
    options = RunOptions(
        job="mnist-l2", method="pbt", samples=4, max_epochs=4, concurrency=2, seed=1,
        cpus_per_trial=1, data_dir=str(mnist_dir), storage=str(tmp_path), name="pbt",
        train_subset=200,
    )  # fmt: skip
    results = _run(options, reuse=True, scheduler=synchronous_pbt)
    exploits = (tmp_path / "pbt" / "pbt_global.txt").read_text().splitlines()
    assert exploits, "PBT never exploited"
    assert all(result.metrics["epoch"] == 4 for result in results)
    assert len({r.metrics["pid"] for r in results}) < len(results)  # actors were reused


def test_trials_reuse_actors_when_more_than_can_run_at_once_or_paused(monkeypatch):
    import ray

    from tune_jobs.execute import reuses_actors, trial_count, trial_slots

    monkeypatch.setattr(ray, "is_initialized", lambda: True)
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 2.0})
    two_nodes = RunOptions(job="mnist-l2", cpus_per_trial=1)
    assert trial_slots(two_nodes) == 2  # 2 samples: each its own actor, one per node
    assert trial_slots(dataclasses.replace(two_nodes, cpus_per_trial=0.5)) == 4
    assert trial_slots(dataclasses.replace(two_nodes, concurrency=1)) == 1
    grid = prepare(RunOptions(job="mnist-l2", overrides=TWO_TRIALS, storage="/unused")).plan
    assert grid.num_samples == 1 and trial_count(grid) == 2  # Tune's samples repeat the grid
    job, four_slots = prepare(two_nodes).job, dataclasses.replace(two_nodes, cpus_per_trial=0.5)
    assert not reuses_actors(job, grid, four_slots)  # 2 trials, 4 slots: each its own actor
    assert reuses_actors(job, grid, dataclasses.replace(two_nodes, concurrency=1))
    # PBT and the HyperBand family pause trials: without reuse, each resume would start an
    # actor. ASHA and random never pause.
    for method, reuses in [("pbt", True), ("hyperband", True), ("sha", True), ("bohb", True),
                           ("asha", False), ("random", False)]:  # fmt: skip
        plan = prepare(RunOptions(job="mnist-l2", method=method, samples=2, storage="/u")).plan
        assert trial_count(plan) <= trial_slots(four_slots)
        assert reuses_actors(job, plan, four_slots) == reuses, method
        assert not reuses_actors(dataclasses.replace(job, reuse_actors=False), plan, four_slots)
