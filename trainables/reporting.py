"""The one place trainables talk to Ray: per-epoch reports with checkpoints, and restoring them.

Ray has renamed these calls twice (`tune.report` / `session.report` / `train.report`); keeping them
here means the next rename touches one file.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import ray
import torch
from ray import tune

CHECKPOINT_FILE = "checkpoint.pt"
NODE_ID = "node_id"  # the Ray node that ran the epoch: shows where trials ran on a cluster

# Fault injection for tests, inert unless set. CRASH_AT_EPOCH=E raises before epoch E is reported,
# in an attempt that did not restore a checkpoint (so a retry restored from one runs on);
# EPOCH_DELAY=S sleeps S seconds after each report, to give a test time to act mid-run.
CRASH_AT_EPOCH_ENV = "TUNE_JOBS_CRASH_AT_EPOCH"
EPOCH_DELAY_ENV = "TUNE_JOBS_EPOCH_DELAY"


class NotACheckpointError(ValueError):
    """A checkpoint file that does not hold a trial's state as `report` saved it."""


class InjectedFault(RuntimeError):
    """The crash asked for by TUNE_JOBS_CRASH_AT_EPOCH."""


def inject_faults(epoch: int, restored: bool) -> None:
    """Crash at `epoch` if TUNE_JOBS_CRASH_AT_EPOCH asks for it (see above); else nothing."""
    crash = os.environ.get(CRASH_AT_EPOCH_ENV)
    if crash and not restored and epoch == int(crash):
        raise InjectedFault(f"{CRASH_AT_EPOCH_ENV}={crash}: injected crash at epoch {epoch}")


def fault_env() -> dict[str, str]:
    """The fault-injection variables set in this process, to pass on to a cluster's workers."""
    names = (CRASH_AT_EPOCH_ENV, EPOCH_DELAY_ENV)
    return {name: os.environ[name] for name in names if os.environ.get(name)}


def report(metrics: dict[str, Any], state: dict[str, Any] | None = None) -> None:
    """Report one epoch's metrics, with `state` (model, optimizer, epoch, ...) as its checkpoint."""
    if ray.is_initialized():
        metrics = {**metrics, NODE_ID: ray.get_runtime_context().get_node_id()}
    if state is None:
        tune.report(metrics)
    else:
        with tempfile.TemporaryDirectory() as folder:
            torch.save(state, Path(folder) / CHECKPOINT_FILE)
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))
    if os.environ.get(EPOCH_DELAY_ENV):
        time.sleep(float(os.environ[EPOCH_DELAY_ENV]))


def restored_state() -> dict[str, Any] | None:
    """The state saved with the trial's latest checkpoint, if Tune resumed it from one."""
    checkpoint = tune.get_checkpoint()
    return None if checkpoint is None else load_checkpoint_state(checkpoint)


def load_checkpoint_state(checkpoint: tune.Checkpoint) -> dict[str, Any]:
    """The state dict stored in a checkpoint written by `report` (tensors only, no pickles).

    NotACheckpointError, naming the file, for anything else: unreadable bytes, a pickle of other
    objects (which `weights_only=True` refuses to build), or a torch file without a model state.
    """
    shown = f"{checkpoint.path}/{CHECKPOINT_FILE}"
    with checkpoint.as_directory() as folder:
        try:
            state = torch.load(Path(folder) / CHECKPOINT_FILE, weights_only=True)
        except Exception as error:  # torch raises many types; its text suggests weights_only=False
            # which would run the file's code: say what the file is, never that.
            raise NotACheckpointError(
                f"{shown} is not a checkpoint of this project ({type(error).__name__})"
            ) from None
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
        raise NotACheckpointError(
            f"{shown} is not a checkpoint of this project (it holds no model state)"
        )
    return state


def trial_cpus() -> int:
    """CPUs Ray assigned to this trial (1 outside a Ray worker): the number of torch threads."""
    if not ray.is_initialized() or ray.get_runtime_context().worker.mode != ray.WORKER_MODE:
        return 1
    return max(1, int(ray.get_runtime_context().get_assigned_resources().get("CPU", 1)))
