"""Experiment-wide budgets: equal compute for every HPO method in a comparison."""

from __future__ import annotations

from ray import tune


class EpochBudget(tune.Stopper):
    """Stop the whole experiment once its trials together have reported `epochs` epochs.

    Every result is one trained epoch (a PBT trial that restarts from a donor's checkpoint spends
    new epochs, and they count). Trials already running when the budget is reached may each
    finish the epoch in flight, so a run can overshoot by at most its number of running trials.
    """

    def __init__(self, epochs: int):
        if epochs < 1:
            raise ValueError(f"an epoch budget must be >= 1, got {epochs}")
        self.epochs = epochs
        self.spent = 0
        self._last_iteration: dict[str, int] = {}

    def __call__(self, trial_id: str, result: dict) -> bool:
        # A finished function trainable's closing result repeats its last iteration: not an epoch.
        iteration = result.get("training_iteration")
        if not (result.get("done") and self._last_iteration.get(trial_id) == iteration):
            self.spent += 1
        self._last_iteration[trial_id] = iteration
        return False

    def stop_all(self) -> bool:
        return self.spent >= self.epochs
