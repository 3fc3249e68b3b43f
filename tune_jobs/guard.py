"""Stop an experiment, resumably, when its storage is full: a full disk is not a trial failure.

A trial whose checkpoint finds no room raises `trainables.reporting.StorageFullError`. Tune would
retry it like any failure, on the same full disk, until the error files it writes there are
truncated too. `StorageGuard` sees the error when Tune records it and ends the run the way
Ctrl-C does, so the saved experiment state keeps the trials unfinished for `resume`.
"""

from __future__ import annotations

import os
import signal
from typing import Any

from ray import tune
from ray.tune.experiment import Trial

from trainables.reporting import STORAGE_FULL


class StorageFullStop(RuntimeError):
    """The run stopped because its storage was full; the message says where and how much."""


class StorageGuard(tune.Callback):
    """Ends the experiment at the first trial error that is a full storage (see module doc)."""

    def __init__(self) -> None:
        self.message: str | None = None

    def on_trial_recover(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any):
        self._check(trial)

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any):
        self._check(trial)

    def _check(self, trial: Trial) -> None:
        if self.message is not None:
            return
        found = [line for line in error_text(trial).splitlines() if STORAGE_FULL in line]
        if not found:
            return
        line = found[-1]  # "...StorageFullError: [Errno 28] StorageFullError: FOLDER has ..."
        self.message = line[line.rindex(STORAGE_FULL) + len(STORAGE_FULL) :].lstrip(": ")
        # SIGUSR1 is Tune's graceful stop, as SIGINT: the state is saved with every trial still
        # unfinished. Sent only while Tune's handler is there (the default would kill us).
        if signal.getsignal(signal.SIGUSR1) not in (signal.SIG_DFL, signal.SIG_IGN, None):
            os.kill(os.getpid(), signal.SIGUSR1)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "message": None}  # pickled for `resume`: a fresh guard


def error_text(trial: Trial) -> str:
    """The error file Tune wrote for `trial` ('' when there is none or it cannot be read)."""
    try:
        with open(trial.error_file or "", encoding="utf-8", errors="replace") as file:
            return file.read()
    except OSError:
        return ""


def restored_guard(tuner: tune.Tuner) -> StorageGuard | None:
    """The guard of a restored Tuner's run config (None for an experiment started without one)."""
    callbacks = tuner._local_tuner.get_run_config().callbacks or []  # Tune restores its own copy
    return next((c for c in callbacks if isinstance(c, StorageGuard)), None)
