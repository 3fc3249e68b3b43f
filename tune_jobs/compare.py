"""`tune-jobs compare`: every method x every seed under one budget, into one parent folder.

The parent folder holds one standard Tune experiment per run (`<method>-seed<k>/`) and a
`manifest.json` naming each run, rewritten after every run so an interruption loses nothing.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.compare import anytime, run_scores, time_to_target
from analysis.layout import MANIFEST_FILE
from analysis.results import folder_metric, load_compare
from search_spaces.methods import METHODS
from tune_jobs.console import Progress, clock
from tune_jobs.errors import BadInputError
from tune_jobs.execute import connect_first, ensure_ray, execute, trial_slots, unfinished
from tune_jobs.jobs import Job
from tune_jobs.options import Prepared, RunOptions, describe_data, load_data, prepare
from tune_jobs.replay import replay_job, replay_record
from tune_jobs.storage import Folder, check_name

SIMULATE_HINT_RUNS = 20  # more replayed runs than this on Ray's engine: suggest --simulate


def parse_methods(text: str) -> list[str]:
    """`all` or a comma-separated list of registered methods (unknown ones refused)."""
    if text.strip() == "all":
        return list(METHODS)
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in METHODS]
    if unknown or not names:
        raise BadInputError(
            f"unknown method(s) {', '.join(unknown) or '(none given)'}; choose from: "
            f"{', '.join(METHODS)} or all"
        )
    return list(dict.fromkeys(names))


def plan_compare(
    base: RunOptions, methods: Sequence[str], seeds: int, parent: str, job: Job | None = None
) -> tuple[list[Prepared], int]:
    """Check and prepare every run before any starts; returns the runs and the epoch budget.

    Without `--budget-epochs` the budget is the epochs the job's grid needs to finish once.
    `job` replaces the registered job (a replayed one).
    """
    if seeds < 1:
        raise BadInputError(f"--seeds must be >= 1, got {seeds}")
    folder = Folder.at(base.storage).child(check_name(parent))
    if folder.exists():
        raise BadInputError(
            f"{folder} already exists; choose another --name (results are never overwritten)"
        )
    storage = f"{base.storage.rstrip('/')}/{parent}"
    budget = base.budget_epochs
    if budget is None:  # a probe only: prepare writes nothing
        grid = dataclasses.replace(
            base, method="grid", method_options={}, storage=storage, name="probe"
        )
        probe = prepare(grid, job)
        budget = probe.space.grid_size() * probe.settings.max_epochs
    applied = method_options(base.method_options, methods)
    runs = [
        prepare(
            dataclasses.replace(
                base,
                method=method,
                method_options=applied[method],
                seed=base.seed + offset,
                budget_epochs=budget,
                storage=storage,
                name=f"{method}-seed{base.seed + offset}",
            ),
            job,
        )
        for method in methods
        for offset in range(seeds)
    ]
    return runs, budget


def method_options(options: dict[str, str], methods: Sequence[str]) -> dict[str, dict[str, str]]:
    """Each method's share of the `--method-opt` knobs: those it declares. A knob no method
    declares is refused; the methods that ignore a knob are said."""
    declared = {name: {knob.name for knob in METHODS[name].knobs} for name in methods}
    unknown = [knob for knob in options if not any(knob in d for d in declared.values())]
    if unknown:
        knobs = {f"{m}: {METHODS[m].knob_names()}" for m in methods}
        raise BadInputError(
            f"--method-opt {', '.join(unknown)}: no method here declares it; knobs: "
            + "; ".join(sorted(knobs))
        )
    for knob in options:
        ignoring = [name for name in methods if knob not in declared[name]]
        if ignoring:
            print(f"--method-opt {knob}: ignored by {', '.join(ignoring)} (not their knob)")
    return {m: {k: v for k, v in options.items() if k in declared[m]} for m in methods}


def run_compare(
    base: RunOptions,
    methods: Sequence[str],
    seeds: int,
    parent: str,
    replay: str | None = None,
    simulate: bool = False,
    replay_model: str | None = None,
    workers: int | None = None,
) -> tuple[str, dict[str, Any]]:
    """Run every prepared run, data loaded once, manifest written after each.

    Returns the comparison's folder and its manifest.

    With `replay` (a replay table's path) every run replays its recorded curves instead of
    training (`tune_jobs.replay`), and the manifest's `replay` field describes the table; with
    `simulate` too, the runs are simulated without Ray (`tune_jobs.simulate`) by `workers`
    processes at once (default: one per CPU this process may use); `replay_model` replaces the
    table's replay model.
    """
    check_replay_options(base, replay, simulate, replay_model, workers)
    job = None if replay is None else replay_job(base, replay, replay_model)
    runs, budget = plan_compare(base, methods, seeds, parent, job)
    if not simulate:
        connect_first(base)
    data = load_data(runs[0].job, base)
    print(f"Data: {describe_data(data)}; {len(runs)} runs, {budget} epochs each")
    manifest = header(base, methods, runs, budget, replay, data)
    if simulate:
        workers = workers or len(os.sched_getaffinity(0))
        return runs[0].storage, simulate_runs(runs, data, manifest, workers)
    if replay is not None and len(runs) > SIMULATE_HINT_RUNS:
        print(
            f"Hint: {len(runs)} replayed runs take seconds each as Ray experiments; --simulate "
            "runs the same searchers and schedulers without Ray in a fraction of a second "
            "each (docs/hpo-benchmark-plan.md, 'The simulator')"
        )
    ensure_ray(base.address)
    progress = Progress(len(runs))
    for index, run in enumerate(runs, start=1):
        print(f"\n{progress.line(index, f'{run.method} seed {run.options.seed}')}")
        entry = {
            "method": run.method,
            "seed": run.options.seed,
            "name": run.name,
            "path": run.name,
            "budget_epochs": budget,
            "time_budget": base.time_budget,
            "started": time.time(),
        }
        try:
            entry.update(run_outcome(execute(run, data)))
        except Exception as error:  # one method's failure must not lose the others
            entry.update(status="failed", error=f"{type(error).__name__}: {error}")
        entry["ended"] = time.time()
        manifest["runs"].append(entry)
        Folder(runs[0].storage).write_json(MANIFEST_FILE, manifest)
        if entry["status"] == "interrupted":  # Ctrl-C: the next runs do not start
            break
    return runs[0].storage, manifest


def check_replay_options(
    base: RunOptions,
    replay: str | None,
    simulate: bool,
    replay_model: str | None,
    workers: int | None = None,
) -> None:
    """BadInputError for a replay option without a table, or a simulation it cannot run."""
    if workers is not None and (not simulate or workers < 1):
        raise BadInputError(f"--workers needs --simulate and a count >= 1, got {workers}")
    if simulate and replay is None:
        raise BadInputError("--simulate needs --replay TABLE: only recorded curves simulate")
    if replay_model and replay is None:
        raise BadInputError("--replay-model needs --replay TABLE")
    if simulate and (base.address or "://" in base.storage):
        raise BadInputError(
            "--simulate runs on this machine and writes a local folder: drop --address, and "
            "give --storage a local path"
        )


def header(
    base: RunOptions,
    methods: Sequence[str],
    runs: Sequence[Prepared],
    budget: int,
    replay: str | None,
    data: Any,
) -> dict[str, Any]:
    """A compare manifest before its runs: what was compared, how, and on what."""
    return {
        "job": base.job,
        "methods": list(methods),
        "seeds": sorted({run.options.seed for run in runs}),
        "budget_epochs": budget,
        "time_budget": base.time_budget,
        "replay": None if replay is None else replay_record(replay, data),
        "created": time.time(),
        # What every run optimised (`--metric`/`--mode`, else the job's); reports read it.
        "metric": runs[0].settings.metric,
        "mode": runs[0].settings.mode,
        "options": dataclasses.asdict(base),
        # The --method-opt knobs each method took (the others ignored them).
        "method_options": {run.method: run.options.method_options for run in runs},
        "runs": [],
    }


def simulate_runs(
    runs: Sequence[Prepared], table: Any, manifest: dict[str, Any], workers: int
) -> dict[str, Any]:
    """The runs simulated (`tune_jobs.simulate`) by `workers` processes, a line per method as its
    last seed ends."""
    from tune_jobs.simulate_many import simulate_compare, simulation_workers

    # What Ray would run at once: the CPUs' worth of trials. --concurrency is not a cap here:
    # the methods that honour it limit themselves (their searcher's concurrency limiter).
    slots = int(trial_slots(dataclasses.replace(runs[0].options, concurrency=None)))
    print(
        f"Simulated: {slots} trials at a time (what this machine's CPUs run), no Ray actors; "
        f"{simulation_workers(workers, len(runs))} runs at once"
    )
    started = time.perf_counter()

    def said(index: int, run: Prepared, _: Any) -> None:
        if index == len(runs) or runs[index].method != run.method:
            elapsed = time.perf_counter() - started
            left = elapsed / index * (len(runs) - index)
            print(
                f"== {index}/{len(runs)} runs | {run.method} done | elapsed {clock(elapsed)} | "
                f"about {clock(left)} left"
            )

    return simulate_compare(runs, table, slots, Path(runs[0].storage), manifest, said, workers)


def run_outcome(results: Any) -> dict[str, Any]:
    """A run's manifest status (interrupted by Ctrl-C, finished, or failed), error, trials."""
    errors = [str(r.error) for r in results if r.error is not None]
    if unfinished(results):
        status = "interrupted"
    else:
        status = "finished" if len(errors) < len(results) else "failed"
    return {
        "status": status,
        "error": errors[0] if errors else None,
        # Trials the budget stopped before they started are in the grid, not counted.
        "trials": sum(
            1 for r in results if r.metrics_dataframe is not None and len(r.metrics_dataframe)
        ),
    }


def method_summary(path: str) -> tuple[pd.DataFrame, float | None, str]:
    """Per method of the compare folder `path`: runs, trials that trained, the median over seeds
    of the best score by the metric the runs optimised, and the median epochs to reach the
    target (the median of all runs' scores, the report's default); and that target (None before
    any run trained); and the metric."""
    metric, mode = folder_metric(path)
    _, runs, _, curves = load_compare(path, metric, mode)
    table = runs.groupby("method", sort=False).agg(runs=("seed", "size"), trained=("trials", "sum"))
    if curves.empty or metric not in curves:
        return table, None, metric
    scores = run_scores(curves, metric, mode)
    target = float(scores["score"].median())
    reach = time_to_target(anytime(curves, metric, mode), target, mode)
    table[f"best {metric} (median)"] = scores.groupby("method")["score"].median()
    table["epochs to target (median)"] = reach.groupby(level="method")["epochs_to_target"].median()
    return table, target, metric


def format_summary(table: pd.DataFrame, target: float | None, metric: str) -> str:
    """The method summary as a plain-text table, with the target it used."""
    shown = table.astype(object).copy()
    for column in table.columns[2:]:
        shown[column] = [_cell(value, column) for value in table[column]]
    text = shown.to_string(index_names=False)
    if target is not None:
        text += f"\nTarget {metric}: {target:.4f} (the median of all runs' best)"
    return text


def _cell(value: float, column: str) -> str:
    if pd.isna(value):
        return "-"
    if np.isinf(value):
        return "not reached"  # by half the seeds or more
    return f"{value:.0f}" if column.startswith("epochs") else f"{value:.4f}"
