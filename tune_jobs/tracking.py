"""`--track mlflow[=TRACKING_URI]`: every trial logged to MLflow by Ray Tune's own callback.

Without a URI the store is a SQLite file beside the experiments, `<storage>/mlflow.db`, so it
works offline; `mlflow ui --backend-store-uri sqlite:///<storage>/mlflow.db` browses it. Each
experiment is an MLflow experiment of its name, each trial a run: its config as params, every
epoch's metrics, and the run's options as tags.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from tune_jobs.errors import BadInputError
from tune_jobs.storage import is_uri

MLFLOW = "mlflow"
DB_FILE = "mlflow.db"
INSTALL = "pip install 'tune-jobs[track]' (or: pip install 'mlflow>=2.10')"


def tracking_uri(track: str | None, storage: str) -> str | None:
    """The MLflow tracking URI of `--track` (None: not tracked); BadInputError for a bad value
    or a missing mlflow. `storage` is the run's absolute results root."""
    if track is None:
        return None
    kind, sep, uri = track.partition("=")
    if kind.strip() != MLFLOW or (sep and not uri.strip()):
        raise BadInputError(f"--track expects mlflow or mlflow=TRACKING_URI, got {track!r}")
    if importlib.util.find_spec(MLFLOW) is None:
        raise BadInputError(f"--track mlflow needs the package mlflow: {INSTALL}")
    if uri.strip():
        return uri.strip()
    if is_uri(storage) and not storage.startswith("file://"):
        raise BadInputError(
            f"--track mlflow keeps its store beside local results; with --storage {storage} "
            "give one: --track mlflow=TRACKING_URI (e.g. http://HOST:5000)"
        )
    return f"sqlite:///{Path(storage.removeprefix('file://')) / DB_FILE}"


def ui_command(uri: str) -> str:
    """The command that browses the runs logged at `uri`."""
    return f"mlflow ui --backend-store-uri {uri}"


def tracking_callback(uri: str, name: str, tags: dict[str, Any]) -> Any:
    """Ray Tune's MLflowLoggerCallback logging into MLflow experiment `name` at `uri`, `tags`
    (the run's job, method and options; values as JSON text) set on every trial's run."""
    from ray.air.integrations.mlflow import MLflowLoggerCallback

    if uri.startswith("sqlite:///"):  # SQLite creates the file, not its folder
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    text = {
        key: value if isinstance(value, str) else json.dumps(value) for key, value in tags.items()
    }
    return MLflowLoggerCallback(tracking_uri=uri, experiment_name=name, tags=text)
