"""The hyperparameter-config base: one declaration per field drives parsing, coercion, checks."""

from __future__ import annotations

import dataclasses
import re

import pytest

from trainables import cifar10
from trainables.cifar10 import CifarConfig
from trainables.config import (
    CONSTRAINT,
    FRACTION,
    POSITIVE_FINITE,
    ConfigError,
    Constraint,
    HyperparameterConfig,
    integer_at_least,
    setting,
)
from trainables.mnist import MnistConfig

# Values every config of the class needs besides the one under test (offline: no weights file).
BASES = {MnistConfig: {}, CifarConfig: {"weights": "none"}}
EVEN = Constraint("must be even", lambda v: v % 2 == 0)


@dataclasses.dataclass(frozen=True)
class Toy(HyperparameterConfig):
    """A config declared only here: what the base does for any trainable's config."""

    steps: int = setting(2, EVEN)
    rate: float = setting(0.5, FRACTION)
    label: str = setting("a", Constraint("must be a name"))  # a text, no check
    verbose: bool = False
    seed: int = 0


def constraint_of(cls: type[HyperparameterConfig], name: str) -> Constraint | None:
    field = next(f for f in dataclasses.fields(cls) if f.name == name)
    return field.metadata.get(CONSTRAINT)


def test_shared_hyperparameters_use_one_declared_constraint_in_both_configs():
    for name in ("lr", "batch_size", "optimizer", "momentum", "weight_decay", "epochs"):
        mnist, cifar = constraint_of(MnistConfig, name), constraint_of(CifarConfig, name)
        assert mnist is not None and mnist.text == cifar.text, name
    assert constraint_of(MnistConfig, "lr") is constraint_of(CifarConfig, "lr") is POSITIVE_FINITE
    assert constraint_of(MnistConfig, "momentum") is constraint_of(CifarConfig, "momentum")


@pytest.mark.parametrize("cls", list(BASES))
@pytest.mark.parametrize(
    ("name", "bad", "good"),
    [("lr", -0.5, 0.5), ("batch_size", 0, 8), ("momentum", 1.0, 0.5), ("epochs", 0, 2)],
)
def test_a_declared_constraint_is_enforced_by_construction_from_dict_and_coerce(
    cls, name, bad, good
):
    text = cls.constraint_text(name)
    message = re.escape(f"{name}={bad!r} is invalid: {text}")
    with pytest.raises(ConfigError, match=f"^{message}$"):
        cls(**{**BASES[cls], name: bad})
    with pytest.raises(ConfigError, match=f"^{message}$"):
        cls.from_dict({**BASES[cls], name: str(bad)})  # parsed first, then checked
    assert getattr(cls.from_dict({**BASES[cls], name: str(good)}), name) == good
    # A value of the wrong type names the same constraint.
    with pytest.raises(
        ConfigError, match=re.escape(f"{name}='x' is not a valid") + ".*" + re.escape(text)
    ):
        cls.coerce(name, "x")


def test_cifar_validate_enforces_the_declared_constraints_too():
    with pytest.raises(ConfigError, match=re.escape("lr=-1.0 is invalid: must be a positive")):
        cifar10.validate({"weights": "none", "lr": "-1"})


def test_a_new_config_gets_checks_parsing_and_messages_from_its_declarations():
    assert Toy.from_dict({"steps": "4", "rate": "0.25"}) == Toy(steps=4, rate=0.25)
    with pytest.raises(ConfigError, match=r"^steps=3 is invalid: must be even$"):
        Toy.from_dict({"steps": 3})
    with pytest.raises(ConfigError, match=re.escape("rate=1.0 is invalid: must be in [0, 1)")):
        Toy(rate=1.0)
    assert Toy(label="anything").label == "anything"  # a text-only constraint checks nothing
    with pytest.raises(ConfigError, match=r"^steps=2\.5 is not a valid int: must be even$"):
        Toy.coerce("steps", 2.5)
    # Without a declared constraint the message ends after the type.
    with pytest.raises(ConfigError, match=r"^seed='x' is not a valid int: $"):
        Toy.coerce("seed", "x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        Toy().steps = 6  # type: ignore[misc]


@pytest.mark.parametrize("cls", [Toy, *BASES])
def test_unknown_hyperparameters_are_refused_naming_them_and_the_known_ones(cls):
    known = ", ".join(f.name for f in dataclasses.fields(cls))
    message = f"unknown hyperparameter(s) colour, zeta; known: {known}"
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        cls.from_dict({"zeta": 1, "colour": "red", "seed": 1})
    message = f"unknown hyperparameter 'colour'; known: {known}"
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        cls.coerce("colour", "red")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("TRUE", True), ("yes", True), ("1", True),
     ("false", False), ("No", False), ("0", False), (1, True), (0, False)],
)  # fmt: skip
def test_booleans_are_parsed_from_their_usual_words(text, expected):
    assert Toy.coerce("verbose", text) is expected
    assert MnistConfig.coerce("batchnorm", text) is expected


def test_coercion_parses_numbers_and_refuses_fractional_integers_and_unknown_words():
    assert Toy.coerce("steps", "6.0") == 6 and isinstance(Toy.coerce("steps", 6.0), int)
    assert Toy.coerce("rate", "1e-3") == 0.001 and Toy.coerce("rate", 1) == 1.0
    assert Toy.coerce("label", 7) == "7"
    with pytest.raises(ConfigError, match="verbose='maybe' is not a valid bool"):
        Toy.coerce("verbose", "maybe")
    with pytest.raises(ConfigError, match=r"batch_size=3\.5 is not a valid int: must be an int"):
        MnistConfig.coerce("batch_size", 3.5)
    with pytest.raises(ConfigError, match="patience='two' is not a valid int"):
        CifarConfig.coerce("patience", "two")


def test_integer_bounds_state_their_note():
    assert integer_at_least(32, "(pixels)").text == "must be an integer >= 32 (pixels)"
    resolution = CifarConfig.constraint_text("resolution")
    assert resolution == "must be an integer from 32 to 1024 (pixels)"
    assert MnistConfig.constraint_text("batchnorm") == ""
