"""`tune-jobs compare`: every method x every seed under one epoch budget (`tune_jobs.compare`)."""

from __future__ import annotations

import argparse
import sys
import time

from analysis.results import NotAnExperimentError, last_line
from trainables.data import DataError
from tune_jobs.cli.run_options import add_run_options, run_options
from tune_jobs.compare import format_summary, method_summary, parse_methods, run_compare
from tune_jobs.console import report_command, tensorboard_hint
from tune_jobs.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, bad_input
from tune_jobs.jobs import JOBS
from tune_jobs.user_jobs import reference_name

FAILURES_SHOWN = 5  # a comparison of hundreds of runs that all failed prints a screenful, no more
ERROR_CHARS = 200


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "job",
        help=f"one of: {', '.join(JOBS)}; an installed job (tune-jobs list); or your own: "
        "path/to/file.py:NAME or package.module:NAME (docs/own-job.md)",
    )
    parser.add_argument("--methods", required=True, help="comma-separated methods, or 'all'")
    parser.add_argument("--seeds", type=int, default=1, help="seeds per method (first: --seed)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--replay",
        metavar="TABLE",
        help="replay a table's recorded curves (tune-jobs replay build)",
    )
    parser.add_argument(
        "--replay-model",
        choices=("nearest", "surrogate"),
        help="with --replay: how configurations between recorded ones replay, instead of the "
        "table's own choice (tune-jobs replay check)",
    )
    parser.add_argument(
        "--simulate",
        action="store_true",
        help="with --replay: run Tune's searchers and schedulers on a simulated clock, without "
        "Ray, instead of as Ray experiments (milliseconds a run; docs/hpo-benchmark-plan.md)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="with --simulate: processes simulating runs at once (default: one per CPU)",
    )
    add_run_options(parser)
    parser.set_defaults(func=cmd_compare)


def cmd_compare(args: argparse.Namespace) -> int:
    methods = parse_methods(args.methods)
    name = args.name  # an empty name is refused, not replaced (`plan_compare`)
    if name is None:
        name = f"compare-{reference_name(args.job)}-{time.strftime('%Y%m%d-%H%M%S')}"
    base = run_options(args, job=args.job, name=None)
    with bad_input(DataError):
        parent, manifest = run_compare(
            base,
            methods,
            args.seeds,
            name,
            replay=args.replay,
            simulate=args.simulate,
            replay_model=args.replay_model,
            workers=args.workers,
        )
    print(f"\nComparison: {parent} (manifest.json lists every run)")
    _print_summary(parent, tensorboard=not args.replay)
    failed = [run for run in manifest["runs"] if run["status"] == "failed"]
    for run in failed[:FAILURES_SHOWN]:
        # A Ray trial's error is its whole traceback: its last line names the exception.
        error = (last_line(run.get("error")) or "no error recorded")[:ERROR_CHARS]
        print(f"failed: {run['method']} seed {run['seed']}: {error}", file=sys.stderr)
    if any(run["status"] == "interrupted" for run in manifest["runs"]):
        stopped = len(manifest["runs"])
        print(f"Interrupted: the comparison stopped at run {stopped}.", file=sys.stderr)
        return EXIT_INTERRUPTED
    if failed:
        shown = f" (first {FAILURES_SHOWN} shown)" if len(failed) > FAILURES_SHOWN else ""
        print(f"{len(failed)} run(s) failed{shown}; see manifest.json.", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _print_summary(parent: str, tensorboard: bool) -> None:
    """The per-method summary and the next steps; a folder that cannot be summarized says why."""
    try:
        table, target, metric = method_summary(parent)
    except (NotAnExperimentError, KeyError, ValueError) as error:
        print(f"(no summary: {error})", file=sys.stderr)
    else:
        print(format_summary(table, target, metric))
    if tensorboard:  # replays log no TensorBoard events
        print(tensorboard_hint(parent))
    print(f"Next: {report_command(parent)}")
