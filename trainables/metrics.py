"""Names of the metrics every trainable reports, defined once and imported everywhere."""

from __future__ import annotations

EPOCH = "epoch"
TRAIN_LOSS = "train_loss"  # mean data loss (cross-entropy) over the epoch's batches
TRAIN_COST = "train_cost"  # data loss + regularization penalty: the "training cost" of Problem 4.3
VAL_LOSS = "val_loss"
VAL_ACC = "val_acc"
TEST_ACC = "test_acc"  # at the epoch of the best val_acc so far (evaluated only then)
DIVERGED = "diverged"  # True on the one report of a trial whose loss became NaN or infinite

# Selection metric of every job: validation accuracy, higher is better. The test set never chooses.
METRIC = VAL_ACC
MODE = "max"


def default_mode(metric: str) -> str:
    """max for an accuracy, min for a loss or cost; ValueError when the name does not say."""
    if metric.endswith("acc"):
        return "max"
    if metric.endswith(("loss", "cost")):
        return "min"
    raise ValueError(f"metric {metric}: say whether to maximise it: --mode min or --mode max")


# What a run may optimise instead (`tune-jobs run --metric`): validation and training scores only.
SELECTABLE = (VAL_ACC, VAL_LOSS, TRAIN_LOSS, TRAIN_COST)

# Schedulers count resources in Ray's own per-report counter, which equals epochs here.
RESOURCE_ATTR = "training_iteration"

# Recorded by trials that start from another experiment's weights (`tune-jobs run --init-from`).
INIT_TRIAL = "init_trial"  # the source experiment's trial whose checkpoint was loaded
INIT_CHECKPOINT = "init_checkpoint"  # that checkpoint's path
INIT_VAL_ACC = "init_val_acc"  # validation accuracy of the loaded weights, before any step

# Where and how long each epoch ran, reported beside the metrics.
DEVICE = "device"  # the device the trial trained on: "cpu" or "cuda:0" (text, not a metric to tune)
TRAIN_SECONDS = "train_seconds"  # seconds of the epoch's training steps
EVAL_SECONDS = "eval_seconds"  # seconds of its evaluation (validation, and test when it improved)
