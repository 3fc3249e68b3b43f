"""`tune-jobs replay build`: record a finished grid run's curves as a replay table.

Replay it with `tune-jobs compare JOB --replay TABLE.parquet --methods ... --seeds N`.
Exit codes: 0 written, 2 bad input (not an experiment, unfinished trials, an existing table).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from analysis.replay import UnfinishedExperimentError, build_table
from analysis.results import NotAnExperimentError
from trainables.replay import write_table
from tune_jobs.errors import EXIT_OK, BadInputError, bad_input


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
