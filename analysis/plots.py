"""Figures of experiments and comparisons: each takes frames and returns a matplotlib Figure.

Every figure has a title, labelled axes and a legend (or colour bar); save it with
`fig.savefig(path)`. The Agg backend is selected so that figures render without a display.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display on servers and in CI

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from analysis.results import CONFIG_PREFIX, CUM_EPOCHS, CUM_SECONDS, config_columns  # noqa: E402
from trainables import metrics  # noqa: E402

AXIS_LABELS = {
    CUM_EPOCHS: "epochs trained by all trials (cumulative)",
    CUM_SECONDS: "trial-seconds spent by all trials (cumulative)",
    metrics.EPOCH: "epoch",
    metrics.TRAIN_COST: "training cost (loss + penalties)",
    metrics.TRAIN_LOSS: "training loss",
    metrics.VAL_ACC: "validation accuracy",
    metrics.VAL_LOSS: "validation loss",
    metrics.TEST_ACC: "test accuracy",
}


def _label(name: str) -> str:
    return AXIS_LABELS.get(name, name.removeprefix(CONFIG_PREFIX))


def best_trial_per(trials: pd.DataFrame, column: str, metric: str = metrics.METRIC) -> list[str]:
    """The trial with the best `metric` for each value of `column` (e.g. one per optimizer)."""
    scored = trials[trials[f"best_{metric}"].notna()]
    index = scored.groupby(column, sort=True)[f"best_{metric}"].idxmax()
    return list(scored.loc[index.to_numpy(), "trial_id"])


def plot_training_curves(
    curves: pd.DataFrame,
    trials: pd.DataFrame,
    trial_ids: Sequence[str] | None = None,
    label_by: str | None = None,
    panels: Sequence[str] = (metrics.TRAIN_COST, metrics.VAL_ACC),
    title: str = "Training curves",
) -> Figure:
    """One panel per metric in `panels` against epoch, one line per trial.

    Args:
        trial_ids: trials to draw (default: all).
        label_by: a trials-frame column (e.g. `config/optimizer`) that names each line.
    """
    trial_ids = list(trials["trial_id"] if trial_ids is None else trial_ids)
    names = trials.set_index("trial_id")
    x = metrics.EPOCH if metrics.EPOCH in curves else "training_iteration"
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False)
    for trial_id in trial_ids:
        history = curves[curves["trial_id"] == trial_id]
        if label_by and trial_id in names.index:
            label = f"{_label(label_by)}={names.loc[trial_id, label_by]} ({trial_id})"
        else:
            label = str(trial_id)
        for ax, metric in zip(axes[0], panels, strict=True):
            if metric in history:
                ax.plot(history[x], history[metric], marker="o", markersize=3, label=label)
    for ax, metric in zip(axes[0], panels, strict=True):
        ax.set_xlabel(_label(x))
        ax.set_ylabel(_label(metric))
        ax.set_title(f"{_label(metric).capitalize()} by epoch")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="best")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _method_style(index: int) -> dict:
    """A colour and line style per method: tab10's ten colours, then dashed, then dotted."""
    return {"color": f"C{index % 10}", "linestyle": ("-", "--", ":")[index // 10 % 3]}


def plot_anytime(
    bands: pd.DataFrame, x: str = CUM_EPOCHS, metric: str = metrics.METRIC, title: str = ""
) -> Figure:
    """Median best-so-far per method against `x`, with its confidence band (`anytime_bands`)."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for index, (method, group) in enumerate(bands.groupby("method", sort=False)):
        style = _method_style(index)
        label = f"{method} (n={group['seeds'].iloc[0]})"
        ax.plot(group[x], group["median"], label=label, **style)
        ax.fill_between(group[x], group["low"], group["high"], color=style["color"], alpha=0.2)
    ax.set_xlabel(_label(x))
    ax.set_ylabel(f"best {_label(metric)} so far")
    ax.set_title(title or f"Anytime performance vs {_label(x)}\n(median over seeds, 95% CI band)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def plot_final_scores(
    scores: pd.DataFrame, summary: pd.DataFrame, metric: str = metrics.METRIC
) -> Figure:
    """Each run's score (dots) and the method's median with its bootstrap CI (bar)."""
    fig, ax = plt.subplots(figsize=(max(5, 0.8 * len(summary) + 2), 4.5))
    order = list(summary["method"])
    for position, method in enumerate(order):
        values = scores.loc[scores["method"] == method, "score"].to_numpy()
        jitter = np.linspace(-0.15, 0.15, len(values)) if len(values) > 1 else np.zeros(1)
        ax.scatter(
            position + jitter,
            values,
            s=14,
            alpha=0.6,
            color="tab:blue",
            label="one seed" if position == 0 else None,
        )
    rows = summary.set_index("method").loc[order]
    low = (rows["median"] - rows["median_low"]).clip(lower=0).fillna(0)
    high = (rows["median_high"] - rows["median"]).clip(lower=0).fillna(0)
    ax.errorbar(
        range(len(order)),
        rows["median"],
        yerr=[low, high],
        fmt="D",
        color="black",
        capsize=4,
        label="median, 95% bootstrap CI",
    )
    ax.scatter(range(len(order)), rows["iqm"], marker="x", color="tab:red", label="IQM", zorder=3)
    ax.set_xticks(range(len(order)), order, rotation=30, ha="right")
    ax.set_xlabel("HPO method")
    ax.set_ylabel(f"best {_label(metric)} of the run")
    ax.set_title("Final score by method over seeds")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def plot_ranks(ranks: pd.DataFrame, x: str = CUM_EPOCHS) -> Figure:
    """Average rank of each method (1 = best) at each budget (`average_ranks`)."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for index, method in enumerate(ranks.columns):
        ax.plot(ranks.index, ranks[method], marker="o", label=str(method), **_method_style(index))
    ax.set_xlabel(_label(x))
    ax.set_ylabel("average rank over seeds (1 = best)")
    ax.set_title("Average rank of each method at growing budgets")
    ax.invert_yaxis()
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def plot_importance(importance: pd.DataFrame, evaluator: str = "fANOVA") -> Figure:
    """Horizontal bars of each hyperparameter's importance (`parameter_importance`)."""
    fig, ax = plt.subplots(figsize=(6, 0.45 * max(len(importance), 2) + 1.5))
    ordered = importance.sort_values("importance")
    ax.barh(ordered["parameter"], ordered["importance"], color="tab:green", label=evaluator)
    ax.set_xlabel("importance (normalized to sum to 1)")
    ax.set_ylabel("hyperparameter")
    ax.set_title(f"Hyperparameter importance ({evaluator}, Optuna)")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def _axis_values(column: pd.Series) -> tuple[np.ndarray, list[str], list[float]]:
    """Values scaled to [0, 1] with tick labels: log for positive numbers over two decades."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        values = column.astype(float).to_numpy()
        low, high = np.nanmin(values), np.nanmax(values)
        log = low > 0 and high / low >= 100
        transform = np.log10 if log else (lambda v: v)
        t_low, t_high = transform(low), transform(high)
        span = (t_high - t_low) or 1.0
        return (transform(values) - t_low) / span, [f"{low:.3g}", f"{high:.3g}"], [0.0, 1.0]
    categories = sorted(column.astype(str).unique())
    codes = column.astype(str).map({c: i for i, c in enumerate(categories)}).to_numpy(float)
    scale = max(len(categories) - 1, 1)
    return codes / scale, categories, [i / scale for i in range(len(categories))]


def plot_parallel_coordinates(trials: pd.DataFrame, metric: str = metrics.METRIC) -> Figure:
    """One line per trial across its varying hyperparameters and its best `metric`, coloured by
    that metric (colour bar)."""
    columns = config_columns(trials, varying=True) + [f"best_{metric}"]
    data = trials[trials[f"best_{metric}"].notna()]
    fig, ax = plt.subplots(figsize=(1.8 * len(columns) + 2, 4.5))
    scaled = [_axis_values(data[c]) for c in columns]
    lines = [
        list(zip(range(len(columns)), point, strict=True))
        for point in np.array([s[0] for s in scaled]).T
    ]
    score = data[f"best_{metric}"].to_numpy(float)
    collection = LineCollection(lines, cmap="viridis", alpha=0.7, label="one trial")
    collection.set_array(score)
    ax.add_collection(collection)
    for position, (_, labels, ticks) in enumerate(scaled):
        ax.axvline(position, color="grey", linewidth=0.8)
        for label, tick in zip(labels, ticks, strict=True):
            ax.annotate(
                label,
                (position, tick),
                fontsize=7,
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
            )
    ax.set_xlim(-0.2, len(columns) - 0.6)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xticks(range(len(columns)), [_label(c) for c in columns], rotation=20, ha="right")
    ax.set_xlabel("hyperparameter (and the trial's best score)")
    ax.set_ylabel("position in the range seen (0 = lowest)")
    ax.set_title(f"Configurations against best {_label(metric)}")
    fig.colorbar(collection, ax=ax, label=f"best {_label(metric)}")
    fig.legend(fontsize=8, loc="lower left")  # outside the axes: keeps the tick labels clear
    fig.tight_layout()
    return fig


def plot_critical_difference(
    average_ranks: pd.Series, pvalues: pd.DataFrame, alpha: float = 0.05, title: str = ""
) -> Figure:
    """Critical-difference diagram: average ranks (1 = best) on an axis, methods that the
    post-hoc test cannot tell apart joined by a bar (scikit-posthocs' drawing)."""
    import scikit_posthocs as posthocs

    fig, ax = plt.subplots(figsize=(8, 0.35 * len(average_ranks) + 1.8))
    posthocs.critical_difference_diagram(average_ranks, pvalues, alpha=alpha, ax=ax)
    ax.set_xlabel("average rank over seeds (1 = best)")
    ax.set_title(title or f"Critical difference (Nemenyi post-hoc, alpha {alpha})")
    fig.tight_layout()
    return fig
