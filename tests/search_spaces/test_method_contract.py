"""Fast contract of every registered HPO method: what it proposes lies in the space, and a seed
repeats it (Syne Tune's scheduler API test, Optuna's sampler tests). No Tune run, no Ray start.

Searchers are asked directly (`suggest`, `on_trial_result`, `on_trial_complete`), fed a synthetic
metric, as Tune's SearchGenerator would; methods that sample through Tune's BasicVariantGenerator
have that generator create its trials, as Tune's controller would.
"""

from __future__ import annotations

import math
import numbers
import random
from pathlib import Path
from typing import Any

import pytest
from ray.tune.experiment import Experiment
from ray.tune.schedulers import PopulationBasedTraining
from ray.tune.schedulers.pbt import _explore
from ray.tune.search import Searcher
from ray.tune.search.basic_variant import BasicVariantGenerator
from ray.tune.search.variant_generator import _has_unresolved_values

from search_spaces.methods import METHODS, MethodSettings, get_method
from search_spaces.methods.model_based import STARTUP_TRIALS
from search_spaces.mnist import mnist_l2_space
from search_spaces.space import Choice, Float, Int, SearchSpace

METRIC, MODE, MAX_EPOCHS = "val_acc", "max", 9
# One past the model-based methods' random start-up trials, so their models propose too (the
# GP's fit costs seconds a proposal).
SUGGESTIONS = STARTUP_TRIALS + 1
MIXED = SearchSpace(
    {
        "lr": Float(1e-4, 0.3, grid=(1e-3, 1e-2), log=True),
        "dropout": Float(0.0, 0.7, grid=(0.25,)),
        "layers": Int(1, 4, grid=(2,)),
        "optimizer": Choice(("sgd", "adam", "adagrad")),
    },
    fixed={"batch_size": 64},
)
SPACES = {"mixed": MIXED, "mnist-l2": mnist_l2_space()}


def synthetic_metric(config: dict[str, Any], space: SearchSpace) -> float:
    """A deterministic score with one optimum inside the space: something for a model to learn."""
    score = 0.0
    for name, dimension in space.dimensions.items():
        value = config[name]
        if isinstance(dimension, Choice):
            score -= 0.1 * list(dimension.options).index(value)
            continue
        low, high = dimension.low, dimension.high
        if dimension.log:
            value, low, high = math.log(value), math.log(low), math.log(high)
        score -= abs((value - low) / (high - low) - 0.3)
    return score


def _never_run(config: dict[str, Any]) -> None:
    """The trainable an Experiment must name; these tests never start it."""


def _generated(plan, folder: Path) -> list[dict[str, Any]]:
    """The configs of the trials Tune's BasicVariantGenerator creates for `plan`."""
    experiment = Experiment(
        "contract", _never_run, config=plan.param_space, num_samples=plan.num_samples,
        storage_path=str(folder),
    )  # fmt: skip
    plan.search_alg.add_configurations([experiment])
    configs = []
    while (trial := plan.search_alg.next_trial()) is not None:
        configs.append(trial.config)
    return configs


def _asked(plan, space: SearchSpace) -> list[dict[str, Any]]:
    """The configs a Searcher proposes when each trial reports its synthetic metric in turn."""
    searcher = plan.search_alg
    if not searcher.set_search_properties(METRIC, MODE, plan.param_space):
        # Tune's own check: a searcher built with its space needs a param_space without domains.
        assert not _has_unresolved_values(plan.param_space)
    configs = []
    for index in range(SUGGESTIONS):
        trial_id = f"trial{index}"
        suggestion = searcher.suggest(trial_id)
        assert suggestion not in (None, Searcher.FINISHED), f"no proposal for trial {index}"
        config = {**plan.param_space, **suggestion}  # Tune's SearchGenerator merges the same way
        # hyperband_info is what HyperBandForBOHB adds to a result; BOHB's model learns from it.
        result = {
            METRIC: synthetic_metric(config, space),
            "training_iteration": MAX_EPOCHS,
            "hyperband_info": {"budget": MAX_EPOCHS},
        }
        searcher.on_trial_result(trial_id, result)
        searcher.on_trial_complete(trial_id, result)
        configs.append(config)
    return configs


def proposals(method: str, space: SearchSpace, seed: int, folder: Path) -> list[dict[str, Any]]:
    """The configs `method`, built for `space` with `seed`, hands to its first trials."""
    settings = MethodSettings(METRIC, MODE, MAX_EPOCHS, seed=seed, samples=SUGGESTIONS)
    plan = get_method(method).build(space, settings)
    if isinstance(plan.search_alg, BasicVariantGenerator):
        return _generated(plan, folder)
    assert isinstance(plan.search_alg, Searcher), f"{method}: unknown search_alg type"
    return _asked(plan, space)


def outside(config: dict[str, Any], space: SearchSpace) -> list[str]:
    """What in `config` breaks `space`: keys, kinds, bounds, log scales, choices, fixed values."""
    problems = [f"unexpected key {k!r}" for k in set(config) - {*space.dimensions, *space.fixed}]
    problems += [f"{k}={config.get(k)!r}, fixed at {v!r}" for k, v in space.fixed.items()
                 if config.get(k) != v]  # fmt: skip
    for name, dimension in space.dimensions.items():
        if name not in config:
            problems.append(f"{name} missing")
            continue
        value = config[name]
        if isinstance(dimension, Choice):
            if value not in dimension.options:
                problems.append(f"{name}={value!r} not among {list(dimension.options)}")
            continue
        kind = numbers.Integral if isinstance(dimension, Int) else numbers.Real
        if not isinstance(value, kind) or isinstance(value, bool):
            problems.append(f"{name}={value!r} is not a {kind.__name__}")
        elif not dimension.low <= value <= dimension.high:
            problems.append(f"{name}={value!r} outside [{dimension.low}, {dimension.high}]")
        elif dimension.log and value <= 0:
            problems.append(f"{name}={value!r} not positive on a log scale")
    return problems


@pytest.mark.parametrize("space_name", sorted(SPACES))
@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_proposal_lies_in_the_space(method, space_name, tmp_path):
    space = SPACES[space_name]
    configs = proposals(method, space, seed=0, folder=tmp_path)
    assert len(configs) >= SUGGESTIONS
    problems = {i: outside(config, space) for i, config in enumerate(configs)}
    assert not {i: p for i, p in problems.items() if p}


@pytest.mark.parametrize("method", sorted(METHODS))
def test_a_seed_repeats_its_proposals(method, tmp_path):
    first = proposals(method, MIXED, seed=3, folder=tmp_path / "a")
    assert proposals(method, MIXED, seed=3, folder=tmp_path / "b") == first
    if METHODS[method].seeded:
        assert proposals(method, MIXED, seed=4, folder=tmp_path / "c") != first


def test_grid_proposes_every_grid_point_once_per_pass(tmp_path):
    settings = MethodSettings(METRIC, MODE, MAX_EPOCHS, samples=1)
    configs = _generated(get_method("grid").build(MIXED, settings), tmp_path)
    points = sorted((c["lr"], c["dropout"], c["layers"], c["optimizer"]) for c in configs)
    expected = sorted(
        (lr, 0.25, 2, opt) for lr in (1e-3, 1e-2) for opt in ("sgd", "adam", "adagrad")
    )
    assert points == expected


def test_pbt_explores_inside_the_space():
    # Ray's PBT perturbs a value by x0.8 or x1.2 without clipping it: the method clips.
    scheduler = get_method("pbt").build(MIXED, MethodSettings(METRIC, MODE, MAX_EPOCHS)).scheduler
    assert isinstance(scheduler, PopulationBasedTraining)
    at_the_edges = {"lr": 0.3, "dropout": 0.7, "layers": 4, "optimizer": "adam", "batch_size": 64}
    random.seed(0)  # PBT draws from Python's global generator, not from the method's seed
    explored = [
        _explore(
            at_the_edges, scheduler._hyperparam_mutations, scheduler._resample_probability,
            scheduler._perturbation_factors, scheduler._custom_explore_fn,
        )[0]
        for _ in range(20)
    ]  # fmt: skip
    assert not [outside(config, MIXED) for config in explored if outside(config, MIXED)]


def _sampler(plan):
    return plan.search_alg.searcher._sampler  # ConcurrencyLimiter(OptunaSearch(sampler))


# Where each declared knob lands in the built searcher or scheduler (Ray's, Optuna's, Nevergrad's
# and HyperOpt's own attributes): a knob a builder forgot to pass fails here.
KNOB_READERS = {
    ("sha", "reduction_factor"): lambda plan: plan.scheduler._eta,
    ("hyperband", "reduction_factor"): lambda plan: plan.scheduler._eta,
    ("bohb", "reduction_factor"): lambda plan: plan.scheduler._eta,
    ("asha", "reduction_factor"): lambda plan: plan.scheduler._reduction_factor,
    ("asha", "grace_period"): lambda plan: min(m for m, _ in plan.scheduler._brackets[0]._rungs),
    ("tpe", "startup_trials"): lambda plan: _sampler(plan)._n_startup_trials,
    ("gp", "startup_trials"): lambda plan: _sampler(plan)._n_startup_trials,
    ("cmaes", "startup_trials"): lambda plan: _sampler(plan)._n_startup_trials,
    ("hyperopt", "startup_trials"): lambda plan: plan.search_alg.searcher.algo.keywords[
        "n_startup_jobs"
    ],
    ("ga", "population"): lambda plan: _sampler(plan)._population_size,
    ("pso", "particles"): lambda plan: plan.search_alg.searcher._nevergrad_opt._config.popsize,
    ("pbt", "perturbation_interval"): lambda plan: plan.scheduler._perturbation_interval,
    ("pbt", "quantile_fraction"): lambda plan: plan.scheduler._quantile_fraction,
    ("pbt", "resample_probability"): lambda plan: plan.scheduler._resample_probability,
}
DECLARED = sorted((m.name, k.name) for m in METHODS.values() for k in m.knobs)


def test_every_declared_knob_has_a_reader():
    assert DECLARED == sorted(KNOB_READERS)


def _changed(knob) -> int | float:
    """A valid value other than the knob's default."""
    if knob.kind is int:
        return knob.default + 1 if knob.default + 1 <= knob.high else knob.default - 1
    return (knob.default + knob.high) / 2 if math.isfinite(knob.high) else knob.default * 2


@pytest.mark.parametrize(("method", "name"), DECLARED)
def test_a_knob_default_builds_and_a_changed_value_reaches_the_method(method, name):
    entry = get_method(method)
    knob = next(k for k in entry.knobs if k.name == name)
    read = KNOB_READERS[(method, name)]
    settings = MethodSettings(METRIC, MODE, MAX_EPOCHS, samples=SUGGESTIONS)
    assert read(entry.build(MIXED, settings)) == knob.default
    changed = _changed(knob)
    options = entry.parse_options({name: str(changed)})
    assert options == {name: changed}
    plan = entry.build(MIXED, MethodSettings(METRIC, MODE, MAX_EPOCHS, samples=SUGGESTIONS,
                                             options=options))  # fmt: skip
    assert read(plan) == changed


@pytest.mark.parametrize("value", ["0", "2.5", "many", "1e400"])
def test_a_bad_knob_value_is_refused_naming_the_knobs(value):
    with pytest.raises(ValueError, match="its knobs: grace_period, reduction_factor"):
        get_method("asha").parse_options({"reduction_factor": value})


def test_an_unknown_knob_is_refused_naming_the_knobs():
    with pytest.raises(ValueError, match="no knob 'eta'; its knobs: reduction_factor"):
        get_method("hyperband").parse_options({"eta": "2"})
    with pytest.raises(ValueError, match="its knobs: none"):
        get_method("random").parse_options({"eta": "2"})
