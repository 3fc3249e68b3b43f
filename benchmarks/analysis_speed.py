"""How long the analysis takes as experiments grow: frames and report of a large compare folder.

Writes a synthetic `tune-jobs compare` folder (default 12 methods x 10 seeds x 50 trials x 20
epochs) in Ray Tune's on-disk format, then times `load_compare` (Ray's ExperimentAnalysis on every
run, then the trials and curves frames) and `write_report` on it, for growing trial counts.

Faithfulness: one real Tune experiment (a function trainable that reports synthetic metrics) is
run first; every synthetic run folder is then written from its files: `experiment_state-*.json`
with one entry per trial made from Ray's own trial state (trial id, config, tag, trial folder and
last result changed; the storage context re-pickled with cloudpickle, as Ray does), and per trial
`params.json` and `result.json` rows with every key Ray writes. Left out: `progress.csv`,
TensorBoard event files and checkpoints, which the analysis does not read.

    .venv/bin/python benchmarks/analysis_speed.py [--trials 10 25 50] [--keep DIR]
"""

from __future__ import annotations

import argparse
import copy
import glob
import json
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path

import cloudpickle
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

METHODS = [
    "grid",
    "random",
    "asha",
    "hyperband",
    "bohb",
    "tpe",
    "gp",
    "cmaes",
    "pbt",
    "pso",
    "genetic",
    "sha",
]
EPOCH_SECONDS = 10.0


def _fake_trainable(config):
    from ray import tune

    tune.report(
        {
            "epoch": 1,
            "val_acc": 0.5,
            "train_loss": 1.0,
            "train_cost": 1.0,
            "val_loss": 1.0,
            "test_acc": 0.5,
            "diverged": False,
        }
    )


def template(root: Path) -> tuple[dict, dict, dict]:
    """Ray's experiment state, one trial's state and its run metadata, from a real run."""
    import ray
    from ray import tune

    ray.init(num_cpus=1, include_dashboard=False, logging_level="ERROR")
    space = {"lr": 0.1, "weight_decay": 1e-4, "dropout": 0.25, "width": 64, "epochs": 1}
    tune.Tuner(
        _fake_trainable,
        param_space=space,
        run_config=tune.RunConfig(name="template", storage_path=str(root), verbose=0),
    ).fit()
    ray.shutdown()
    state = json.loads(
        Path(glob.glob(str(root / "template" / "experiment_state-*.json"))[0]).read_text()
    )
    trial_json, runtime_json = state["trial_data"][0]
    return state, json.loads(trial_json), json.loads(runtime_json)


def _rows(trial_id, config, accuracy, rng, started):
    rows, total = [], 0.0
    for epoch, acc in enumerate(accuracy, start=1):
        spent = EPOCH_SECONDS * rng.uniform(0.8, 1.2)
        total += spent
        loss = 2.3 * math.exp(-epoch / 4) + 0.05
        rows.append(
            {
                "epoch": epoch,
                "train_loss": loss,
                "train_cost": loss + 0.01,
                "val_loss": loss * 1.1,
                "val_acc": acc,
                "test_acc": acc - 0.003,
                "diverged": False,
                "timestamp": int(started + total),
                "checkpoint_dir_name": None,
                "should_checkpoint": False,
                "done": False,
                "training_iteration": epoch,
                "trial_id": trial_id,
                "date": time.strftime("%Y-%m-%d_%H-%M-%S"),
                "time_this_iter_s": spent,
                "time_total_s": total,
                "pid": 1,
                "hostname": "bench",
                "node_ip": "127.0.0.1",
                "config": config,
                "time_since_restore": total,
                "iterations_since_restore": epoch,
            }
        )
    return rows


def write_run(
    folder: Path,
    base: tuple[dict, dict, dict],
    trials: int,
    epochs: int,
    level: float,
    rng: np.random.Generator,
) -> None:
    """One experiment folder of `trials` trials x `epochs` epochs in Ray's format."""
    state, trial_template, runtime_template = base
    folder.mkdir(parents=True)
    storage = cloudpickle.loads(bytes.fromhex(trial_template["storage"]["value"]))
    storage.experiment_dir_name = folder.name
    entries, started = [], 1_800_000_000.0
    prefix = f"{rng.integers(16**5):05x}"
    for number in range(trials):
        trial_id = f"{prefix}_{number:05d}"
        config = {
            "lr": float(10 ** rng.uniform(-2, -0.5)),
            "weight_decay": float(10 ** rng.uniform(-5, -2)),
            "dropout": float(rng.uniform(0, 0.7)),
            "width": int(rng.choice([64, 128, 256])),
            "epochs": epochs,
        }
        quality = level - 0.05 * (math.log10(config["lr"]) + 1.2) ** 2 - 0.02 * config["dropout"]
        accuracy = (
            quality - 0.3 * np.exp(-np.arange(1, epochs + 1) / 3) + rng.normal(0, 0.002, epochs)
        )
        tag = f"{number}_lr={config['lr']:.4f},width={config['width']}"
        dirname = f"bench_{trial_id}_{tag}"
        rows = _rows(trial_id, config, [float(a) for a in accuracy], rng, started)
        (folder / dirname).mkdir()
        (folder / dirname / "params.json").write_text(json.dumps(config))
        (folder / dirname / "result.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
        storage.trial_dir_name = dirname
        trial = copy.deepcopy(trial_template)
        trial.update(
            trial_id=trial_id,
            config=config,
            _Trial__unresolved_config=config,
            evaluated_params=config,
            experiment_tag=tag,
            relative_logdir=dirname,
            status="TERMINATED",
        )
        trial["storage"] = {
            "_type": "CLOUDPICKLE_FALLBACK",
            "value": cloudpickle.dumps(storage).hex(),
        }
        runtime = copy.deepcopy(runtime_template)
        last = {**rows[-1], "experiment_tag": tag}
        runtime.update(
            start_time=started, last_result=last, last_result_time=started + last["time_total_s"]
        )
        runtime["metric_analysis"] = {
            key: {
                "max": max(r[key] for r in rows),
                "min": min(r[key] for r in rows),
                "last": last[key],
            }
            for key in ("val_acc", "test_acc", "train_loss", "val_loss")
        }
        entries.append([json.dumps(trial), json.dumps(runtime)])
        started += 2.0  # trials start one after another, two at a time in effect
    experiment = {**state, "trial_data": entries}
    (folder / "experiment_state-2026-11-28_00-00-00.json").write_text(json.dumps(experiment))


def write_compare(parent: Path, base, trials: int, epochs: int, seeds: int) -> None:
    rng = np.random.default_rng(0)
    runs = []
    for rank, method in enumerate(METHODS):
        for seed in range(seeds):
            name = f"{method}-seed{seed}"
            write_run(parent / name, base, trials, epochs, 0.99 - 0.004 * rank, rng)
            runs.append(
                {
                    "method": method,
                    "seed": seed,
                    "name": name,
                    "path": name,
                    "budget_epochs": None,
                    "time_budget": None,
                    "started": 0,
                    "ended": 1,
                    "status": "finished",
                    "error": None,
                }
            )
    manifest = {
        "job": "mnist-l2",
        "methods": METHODS,
        "seeds": list(range(seeds)),
        "budget_epochs": None,
        "time_budget": None,
        "replay": None,
        "created": 0,
        "runs": runs,
    }
    (parent / "manifest.json").write_text(json.dumps(manifest))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, nargs="+", default=[10, 25, 50])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--keep", type=Path, help="write the folders here and keep them")
    args = parser.parse_args()

    from analysis.report import write_report
    from analysis.results import load_compare

    root = args.keep or Path(tempfile.mkdtemp(prefix="analysis-speed-"))
    root.mkdir(parents=True, exist_ok=True)
    base = template(root)
    print(f"{len(METHODS)} methods x {args.seeds} seeds x T trials x {args.epochs} epochs")
    print("| trials per run | trials | rows | write s | frames s | report s | frames+report s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for trials in args.trials:
        parent = root / f"compare-{trials}"
        start = time.perf_counter()
        write_compare(parent, base, trials, args.epochs, args.seeds)
        written = time.perf_counter() - start
        start = time.perf_counter()
        _, runs, frame, curves = load_compare(parent)
        frames = time.perf_counter() - start
        start = time.perf_counter()
        write_report([parent], root / f"report-{trials}")
        report = time.perf_counter() - start
        assert len(frame) == len(METHODS) * args.seeds * trials
        print(
            f"| {trials} | {len(frame)} | {len(curves)} | {written:.1f} | {frames:.1f} | "
            f"{report:.1f} | {frames + report:.1f} |",
            flush=True,
        )
    if args.keep is None:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
