"""Replay of recorded learning curves: a trainable that reports a table instead of training.

A replay table (written by `tune-jobs replay build`, read by `read_table`) holds, for every
configuration of a finished grid run, each epoch's reported metrics and the seconds that epoch
took. `ReplayTrainable` reports those rows epoch by epoch, so Ray Tune's real searchers and
schedulers run against recorded curves in milliseconds per trial.

- Simulated clock: each report carries `replay_seconds`, the recorded seconds of the configuration
  up to that epoch (Ray's own `time_total_s` stays the wall clock of the replay, which orders
  reports as the schedulers saw them).
- Checkpoints hold the position (epoch, simulated seconds), so pausing schedulers and PBT work
  unchanged. A PBT trial that exploits a donor continues from the donor's epoch on its own
  (mutated) configuration's curve: the table cannot know what a changed configuration would do
  with the donor's weights, so this is the usual tabular approximation.
- Snapping: a configuration that is not in the table (a searcher's value between recorded ones,
  a PBT perturbation) is replayed as the nearest recorded one: per tuned dimension, the distance
  on its scale (log or linear) divided by the recorded range, 1 for a different category;
  Euclidean over dimensions, the first recorded configuration on ties. `replay_config` in each
  report names the configuration replayed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from ray import tune
from ray.tune.result import DONE

from trainables import metrics as m

CONFIG_PREFIX = "config/"
CONFIG_ID = "config_id"
SECONDS = "seconds"  # seconds the recorded epoch took (Ray's time_this_iter_s)
REPLAY_SECONDS = "replay_seconds"  # simulated clock: recorded seconds of the trial so far
REPLAY_CONFIG = "replay_config"  # which recorded configuration a report replays
METADATA_KEY = b"tune_jobs_replay"


class ReplayTableError(ValueError):
    """A file that is not a replay table, or a table that cannot be replayed."""


@dataclass(frozen=True)
class ReplayTable:
    """The recorded curves of a finite set of configurations, ready to look up and replay.

    Args:
        frame: one row per configuration and epoch: `config_id`, `config/<name>` for every tuned
            dimension, `epoch`, `seconds` and every reported metric.
        meta: what the table was built from (`job`, `source`, `metric`, `mode`, `epochs`,
            `tuned`, `fixed`).
        log_scale: tuned dimensions whose distances are measured on a log scale.
    """

    frame: pd.DataFrame
    meta: Mapping[str, Any]
    log_scale: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        required = [CONFIG_ID, m.EPOCH, SECONDS]
        missing = [c for c in required if c not in self.frame]
        if missing or "tuned" not in self.meta:
            raise ReplayTableError(f"not a replay table: it lacks {missing or ['its metadata']}")
        tuned = list(self.meta["tuned"])
        absent = [name for name in tuned if CONFIG_PREFIX + name not in self.frame]
        if absent:
            raise ReplayTableError(f"replay table lacks columns for tuned {', '.join(absent)}")
        configs = self.frame.groupby(CONFIG_ID, sort=True).first()
        object.__setattr__(self, "_configs", configs[[CONFIG_PREFIX + n for n in tuned]])
        curves = {}
        reported = [c for c in self.frame if not c.startswith(CONFIG_PREFIX) and c != CONFIG_ID]
        for config_id, rows in self.frame.groupby(CONFIG_ID, sort=True):
            rows = rows.sort_values(m.EPOCH)
            curves[int(config_id)] = [
                {k: _plain(v) for k, v in row.items() if not _missing(v)}
                for row in rows[reported].to_dict("records")
            ]
        object.__setattr__(self, "_curves", curves)
        object.__setattr__(self, "_coordinates", self._encode_table())

    # --- the finite space of the table

    @property
    def tuned(self) -> list[str]:
        return list(self.meta["tuned"])

    @property
    def epochs(self) -> int:
        return int(self.frame[m.EPOCH].max())

    def values(self, name: str) -> list[Any]:
        """The recorded values of tuned dimension `name`, sorted."""
        return sorted(self._configs[CONFIG_PREFIX + name].unique().tolist())

    def configs(self) -> list[dict[str, Any]]:
        """Every recorded configuration (tuned dimensions only), by config_id."""
        rows = self._configs.rename(columns=lambda c: c.removeprefix(CONFIG_PREFIX))
        return [{k: _plain(v) for k, v in row.items()} for row in rows.to_dict("records")]

    def sizes(self) -> str:
        return f"replay table: {len(self._curves)} configurations x up to {self.epochs} epochs"

    # --- lookup

    def snap(self, config: Mapping[str, Any]) -> int:
        """The config_id of the recorded configuration nearest to `config` (see module doc)."""
        missing = [name for name in self.tuned if name not in config]
        if missing:
            raise ReplayTableError(f"config lacks tuned dimension(s) {', '.join(missing)}")
        distance = np.zeros(len(self._configs))
        for name in self.tuned:
            kind, column, low, span = self._coordinates[name]
            if kind == "category":
                distance += (column != np.array(config[name], dtype=object)).astype(float)
            else:
                value = float(config[name])
                if name in self.log_scale:
                    value = math.log(value) if value > 0 else -math.inf
                distance += ((column - value) / span) ** 2
        return int(self._configs.index[int(np.argmin(distance))])

    def curve(self, config_id: int) -> list[dict[str, Any]]:
        """The recorded reports of configuration `config_id`, epoch by epoch."""
        return self._curves[config_id]

    def _encode_table(self) -> dict[str, tuple[str, np.ndarray, float, float]]:
        coordinates = {}
        for name in self.tuned:
            column = self._configs[CONFIG_PREFIX + name]
            if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
                values = column.to_numpy(dtype=float)
                if name in self.log_scale:
                    if (values <= 0).any():
                        raise ReplayTableError(f"{name} has values <= 0; it cannot be log-scaled")
                    values = np.log(values)
                span = float(values.max() - values.min()) or 1.0
                coordinates[name] = ("number", values, float(values.min()), span)
            else:
                coordinates[name] = ("category", column.to_numpy(dtype=object), 0.0, 1.0)
        return coordinates


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


class ReplayTrainable(tune.Trainable):
    """Ray Tune class trainable: one `step` reports the next recorded epoch of the nearest config.

    A class rather than a function trainable because a replayed epoch takes microseconds: Tune
    asks it for a checkpoint (its position) only when a scheduler pauses it or PBT exploits it,
    instead of one written per epoch, and a reused actor just moves to the new configuration.
    Nothing here imports torch, so a worker starts in the time it takes to import Ray Tune.
    """

    def setup(self, config: dict[str, Any], data: ReplayTable) -> None:
        self.table = data
        self._start(config)

    def _start(self, config: Mapping[str, Any]) -> None:
        self.config_id = self.table.snap(config)
        self.curve = self.table.curve(self.config_id)
        self.epochs = min(int(config.get("epochs", len(self.curve))), len(self.curve))
        self.position = 0  # epochs replayed so far
        self.seconds = 0.0  # their recorded seconds

    def step(self) -> dict[str, Any]:
        row = self.curve[self.position]
        self.position += 1
        self.seconds += float(row.get(SECONDS, 0.0))
        results = {k: v for k, v in row.items() if k != SECONDS}
        results.update({REPLAY_SECONDS: self.seconds, REPLAY_CONFIG: self.config_id})
        # A diverged recorded trial ended at that epoch, with no usable weights.
        results[DONE] = bool(row.get(m.DIVERGED)) or self.position >= self.epochs
        return results

    def save_checkpoint(self, checkpoint_dir: str) -> dict[str, Any]:
        return {"epoch": self.position, "seconds": self.seconds}

    def load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # PBT restores a donor's position onto this trial's own (mutated) configuration.
        self.position = int(checkpoint["epoch"])
        self.seconds = float(checkpoint["seconds"])

    def reset_config(self, new_config: dict[str, Any]) -> bool:
        self._start(new_config)
        return True


# --- the table file: parquet with the metadata in the schema


def write_table(frame: pd.DataFrame, meta: Mapping[str, Any], path: str | Path) -> Path:
    """Write `frame` with `meta` (JSON in the parquet schema's metadata) to `path`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    existing = table.schema.metadata or {}
    table = table.replace_schema_metadata(
        {**existing, METADATA_KEY: json.dumps(meta, default=str).encode()}
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def read_table(path: str | Path, log_scale: Sequence[str] = ()) -> ReplayTable:
    """The replay table at `path`; ReplayTableError naming the path if it is not one."""
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise ReplayTableError(f"{path}: no such replay table (build one: tune-jobs replay build)")
    try:
        table = pq.read_table(path)
    except Exception as error:  # pyarrow raises several types for files that are not parquet
        raise ReplayTableError(f"{path} is not a parquet file ({error})") from None
    raw = (table.schema.metadata or {}).get(METADATA_KEY)
    if raw is None:
        raise ReplayTableError(f"{path} is a parquet file but not a replay table (no metadata)")
    return ReplayTable(table.to_pandas(), json.loads(raw), frozenset(log_scale))
