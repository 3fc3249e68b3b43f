"""GPU check: what a GPU machine runs as is, in under 5 minutes, on the real data folder.

Usage (from the project root):
    TUNE_JOBS_DATA_DIR=../shared/data .venv/bin/python benchmarks/gpu_check.py [--cpu-dry-run]

1. One epoch of the MNIST CNN (the `mnist-l2` defaults) on the full training split on the GPU,
   against the same epoch on all of the machine's CPU threads.
2. The 16-point `mnist-l2` grid through `tune-jobs run --gpus-per-trial 0.25` (four trials share
   one GPU): wall seconds, best val_acc and its test_acc.
3. One `cifar10-transfer` trial with `--set finetune=conv1` on the JPEG subset, on the GPU.
4. Seconds per epoch of one Tune trial on the GPU over a plain loop on the GPU (goal <= 1.15).

Without a visible GPU (or with --cpu-dry-run) it says so and runs every part on the CPU at a tiny
scale, to check that the script works; those figures say nothing about a GPU.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
CIFAR_SUBSET = "cifar10-jpeg-subset"  # under the data root (its README)
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from analysis.results import load_experiment  # noqa: E402
from trainables.data import batches, load_mnist, normalize  # noqa: E402
from trainables.mnist import MnistConfig, build_cnn  # noqa: E402
from trainables.training import build_optimizer, evaluate, train_epoch  # noqa: E402
from tune_jobs.cli import main as tune_jobs  # noqa: E402
from tune_jobs.jobs import get_job  # noqa: E402


@dataclass(frozen=True)
class Scale:
    """How much each part does: the real check, or the CPU dry run's tiny version."""

    gpu: bool
    train_subset: int | None  # None: the full split
    grid_epochs: int
    grid_pins: tuple[str, ...]  # --set pairs that shrink the grid (dry run)
    cifar_subset: int | None
    cifar_epochs: int
    ratio_epochs: int


def scale(gpu: bool, grid_epochs: int) -> Scale:
    if gpu:
        return Scale(True, None, grid_epochs, (), None, 1, 3)
    pins = ("lr=0.05", "weight_decay=1e-4", "dropout=0.25")  # two trials: width's two points
    return Scale(False, 1024, 1, pins, 128, 1, 2)


def plain_seconds_per_epoch(config: MnistConfig, data, device: str, epochs: int) -> float:
    """The trainable's work per epoch (train, validate, test) in a plain loop on `device`."""
    torch.manual_seed(config.seed)
    model = build_cnn(config).to(device)
    optimizer = build_optimizer(config.optimizer, model, config.lr, config.weight_decay)
    splits = (data.train_x, data.val_x, data.test_x)
    train_x, val_x, test_x = (normalize(x, data.mean, data.std).to(device) for x in splits)
    train_y, val_y, test_y = (y.to(device) for y in (data.train_y, data.val_y, data.test_y))
    synchronize(device)
    started = time.perf_counter()
    for epoch in range(epochs):
        shuffle = torch.Generator().manual_seed(epoch)
        train_epoch(
            model, optimizer, batches(train_x, train_y, config.batch_size, shuffle),
            weight_decay=config.weight_decay,
        )  # fmt: skip
        evaluate(model, val_x, val_y)
        evaluate(model, test_x, test_y)
    synchronize(device)
    return (time.perf_counter() - started) / epochs


def synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def run(*argv: str) -> tuple[float, Path]:
    """`tune-jobs run ...` in this process: wall seconds and the experiment folder."""
    started = time.perf_counter()
    code = tune_jobs(["run", *argv])
    if code != 0:
        sys.exit(f"tune-jobs run {' '.join(argv)} exited {code}")
    storage, name = argv[argv.index("--storage") + 1], argv[argv.index("--name") + 1]
    return time.perf_counter() - started, Path(storage) / name


def best(folder: Path) -> tuple[float, float, int]:
    """Best val_acc over every trial's epochs, that epoch's test_acc, and the trial count."""
    trials = load_experiment(folder)
    rows = [t.metrics_dataframe for t in trials if not t.metrics_dataframe.empty]
    top = max((frame.loc[frame["val_acc"].idxmax()] for frame in rows), key=lambda r: r["val_acc"])
    return float(top["val_acc"]), float(top["test_acc"]), len(trials)


# One configuration of the mnist-l2 grid (the job's fixed network, width 128): parts 1 and 4.
TUNED = {"lr": 0.05, "weight_decay": 1e-4, "dropout": 0.25, "width": 128}


def grid_config() -> MnistConfig:
    return MnistConfig.from_dict({**get_job("mnist-l2").space().fixed, **TUNED, "epochs": 1})


def part_epoch(size: Scale) -> None:
    """1: one epoch of the MNIST CNN, CPU threads against the GPU."""
    data = mnist(size)
    if not size.gpu:  # the dry run evaluates a slice too: this part compares nothing on a CPU
        data = data.subset(evaluation=size.train_subset)
    config = grid_config()
    torch.set_num_threads(os.cpu_count() or 1)
    cpu = plain_seconds_per_epoch(config, data, "cpu", 1)
    line = f"1. MNIST CNN, one epoch of {len(data.train_y)} images: CPU ({torch.get_num_threads()}"
    line += f" threads) {cpu:.2f} s"
    if size.gpu:
        plain_seconds_per_epoch(config, data, "cuda", 1)  # CUDA context and kernels, untimed
        on_gpu = plain_seconds_per_epoch(config, data, "cuda", 1)
        line += f", GPU {on_gpu:.2f} s, speed-up {cpu / on_gpu:.1f}x"
    print(line)


def mnist(size: Scale):
    data = load_mnist()
    if size.train_subset is None:
        return data
    return data.subset(train=size.train_subset)  # as --train-subset: evaluation in full


def part_grid(size: Scale, storage: str) -> None:
    """2: the mnist-l2 grid, four trials to a GPU."""
    gpus = ["--gpus-per-trial", "0.25" if size.gpu else "0"]
    pins = [arg for pair in size.grid_pins for arg in ("--set", pair)]
    wall, folder = run("mnist-l2", "--max-epochs", str(size.grid_epochs), *gpus, *subset(size),
                       *pins, "--storage", storage, "--name", "grid")  # fmt: skip
    val_acc, test_acc, trials = best(folder)
    print(f"2. mnist-l2 grid, {trials} trials x {size.grid_epochs} epochs ({' '.join(gpus)}): "
          f"{wall:.0f} s wall, best val_acc {val_acc:.4f}, its test_acc "
          f"{test_acc:.4f}")  # fmt: skip


def subset(size: Scale) -> list[str]:
    return [] if size.train_subset is None else ["--train-subset", str(size.train_subset)]


def part_cifar(size: Scale, storage: str) -> None:
    """3: one cifar10-transfer trial with conv1 fine-tuned (no pretrained weights offline)."""
    cifar = ["--set", "finetune=conv1", "--set", "augmentation=none", "--set", "weights=none"]
    cifar += ["--data-dir", str(Path(os.environ["TUNE_JOBS_DATA_DIR"]) / CIFAR_SUBSET)]
    cifar_subset = [] if size.cifar_subset is None else ["--train-subset", str(size.cifar_subset)]
    wall, folder = run("cifar10-transfer", *cifar, "--max-epochs", str(size.cifar_epochs),
                       "--gpus-per-trial", "1" if size.gpu else "0", *cifar_subset,
                       "--storage", storage, "--name", "cifar")  # fmt: skip
    val_acc, test_acc, _ = best(folder)
    print(f"3. cifar10-transfer finetune=conv1 (weights=none: no download here), "
          f"{size.cifar_epochs} epoch: {wall:.0f} s wall, val_acc {val_acc:.4f}, "
          f"test_acc {test_acc:.4f}")  # fmt: skip


def part_ratio(size: Scale, storage: str) -> None:
    """4: seconds per epoch of one Tune trial over the same epochs in a plain loop."""
    _, folder = run("mnist-l2", "--max-epochs", str(size.ratio_epochs), *subset(size),
                    "--gpus-per-trial", "1" if size.gpu else "0", "--concurrency", "1",
                    *[arg for k, v in TUNED.items() for arg in ("--set", f"{k}={v}")],
                    "--storage", storage, "--name", "ratio")  # fmt: skip
    (trial,) = load_experiment(folder)
    tune_epoch = float(trial.metrics_dataframe["time_this_iter_s"].iloc[1:].mean())  # 1st: set-up
    config = grid_config()
    if not size.gpu:
        torch.set_num_threads(1)  # as the trial (one CPU)
    device = "cuda" if size.gpu else "cpu"
    plain = plain_seconds_per_epoch(config, mnist(size), device, size.ratio_epochs)
    print(f"4. seconds per epoch, one trial, {device}: Tune {tune_epoch:.2f} s, plain loop "
          f"{plain:.2f} s, ratio {tune_epoch / plain:.3f} (goal <= 1.15)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-dry-run", action="store_true", help="tiny, on the CPU")
    parser.add_argument("--grid-epochs", type=int, default=4, help="epochs of each grid trial")
    parser.add_argument("--storage", default=None, help="results root (default: a temp folder)")
    args = parser.parse_args()
    if not os.environ.get("TUNE_JOBS_DATA_DIR"):
        sys.exit("set TUNE_JOBS_DATA_DIR to the real data (e.g. ../shared/data)")
    gpu = torch.cuda.is_available() and not args.cpu_dry_run
    if gpu:
        print(f"== GPU: {torch.cuda.get_device_name(0)}, {os.cpu_count()} CPU threads")
    else:
        why = "--cpu-dry-run" if args.cpu_dry_run else "no GPU visible to torch"
        print(f"== {why}: every part runs on the CPU at a tiny scale (not a GPU measurement)")
    size = scale(gpu, args.grid_epochs)
    storage = args.storage or tempfile.mkdtemp(prefix="gpu-check-")
    started = time.perf_counter()
    part_epoch(size)
    part_grid(size, storage)
    part_cifar(size, storage)
    part_ratio(size, storage)
    print(f"== done in {time.perf_counter() - started:.0f} s; experiments in {storage}")


if __name__ == "__main__":
    main()
