"""`tune-jobs study mnist`: the CLI of `tune_jobs.study`."""

from __future__ import annotations

import argparse

from search_spaces.methods import METHODS


def add_study_parser(commands) -> None:
    from tune_jobs.cli import add_run_options  # cli imports this module

    study = commands.add_parser(
        "study", help="Problem 4 end to end: L2 -> L1 (two inits) -> optimizers -> batchnorm"
    )
    study.add_argument("problem", choices=["mnist"], help="the study to run")
    study.add_argument("--method", help=f"HPO method of every stage, one of: {', '.join(METHODS)}")
    study.add_argument("--seed", type=int, default=0)
    add_run_options(study, job=False)
    study.set_defaults(func=cmd_study, name=None)


def cmd_study(args: argparse.Namespace) -> int:
    from tune_jobs.cli import EXIT_OK, run_options
    from tune_jobs.study import Study

    name = args.name or f"study-{args.problem}"
    study = Study(run_options(args, job="mnist-l2", name=None), name)
    files = study.run()
    print(f"\nStudy: {study.folder}\nReport: {files[0]}")
    return EXIT_OK
