"""Every registered HPO method drives a cheap analytic trainable through Tune; registry errors.

The runs through Tune are `slow`; test_method_contract.py checks every method's proposals
in-process.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import pytest
from ray import tune
from ray.tune.schedulers import HyperBandScheduler

from search_spaces.methods import (
    METHODS,
    IncompatibleSpaceError,
    MethodSettings,
    MissingPackageError,
    UnknownMethodError,
    get_method,
)
from search_spaces.methods.halving import SynchronousHyperBand, bracket_epochs
from search_spaces.space import Choice, Float, Int, SearchSpace
from tune_jobs.budget import EpochBudget
from tune_jobs.execute import pauses_trials

SPACE = SearchSpace(
    {
        "x": Float(0.01, 1.0, grid=(0.1, 0.9), log=True),
        "y": Float(0.0, 1.0, grid=(0.5,)),
        "kind": Choice(("a", "b")),
    },
    fixed={"offset": 0.0},
)
CONCURRENCY = 2


def analytic(config):
    """Accuracy climbs with epochs towards a ceiling set by the config; resumable, no learning.

    Its checkpoints are JSON, not the trainables' torch files: each trial is a fresh Ray worker,
    and importing torch there would cost more than the whole trial.
    """
    ceiling = (
        1 - abs(config["x"] - 0.5) - 0.2 * abs(config["y"] - 0.3) - 0.1 * (config["kind"] == "b")
    )
    checkpoint = tune.get_checkpoint()
    state = {"epoch": 0, "origin": tune.get_context().get_trial_id()}
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            state = json.loads((Path(folder) / "state.json").read_text())
    restored_from = state["origin"] if state["epoch"] else ""
    for epoch in range(state["epoch"] + 1, config["max_epochs"] + 1):
        metrics = {"val_acc": ceiling * epoch / config["max_epochs"], "epoch": epoch}
        own = {"epoch": epoch, "origin": tune.get_context().get_trial_id()}
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / "state.json").write_text(json.dumps(own))
            tune.report(
                {**metrics, "restored_from": restored_from},
                checkpoint=tune.Checkpoint.from_directory(folder),
            )


class ResultLog(tune.Callback):
    """Every result as the driver received it (Ray's per-trial logs can miss rows of a trial
    that PBT restored from another trial's checkpoint)."""

    def __init__(self):
        self.results = []

    def on_trial_result(self, iteration, trials, trial, result, **info):
        self.results.append(result)


def run(method, folder, seed=0, samples=6, max_epochs=4, budget=None, space=SPACE, callbacks=None):
    space = space.pin({"max_epochs": max_epochs})
    settings = MethodSettings(
        "val_acc", "max", max_epochs, seed=seed, samples=samples, budget_epochs=budget,
        concurrency=CONCURRENCY,
    )  # fmt: skip
    plan = get_method(method).build(space, settings)
    tuner = tune.Tuner(
        tune.with_resources(analytic, {"cpu": 1}),
        param_space=plan.param_space,
        tune_config=tune.TuneConfig(
            metric="val_acc",
            mode="max",
            search_alg=plan.search_alg,
            scheduler=plan.scheduler,
            num_samples=plan.num_samples,
            max_concurrent_trials=CONCURRENCY,
            # As tune-jobs does (`execute.reuses_actors`): each resume of a paused trial in a
            # new actor would start a Ray worker.
            reuse_actors=pauses_trials(plan.scheduler),
        ),
        run_config=tune.RunConfig(
            storage_path=str(folder),
            name=f"{method}-{seed}",
            verbose=0,
            stop=EpochBudget(budget) if budget else None,
            callbacks=callbacks,
        ),
    )
    return tuner.fit()


def first_proposals(results, count=2):
    started = [r for r in results if r.config and r.metrics]
    # experiment_tag starts with the trial's creation index ("3_kind=a,...").
    ordered = sorted(started, key=lambda r: int(r.metrics["experiment_tag"].split("_")[0]))
    return [(round(r.config["x"], 9), r.config["kind"]) for r in ordered[:count]]


def epochs_reached(results):
    """Each trial's last epoch, from the last result Tune holds: a trial's result.json can miss
    lines written between a pause and Tune's next save of the experiment, which the resume
    copies back over it (docs/hpo-methods.md)."""
    return [r.metrics["epoch"] for r in results]


def epochs_trained(results):
    return sum(len(r.metrics_dataframe) for r in results if r.metrics_dataframe is not None)


@pytest.mark.slow
@pytest.mark.parametrize("method", sorted(METHODS))
def test_method_finishes_within_budget_and_space(method, ray_local, tmp_path):
    budget = 12
    results = run(method, tmp_path / "a", budget=budget, samples=None)
    assert results.num_errors == 0 and len(results) >= 1
    assert epochs_trained(results) <= budget + CONCURRENCY
    # Trials the budget stopped before their first report have no config.
    configs = [r.config for r in results if r.config]
    assert configs
    for config in configs:
        assert 0.01 <= config["x"] <= 1.0 and 0.0 <= config["y"] <= 1.0
        assert config["kind"] in ("a", "b") and config["offset"] == 0.0


@pytest.mark.slow
def test_random_repeats_its_trials_with_its_seed_through_tune(ray_local, tmp_path):
    # The other methods' seeds are checked in-process by test_method_contract.py.
    first = run("random", tmp_path / "a", samples=3, max_epochs=1)
    again = run("random", tmp_path / "b", samples=3, max_epochs=1)
    assert len(first_proposals(first, 3)) == 3
    assert first_proposals(again, 3) == first_proposals(first, 3)


@pytest.mark.slow
def test_grid_runs_every_point_once(ray_local, tmp_path):
    results = run("grid", tmp_path, samples=1)
    assert sorted((r.config["x"], r.config["kind"]) for r in results) == [
        (0.1, "a"), (0.1, "b"), (0.9, "a"), (0.9, "b"),
    ]  # fmt: skip


@pytest.mark.slow
def test_sha_runs_one_bracket_with_its_rung_sizes(ray_local, tmp_path):
    # max_t 9, eta 3: 9 trials start at 1 epoch, the best 3 go on to 3, the best 1 to 9.
    results = run("sha", tmp_path, samples=9, max_epochs=9)
    assert sorted(epochs_reached(results)) == [1] * 6 + [3] * 2 + [9]


@pytest.mark.slow
def test_sha_sizes_its_brackets_to_the_epoch_budget(ray_local, tmp_path):
    # One bracket costs 9 x 1 + 3 x 2 + 1 x 6 = 21 epochs; a budget of 21 buys exactly one.
    results = run("sha", tmp_path, samples=None, max_epochs=9, budget=21)
    assert sorted(epochs_reached(results)) == [1] * 6 + [3] * 2 + [9]


@pytest.mark.parametrize(
    ("trials", "first_rung", "epochs"), [(9, 1, 21), (5, 3, 27), (3, 9, 27), (3, 1, 3 + 2 + 6)]
)
def test_bracket_epochs_follow_the_promotions(trials, first_rung, epochs):
    assert bracket_epochs(trials, first_rung, max_t=9) == epochs


@pytest.mark.parametrize(
    ("method", "budget", "max_epochs", "samples"),
    [
        ("sha", 72, 9, 27),  # three whole brackets of 9 (63 epochs)
        ("sha", 10, 9, 9),  # a budget below one bracket still gets one
        ("hyperband", 72, 9, 8),  # brackets s=0 (3 x 9 epochs) and s=1 (5 from 3): 54 epochs
        ("hyperband", 75, 9, 17),  # ... and s=2 (9 from 1 epoch): 75
        ("sha", 20, 2, 10),  # eta 3 over 2 epochs: Ray's one bracket is 2 trials x 2 epochs
    ],
)
def test_synchronous_brackets_take_the_trials_their_budget_holds(
    method, budget, max_epochs, samples
):
    settings = MethodSettings("val_acc", "max", max_epochs, budget_epochs=budget)
    assert get_method(method).build(SPACE, settings).num_samples == samples


@pytest.mark.slow
def test_hyperband_fills_brackets_from_conservative_to_aggressive(ray_local, tmp_path):
    # max_t 9, eta 3: bracket s=0 runs 3 trials for 9 epochs; s=1 starts 5 at 3 epochs and
    # keeps ceil(5/3) = 2 to 9.
    results = run("hyperband", tmp_path, samples=8, max_epochs=9)
    assert sorted(epochs_reached(results)) == [3, 3, 3, 9, 9, 9, 9, 9]


@pytest.mark.slow
def test_asha_stops_poor_trials_early(ray_local, tmp_path):
    results = run("asha", tmp_path, samples=9)
    lengths = epochs_reached(results)
    assert min(lengths) < 4 and max(lengths) == 4


@pytest.mark.slow
def test_pbt_exploits_other_trials_checkpoints(ray_local, tmp_path):
    log = ResultLog()
    run("pbt", tmp_path, samples=4, max_epochs=6, callbacks=[log])
    donors = {
        result["restored_from"]
        for result in log.results
        if result["restored_from"] and result["restored_from"] != result["trial_id"]
    }
    assert donors, "no trial ever continued from another trial's checkpoint"


@pytest.mark.slow
def test_epoch_budget_stops_the_experiment(ray_local, tmp_path):
    results = run("random", tmp_path, samples=20, budget=10)
    assert 10 <= epochs_trained(results) <= 10 + CONCURRENCY


def test_unknown_method_lists_the_choices():
    with pytest.raises(UnknownMethodError, match="grid, random, sha"):
        get_method("bayes")


def test_missing_package_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "nevergrad", None)
    with pytest.raises(MissingPackageError, match="pip install nevergrad"):
        get_method("pso").build(SPACE, MethodSettings("val_acc", "max", 3))


@pytest.mark.parametrize(
    ("method", "space", "message"),
    [
        ("cmaes", SearchSpace({"x": Float(0.0, 1.0, grid=(0.5,)), "k": Choice((1, 2))}), "two"),
        ("pbt", SearchSpace({"n": Int(1, 4, grid=(2,)), "k": Choice((1, 2))}), "real-valued"),
    ],
)
def test_method_refuses_a_space_it_cannot_search(method, space, message):
    with pytest.raises(IncompatibleSpaceError, match=message):
        get_method(method).build(space, MethodSettings("val_acc", "max", 3))


def test_settings_refuse_nonsense():
    with pytest.raises(ValueError, match="max_epochs"):
        MethodSettings("val_acc", "max", 0)
    with pytest.raises(ValueError, match="mode"):
        MethodSettings("val_acc", "up", 3)
    with pytest.raises(ValueError, match="budget_epochs"):
        MethodSettings("val_acc", "max", 3, budget_epochs=0)


class _Controller:
    """The part of Tune's controller a synchronous bracket talks to."""

    def __init__(self, trials):
        self.trials, self.stopped = trials, []

    def get_trials(self):
        return self.trials

    def stop_trial(self, trial):
        self.stopped.append(trial)


@pytest.mark.parametrize("scheduler_class", [HyperBandScheduler, SynchronousHyperBand])
def test_a_trial_paused_while_its_bracket_finished_is_stopped(scheduler_class):
    from ray.tune.experiment import Trial

    scheduler = scheduler_class(
        time_attr="training_iteration", max_t=4, reduction_factor=3, metric="val_acc", mode="max"
    )
    late, last = Trial("__fake", stub=True), Trial("__fake", stub=True)
    controller = _Controller([late, last])
    for trial in (late, last):  # one bracket of two trials trained straight to max_t
        scheduler.on_trial_add(controller, trial)
        trial.set_status(Trial.RUNNING)
    result = {"training_iteration": 4, "val_acc": 0.5}
    assert scheduler.on_trial_result(controller, late, result) == "PAUSE"
    # The last trial arrives while `late` is still saving its pause checkpoint (RUNNING).
    assert scheduler.on_trial_result(controller, last, result) == "STOP"
    last.set_status(Trial.TERMINATED)
    scheduler.on_trial_complete(controller, last, result)
    late.set_status(Trial.PAUSED)

    assert scheduler.choose_trial_to_run(controller) is None
    if scheduler_class is HyperBandScheduler:
        assert controller.stopped == []  # Ray's own: `late` would stay PAUSED, the run hangs
    else:
        assert controller.stopped == [late]
