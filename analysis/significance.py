"""The verdict of a many-seed comparison: regret at budgets, and which differences are significant.

Works on `analysis.compare.anytime` frames (one best-so-far curve per method and seed).

- normalized regret at a budget: (best - value) / (best - worst), with best and worst the extremes
  of every run's best-so-far at any budget (or given, e.g. a replay table's best and worst); a run
  with no result yet at a budget has regret 1;
- per method and budget: median and IQM of the regret over seeds, with percentile-bootstrap 95%
  intervals (`analysis.compare.bootstrap_interval`);
- Friedman test over methods with seeds as blocks (seed k of every method forms block k;
  `scipy.stats.friedmanchisquare`), then the Nemenyi post-hoc test on the same blocks
  (`scikit_posthocs.posthoc_nemenyi_friedman`) and a critical-difference diagram of average ranks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.compare import at_budgets, bootstrap_interval, iqm
from analysis.results import CUM_EPOCHS

ALPHA = 0.05


def regret_at_budgets(
    anytime_frame: pd.DataFrame,
    budgets: Sequence[float],
    x: str = CUM_EPOCHS,
    mode: str = "max",
    best: float | None = None,
    worst: float | None = None,
) -> pd.DataFrame:
    """Per method, seed and budget: the best-so-far `value` and its normalized `regret`."""
    values = at_budgets(anytime_frame, budgets, x)
    sign = 1.0 if mode == "max" else -1.0
    signed = sign * anytime_frame["best_so_far"].astype(float)
    top = sign * best if best is not None else float(signed.max())
    bottom = sign * worst if worst is not None else float(signed.min())
    spread = top - bottom
    regret = (top - sign * values["value"]) / spread if spread > 0 else values["value"] * 0.0
    return values.assign(regret=regret.clip(0, 1).fillna(1.0))


def summarize_regret(regrets: pd.DataFrame, resamples: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Per method and budget: seeds, median and IQM regret, each with its bootstrap 95% CI."""
    rows = []
    for (budget, method), group in regrets.groupby(["budget", "method"], sort=False):
        values = group["regret"].to_numpy(dtype=float)
        row = {"budget": budget, "method": method, "seeds": len(values)}
        for name, statistic in (("median", np.median), ("iqm", iqm)):
            low, high = bootstrap_interval(values, statistic, resamples=resamples, seed=seed)
            row.update(
                {
                    f"regret_{name}": float(statistic(values)),
                    f"{name}_low": float(low),
                    f"{name}_high": float(high),
                }
            )
        rows.append(row)
    return pd.DataFrame(rows).sort_values(["budget", "regret_median", "regret_iqm"])


@dataclass(frozen=True)
class Verdict:
    """Friedman + Nemenyi over methods at one budget (regret: lower is better)."""

    budget: float
    average_ranks: pd.Series  # method -> mean rank over seeds (1 = best)
    friedman_statistic: float
    friedman_p: float
    pvalues: pd.DataFrame  # Nemenyi post-hoc p-values, methods x methods
    seeds: int  # blocks: the seeds every method ran
    alpha: float = ALPHA

    @property
    def significant(self) -> bool:
        return bool(self.friedman_p < self.alpha)

    def pairs(self) -> pd.DataFrame:
        """Every pair of methods whose difference the post-hoc test finds significant."""
        rows = []
        methods = list(self.average_ranks.index)
        for i, first in enumerate(methods):
            for second in methods[i + 1 :]:
                p = float(self.pvalues.loc[first, second])
                if self.significant and p < self.alpha:
                    better, worse = sorted((first, second), key=self.average_ranks.get)
                    rows.append({"better": better, "worse": worse, "p": p})
        return pd.DataFrame(rows, columns=["better", "worse", "p"])

    def statement(self) -> str:
        """One paragraph saying which differences are significant at `alpha`."""
        head = (
            f"At {self.budget:g}: Friedman chi2 = {self.friedman_statistic:.2f}, "
            f"p = {self.friedman_p:.3g} over {len(self.average_ranks)} methods and the "
            f"{self.seeds} seeds all of them ran"
        )
        if not self.significant:
            return f"{head}: no significant difference between the methods (alpha {self.alpha})."
        pairs = self.pairs()
        if pairs.empty:
            return (
                f"{head}: the methods differ (alpha {self.alpha}), but no single pair does "
                "under the Nemenyi post-hoc test."
            )
        listed = "; ".join(f"{r.better} < {r.worse} (p = {r.p:.3g})" for r in pairs.itertuples())
        return f"{head}. Significant pairs by Nemenyi post-hoc (lower regret first): {listed}."


def friedman_verdict(regrets: pd.DataFrame, budget: float, alpha: float = ALPHA) -> Verdict:
    """Friedman test and Nemenyi post-hoc over methods at `budget`, seeds as blocks.

    Only seeds that every method ran enter the test. ValueError with fewer than 3 methods or
    2 common seeds (the Friedman test needs them).
    """
    import scikit_posthocs as posthocs  # a declared dependency; imported here as it is slow

    at = regrets[np.isclose(regrets["budget"], budget)]
    matrix = at.pivot_table(index="seed", columns="method", values="regret", sort=False)
    matrix = matrix.dropna()
    if matrix.shape[1] < 3 or matrix.shape[0] < 2:
        raise ValueError(
            f"the Friedman test needs >= 3 methods and >= 2 seeds run by all of them; got "
            f"{matrix.shape[1]} methods and {matrix.shape[0]} common seeds"
        )
    ranks = matrix.rank(axis=1, method="average").mean().sort_values()
    if np.ptp(matrix.to_numpy(), axis=1).max() == 0:  # every seed ties every method
        statistic, p = 0.0, 1.0
    else:
        statistic, p = stats.friedmanchisquare(*(matrix[c].to_numpy() for c in matrix))
    pvalues = posthocs.posthoc_nemenyi_friedman(matrix.to_numpy())
    pvalues.index = pvalues.columns = list(matrix.columns)
    return Verdict(
        float(budget), ranks, float(statistic), float(p), pvalues.fillna(1.0), len(matrix), alpha
    )
