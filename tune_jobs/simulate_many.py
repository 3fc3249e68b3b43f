"""Many simulated runs (`tune-jobs compare --replay TABLE --simulate`): one compare folder.

Each run is `tune_jobs.simulate.simulate_run`; runs are independent, so several processes
simulate them at once.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import ray

from analysis.layout import MANIFEST_FILE, SIMULATED_CURVES_DIR, SIMULATOR_ENGINE
from trainables.replay import ReplayTable
from tune_jobs import simulate
from tune_jobs.options import Prepared
from tune_jobs.storage import Folder

_FORKED: tuple[Sequence[Prepared], ReplayTable, int, Path] | None = None  # what workers inherit


def single_threaded_math() -> None:
    """One thread for torch and for BLAS (numpy, scipy), which Optuna's GP sampler fits with:
    its matrices are small, and on two busy cores threads contend (15 s a gp run with two
    torch threads, 1 s with one; two simulating processes, each with two BLAS threads, ran a
    gp run at 576 epochs in 40 s against 23 s alone)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)


def simulation_workers(requested: int, runs: int) -> int:
    """Processes to simulate `runs` runs with: at most one a run, and one in a process that runs
    Ray (a test session), whose threads do not survive a fork."""
    return 1 if ray.is_initialized() else max(1, min(requested, runs))


def simulate_compare(
    runs: Sequence[Prepared],
    table: ReplayTable,
    slots: int,
    folder: Path,
    manifest: dict[str, Any],
    on_run: Callable[[int, Prepared, dict[str, Any]], None] | None = None,
    workers: int = 1,
) -> dict[str, Any]:
    """Simulate every run into `folder`: each run's reports as curves/<run>.parquet, and the
    manifest (`engine: simulator`) rewritten after each run.

    `workers` processes (`simulation_workers`) simulate runs at once, forked so that they share
    the table as loaded; the manifest lists the runs in order. Ctrl-C ends the comparison with
    the next run in order marked interrupted, and a worker that dies (killed, out of memory)
    with it marked failed; runs that finished after it are left out.
    """
    global _FORKED
    (folder / SIMULATED_CURVES_DIR).mkdir(parents=True, exist_ok=False)
    single_threaded_math()
    manifest = {**manifest, "engine": SIMULATOR_ENGINE, "slots": slots, "runs": []}
    workers = simulation_workers(workers, len(runs))
    _FORKED = (runs, table, slots, folder)
    try:
        with contextlib.ExitStack() as stack:
            entries: Iterator[dict[str, Any]] = map(_simulate_one, range(len(runs)))
            if workers > 1:
                pool = ProcessPoolExecutor(
                    workers, multiprocessing.get_context("fork"), single_threaded_math
                )
                stack.callback(pool.shutdown, wait=True, cancel_futures=True)
                stack.push(_stop_workers_on_interrupt)  # runs first: no wait for runs in flight
                entries = pool.map(_simulate_one, range(len(runs)))
            for index, entry in enumerate(entries, start=1):
                _record(manifest, folder, entry)
                if on_run is not None:
                    on_run(index, runs[index - 1], entry)
    except KeyboardInterrupt:  # the runs in flight and still to come are not recorded
        _record_stop(manifest, runs, folder, "interrupted", None)
    except BrokenProcessPool as error:
        after = len(runs) - len(manifest["runs"]) - 1
        why = f" ({error.__cause__})" if error.__cause__ else ""
        message = (
            f"the comparison stopped here: a simulating process died (killed, or out of "
            f"memory?) during this run or a later one{why}; this run and the {after} after it "
            f"were not recorded"
        )
        _record_stop(manifest, runs, folder, "failed", message)
    finally:
        _FORKED = None
    return manifest


def _stop_workers_on_interrupt(kind: type[BaseException] | None, *_: Any) -> bool:
    if kind is KeyboardInterrupt:
        for worker in multiprocessing.active_children():
            worker.terminate()
    return False


def _record_stop(manifest: dict[str, Any], runs: Sequence[Prepared], folder: Path,
                 status: str, error: str | None) -> None:  # fmt: skip
    """The next run in order recorded as where the comparison stopped, and why."""
    if len(manifest["runs"]) < len(runs):
        entry = _entry(runs[len(manifest["runs"])])
        _record(manifest, folder, {**entry, "status": status, "error": error, "trials": 0})


def _entry(prepared: Prepared) -> dict[str, Any]:
    return {"method": prepared.method, "seed": prepared.options.seed, "name": prepared.name,
            "path": f"{SIMULATED_CURVES_DIR}/{prepared.name}.parquet",
            "budget_epochs": prepared.options.budget_epochs, "time_budget": None,
            "started": time.time(), "error": None}  # fmt: skip


def _record(manifest: dict[str, Any], folder: Path, entry: dict[str, Any]) -> None:
    manifest["runs"].append({"ended": time.time(), **entry})
    Folder(str(folder)).write_json(MANIFEST_FILE, manifest)


def _simulate_one(index: int) -> dict[str, Any]:
    """Run `index` of the runs `simulate_compare` shares, written; its manifest entry."""
    assert _FORKED is not None, "only simulate_compare's workers simulate by index"
    runs, table, slots, folder = _FORKED
    entry = _entry(runs[index])
    try:
        run = simulate.simulate_run(runs[index], table, slots)
        partial = folder / f"{entry['path']}.partial"
        simulate.curves_of(run).to_parquet(partial, index=False)
        partial.replace(folder / entry["path"])
    except Exception as error:  # one run's failure must not lose the others
        return {**entry, "status": "failed", "error": f"{type(error).__name__}: {error}",
                "trials": 0, "ended": time.time()}  # fmt: skip
    return {**entry, "status": "finished", "trials": run.trials, "ended": time.time()}
