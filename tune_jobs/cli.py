"""`tune-jobs`: list jobs and methods, run a job. Exit status 0 ok, 1 failed run, 2 bad input."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from search_spaces.methods import METHODS
from trainables.data import DataNotFoundError
from tune_jobs.jobs import JOBS
from tune_jobs.runner import (
    DEFAULT_STORAGE,
    BadInputError,
    RunOptions,
    best_summary,
    ensure_ray,
    execute,
    load_data,
    prepare,
)
from tune_jobs.theory_cli import add_theory_parser

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse exits with status 2 on its own errors, which matches our bad-input status."""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tune-jobs", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("list", help="print the jobs and HPO methods").set_defaults(func=cmd_list)

    run = commands.add_parser("run", help="run a tune job")
    run.add_argument("job", help=f"one of: {', '.join(JOBS)}")
    run.add_argument("--method", help=f"HPO method, one of: {', '.join(METHODS)} (job's default)")
    run.add_argument("--samples", type=int, help="trials to sample (grid: passes over the grid)")
    run.add_argument("--max-epochs", type=int, help="epochs per trial (job's default)")
    run.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="pin a hyperparameter to a value (repeatable)",
    )  # fmt: skip
    run.add_argument("--data-dir", help="data root (default: $TUNE_JOBS_DATA_DIR or user cache)")
    run.add_argument("--storage", default=DEFAULT_STORAGE, help="results root (path or URI)")
    run.add_argument("--name", help="experiment name (default: JOB-METHOD-TIMESTAMP)")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--cpus-per-trial", type=float, default=1.0)
    run.add_argument("--concurrency", type=int, help="most trials running at once")
    run.add_argument("--train-subset", type=int, help="train on the first N training images")
    run.add_argument(
        "--smoke-test", action="store_true",
        help="one sample, one epoch, a small subset: checks that everything runs",
    )  # fmt: skip
    run.set_defaults(func=cmd_run)

    add_theory_parser(commands)
    return parser


def _parse_overrides(pairs: Sequence[str]) -> dict[str, str]:
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise BadInputError(f"--set expects KEY=VALUE, got {pair!r}")
        overrides[key.strip()] = value.strip()
    return overrides


def cmd_list(args: argparse.Namespace) -> int:
    print("Jobs:")
    for job in JOBS.values():
        print(f"  {job.name:<18} {job.description}")
    print("Methods:")
    for method in METHODS.values():
        print(f"  {method.name:<18} {method.summary}")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    options = RunOptions(
        job=args.job,
        method=args.method,
        samples=args.samples,
        max_epochs=args.max_epochs,
        overrides=_parse_overrides(args.set),
        data_dir=args.data_dir,
        storage=args.storage,
        name=args.name,
        seed=args.seed,
        cpus_per_trial=args.cpus_per_trial,
        concurrency=args.concurrency,
        train_subset=args.train_subset,
        smoke_test=args.smoke_test,
    )
    prepared = prepare(options)
    data = load_data(prepared)
    print(f"Data: {data.sizes()}")
    ensure_ray()
    results = execute(prepared, data)
    failed = [r for r in results if r.error is not None]
    if len(failed) == len(results):
        print(f"All {len(results)} trials failed; first error:\n{failed[0].error}", file=sys.stderr)
        return EXIT_FAILED
    best = best_summary(results, prepared.job)
    print(f"\nBest trial {best['trial_id']} (epoch {best['epoch']}):")
    print(f"  {prepared.job.metric} = {best[prepared.job.metric]:.4f}")
    print(f"  test_acc = {best['test_acc']:.4f}")
    print(f"  config   = {json.dumps(best['config'], default=str)}")
    print(f"Results: {prepared.storage}/{prepared.name}")
    if failed:
        print(f"{len(failed)} of {len(results)} trials failed.", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (BadInputError, DataNotFoundError) as error:
        print(f"tune-jobs: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
