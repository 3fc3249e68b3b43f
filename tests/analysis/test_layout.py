"""The results-folder layout: telling experiment folders from compare folders, cheaply."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import analysis
from analysis.layout import (
    COMPARE,
    EXPERIMENT,
    EXPERIMENT_STATE_GLOB,
    MANIFEST_FILE,
    RUN_FILE,
    folder_kind,
    has_experiment_state,
    is_experiment_state,
)
from analysis.report import report_kind
from analysis.results import NotAnExperimentError


@pytest.mark.parametrize(
    ("names", "kind"),
    [
        (["experiment_state-2026-01-01_00-00-00.json", "tuner.pkl", RUN_FILE], EXPERIMENT),
        ([MANIFEST_FILE, "grid-seed0", "asha-seed0"], COMPARE),
        ([MANIFEST_FILE, "experiment_state-2026-01-01_00-00-00.json"], COMPARE),
        ([RUN_FILE, "tuner.pkl", "experiment_state.txt", "notes.json"], None),
        ([], None),
    ],
)
def test_folder_kind_from_the_names_it_holds(names, kind):
    assert folder_kind(names) == kind
    assert folder_kind(iter(names)) == kind  # any iterable, read once
    assert has_experiment_state(names) == any(n.startswith("experiment_state-") for n in names)


def test_the_experiment_state_glob_and_check_agree(tmp_path):
    for name in ("experiment_state-2026-01-01_00-00-00.json", "experiment_state-x.json"):
        (tmp_path / name).write_text("{}")
    (tmp_path / "experiment_state-x.json.tmp").write_text("{}")
    (tmp_path / "state.json").write_text("{}")
    globbed = {p.name for p in tmp_path.glob(EXPERIMENT_STATE_GLOB)}
    checked = {p.name for p in tmp_path.iterdir() if is_experiment_state(p.name)}
    assert globbed == checked and len(checked) == 2


def test_report_kind_reads_the_folder_on_disk(tiny_experiment, compare_folder, tmp_path):
    assert report_kind(tiny_experiment) == EXPERIMENT
    assert report_kind(f"file://{tiny_experiment}") == EXPERIMENT
    assert report_kind(compare_folder) == COMPARE
    (tmp_path / RUN_FILE).write_text("{}")  # a run file alone does not make an experiment
    with pytest.raises(NotAnExperimentError, match="has no experiment_state-\\*.json"):
        report_kind(tmp_path)


def test_layout_imports_neither_ray_nor_pandas_nor_torch():
    # The CLI imports it at start-up, where Ray Tune and torch would cost seconds.
    code = (
        "import sys, analysis.layout; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'ray', 'pandas', 'torch', "
        "'numpy', 'pyarrow', 'trainables', 'tune_jobs'}))"
    )
    root = str(Path(analysis.__file__).parent.parent)  # this checkout, not an installed copy
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert found.stdout.strip() == "[]"
