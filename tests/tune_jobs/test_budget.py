"""The epoch budget (`--budget-epochs`) on tiny runs: every reported epoch keeps its checkpoint."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from analysis.layout import RUN_FILE
from trainables.reporting import load_checkpoint_state
from tune_jobs.execute import execute
from tune_jobs.options import RunOptions, load_data, prepare

CHECKPOINT_DIR = re.compile(r"checkpoint_(\d{6})$")


def budgeted_run(mnist_dir: Path, storage: Path, concurrency: int, budget: int):
    """`random` over mnist-l2, 3 samples of up to 3 epochs, stopped by an epoch budget."""
    options = RunOptions(
        "mnist-l2",
        method="random",
        samples=3,
        max_epochs=3,
        data_dir=str(mnist_dir),
        storage=str(storage),
        name=f"budget-{concurrency}",
        train_subset=64,
        concurrency=concurrency,
        budget_epochs=budget,
    )
    prepared = prepare(options)
    return execute(prepared, load_data(prepared.job, prepared.options))


def assert_every_report_kept_its_checkpoint(results, cut_epochs: bool = False) -> int:
    """Each trial's latest registered checkpoint is its last reported epoch; epochs in all.

    With `cut_epochs`, one trial whose epoch in flight the budget cut may have saved that epoch's
    checkpoint before its report was dropped: one folder past its reports, which no report names.
    """
    epochs, cut = 0, 0
    for result in results:
        history = result.metrics_dataframe
        if history is None or history.empty:  # stopped before its first report
            continue
        last = int(history["epoch"].max())
        epochs += len(history)
        assert result.checkpoint is not None, (result.path, last)
        assert load_checkpoint_state(result.checkpoint)["epoch"] == last, result.path
        # No checkpoint on disk beyond the reported epochs (an epoch saved, its result lost),
        # but the one cut epoch.
        saved = [int(m.group(1)) for p in Path(result.path).iterdir()
                 if (m := CHECKPOINT_DIR.match(p.name))]  # fmt: skip
        allowed = {len(history) - 1, len(history)} if cut_epochs else {len(history) - 1}
        assert max(saved) in allowed, (result.path, saved, len(history))
        cut += max(saved) == len(history)
    assert cut <= 1  # two trials at once: the one that spent the budget was not cut
    return epochs


@pytest.mark.slow
def test_the_trial_that_spends_the_budget_keeps_its_last_checkpoint(ray_local, mnist_dir, tmp_path):
    # One trial at a time: 3 epochs, then the second trial's first epoch spends the budget.
    results = budgeted_run(mnist_dir, tmp_path, concurrency=1, budget=4)
    assert assert_every_report_kept_its_checkpoint(results) == 4
    best = results.get_best_result(metric="val_acc", mode="max", scope="all")
    history = best.metrics_dataframe
    best_epoch = int(history.loc[history["val_acc"].idxmax(), "epoch"])
    assert load_checkpoint_state(best.checkpoint)["epoch"] in (best_epoch, len(history))


@pytest.mark.slow
def test_two_running_trials_keep_every_reported_checkpoint(ray_local, mnist_dir, tmp_path):
    # Two trials at once: when one spends the budget the other is mid-epoch; that epoch is cut,
    # unless it reports while the first one's save is still pending.
    results = budgeted_run(mnist_dir, tmp_path, concurrency=2, budget=3)
    epochs = assert_every_report_kept_its_checkpoint(results, cut_epochs=True)
    assert 3 <= epochs <= 3 + 1  # overshoot at most the other running trial's epoch


@pytest.mark.slow
def test_a_budget_that_ends_a_hyperband_run_with_paused_trials_ends_it(
    ray_local, mnist_dir, tmp_path, capsys
):
    # Tune stops the trials HyperBand paused but saves them PAUSED: the run is still finished
    # (exit 0, `ended` in the run file), not interrupted.
    from tune_jobs.cli import main

    code = main(
        [
            "run", "mnist-bench", "--method", "hyperband", "--budget-epochs", "20",
            "--train-subset", "64", "--data-dir", str(mnist_dir), "--storage", str(tmp_path),
            "--name", "hb",
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and "Interrupted" not in out, out[-2000:]
    record = json.loads((tmp_path / "hb" / RUN_FILE).read_text())
    assert record["ended"] and record["budget_spent"] and not record.get("interrupted")
