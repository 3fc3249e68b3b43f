"""A simulated compare folder read back (`tune-jobs compare --replay TABLE --simulate`).

Its manifest lists the runs as a compare's does; each finished run's reports are one table,
curves/<run>.parquet, with `cum_epochs` and `cum_seconds` already counted in the order the
simulated epochs ended (`tune_jobs.simulate`), so no Tune experiment is read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from analysis.layout import ITERATION
from trainables import metrics


def load_simulated(
    path: str | Path, manifest: dict[str, Any], metric: str = metrics.METRIC, mode: str = "max"
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Runs, trials and curves frames of a simulated compare folder (a table of reports a run).

    The curves carry what a replayed Tune run reports, with `cum_epochs` and `cum_seconds`
    already counted in the order the simulated epochs ended; the trials frame has one row per
    trial: epochs, best and final `metric`, and the test accuracy at the best epoch.
    """
    runs = pd.DataFrame(
        [
            {key: run.get(key) for key in ("method", "seed", "status", "trials", "error")}
            for run in manifest["runs"]
        ],
        columns=["method", "seed", "status", "trials", "error"],
    )
    parts = [
        pd.read_parquet(Path(path) / run["path"]).assign(method=run["method"], seed=run["seed"])
        for run in manifest["runs"]
        if run["status"] == "finished"
    ]
    curves = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if curves.empty:
        return runs, pd.DataFrame(), curves
    keys = ["method", "seed", "trial_id"]
    best = curves.loc[
        (curves[metric] if mode == "max" else -curves[metric])
        .groupby([curves[k] for k in keys], sort=False)
        .idxmax()
        .dropna()
    ].set_index(keys)
    grouped = curves.groupby(keys, sort=False)
    trials = pd.DataFrame(
        {
            "epochs": grouped[ITERATION].max(),
            f"best_{metric}": best[metric],
            "best_epoch": best[metrics.EPOCH] if metrics.EPOCH in best else best[ITERATION],
            f"final_{metric}": grouped[metric].last(),
            f"{metrics.TEST_ACC}_at_best": best.get(metrics.TEST_ACC),
        }
    ).reset_index()
    return runs, trials, curves
