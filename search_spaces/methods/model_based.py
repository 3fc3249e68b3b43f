"""Bayesian optimization: TPE (Optuna, HyperOpt), Gaussian processes and CMA-ES (Optuna).

Each searcher proposes the next configuration from the results of finished trials, so each gets a
concurrency limit (`--concurrency`, default 2). Every trial trains for the job's full epoch limit.
"""

from __future__ import annotations

from search_spaces.methods.base import (
    IncompatibleSpaceError,
    Knob,
    Method,
    MethodSettings,
    Plan,
    knob_value,
    limited,
    numeric_dimensions,
    require,
)
from search_spaces.space import SearchSpace

STARTUP_TRIALS = 5  # random proposals before the model takes over
STARTUP = Knob(
    "startup_trials", int, STARTUP_TRIALS, "random proposals before the model takes over", low=1
)
MODEL_NOTES = {"concurrency": "--concurrency (default 2)"}


def _optuna_plan(space: SearchSpace, settings: MethodSettings, sampler) -> Plan:
    from ray.tune.search.optuna import OptunaSearch

    searcher = limited(OptunaSearch(sampler=sampler), settings)
    return Plan(space.distributions(), settings.default_samples(space), searcher)


def _tpe(space: SearchSpace, settings: MethodSettings) -> Plan:
    optuna = require("optuna", "optuna", "tpe")
    sampler = optuna.samplers.TPESampler(
        seed=settings.seed, n_startup_trials=knob_value(settings, STARTUP)
    )
    return _optuna_plan(space, settings, sampler)


def _gp(space: SearchSpace, settings: MethodSettings) -> Plan:
    optuna = require("optuna", "optuna", "gp")
    require("scipy", "scipy", "gp")
    sampler = optuna.samplers.GPSampler(
        seed=settings.seed, n_startup_trials=knob_value(settings, STARTUP)
    )
    return _optuna_plan(space, settings, sampler)


def _cmaes(space: SearchSpace, settings: MethodSettings) -> Plan:
    optuna = require("optuna", "optuna", "cmaes")
    require("cmaes", "cmaes", "cmaes")
    numeric = numeric_dimensions(space)
    if len(numeric) < 2:
        raise IncompatibleSpaceError(
            f"cmaes adapts a covariance over numeric dimensions and needs at least two; this "
            f"space has {numeric or 'none'}. Use tpe or gp instead."
        )
    # Categorical dimensions are drawn by Optuna's independent (random) sampler.
    sampler = optuna.samplers.CmaEsSampler(
        seed=settings.seed,
        n_startup_trials=knob_value(settings, STARTUP),
        warn_independent_sampling=False,
    )
    return _optuna_plan(space, settings, sampler)


def _hyperopt(space: SearchSpace, settings: MethodSettings) -> Plan:
    require("hyperopt", "hyperopt", "hyperopt")
    from ray.tune.search.hyperopt import HyperOptSearch

    searcher = limited(
        HyperOptSearch(
            random_state_seed=settings.seed, n_initial_points=knob_value(settings, STARTUP)
        ),
        settings,
    )
    return Plan(space.distributions(), settings.default_samples(space), searcher)


MODEL_BASED_METHODS = (
    Method(
        "tpe",
        "Bayesian",
        "Tree-structured Parzen estimator (Optuna's TPESampler through OptunaSearch).",
        "Handles log, integer and categorical dimensions natively; cheap model; strong default.",
        "Sequential: little gain from parallel workers; full-length trials only.",
        _tpe,
        (STARTUP,),
        MODEL_NOTES,
    ),
    Method(
        "hyperopt",
        "Bayesian",
        "HyperOpt's TPE through HyperOptSearch (the original TPE implementation).",
        "Same idea as tpe, independent implementation: a check on Optuna's.",
        "Sequential; slower model updates than Optuna; full-length trials only.",
        _hyperopt,
        (STARTUP,),
        MODEL_NOTES,
    ),
    Method(
        "gp",
        "Bayesian",
        "Gaussian-process BO (Optuna's GPSampler): Matern kernel, log-EI acquisition; "
        "categorical dimensions one-hot encoded with their own kernel.",
        "Sample-efficient on few smooth continuous dimensions.",
        "Cubic cost in trials; weaker on categorical and conditional spaces.",
        _gp,
        (STARTUP,),
        MODEL_NOTES,
    ),
    Method(
        "cmaes",
        "evolution strategy",
        "CMA-ES (Optuna's CmaEsSampler): adapts a Gaussian over numeric dimensions; categorical "
        "ones are sampled at random.",
        "Robust on rugged continuous spaces; invariant to rescaling.",
        "Needs many trials for its covariance; no categorical model; >= 2 numeric dimensions.",
        _cmaes,
        (STARTUP,),
        MODEL_NOTES,
    ),
)
