"""`tune-jobs export`: the trials and curves tables of a results folder as CSV or Parquet files.

Exit codes: 0 done, 2 bad input (a path that is not an experiment or compare folder, an `--out`
that is a file, an unknown format), reported in one line before anything is written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from analysis.export import FORMATS, TABLES, results_tables, write_tables
from analysis.results import NotAnExperimentError, folder_metric
from tune_jobs.cli.common import add_metric_options, check_out, print_files
from tune_jobs.errors import EXIT_OK, BadInputError, bad_input


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    parser.description = (
        f"Write the {' and '.join(TABLES)} tables of an experiment or compare folder (the frames "
        "of analysis.results) for spreadsheets and other tools: trials.FORMAT, curves.FORMAT."
    )
    parser.add_argument("path", metavar="PATH", help="experiment or compare folder (path or URI)")
    # Checked in cmd_export, not by argparse `choices`: a bad value is one line, like the others.
    parser.add_argument("--format", default="csv", metavar="|".join(FORMATS), help="default csv")
    parser.add_argument("--out", type=Path, required=True, help="folder for the tables")
    add_metric_options(parser)
    parser.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    if args.format not in FORMATS:
        raise BadInputError(f"unknown --format {args.format!r}; choose {' or '.join(FORMATS)}")
    check_out(args.out)
    with bad_input(NotAnExperimentError, ValueError):
        metric, mode = folder_metric(args.path, args.metric, args.mode)
        tables = results_tables(args.path, metric, mode)
    print(f"{len(tables['trials'])} trials, {len(tables['curves'])} reports from {args.path}")
    print_files(write_tables(tables, args.out, args.format))
    return EXIT_OK
