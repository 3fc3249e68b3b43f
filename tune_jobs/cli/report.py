"""`tune-jobs report` and `tune-jobs export-optuna`: read finished experiments.

Exit codes: 0 done, 2 bad input (a path that is not an experiment or compare folder, an existing
study, a bad storage URL), reported before anything is written.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import optuna

from analysis.layout import TIME_TOTAL
from analysis.optuna_export import export_study
from analysis.report import report_kind, write_report
from analysis.results import (
    NotAnExperimentError,
    curves_frame,
    folder_metric,
    is_compare_folder,
    load_experiment,
    trials_frame,
)
from tune_jobs.cli.common import add_metric_options, check_out
from tune_jobs.errors import EXIT_OK, BadInputError, bad_input

DASHBOARD_HINT = "pip install optuna-dashboard && optuna-dashboard {storage}"


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    {"report": _report_options, "export-optuna": _export_options}[name](parser)


def _report_options(report: argparse.ArgumentParser) -> None:
    report.description = (
        "Tables and figures of Ray Tune experiments (best trials, curves, importance)"
        " and of compare folders (per-method statistics over seeds, anytime curves, ranks)."
    )
    report.add_argument(
        "paths", nargs="+", metavar="PATH", help="experiment or compare folder (path or URI)"
    )
    report.add_argument("--out", type=Path, required=True, help="folder for the report and PNGs")
    add_metric_options(report)
    report.add_argument(
        "--time-column",
        default=TIME_TOTAL,
        help="per-trial running seconds to count (default: Ray's time_total_s; a replay's "
        "simulated-seconds column)",
    )
    report.add_argument(
        "--target", type=float, help="score for 'time to target' (default: median of all runs)"
    )
    report.set_defaults(func=cmd_report)


def _export_options(export: argparse.ArgumentParser) -> None:
    export.description = (
        "Write the trials, hyperparameters and per-epoch scores of one Ray Tune "
        "experiment into a new Optuna study. Browse it with: "
        + DASHBOARD_HINT.format(storage="sqlite:///FILE.db")
    )
    export.add_argument("path", metavar="PATH", help="experiment folder (path or URI)")
    export.add_argument(
        "--storage", required=True, help="Optuna storage URL, e.g. sqlite:///tune.db"
    )
    export.add_argument("--study-name", help="default: the experiment folder's name")
    add_metric_options(export)
    export.set_defaults(func=cmd_export_optuna)


def cmd_report(args: argparse.Namespace) -> int:
    check_out(args.out)
    with bad_input(NotAnExperimentError, ValueError):
        for path in args.paths:
            folder_metric(path, args.metric, args.mode)  # a metric whose mode is unknown
            report_kind(path)
        try:
            written = write_report(
                args.paths,
                args.out,
                args.metric,
                args.mode,
                args.time_column,
                args.target,
                log_scaled_params,
            )
        except KeyError as error:  # a --time-column or --metric the trials never reported
            raise BadInputError(str(error).strip("'\"")) from None
    print(f"Report: {written[0]}  (HTML: {written[1]})")
    print(f"{len(written) - 2} figures in {args.out}")
    return EXIT_OK


def log_scaled_params(info: dict[str, Any]) -> set[str] | None:
    """The hyperparameters a run's search space samples on a log scale, as its run file records
    them; for an older run file, from the space of the built-in job it names. Never loads a
    user's job: a results folder must not make `report` run code. None: unknown (the report
    then guesses from the values)."""
    if isinstance(info.get("log_scaled"), list):
        return {str(name) for name in info["log_scaled"]}
    from tune_jobs.jobs import JOBS  # torch: only when a report needs it

    job = JOBS.get(str(info.get("job")))
    if job is None:
        return None
    return {name for name, dim in job.space().dimensions.items() if getattr(dim, "log", False)}


def cmd_export_optuna(args: argparse.Namespace) -> int:
    if "://" not in args.storage:
        raise BadInputError(
            f"--storage expects a URL such as sqlite:///tune.db, got {args.storage!r}"
        )
    if is_compare_folder(args.path):
        raise BadInputError(
            f"{args.path} is a compare folder; export one of its run folders at a time"
        )
    with bad_input(NotAnExperimentError, ValueError):
        grid = load_experiment(args.path)
        args.metric, args.mode = folder_metric(args.path, args.metric, args.mode)
    curves = curves_frame(grid)
    trials = trials_frame(grid, curves, args.metric, args.mode)
    name = args.study_name or Path(str(args.path).rstrip("/")).name
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = export_study(
            trials,
            curves,
            args.storage,
            name,
            args.metric,
            args.mode,
            {"tune_path": str(args.path)},
        )
    except optuna.exceptions.DuplicatedStudyError:
        raise BadInputError(
            f"study {name!r} already exists in {args.storage}; choose another --study-name"
        ) from None
    except Exception as error:  # SQLAlchemy's errors for unusable URLs: say which
        raise BadInputError(f"cannot write to --storage {args.storage}: {error}") from None
    best = f"; best {args.metric} {study.best_value:.4f}" if len(study.best_trials) else ""
    print(f"Wrote {len(study.trials)} trials to study {name!r} in {args.storage}{best}")
    print(f"Browse it: {DASHBOARD_HINT.format(storage=args.storage)}")
    return EXIT_OK
