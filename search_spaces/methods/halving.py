"""Early-stopping methods: successive halving, Hyperband, ASHA and BOHB.

All of them start many configurations on a small number of epochs and promote the best fraction
(1 / reduction_factor) to ever longer training, up to the job's epoch limit.
"""

from __future__ import annotations

import itertools
import math

from ray.tune.experiment import Trial
from ray.tune.schedulers import AsyncHyperBandScheduler, HyperBandForBOHB, HyperBandScheduler

from search_spaces.methods.base import (
    Knob,
    Method,
    MethodSettings,
    Plan,
    basic_variants,
    knob_value,
    limited,
    require,
    unlimited_variants,
)
from search_spaces.space import SearchSpace

REDUCTION_FACTOR = 3
REDUCTION = Knob(
    "reduction_factor", int, REDUCTION_FACTOR,
    "eta: each rung keeps the best 1/eta of its trials and trains them eta times longer", low=2,
)  # fmt: skip
GRACE_PERIOD = Knob("grace_period", int, 1, "epochs every trial trains before it can be stopped",
                    low=1)  # fmt: skip
# A synchronous bracket decides once all its trials reach a rung, so all of them must exist:
# trials are created up front and free CPUs, not --concurrency, bound how many run at once.
HALVING_NOTES = {
    "min_epochs": "max_epochs / reduction_factor^(rungs-1)",
    "concurrency": "free CPUs",
}


class SynchronousHyperBand(HyperBandScheduler):
    """Ray's HyperBandScheduler, made to finish when a bracket was decided during a pause.

    A trial told to pause at a rung is still RUNNING until its checkpoint is saved; if the
    bracket's last trial arrives in that moment, Ray stops only the trials already PAUSED, and the
    late one stays PAUSED, never resumed nor stopped: the run hangs. When no trial runs, brackets
    holding paused trials are decided again, as Ray's HyperBandForBOHB does.
    """

    def choose_trial_to_run(self, tune_controller):
        trial = super().choose_trial_to_run(tune_controller)
        if trial is not None or any(
            t.status == Trial.RUNNING for t in tune_controller.get_trials()
        ):
            return trial
        for band in self._hyperbands:
            for bracket in band:
                if bracket and any(t.status == Trial.PAUSED for t in bracket.current_trials()):
                    self._process_bracket(tune_controller, bracket)
        return super().choose_trial_to_run(tune_controller)


class SuccessiveHalvingScheduler(SynchronousHyperBand):
    """Synchronous successive halving: Hyperband restricted to its most aggressive bracket.

    Each bracket starts `n` trials at `max_t / eta^s` epochs, keeps the best 1/eta of them at each
    rung and stops the rest, as Hyperband's most aggressive bracket does; more trials than one
    bracket holds fill further brackets of the same shape.
    """

    def _cur_band_filled(self) -> bool:
        return len(self._hyperbands[self._state["band_idx"]]) == 1

    def _create_bracket(self, s: int):
        return super()._create_bracket(self.bracket_order()[0])

    def bracket_order(self) -> list[int]:
        # The largest s whose first rung is at least one epoch (rounding can make the last 0).
        return [max(s for s in range(self._s_max_1) if self._get_r0(s) >= 1)]


def bracket_order(scheduler: HyperBandScheduler) -> list[int]:
    """The brackets (by s) a band of `scheduler` creates, in Ray's order."""
    if isinstance(scheduler, SuccessiveHalvingScheduler):
        return scheduler.bracket_order()
    return [s for s in range(scheduler._s_max_1) if scheduler._get_r0(s) >= 1]


def bracket_epochs(trials: int, first_rung: int, max_t: int, eta: int = REDUCTION_FACTOR) -> int:
    """Epochs one full bracket trains: `trials` to `first_rung` epochs, the best 1/eta of them
    on to eta times as many, ..., up to `max_t` (as Ray's bracket promotes)."""
    epochs, done, n, r = 0, 0, trials, first_rung
    while True:
        epochs += n * (r - done)
        if r >= max_t:
            return epochs
        done, n, r = r, math.ceil(n / eta), min(r * eta, max_t)


def bracket_samples(
    scheduler: HyperBandScheduler, space: SearchSpace, settings: MethodSettings
) -> int:
    """Trials to create: as asked; with an epoch budget, the whole brackets that fit in it.

    Ray runs the brackets of created trials side by side (least complete first), so creating
    more trials than the budget's brackets hold would spend it all on first rungs.
    """
    if settings.samples is not None:
        return settings.samples
    if settings.budget_epochs is None:
        return settings.default_samples(space)
    trials = spent = 0
    for s in itertools.cycle(bracket_order(scheduler)):
        n, r = scheduler._get_n0(s), scheduler._get_r0(s)
        cost = bracket_epochs(n, r, settings.max_epochs, scheduler._eta)
        if trials and spent + cost > settings.budget_epochs:
            return trials
        trials, spent = trials + n, spent + cost


def _synchronous_plan(
    scheduler_class: type[SynchronousHyperBand], space: SearchSpace, settings: MethodSettings
) -> Plan:
    """Random sampling under synchronous brackets, every trial created up front."""
    scheduler = scheduler_class(
        time_attr=settings.resource_attr,
        max_t=settings.max_epochs,
        reduction_factor=knob_value(settings, REDUCTION),
    )
    samples = bracket_samples(scheduler, space, settings)
    return Plan(space.distributions(), samples, unlimited_variants(settings), scheduler)


def _sha(space: SearchSpace, settings: MethodSettings) -> Plan:
    return _synchronous_plan(SuccessiveHalvingScheduler, space, settings)


def _hyperband(space: SearchSpace, settings: MethodSettings) -> Plan:
    return _synchronous_plan(SynchronousHyperBand, space, settings)


def _asha(space: SearchSpace, settings: MethodSettings) -> Plan:
    grace_period = knob_value(settings, GRACE_PERIOD)
    if grace_period > settings.max_epochs:  # Ray asserts it
        raise ValueError(
            f"asha: grace_period={grace_period} exceeds the {settings.max_epochs} epochs a trial "
            "trains"
        )
    scheduler = AsyncHyperBandScheduler(
        time_attr=settings.resource_attr,
        max_t=settings.max_epochs,
        grace_period=grace_period,
        reduction_factor=knob_value(settings, REDUCTION),
    )
    samples = settings.default_samples(space)
    return Plan(space.distributions(), samples, basic_variants(settings), scheduler)


def _bohb(space: SearchSpace, settings: MethodSettings) -> Plan:
    require("hpbandster", "hpbandster", "bohb")
    require("ConfigSpace", "ConfigSpace", "bohb")
    from ray.tune.search.bohb import TuneBOHB

    scheduler = HyperBandForBOHB(
        time_attr=settings.resource_attr,
        max_t=settings.max_epochs,
        reduction_factor=knob_value(settings, REDUCTION),
    )
    searcher = limited(TuneBOHB(seed=settings.seed), settings)
    samples = settings.default_samples(space)
    return Plan(space.distributions(), samples, searcher, scheduler)


HALVING_METHODS = (
    Method(
        "sha",
        "early stopping",
        "Synchronous successive halving: one Hyperband bracket, repeated (HyperBandScheduler).",
        "Spends most epochs on the best configurations; simple; promotions compare equals.",
        "Waits for a full rung before promoting; one aggressive bracket can drop late bloomers.",
        _sha,
        (REDUCTION,),
        HALVING_NOTES,
    ),
    Method(
        "hyperband",
        "early stopping",
        "Hyperband: successive-halving brackets from aggressive to none, random sampling.",
        "Hedges over how early to stop; strong anytime performance with no model.",
        "Synchronous rungs pause trials; the conservative brackets cost full training.",
        _hyperband,
        (REDUCTION,),
        HALVING_NOTES,
    ),
    Method(
        "asha",
        "early stopping",
        "Random sampling with asynchronous successive halving (AsyncHyperBandScheduler).",
        "Stops poor trials early without waiting for a full rung; keeps workers busy.",
        "Can stop late bloomers; promotions are noisier than synchronous halving.",
        _asha,
        (GRACE_PERIOD, REDUCTION),
        {"concurrency": "--concurrency (default: free CPUs)"},
    ),
    Method(
        "bohb",
        "early stopping + Bayesian",
        "BOHB: Hyperband brackets with a TPE-like kernel density model proposing configurations.",
        "Hyperband's early stopping plus a model that learns where good configurations lie.",
        "Needs hpbandster + ConfigSpace; the model helps only after enough finished rungs.",
        _bohb,
        (REDUCTION,),
        {**HALVING_NOTES, "concurrency": "--concurrency (default 2)"},
    ),
)
