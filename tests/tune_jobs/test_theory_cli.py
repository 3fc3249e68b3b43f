"""`tune-jobs theory ...` through the CLI's own entry point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tune_jobs.cli import main as _run


@pytest.mark.parametrize(
    ("check", "png"),
    [
        ("vanishing-gradient", "vanishing_gradient_width.png"),
        ("unstable-gradients", "unstable_gradients.png"),
        ("momentum", "momentum.png"),
    ],
)
def test_writes_its_figure(tmp_path: Path, capsys, check: str, png: str) -> None:
    out = tmp_path / "nested" / "theory"
    assert _run(["theory", check, "--out", str(out)]) == 0
    assert (out / png).stat().st_size > 1000
    assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert str(out / png) in printed and "FAIL" not in printed


def test_vanishing_prints_the_maximum(tmp_path: Path, capsys) -> None:
    _run(["theory", "vanishing-gradient", "--out", str(tmp_path)])
    assert "|w| = 6.894151, width = 0.447743" in capsys.readouterr().out


@pytest.mark.parametrize("cost", [[], ["--cost", "quadratic"], ["--cost", "cross-entropy"]])
def test_backprop_passes(capsys, cost: list[str]) -> None:
    assert _run(["theory", "backprop", "--seed", "5", *cost]) == 0
    assert "[PASS]" in capsys.readouterr().out


def test_backprop_fails_when_a_difference_exceeds_the_tolerance(monkeypatch) -> None:
    monkeypatch.setattr("analysis.theory.backprop_check.TOLERANCE", 0.0)
    assert _run(["theory", "backprop"]) == 1


def test_bad_input_exits_2_without_writing(tmp_path: Path, capsys) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("keep me")
    assert _run(["theory", "momentum", "--out", str(not_a_dir)]) == 2
    assert not_a_dir.read_text() == "keep me"
    assert capsys.readouterr().err == (
        f"tune-jobs: error: --out {not_a_dir} exists and is not a folder\n"
    )
    assert _run(["theory", "backprop", "--seed", "-1"]) == 2
    assert capsys.readouterr().err == "tune-jobs: error: --seed must be >= 0, got -1\n"


def test_argparse_rejects_missing_or_unknown_choices() -> None:
    for argv in (["theory"], ["theory", "backprop", "--cost", "hinge"]):
        with pytest.raises(SystemExit) as exc:
            _run(argv)
        assert exc.value.code == 2


def test_theory_does_not_import_ray_tune() -> None:
    """The theory checks need torch and scipy only; Ray Tune would cost seconds at start-up."""
    probe = (
        "import sys; from tune_jobs.cli import main; "
        "code = main(['theory', 'backprop', '--cost', 'quadratic']); "
        "print(code, 'ray.tune' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "0 False"
