"""Benchmark: the `mnist-l2` grid on real MNIST, and Tune's per-epoch overhead vs a plain loop.

Usage (from the project root, with the real data folder):
    .venv/bin/python benchmarks/mnist_grid.py --data-dir ../shared/data [--max-epochs 10]

Prints the best configuration by validation accuracy and its test accuracy, then times the same
configuration for a few epochs inside Ray Tune (one trial, one thread) and in a plain PyTorch loop
(same model, batch size, thread count) and prints the ratio of seconds per epoch.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from trainables.data import batches, normalize
from trainables.mnist import MnistConfig, build_cnn
from trainables.training import build_optimizer, evaluate, train_epoch
from tune_jobs.execute import best_summary, ensure_ray, execute
from tune_jobs.options import RunOptions, load_data, prepare


def plain_loop_seconds_per_epoch(config: MnistConfig, data, epochs: int) -> float:
    """The trainable's work (train, validate, test) without Ray, timed per epoch."""
    torch.set_num_threads(1)
    torch.manual_seed(config.seed)
    model = build_cnn(config)
    optimizer = build_optimizer(config.optimizer, model, config.lr, config.weight_decay)
    train_x = normalize(data.train_x, data.mean, data.std)
    val_x = normalize(data.val_x, data.mean, data.std)
    test_x = normalize(data.test_x, data.mean, data.std)
    started = time.perf_counter()
    for epoch in range(epochs):
        shuffle = torch.Generator().manual_seed(epoch)
        train_epoch(
            model, optimizer, batches(train_x, data.train_y, config.batch_size, shuffle),
            weight_decay=config.weight_decay,
        )  # fmt: skip
        evaluate(model, val_x, data.val_y)
        evaluate(model, test_x, data.test_y)
    return (time.perf_counter() - started) / epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument("--overhead-epochs", type=int, default=3)
    args = parser.parse_args()
    storage = tempfile.mkdtemp(prefix="bench-mnist-")

    grid = prepare(
        RunOptions(
            "mnist-l2",
            "grid",
            max_epochs=args.max_epochs,
            data_dir=args.data_dir,
            storage=storage,
            name="grid",
        )
    )
    data = load_data(grid.job, grid.options)
    ensure_ray()
    started = time.time()
    results = execute(grid, data)
    best = best_summary(results, grid.job)
    print(
        f"\n== grid: {len(results)} trials x {grid.settings.max_epochs} epochs, "
        f"{time.time() - started:.0f} s wall on this machine"
    )
    print(
        f"best val_acc {best['val_acc']:.4f} at epoch {best['epoch']}, "
        f"test_acc {best['test_acc']:.4f}, config {best['config']}"
    )

    tuned = {k: v for k, v in best["config"].items() if k not in ("epochs",)}
    single = prepare(
        RunOptions(
            "mnist-l2",
            "grid",
            max_epochs=args.overhead_epochs,
            overrides=tuned,
            data_dir=args.data_dir,
            storage=storage,
            name="overhead",
            concurrency=1,
        )
    )
    tune_results = execute(single, data)
    history = tune_results[0].metrics_dataframe
    tune_epoch = float(history["time_this_iter_s"].mean())
    config = MnistConfig.from_dict({**tuned, "epochs": args.overhead_epochs})
    plain_epoch = plain_loop_seconds_per_epoch(config, data, args.overhead_epochs)
    print(
        f"\n== seconds per epoch, 1 thread, {args.overhead_epochs} epochs: "
        f"Tune {tune_epoch:.2f} s, plain loop {plain_epoch:.2f} s, "
        f"ratio {tune_epoch / plain_epoch:.3f}"
    )
    print(f"experiments in {storage}")


if __name__ == "__main__":
    main()
