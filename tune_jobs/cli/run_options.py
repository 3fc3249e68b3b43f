"""The options of one run, shared by `run`, `compare`, `submit` and `study`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from search_spaces.methods import METHODS
from tune_jobs.errors import BadInputError
from tune_jobs.jobs import JOBS
from tune_jobs.options import DEFAULT_STORAGE, RunOptions


def add_job_options(parser: argparse.ArgumentParser) -> None:
    """The job, its method, seed and starting weights: `run` and `submit` take them all."""
    parser.add_argument(
        "job",
        help=f"one of: {', '.join(JOBS)}; an installed job (tune-jobs list); or your own: "
        "path/to/file.py:NAME or package.module:NAME (docs/own-job.md)",
    )
    parser.add_argument(
        "--method", help=f"HPO method, one of: {', '.join(METHODS)} (job's default)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--init-from", metavar="PATH",
        help="start every trial from the best checkpoint (by the metric that run optimised) of "
        "the experiment at PATH, its network pinned unless --set (on a cluster: a path its "
        "nodes see)",
    )  # fmt: skip


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """Samples, epochs, pins, data, results, resources, budgets, cluster and retries."""
    parser.add_argument("--samples", type=int, help="trials to sample (grid: passes over the grid)")
    parser.add_argument("--max-epochs", type=int, help="epochs per trial (job's default)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="pin a hyperparameter to a value (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--range", action="append", default=[], metavar="KEY=LOW:HIGH[:log]",
        help="tune KEY over [LOW, HIGH] instead of the job's dimension; grid: the ends and the "
        "midpoint (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--choice", action="append", default=[], metavar="KEY=A,B,C",
        help="tune KEY over these values instead of the job's dimension (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--method-opt", action="append", default=[], metavar="KNOB=VALUE",
        help="set a knob of the method (repeatable; `tune-jobs methods` lists them)",
    )  # fmt: skip
    parser.add_argument(
        "--metric", help="reported metric to optimise, e.g. val_loss (default: the job's val_acc)"
    )
    parser.add_argument(
        "--mode", choices=("min", "max"), help="default: max for *acc, min for *loss and *cost"
    )
    parser.add_argument(
        "--track", metavar="mlflow[=URI]",
        help="log every trial to MLflow (default store: sqlite:///STORAGE/mlflow.db)",
    )  # fmt: skip
    parser.add_argument("--data-dir", help="data root (default: $TUNE_JOBS_DATA_DIR or user cache)")
    parser.add_argument("--storage", default=DEFAULT_STORAGE, help="results root (path or URI)")
    parser.add_argument("--name", help="experiment name (default: JOB-METHOD-TIMESTAMP)")
    parser.add_argument("--cpus-per-trial", type=float, default=1.0)
    add_gpus_option(parser, default=0.0)
    parser.add_argument("--concurrency", type=int, help="most trials running at once")
    parser.add_argument("--train-subset", type=int, help="train on the first N training images")
    parser.add_argument(
        "--budget-epochs", type=int,
        help="stop the experiment once its trials together have trained this many epochs",
    )  # fmt: skip
    parser.add_argument(
        "--time-budget", type=float, help="stop the experiment after this many seconds"
    )
    parser.add_argument(
        "--address", help="Ray cluster: auto, HOST:PORT or ray://HOST:PORT (default: local Ray)"
    )
    parser.add_argument(
        "--max-failures", type=int, default=2,
        help="retries of a crashed trial, from its last checkpoint",
    )  # fmt: skip
    parser.add_argument(
        "--smoke-test", action="store_true",
        help="one sample, one epoch, a small subset: checks that everything runs",
    )  # fmt: skip


def add_gpus_option(parser: argparse.ArgumentParser, default: float | None) -> None:
    """`--gpus-per-trial`: `run`, `compare`, `study`, `submit` (0 by default) and `resume`."""
    parser.add_argument(
        "--gpus-per-trial", type=float, default=default, metavar="G",
        help="GPUs per trial (default: 0, CPUs only); a fraction such as 0.25 puts several "
        "trials on one GPU, which share its memory",
    )  # fmt: skip


def run_options(args: argparse.Namespace, **changes) -> RunOptions:
    """RunOptions from parsed `add_run_options` arguments, with `changes` applied."""
    values = dict(
        job=getattr(args, "job", None),
        method=getattr(args, "method", None),
        samples=args.samples,
        max_epochs=args.max_epochs,
        overrides=parse_pairs(args.set, "--set", "KEY=VALUE"),
        data_dir=args.data_dir,
        storage=args.storage,
        name=args.name,
        seed=getattr(args, "seed", 0),
        cpus_per_trial=args.cpus_per_trial,
        gpus_per_trial=args.gpus_per_trial,
        concurrency=args.concurrency,
        train_subset=args.train_subset,
        budget_epochs=args.budget_epochs,
        time_budget=args.time_budget,
        address=args.address,
        max_failures=args.max_failures,
        smoke_test=args.smoke_test,
        init_from=getattr(args, "init_from", None),
        ranges=parse_pairs(args.range, "--range", "KEY=LOW:HIGH[:log]"),
        choices=parse_pairs(args.choice, "--choice", "KEY=A,B,C"),
        method_options=parse_pairs(args.method_opt, "--method-opt", "KNOB=VALUE"),
        metric=args.metric,
        mode=args.mode,
        track=args.track,
    )
    return RunOptions(**{**values, **changes})


def parse_pairs(pairs: Sequence[str], option: str, form: str) -> dict[str, str]:
    """Repeated `option KEY=VALUE` pairs as a dict; a key given twice is refused."""
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = (part.strip() for part in pair.partition("="))
        if not sep or not key or not value:
            raise BadInputError(f"{option} expects {form}, got {pair!r}")
        if key in values:
            raise BadInputError(f"{option} {key} given twice")
        values[key] = value
    return values
