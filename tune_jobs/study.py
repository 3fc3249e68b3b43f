"""`tune-jobs study mnist`: Problem 4 stage by stage, each stage from the previous stage's best.

4.1 (`mnist-l2`) -> 4.2 (`mnist-l1`, random and from the 4.1 weights, same budget) -> 4.3(a)
(`mnist-optimizers`, one experiment per optimizer) -> 4.3(b) (`mnist-batchnorm`). Each stage is an
ordinary experiment in the study folder; `study.json` records the finished ones, so a rerun with
the same name skips them and resumes an interrupted one.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from analysis.report.study import StudyPaths, write_study_report
from search_spaces.mnist import OPTIMIZER_PARAMETERS, optimizer_pins
from trainables import metrics
from tune_jobs.console import Progress
from tune_jobs.errors import BadInputError
from tune_jobs.execute import best_summary, connect_first, ensure_ray, execute, resume
from tune_jobs.jobs import get_job
from tune_jobs.options import RunOptions, load_data, prepare
from tune_jobs.storage import check_name

STUDY_FILE = "study.json"
REPORT_FOLDER = "report"
L2, L1_RANDOM, L1_FROM_L2, BATCHNORM = "4.1-l2", "4.2-l1-random", "4.2-l1-from-l2", "4.3b-batchnorm"
NOT_CARRIED = ("epochs", "seed")  # each stage sets its own


def optimizer_stage(optimizer: str) -> str:
    return f"4.3a-{optimizer}"


def carried(config: dict[str, Any], job_name: str) -> dict[str, Any]:
    """The hyperparameters of a best `config` that stage `job_name` keeps: all but what it tunes,
    what it holds fixed by design, and the epochs and seed."""
    job = get_job(job_name)
    dropped = {*job.space().dimensions, *job.enforced, *NOT_CARRIED}
    return {k: v for k, v in config.items() if k not in dropped}


class Study:
    """One study folder: runs the stages not yet finished, then writes the report."""

    def __init__(self, base: RunOptions, name: str) -> None:
        if "://" in base.storage:
            raise BadInputError("tune-jobs study keeps its stages in a local --storage folder")
        self.base = base
        self.folder = Path(base.storage).expanduser().resolve() / check_name(name)
        self.record_file = self.folder / STUDY_FILE
        self.record: dict[str, Any] = (
            json.loads(self.record_file.read_text())
            if self.record_file.exists()
            else {"stages": {}}
        )
        self._data = None
        # Stages: 4.1, the two 4.2 runs, one 4.3(a) run per optimizer, 4.3(b).
        self.progress = Progress(3 + len(OPTIMIZER_PARAMETERS) + 1)
        self._index = 0

    def check(self) -> None:
        """Prepare every stage's job with the study's options, before any stage trains."""
        for job in ("mnist-l2", "mnist-l1", "mnist-optimizers", "mnist-batchnorm"):
            overrides = self.base.overrides if job == "mnist-l2" else {}
            options = replace(
                self.base, job=job, overrides=overrides, storage=str(self.folder),
                name=".check-not-written", init_from=None, **self._space_options(job),
            )  # fmt: skip
            prepare(options)  # writes nothing

    def _space_options(self, job: str) -> dict[str, Any]:
        """--range and --choice, like --set, shape 4.1's space only; later stages pin its best."""
        keep = job == "mnist-l2"
        return {
            "ranges": self.base.ranges if keep else {},
            "choices": self.base.choices if keep else {},
        }

    def stage(
        self, stage: str, job: str, overrides: dict[str, Any], init_from: str | None = None
    ) -> dict[str, Any]:
        """Run (or resume, or skip when finished) one stage; its best trial's summary."""
        self._index += 1
        if stage in self.record["stages"]:
            self.progress.skipped += 1
            print(f"Stage {stage}: finished earlier, skipped")
            return self.record["stages"][stage]
        print(f"\n{self.progress.line(self._index, f'stage {stage}')}")
        path = self.folder / stage
        if path.exists():
            print(f"Stage {stage}: interrupted earlier, resuming {path}")
            results, job_spec = resume(str(path), self.base.address)
        else:
            print(f"Stage {stage}: job {job}, pinned {overrides}")
            options = replace(
                self.base, job=job, overrides=overrides, storage=str(self.folder), name=stage,
                init_from=init_from, **self._space_options(job),
            )  # fmt: skip
            prepared = prepare(options)
            connect_first(options)
            if self._data is None:  # every stage trains on the same MNIST splits
                self._data = load_data(prepared.job, options)
            ensure_ray(self.base.address)
            results = execute(prepared, self._data)
            job_spec = prepared.job
        if all(result.error is not None for result in results):
            raise RuntimeError(f"stage {stage}: every trial failed; see {path}")
        best = best_summary(results, job_spec)
        summary = {
            "path": str(path),
            "job": job,
            "trial_id": best["trial_id"],
            "epoch": best["epoch"],
            metrics.VAL_ACC: best[metrics.VAL_ACC],
            metrics.TEST_ACC: best[metrics.TEST_ACC],
            "config": best["config"],
        }
        self.record["stages"][stage] = summary
        self.folder.mkdir(parents=True, exist_ok=True)
        self.record_file.write_text(json.dumps(self.record, indent=2, default=str))
        print(f"Stage {stage}: best val_acc {summary['val_acc']:.4f}, test_acc "
              f"{summary['test_acc']:.4f}")  # fmt: skip
        return summary

    def run(self) -> list[Path]:
        """Every stage in order, then the report; the report's files."""
        self.check()
        l2 = self.stage(L2, "mnist-l2", self.base.overrides)
        from_l2 = carried(l2["config"], "mnist-l1")
        l1_random = self.stage(L1_RANDOM, "mnist-l1", from_l2)
        l1_from_l2 = self.stage(L1_FROM_L2, "mnist-l1", from_l2, init_from=l2["path"])
        l1 = max((l1_random, l1_from_l2), key=lambda summary: summary[metrics.VAL_ACC])
        network = carried(l1["config"], "mnist-optimizers")
        optimizers = {
            name: self.stage(
                optimizer_stage(name), "mnist-optimizers", {**network, **optimizer_pins(name)}
            )
            for name in OPTIMIZER_PARAMETERS
        }
        best_optimizer = max(optimizers.values(), key=lambda summary: summary[metrics.VAL_ACC])
        self.stage(
            BATCHNORM, "mnist-batchnorm", carried(best_optimizer["config"], "mnist-batchnorm")
        )
        paths = StudyPaths(
            l2=str(self.folder / L2),
            l1_random=str(self.folder / L1_RANDOM),
            l1_from_l2=str(self.folder / L1_FROM_L2),
            optimizers={name: str(self.folder / optimizer_stage(name)) for name in optimizers},
            batchnorm=str(self.folder / BATCHNORM),
        )
        return write_study_report(
            paths, self.folder / REPORT_FOLDER, f"Problem 4 study `{self.folder.name}`"
        )
