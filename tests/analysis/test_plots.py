"""Every figure on seeded synthetic frames: titled, labelled, with a legend, and saved as a PNG."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from analysis import compare, plots
from analysis.results import CUM_EPOCHS, CUM_SECONDS


@pytest.fixture(scope="module")
def frames():
    rng = np.random.default_rng(0)
    trials, curves = [], []
    for number, optimizer in enumerate(["sgd", "adam", "sgd", "momentum", "adam", "adagrad"]):
        trial_id = f"t{number}"
        lr = float(10 ** rng.uniform(-3, -0.5))
        accuracy = 0.9 - 0.3 * np.exp(-np.arange(1, 6) / 2) + rng.normal(0, 0.01, 5)
        for epoch, acc in enumerate(accuracy, start=1):
            curves.append(
                {
                    "trial_id": trial_id,
                    "epoch": epoch,
                    "val_acc": acc,
                    "train_cost": 2.0 / epoch + lr,
                }
            )
        trials.append(
            {
                "trial_id": trial_id,
                "best_val_acc": accuracy.max(),
                "config/optimizer": optimizer,
                "config/lr": lr,
                "config/width": int(rng.choice([64, 128])),
                "config/seed": 0,
            }
        )
    return pd.DataFrame(trials), pd.DataFrame(curves)


@pytest.fixture(scope="module")
def comparison():
    rng = np.random.default_rng(1)
    rows = []
    for method, level in (("grid", 0.9), ("asha", 0.93), ("random", 0.91)):
        for seed in range(5):
            best = level - 0.1 * np.exp(-np.arange(1, 11) / 3) + rng.normal(0, 0.005, 10)
            for epoch, score in enumerate(best, start=1):
                rows.append(
                    {
                        "method": method,
                        "seed": seed,
                        CUM_EPOCHS: epoch,
                        CUM_SECONDS: 3.0 * epoch,
                        "val_acc": score,
                    }
                )
    return pd.DataFrame(rows)


def _check(fig: Figure, tmp_path, name: str, title: str, legend: bool = True) -> None:
    """`title` is the figure's title or a panel's; labelled axes, a legend, a real PNG."""
    titles = [fig.get_suptitle(), *(ax.get_title() for ax in fig.axes)]
    assert any(title in text for text in titles), titles
    axes = fig.axes[0]
    assert axes.get_xlabel() and axes.get_ylabel()
    if legend:
        assert any(ax.get_legend() is not None for ax in fig.axes) or fig.legends
    path = tmp_path / f"{name}.png"
    fig.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000


def test_training_curves_one_line_per_optimizer(frames, tmp_path):
    trials, curves = frames
    chosen = plots.best_trial_per(trials, "config/optimizer")
    assert len(chosen) == 4  # adagrad, adam, momentum, sgd: the best trial of each
    fig = plots.plot_training_curves(curves, trials, chosen, label_by="config/optimizer")
    cost, accuracy = fig.axes[:2]
    assert cost.get_ylabel().startswith("training cost") and accuracy.get_ylabel() == (
        "validation accuracy"
    )
    labels = [text.get_text() for text in accuracy.get_legend().get_texts()]
    assert sorted(label.split(" ")[0] for label in labels) == [
        "optimizer=adagrad",
        "optimizer=adam",
        "optimizer=momentum",
        "optimizer=sgd",
    ]
    assert len(cost.get_lines()) == 4
    assert fig.get_suptitle() == "Training curves"
    assert [ax.get_title() for ax in (cost, accuracy)] == [
        "Training cost (loss + penalties) by epoch",
        "Validation accuracy by epoch",
    ]
    _check(fig, tmp_path, "curves", "Training curves")


def test_anytime_scores_and_ranks(comparison, tmp_path):
    history = compare.anytime(comparison)
    for x in (CUM_EPOCHS, CUM_SECONDS):
        fig = plots.plot_anytime(compare.anytime_bands(history, x, points=10), x)
        assert len(fig.axes[0].get_lines()) == 3 and len(fig.axes[0].collections) == 3
        _check(fig, tmp_path, f"anytime-{x}", "Anytime performance vs ")
    scores = compare.run_scores(comparison)
    fig = plots.plot_final_scores(scores, compare.summarize(scores))
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["asha", "random", "grid"]
    _check(fig, tmp_path, "scores", "Final score by method over seeds")
    ranks = compare.average_ranks(history, compare.default_budgets(history))
    _check(plots.plot_ranks(ranks), tmp_path, "ranks", "Average rank of each method")


def test_importance_and_parallel_coordinates(frames, tmp_path):
    trials, _ = frames
    importance = pd.DataFrame({"parameter": ["lr", "width"], "importance": [0.8, 0.2]})
    fig = plots.plot_importance(importance)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["width", "lr"]
    _check(fig, tmp_path, "importance", "Hyperparameter importance")
    fig = plots.plot_parallel_coordinates(trials)
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert ticks == ["optimizer", "lr (log)", "width", "best_val_acc"]  # seed is constant
    assert len(fig.axes) == 2  # the colour bar
    _check(fig, tmp_path, "parallel", "Configurations against best")


def test_epoch_axes_have_integer_ticks_and_the_legend_names_what_varies(frames):
    trials, curves = frames
    fig = plots.plot_training_curves(curves, trials, ["t0", "t1"])
    for ax in fig.axes:
        ticks = ax.get_xticks()
        assert np.allclose(ticks, np.round(ticks))
    labels = [t.get_text() for t in fig.axes[-1].get_legend().get_texts()]
    assert labels[0].startswith("optimizer=sgd, lr=") and labels[0].endswith("(t0)")
    assert "width" not in labels[0] or trials.loc[:1, "config/width"].nunique() > 1
    assert "seed" not in labels[0]  # the same for every trial
    assert plots.trial_labels(trials, ["t0"]) == {"t0": "t0"}  # nothing varies among one


def test_parallel_coordinates_put_log_scaled_hyperparameters_on_log_axes(frames):
    trials, _ = frames
    names = lambda fig: [t.get_text() for t in fig.axes[0].get_xticklabels()]  # noqa: E731
    assert "lr (log)" in names(plots.plot_parallel_coordinates(trials))  # spans two decades
    declared = plots.plot_parallel_coordinates(trials, log_scaled={"width"})
    assert names(declared)[:3] == ["optimizer", "lr", "width (log)"]
    annotations = {a.get_text() for a in plots.plot_parallel_coordinates(trials).axes[0].texts}
    assert {"0.01", "0.1"} <= annotations  # the decades between the ends are marked


def test_regret_by_budget_draws_a_line_per_method_across_budgets(tmp_path):
    summary = pd.DataFrame(
        [
            {"method": method, "budget": budget, "seeds": seeds, "median": median,
             "median_low": median / 2, "median_high": median * 2}
            for method, seeds, factor in (("grid", 50, 1.0), ("asha", 50, 0.5), ("gp", 10, 2.0))
            for budget, median in ((58, 0.02 * factor), (576, 0.005 * factor), (1728, 0.0))
        ]
    )  # fmt: skip
    fig = plots.plot_regret_by_budget(summary)
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == [
        "grid (n=50)",
        "asha (n=50)",
        "gp (n=10)",
    ]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["58", "576", "1728"]
    # A regret of 0 (a run at the best recorded epoch) is drawn on the axis, not dropped.
    assert ax.get_ylim()[0] == 0 and all(line.get_ydata()[-1] == 0 for line in ax.get_lines())
    _check(fig, tmp_path, "regret-by-budget", "Regret against budget")
