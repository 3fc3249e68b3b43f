"""Load check: hundreds of short trials on a local Ray cluster, driven by one tune-jobs driver.

Starts a cluster with `tune_jobs.cluster.local.cluster_up` (head + --workers nodes on 127.0.0.1,
token auth on) unless --address names a running one, runs `mnist-l2` with random search for --trials
trials of --epochs epochs on a small slice of MNIST, then checks that every trial reported every
epoch, and prints trials per second and the driver's memory: its peak, and its RSS over the run
(bounded means the last quarter is not much above the first).

    .venv/bin/python benchmarks/cluster_load.py --data-dir ../shared/data --trials 200
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import ray

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from tune_jobs.cluster.local import cluster_down, cluster_up  # noqa: E402
from tune_jobs.execute import ensure_ray, execute  # noqa: E402
from tune_jobs.options import RunOptions, load_data, prepare  # noqa: E402


class RssSampler(threading.Thread):
    """Samples this process's resident memory every `period` seconds."""

    def __init__(self, period: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.period, self.samples, self.done = period, [], threading.Event()
        self.process = psutil.Process()

    def run(self) -> None:
        while not self.done.is_set():
            self.samples.append((time.monotonic(), self.process.memory_info().rss))
            self.done.wait(self.period)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--data-dir", help="MNIST root (default: $TUNE_JOBS_DATA_DIR)")
    parser.add_argument("--train-subset", type=int, default=256)
    parser.add_argument("--eval-subset", type=int, default=256, help="validation and test images")
    parser.add_argument("--workers", type=int, default=0, help="worker nodes beside the head")
    parser.add_argument("--num-cpus", type=int, help="CPUs per node (default: cores / nodes)")
    parser.add_argument("--address", help="use this running cluster instead of starting one")
    parser.add_argument("--storage", help="results root (default: a temporary folder)")
    args = parser.parse_args()

    state = Path(tempfile.mkdtemp(prefix="tj-load-")) / "cluster.json"
    address = args.address
    if address is None:
        cluster = cluster_up(num_cpus=args.num_cpus, workers=args.workers, path=state)
        address = cluster.gcs_address
        print(f"cluster: {len(cluster.nodes)} node(s), dashboard {cluster.dashboard_url}")
    try:
        storage = args.storage or str(state.parent / "results")
        if args.workers and "://" not in storage:  # one machine: its disk is shared by all nodes
            storage = f"file://{Path(storage).resolve()}"
        options = RunOptions(
            "mnist-l2", method="random", samples=args.trials, max_epochs=args.epochs,
            data_dir=args.data_dir, storage=storage, name="load", train_subset=args.train_subset,
            address=address, max_failures=0,
        )  # fmt: skip
        prepared = prepare(options)
        data = load_data(prepared.job, prepared.options).subset(
            train=args.train_subset, evaluation=args.eval_subset
        )
        ensure_ray(address)
        sampler = RssSampler()
        sampler.start()
        started = time.monotonic()
        results = execute(prepared, data)
        wall = time.monotonic() - started
        sampler.done.set()
        sampler.join()
        report(results, args, wall, sampler.samples, f"{prepared.storage}/{prepared.name}")
    finally:
        ray.shutdown()  # leave the cluster before it goes
        if args.address is None:
            cluster_down(state)
    return 0


def report(results, args, wall: float, samples: list[tuple[float, int]], path: str) -> None:
    expected = list(range(1, args.epochs + 1))
    complete = errored = 0
    for result in results:
        frame = result.metrics_dataframe
        epochs = [] if frame is None else [int(e) for e in frame["epoch"]]
        complete += epochs == expected
        errored += result.error is not None
    mib = 1024 * 1024
    rss = [value for _, value in samples]
    quarter = max(1, len(rss) // 4)
    first, last = max(rss[:quarter]) / mib, max(rss[-quarter:]) / mib
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"\nresults: {path}")
    print(f"trials finished with every epoch ({args.epochs}) present: {complete}/{len(results)}")
    print(f"trials errored: {errored}; requested: {args.trials}")
    rate = f"{len(results) / wall:.2f} trials/s, {len(results) * args.epochs / wall:.2f} epochs/s"
    print(f"wall {wall:.1f} s: {rate} on {os.cpu_count()} cores")
    print(f"driver RSS: peak {peak:.0f} MiB (ru_maxrss); during the run {min(rss) / mib:.0f}-"
          f"{max(rss) / mib:.0f} MiB; max over first quarter {first:.0f} MiB, last quarter "
          f"{last:.0f} MiB")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
