"""Statistics that compare HPO methods over seeds, on the frames of `analysis.results`.

Every function takes a curves frame with `method` and `seed` columns (`load_compare`'s) or a frame
derived from it, and returns a frame. Conventions, for `mode="max"` (accuracy):

- anytime curve: best validation score so far against the experiment's cumulative epochs
  (`cum_epochs`) or trial-seconds (`cum_seconds`); a run's value stays at its last best after the
  run ends, and is NaN before its first report;
- a run's score: its best validation score over the whole run (or up to a budget);
- IQM: the mean of the middle half of the seeds (`scipy.stats.trim_mean(x, 0.25)`);
- confidence intervals: percentile bootstrap over seeds (`scipy.stats.bootstrap`), seeded;
- normalized regret: (best score of any run - score) / (best - worst score of any run), in [0, 1];
- ranks: per seed, 1 = best method, ties share the mean rank, a run with no result yet is last.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.results import CUM_EPOCHS, CUM_SECONDS
from trainables import metrics

BEST_SO_FAR = "best_so_far"
RUN_KEYS = ["method", "seed"]
CONFIDENCE = 0.95
RESAMPLES = 2000


def _sign(mode: str) -> int:
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    return 1 if mode == "max" else -1


def anytime(
    curves: pd.DataFrame, metric: str = metrics.METRIC, mode: str = metrics.MODE
) -> pd.DataFrame:
    """Per method, seed and report: `cum_epochs`, `cum_seconds`, and the best `metric` so far."""
    sign = _sign(mode)
    frame = curves[[*RUN_KEYS, CUM_EPOCHS, CUM_SECONDS, metric]].copy()
    # NaN (a diverged report) never counts as best; -inf marks "no result yet" until the cummax.
    signed = (sign * frame[metric]).fillna(-np.inf)
    best = signed.groupby([frame[k] for k in RUN_KEYS], sort=False).cummax()
    frame[BEST_SO_FAR] = (sign * best).replace([np.inf, -np.inf], np.nan)
    return frame.drop(columns=metric).sort_values([*RUN_KEYS, CUM_EPOCHS], kind="stable")


def at_budgets(anytime_frame: pd.DataFrame, budgets: Sequence[float], x: str = CUM_EPOCHS):
    """Best so far of every run at each budget of `x` (a step function: the last report <= b)."""
    budgets = np.asarray(budgets, dtype=float)
    rows = []
    for (method, seed), run in anytime_frame.groupby(RUN_KEYS, sort=False):
        run = run.sort_values(x, kind="stable")
        where = np.searchsorted(run[x].to_numpy(), budgets, side="right") - 1
        values = run[BEST_SO_FAR].to_numpy()[np.maximum(where, 0)]
        values = np.where(where >= 0, values, np.nan)
        rows.append(
            pd.DataFrame({"method": method, "seed": seed, "budget": budgets, "value": values})
        )
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def run_scores(
    curves: pd.DataFrame,
    metric: str = metrics.METRIC,
    mode: str = metrics.MODE,
    budget_epochs: float | None = None,
) -> pd.DataFrame:
    """One row per method and seed: the run's best `metric` (its score), and the test accuracy
    of the report that reached it (selection by validation only), up to `budget_epochs`."""
    frame = curves if budget_epochs is None else curves[curves[CUM_EPOCHS] <= budget_epochs]
    frame = frame[frame[metric].notna()]
    signed = _sign(mode) * frame[metric]
    index = signed.groupby([frame[k] for k in RUN_KEYS], sort=False).idxmax()
    best = frame.loc[index.to_numpy()]
    columns = {metric: "score"}
    if metrics.TEST_ACC in best:
        columns[metrics.TEST_ACC] = "test_acc"
    scores = best[[*RUN_KEYS, *columns]].rename(columns=columns)
    return scores.sort_values(RUN_KEYS).reset_index(drop=True)


def iqm(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """Interquartile mean: the mean after cutting a quarter of the values from each end."""
    return stats.trim_mean(values, 0.25, axis=axis)


def bootstrap_interval(
    values: Sequence[float] | np.ndarray,
    statistic: Callable[..., np.ndarray],
    confidence: float = CONFIDENCE,
    resamples: int = RESAMPLES,
    seed: int = 0,
    axis: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile-bootstrap interval of `statistic` over `axis` (NaN with fewer than 2 values).

    `statistic` must accept `axis=` (np.median, `iqm`); the call is vectorized over the other axes.
    """
    data = np.asarray(values, dtype=float)
    if data.shape[axis] < 2:
        shape = np.delete(data.shape, axis) if data.ndim > 1 else ()
        return np.full(shape, np.nan), np.full(shape, np.nan)
    result = stats.bootstrap(
        (data,),
        statistic,
        axis=axis,
        vectorized=True,
        n_resamples=resamples,
        confidence_level=confidence,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return result.confidence_interval.low, result.confidence_interval.high


def normalized_regret(scores: pd.DataFrame, mode: str = metrics.MODE) -> pd.Series:
    """(best score of any run - score) / (best - worst), 0 for the best run, 1 for the worst."""
    sign = _sign(mode)
    signed = sign * scores["score"]
    spread = signed.max() - signed.min()
    regret = (signed.max() - signed) / spread if spread > 0 else signed * 0.0
    return regret.rename("regret")


def summarize(
    scores: pd.DataFrame,
    mode: str = metrics.MODE,
    confidence: float = CONFIDENCE,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> pd.DataFrame:
    """Per method: seeds, median and IQM of the scores with bootstrap CIs, normalized regret."""
    scores = scores.assign(regret=normalized_regret(scores, mode))
    rows = []
    for method, group in scores.groupby("method", sort=False):
        values = group["score"].to_numpy(dtype=float)
        row = {"method": method, "seeds": len(values)}
        for name, statistic in (("median", np.median), ("iqm", iqm)):
            low, high = bootstrap_interval(values, statistic, confidence, resamples, seed)
            row.update({name: float(statistic(values)), f"{name}_low": low, f"{name}_high": high})
        row["regret_median"] = float(group["regret"].median())
        row["regret_iqm"] = float(iqm(group["regret"].to_numpy(dtype=float)))
        if "test_acc" in group:
            row["test_acc_median"] = float(group["test_acc"].median())
        rows.append(row)
    frame = pd.DataFrame(rows)
    for column in ("median_low", "median_high", "iqm_low", "iqm_high"):
        frame[column] = frame[column].astype(float)
    return frame.sort_values("median", ascending=mode == "min", kind="stable").reset_index(
        drop=True
    )


def time_to_target(
    anytime_frame: pd.DataFrame, target: float, mode: str = metrics.MODE
) -> pd.DataFrame:
    """Per method and seed: cumulative epochs and seconds when the best so far first reached
    `target` (inf when it never did)."""
    sign = _sign(mode)
    reached = anytime_frame[sign * anytime_frame[BEST_SO_FAR] >= sign * target]
    first = reached.groupby(RUN_KEYS, sort=False)[[CUM_EPOCHS, CUM_SECONDS]].min()
    runs = anytime_frame[RUN_KEYS].drop_duplicates().set_index(RUN_KEYS)
    first = runs.join(first).astype(float).fillna(np.inf)
    return first.rename(columns={CUM_EPOCHS: "epochs_to_target", CUM_SECONDS: "seconds_to_target"})


def summarize_time_to_target(per_run: pd.DataFrame) -> pd.DataFrame:
    """Per method: the fraction of seeds that reached the target and the median epochs and
    seconds it took (inf when fewer than half of the seeds reached it)."""
    grouped = per_run.groupby(level="method", sort=False)
    return pd.DataFrame(
        {
            "reached": grouped["epochs_to_target"].apply(lambda s: float(np.isfinite(s).mean())),
            "epochs_to_target": grouped["epochs_to_target"].median(),
            "seconds_to_target": grouped["seconds_to_target"].median(),
        }
    )


def average_ranks(
    anytime_frame: pd.DataFrame,
    budgets: Sequence[float],
    x: str = CUM_EPOCHS,
    mode: str = metrics.MODE,
) -> pd.DataFrame:
    """Mean rank of each method over seeds at each budget of `x`: rows budgets, columns methods."""
    values = at_budgets(anytime_frame, budgets, x)
    ranks = values.groupby(["budget", "seed"], sort=False)["value"].rank(
        ascending=mode == "min", method="average", na_option="bottom"
    )
    table = values.assign(rank=ranks).pivot_table(
        index="budget", columns="method", values="rank", aggfunc="mean", sort=False
    )
    table.columns.name = None
    return table


def default_budgets(
    anytime_frame: pd.DataFrame, x: str = CUM_EPOCHS, total: float | None = None
) -> list[float]:
    """A tenth, a quarter, half and all of `total` (default: the longest run's last `x`)."""
    total = float(anytime_frame[x].max()) if total is None else float(total)
    return [total * fraction for fraction in (0.1, 0.25, 0.5, 1.0)]


def anytime_bands(
    anytime_frame: pd.DataFrame,
    x: str = CUM_EPOCHS,
    points: int = 60,
    confidence: float = CONFIDENCE,
    resamples: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Per method, on a grid of `points` budgets: median best-so-far over seeds and its bootstrap
    CI (one vectorized bootstrap per method). NaN where some seed has no result yet."""
    top = float(anytime_frame[x].max())
    low_x = float(anytime_frame[x].min())
    grid = np.linspace(low_x, top, points)
    values = at_budgets(anytime_frame, grid, x)
    parts = []
    for method, group in values.groupby("method", sort=False):
        matrix = group.pivot(index="seed", columns="budget", values="value").to_numpy()
        low, high = np.full(points, np.nan), np.full(points, np.nan)
        ready = np.isfinite(matrix).all(axis=0)  # every seed has a result at this budget
        if ready.any():
            interval = bootstrap_interval(matrix[:, ready], np.median, confidence, resamples, seed)
            low[ready], high[ready] = interval
        parts.append(
            pd.DataFrame(
                {
                    "method": method,
                    x: grid,
                    "median": np.median(matrix, axis=0),
                    "low": low,
                    "high": high,
                    "seeds": matrix.shape[0],
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def comparison_table(
    curves: pd.DataFrame,
    metric: str = metrics.METRIC,
    mode: str = metrics.MODE,
    target: float | None = None,
    budget_epochs: float | None = None,
    seed: int = 0,
) -> tuple[pd.DataFrame, float]:
    """The per-method table of the report: score statistics, regret, time to `target` (default:
    the median score of all runs), and the target used."""
    scores = run_scores(curves, metric, mode, budget_epochs)
    summary = summarize(scores, mode, seed=seed)
    target = float(scores["score"].median()) if target is None else float(target)
    reach = summarize_time_to_target(time_to_target(anytime(curves, metric, mode), target, mode))
    return summary.join(reach, on="method"), target
