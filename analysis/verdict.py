"""The verdict on HPO methods over a replay table: budgets, references, merged compare folders,
and how well a replayed comparison predicts a real one.

- budgets: fractions of the grid's epochs (the table's grid points x its epochs: what a `grid`
  run needs to finish once; `tune-jobs compare`'s default budget);
- reference for normalized regret: the best `metric` any recorded run reached at any epoch (what
  a replayed run's score, its best epoch, can reach at most), and the worst mean final `metric`
  over the table's configurations (mean over recorded training seeds of the last epoch);
- several compare folders of one budget add up (a resumed benchmark), a later run of the same
  (method, seed) replacing an earlier one;
- agreement of a replayed and a real comparison: Spearman's rho between the methods' medians,
  and the share of real runs inside the replayed 5-95% interval of their method;
- a run's pick retrained: the mean final val_acc over recorded seeds of its best configuration.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis.compare import RUN_KEYS, bootstrap_interval, iqm
from analysis.replay_check import final_val_acc
from analysis.results import load_compare
from trainables import metrics
from trainables.replay import CONFIG_ID, REPLAY_CONFIG, TRAIN_SEED, ReplayTable

FRACTIONS = (0.1, 0.25, 0.5, 1.0, 3.0)
INTERVAL = (5.0, 95.0)  # percentiles of the replayed interval a real run should fall in


def grid_epochs(table: ReplayTable) -> int:
    """Epochs a grid run needs on the table's space: grid points x the table's epochs.

    A recorded table names its space (each dimension's grid); a table built from one grid run
    has as grid every recorded value of each tuned dimension.
    """
    dimensions = table.meta.get("space", {}).get("dimensions")
    if dimensions is not None:
        sizes = [len(d.get("grid") or d.get("options") or ()) for d in dimensions.values()]
    else:
        sizes = [len(table.values(name)) for name in table.tuned]
    if not sizes or min(sizes) < 1:
        raise ValueError("the table's space has a dimension without grid values")
    return math.prod(sizes) * table.epochs


def budgets_of(total: int, fractions: Sequence[float] = FRACTIONS) -> list[int]:
    """Whole-epoch budgets at `fractions` of `total` (at least 1 epoch each, no repeats)."""
    if any(f <= 0 for f in fractions):
        raise ValueError(f"budget fractions must be > 0, got {list(fractions)}")
    return sorted({max(1, round(total * f)) for f in fractions})


def table_reference(
    table: ReplayTable, metric: str = metrics.METRIC, mode: str = metrics.MODE
) -> tuple[float, float]:
    """(best, worst): the best `metric` of any recorded epoch, and the worst configuration's mean
    over training seeds of its final `metric`.

    A run scores its best epoch of one drawn seed, so a best *mean final* value as reference
    would leave many runs above it and their regrets all clipped to 0."""
    frame = table.frame
    seed = frame[TRAIN_SEED] if TRAIN_SEED in frame else 0
    last = frame.assign(_seed=seed).sort_values(metrics.EPOCH)
    final = last.groupby([CONFIG_ID, "_seed"])[metric].last()
    means = final.groupby(level=CONFIG_ID).mean().dropna()
    if means.empty:
        raise ValueError(f"the table has no final {metric}")
    recorded = frame[metric].dropna()
    best, worst = (recorded.max(), means.min()) if mode == "max" else (recorded.min(), means.max())
    return float(best), float(worst)


def load_compares(
    paths: Sequence[str | Path], metric: str = metrics.METRIC, time_column: str | None = None
) -> tuple[list[dict[str, Any]], pd.DataFrame]:
    """The manifest runs and curves of compare folders, a (method, seed) run again in a later
    folder replacing the earlier one (folders in the order given)."""
    loaded = [
        load_compare(path, metric, **({"time_column": time_column} if time_column else {}))
        for path in paths
    ]
    owner: dict[tuple[str, int], int] = {}
    for index, (manifest, *_) in enumerate(loaded):
        for run in manifest["runs"]:
            owner[(run["method"], int(run["seed"]))] = index
    runs = [
        {**run, "folder": str(paths[index])}
        for index, (manifest, *_) in enumerate(loaded)
        for run in manifest["runs"]
        if owner[(run["method"], int(run["seed"]))] == index
    ]
    parts = []
    for index, (*_, curves) in enumerate(loaded):
        if curves.empty:
            continue
        keys = zip(curves["method"], curves["seed"].astype(int), strict=True)
        parts.append(curves[[owner.get(key) == index for key in keys]])
    return runs, pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def missing_runs(
    runs: Sequence[dict[str, Any]], methods: Sequence[str], seeds: Sequence[int]
) -> dict[str, list[int]]:
    """Per method, the seeds without a finished run (methods with none missing left out)."""
    done = {(r["method"], int(r["seed"])) for r in runs if r.get("status") == "finished"}
    missing = {m: [s for s in seeds if (m, s) not in done] for m in methods}
    return {m: s for m, s in missing.items() if s}


def seed_ranges(seeds: Sequence[int]) -> list[tuple[int, int]]:
    """Consecutive runs of `seeds` as (first, count): [0, 1, 2, 5] -> [(0, 3), (5, 1)]."""
    ranges: list[tuple[int, int]] = []
    for seed in sorted(set(seeds)):
        if ranges and ranges[-1][0] + ranges[-1][1] == seed:
            ranges[-1] = (ranges[-1][0], ranges[-1][1] + 1)
        else:
            ranges.append((seed, 1))
    return ranges


def regret_summary(regrets: pd.DataFrame, ranks: pd.Series | None = None) -> pd.DataFrame:
    """Per method at one budget: seeds, median and IQM regret with bootstrap 95% intervals,
    and the mean rank (`ranks`, from the Friedman verdict; NaN without one)."""
    rows = []
    for method, group in regrets.groupby("method", sort=False):
        values = group["regret"].to_numpy(dtype=float)
        row: dict[str, Any] = {"method": method, "seeds": len(values)}
        for name, statistic in (("median", np.median), ("iqm", iqm)):
            low, high = bootstrap_interval(values, statistic)
            row.update({name: float(statistic(values)), f"{name}_low": float(low)})
            row[f"{name}_high"] = float(high)
        row["mean_rank"] = float(ranks.get(method, np.nan)) if ranks is not None else np.nan
        rows.append(row)
    return pd.DataFrame(rows).sort_values(["median", "iqm"], kind="stable").reset_index(drop=True)


def rank_agreement(replayed: pd.Series, real: pd.Series) -> tuple[float, float, int]:
    """Spearman's rho and p between two per-method statistics (on the methods both have), and
    the number of methods; NaN with fewer than 3 methods."""
    both = pd.concat({"replayed": replayed, "real": real}, axis=1).dropna()
    if len(both) < 3:
        return float("nan"), float("nan"), len(both)
    rho, p = stats.spearmanr(both["replayed"], both["real"])
    return float(rho), float(p), len(both)


def coverage(
    replayed: pd.DataFrame,
    real: pd.DataFrame,
    column: str = "score",
    interval: tuple[float, float] = INTERVAL,
) -> pd.DataFrame:
    """Per method of `real`: its runs, how many lie inside the replayed `interval` (percentiles
    over the replayed runs of the same method), and that interval (NaN where none replayed)."""
    rows = []
    for method, mine in real.groupby("method", sort=False):
        values = replayed.loc[replayed["method"] == method, column].to_numpy(dtype=float)
        low, high = np.percentile(values, interval) if len(values) else (np.nan, np.nan)
        inside = int(((mine[column] >= low) & (mine[column] <= high)).sum())
        rows.append(
            {"method": method, "real_runs": len(mine), "inside": inside, "low": low, "high": high}
        )
    return pd.DataFrame(rows, columns=["method", "real_runs", "inside", "low", "high"])


def per_run(scores: pd.DataFrame, best: float, worst: float, mode: str = metrics.MODE):
    """`run_scores` with each run's normalized `regret` against a fixed (best, worst)."""
    sign = 1.0 if mode == "max" else -1.0
    spread = sign * (best - worst)
    regret = sign * (best - scores["score"]) / spread if spread > 0 else scores["score"] * 0.0
    return scores.assign(regret=regret.clip(0, 1)).sort_values(RUN_KEYS)


def fully_seeded(regrets: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The regrets of the methods that ran the most seeds, and the methods left out: a method
    run with fewer seeds (gp at large budgets, for time) would shrink the Friedman test's
    blocks to its seeds for every method."""
    seeds = regrets.groupby("method")["seed"].nunique()
    full = seeds[seeds == seeds.max()].index
    left_out = sorted(set(seeds.index) - set(full))
    return regrets[regrets["method"].isin(full)], left_out


def budget_matrix(summary: pd.DataFrame) -> pd.DataFrame:
    """Methods x budgets: median regret and its rank at that budget (1: lowest), methods in
    the order of their mean rank over budgets; seeds in brackets where fewer than the most."""
    most = summary["seeds"].max()
    ranks = summary.groupby("budget")["median"].rank(method="min").astype(int)
    cells = [
        f"{median:.4f} ({rank})" + (f" [{seeds}]" if seeds < most else "")
        for median, rank, seeds in zip(summary["median"], ranks, summary["seeds"], strict=True)
    ]
    matrix = summary.assign(cell=cells, rank=ranks).pivot(index="method", columns="budget")
    order = matrix["rank"].mean(axis=1).sort_values(kind="stable").index
    return matrix["cell"].loc[order]


def retrained_picks(curves: pd.DataFrame, table: ReplayTable) -> pd.DataFrame:
    """Per replayed run (method, seed): the configuration of its best report, and that
    configuration's final val_acc averaged over its recorded training seeds.

    What retraining a run's pick would give on average, free of the luck of the seed its best
    epoch drew: a method that re-proposes one configuration until its luckiest seed comes up
    wins on regret, not here.
    """
    best = curves.loc[curves.groupby(RUN_KEYS)[metrics.METRIC].idxmax()]
    picks = best[[*RUN_KEYS, REPLAY_CONFIG]].reset_index(drop=True)
    picks[REPLAY_CONFIG] = picks[REPLAY_CONFIG].astype(int)
    return picks.assign(retrained=picks[REPLAY_CONFIG].map(final_val_acc(table)))
