"""Hyperparameter configs: one frozen-dataclass base that parses, coerces and validates them.

A config class declares each field once, with its default and its constraint:

    lr: float = setting(0.05, POSITIVE_FINITE)

`from_dict` (a Tune config), `coerce` (one `--set KEY=VALUE`) and `__post_init__` all read that
one declaration, so a rule and its message cannot drift apart between trainables.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import typing
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, TypeVar

CONSTRAINT = "constraint"  # the dataclass field-metadata key `setting` stores a Constraint under
TRUTHY, FALSY = ("true", "1", "yes"), ("false", "0", "no")

Config = TypeVar("Config", bound="HyperparameterConfig")


class ConfigError(ValueError):
    """A hyperparameter value outside its domain, or an unknown hyperparameter."""


@dataclass(frozen=True)
class Constraint:
    """What a hyperparameter's value must be: the message, and the check (None: its type only)."""

    text: str
    holds: Callable[[Any], bool] | None = None


def setting(default: Any, constraint: Constraint | None = None) -> Any:
    """A config field: its default and its constraint, declared together."""
    metadata = {} if constraint is None else {CONSTRAINT: constraint}
    return dataclasses.field(default=default, metadata=metadata)


# Constraints that several configs share, and builders for the ones with a parameter.
POSITIVE_FINITE = Constraint(
    "must be a positive finite number", lambda v: v > 0 and math.isfinite(v)
)
FRACTION = Constraint("must be in [0, 1)", lambda v: 0 <= v < 1)
NON_NEGATIVE = Constraint("must be >= 0", lambda v: v >= 0)
BOOLEAN = Constraint("must be true or false")


def integer_at_least(low: int, note: str = "") -> Constraint:
    """An integer >= `low`; `note` says what the bound means."""
    text = f"must be an integer >= {low}" + (f" {note}" if note else "")
    return Constraint(text, lambda v: v >= low)


def integer_between(low: int, high: int, note: str = "") -> Constraint:
    """An integer from `low` to `high`, both included; `note` says what the bounds mean."""
    text = f"must be an integer from {low} to {high}" + (f" {note}" if note else "")
    return Constraint(text, lambda v: low <= v <= high)


# Sizes are bounded so that a typo (width=1e12) is refused before a trial allocates it.
MAX_SEED = 2**32 - 1  # numpy's and the searchers' seeds are 32-bit
SEED = integer_between(0, MAX_SEED)
MAX_BATCH_SIZE = 65_536
BATCH_SIZE = integer_between(1, MAX_BATCH_SIZE)


def one_of(choices: Collection[str]) -> Constraint:
    """One of `choices`: membership is tested on the live collection (a registry may grow)."""
    return Constraint(f"must be one of {', '.join(choices)}", lambda v: v in choices)


@dataclass(frozen=True)
class HyperparameterConfig:
    """Base of the trainables' configs: every field checks itself against its `setting`."""

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            constraint = field.metadata.get(CONSTRAINT)
            value = getattr(self, field.name)
            if constraint is not None and constraint.holds and not constraint.holds(value):
                raise ConfigError(f"{field.name}={value!r} is invalid: {constraint.text}")

    @classmethod
    def field_types(cls) -> dict[str, type]:
        """Each hyperparameter's name and type, in declaration order."""
        return dict(_field_types(cls))

    @classmethod
    def constraint_text(cls, name: str) -> str:
        """The constraint of hyperparameter `name`, as error messages state it ('' if none)."""
        field = next(f for f in dataclasses.fields(cls) if f.name == name)
        constraint = field.metadata.get(CONSTRAINT)
        return "" if constraint is None else constraint.text

    @classmethod
    def from_dict(cls: type[Config], values: dict[str, Any]) -> Config:
        """Build from a Tune config, refusing unknown names and values of the wrong type."""
        known = cls.field_types()
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(
                f"unknown hyperparameter(s) {', '.join(unknown)}; known: {', '.join(known)}"
            )
        return cls(**{name: cls.coerce(name, value) for name, value in values.items()})

    @classmethod
    def coerce(cls, name: str, value: Any) -> Any:
        """`value` as the type of hyperparameter `name`; text such as "0.1" or "true" is parsed."""
        known = cls.field_types()
        if name not in known:
            raise ConfigError(f"unknown hyperparameter {name!r}; known: {', '.join(known)}")
        kind = known[name]
        try:
            return as_type(kind, value)
        except (TypeError, ValueError):
            raise ConfigError(
                f"{name}={value!r} is not a valid {kind.__name__}: {cls.constraint_text(name)}"
            ) from None


@functools.cache
def _field_types(cls: type[HyperparameterConfig]) -> dict[str, type]:
    hints = typing.get_type_hints(cls)  # resolves the annotations `from __future__` left as text
    return {field.name: hints[field.name] for field in dataclasses.fields(cls)}


def as_type(kind: type, value: Any) -> Any:
    """`value` as `kind`: booleans from their usual words, integers only from whole numbers."""
    if kind is bool:
        if isinstance(value, str):
            if value.lower() not in TRUTHY + FALSY:
                raise ValueError(value)
            return value.lower() in TRUTHY
        return bool(value)
    if kind is int:
        number = float(value)
        if number != int(number):
            raise ValueError(value)
        return int(number)
    return kind(value)
