"""Tune experiments as Optuna studies, and Optuna's importance evaluators on a trials frame."""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from analysis.optuna_export import infer_distributions, parameter_importance
from analysis.results import load_experiment, trials_frame
from tune_jobs.cli import main


def test_export_keeps_every_trial_its_best_value_and_epochs(tiny_experiment, tmp_path, capsys):
    storage = f"sqlite:///{tmp_path / 'tune.db'}"
    assert main(["export-optuna", str(tiny_experiment), "--storage", storage]) == 0
    out = capsys.readouterr().out
    assert f"optuna-dashboard {storage}" in out

    grid = load_experiment(tiny_experiment)
    trials = trials_frame(grid)
    study = optuna.load_study(study_name="tiny-asha", storage=storage)
    assert len(study.trials) == len(trials)
    best = max(result.metrics_dataframe["val_acc"].max() for result in grid)
    assert study.best_value == pytest.approx(best)
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    by_id = {t.user_attrs["tune_trial_id"]: t for t in study.trials}
    for row in trials.itertuples():
        exported = by_id[row.trial_id]
        assert exported.params["lr"] == pytest.approx(
            trials.set_index("trial_id").loc[row.trial_id, "config/lr"]
        )
        assert exported.value == pytest.approx(row.best_val_acc)
        assert len(exported.intermediate_values) == row.epochs
        assert exported.user_attrs["stop_reason"] == row.stop_reason
    params = study.trials[0].params
    assert {"lr", "dropout", "weight_decay", "width"} <= set(params)


def test_export_refuses_an_existing_study_a_bad_url_and_a_compare_folder(
    tiny_experiment, compare_folder, tmp_path, capsys
):
    storage = f"sqlite:///{tmp_path / 'tune.db'}"
    assert main(["export-optuna", str(tiny_experiment), "--storage", storage]) == 0
    assert main(["export-optuna", str(tiny_experiment), "--storage", storage]) == 2
    assert "study 'tiny-asha' already exists" in capsys.readouterr().err
    assert main(["export-optuna", str(tiny_experiment), "--storage", "tune.db"]) == 2
    assert "--storage expects a URL such as sqlite:///tune.db" in capsys.readouterr().err
    assert main(["export-optuna", str(compare_folder), "--storage", storage]) == 2
    assert "is a compare folder" in capsys.readouterr().err
    assert main(["export-optuna", str(tmp_path / "none"), "--storage", storage]) == 2
    assert "no such folder" in capsys.readouterr().err


def _synthetic_trials(count: int = 60) -> pd.DataFrame:
    """val_acc depends on lr only (peak at 10^-1.5); width and optimizer are noise."""
    rng = np.random.default_rng(0)
    lr = 10 ** rng.uniform(-3, 0, count)
    return pd.DataFrame(
        {
            "trial_id": [f"t{i}" for i in range(count)],
            "status": "TERMINATED",
            "best_val_acc": 0.95 - 0.1 * (np.log10(lr) + 1.5) ** 2 + rng.normal(0, 1e-3, count),
            "config/lr": lr,
            "config/width": rng.choice([64, 128, 256], count),
            "config/optimizer": rng.choice(["sgd", "adam"], count),
            "config/seed": 0,
        }
    )


def test_distributions_are_inferred_from_the_values_seen():
    distributions = infer_distributions(_synthetic_trials())
    assert isinstance(distributions["lr"], FloatDistribution) and distributions["lr"].log
    assert distributions["width"] == IntDistribution(64, 256)
    assert distributions["optimizer"] == CategoricalDistribution(("adam", "sgd"))
    assert distributions["seed"] == CategoricalDistribution((0,))


@pytest.mark.parametrize("evaluator", ["fanova", "ped-anova", "mdi"])
def test_importance_finds_the_one_parameter_that_matters(evaluator):
    importance = parameter_importance(_synthetic_trials(), evaluator=evaluator)
    assert set(importance["parameter"]) == {"lr", "width", "optimizer"}  # seed is constant
    assert importance.iloc[0]["parameter"] == "lr" and importance.iloc[0]["importance"] > 0.8
    assert importance["importance"].sum() == pytest.approx(1.0)


def test_importance_needs_three_scored_trials():
    assert parameter_importance(_synthetic_trials(2)).empty
    with pytest.raises(ValueError, match="unknown importance evaluator 'magic'"):
        parameter_importance(_synthetic_trials(), evaluator="magic")


def test_trials_a_budget_never_started_are_not_exported(tiny_experiment):
    from analysis.optuna_export import to_optuna_trials
    from analysis.results import NOT_STARTED

    trials = trials_frame(load_experiment(tiny_experiment))
    never = trials.iloc[[0]].assign(
        trial_id="never", stop_reason=NOT_STARTED, best_val_acc=np.nan, epochs=0
    )
    exported = to_optuna_trials(pd.concat([trials, never], ignore_index=True))
    assert len(exported) == len(trials)
    assert "never" not in {t.user_attrs["tune_trial_id"] for t in exported}


def test_importance_weighs_trials_a_scheduler_stopped_early():
    """Under halving methods most trials stop early; their scores still count."""
    trials = _synthetic_trials().assign(stop_reason="stopped early")
    trials.loc[:1, "stop_reason"] = "completed"  # two completed trials alone are too few
    importance = parameter_importance(trials)
    assert importance.iloc[0]["parameter"] == "lr" and importance.iloc[0]["importance"] > 0.8
