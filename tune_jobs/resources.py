"""What one trial asks Ray for (CPUs, GPUs), and changing it when an experiment is resumed.

Tune saves each trial's resource request in the experiment state and a restored trial keeps it,
whatever the restoring trainable asks for; only trials created after the restore would use the
new request. `ResumeResources` hands the resumed run's request to the restored trials too.
"""

from __future__ import annotations

from typing import Any

from ray import tune
from ray.tune.execution.placement_groups import resource_dict_to_pg_factory
from ray.tune.experiment import Trial


def trial_resources(cpus: float, gpus: float) -> dict[str, float]:
    """The resources of one trial, as `tune.with_resources` takes them."""
    return {"cpu": cpus, "gpu": gpus}


class ResumeResources(tune.Callback):
    """Before Tune starts them, give trials that are not running `resources` (a resumed run's).

    Ray's own `update_pending_trial_resources` (tune.run's resume path) does the same; the Tuner
    API has no such option.
    """

    def __init__(self, resources: dict[str, float]) -> None:
        self.factory = resource_dict_to_pg_factory(dict(resources))

    def on_step_begin(self, iteration: int, trials: list[Trial], **info: Any) -> None:
        for trial in trials:
            if trial.status == Trial.PENDING and trial.placement_group_factory != self.factory:
                trial.update_resources(self.factory)


def resume_with_resources(tuner: tune.Tuner, resources: dict[str, float]) -> None:
    """Make the restored `tuner` run its unfinished trials with `resources`."""
    run_config = tuner._local_tuner.get_run_config()  # the restored copy that `fit` runs
    kept = [c for c in run_config.callbacks or [] if not isinstance(c, ResumeResources)]
    run_config.callbacks = [*kept, ResumeResources(resources)]
