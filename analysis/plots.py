"""Figures of experiments and comparisons: each takes frames and returns a matplotlib Figure.

Every figure has a title, labelled axes and a legend (or colour bar); save it with
`fig.savefig(path)`. The Agg backend is selected so that figures render without a display.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display on servers and in CI

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from analysis.results import (  # noqa: E402
    CONFIG_PREFIX,
    CUM_EPOCHS,
    CUM_SECONDS,
    config_columns,
    is_log_scaled,
)
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


# Axes that count epochs: their ticks are whole numbers (half an epoch is never reported).
EPOCH_AXES = (metrics.EPOCH, CUM_EPOCHS, "training_iteration")

Style = dict[str, str]  # matplotlib `color` and `linestyle` of one method


def _label(name: str) -> str:
    return AXIS_LABELS.get(name, name.removeprefix(CONFIG_PREFIX))


def _integer_ticks(ax: plt.Axes, x: str) -> None:
    """Whole-number ticks on an x axis that counts epochs."""
    if x in EPOCH_AXES:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _value(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def trial_labels(trials: pd.DataFrame, trial_ids: Sequence[str]) -> dict[str, str]:
    """Each trial named by the hyperparameters that differ among `trial_ids`, then its id."""
    chosen = trials[trials["trial_id"].isin(list(trial_ids))]
    varying = config_columns(chosen, varying=True)
    labels = {}
    for _, row in chosen.iterrows():
        values = ", ".join(f"{_label(c)}={_value(row[c])}" for c in varying)
        labels[row["trial_id"]] = f"{values} ({row['trial_id']})" if values else row["trial_id"]
    return labels


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
        label_by: a trials-frame column (e.g. `config/optimizer`) that names each line
            (default: the hyperparameters that differ among the trials drawn).
    """
    trial_ids = list(trials["trial_id"] if trial_ids is None else trial_ids)
    names = trials.set_index("trial_id")
    labels = trial_labels(trials, trial_ids)
    x = metrics.EPOCH if metrics.EPOCH in curves else "training_iteration"
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False)
    for trial_id in trial_ids:
        history = curves[curves["trial_id"] == trial_id]
        if label_by and trial_id in names.index:
            label = f"{_label(label_by)}={names.loc[trial_id, label_by]} ({trial_id})"
        else:
            label = labels.get(trial_id, str(trial_id))
        for ax, metric in zip(axes[0], panels, strict=True):
            if metric in history:
                ax.plot(history[x], history[metric], marker="o", markersize=3, label=label)
    for ax, metric in zip(axes[0], panels, strict=True):
        ax.set_xlabel(_label(x))
        ax.set_ylabel(_label(metric))
        ax.set_title(f"{_label(metric).capitalize()} by epoch")
        ax.grid(alpha=0.3)
        _integer_ticks(ax, x)
    axes[0][-1].legend(fontsize=7, loc="best")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _method_style(index: int) -> Style:
    """A colour and line style per method: tab10's ten colours, then dashed, then dotted."""
    return {"color": f"C{index % 10}", "linestyle": ("-", "--", ":")[index // 10 % 3]}


def method_styles(methods: Sequence[str]) -> dict[str, Style]:
    """One colour and line style per method, by its position in `methods`; pass the same
    mapping to every figure of a report so that a method looks the same in all of them."""
    return {str(method): _method_style(index) for index, method in enumerate(methods)}


def _styles(methods: Sequence[str], styles: Mapping[str, Style] | None) -> Mapping[str, Style]:
    """`styles`, or by default the styles of the methods in sorted order (the same in every
    figure that shows the same methods)."""
    return styles if styles is not None else method_styles(sorted({str(m) for m in methods}))


def plot_anytime(
    bands: pd.DataFrame,
    x: str = CUM_EPOCHS,
    metric: str = metrics.METRIC,
    title: str = "",
    styles: Mapping[str, Style] | None = None,
) -> Figure:
    """Median best-so-far per method against `x`, with its confidence band (`anytime_bands`)."""
    styles = _styles(bands["method"].unique(), styles)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for method, group in bands.groupby("method", sort=False):
        style = styles[str(method)]
        label = f"{method} (n={group['seeds'].iloc[0]})"
        ax.plot(group[x], group["median"], label=label, **style)
        ax.fill_between(group[x], group["low"], group["high"], color=style["color"], alpha=0.2)
    ax.set_xlabel(_label(x))
    ax.set_ylabel(f"best {_label(metric)} so far")
    ax.set_title(title or f"Anytime performance vs {_label(x)}\n(median over seeds, 95% CI band)")
    ax.grid(alpha=0.3)
    _integer_ticks(ax, x)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def plot_regret_by_budget(
    summary: pd.DataFrame, title: str = "", styles: Mapping[str, Style] | None = None
) -> Figure:
    """Median normalized regret per method against the epoch budget (log x), with its
    bootstrap 95% interval: where each method wins and loses as the budget grows.

    `summary`: one row per (method, budget) with `median`, `median_low`, `median_high`, `seeds`
    (`analysis.verdict.regret_summary` of each budget).
    """
    styles = _styles(summary["method"].unique(), styles)
    fig, ax = plt.subplots(figsize=(7.5, 5))
    for method, group in summary.sort_values("budget").groupby("method", sort=False):
        style = styles[str(method)]
        seeds = "-".join(str(n) for n in sorted(set(group["seeds"].astype(int))))
        budgets = group["budget"].to_numpy(dtype=float)
        ax.plot(budgets, group["median"], label=f"{method} (n={seeds})", marker="o", **style)
        ax.fill_between(
            budgets, group["median_low"], group["median_high"], color=style["color"], alpha=0.1
        )
    ax.set_xscale("log")
    ticks = sorted(summary["budget"].unique())
    ax.set_xticks(ticks, [f"{b:g}" for b in ticks])
    ax.minorticks_off()
    ax.set_ylim(bottom=0)
    ax.set_xlabel("epoch budget of a run")
    ax.set_ylabel("normalized regret (median over seeds)")
    ax.set_title(title or "Regret against budget (median, 95% bootstrap band; lower is better)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="upper right")
    fig.tight_layout()
    return fig


def plot_final_scores(
    scores: pd.DataFrame,
    summary: pd.DataFrame,
    metric: str = metrics.METRIC,
    styles: Mapping[str, Style] | None = None,
) -> Figure:
    """Each run's score (dots, in the method's colour) and the method's median with its
    bootstrap CI (bar)."""
    styles = _styles(summary["method"], styles)
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
            color=styles[str(method)]["color"],
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


def plot_ranks(
    ranks: pd.DataFrame, x: str = CUM_EPOCHS, styles: Mapping[str, Style] | None = None
) -> Figure:
    """Average rank of each method (1 = best) at each budget (`average_ranks`)."""
    styles = _styles(ranks.columns, styles)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for method in ranks.columns:
        ax.plot(ranks.index, ranks[method], marker="o", label=str(method), **styles[str(method)])
    _integer_ticks(ax, x)
    ax.set_xlabel(_label(x))
    ax.set_ylabel("average rank over seeds (1 = best)")
    ax.set_title("Average rank of each method at growing budgets")
    ax.invert_yaxis()
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def plot_importance(
    importance: pd.DataFrame, evaluator: str = "fANOVA", caveat: str = ""
) -> Figure:
    """Horizontal bars of each hyperparameter's importance (`parameter_importance`); `caveat`
    (e.g. too few trials) goes under the title."""
    fig, ax = plt.subplots(figsize=(6, 0.45 * max(len(importance), 2) + 1.5))
    ordered = importance.sort_values("importance")
    ax.barh(ordered["parameter"], ordered["importance"], color="tab:green", label=evaluator)
    ax.set_xlabel("importance (normalized to sum to 1)")
    ax.set_ylabel("hyperparameter")
    title = f"Hyperparameter importance ({evaluator}, Optuna)"
    ax.set_title(f"{title}\n{caveat}" if caveat else title, fontsize=10 if caveat else None)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def _log_ticks(low: float, high: float) -> list[float]:
    """Ticks of a log axis: its ends, and the powers of ten between them."""
    decades = 10.0 ** np.arange(np.ceil(np.log10(low)), np.floor(np.log10(high)) + 1)
    inner = [d for d in decades if low * 1.3 < d < high / 1.3]  # no tick on top of an end
    return [low, *inner, high]


def _axis_values(column: pd.Series, log: bool) -> tuple[np.ndarray, list[str], list[float]]:
    """Values scaled to [0, 1] with tick labels and positions; on a log scale when `log`."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        values = column.astype(float).to_numpy()
        low, high = np.nanmin(values), np.nanmax(values)
        transform = np.log10 if log else (lambda v: np.asarray(v, dtype=float))
        t_low, t_high = transform(low), transform(high)
        span = (t_high - t_low) or 1.0
        ticks = _log_ticks(low, high) if log and high > low else [low, high]
        positions = [float((transform(t) - t_low) / span) for t in ticks]
        return (transform(values) - t_low) / span, [f"{t:.3g}" for t in ticks], positions
    categories = sorted(column.astype(str).unique())
    codes = column.astype(str).map({c: i for i, c in enumerate(categories)}).to_numpy(float)
    scale = max(len(categories) - 1, 1)
    return codes / scale, categories, [i / scale for i in range(len(categories))]


def plot_parallel_coordinates(
    trials: pd.DataFrame,
    metric: str = metrics.METRIC,
    log_scaled: Collection[str] | None = None,
) -> Figure:
    """One line per trial across its varying hyperparameters and its best `metric`, coloured by
    that metric (colour bar).

    Args:
        log_scaled: hyperparameters (names without `config/`) the search space samples on a log
            scale; by default those whose positive values span two decades (`is_log_scaled`).
    """
    columns = config_columns(trials, varying=True) + [f"best_{metric}"]
    data = trials[trials[f"best_{metric}"].notna()]
    logs = [
        c != f"best_{metric}"
        and (
            c.removeprefix(CONFIG_PREFIX) in log_scaled
            if log_scaled is not None
            else is_log_scaled(data[c])
        )
        and pd.api.types.is_numeric_dtype(data[c])
        and bool((data[c] > 0).all())
        for c in columns
    ]
    fig, ax = plt.subplots(figsize=(1.8 * len(columns) + 2, 4.5))
    scaled = [_axis_values(data[c], log) for c, log in zip(columns, logs, strict=True)]
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
    names = [_label(c) + (" (log)" if log else "") for c, log in zip(columns, logs, strict=True)]
    ax.set_xlim(-0.2, len(columns) - 0.6)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xticks(range(len(columns)), names, rotation=20, ha="right")
    ax.set_xlabel("hyperparameter (and the trial's best score)")
    ax.set_ylabel("position in the range seen (0 = lowest)")
    ax.set_title(f"Configurations against best {_label(metric)}")
    fig.colorbar(collection, ax=ax, label=f"best {_label(metric)}")
    fig.legend(fontsize=8, loc="lower left")  # outside the axes: keeps the tick labels clear
    fig.tight_layout()
    return fig


def plot_critical_difference(
    average_ranks: pd.Series,
    pvalues: pd.DataFrame,
    alpha: float = 0.05,
    title: str = "",
    styles: Mapping[str, Style] | None = None,
) -> Figure:
    """Critical-difference diagram: average ranks (1 = best) on an axis, methods that the
    post-hoc test cannot tell apart joined by a bar (scikit-posthocs' drawing), each method in
    its colour and line style."""
    import scikit_posthocs as posthocs

    methods = [str(m) for m in average_ranks.index]
    styles = _styles(methods, styles)
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(average_ranks) + 1.8))
    palette = {method: styles[method]["color"] for method in methods}
    drawn = posthocs.critical_difference_diagram(
        average_ranks, pvalues, alpha=alpha, ax=ax, color_palette=palette
    )
    for elbow, label in zip(drawn["elbows"], drawn["labels"], strict=True):
        # The drawing names each elbow only by its label's text: the longest method name in it.
        method = max((m for m in methods if m in label.get_text()), key=len)
        elbow.set_linestyle(styles[method]["linestyle"])
    ax.set_xlabel("average rank over seeds (1 = best)")
    ax.set_title(title or f"Critical difference (Nemenyi post-hoc, alpha {alpha})")
    fig.tight_layout()
    return fig
