"""`tune-jobs`: list jobs and methods, run a job. Exit status 0 ok, 1 failed run, 2 bad input."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from tune_jobs.errors import EXIT_BAD_INPUT, BadInputError

# Every command: the module of this package that defines it, and its one-line help. Only the
# module of the command being run is imported, so `tune-jobs --help` and `tune-jobs theory ...`
# pay for neither Ray Tune nor torch.
COMMANDS = {
    "list": ("catalog", "print the jobs and HPO methods"),
    "methods": ("catalog", "the HPO methods as a table: family, knobs, pros and cons"),
    "run": ("run", "run a tune job"),
    "compare": ("compare", "run several HPO methods x seeds under one epoch budget"),
    "theory": ("theory", "numerical checks of the theory problems"),
    "probe": ("probe", "look inside models and data"),
    "report": ("report", "write report.md and report.html for experiments and compare folders"),
    "export-optuna": (
        "report",
        "write an experiment's trials into an Optuna study (for optuna-dashboard)",
    ),
    "export": ("export", "write an experiment's trials and curves tables as CSV or Parquet"),
    "submit": ("service", "run a tune job on a Ray cluster as a Ray Job"),
    "jobs": ("service", "list, inspect, follow and stop Ray Jobs"),
    "cluster": ("cluster", "start or stop a local Ray cluster"),
    "resume": ("run", "continue an interrupted experiment from its checkpoints"),
    "replay": ("replay", "replay tables: recorded learning curves for fast HPO comparisons"),
    "study": ("study", "Problem 4 end to end: L2 -> L1 (two inits) -> optimizers -> batchnorm"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The CLI's parser; with `command`, only that command's options are built (and imported).

    Each command module has `configure(name, parser)`, which adds the named command's arguments
    and sets `func`, the function that runs it and returns the exit status.
    """
    parser = argparse.ArgumentParser(prog="tune-jobs", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, (module, help_text) in COMMANDS.items():
        sub = commands.add_parser(name, help=help_text)
        if command is None or command == name:
            importlib.import_module(f"tune_jobs.cli.{module}").configure(name, sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((arg for arg in argv if not arg.startswith("-")), "")
    args = build_parser(command).parse_args(argv)
    try:
        return args.func(args)
    except BadInputError as error:
        print(f"tune-jobs: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
