"""A named pass/fail statement that every theory check reports."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    """One claim and whether the measurement supports it.

    Args:
        name: the claim, phrased so that `passed` means it holds.
        value: the measured number the verdict rests on.
        passed: whether the claim holds.
    """

    name: str
    value: float
    passed: bool


def all_passed(checks: list[Check]) -> bool:
    """True when every check holds (and there is at least one)."""
    return bool(checks) and all(check.passed for check in checks)
