"""Benchmark: seconds per MNIST epoch (training, and evaluating 10k val + 10k test) and the peak
resident memory of one trial process, on real MNIST and one thread.

Usage (from the project root, with the real data folder):
    PYTHONPATH=$PWD .venv/bin/python benchmarks/epoch_speed.py --data-dir ../shared/data \
        [--train-subset 10000] [--repeats 3] [--memory] [--variants]

`trial` timing runs `train_mnist` in this process for one epoch (Ray's report call replaced by a
recorder) and splits its seconds into training and evaluation by timing every `evaluate` call, so
it measures any version of `trainables/` the PYTHONPATH points at (e.g. an older commit's). The
first epoch always evaluates both validation and test. `--memory` runs one full trial in a fresh
process and prints its peak RSS (`ru_maxrss`); `--tune-memory` that of the Ray worker that runs
one trial in Ray Tune (the data comes from the object store). `--variants` times the choices the
trainable makes (channels_last, evaluation batch size) on the same model and data. Other
processes share the CPUs: each figure is the minimum over `--repeats` runs.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import torch

import trainables.loop as loop
from trainables.data import load_mnist
from trainables.mnist import train_mnist

CONFIG = {"epochs": 1, "seed": 0}
EVAL_BATCH_SIZES = (
    250,
    500,
    1000,
    2000,
)  # MnistConfig's defaults: 2 conv layers of 32/64, width 128


def time_trial(data, config: dict) -> dict[str, float]:
    """One in-process trial: its seconds to the first report, and the part spent evaluating."""
    evaluate, spent = loop.evaluate, []

    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return evaluate(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - started)

    reports = []
    loop.evaluate = timed
    loop.report = lambda metrics, state=None: reports.append((time.perf_counter(), metrics))
    loop.restored_state = lambda: None
    try:
        started = time.perf_counter()
        train_mnist(config, data)
    finally:
        loop.evaluate = evaluate
    total = reports[0][0] - started
    return {
        "trial_s": total,
        "eval_s": sum(spent),
        "train_s": total - sum(spent),
        "val_acc": reports[0][1]["val_acc"],
    }


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def one_trial_memory(data_dir: str, train_subset: int | None) -> None:
    """Child process: load the data, run one trial, print peak RSS after loading and after it."""
    data = load_mnist(data_dir, download=False).subset(train=train_subset)
    loaded = peak_rss_mib()
    figures = time_trial(data, CONFIG)
    print(json.dumps({"rss_after_load_mib": loaded, "rss_peak_mib": peak_rss_mib(), **figures}))


def _measured_trial(config: dict, data, out: str) -> None:
    """`train_mnist` in a Tune trial, then its worker's peak RSS written to `out`."""
    train_mnist(config, data)
    with open(out, "w") as stream:
        stream.write(str(peak_rss_mib()))


def tune_trial_memory(data) -> float:
    """Peak RSS (MiB) of the worker process that ran one one-epoch MNIST trial in Ray Tune."""
    import tempfile

    import ray
    from ray import tune

    folder = tempfile.mkdtemp(prefix="epoch-speed-")
    ray.init(num_cpus=1, include_dashboard=False, logging_level="ERROR")
    try:
        trainable = tune.with_parameters(_measured_trial, data=data, out=f"{folder}/rss")
        tune.Tuner(
            trainable, param_space=CONFIG, run_config=tune.RunConfig(storage_path=folder, verbose=0)
        ).fit()
    finally:
        ray.shutdown()
    with open(f"{folder}/rss") as stream:
        return float(stream.read())


def variants(data, repeats: int) -> None:
    """Train and evaluate the default CNN with and without channels_last, and each evaluation
    batch size, through the trainable's own steps (needs the current `trainables/`)."""
    from trainables.data import batches
    from trainables.mnist import MnistConfig, build_cnn, standardized
    from trainables.training import build_optimizer, evaluate, train_epoch

    config = MnistConfig()
    train_seconds = {layout: [] for layout in (False, True)}
    val_acc = {}
    eval_seconds = {(layout, size): [] for layout in (False, True) for size in EVAL_BATCH_SIZES}
    for _ in range(repeats):  # the variants interleaved, so a busy spell hits them alike
        for channels_last in (False, True):
            torch.manual_seed(0)
            net = standardized(build_cnn(config), data.mean, data.std, channels_last)
            optimizer = build_optimizer("sgd", net, lr=config.lr)
            shuffle = torch.Generator().manual_seed(0)
            started = time.perf_counter()
            train_epoch(net, optimizer, batches(data.train_x, data.train_y, 64, shuffle))
            train_seconds[channels_last].append(time.perf_counter() - started)
            for size in EVAL_BATCH_SIZES:
                started = time.perf_counter()
                val_acc[channels_last] = evaluate(net, data.val_x, data.val_y, size)[1]
                evaluate(net, data.test_x, data.test_y, batch_size=size)
                eval_seconds[channels_last, size].append(time.perf_counter() - started)
    for channels_last in (False, True):
        evals = ", ".join(
            f"{size}: {min(eval_seconds[channels_last, size]):.2f} s" for size in EVAL_BATCH_SIZES
        )
        print(
            f"channels_last={channels_last!s:5}: train {min(train_seconds[channels_last]):.2f} s; "
            f"eval (val+test) by batch size {evals}; val_acc {val_acc[channels_last]:.4f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--train-subset", type=int, default=None, help="training images (all)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory", action="store_true", help="peak RSS of one trial process")
    parser.add_argument("--tune-memory", action="store_true", help="peak RSS of a Tune trial")
    parser.add_argument("--variants", action="store_true", help="channels_last, eval batch")
    parser.add_argument("--one-trial-memory", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.one_trial_memory:
        one_trial_memory(args.data_dir, args.train_subset)
        return
    data = load_mnist(args.data_dir, download=False).subset(train=args.train_subset)
    print(f"MNIST: {data.sizes()}, 1 thread, minimum of {args.repeats} runs")
    if args.variants:
        variants(data, args.repeats)
        return
    if args.tune_memory:
        print(f"one Tune trial's worker: peak RSS {tune_trial_memory(data):.0f} MiB")
        return
    runs = [time_trial(data, CONFIG) for _ in range(args.repeats)]
    best = {key: min(run[key] for run in runs) for key in ("trial_s", "train_s", "eval_s")}
    print(
        f"one-epoch trial: {best['trial_s']:.2f} s = training {best['train_s']:.2f} s + "
        f"evaluating val and test {best['eval_s']:.2f} s (val_acc {runs[0]['val_acc']:.4f})"
    )
    if args.memory:
        command = [sys.executable, __file__, "--one-trial-memory", "--data-dir", args.data_dir]
        if args.train_subset:
            command += ["--train-subset", str(args.train_subset)]
        child = json.loads(subprocess.run(command, check=True, capture_output=True).stdout)
        print(
            f"one trial process: peak RSS {child['rss_peak_mib']:.0f} MiB "
            f"({child['rss_after_load_mib']:.0f} MiB after loading the data)"
        )


if __name__ == "__main__":
    main()
