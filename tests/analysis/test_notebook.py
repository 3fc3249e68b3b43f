"""notebooks/analyze_results.ipynb: kept without outputs, and runs end to end with nbclient."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "analyze_results.ipynb"


def test_notebook_is_stored_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)
    assert sum(cell.cell_type == "markdown" for cell in notebook.cells) >= len(code) // 2


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_notebook_runs_against_a_real_experiment_and_compare_folder(
    tiny_experiment, compare_folder, monkeypatch
):
    monkeypatch.setenv("TUNE_JOBS_EXPERIMENT", str(tiny_experiment))
    monkeypatch.setenv("TUNE_JOBS_COMPARE", str(compare_folder))
    monkeypatch.setenv("MPLBACKEND", "Agg")  # the notebook switches to inline itself
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=180,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parents[1])}},  # the repository root
    )
    client.execute()  # raises CellExecutionError on the first failing cell

    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    images = [out for out in outputs if "image/png" in out.get("data", {})]
    assert len(images) >= 5  # curves, parallel, importance, anytime, final scores
    text = "\n".join(
        str(out.get("text", "")) + str(out.get("data", {}).get("text/plain", "")) for out in outputs
    )
    assert "4 trials, 0 errors" in text and "job mnist-l2, method asha" in text
    assert "target accuracy" in text and "grid" in text and "asha" in text
