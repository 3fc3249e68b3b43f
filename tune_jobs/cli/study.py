"""`tune-jobs study mnist`: the CLI of `tune_jobs.study`."""

from __future__ import annotations

import argparse

from search_spaces.methods import METHODS
from trainables.data import DataError
from tune_jobs.cli.run_options import add_run_options, run_options
from tune_jobs.errors import EXIT_OK, bad_input
from tune_jobs.study import Study


def configure(name: str, study: argparse.ArgumentParser) -> None:
    study.add_argument("problem", choices=["mnist"], help="the study to run")
    study.add_argument("--method", help=f"HPO method of every stage, one of: {', '.join(METHODS)}")
    study.add_argument("--seed", type=int, default=0)
    add_run_options(study)
    study.set_defaults(func=cmd_study, name=None)


def cmd_study(args: argparse.Namespace) -> int:
    name = f"study-{args.problem}" if args.name is None else args.name  # "" is refused
    study = Study(run_options(args, job="mnist-l2", name=None), name)
    with bad_input(DataError):
        files = study.run()
    print(f"\nStudy: {study.folder}\nReport: {files[0]}")
    return EXIT_OK
