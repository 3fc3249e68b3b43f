"""The one place trainables talk to Ray: per-epoch reports with checkpoints, and restoring them.

Ray has renamed these calls twice (`tune.report` / `session.report` / `train.report`); keeping them
here means the next rename touches one file.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import ray
import torch
from ray import tune

CHECKPOINT_FILE = "checkpoint.pt"


def report(metrics: dict[str, Any], state: dict[str, Any] | None = None) -> None:
    """Report one epoch's metrics, with `state` (model, optimizer, epoch, ...) as its checkpoint."""
    if state is None:
        tune.report(metrics)
        return
    with tempfile.TemporaryDirectory() as folder:
        torch.save(state, Path(folder) / CHECKPOINT_FILE)
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))


def restored_state() -> dict[str, Any] | None:
    """The state saved with the trial's latest checkpoint, if Tune resumed it from one."""
    checkpoint = tune.get_checkpoint()
    return None if checkpoint is None else load_checkpoint_state(checkpoint)


def load_checkpoint_state(checkpoint: tune.Checkpoint) -> dict[str, Any]:
    """The state dict stored in a checkpoint written by `report` (tensors only, no pickles)."""
    with checkpoint.as_directory() as folder:
        return torch.load(Path(folder) / CHECKPOINT_FILE, weights_only=True)


def trial_cpus() -> int:
    """CPUs Ray assigned to this trial (1 outside a Ray worker): the number of torch threads."""
    if not ray.is_initialized() or ray.get_runtime_context().worker.mode != ray.WORKER_MODE:
        return 1
    return max(1, int(ray.get_runtime_context().get_assigned_resources().get("CPU", 1)))
