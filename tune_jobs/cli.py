"""`tune-jobs`: list jobs and methods, run a job. Exit status 0 ok, 1 failed run, 2 bad input."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from search_spaces.methods import METHODS
from trainables.data import DataNotFoundError
from tune_jobs.analysis_cli import add_analysis_parsers
from tune_jobs.compare import MANIFEST, parse_methods, run_compare
from tune_jobs.jobs import JOBS
from tune_jobs.probe_cli import add_probe_parser
from tune_jobs.replay_cli import add_replay_parser
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
from tune_jobs.service_cli import add_service_parsers
from tune_jobs.study_cli import add_study_parser
from tune_jobs.theory_cli import add_theory_parser

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse exits with status 2 on its own errors, which matches our bad-input status."""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tune-jobs", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("list", help="print the jobs and HPO methods").set_defaults(func=cmd_list)
    commands.add_parser(
        "methods", help="the HPO methods as a table: family, knobs, pros and cons"
    ).set_defaults(func=cmd_methods)

    run = commands.add_parser("run", help="run a tune job")
    add_run_options(run)

    compare = commands.add_parser(
        "compare", help="run several HPO methods x seeds under one epoch budget"
    )
    compare.add_argument("job", help=f"one of: {', '.join(JOBS)}")
    compare.add_argument("--methods", required=True, help="comma-separated methods, or 'all'")
    compare.add_argument("--seeds", type=int, default=1, help="seeds per method (first: --seed)")
    compare.add_argument("--seed", type=int, default=0)
    compare.add_argument(
        "--replay",
        metavar="TABLE",
        help="replay a table's recorded curves (tune-jobs replay build)",
    )
    add_run_options(compare, job=False)
    compare.set_defaults(func=cmd_compare)
    run.set_defaults(func=cmd_run)

    add_theory_parser(commands)
    add_probe_parser(commands)
    add_analysis_parsers(commands)
    add_service_parsers(commands)
    add_replay_parser(commands)
    add_study_parser(commands)
    return parser


def add_run_options(parser: argparse.ArgumentParser, job: bool = True) -> None:
    """The options of one run, shared by `run`, `submit` and `compare`."""
    if job:
        parser.add_argument("job", help=f"one of: {', '.join(JOBS)}")
        parser.add_argument(
            "--method", help=f"HPO method, one of: {', '.join(METHODS)} (job's default)"
        )
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--init-from", metavar="PATH",
            help="start every trial from the best checkpoint (by val_acc) of the experiment at "
            "PATH (on a cluster: a path its nodes see)",
        )  # fmt: skip
    parser.add_argument("--samples", type=int, help="trials to sample (grid: passes over the grid)")
    parser.add_argument("--max-epochs", type=int, help="epochs per trial (job's default)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="pin a hyperparameter to a value (repeatable)",
    )  # fmt: skip
    parser.add_argument("--data-dir", help="data root (default: $TUNE_JOBS_DATA_DIR or user cache)")
    parser.add_argument("--storage", default=DEFAULT_STORAGE, help="results root (path or URI)")
    parser.add_argument("--name", help="experiment name (default: JOB-METHOD-TIMESTAMP)")
    parser.add_argument("--cpus-per-trial", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, help="most trials running at once")
    parser.add_argument("--train-subset", type=int, help="train on the first N training images")
    parser.add_argument(
        "--budget-epochs", type=int,
        help="stop the experiment once its trials together have trained this many epochs",
    )  # fmt: skip
    parser.add_argument(
        "--time-budget", type=float, help="stop the experiment after this many seconds"
    )
    parser.add_argument(
        "--address", help="Ray cluster: auto, HOST:PORT or ray://HOST:PORT (default: local Ray)"
    )
    parser.add_argument(
        "--max-failures", type=int, default=2,
        help="retries of a crashed trial, from its last checkpoint",
    )  # fmt: skip
    parser.add_argument(
        "--smoke-test", action="store_true",
        help="one sample, one epoch, a small subset: checks that everything runs",
    )  # fmt: skip


def run_options(args: argparse.Namespace, **changes) -> RunOptions:
    """RunOptions from parsed `add_run_options` arguments, with `changes` applied."""
    values = dict(
        job=getattr(args, "job", None),
        method=getattr(args, "method", None),
        samples=args.samples,
        max_epochs=args.max_epochs,
        overrides=_parse_overrides(args.set),
        data_dir=args.data_dir,
        storage=args.storage,
        name=args.name,
        seed=getattr(args, "seed", 0),
        cpus_per_trial=args.cpus_per_trial,
        concurrency=args.concurrency,
        train_subset=args.train_subset,
        budget_epochs=args.budget_epochs,
        time_budget=args.time_budget,
        address=args.address,
        max_failures=args.max_failures,
        smoke_test=args.smoke_test,
        init_from=getattr(args, "init_from", None),
    )
    return RunOptions(**{**values, **changes})


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


def cmd_methods(args: argparse.Namespace) -> int:
    rows = [
        (
            m.name,
            m.family,
            "yes" if m.seeded else "no",
            ", ".join(f"{k}={v}" for k, v in m.knobs.items()) or "-",
        )
        for m in METHODS.values()
    ]
    header = ("method", "family", "seeded", "knobs")
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(3)]
    for row in (header, *rows):
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
            + "  "
            + row[3]
        )
    for method in METHODS.values():
        print(f"\n{method.name}: {method.summary}\n  + {method.pros}\n  - {method.cons}")
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    methods = parse_methods(args.methods)
    name = args.name or f"compare-{args.job}-{time.strftime('%Y%m%d-%H%M%S')}"
    base = run_options(args, job=args.job, name=None)
    parent = run_compare(base, methods, args.seeds, name, replay=args.replay)
    print(f"\nComparison: {parent} (manifest.json lists every run)")
    manifest = json.loads(Path(parent, MANIFEST).read_text()) if "://" not in parent else None
    if manifest and any(run["status"] != "finished" for run in manifest["runs"]):
        print("Some runs failed; see manifest.json.", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    options = run_options(args)
    prepared = prepare(options)
    data = load_data(prepared)
    print(f"Data: {data.sizes()}")
    ensure_ray(options.address)
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
