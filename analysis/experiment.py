"""Read a Ray Tune experiment folder from its JSON, CSV and text files: nothing in it is unpickled.

A results folder may come from someone else, and a pickle runs whatever code it names when loaded:
Ray's `ExperimentAnalysis` unpickles `error.pkl` and parts of the experiment state, so it is not
used here. `load_experiment` reads the experiment state as plain JSON (never decoding the pickled
values Ray embeds in it), each trial folder's `params.json`, `result.json` (or `progress.csv`),
`error.txt` and the names of its `checkpoint_NNNNNN/` folders, into an `Experiment`.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from pyarrow import fs
from ray.tune import Checkpoint

from analysis.layout import (
    CHECKPOINT_DIR_NAME,
    CHECKPOINT_PREFIX,
    ERROR_FILE,
    EXPERIMENT_STATE_GLOB,
    MANIFEST_FILE,
    PARAMS_FILE,
    PROGRESS_FILE,
    RESULT_FILE,
    has_experiment_state,
    is_experiment_state,
)

# A trial folder Ray names <trainable>_<trial id>_<number>_...: the id when nothing else says it.
_TRIAL_ID_IN_NAME = re.compile(r"_([0-9a-f]{5}_\d{5})(?:_|$)")


class NotAnExperimentError(ValueError):
    """A path that is not a Ray Tune experiment folder (or not there at all)."""


def filesystem_and_path(path: str | Path) -> tuple[fs.FileSystem, str]:
    """A pyarrow filesystem and the path inside it, for a local path or a storage URI."""
    text = str(path)
    if "://" in text:
        try:
            return fs.FileSystem.from_uri(text)
        except Exception as error:  # pyarrow raises several types for bad URIs
            raise NotAnExperimentError(f"{text}: cannot open this storage URI ({error})") from None
    return fs.LocalFileSystem(), str(Path(text).expanduser().resolve())


def list_folder(path: str | Path) -> tuple[fs.FileSystem, str, list[str]]:
    """The names in a folder; NotAnExperimentError when it is missing or a file."""
    filesystem, root = filesystem_and_path(path)
    kind = filesystem.get_file_info(root).type
    if kind == fs.FileType.NotFound:
        raise NotAnExperimentError(f"{path}: no such folder")
    if kind != fs.FileType.Directory:
        raise NotAnExperimentError(f"{path} is a file, not an experiment folder")
    names = [info.base_name for info in filesystem.get_file_info(fs.FileSelector(root))]
    return filesystem, root, names


@dataclass(frozen=True)
class TrialResult:
    """One trial as its files tell it; the parts of Ray's `Result` this project uses."""

    trial_id: str
    path: str  # the trial folder, inside the experiment's filesystem
    config: dict[str, Any]
    status: str  # Ray's TERMINATED, ERROR, RUNNING, ... (UNKNOWN when no state says it)
    error: str | None  # error.txt, for a trial that did not end TERMINATED
    start_time: float | None
    metrics_dataframe: pd.DataFrame  # one row per report, as Ray's `Result.metrics_dataframe`
    best_checkpoints: list[tuple[Checkpoint, dict[str, Any]]]  # every kept checkpoint + report
    end_time: float | None = None  # when its last report arrived (Ray's `last_result_time`)

    @property
    def metrics(self) -> dict[str, Any]:
        """The last report ({} when the trial reported nothing)."""
        history = self.metrics_dataframe
        return {} if history.empty else history.iloc[-1].to_dict()

    @property
    def checkpoint(self) -> Checkpoint | None:
        """The latest kept checkpoint, or None."""
        return self.best_checkpoints[-1][0] if self.best_checkpoints else None


@dataclass(frozen=True)
class Experiment:
    """The trials of one experiment folder, in the order Tune created them."""

    experiment_path: str
    filesystem: fs.FileSystem
    trials: tuple[TrialResult, ...]

    def __len__(self) -> int:
        return len(self.trials)

    def __iter__(self) -> Iterator[TrialResult]:
        return iter(self.trials)

    def __getitem__(self, index: int) -> TrialResult:
        return self.trials[index]

    @property
    def num_errors(self) -> int:
        """Trials that ended in an error."""
        return sum(trial.status == "ERROR" for trial in self.trials)


def load_experiment(path: str | Path) -> Experiment:
    """The trials of the Ray Tune experiment folder at `path` (local path or storage URI).

    Read from JSON, CSV and text files only (see the module's docstring). Raises
    NotAnExperimentError, naming the path, for anything that is not an experiment folder.
    """
    filesystem, root, names = list_folder(path)
    if not has_experiment_state(names):
        hint = ""
        if MANIFEST_FILE in names:
            hint = f" It holds a {MANIFEST_FILE}: it is a `tune-jobs compare` folder, whose runs"
            hint += " are experiments; use the comparison functions (or `tune-jobs report`) on it."
        raise NotAnExperimentError(
            f"{path} is not a Ray Tune experiment folder: it has no {EXPERIMENT_STATE_GLOB}, the "
            f"file Tune writes when an experiment starts.{hint}"
        )
    state = _state_trials(filesystem, root, names)
    if state is None:  # not plain JSON: the trial folders themselves say what ran
        state = [{"dir": name} for name in sorted(_trial_folders(filesystem, root))]
    trials = []
    for record in state:
        folder = str(record["dir"])
        if not folder or folder in (".", "..") or "/" in folder or "\\" in folder:
            raise NotAnExperimentError(
                f"{path}: its experiment state names a trial folder outside it ({folder!r})"
            )
        trials.append(_read_trial(filesystem, f"{root}/{folder}", record))
    return Experiment(root, filesystem, tuple(trials))


def _read_text(filesystem: fs.FileSystem, path: str) -> str:
    with filesystem.open_input_stream(path) as stream:
        return stream.readall().decode("utf-8", errors="replace")


def _state_trials(
    filesystem: fs.FileSystem, root: str, names: list[str]
) -> list[dict[str, Any]] | None:
    """Each trial's folder, id, config, status and start time from the newest experiment state.

    Ray stores each trial as two JSON strings; the pickled values inside them (hex strings) are
    never decoded. None when the state is not that JSON.
    """
    newest = max(name for name in names if is_experiment_state(name))
    try:
        state = json.loads(_read_text(filesystem, f"{root}/{newest}"))
        records = []
        for trial_json, metadata_json in state["trial_data"]:
            trial, metadata = json.loads(trial_json), json.loads(metadata_json)
            records.append(
                {
                    "dir": trial["relative_logdir"],
                    "trial_id": str(trial["trial_id"]),
                    "config": trial.get("config"),
                    "status": trial.get("status"),
                    "start_time": metadata.get("start_time"),
                    "end_time": metadata.get("last_result_time"),
                }
            )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return records


def saved_statuses(filesystem: fs.FileSystem, root: str) -> list[str]:
    """Each trial's status in the newest experiment state Tune saved at `root` (JSON only).

    Tune marks interrupted trials TERMINATED in memory but saves them RUNNING, PENDING or PAUSED.
    Empty when no state is saved or it is not readable as JSON.
    """
    names = [info.base_name for info in filesystem.get_file_info(fs.FileSelector(root))]
    if not has_experiment_state(names):
        return []
    return [str(record["status"]) for record in _state_trials(filesystem, root, names) or []]


def _trial_folders(filesystem: fs.FileSystem, root: str) -> list[str]:
    """The folders in `root` that hold a trial's params.json or result.json."""
    found = []
    for info in filesystem.get_file_info(fs.FileSelector(root)):
        if info.type == fs.FileType.Directory:
            inside = {f.base_name for f in filesystem.get_file_info(fs.FileSelector(info.path))}
            if inside & {PARAMS_FILE, RESULT_FILE}:
                found.append(info.base_name)
    return found


def _read_trial(filesystem: fs.FileSystem, folder: str, record: dict[str, Any]) -> TrialResult:
    """One trial from its folder, completed by what the experiment state said about it."""
    selector = fs.FileSelector(folder, allow_not_found=True)
    names = {info.base_name for info in filesystem.get_file_info(selector)}
    rows = _reports(filesystem, folder, names)
    history = pd.json_normalize(rows, sep="/") if rows else pd.DataFrame()
    config = _config(filesystem, folder, names, record, rows)
    trial_id = record.get("trial_id") or _trial_id(Path(folder).name, rows)
    status = record.get("status") or _derived_status(names, rows)
    error = None
    if status != "TERMINATED" and ERROR_FILE in names:
        error = _read_text(filesystem, f"{folder}/{ERROR_FILE}")
    return TrialResult(
        trial_id=str(trial_id),
        path=folder,
        config=config,
        status=str(status),
        error=error,
        start_time=_seconds(record.get("start_time")),
        metrics_dataframe=history,
        best_checkpoints=_checkpoints(filesystem, folder, names, rows),
        end_time=_seconds(record.get("end_time")),
    )


def _seconds(value: Any) -> float | None:
    """A Unix time from the experiment state, which stores its metadata numbers as strings."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 else None  # Ray writes 0 or None before a trial starts


def _reports(filesystem: fs.FileSystem, folder: str, names: set[str]) -> list[dict[str, Any]]:
    """Every report of a trial: result.json's lines, else progress.csv's rows."""
    if RESULT_FILE in names:
        rows = []
        for line in _read_text(filesystem, f"{folder}/{RESULT_FILE}").splitlines():
            try:  # a driver killed mid-write leaves a truncated last line: keep the others
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict):
                rows.append(row)
        return rows
    if PROGRESS_FILE in names:
        text = _read_text(filesystem, f"{folder}/{PROGRESS_FILE}")
        if text.strip():
            return pd.read_csv(io.StringIO(text), dtype={"trial_id": str}).to_dict("records")
    return []


def _config(
    filesystem: fs.FileSystem,
    folder: str,
    names: set[str],
    record: dict[str, Any],
    rows: list[dict[str, Any]],
) -> dict[str, Any]:
    """params.json, else the experiment state's config, else the config of the last report."""
    if PARAMS_FILE in names:
        try:
            config = json.loads(_read_text(filesystem, f"{folder}/{PARAMS_FILE}"))
        except ValueError:
            config = None
        if isinstance(config, dict):
            return config
    for config in (record.get("config"), rows[-1].get("config") if rows else None):
        if isinstance(config, dict):
            return config
    return {}


def _trial_id(folder_name: str, rows: list[dict[str, Any]]) -> str:
    if rows and rows[-1].get("trial_id"):
        return str(rows[-1]["trial_id"])
    found = _TRIAL_ID_IN_NAME.search(folder_name)
    return found.group(1) if found else folder_name


def _derived_status(names: set[str], rows: list[dict[str, Any]]) -> str:
    """A status when no readable experiment state gives one: errors and ends are in the files."""
    if ERROR_FILE in names:
        return "ERROR"
    if rows and rows[-1].get("done"):
        return "TERMINATED"
    return "UNKNOWN"


def _checkpoints(
    filesystem: fs.FileSystem, folder: str, names: set[str], rows: list[dict[str, Any]]
) -> list[tuple[Checkpoint, dict[str, Any]]]:
    """Each checkpoint folder still on disk with the report it was saved with, oldest first.

    A report names its checkpoint in `checkpoint_dir_name`; Ray deletes the checkpoints it does not
    keep, so a named folder that is gone is left out, and a folder no report names has no metrics.
    """
    found = []
    for row in rows:
        name = row.get(CHECKPOINT_DIR_NAME)
        if isinstance(name, str) and name.startswith(CHECKPOINT_PREFIX) and name in names:
            found.append((Checkpoint(f"{folder}/{name}", filesystem), row))
    return found
