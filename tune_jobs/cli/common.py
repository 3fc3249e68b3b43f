"""What several commands share and that costs nothing to import: the `--out` folder check and
the list of files written."""

from __future__ import annotations

import argparse
from pathlib import Path

from trainables import metrics
from tune_jobs.errors import BadInputError


def check_out(out: Path, create: bool = False) -> Path:
    """Refuse an `--out` that exists as a file; with `create`, make the folder."""
    if out.exists() and not out.is_dir():
        raise BadInputError(f"--out {out} exists and is not a folder")
    if create:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise BadInputError(f"cannot create --out {out}: {error}") from None
    return out


def print_files(files: list[Path]) -> None:
    if files:
        print("\nfiles written:")
        for path in files:
            print(f"  {path}")


def add_metric_options(parser: argparse.ArgumentParser) -> None:
    """`--metric` and `--mode` of the commands that read results (report, export)."""
    parser.add_argument(
        "--metric",
        help=f"selection metric (default: the one the run optimised, else {metrics.METRIC})",
    )
    parser.add_argument(
        "--mode",
        choices=("max", "min"),
        help="default: the run's, else what the metric's name says",
    )
