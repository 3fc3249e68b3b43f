"""How well a replay table predicts configurations it did not record, and its card.

`kfold_check` holds out each fold of the recorded configurations in turn, fits the replay's two
models on the rest, and compares their predictions of the held-out configurations' final
`val_acc` (mean over training seeds) with the recorded one: Spearman's rank correlation and the
mean absolute error. `nearest` replays the nearest recorded configuration (`ReplayTable.snap`);
`surrogate` is the k-NN curve regression (`trainables.replay_model`). `card` summarises what a
table holds: space, scale, seeds, hours, and the spread of final `val_acc` across seeds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from trainables import metrics
from trainables.replay import CONFIG_ID, ReplayTable
from trainables.replay_model import MODELLED, CurveSurrogate

FINAL = MODELLED.index(metrics.VAL_ACC)


def final_val_acc(table: ReplayTable) -> pd.Series:
    """Per config_id: the final val_acc averaged over its recorded training seeds."""
    means = table.mean_curves()
    return pd.Series({cid: float(curve[-1, FINAL]) for cid, curve in means.items()}, name="final")


def kfold_check(table: ReplayTable, folds: int = 5, seed: int = 0) -> pd.DataFrame:
    """Per model (`nearest`, `surrogate`): Spearman's rho and the MAE of held-out predictions
    of final val_acc, pooled over `folds` folds of the configurations; and the configurations."""
    ids = np.array(table.config_ids())
    if len(ids) < max(folds, 3):
        raise ValueError(f"a {folds}-fold check needs at least {max(folds, 3)} configurations")
    truth = final_val_acc(table)
    configs = dict(zip(table.config_ids(), table.configs(), strict=True))
    order = np.random.default_rng(seed).permutation(ids)
    predictions: dict[str, dict[int, float]] = {"nearest": {}, "surrogate": {}}
    for held in np.array_split(order, folds):
        rest = table.frame[~table.frame[CONFIG_ID].isin(held)]
        meta = {**table.meta, "replay_model": "nearest"}
        known = ReplayTable(rest, meta, table.log_scale)
        known_final = final_val_acc(known)
        surrogate = CurveSurrogate(known.encode(known.configs()), known.mean_curves(), table.epochs)
        points = known.encode([configs[int(i)] for i in held])
        modelled = surrogate.predict(points)[:, -1, FINAL]
        for config_id, value in zip(held, modelled, strict=True):
            predictions["nearest"][int(config_id)] = known_final[
                known.snap(configs[int(config_id)])
            ]
            predictions["surrogate"][int(config_id)] = float(value)
    rows = []
    for model, predicted in predictions.items():
        keys = sorted(predicted)
        guess, real = np.array([predicted[k] for k in keys]), truth[keys].to_numpy()
        rho = stats.spearmanr(guess, real).statistic if np.ptp(guess) and np.ptp(real) else np.nan
        rows.append(
            {"model": model, "spearman_rho": float(rho), "mae": float(np.abs(guess - real).mean()),
             "configs": len(keys), "folds": folds}
        )  # fmt: skip
    return pd.DataFrame(rows).set_index("model")


def better_model(check: pd.DataFrame) -> str:
    """The model with the higher rank correlation; the lower MAE on a tie (or no correlation)."""
    ranked = check.assign(rho=check["spearman_rho"].fillna(-np.inf))
    return str(ranked.sort_values(["rho", "mae"], ascending=[False, True]).index[0])


def seed_spread(table: ReplayTable) -> pd.DataFrame:
    """Per configuration with two or more seeds: std and range of final val_acc across seeds."""
    rows = []
    for config_id in table.config_ids():
        seeds = table.seeds(config_id)
        if len(seeds) < 2:
            continue
        finals = [table.padded_curve(config_id, s)[-1, FINAL] for s in seeds]
        rows.append(
            {CONFIG_ID: config_id, "seeds": len(seeds), "std": float(np.std(finals, ddof=1)),
             "range": float(np.ptp(finals))}
        )  # fmt: skip
    return pd.DataFrame(rows, columns=[CONFIG_ID, "seeds", "std", "range"])


def card(table: ReplayTable) -> list[str]:
    """The table's card as lines of text (module doc)."""
    meta: dict[str, Any] = dict(table.meta)
    lines = [f"job: {meta.get('job')}; {table.sizes()}"]
    space = meta.get("space", {}).get("dimensions")
    for name, dimension in (space or {}).items():
        domain = dimension.get("options") or [dimension.get("low"), dimension.get("high")]
        scale = " (log)" if dimension.get("log") else ""
        lines.append(f"  {name}: {dimension['kind']} {domain}{scale}, grid {dimension['grid']}")
    if not space:
        lines.append(f"  tuned: {', '.join(table.tuned)} (recorded values only)")
    lines.append(f"  fixed: {meta.get('fixed')}")
    sizes = meta.get("data_sizes")
    lines.append(f"scale: {table.epochs} epochs; data {sizes or 'not recorded'}")
    configs = meta.get("configs")
    lines.append(f"configurations: {configs}; training seeds: {meta.get('train_seeds', 'one')}")
    trained = float(table.frame["seconds"].sum()) / 3600
    wall = f"{meta['seconds'] / 3600:.2f} wall" if "seconds" in meta else "wall not recorded"
    lines.append(f"hours: {trained:.2f} of trial time (recorded epochs); {wall}")
    for session in meta.get("recorded_on", []):
        lines.append(
            f"  recorded on {session.get('host')} ({session.get('cpu')}, {session.get('cpus')} "
            f"CPUs, GPU {session.get('gpu')}): {session.get('trials')} trials in "
            f"{session.get('seconds', 0.0) / 3600:.2f} h"
        )
    finals = final_val_acc(table)
    lines.append(f"final val_acc over configurations: {finals.min():.4f} to {finals.max():.4f}")
    spread = seed_spread(table)
    if spread.empty:
        lines.append("spread across training seeds: one seed per configuration, none to measure")
    else:
        lines.append(
            f"spread of final val_acc across training seeds ({len(spread)} configurations): std "
            f"median {spread['std'].median():.4f}, max {spread['std'].max():.4f}; range median "
            f"{spread['range'].median():.4f}, max {spread['range'].max():.4f}"
        )
    reason = meta.get("replay_model_reason")
    model = meta.get("replay_model", "nearest")
    lines.append(f"replay model: {model}" + (f" ({reason})" if reason else ""))
    return lines
