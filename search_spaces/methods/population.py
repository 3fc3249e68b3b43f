"""Population methods: a genetic algorithm, particle swarm optimization and PBT."""

from __future__ import annotations

import warnings

from ray.tune.schedulers import PopulationBasedTraining

from search_spaces.methods.base import (
    IncompatibleSpaceError,
    Knob,
    Method,
    MethodSettings,
    Plan,
    basic_variants,
    fixed_only,
    knob_value,
    limited,
    numeric_dimensions,
    require,
)
from search_spaces.space import Float, SearchSpace

GA_POPULATION = 8
PSO_POPULATION = 8
PBT_POPULATION = 8
GA_SIZE = Knob("population", int, GA_POPULATION, "configurations per generation", low=2)
PARTICLES = Knob("particles", int, PSO_POPULATION, "particles in the swarm", low=2)
PBT_INTERVAL = Knob("perturbation_interval", int, 1, "epochs between exploit/explore steps", low=1)
PBT_QUANTILE = Knob(
    "quantile_fraction", float, 0.25,
    "bottom fraction that copies the top fraction's weights", low=0.0, high=0.5,
)  # fmt: skip
PBT_RESAMPLE = Knob(
    "resample_probability", float, 0.25,
    "chance a value is redrawn from its distribution, not perturbed", low=0.0, high=1.0,
)  # fmt: skip


def _ga(space: SearchSpace, settings: MethodSettings) -> Plan:
    require("optuna", "optuna", "ga")
    from ray.tune.search.optuna import OptunaSearch

    from search_spaces.methods.nsga import PicklableNSGAIISampler

    # NSGA-II with one objective is an elitist genetic algorithm: binary tournament selection,
    # uniform crossover and per-gene mutation over a population (GA_SIZE).
    sampler = PicklableNSGAIISampler(
        population_size=knob_value(settings, GA_SIZE), seed=settings.seed
    )
    searcher = limited(OptunaSearch(sampler=sampler), settings)
    return Plan(space.distributions(), settings.default_samples(space), searcher)


def _pso(space: SearchSpace, settings: MethodSettings) -> Plan:
    ng = require("nevergrad", "nevergrad", "pso")
    if not numeric_dimensions(space):
        raise IncompatibleSpaceError("pso moves particles through numeric dimensions; none here")
    import numpy as np
    from ray.tune.search.nevergrad import NevergradSearch

    # Build the optimizer ourselves so that its random state is seeded; categorical dimensions
    # are Nevergrad Choices (softmax-weighted positions the swarm moves like the others).
    with warnings.catch_warnings():
        # Nevergrad advises 3 sigma between bounds; a log-integer range of x4 (channels 8-32)
        # is 1.4 in Ray's conversion. Said once per plan, it floods a compare of many seeds.
        warnings.filterwarnings("ignore", message="Bounds are .* sigma away")
        parametrization = NevergradSearch.convert_search_space(space.distributions())
    parametrization.random_state = np.random.RandomState(settings.seed)
    samples = settings.default_samples(space)
    optimizer = ng.optimizers.ConfiguredPSO(popsize=knob_value(settings, PARTICLES))(
        parametrization, budget=samples
    )
    # With its space set at build, NevergradSearch ignores Tune's metric and mode: pass them here.
    searcher = NevergradSearch(
        optimizer=optimizer, space=None, metric=settings.metric, mode=settings.mode
    )
    return Plan(fixed_only(space), samples, limited(searcher, settings))


def pbt_mutations(space: SearchSpace) -> dict:
    """Real-valued dimensions only: others (widths, optimizer names) shape the network or its
    state, so an exploiting trial keeps the donor's values with the donor's checkpoint."""
    return {
        name: dimension.distribution()
        for name, dimension in space.dimensions.items()
        if isinstance(dimension, Float)
    }


class ClipToSpace:
    """PBT's explore step after Ray's: a perturbed value (x0.8 or x1.2) clipped back into its
    dimension's range, since Ray does not clip (dropout 0.6 x 1.2 would leave [0, 0.6])."""

    def __init__(self, space: SearchSpace):
        self.bounds = {
            name: (dimension.low, dimension.high)
            for name, dimension in space.dimensions.items()
            if isinstance(dimension, Float)
        }

    def __call__(self, config: dict) -> dict:
        for name, (low, high) in self.bounds.items():
            if name in config:
                config[name] = min(max(config[name], low), high)
        return config


def pbt_scheduler(
    space: SearchSpace, settings: MethodSettings, synch: bool = False
) -> PopulationBasedTraining:
    """PBT perturbing the space's real-valued dimensions, with the method's knobs. `synch`:
    Ray's synchronous PBT, which waits for every live trial at each perturbation (the method
    itself is asynchronous)."""
    mutations = pbt_mutations(space)
    if not mutations:
        raise IncompatibleSpaceError("pbt explores by perturbing real-valued dimensions; none here")
    return PopulationBasedTraining(
        time_attr=settings.resource_attr,
        perturbation_interval=knob_value(settings, PBT_INTERVAL),
        quantile_fraction=knob_value(settings, PBT_QUANTILE),
        resample_probability=knob_value(settings, PBT_RESAMPLE),
        hyperparam_mutations=mutations,
        custom_explore_fn=ClipToSpace(space),
        synch=synch,
    )


def _pbt(space: SearchSpace, settings: MethodSettings) -> Plan:
    scheduler = pbt_scheduler(space, settings)
    if settings.samples is not None:
        population = settings.samples
    elif settings.budget_epochs is not None:
        population = max(2, settings.budget_epochs // settings.max_epochs)
    else:
        population = PBT_POPULATION
    return Plan(
        space.distributions(), population, basic_variants(settings), scheduler,
        keeps_all_checkpoints=True,
    )  # fmt: skip


POPULATION_METHODS = (
    Method(
        "ga",
        "evolutionary",
        f"Genetic algorithm (Optuna's NSGA-II sampler, one objective): population "
        f"{GA_POPULATION} by default, tournament selection, uniform crossover, mutation.",
        "No gradient or smoothness assumptions; mixes good configurations; seeded.",
        "Needs several generations (many trials) before it beats random search.",
        _ga,
        (GA_SIZE,),
        {"crossover": "uniform", "concurrency": "--concurrency (default 2)"},
    ),
    Method(
        "pso",
        "swarm",
        f"Particle swarm optimization (Nevergrad's PSO through NevergradSearch), "
        f"{PSO_POPULATION} particles by default.",
        "Simple; particles share the best positions found; handles continuous spaces well.",
        "Categorical dimensions are relaxed, not native; needs many trials.",
        _pso,
        (PARTICLES,),
        {"concurrency": "--concurrency (default 2)"},
    ),
    Method(
        "pbt",
        "population training",
        "Population-based training: trials copy the weights of better ones (exploit) and "
        "perturb their real-valued hyperparameters (explore) every epoch.",
        "Tunes schedules, not constants; one training run's cost per population member.",
        "Greedy: favours short-term gains; results depend on checkpoint timing.",
        _pbt,
        (PBT_INTERVAL, PBT_QUANTILE, PBT_RESAMPLE),
        {"population": f"--samples, else budget / max_epochs, else {PBT_POPULATION}"},
    ),
)
