"""Measure the mnist-bench job's epoch on real data and compute the benchmark's plan in hours.

Times one epoch (after one warm-up epoch) of the job's CNN at one thread for each distinct
architecture of its grid and of the first Sobol configurations: training on the job's subset,
evaluating the full validation and test sets, as a trial does. Then prints the hours that the
recording (grid + N Sobol configurations x K seeds) and the validation runs (methods x seeds at a
quarter and once the grid's epoch budget) take at C concurrent trials, adding a per-trial
overhead (Ray's actor start, torch import, data transfer) measured from a recorded table:
its first epochs' seconds minus the later epochs' median.

    TUNE_JOBS_DATA_DIR=/work/shared/data .venv/bin/python benchmarks/hpo_bench_plan.py \
        --overhead-from /tmp/real.parquet
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from search_spaces.sobol import grid_configs, sobol_configs
from search_spaces.space import SearchSpace
from trainables.data import batches, load_mnist, normalize
from trainables.loop import epoch_generator
from trainables.mnist import MnistConfig, build_cnn
from trainables.replay import read_table
from trainables.training import build_optimizer, evaluate, train_epoch
from tune_jobs.jobs import Job, get_job

# Trials a method starts per epoch of budget: full-length trials (grid, random, tpe) train
# max_epochs each; the eta-3 brackets (asha, hyperband, bohb) measured here: 28 trials in 72 epochs.
TRIALS_PER_EPOCH = {"grid": 1 / 9, "random": 1 / 9, "tpe": 1 / 9}
TRIALS_PER_EPOCH |= {"asha": 28 / 72, "hyperband": 28 / 72, "bohb": 28 / 72}


def epoch_seconds(config: MnistConfig, data, threads: int = 1) -> float:
    """Seconds of the second epoch (train + full val and test evaluation) of `config`."""
    torch.set_num_threads(threads)
    train_x, val_x, test_x = (
        normalize(x, data.mean, data.std) for x in (data.train_x, data.val_x, data.test_x)
    )
    torch.manual_seed(0)
    model = build_cnn(config)
    optimizer = build_optimizer(config.optimizer, model, lr=config.lr, momentum=config.momentum)
    for epoch in range(2):
        start = time.perf_counter()
        shuffle = epoch_generator(0, epoch)
        train_epoch(model, optimizer, batches(train_x, data.train_y, config.batch_size, shuffle))
        evaluate(model, val_x, data.val_y)
        evaluate(model, test_x, data.test_y)
        seconds = time.perf_counter() - start
    return seconds


def overhead(path: str) -> float:
    """Median over a recorded table's trials of first-epoch seconds minus later epochs' median."""
    frame = read_table(path).frame
    later = frame.loc[frame["epoch"] > 1, "seconds"].median()
    return float(frame.loc[frame["epoch"] == 1, "seconds"].median() - later)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sobol", type=int, default=8, help="Sobol architectures to time")
    parser.add_argument("--overhead-from", help="a recorded table (replay record) for overhead")
    parser.add_argument("--overhead", type=float, default=0.0, help="or the overhead in s")
    parser.add_argument("--configs", type=int, default=128, help="Sobol configs recorded (N)")
    parser.add_argument("--seeds", type=int, default=3, help="training seeds (K), method seeds")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--epoch-seconds", type=float, help="plan with this epoch; no timing")
    args = parser.parse_args()
    job = get_job("mnist-bench")
    space = job.space()
    if args.epoch_seconds is not None:
        grid_epoch = space_epoch = args.epoch_seconds
    else:
        grid_epoch, space_epoch = measure(job, space, args.sobol)
    extra = overhead(args.overhead_from) if args.overhead_from else args.overhead
    plan(args, space.grid_size(), job.max_epochs, (grid_epoch, space_epoch), extra)


def measure(job: Job, space: SearchSpace, sobol_count: int) -> tuple[float, float]:
    """Mean epoch seconds over the grid's and over `sobol_count` Sobol configurations."""
    data = load_mnist().subset(train=job.train_subset)
    print(f"data: {data.sizes()}; {job.max_epochs} epochs; one thread per trial")
    timed: dict[tuple[int, int], float] = {}
    means = []
    for kind, configs in (
        ("grid", grid_configs(space)),
        ("sobol", sobol_configs(space, sobol_count)),
    ):
        shapes = {(c["channels"], c["width"]): c for c in configs}  # seconds depend on these
        for (channels, width), config in shapes.items():
            cfg = MnistConfig.from_dict({**space.fixed, **config})
            seconds = timed.setdefault((channels, width), epoch_seconds(cfg, data))
            print(f"{kind}: channels {channels:2d}, width {width:3d}: {seconds:.2f} s/epoch")
        means.append(statistics.mean(timed[(c["channels"], c["width"])] for c in configs))
        print(f"{kind} mean over its {len(configs)} configurations: {means[-1]:.2f} s")
    return means[0], means[1]


def plan(
    args: argparse.Namespace,
    grid_size: int,
    epochs: int,
    seconds: tuple[float, float],
    extra: float,
) -> None:
    """Print the hours of the recording and of the validation runs (module doc)."""
    grid_epoch, space_epoch = seconds
    configs = grid_size + args.configs
    trial_seconds = (grid_size * grid_epoch + args.configs * space_epoch) / configs * epochs
    trial_seconds += extra
    print(
        f"epoch: grid {grid_epoch:.2f} s, space {space_epoch:.2f} s; per-trial overhead "
        f"{extra:.1f} s; a recorded trial of {epochs} epochs: {trial_seconds:.1f} s"
    )
    trials = configs * args.seeds
    hours = trials * trial_seconds / args.concurrency / 3600
    print(
        f"recording: {grid_size} grid + {args.configs} Sobol = {configs} configs x {args.seeds} "
        f"seeds = {trials} trials: {hours:.1f} h at {args.concurrency} concurrent trials"
    )
    budget = grid_size * epochs
    total = 0.0
    for fraction in (0.25, 1.0):
        spent = budget * fraction
        for method, rate in TRIALS_PER_EPOCH.items():
            per_epoch = grid_epoch if method == "grid" else space_epoch
            run = (spent * per_epoch + spent * rate * extra) / args.concurrency
            total += args.seeds * run
            print(f"  {method} at {spent:.0f} epochs: {run / 60:.0f} min a run")
    print(
        f"validation: {len(TRIALS_PER_EPOCH)} methods x {args.seeds} seeds x budgets "
        f"{budget // 4} and {budget} epochs: {total / 3600:.1f} h at {args.concurrency} "
        "concurrent trials"
    )


if __name__ == "__main__":
    main()
