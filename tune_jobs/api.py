"""The public API for your own jobs: everything a job file imports (docs/own-job.md).

    from tune_jobs.api import Choice, Float, Int, Job, SearchSpace, Splits, report, restored_state

A trainable is `trainable(config, data)`: `config` is one point of the space plus `epochs` (to
train) and `seed`; `data` is what the job's `load_data` returned, shipped once through Ray's
object store. Once per epoch it calls `report({EPOCH: e, VAL_ACC: ..., ...}, state)`, where
`state` (a dict of tensors and plain values, with the weights under "model") is the epoch's
checkpoint; at its start `restored_state()` returns the state to continue from, or None.
"""

from __future__ import annotations

from search_spaces.space import Choice, Float, Int, SearchSpace
from trainables.loop import epoch_generator, start_trial
from trainables.metrics import EPOCH, TEST_ACC, TRAIN_LOSS, VAL_ACC, VAL_LOSS
from trainables.reporting import report, restored_state
from trainables.splits import Splits
from tune_jobs.job import Job

__all__ = [
    "EPOCH",
    "TEST_ACC",
    "TRAIN_LOSS",
    "VAL_ACC",
    "VAL_LOSS",
    "Choice",
    "Float",
    "Int",
    "Job",
    "SearchSpace",
    "Splits",
    "epoch_generator",
    "report",
    "restored_state",
    "start_trial",
]
