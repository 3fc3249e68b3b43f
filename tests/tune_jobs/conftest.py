"""Fixtures for refusal tests: a tripwire on every expensive step, and the CLI's exit-2 check."""

from __future__ import annotations

import pytest

import tune_jobs.cli.run
import tune_jobs.cli.service
import tune_jobs.compare
import tune_jobs.execute
import tune_jobs.study
from tune_jobs.cli import main

COMMANDS = {
    "run": ["run", "mnist-l2"],
    "compare": ["compare", "mnist-l2", "--methods", "grid"],
    "study": ["study", "mnist"],
    "submit": ["submit", "mnist-l2"],
}


def _tripwire(step: str):
    def reached(*args, **kwargs):
        raise AssertionError(f"reached {step}: the bad input was not refused before it")

    return reached


@pytest.fixture
def commands():
    """Each command that starts work, by name, with the least arguments it needs."""
    return COMMANDS


@pytest.fixture
def tripwire():
    """A stand-in that fails the test when a step that should not be reached is called."""
    return _tripwire


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if any command gets as far as loading data, starting Ray or submitting."""
    for module in (tune_jobs.cli.run, tune_jobs.compare, tune_jobs.study, tune_jobs.execute):
        monkeypatch.setattr(module, "load_data", _tripwire("data load"), raising=False)
        monkeypatch.setattr(module, "ensure_ray", _tripwire("Ray start"), raising=False)
    monkeypatch.setattr(tune_jobs.cli.service, "job_client", _tripwire("the Jobs API"))


@pytest.fixture
def refused(capsys):
    """Run the CLI; check exit 2 and one line on stderr; return that line."""

    def run(argv: list[str]) -> str:
        code = main(argv)
        err = capsys.readouterr().err.strip()
        assert code == 2, err
        assert len(err.splitlines()) == 1, err
        return err

    return run
