"""Experiment-wide budgets: equal compute for every HPO method in a comparison."""

from __future__ import annotations

from typing import Any

from ray import tune
from ray.tune.experiment import Trial


class EpochBudget(tune.Stopper, tune.Callback):
    """Stop the whole experiment once its trials together have reported `epochs` epochs.

    Every result is one trained epoch (a PBT trial that restarts from a donor's checkpoint spends
    new epochs, and they count). Trials already running when the budget is reached each finish
    the epoch in flight, so a run can overshoot by at most its number of running trials less one.

    Pass the same object as `RunConfig(stop=...)` and in `RunConfig(callbacks=[...])`. Tune's
    `stop_all` stops every trial at once and drops the futures of the saves still pending, so
    the checkpoints of the last reported epochs would be on disk but never registered. Once the
    budget is spent this stopper therefore stops each reporting trial on its own (Tune then
    waits for its save), and ends the experiment only when no save is pending and no trial that
    was running when the budget ran out is still in its epoch. As a callback it sees the trials;
    without it, `stop_all` ends the experiment as soon as the budget is spent.
    """

    def __init__(self, epochs: int):
        if epochs < 1:
            raise ValueError(f"an epoch budget must be >= 1, got {epochs}")
        self.epochs = epochs
        self.spent = 0
        self._last_iteration: dict[str, int] = {}
        self._trials: list[Trial] | None = None  # Tune's own list, seen as a callback
        self._in_flight: set[str] | None = None  # running when the budget ran out, not reported

    def __call__(self, trial_id: str, result: dict) -> bool:
        # A finished function trainable's closing result repeats its last iteration: not an epoch.
        iteration = result.get("training_iteration")
        if not (result.get("done") and self._last_iteration.get(trial_id) == iteration):
            self.spent += 1
        self._last_iteration[trial_id] = iteration
        if self.spent < self.epochs:
            return False
        if self._in_flight is None:
            self._in_flight = {t.trial_id for t in self._running()}
        self._in_flight.discard(trial_id)
        return True

    def stop_all(self) -> bool:
        if self.spent < self.epochs:
            return False
        if self._trials is None:  # not registered as a callback: nothing to wait for
            return True
        running = {t.trial_id for t in self._running()}
        if self._in_flight is not None:
            self._in_flight &= running  # a trial that errored or ended reports no more
        return not self._in_flight and not any(t.is_saving for t in self._trials)

    def _running(self) -> list[Trial]:
        return [t for t in self._trials or [] if t.status == Trial.RUNNING]

    def on_step_begin(self, iteration: int, trials: list[Trial], **info: Any) -> None:
        self._trials = trials

    def __getstate__(self) -> dict[str, Any]:
        # Pickled with the Tuner for `resume`: the live trials are Tune's, not ours to save.
        return {**self.__dict__, "_trials": None}
