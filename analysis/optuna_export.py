"""Tune trials as Optuna trials: an Optuna study for optuna-dashboard, and parameter importance.

Whatever searcher produced a Tune experiment, its trials frame becomes Optuna `FrozenTrial`s
(`optuna.trial.create_trial`): the hyperparameters with distributions inferred from the values
seen, the trial's best validation score as the objective, and its per-epoch scores as intermediate
values. Optuna's own importance evaluators (fANOVA by default) then rank the hyperparameters.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import FrozenTrial, TrialState

from analysis.results import CONFIG_PREFIX, ITERATION, LOG_SPAN, NOT_STARTED, config_columns
from trainables import metrics

PER_EPOCH = (metrics.TRAIN_LOSS, metrics.TRAIN_COST, metrics.VAL_LOSS, metrics.TEST_ACC)
EVALUATORS = ("fanova", "ped-anova", "mdi")


def plain_value(value: Any) -> Any:
    """numpy scalars as Python values (Optuna stores only None, bool, int, float, str)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def infer_distributions(trials: pd.DataFrame) -> dict[str, BaseDistribution]:
    """An Optuna distribution per `config/...` column, from the values the trials took.

    Numbers (not bools) with two or more values become Int/FloatDistributions over their range
    (log-scaled when positive and spanning two decades); everything else is categorical.
    """
    distributions: dict[str, BaseDistribution] = {}
    for column in config_columns(trials):
        values = [plain_value(v) for v in trials[column] if not _missing(plain_value(v))]
        if not values:
            continue
        name = column.removeprefix(CONFIG_PREFIX)
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        low, high = (min(values), max(values)) if numeric else (None, None)
        if numeric and low < high:
            log = low > 0 and high / low >= LOG_SPAN
            if all(isinstance(v, int) for v in values):
                distributions[name] = IntDistribution(int(low), int(high), log=log)
            else:
                distributions[name] = FloatDistribution(float(low), float(high), log=log)
        else:
            choices = sorted(set(values), key=lambda v: (type(v).__name__, str(v)))
            distributions[name] = CategoricalDistribution(choices)
    return distributions


def _state(row: pd.Series, value: float | None) -> TrialState:
    if row["status"] == "ERROR" or value is None:
        return TrialState.FAIL
    if row["status"] != "TERMINATED" or row.get("stop_reason") == "stopped early":
        return TrialState.PRUNED  # interrupted, or stopped by a scheduler or budget
    return TrialState.COMPLETE


def _time(row: pd.Series, column: str) -> datetime | None:
    seconds = plain_value(row.get(column))
    return None if _missing(seconds) else datetime.fromtimestamp(float(seconds))


def fixed_params(trials: pd.DataFrame) -> dict[str, Any]:
    """The hyperparameters every trial shares, with their value (not exported as parameters)."""
    varying = set(config_columns(trials, varying=True))
    return {
        column.removeprefix(CONFIG_PREFIX): plain_value(trials[column].iloc[0])
        for column in config_columns(trials)
        if column not in varying and len(trials)
    }


def to_optuna_trials(
    trials: pd.DataFrame,
    curves: pd.DataFrame | None = None,
    metric: str = metrics.METRIC,
) -> list[FrozenTrial]:
    """One Optuna trial per row of a trials frame; per-epoch values from `curves` when given.

    Parameters are the hyperparameters that vary across the trials (all of them for one trial).
    Trials a budget never started are left out: they trained nothing.
    """
    if "stop_reason" in trials:
        trials = trials[trials["stop_reason"] != NOT_STARTED]
    distributions = infer_distributions(trials)
    if len(trials) > 1:
        varying = {c.removeprefix(CONFIG_PREFIX) for c in config_columns(trials, varying=True)}
        distributions = {k: v for k, v in distributions.items() if k in varying}
    by_trial = {} if curves is None or curves.empty else dict(list(curves.groupby("trial_id")))
    frozen = []
    for _, row in trials.iterrows():
        params = {
            name: plain_value(row[CONFIG_PREFIX + name])
            for name in distributions
            if not _missing(plain_value(row[CONFIG_PREFIX + name]))
        }
        best = plain_value(row.get(f"best_{metric}"))
        value = None if _missing(best) or not math.isfinite(best) else float(best)
        history = by_trial.get(row["trial_id"])
        intermediate, attrs = {}, {}
        if history is not None and metric in history:
            step = metrics.EPOCH if metrics.EPOCH in history else ITERATION
            for epoch, score in zip(history[step], history[metric], strict=True):
                if not _missing(score):
                    intermediate[int(epoch)] = float(score)
            for name in PER_EPOCH:
                if name in history:
                    attrs[f"{name}_by_epoch"] = [
                        None if _missing(v) else float(v) for v in history[name]
                    ]
        for name in ("trial_id", "status", "stop_reason", "epochs", "best_epoch", "seconds"):
            if name in row and not _missing(plain_value(row[name])):
                attrs[f"tune_{name}" if name in ("trial_id", "status") else name] = plain_value(
                    row[name]
                )
        if not _missing(plain_value(row.get(f"{metrics.TEST_ACC}_at_best"))):
            attrs[f"{metrics.TEST_ACC}_at_best"] = float(row[f"{metrics.TEST_ACC}_at_best"])
        state = _state(row, value)
        trial = optuna.trial.create_trial(
            state=state,
            value=None if state == TrialState.FAIL else value,
            params=params,
            distributions={name: distributions[name] for name in params},
            user_attrs=attrs,
            intermediate_values=intermediate,
        )
        # create_trial stamps "now"; the dashboard's timeline and durations want the real ones.
        started, ended = _time(row, "started"), _time(row, "ended")
        if started is not None and ended is not None:
            trial.datetime_start, trial.datetime_complete = started, max(started, ended)
        frozen.append(trial)
    return frozen


def export_study(
    trials: pd.DataFrame,
    curves: pd.DataFrame | None,
    storage: str,
    study_name: str,
    metric: str = metrics.METRIC,
    mode: str = metrics.MODE,
    attrs: dict[str, Any] | None = None,
) -> optuna.Study:
    """Write the trials into a new Optuna study `study_name` at `storage` (an RDB URL such as
    sqlite:///tune.db); raises optuna.exceptions.DuplicatedStudyError if it exists."""
    study = optuna.create_study(
        storage=storage,
        study_name=study_name,
        direction="maximize" if mode == "max" else "minimize",
        load_if_exists=False,
    )
    with warnings.catch_warnings():  # experimental since Optuna 3.2, still the way to name it
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names([metric])
    for key, value in {**(attrs or {}), "fixed_params": fixed_params(trials)}.items():
        study.set_user_attr(key, value)
    study.add_trials(to_optuna_trials(trials, curves, metric))
    return study


def _evaluator(name: str, seed: int) -> optuna.importance.BaseImportanceEvaluator:
    if name == "fanova":  # needs scikit-learn (a core dependency, for this)
        return optuna.importance.FanovaImportanceEvaluator(seed=seed)
    if name == "ped-anova":
        return optuna.importance.PedAnovaImportanceEvaluator()
    if name == "mdi":
        return optuna.importance.MeanDecreaseImpurityImportanceEvaluator(seed=seed)
    raise ValueError(
        f"unknown importance evaluator {name!r}; choose one of: {', '.join(EVALUATORS)}"
    )


def parameter_importance(
    trials: pd.DataFrame,
    metric: str = metrics.METRIC,
    mode: str = metrics.MODE,
    evaluator: str = "fanova",
    seed: int = 0,
    params: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Importance of each varying hyperparameter for the trials' best `metric`, by an Optuna
    evaluator on an in-memory study; empty when fewer than 3 trials have a score."""
    columns = ["parameter", "importance"]
    varying = [c.removeprefix(CONFIG_PREFIX) for c in config_columns(trials, varying=True)]
    params = [p for p in (params or varying) if p in varying]
    # A trial a scheduler stopped early still scored its configuration (at fewer epochs): under
    # halving methods most trials stop early, and leaving them out would leave too few to weigh.
    frozen = [
        optuna.trial.create_trial(value=t.value, params=t.params, distributions=t.distributions)
        for t in to_optuna_trials(trials, None, metric)
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
        and t.value is not None
        and set(params) <= set(t.params)
    ]
    if len(frozen) < 3 or not params:
        return pd.DataFrame(columns=columns)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize" if mode == "max" else "minimize")
    study.add_trials(frozen)
    scores = optuna.importance.get_param_importances(
        study, evaluator=_evaluator(evaluator, seed), params=params, normalize=True
    )
    return pd.DataFrame(list(scores.items()), columns=columns)
