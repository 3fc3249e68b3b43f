"""The headline of a compare report: at each budget, the best method, whether the Friedman test
finds a difference and which pairs differ, in plain sentences, with what the seeds allow."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from analysis import compare
from analysis.report.blocks import Block, Heading, Summary, Text
from analysis.significance import Verdict, friedman_verdict

FEW_SEEDS = 5  # below this many seeds a bootstrap interval is little more than the min-max


def report_budgets(history: pd.DataFrame, x: str, total: float | None = None) -> list[float]:
    """`compare.default_budgets` without those before every run has reported once (below one
    epoch: no result to compare, every run would tie at regret 1)."""
    first = float(history.groupby(compare.RUN_KEYS, sort=False)[x].min().max())
    budgets = [b for b in compare.default_budgets(history, x, total) if b >= first]
    return sorted(set(budgets)) or [float(history[x].max())]


def verdicts_at(regrets: pd.DataFrame, budgets: Sequence[float]) -> dict[float, Verdict | str]:
    """The Friedman + Nemenyi verdict at each budget, or why there is none."""
    verdicts: dict[float, Verdict | str] = {}
    for budget in budgets:
        try:
            verdicts[budget] = friedman_verdict(regrets, budget)
        except ValueError as error:
            verdicts[budget] = str(error)
    return verdicts


def _best(regrets: pd.DataFrame, budget: float, mode: str) -> tuple[str, float] | None:
    """Who has the best median score at `budget` ("a has", "a and b tie for"), and that
    median."""
    at = regrets[regrets["budget"] == budget]
    medians = at.groupby("method", sort=False)["value"].median().dropna()
    if medians.empty:
        return None
    top = float(medians.max() if mode == "max" else medians.min())
    best = [str(m) for m in medians.index[medians == top]]
    if len(best) == 1:
        return f"{best[0]} has", top
    return f"{', '.join(best[:-1])} and {best[-1]} tie for", top


def _test_sentence(verdict: Verdict | str) -> str:
    if isinstance(verdict, str):
        return f"No Friedman test: {verdict}."
    found = f"(p = {verdict.friedman_p:.3g}, alpha {verdict.alpha})"
    if not verdict.significant:
        return f"The Friedman test finds no significant difference between the methods {found}."
    pairs = verdict.pairs()
    if pairs.empty:
        return (
            f"The Friedman test finds a difference {found}, but the Nemenyi post-hoc test "
            "names no single pair."
        )
    listed = "; ".join(f"{r.better} beats {r.worse} (p = {r.p:.3g})" for r in pairs.itertuples())
    return f"The Friedman test finds a difference {found}; significant pairs: {listed}."


def _budget_text(budget: float, x_name: str) -> str:
    return f"{budget:g} {x_name}"


def headline_blocks(
    regrets: pd.DataFrame,
    verdicts: dict[float, Verdict | str],
    name: str,
    metric: str,
    mode: str,
    x_name: str = "epochs",
) -> list[Block]:
    """The headline section and the report's summary lines for one comparison."""
    seeds = int(regrets.groupby("method")["seed"].nunique().min()) if len(regrets) else 0
    rows = [(b, _best(regrets, b, mode), v) for b, v in verdicts.items()]
    rows = [(b, best, v) for b, best, v in rows if best is not None]
    if not rows:
        return [Heading(3, "Headline"), Text("No method has a result at any budget.")]
    blocks: list[Block] = [Heading(3, "Headline")]
    for budget, (method, median), verdict in rows:
        lead = f"At {_budget_text(budget, x_name)}, {method} the best median {metric}"
        test = "" if isinstance(verdict, str) else f" {_test_sentence(verdict)}"
        blocks.append(Text(f"{lead} ({median:.4f}).{test}"))
    reasons = dict.fromkeys(v for v in verdicts.values() if isinstance(v, str))
    blocks += [Text(_test_sentence(reason)) for reason in reasons]  # once, not per budget
    if seeds < FEW_SEEDS:
        blocks.append(
            Text(
                f"Only {seeds} seed{'s' if seeds != 1 else ''} per method: the intervals below "
                f"are little more than the min-max of too few seeds, not confidence intervals "
                f"(at least {FEW_SEEDS} seeds make them mean something)."
            )
        )
    budget, (method, median), verdict = rows[-1]
    sentence = _test_sentence(verdict)
    test = sentence[0].lower() + sentence[1:]  # "the Friedman test finds ..."
    line = f"Comparison `{name}`: at {_budget_text(budget, x_name)}, {method} the best median"
    return [Summary((f"{line} {metric} ({median:.4f}); {test}",)), *blocks]
