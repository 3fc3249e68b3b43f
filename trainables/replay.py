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
  report names the configuration replayed. With `replay_model` "surrogate" in the table's
  metadata (chosen by `tune-jobs replay check`), the learning curve of a configuration between
  recorded ones is a k-NN regression over the recorded ones (`trainables.replay_model`).
- Training noise: a table may hold several training seeds per configuration (`train_seed`). Each
  replayed trial draws one of its configuration's recorded seeds from a generator seeded by the
  replay's seed, the trial's index in its experiment and the config_id, so a rerun draws the same
  seeds and the same configuration lands differently in different trials. A table of one seed
  always draws that seed. `replay_train_seed` in each report names the seed replayed.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from ray import tune
from ray.tune.result import DONE

from trainables import metrics as m
from trainables.replay_model import CurveSurrogate

CONFIG_PREFIX = "config/"
CONFIG_ID = "config_id"
SECONDS = "seconds"  # seconds the recorded epoch took (Ray's time_this_iter_s)
REPLAY_SECONDS = "replay_seconds"  # simulated clock: recorded seconds of the trial so far
REPLAY_CONFIG = "replay_config"  # which recorded configuration a report replays
TRAIN_SEED = "train_seed"  # the recorded training seed (the trial config's `seed`) of a row
REPLAY_TRAIN_SEED = "replay_train_seed"  # which recorded training seed a report replays
REPLAY_MODELS = ("nearest", "surrogate")  # how a configuration between recorded ones is replayed
METADATA_KEY = b"tune_jobs_replay"


class ReplayTableError(ValueError):
    """A file that is not a replay table, or a table that cannot be replayed."""


@dataclass(frozen=True)
class ReplayTable:
    """The recorded curves of a finite set of configurations, ready to look up and replay.

    Args:
        frame: one row per configuration, training seed and epoch: `config_id`, `train_seed`
            (absent in one-seed tables: then the `seed` in `meta["fixed"]`, else 0),
            `config/<name>` for every tuned dimension, `epoch`, `seconds`, every reported metric.
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
        if self.meta.get("replay_model", "nearest") not in REPLAY_MODELS:
            raise ReplayTableError(f"replay_model must be one of {', '.join(REPLAY_MODELS)}")
        configs = self.frame.groupby(CONFIG_ID, sort=True).first()
        object.__setattr__(self, "_configs", configs[[CONFIG_PREFIX + n for n in tuned]])
        object.__setattr__(self, "_curves", self._split_curves())
        object.__setattr__(self, "_coordinates", self._encode_table())
        surrogate = None
        if self.meta.get("replay_model") == "surrogate":
            surrogate = CurveSurrogate(
                self.encode(self.configs()), self.mean_curves(), self.epochs, self.seed_bands()
            )
        object.__setattr__(self, "_surrogate", surrogate)

    def _split_curves(self) -> dict[int, dict[int, list[dict[str, Any]]]]:
        """Every recorded curve, by config_id and training seed: its reports, epoch by epoch."""
        frame = self.frame
        if TRAIN_SEED not in frame:
            frame = frame.assign(**{TRAIN_SEED: int(self.meta.get("fixed", {}).get("seed", 0))})
        reported = [c for c in frame if not c.startswith(CONFIG_PREFIX)]
        reported = [c for c in reported if c not in (CONFIG_ID, TRAIN_SEED)]
        curves: dict[int, dict[int, list[dict[str, Any]]]] = {}
        for (config_id, seed), rows in frame.groupby([CONFIG_ID, TRAIN_SEED], sort=True):
            rows = rows.sort_values(m.EPOCH)
            curves.setdefault(int(config_id), {})[int(seed)] = [
                {k: _plain(v) for k, v in row.items() if not _missing(v)}
                for row in rows[reported].to_dict("records")
            ]
        return curves

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

    def config_ids(self) -> list[int]:
        return [int(i) for i in self._configs.index]

    def seeds(self, config_id: int) -> list[int]:
        """The training seeds recorded for configuration `config_id`, sorted."""
        return sorted(self._curves[config_id])

    def sizes(self) -> str:
        counts = sorted(len(by_seed) for by_seed in self._curves.values())
        seeds = f"{counts[0]}" if counts[0] == counts[-1] else f"{counts[0]}-{counts[-1]}"
        return (
            f"replay table: {len(self._curves)} configurations x {seeds} training seed(s) x up "
            f"to {self.epochs} epochs"
        )

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

    def curve(self, config_id: int, train_seed: int | None = None) -> list[dict[str, Any]]:
        """The recorded reports of configuration `config_id` and `train_seed` (None: its first
        recorded seed), epoch by epoch."""
        by_seed = self._curves[config_id]
        return by_seed[min(by_seed) if train_seed is None else train_seed]

    def draw_seed(self, config_id: int, replay_seed: int, trial_index: int) -> int:
        """One recorded training seed of `config_id`, drawn reproducibly (module doc)."""
        seeds = self.seeds(config_id)
        rng = np.random.default_rng([int(replay_seed), int(trial_index), int(config_id)])
        return seeds[int(rng.integers(len(seeds)))]

    def replay_curve(
        self, config: Mapping[str, Any], config_id: int, train_seed: int
    ) -> list[dict[str, Any]]:
        """The reports a trial of `config` replays: the recorded curve of (`config_id`,
        `train_seed`), its modelled metrics predicted by the surrogate if the table has one."""
        recorded = self.curve(config_id, train_seed)
        if self._surrogate is None:
            return recorded
        own = self.padded_curve(config_id, train_seed)
        point = self.encode([config])
        predicted = self._surrogate.predict(point)[0]
        noise = own - self.mean_curves()[config_id]
        return self._surrogate.with_noise(recorded, predicted, noise, self._surrogate.band(point))

    def padded_curve(self, config_id: int, train_seed: int) -> np.ndarray:
        """The modelled metrics of one recorded curve as epochs x metrics (see replay_model)."""
        return CurveSurrogate.padded(self.curve(config_id, train_seed), self.epochs)

    def _seed_stacks(self) -> dict[int, np.ndarray]:
        """Per config_id, its padded curves stacked over its recorded training seeds."""
        return {
            config_id: np.stack([self.padded_curve(config_id, s) for s in by_seed])
            for config_id, by_seed in self._curves.items()
        }

    def mean_curves(self) -> dict[int, np.ndarray]:
        """Per config_id, its padded curves averaged over its recorded training seeds."""
        cached = self.__dict__.get("_mean_curves")
        if cached is None:
            cached = {
                config_id: stack.mean(axis=0) for config_id, stack in self._seed_stacks().items()
            }
            object.__setattr__(self, "_mean_curves", cached)
        return cached

    def seed_bands(self) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
        """Per config_id, the lowest and highest of its padded curves over its training seeds."""
        stacks = self._seed_stacks()
        low = {config_id: stack.min(axis=0) for config_id, stack in stacks.items()}
        return low, {config_id: stack.max(axis=0) for config_id, stack in stacks.items()}

    def encode(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Configurations as points whose Euclidean distances are `snap`'s distances."""
        columns = []
        for name in self.tuned:
            kind, column, low, span = self._coordinates[name]
            if kind == "category":
                # One-hot scaled so that two categories lie 1 apart, as in `snap`.
                for option in dict.fromkeys(column.tolist()):
                    hot = [float(config[name] == option) for config in configs]
                    columns.append(np.array(hot) / math.sqrt(2))
                continue
            values = np.array([float(config[name]) for config in configs])
            if name in self.log_scale:
                values = np.log(np.where(values > 0, values, np.nan))
            columns.append((np.nan_to_num(values, nan=-1e9) - low) / span)
        return np.column_stack(columns) if columns else np.zeros((len(configs), 0))

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


class ReplayCursor:
    """A replayed trial's place on its curve, which `ReplayTrainable` and the simulator
    (`tune_jobs.simulate`) step, save and restore. `config["seed"]` is the replay's seed;
    `trial_index`, the trial's index in its experiment, seeds the training-seed draw with it."""

    def __init__(self, table: ReplayTable, config: Mapping[str, Any], trial_index: int) -> None:
        self.table = table
        self.trial_index = trial_index
        self.start(config)

    def start(self, config: Mapping[str, Any]) -> None:
        """Replay `config` from its first epoch (a new trial, or a reused actor's next one)."""
        self.config_id = self.table.snap(config)
        replay_seed = int(config.get("seed", 0))
        self.train_seed = self.table.draw_seed(self.config_id, replay_seed, self.trial_index)
        self.curve = self.table.replay_curve(config, self.config_id, self.train_seed)
        self.epochs = min(int(config.get("epochs", len(self.curve))), len(self.curve))
        self.position = 0  # epochs replayed so far
        self.seconds = 0.0  # their recorded seconds

    def next_seconds(self) -> float:
        """The recorded seconds of the epoch `step` replays next."""
        return float(self.curve[self.position].get(SECONDS, 0.0))

    def step(self) -> dict[str, Any]:
        row = self.curve[self.position]
        self.position += 1
        self.seconds += float(row.get(SECONDS, 0.0))
        results = {k: v for k, v in row.items() if k != SECONDS}
        results.update({REPLAY_SECONDS: self.seconds, REPLAY_CONFIG: self.config_id})
        results[REPLAY_TRAIN_SEED] = self.train_seed
        # A diverged recorded trial ended at that epoch, with no usable weights.
        results[DONE] = bool(row.get(m.DIVERGED)) or self.position >= self.epochs
        return results

    def save(self) -> dict[str, Any]:
        return {"epoch": self.position, "seconds": self.seconds}

    def load(self, state: Mapping[str, Any]) -> None:
        # PBT restores a donor's position onto this trial's own (mutated) configuration. If that
        # configuration diverged before the donor's epoch, its curve ends there: the trial
        # replays its last recorded (diverged) epoch and ends.
        self.position = min(int(state["epoch"]), len(self.curve) - 1)
        self.seconds = float(state["seconds"])


class ReplayTrainable(tune.Trainable):
    """Ray Tune class trainable: one `step` reports the next recorded epoch of the nearest config.

    A class rather than a function trainable because a replayed epoch takes microseconds: Tune
    asks it for a checkpoint (its position) only when a scheduler pauses it or PBT exploits it,
    instead of one written per epoch, and a reused actor just moves to the new configuration.
    Nothing here imports torch, so a worker starts in the time it takes to import Ray Tune.
    """

    def setup(self, config: dict[str, Any], data: ReplayTable) -> None:
        self.cursor = ReplayCursor(data, config, self._trial_index())

    def step(self) -> dict[str, Any]:
        return self.cursor.step()

    def _trial_index(self) -> int:
        """The trial's index in its experiment (0 outside Tune), read from its folder's name."""
        storage = getattr(self, "_storage", None)
        folder = getattr(storage, "trial_dir_name", None) or ""
        tag = folder.removeprefix(f"{self.trial_name}_")
        return trial_index(tag) if tag != folder else 0

    def save_checkpoint(self, checkpoint_dir: str) -> dict[str, Any]:
        return self.cursor.save()

    def load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.cursor.load(checkpoint)

    def reset_config(self, new_config: dict[str, Any]) -> bool:
        self.cursor.trial_index = self._trial_index()
        self.cursor.start(new_config)
        return True


def trial_index(experiment_tag: str) -> int:
    """The count of trials the searcher had created, which Tune puts first in a trial's
    experiment tag (and so in its folder's name): stable across reruns, unlike the trial id;
    0 for a tag without one."""
    head = experiment_tag.split("_", 1)[0]
    return int(head) if head.isdigit() else 0


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
    # Written beside, then renamed: an interrupted write never leaves half a table (a recording
    # resumes from it).
    partial = path.with_name(f".{path.name}.partial")
    pq.write_table(table, partial)
    os.replace(partial, path)
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
    meta = json.loads(raw)
    # A recorded table names its own log-scaled dimensions (`tune-jobs replay record`).
    recorded = meta.get("space", {}).get("dimensions", {})
    log_scale = {*log_scale, *(name for name, d in recorded.items() if d.get("log"))}
    return ReplayTable(table.to_pandas(), meta, frozenset(log_scale))
