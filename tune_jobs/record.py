"""`tune-jobs replay record`: train configurations that span a job's space, several seeds each,
into a replay table.

The configurations are every grid point of the job's space (config_id 0..G-1) and the first N
points of a scrambled Sobol sequence over it (config_id G..G+N-1, `search_spaces.sobol`); each is
trained with the training seeds 0..K-1 (the config's `seed`) for the job's full epochs. The
(configuration, seed) pairs run in chunks, each an ordinary Tune experiment through `execute`
(Tune's `BasicVariantGenerator` with the chunk as `points_to_evaluate`).

The table is the recording's only durable state: after each chunk its finished curves are
appended and the parquet rewritten atomically, so a rerun with the same arguments trains only
the pairs the table lacks. A table recorded with another job, space, epochs, training subset,
data or Sobol seed is refused. Results folders are scratch (`--storage`); nothing reads them later.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from ray import tune
from ray.tune.search.basic_variant import BasicVariantGenerator

from analysis.replay import finished_curves
from search_spaces.methods.base import Plan
from search_spaces.sobol import describe_space, grid_configs, sobol_configs
from search_spaces.space import SearchSpace
from trainables.config import MAX_SEED
from trainables.replay import (
    CONFIG_ID,
    CONFIG_PREFIX,
    TRAIN_SEED,
    ReplayTableError,
    read_table,
    write_table,
)
from tune_jobs.console import Progress
from tune_jobs.errors import BadInputError
from tune_jobs.execute import ensure_ray, execute, unfinished
from tune_jobs.options import Prepared, RunOptions, load_data, prepare

# The metadata that must match for a rerun to extend a table rather than be refused.
IDENTITY_KEYS = ("job", "space", "epochs", "train_subset", "data_sizes", "sobol_seed", "grid")


@dataclass(frozen=True)
class RecordRequest:
    """One `replay record`: the run options (job, data, storage, resources) and the recording."""

    options: RunOptions
    out: Path
    configs: int  # Sobol configurations besides the grid
    train_seeds: int
    sobol_seed: int = 0
    chunk_size: int | None = None  # pairs per Tune experiment (default: 6 x concurrency)
    grid: bool = True  # record the grid points too (off: Sobol only, for a quick check)

    def __post_init__(self) -> None:
        for option, value, low in (
            ("--configs", self.configs, 0),
            ("--train-seeds", self.train_seeds, 1),
            ("--chunk-size", self.chunk_size, 1),
        ):
            if value is not None and value < low:
                raise BadInputError(f"{option} must be >= {low}, got {value}")
        if not 0 <= self.sobol_seed <= MAX_SEED:
            raise BadInputError(f"--sobol-seed must be from 0 to {MAX_SEED}")


def plan_recording(request: RecordRequest) -> tuple[Prepared, list[dict[str, Any]]]:
    """The checked base run and every configuration to record (grid first, then Sobol), each
    validated by the job; BadInputError before any data is read."""
    base = prepare(dataclasses.replace(request.options, method="grid", name="probe"))
    space = base.space  # `prepare` pins `seed`: each recorded trial gets its training seed
    grid = grid_configs(space) if request.grid else []
    configs = grid + sobol_configs(space, request.configs, request.sobol_seed)
    if not configs:
        raise BadInputError("nothing to record: --configs 0 and --no-grid")
    for config in configs:
        try:
            base.job.validate({**space.fixed, **config})
        except ValueError as error:
            raise BadInputError(f"configuration {config} is refused by the job: {error}") from None
    return base, configs


def identity(base: Prepared, request: RecordRequest, data_sizes: dict[str, int]) -> dict[str, Any]:
    """What the table's curves depend on: a rerun must match it to extend the table."""
    return {
        "job": base.job.name,
        "space": describe_space(_tuned_space(base)),
        "epochs": base.settings.max_epochs,
        "train_subset": data_sizes["train"],
        "data_sizes": data_sizes,
        "sobol_seed": request.sobol_seed,
        "grid": request.grid,
    }


def _tuned_space(base: Prepared) -> SearchSpace:
    """The prepared space without the run's own seed (the recording varies it) and epochs
    (recorded on their own)."""
    fixed = {k: v for k, v in base.space.fixed.items() if k not in ("seed", "epochs")}
    return dataclasses.replace(base.space, fixed=fixed)


def existing_table(out: Path, expected: dict[str, Any]) -> pd.DataFrame | None:
    """The rows already recorded at `out` (None: no table yet); BadInputError if `out` is not a
    table or was recorded with other arguments (naming each difference)."""
    if not out.exists():
        return None
    try:
        table = read_table(out)
    except ReplayTableError as error:
        raise BadInputError(str(error)) from None
    differences = [
        difference
        for key in IDENTITY_KEYS
        for difference in _differences(key, table.meta.get(key), _jsonish(expected[key]))
    ]
    if differences or TRAIN_SEED not in table.frame:
        raise BadInputError(
            f"{out} was recorded with other arguments, so it cannot be extended: "
            f"{'; '.join(differences) or 'it has no train_seed column'}. Use another --out."
        )
    return table.frame


def _differences(path: str, old: Any, new: Any) -> list[str]:
    """Where `old` and `new` differ, as 'path: table X, now Y', nested dicts entry by entry."""
    if isinstance(old, dict) and isinstance(new, dict):
        keys = sorted({*old, *new})
        return [d for k in keys for d in _differences(f"{path}.{k}", old.get(k), new.get(k))]
    return [] if old == new else [f"{path}: table {old!r}, now {new!r}"]


def _jsonish(value: Any) -> Any:
    """`value` as it reads back from the table's JSON metadata (tuples become lists)."""
    import json

    return json.loads(json.dumps(value, default=str))


def pending_pairs(
    configs: Sequence[dict[str, Any]], seeds: int, recorded: pd.DataFrame | None
) -> list[tuple[int, int]]:
    """The (config_id, train_seed) pairs not yet in `recorded`, config by config."""
    done = set()
    if recorded is not None and not recorded.empty:
        pairs = recorded[[CONFIG_ID, TRAIN_SEED]].drop_duplicates().itertuples(index=False)
        done = {(int(c), int(s)) for c, s in pairs}
    return [
        (config_id, seed)
        for config_id in range(len(configs))
        for seed in range(seeds)
        if (config_id, seed) not in done
    ]


def chunk_run(
    base: Prepared, configs: Sequence[dict[str, Any]], pairs: Sequence[tuple[int, int]], name: str
) -> Prepared:
    """A prepared Tune experiment that trains exactly `pairs`, each once, for the full epochs."""
    options = dataclasses.replace(base.options, name=name, method="grid")
    prepared = prepare(options, base.job)
    points = [{**configs[config_id], "seed": seed} for config_id, seed in pairs]
    # Every tuned value and the seed come from the points; as distributions (not constants) in
    # the param_space, Tune takes the points' values without a warning per trial.
    param_space = {**prepared.space.distributions(), "seed": tune.randint(0, MAX_SEED)}
    search = BasicVariantGenerator(
        points_to_evaluate=points, max_concurrent=base.options.concurrency or 0
    )
    plan = Plan(param_space=param_space, num_samples=len(points), search_alg=search)
    return dataclasses.replace(prepared, plan=plan)


def rows_of_chunk(
    experiment: str, configs: Sequence[dict[str, Any]], pairs: Sequence[tuple[int, int]]
) -> tuple[pd.DataFrame, int]:
    """The finished curves of a chunk's experiment as table rows (config_id, train_seed,
    config/<tuned>, epoch, seconds, metrics); and how many of its trials did not finish."""
    frame, unfinished = finished_curves(experiment)
    if frame.empty:
        return frame, len(unfinished) or len(pairs)
    names = list(configs[0])
    wanted = {_key({**configs[c], "seed": s}, names): (c, s) for c, s in pairs}
    keys = [
        _key({n: row[CONFIG_PREFIX + n] for n in [*names, "seed"]}, names)
        for _, row in frame.iterrows()
    ]
    ids = [wanted.get(key) for key in keys]
    if any(i is None for i in ids):
        raise RuntimeError(f"{experiment}: a trial's config is not one of the chunk's points")
    frame.insert(0, CONFIG_ID, [c for c, _ in ids])
    frame.insert(1, TRAIN_SEED, [s for _, s in ids])
    recorded = [c for c in frame if not c.startswith(CONFIG_PREFIX) and c != "trial_id"]
    rows = frame[recorded + [CONFIG_PREFIX + n for n in names]]
    return rows, len(unfinished)


def _key(config: dict[str, Any], names: Sequence[str]) -> tuple[str, ...]:
    # Text keys: a float survives Tune's JSON round trip exactly, an int may come back as float.
    return tuple(repr(float(v)) if isinstance(v, int | float) else str(v)
                 for v in (*(config[n] for n in names), config["seed"]))  # fmt: skip


def machine() -> dict[str, Any]:
    """Where a recording ran: host, CPU, GPU (if torch sees one)."""
    gpu = None
    try:
        import torch

        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
    except ImportError:  # torch is a dependency; a broken install should not stop the record
        pass
    return {
        "host": socket.gethostname(),
        "cpu": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "gpu": gpu,
    }


@dataclass(frozen=True)
class Recorded:
    """How a `record` call ended: the table's meta, the pairs still missing, and whether Ctrl-C
    stopped it (the chunk in flight keeps its finished trials)."""

    meta: dict[str, Any]
    missing: int
    interrupted: bool = False


def record(request: RecordRequest) -> Recorded:
    """Record every pending pair into `request.out`, chunk by chunk (module doc)."""
    base, configs = plan_recording(request)
    data = load_data(base.job, request.options)
    expected = identity(base, request, data.sizes())
    recorded = existing_table(request.out, expected)
    pairs = pending_pairs(configs, request.train_seeds, recorded)
    total = len(configs) * request.train_seeds
    meta = _meta(base, request, expected, recorded)
    print(
        f"{request.out}: {len(configs)} configurations ({len(configs) - request.configs} grid + "
        f"{request.configs} Sobol) x {request.train_seeds} training seeds = {total} trials of "
        f"{expected['epochs']} epochs; {total - len(pairs)} already recorded, {len(pairs)} to go"
    )
    if not pairs:
        return Recorded(meta, 0)
    ensure_ray(request.options.address)
    size = request.chunk_size or 6 * (request.options.concurrency or 2)
    chunks = [pairs[i : i + size] for i in range(0, len(pairs), size)]
    progress, stamp = Progress(len(chunks)), time.strftime("%Y%m%d-%H%M%S")
    session = {**machine(), "started": time.time(), "seconds": 0.0, "trials": 0}
    meta["recorded_on"].append(session)
    interrupted = False
    for index, chunk in enumerate(chunks, start=1):
        done = total - sum(len(c) for c in chunks[index - 1 :])
        print(progress.line(index, f"chunk of {len(chunk)} trials ({done}/{total} recorded)"))
        started = time.monotonic()
        run = chunk_run(base, configs, chunk, f"record-{request.out.stem}-{stamp}-{index:04d}")
        interrupted = bool(unfinished(execute(run, data)))  # Tune returns from fit on Ctrl-C
        rows, failed = rows_of_chunk(str(run.folder), configs, chunk)
        session["seconds"] += time.monotonic() - started
        session["trials"] += len(chunk) - failed
        if not rows.empty:
            recorded = rows if recorded is None else pd.concat([recorded, rows], ignore_index=True)
            meta = {**meta, "train_seeds": _seeds(recorded), "seconds": _total_seconds(meta)}
            write_table(recorded, meta, request.out)
        if failed:
            print(f"{failed} trial(s) of this chunk did not finish; a rerun records them")
        if interrupted:
            break
    missing = len(pending_pairs(configs, request.train_seeds, recorded))
    state = "interrupted; rerun to go on" if interrupted else f"{missing} missing" * bool(missing)
    print(f"{request.out}: {total - missing}/{total} trials recorded" + f"; {state}" * bool(state))
    return Recorded(meta, missing, interrupted)


def _meta(
    base: Prepared, request: RecordRequest, expected: dict[str, Any], recorded: pd.DataFrame | None
) -> dict[str, Any]:
    """The table's metadata: its identity, what `replay` needs, and where it was recorded."""
    previous = {} if recorded is None else read_table(request.out).meta
    space = _tuned_space(base)
    return {
        **expected,
        "source": "tune-jobs replay record",
        "metric": base.job.metric,
        "mode": base.job.mode,
        "tuned": list(space.dimensions),
        "fixed": {**space.fixed, "epochs": expected["epochs"]},
        "configs": {"grid": space.grid_size() if request.grid else 0, "sobol": request.configs},
        "train_seeds": [] if recorded is None else _seeds(recorded),
        "replay_model": previous.get("replay_model", "nearest"),
        "replay_model_reason": previous.get("replay_model_reason"),
        "recorded_on": list(previous.get("recorded_on", [])),
        "seconds": previous.get("seconds", 0.0),
        "built": time.time(),
    }


def _seeds(recorded: pd.DataFrame) -> list[int]:
    return sorted(int(s) for s in recorded[TRAIN_SEED].unique())


def _total_seconds(meta: dict[str, Any]) -> float:
    return float(sum(session["seconds"] for session in meta["recorded_on"]))
