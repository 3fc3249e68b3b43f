"""The trials and curves frames of a results folder as files other tools read (CSV, Parquet).

The frames are those of `analysis.results`: `trials_frame` and `curves_frame` for an experiment
folder, `load_compare`'s trials and curves (with `method` and `seed` columns) for a compare folder.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa

from analysis.layout import COMPARE, TIME_TOTAL, folder_kind
from analysis.results import (
    curves_frame,
    list_folder,
    load_compare,
    load_experiment,
    trials_frame,
)
from trainables import metrics

FORMATS = ("csv", "parquet")
TABLES = ("trials", "curves")


def results_tables(
    path: str | Path,
    metric: str = metrics.METRIC,
    mode: str = metrics.MODE,
    time_column: str = TIME_TOTAL,
) -> dict[str, pd.DataFrame]:
    """`{"trials": ..., "curves": ...}` of the experiment or compare folder at `path`;
    NotAnExperimentError for anything else."""
    if folder_kind(list_folder(path)[2]) == COMPARE:
        _, _, trials, curves = load_compare(path, metric, mode, time_column)
        return {"trials": trials, "curves": curves}
    grid = load_experiment(path)
    curves = curves_frame(grid, time_column)
    return {"trials": trials_frame(grid, curves, metric, mode, time_column), "curves": curves}


def _parquet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns Arrow cannot type (e.g. numbers mixed with text) as text, None kept."""
    fixed = {}
    for column in frame.select_dtypes(include="object").columns:
        try:
            pa.array(frame[column], from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            fixed[column] = frame[column].map(lambda v: v if v is None else str(v))
    return frame.assign(**fixed) if fixed else frame


def write_tables(tables: dict[str, pd.DataFrame], out: str | Path, fmt: str) -> list[Path]:
    """Write each frame as `out/<name>.<fmt>` (csv or parquet); the files written."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in tables.items():
        path = out / f"{name}.{fmt}"
        if fmt == "csv":
            frame.to_csv(path, index=False)
        else:
            _parquet_safe(frame).to_parquet(path, index=False)
        written.append(path)
    return written
