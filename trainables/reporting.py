"""The one place trainables talk to Ray: per-epoch reports with checkpoints, and restoring them.

Ray has renamed these calls twice (`tune.report` / `session.report` / `train.report`); keeping them
here means the next rename touches one file.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ray
import torch
from pyarrow import fs as pafs
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


# A checkpoint is written only where it leaves this much free besides itself: the driver still has
# to append results, error files and the experiment state, and a full disk truncates them all.
STORAGE_RESERVE_BYTES = 1 << 20
STORAGE_FULL = "StorageFullError"  # in the trial's error text: what the driver looks for


class StorageFullError(OSError):
    """The trial's storage lacks room for its next checkpoint: the run must stop, not retry."""

    @classmethod
    def of(cls, folder: str, free: int, needed: int) -> StorageFullError:
        # Built from (errno, text) alone, as Ray rebuilds an exception it passes to the driver.
        return cls(
            errno.ENOSPC,
            f"{STORAGE_FULL}: {folder} has {free / 2**20:.1f} MiB free; the next checkpoint "
            f"needs {needed / 2**20:.1f} MiB (with {STORAGE_RESERVE_BYTES / 2**20:.0f} MiB "
            "kept for results)",
        )


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
            torch.save(cpu_copy(state), Path(folder) / CHECKPOINT_FILE)
            size = (Path(folder) / CHECKPOINT_FILE).stat().st_size
            trial_dir = check_room(size)
            try:
                tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))
            except OSError as error:  # the disk filled up while the checkpoint was copied
                if error.errno not in (errno.ENOSPC, errno.EDQUOT):
                    raise
                free = shutil.disk_usage(trial_dir).free if trial_dir else 0
                raise StorageFullError.of(trial_dir or "storage", free, size) from error
    if os.environ.get(EPOCH_DELAY_ENV):
        time.sleep(float(os.environ[EPOCH_DELAY_ENV]))


def check_room(size: int) -> str | None:
    """The trial's folder, after checking it has room for a `size`-byte checkpoint and the
    reserve (StorageFullError if not); None where it is not a local folder (a URI's bucket)."""
    storage = tune.get_context().get_storage()  # None outside a Tune session
    if storage is None or not isinstance(storage.storage_filesystem, pafs.LocalFileSystem):
        return None
    folder = Path(storage.trial_fs_path)
    while not folder.is_dir() and folder != folder.parent:  # not created yet: its parent's disk
        folder = folder.parent
    free, needed = shutil.disk_usage(folder).free, size + STORAGE_RESERVE_BYTES
    if free < needed:
        raise StorageFullError.of(str(folder), free, needed)
    return str(folder)


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
            # Tensors land on the CPU whatever device wrote them: a GPU trial's checkpoint resumes,
            # seeds --init-from and is probed on a machine without one.
            state = torch.load(
                Path(folder) / CHECKPOINT_FILE, map_location="cpu", weights_only=True
            )
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


def cpu_copy(value: Any) -> Any:
    """`value` (a state: nested dicts, lists, tuples of tensors and plain values) with every tensor
    on the CPU: what a checkpoint holds, so any machine can load it. CPU tensors are not copied."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        moved = type(value)((key, cpu_copy(item)) for key, item in value.items())
        if hasattr(value, "_metadata"):  # a module state dict's layer versions: keep them
            moved._metadata = value._metadata
        return moved
    if isinstance(value, list | tuple):
        return type(value)(cpu_copy(item) for item in value)
    return value


def _in_ray_worker() -> bool:
    return ray.is_initialized() and ray.get_runtime_context().worker.mode == ray.WORKER_MODE


def trial_cpus() -> int:
    """CPUs Ray assigned to this trial (1 outside a Ray worker): the number of torch threads."""
    if not _in_ray_worker():
        return 1
    return max(1, int(ray.get_runtime_context().get_assigned_resources().get("CPU", 1)))


def trial_device() -> torch.device:
    """The device this trial trains on: the GPU Ray assigned it, else the CPU."""
    gpus = ray.get_gpu_ids() if _in_ray_worker() else []
    return torch.device(device_for(gpus, torch.cuda.is_available()))


def device_for(assigned_gpus: Sequence[Any], cuda_available: bool) -> str:
    """`cuda:0` when Ray assigned GPUs and torch sees one (Ray sets CUDA_VISIBLE_DEVICES to the
    assigned ones, so the first visible is the trial's), else `cpu`."""
    return "cuda:0" if assigned_gpus and cuda_available else "cpu"
