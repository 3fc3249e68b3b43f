"""Benchmark: the whole Problem 4 study (`tune-jobs study mnist`) on real MNIST, about an hour on
2 cores, then the figures docs/results.md asks for.

Usage (from the project root, with the real data folder):
    .venv/bin/python benchmarks/mnist_study.py --data-dir ../shared/data [--name bench-mnist-study]

It runs the same command as
    tune-jobs study mnist --method asha --samples 8 --max-epochs 6 --budget-epochs 18 \
        --concurrency 2 --data-dir ../shared/data --storage results --name bench-mnist-study
(8 stages x at most 18 epochs of ~45 s on one core, two trials at a time: about an hour). Rerun
the same command after an interruption: finished stages are skipped. Then it prints the best test
accuracy of each stage, which L1 initialization won and by how much, each optimizer's parameters
and test accuracy, and the batch-normalization table; the report with the figures is in
results/NAME/report/.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from analysis.report.study import BATCHNORM_TARGET, epochs_to, stage_best
from search_spaces.mnist import OPTIMIZER_PARAMETERS
from tune_jobs.cli import main
from tune_jobs.study import BATCHNORM, L1_FROM_L2, L1_RANDOM, STUDY_FILE, optimizer_stage


def print_figures(folder: Path) -> None:
    stages = json.loads((folder / STUDY_FILE).read_text())["stages"]
    print("\nBest trial of each stage (chosen on val_acc):")
    for stage, best in stages.items():
        print(f"  {stage:<16} val_acc {best['val_acc']:.4f}  test_acc {best['test_acc']:.4f}")
    random, from_l2 = stages[L1_RANDOM], stages[L1_FROM_L2]
    winner = "from L2 weights" if from_l2["val_acc"] > random["val_acc"] else "random init"
    margin = abs(from_l2["val_acc"] - random["val_acc"])
    print(
        f"\nL1 initialization: {winner} won by {margin:.4f} val_acc "
        f"(test_acc from L2 {from_l2['test_acc']:.4f}, random {random['test_acc']:.4f})"
    )
    print("\nOptimizers (lr and own parameters; test_acc at the best epoch):")
    optimizers = {name: stages[optimizer_stage(name)] for name in OPTIMIZER_PARAMETERS}
    for name, best in optimizers.items():
        own = {k: best["config"][k] for k in ("lr", *OPTIMIZER_PARAMETERS[name])}
        print(f"  {name:<9} {own}  val_acc {best['val_acc']:.4f}  test_acc {best['test_acc']:.4f}")
    best_optimizer = max(optimizers, key=lambda name: optimizers[name]["val_acc"])
    print(f"\nBatch normalization (optimizer {best_optimizer}; epochs to "
          f"{BATCHNORM_TARGET:.1%} val_acc):")  # fmt: skip
    for label, stage in (("without", optimizer_stage(best_optimizer)), ("with", BATCHNORM)):
        best = stage_best(str(folder / stage))
        print(f"  {label:<8} lr {best.config['lr']:.4g}  test_acc {best.test_acc:.4f}  "
              f"epochs to target {epochs_to(best.curve)}")  # fmt: skip
    print(f"\nReport and figures: {folder / 'report'}")


def main_benchmark() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--storage", default="results")
    parser.add_argument("--name", default="bench-mnist-study")
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--max-epochs", type=int, default=6)
    parser.add_argument("--budget-epochs", type=int, default=18, help="per stage")
    parser.add_argument("--train-subset", type=int, help="only for a quick check of the script")
    args = parser.parse_args()
    argv = ["study", "mnist", "--method", "asha", "--samples", str(args.samples),
            "--max-epochs", str(args.max_epochs), "--budget-epochs", str(args.budget_epochs),
            "--concurrency", "2", "--data-dir", args.data_dir, "--storage", args.storage,
            "--name", args.name]  # fmt: skip
    if args.train_subset:
        argv += ["--train-subset", str(args.train_subset)]
    started = time.time()
    code = main(argv)
    print(f"\ntune-jobs {' '.join(argv)}\nexit {code}, {time.time() - started:.0f} s")
    if code == 0:
        print_figures(Path(args.storage).resolve() / args.name)


if __name__ == "__main__":
    main_benchmark()
