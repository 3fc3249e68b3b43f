"""Replayed runs without Ray actors: Ray Tune's own searchers and schedulers on a simulated clock.

On Ray's engine a replayed run is a whole Tune experiment: a trial actor per slot, a placement
group per trial, an actor call and a driver-side result pipeline per epoch. That costs seconds
per run while the replay itself takes milliseconds (docs/hpo-benchmark-plan.md, "The
simulator", which also compares the two engines' verdicts).
`simulate_run` drives the same objects - the method's search algorithm and scheduler from the
same `prepare` - in this process, as Ray Tune's `TuneController` does:

- trials come from the search algorithm (`next_trial`), while fewer than Tune's pending limit
  wait (the searcher's concurrency limit, else 200);
- `slots` trials run at once; each epoch is an event at the simulated time its recorded seconds
  end (as in Syne Tune's simulator), so the trial whose epoch ends first reports first;
- per result, the controller's order: the epoch budget; STOP for a finished trial, else the
  scheduler's decision; the searcher hears the result unless STOP; the trial's last result; then
  CONTINUE, PAUSE (position saved) or STOP (`on_trial_complete` to scheduler and searcher);
- a free slot runs the trial the scheduler chooses (`choose_trial_to_run`), else the oldest
  pending one; a paused trial resumes from its saved position, one PBT exploited from its donor's.

What differs from Ray's engine: no actor start-up or result latency, so concurrent trials report
in the order of their recorded seconds rather than of wall-clock noise; PBT's choices (Python's
and numpy's global generators) are seeded by the run's seed, so a simulated run repeats exactly;
an error fails the whole run (recorded in the manifest; Tune's trial retries do not apply); a
pause or a resume takes effect at once, where Ray's save and actor start take time during which
HyperBandForBOHB and PBT see the trial still RUNNING or PENDING. The budget ends a run at exactly
its last epoch.
"""

from __future__ import annotations

import contextlib
import copy
import heapq
import itertools
import logging
import random
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from ray.train._internal.session import _FutureTrainingResult, _TrainingResult
from ray.tune import Checkpoint
from ray.tune.experiment import Experiment, Trial
from ray.tune.schedulers import FIFOScheduler, PopulationBasedTraining, TrialScheduler
from ray.tune.search import ConcurrencyLimiter, Searcher, SearchGenerator
from ray.tune.utils import flatten_dict

from analysis.results import CUM_EPOCHS, CUM_SECONDS
from trainables import metrics
from trainables.replay import ReplayCursor, ReplayTable, trial_index
from tune_jobs.options import Prepared

DEFAULT_PENDING = 200  # Tune's pending-trial limit for its own sampler on a small machine


class _Saved(_FutureTrainingResult):
    """A save that is already done: PBT resolves what `_schedule_trial_save` returns."""

    def __init__(self, result: _TrainingResult) -> None:
        self.result = result

    def resolve(self, block: bool = True) -> _TrainingResult:
        return self.result


@dataclass
class _Running:
    cursor: ReplayCursor
    event: int  # the id of its pending epoch-end event; a stale event is skipped


@dataclass
class SimulatedRun:
    """What one simulated run reported: one row per epoch, in the order they ended."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    trials: int = 0


class SimulatedController:
    """The part of Ray Tune's `TuneController` that searchers and schedulers call."""

    def __init__(self, prepared: Prepared, table: ReplayTable, slots: int, folder: str) -> None:
        plan, job = prepared.plan, prepared.job
        experiment = Experiment(
            name=prepared.name,
            run=job.trainable,
            config=copy.deepcopy(plan.param_space),
            num_samples=plan.num_samples,
            storage_path=folder,
        )
        search_alg = plan.search_alg
        if isinstance(search_alg, Searcher):
            search_alg = SearchGenerator(search_alg)
        search_alg.set_search_properties(
            job.metric, job.mode, plan.param_space, **experiment.public_spec
        )
        self.search_alg = search_alg
        self.scheduler = plan.scheduler or FIFOScheduler()
        if isinstance(self.scheduler, PopulationBasedTraining):
            # Its policy log goes to Ray's session folder, which needs a running Ray.
            self.scheduler._log_config = False
        self.scheduler.set_search_properties(job.metric, job.mode, **experiment.public_spec)
        search_alg.add_configurations([experiment])
        self.max_pending = _max_pending(search_alg)
        self.table, self.slots = table, max(1, int(slots))
        self.budget = prepared.options.budget_epochs
        self._trials: list[Trial] = []
        self._live: set[Trial] = set()
        self._running: dict[Trial, _Running] = {}
        self._positions: dict[str, dict[str, Any]] = {}  # checkpoint path -> saved position
        self._events: list[tuple[float, int, Trial]] = []
        self._event_ids = itertools.count()
        self.now = 0.0
        self.spent = 0
        self.run = SimulatedRun()

    # --- what schedulers and searchers call (Ray Tune's TuneController API)

    def get_trials(self) -> list[Trial]:
        return self._trials

    def get_live_trials(self) -> set[Trial]:
        return self._live

    def _set_trial_status(self, trial: Trial, status: str) -> None:
        trial.set_status(status)

    def _schedule_trial_save(self, trial: Trial, result: dict | None = None) -> _Saved | None:
        running = self._running.get(trial)
        if running is None:
            return None
        path = f"{tempfile.gettempdir()}/simulated/{trial.trial_id}/{len(self._positions)}"
        self._positions[path] = running.cursor.save()
        saved = _TrainingResult(checkpoint=Checkpoint(path), metrics=result or trial.last_result)
        trial.run_metadata.checkpoint_manager._latest_checkpoint_result = saved
        return _Saved(saved)

    def pause_trial(self, trial: Trial, should_checkpoint: bool = True) -> None:
        if trial not in self._running:
            return
        if should_checkpoint:
            self._schedule_trial_save(trial)
        del self._running[trial]
        trial.set_status(Trial.PAUSED)

    def stop_trial(self, trial: Trial) -> None:
        if trial.status in (Trial.ERROR, Trial.TERMINATED):
            return
        if trial.status in (Trial.PENDING, Trial.PAUSED):
            self.scheduler.on_trial_remove(self, trial)
            self.search_alg.on_trial_complete(trial.trial_id)
        else:
            last = flatten_dict(trial.last_result)
            self.scheduler.on_trial_complete(self, trial, last)
            self.search_alg.on_trial_complete(trial.trial_id, result=last)
        self._running.pop(trial, None)
        self._live.discard(trial)
        trial.set_status(Trial.TERMINATED)

    # --- the event loop

    def simulate(self) -> SimulatedRun:
        while self.budget is None or self.spent < self.budget:
            self._add_trials()
            self._start_trials()
            if not self._events:
                break
            end, event, trial = heapq.heappop(self._events)
            running = self._running.get(trial)
            if running is None or running.event != event:
                continue  # paused or stopped while its epoch ran
            self.now = end
            self._report(trial, running)
        self.run.trials = len({row["trial_id"] for row in self.run.rows})
        return self.run

    def _add_trials(self) -> None:
        while not self.search_alg.is_finished():
            pending = sum(t.status == Trial.PENDING for t in self._live)
            if pending >= self.max_pending:
                return
            trial = self.search_alg.next_trial()
            if trial is None:
                return
            self._trials.append(trial)
            self._live.add(trial)
            self.scheduler.on_trial_add(self, trial)

    def _start_trials(self) -> None:
        while len(self._running) < self.slots:
            trial = self.scheduler.choose_trial_to_run(self)
            if trial is None:
                trial = next((t for t in self._trials if t.status == Trial.PENDING), None)
            if trial is None:
                return
            self._start(trial)

    def _start(self, trial: Trial) -> None:
        cursor = ReplayCursor(self.table, trial.config, trial_index(trial.experiment_tag))
        saved = trial.latest_checkpoint_result
        if saved is not None and saved.checkpoint is not None:
            cursor.load(self._positions[saved.checkpoint.path])
        trial.set_status(Trial.RUNNING)
        self._running[trial] = _Running(cursor, -1)
        self._schedule_epoch(trial)

    def _schedule_epoch(self, trial: Trial) -> None:
        running = self._running[trial]
        running.event = next(self._event_ids)
        end = self.now + running.cursor.next_seconds()
        heapq.heappush(self._events, (end, running.event, trial))

    def _report(self, trial: Trial, running: _Running) -> None:
        cursor = running.cursor
        seconds_before = cursor.seconds
        result = cursor.step()
        result.update(
            {
                metrics.RESOURCE_ATTR: cursor.position,
                "time_this_iter_s": cursor.seconds - seconds_before,
                "time_total_s": cursor.seconds,
                "trial_id": trial.trial_id,
            }
        )
        self.spent += 1
        self.run.rows.append(
            {
                "trial_id": trial.trial_id,
                "trial_index": cursor.trial_index,
                "spent_seconds": cursor.seconds - seconds_before,
                "simulated_time": self.now,
                **{k: v for k, v in result.items() if k not in ("trial_id", "done")},
            }
        )
        # One dict for both, as in Tune: HyperBandForBOHB writes what TuneBOHB reads into it.
        flat = flatten_dict(result)
        if result["done"]:
            decision = TrialScheduler.STOP
        else:
            decision = self.scheduler.on_trial_result(self, trial, flat)
        if decision != TrialScheduler.STOP:
            self.search_alg.on_trial_result(trial.trial_id, flat)
        trial.update_last_result(result)
        if trial.status != Trial.RUNNING or trial not in self._running:
            return  # the scheduler paused or stopped it already (PBT's exploit, a bracket)
        if decision == TrialScheduler.CONTINUE:
            self._schedule_epoch(trial)
        elif decision == TrialScheduler.PAUSE:
            self.pause_trial(trial)
        elif decision == TrialScheduler.STOP:
            self.stop_trial(trial)


def _max_pending(search_alg: Any) -> int:
    """Tune's limit on trials created and not yet started (`_get_max_pending_trials`)."""
    searcher = getattr(search_alg, "searcher", None)
    if searcher is None:
        return DEFAULT_PENDING
    while searcher is not None:
        if isinstance(searcher, ConcurrencyLimiter):
            return searcher.max_concurrent
        searcher = getattr(searcher, "searcher", None)
    return 1


def simulate_run(prepared: Prepared, table: ReplayTable, slots: int) -> SimulatedRun:
    """One replayed run of `prepared` (a replayed job's), simulated; seeded by its seed."""
    # PBT draws from Python's and numpy's global generators (its resampled values).
    states = random.getstate(), np.random.get_state()
    random.seed(prepared.options.seed)
    np.random.seed(prepared.options.seed)
    try:
        with tempfile.TemporaryDirectory(prefix="simulated-") as folder, _quiet():
            return SimulatedController(prepared, table, slots, folder).simulate()
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Searchers' and schedulers' per-trial INFO lines (PBT's exploits, Optuna's studies) off:
    a simulation makes thousands of trials a minute."""
    loggers = [logging.getLogger(name) for name in ("ray.tune", "optuna")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def curves_of(run: SimulatedRun) -> pd.DataFrame:
    """A simulated run's reports as `analysis.results.curves_frame` gives a real run's."""
    frame = pd.DataFrame(run.rows)
    if frame.empty:
        return frame
    frame[CUM_EPOCHS] = np.arange(1, len(frame) + 1)
    frame[CUM_SECONDS] = frame.pop("spent_seconds").cumsum()
    return frame
