"""Experiment-wide budgets: equal compute for every HPO method in a comparison."""

from __future__ import annotations

from typing import Any

from ray import tune
from ray.tune.experiment import Trial


class EpochBudget(tune.Stopper, tune.Callback):
    """Stop the whole experiment once its trials together have reported `epochs` epochs.

    Every result is one trained epoch (a PBT trial that restarts from a donor's checkpoint spends
    new epochs, and they count). Epochs other trials have in flight when the budget runs out are
    cut, not reported and not counted: waiting for them would let Tune start pending trials on
    the actors it reuses meanwhile, and each of those would train an epoch past the budget. A run
    overshoots only by results that arrive while a save is still pending (at most its running
    trials less one). A cut epoch may have saved its checkpoint folder before its report was
    dropped; no report names that folder, so neither Tune nor `analysis` reads it.

    Pass the same object as `RunConfig(stop=...)` and in `RunConfig(callbacks=[...])`. Tune's
    `stop_all` stops every trial at once and drops the futures of the saves still pending, so
    the checkpoints of the last reported epochs would be on disk but never registered. Once the
    budget is spent this stopper therefore stops each reporting trial on its own (Tune then
    waits for its save), and ends the experiment only when no save is pending. As a callback it
    sees the trials; without it, `stop_all` ends the experiment as soon as the budget is spent.
    """

    def __init__(self, epochs: int):
        if epochs < 1:
            raise ValueError(f"an epoch budget must be >= 1, got {epochs}")
        self.epochs = epochs
        self.spent = 0
        self._last_iteration: dict[str, int] = {}
        self._trials: list[Trial] | None = None  # Tune's own list, seen as a callback

    def __call__(self, trial_id: str, result: dict) -> bool:
        # A finished function trainable's closing result repeats its last iteration: not an epoch.
        iteration = result.get("training_iteration")
        if not (result.get("done") and self._last_iteration.get(trial_id) == iteration):
            self.spent += 1
        self._last_iteration[trial_id] = iteration
        return self.spent >= self.epochs

    def stop_all(self) -> bool:
        if self.spent < self.epochs:
            return False
        return not any(t.is_saving for t in self._trials or [])

    def on_step_begin(self, iteration: int, trials: list[Trial], **info: Any) -> None:
        self._trials = trials

    def __getstate__(self) -> dict[str, Any]:
        # Pickled with the Tuner for `resume`: the live trials are Tune's, not ours to save.
        return {**self.__dict__, "_trials": None}
