"""Seconds per epoch of the `cifar10-transfer` trainable inside Ray Tune, on real CIFAR-10 images.

No pretrained weights are available offline, so this measures speed, not accuracy (weights=none:
the cost of a forward pass does not depend on the weights' values). In one run, one trial after
another with the same CPUs:

1. finetune=fc, augmentation=none, cached features (the backbone runs once, then fc trains);
2. the same configuration with cache_features=false (the full forward pass every epoch);
3. finetune=conv1 at two input resolutions (backward through the whole network).

    .venv/bin/python benchmarks/cifar10_transfer.py --data-dir ../shared/data/cifar10-jpeg-subset

An epoch is what the trainable does per report: train on the training images, evaluate the
validation and test images. `time_this_iter_s` comes from Ray's own results.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import ray
from ray import tune

from trainables.cifar10 import CACHED_FEATURES, train_cifar10
from trainables.data import load_cifar10


def run_case(data, config: dict, cpus: int, storage: str, name: str):
    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(train_cifar10, data=data), {"cpu": cpus}),
        param_space=config,
        run_config=tune.RunConfig(storage_path=storage, name=name, verbose=0),
    )
    result = tuner.fit()[0]
    if result.error is not None:
        raise RuntimeError(f"{name} failed: {result.error}")
    return result.metrics_dataframe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("TUNE_JOBS_DATA_DIR"))
    parser.add_argument("--train", type=int, default=2000, help="training images used")
    parser.add_argument("--evaluation", type=int, default=500, help="val and test images each")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--resolution", type=int, default=64, help="fc comparison resolution")
    parser.add_argument("--conv1-resolutions", type=int, nargs=2, default=(32, 64))
    parser.add_argument("--cpus", type=int, default=2)
    args = parser.parse_args()

    started = time.time()
    data = load_cifar10(args.data_dir, download=False)
    full_sizes = data.sizes()
    data = data.subset(train=args.train, evaluation=args.evaluation)
    print(f"data: {full_sizes} loaded in {time.time() - started:.1f}s; using {data.sizes()}")
    ray.init(num_cpus=args.cpus, include_dashboard=False, logging_level="ERROR")
    base = {"weights": "none", "epochs": args.epochs, "patience": 0, "batch_size": 64}
    cases = [
        ("fc cached", {"finetune": "fc", "resolution": args.resolution}),
        (
            "fc full pass",
            {"finetune": "fc", "resolution": args.resolution, "cache_features": False},
        ),  # fmt: skip
        *((f"conv1 {r}px", {"finetune": "conv1", "resolution": r}) for r in args.conv1_resolutions),
    ]
    rows = []
    with tempfile.TemporaryDirectory() as storage:
        for index, (label, config) in enumerate(cases):
            history = run_case(data, {**base, **config}, args.cpus, storage, f"case{index}")
            seconds = history["time_this_iter_s"]
            rows.append((label, config, bool(history[CACHED_FEATURES].iloc[0]), seconds))
            print(f"{label}: seconds per epoch {[round(s, 2) for s in seconds]}", flush=True)
    ray.shutdown()

    # Other processes share these CPUs: medians and minima resist their bursts better than means.
    print("\n| case | cached features | epoch 1 (s) | later epochs: median / min (s) |")
    print("| --- | --- | --- | --- |")
    for label, _, cached, seconds in rows:
        later = seconds.iloc[1:] if len(seconds) > 1 else seconds
        print(
            f"| {label} | {cached} | {seconds.iloc[0]:.2f} | "
            f"{later.median():.3f} / {later.min():.3f} |"
        )
    cached_s, full_s = rows[0][3], rows[1][3]
    print(
        "\nfull pass / cached features, per epoch after the first: "
        f"{full_s.median() / cached_s.iloc[1:].median():.0f}x (medians), "
        f"{full_s.min() / cached_s.iloc[1:].min():.0f}x (minima); "
        f"first epoch (computes the features): {full_s.median() / cached_s.iloc[0]:.1f}x; "
        f"whole {args.epochs}-epoch trial: {full_s.sum() / cached_s.sum():.1f}x"
    )
    print(f"total wall time {time.time() - started:.0f}s")


if __name__ == "__main__":
    main()
