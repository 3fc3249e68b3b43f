"""Early-stopping methods: successive halving, Hyperband, ASHA and BOHB.

All of them start many configurations on a small number of epochs and promote the best fraction
(1 / reduction_factor) to ever longer training, up to the job's epoch limit.
"""

from __future__ import annotations

from ray.tune.schedulers import AsyncHyperBandScheduler, HyperBandForBOHB, HyperBandScheduler

from search_spaces.method_types import (
    Method,
    MethodSettings,
    Plan,
    basic_variants,
    limited,
    require,
    unlimited_variants,
)
from search_spaces.space import SearchSpace

REDUCTION_FACTOR = 3
# A synchronous bracket decides once all its trials reach a rung, so all of them must exist:
# trials are created up front and free CPUs, not --concurrency, bound how many run at once.
HALVING_KNOBS = {
    "reduction_factor": REDUCTION_FACTOR,
    "min_epochs": "max_epochs / 3^(rungs-1)",
    "concurrency": "free CPUs",
}
ASHA_KNOBS = {"grace_period": 1, "reduction_factor": REDUCTION_FACTOR}


class SuccessiveHalvingScheduler(HyperBandScheduler):
    """Synchronous successive halving: Hyperband restricted to its most aggressive bracket.

    Each bracket starts `n` trials at `max_t / eta^s` epochs, keeps the best 1/eta of them at each
    rung and stops the rest, as Hyperband's bracket s = s_max does; more trials than one bracket
    holds fill further brackets of the same shape, one after another.
    """

    def _cur_band_filled(self) -> bool:
        return len(self._hyperbands[self._state["band_idx"]]) == 1

    def _create_bracket(self, s: int):
        return super()._create_bracket(self._s_max_1 - 1)

    def bracket_shape(self) -> tuple[int, int]:
        """(trials per bracket, epochs at the first rung)."""
        s = self._s_max_1 - 1
        return self._get_n0(s), self._get_r0(s)


def _sha(space: SearchSpace, settings: MethodSettings) -> Plan:
    scheduler = SuccessiveHalvingScheduler(
        time_attr=settings.resource_attr,
        max_t=settings.max_epochs,
        reduction_factor=REDUCTION_FACTOR,
    )
    samples = settings.default_samples(space)
    return Plan(space.distributions(), samples, unlimited_variants(settings), scheduler)


def _hyperband(space: SearchSpace, settings: MethodSettings) -> Plan:
    scheduler = HyperBandScheduler(
        time_attr=settings.resource_attr,
        max_t=settings.max_epochs,
        reduction_factor=REDUCTION_FACTOR,
    )
    samples = settings.default_samples(space)
    return Plan(space.distributions(), samples, unlimited_variants(settings), scheduler)


def _asha(space: SearchSpace, settings: MethodSettings) -> Plan:
    scheduler = AsyncHyperBandScheduler(
        time_attr=settings.resource_attr, max_t=settings.max_epochs, **ASHA_KNOBS
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
        reduction_factor=REDUCTION_FACTOR,
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
        HALVING_KNOBS,
    ),
    Method(
        "hyperband",
        "early stopping",
        "Hyperband: successive-halving brackets from aggressive to none, random sampling.",
        "Hedges over how early to stop; strong anytime performance with no model.",
        "Synchronous rungs pause trials; the conservative brackets cost full training.",
        _hyperband,
        HALVING_KNOBS,
    ),
    Method(
        "asha",
        "early stopping",
        "Random sampling with asynchronous successive halving (AsyncHyperBandScheduler).",
        "Stops poor trials early without waiting for a full rung; keeps workers busy.",
        "Can stop late bloomers; promotions are noisier than synchronous halving.",
        _asha,
        ASHA_KNOBS,
    ),
    Method(
        "bohb",
        "early stopping + Bayesian",
        "BOHB: Hyperband brackets with a TPE-like kernel density model proposing configurations.",
        "Hyperband's early stopping plus a model that learns where good configurations lie.",
        "Needs hpbandster + ConfigSpace; the model helps only after enough finished rungs.",
        _bohb,
        {**HALVING_KNOBS, "concurrency": "--concurrency (default 2)"},
    ),
)
