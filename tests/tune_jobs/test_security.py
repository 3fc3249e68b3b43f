"""Untrusted results folders and checkpoints: reading them never runs code (issue 19, points 5, 7).

A real one-trial experiment is copied and every pickle in it (Ray's `error.pkl`, `params.pkl`,
`tuner.pkl`, the searcher state and the pickled parts of the experiment state) is replaced by one
whose `__reduce__` writes a marker file; every command that reads a folder must leave no marker.
"""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from ray.tune import ExperimentAnalysis

from trainables.reporting import CHECKPOINT_FILE
from tune_jobs.cli import main

PICKLE_HEADER = "8004", "8005"  # the hex of a protocol 4 or 5 pickle's first two bytes


class Payload:
    """Unpickling this writes `marker`: the stand-in for `os.system(...)`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return Path.write_text, (self.marker, "code from the results folder ran")


@pytest.fixture(scope="module")
def source(ray_local, mnist_dir, tmp_path_factory) -> Path:
    """A one-trial mnist-l2 experiment (width 64), with checkpoints."""
    storage = tmp_path_factory.mktemp("security")
    code = main(["run", "mnist-l2", "--smoke-test", "--data-dir", str(mnist_dir),
                 "--storage", str(storage), "--name", "l2"])  # fmt: skip
    assert code == 0
    return storage / "l2"


def _init_from(folder: Path, mnist_dir: Path, storage: Path) -> list[str]:
    """`tune-jobs run` of an mnist-l1 smoke test (the source's width) starting from `folder`."""
    options = {"--data-dir": mnist_dir, "--storage": storage, "--name": "l1", "--set": "width=64"}
    pairs = [text for option, value in options.items() for text in (option, str(value))]
    return ["run", "mnist-l1", "--smoke-test", *pairs, "--init-from", str(folder)]


def _poison(value: Any, hex_payload: str) -> Any:
    """`value` (a decoded piece of the experiment state) with every pickle replaced."""
    if isinstance(value, dict):
        return {key: _poison(item, hex_payload) for key, item in value.items()}
    if isinstance(value, list):
        return [_poison(item, hex_payload) for item in value]
    if isinstance(value, str) and value.startswith(PICKLE_HEADER):
        return hex_payload
    return value


def malicious_copy(source: Path, folder: Path, marker: Path) -> Path:
    """A copy of `source` whose every pickle writes `marker` when unpickled; errored trials."""
    shutil.copytree(source, folder)
    payload = pickle.dumps(Payload(marker), protocol=4)
    for path in folder.rglob("*"):
        if path.suffix == ".pkl" or path.name.startswith("basic-variant-state"):
            path.write_bytes(payload)
    for trial in (p for p in folder.iterdir() if (p / "params.json").is_file()):
        (trial / "error.pkl").write_bytes(payload)
        (trial / "error.txt").write_text("Failure # 1\nTraceback ...\nRuntimeError: crafted\n")
    for state_file in folder.glob("experiment_state-*.json"):
        state = json.loads(state_file.read_text())
        trial_data = []
        for trial_json, metadata_json in state["trial_data"]:
            trial = _poison(json.loads(trial_json), payload.hex())
            metadata = _poison(json.loads(metadata_json), payload.hex())
            trial["status"] = "ERROR"
            metadata.update(error_filename="error.txt", pickled_error_filename="error.pkl")
            trial_data.append([json.dumps(trial), json.dumps(metadata)])
        state["trial_data"] = trial_data
        state_file.write_text(json.dumps(state))
    return folder


def test_the_malicious_folder_runs_its_payload_when_ray_unpickles_it(source, tmp_path):
    marker = tmp_path / "marker"
    folder = malicious_copy(source, tmp_path / "evil", marker)
    with pytest.raises(AttributeError):  # Ray gets the payload's return value, not its object
        ExperimentAnalysis(str(folder))  # what `load_experiment` did before issue 19
    assert marker.exists()  # the folder is really hostile: the checks below mean something


def test_no_command_that_reads_a_results_folder_unpickles_it(source, mnist_dir, tmp_path):
    marker = tmp_path / "marker"
    folder = malicious_copy(source, tmp_path / "evil", marker)
    commands = {
        "report": ["report", str(folder), "--out", str(tmp_path / "report")],
        "export-optuna": ["export-optuna", str(folder), "--storage", f"sqlite:///{tmp_path}/o.db"],
        "replay build": ["replay", "build", str(folder), "--out", str(tmp_path / "t.parquet")],
        "probe transfer": ["probe", "transfer", str(folder), "--out", str(tmp_path / "probe")],
        "--init-from": _init_from(folder, mnist_dir, tmp_path),
    }
    for name, args in commands.items():
        try:  # exit 0 or a refusal: what matters first is that nothing from the folder ran
            code: int | Exception = main(args)
        except Exception as error:  # noqa: BLE001 (reported after the marker check)
            code = error
        assert not marker.exists(), f"`{name}` ran code from the results folder"
        assert isinstance(code, int), f"`{name}` crashed: {code!r}"
    # The folder's errored trials are read from its JSON and error.txt, not from error.pkl.
    assert "RuntimeError: crafted" in (tmp_path / "report" / "report.md").read_text()


@pytest.mark.parametrize("content", ["garbage", "pickle", "tensor"])
def test_a_checkpoint_that_is_not_ours_is_one_message_naming_the_file(
    source, mnist_dir, tmp_path, capsys, content
):
    folder = tmp_path / "bad"
    shutil.copytree(source, folder)
    marker = tmp_path / "marker"
    for checkpoint in folder.rglob(CHECKPOINT_FILE):
        if content == "garbage":
            checkpoint.write_bytes(b"\x00 not a torch file \xff" * 10)
        elif content == "pickle":
            checkpoint.write_bytes(pickle.dumps(Payload(marker)))
        else:  # a real torch file holding something else than a trial's state
            torch.save(torch.zeros(3), checkpoint)
    code = main(_init_from(folder, mnist_dir, tmp_path))
    error = capsys.readouterr().err
    assert code == 2 and not marker.exists()
    assert "is not a checkpoint of this project" in error
    assert str(folder) in error and CHECKPOINT_FILE in error
    assert "weights_only" not in error and "Traceback" not in error
    # Ray forwards earlier tests' worker logs ("\x1b[36m(trainable pid=...)") to this stderr too.
    lines = [line for line in error.strip().splitlines() if not line.startswith("\x1b[36m(")]
    assert len(lines) == 1
    assert not (tmp_path / "l1").exists()
