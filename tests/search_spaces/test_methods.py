"""Contract test: every registered HPO method drives a cheap analytic trainable through Tune."""

from __future__ import annotations

import pytest
from ray import tune

from search_spaces.methods import METHODS, MethodSettings, UnknownMethodError, get_method
from search_spaces.space import Choice, Float, SearchSpace

SPACE = SearchSpace(
    {"x": Float(0.01, 1.0, grid=(0.1, 0.9), log=True), "kind": Choice(("a", "b"))},
    fixed={"offset": 0.0},
)
MAX_EPOCHS = 4


def analytic(config):
    """Accuracy climbs with epochs towards a ceiling set by the config; no learning involved."""
    ceiling = 1 - abs(config["x"] - 0.5) - (0.1 if config["kind"] == "b" else 0.0)
    for epoch in range(1, MAX_EPOCHS + 1):
        tune.report({"val_acc": ceiling * epoch / MAX_EPOCHS, "epoch": epoch})


def run(method: str, tmp_path, seed: int = 0, samples: int = 6):
    settings = MethodSettings("val_acc", "max", MAX_EPOCHS, seed=seed, samples=samples)
    plan = get_method(method).build(SPACE, settings)
    tuner = tune.Tuner(
        analytic,
        param_space=plan.param_space,
        tune_config=tune.TuneConfig(
            metric="val_acc",
            mode="max",
            search_alg=plan.search_alg,
            scheduler=plan.scheduler,
            num_samples=plan.num_samples,
        ),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name=f"{method}-{seed}", verbose=0),
    )
    return tuner.fit()


@pytest.mark.parametrize("method", sorted(METHODS))
def test_method_finishes_with_a_best_config_inside_the_space(method, ray_local, tmp_path):
    results = run(method, tmp_path)
    assert results.num_errors == 0 and len(results) >= 1
    best = results.get_best_result().config
    assert 0.01 <= best["x"] <= 1.0 and best["kind"] in ("a", "b")
    assert best["offset"] == 0.0
    epochs = sum(len(r.metrics_dataframe) for r in results)
    assert epochs <= len(results) * MAX_EPOCHS


@pytest.mark.parametrize("method", ["random", "asha"])
def test_seeded_methods_repeat_their_proposals(method, ray_local, tmp_path):
    def proposals(seed, folder):
        return sorted((r.config["x"], r.config["kind"]) for r in run(method, folder, seed=seed))

    assert proposals(3, tmp_path / "a") == proposals(3, tmp_path / "b")
    assert proposals(3, tmp_path / "c") != proposals(4, tmp_path / "d")


def test_grid_runs_every_point_once(ray_local, tmp_path):
    results = run("grid", tmp_path, samples=1)
    assert sorted((r.config["x"], r.config["kind"]) for r in results) == [
        (0.1, "a"), (0.1, "b"), (0.9, "a"), (0.9, "b"),
    ]  # fmt: skip


def test_asha_stops_poor_trials_early(ray_local, tmp_path):
    results = run("asha", tmp_path, samples=9)
    lengths = [len(r.metrics_dataframe) for r in results]
    assert min(lengths) < MAX_EPOCHS and max(lengths) == MAX_EPOCHS


def test_unknown_method_lists_the_choices():
    with pytest.raises(UnknownMethodError, match="grid, random, asha"):
        get_method("bayes")


def test_settings_refuse_nonsense():
    with pytest.raises(ValueError, match="max_epochs"):
        MethodSettings("val_acc", "max", 0)
    with pytest.raises(ValueError, match="mode"):
        MethodSettings("val_acc", "up", 3)
