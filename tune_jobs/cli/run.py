"""`tune-jobs run` and `tune-jobs resume`: one experiment, started or continued."""

from __future__ import annotations

import argparse
import json
import sys

from ray import tune

from trainables.data import DataError
from tune_jobs.cli.run_options import (
    add_gpus_option,
    add_job_options,
    add_run_options,
    run_options,
)
from tune_jobs.console import report_command, trial_counts
from tune_jobs.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, bad_input
from tune_jobs.execute import best_summary, connect_first, ensure_ray, execute, resume, unfinished
from tune_jobs.guard import StorageFullStop
from tune_jobs.jobs import Job
from tune_jobs.options import describe_data, load_data, prepare


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    if name == "run":
        add_job_options(parser)
        add_run_options(parser)
        parser.set_defaults(func=cmd_run)
        return
    parser.description = (
        "Tuner.restore the experiment folder PATH; unfinished and errored trials "
        "continue from their last checkpoints."
    )
    parser.add_argument("path", metavar="PATH", help="experiment folder (local path or URI)")
    parser.add_argument("--address", help="Ray cluster (default: local Ray)")
    add_gpus_option(parser, default=None)  # None: the run's own value
    parser.set_defaults(func=cmd_resume)


def cmd_run(args: argparse.Namespace) -> int:
    options = run_options(args)
    prepared = prepare(options)
    connect_first(options)
    with bad_input(DataError):
        data = load_data(prepared.job, options)
    print(f"Data: {describe_data(data)}")
    ensure_ray(options.address)
    try:
        results = execute(prepared, data)
    except StorageFullStop as stop:
        return _storage_full(stop, str(prepared.folder))
    if unfinished(results):
        return _interrupted(results, prepared.job, str(prepared.folder))
    failed = [r for r in results if r.error is not None]
    if len(failed) == len(results):
        print(f"All {len(results)} trials failed; first error:\n{failed[0].error}", file=sys.stderr)
        return EXIT_FAILED
    best = best_summary(results, prepared.job)
    print(f"\nBest trial {best['trial_id']} (epoch {best['epoch']}):")
    print(f"  {prepared.job.metric} = {best[prepared.job.metric]:.4f}")
    if best["test_acc"] is not None:
        print(f"  test_acc = {best['test_acc']:.4f}")
    print(f"  config   = {json.dumps(best['config'], default=str)}")
    _next_steps(results, str(prepared.folder))
    return _failed_trials(results)


def cmd_resume(args: argparse.Namespace) -> int:
    try:
        with bad_input(DataError):
            results, job = resume(args.path, args.address, args.gpus_per_trial)
    except StorageFullStop as stop:
        return _storage_full(stop, args.path)
    if unfinished(results):
        return _interrupted(results, job, args.path)
    finished = sum(1 for result in results if result.error is None)
    print(f"\n{finished} of {len(results)} trials finished.")
    if finished:
        _print_best(results, job)
        _next_steps(results, args.path)
    return _failed_trials(results, with_error=True)


def _next_steps(results: tune.ResultGrid, path: str) -> None:
    """What trained, where the results are, and the command that reports them."""
    print(f"Trials:  {trial_counts(results)}")
    print(f"Results: {path}")
    print(f"Next:    {report_command(path)}")


def _storage_full(stop: StorageFullStop, path: str) -> int:
    """One message for a run its full storage stopped: EXIT_FAILED."""
    print(
        f"Stopped, storage full: {stop}. No trial was retried; what was saved is readable. "
        f"Free space, then continue with: tune-jobs resume {path}",
        file=sys.stderr,
    )
    return EXIT_FAILED


def _interrupted(results: tune.ResultGrid, job: Job, path: str) -> int:
    """Say that the run was interrupted and how to continue it: EXIT_INTERRUPTED."""
    if any(result.metrics for result in results):
        _print_best(results, job)
    print(
        f"\nInterrupted: {unfinished(results)} of {len(results)} trials unfinished. "
        f"Continue with:\n  tune-jobs resume {path}",
        file=sys.stderr,
    )
    return EXIT_INTERRUPTED


def _print_best(results: tune.ResultGrid, job: Job) -> None:
    best = best_summary(results, job)
    test = "" if best["test_acc"] is None else f", test_acc = {best['test_acc']:.4f}"
    print(
        f"Best trial {best['trial_id']} (epoch {best['epoch']}): "
        f"{job.metric} = {best[job.metric]:.4f}{test}"
    )


def _failed_trials(results: tune.ResultGrid, with_error: bool = False) -> int:
    """EXIT_FAILED, said on stderr, when any trial failed; else EXIT_OK."""
    failed = [result for result in results if result.error is not None]
    if not failed:
        return EXIT_OK
    if with_error:
        print(f"{len(failed)} trials failed; first error:\n{failed[0].error}", file=sys.stderr)
    else:
        print(f"{len(failed)} of {len(results)} trials failed.", file=sys.stderr)
    return EXIT_FAILED
