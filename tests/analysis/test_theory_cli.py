"""`tune-jobs theory ...` through argparse, as tune_jobs/cli.py wires it."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from tune_jobs.theory_cli import add_theory_parser


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tune-jobs")
    add_theory_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


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
    assert _run(["theory", "backprop", "--seed", "-1"]) == 2
    assert "error" in capsys.readouterr().err


def test_argparse_rejects_missing_or_unknown_choices() -> None:
    for argv in (["theory"], ["theory", "backprop", "--cost", "hinge"]):
        with pytest.raises(SystemExit) as exc:
            _run(argv)
        assert exc.value.code == 2
