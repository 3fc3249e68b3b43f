"""`tune-jobs replay`: build, record, check and describe replay tables.

- `build EXPERIMENT --out TABLE`: a finished grid run's curves as a table.
- `record JOB --configs N --train-seeds K --out TABLE`: train the job's grid points and N Sobol
  configurations, K seeds each, into a table (resumable: a rerun records only what is missing).
- `check TABLE`: k-fold test of the nearest-configuration replay against the surrogate; records
  the better one in the table (unless `--dry-run`).
- `use TABLE MODEL --reason TEXT`: set the replay model by hand, with the evidence (real runs
  can overrule `check`).
- `card TABLE`: space, scale, seeds, hours, the seed-to-seed spread and the replay model.

Replay one with `tune-jobs compare JOB --replay TABLE.parquet --methods ... --seeds N`.
Exit codes: 0 done, 1 some trials failed (a rerun records them), 130 interrupted, 2 bad input
(not an experiment or table, unfinished trials, an existing table, a table recorded with other
arguments).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from analysis.replay import UnfinishedExperimentError, build_table
from analysis.results import NotAnExperimentError
from trainables.data import DataError
from trainables.replay import (
    REPLAY_MODELS,
    ReplayTable,
    ReplayTableError,
    read_table,
    write_table,
)
from tune_jobs.errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    BadInputError,
    bad_input,
)
from tune_jobs.jobs import JOBS
from tune_jobs.options import DEFAULT_STORAGE, RunOptions


def configure(name: str, replay: argparse.ArgumentParser) -> None:
    actions = replay.add_subparsers(dest="replay_command", required=True)
    build = actions.add_parser(
        "build",
        help="write a replay table from a finished grid experiment",
        description="Every configuration's reported metrics and epoch seconds, epoch by epoch, "
        "from an experiment whose trials all trained their full epochs (a grid run).",
    )
    build.add_argument("experiment", metavar="EXPERIMENT", help="experiment folder (path or URI)")
    build.add_argument("--out", type=Path, required=True, help="the table to write (.parquet)")
    build.add_argument("--force", action="store_true", help="overwrite an existing table")
    build.set_defaults(func=cmd_replay_build)
    _configure_record(actions)
    check = actions.add_parser("check", help="k-fold check: nearest replay against the surrogate")
    check.add_argument("table", type=Path, metavar="TABLE")
    check.add_argument("--folds", type=int, default=5)
    check.add_argument("--dry-run", action="store_true", help="measure only; leave the table")
    check.set_defaults(func=cmd_replay_check)
    use = actions.add_parser(
        "use",
        help="set the table's replay model by hand, with the evidence (e.g. real runs)",
        description="Replays of TABLE then use MODEL unless --replay-model says otherwise; "
        "the reason is kept in the table and shown by `replay card`.",
    )
    use.add_argument("table", type=Path, metavar="TABLE")
    use.add_argument("model", choices=REPLAY_MODELS)
    use.add_argument("--reason", required=True, help="why: the measurement that decided it")
    use.set_defaults(func=cmd_replay_use)
    card = actions.add_parser("card", help="what a table holds: space, scale, seeds, spread")
    card.add_argument("table", type=Path, metavar="TABLE")
    card.set_defaults(func=cmd_replay_card)


def _configure_record(actions: argparse._SubParsersAction) -> None:
    record = actions.add_parser(
        "record",
        help="train grid + Sobol configurations, several seeds each, into a replay table",
        description="Every grid point of JOB's space and N configurations of a scrambled Sobol "
        "sequence over it, each trained with training seeds 0..K-1 for the job's epochs. "
        "Resumable: the table is rewritten after each chunk, and a rerun with the same "
        "arguments records only the (configuration, seed) pairs it lacks.",
    )
    record.add_argument("job", help=f"one of: {', '.join(JOBS)}")
    record.add_argument("--configs", type=int, required=True, help="Sobol configurations (N)")
    record.add_argument("--train-seeds", type=int, required=True, help="seeds per config (K)")
    record.add_argument("--out", type=Path, required=True, help="the table (.parquet)")
    record.add_argument("--sobol-seed", type=int, default=0, help="the Sobol scramble's seed")
    record.add_argument(
        "--no-grid", action="store_true", help="Sobol configurations only (a quick check)"
    )
    record.add_argument("--chunk-size", type=int, help="trials per Tune experiment (6 x conc.)")
    record.add_argument("--data-dir", help="data root (default: $TUNE_JOBS_DATA_DIR)")
    record.add_argument("--storage", default=DEFAULT_STORAGE, help="scratch results root")
    record.add_argument("--cpus-per-trial", type=float, default=1.0)
    record.add_argument("--concurrency", type=int, default=2, help="most trials at once")
    record.add_argument("--max-epochs", type=int, help="epochs per trial (job's default)")
    record.add_argument("--train-subset", type=int, help="training images (job's default)")
    record.add_argument("--address", help="Ray cluster (default: local Ray)")
    record.set_defaults(func=cmd_replay_record)


def cmd_replay_build(args: argparse.Namespace) -> int:
    if args.out.exists() and not args.force:
        raise BadInputError(f"{args.out} already exists (pass --force to overwrite it)")
    with bad_input(NotAnExperimentError, UnfinishedExperimentError, ValueError):
        frame, meta = build_table(args.experiment)
    write_table(frame, meta, args.out)
    print(
        f"{args.out}: {meta['configs']} configurations x {meta['epochs']} epochs "
        f"({len(frame)} rows) from {meta['source']} (job {meta['job']}); tuned: "
        f"{', '.join(meta['tuned'])}"
    )
    return EXIT_OK


def cmd_replay_record(args: argparse.Namespace) -> int:
    from tune_jobs.record import RecordRequest, record  # imports Ray Tune

    options = RunOptions(
        job=args.job, data_dir=args.data_dir, storage=args.storage, address=args.address,
        cpus_per_trial=args.cpus_per_trial, concurrency=args.concurrency,
        max_epochs=args.max_epochs, train_subset=args.train_subset,
    )  # fmt: skip
    request = RecordRequest(
        options, args.out, args.configs, args.train_seeds, args.sobol_seed, args.chunk_size,
        grid=not args.no_grid,
    )  # fmt: skip
    with bad_input(DataError):
        recorded = record(request)
    if recorded.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if recorded.missing else EXIT_OK


def _table(path: Path) -> ReplayTable:
    """The table at `path`; a built one measures distances on its job's log scales."""
    with bad_input(ReplayTableError):
        table = read_table(path)
        job = JOBS.get(table.meta.get("job"))
        if "space" in table.meta or job is None:
            return table  # a recorded table names its own log scales
        return replace(table, log_scale=frozenset(job.space().log_scaled()))


def cmd_replay_check(args: argparse.Namespace) -> int:
    from analysis.replay_check import better_model, kfold_check

    table = _table(args.table)
    with bad_input(ValueError):
        check = kfold_check(table, folds=args.folds)
    print(f"{args.table}: {table.sizes()}")
    print(f"Held-out final val_acc, {args.folds}-fold over configurations:")
    print(check.to_string(float_format=lambda v: f"{v:.4f}"))
    choice = better_model(check)
    if args.dry_run:
        print(f"better: {choice} (--dry-run: the table is unchanged)")
    else:
        measured = check.reset_index().to_dict("records")
        meta = {**table.meta, "replay_model": choice, "replay_check": measured}
        meta["replay_model_reason"] = "replay check: better on held-out configurations"
        write_table(table.frame, meta, args.table)
        print(f"better: {choice}; recorded in {args.table} (replays now use it)")
    return EXIT_OK


def cmd_replay_use(args: argparse.Namespace) -> int:
    if not args.reason.strip():
        raise BadInputError("--reason must say why (the measurement that decided it)")
    with bad_input(ReplayTableError):
        table = read_table(args.table)
    meta = {**table.meta, "replay_model": args.model, "replay_model_reason": args.reason.strip()}
    write_table(table.frame, meta, args.table)
    print(f"{args.table}: replays now use {args.model} ({args.reason.strip()})")
    return EXIT_OK


def cmd_replay_card(args: argparse.Namespace) -> int:
    from analysis.replay_check import card

    for line in card(_table(args.table)):
        print(line)
    return EXIT_OK
