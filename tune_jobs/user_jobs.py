"""A user's job, loaded from a reference: `path/to/file.py:NAME`, `package.module:NAME`, or the
name of an entry point in the group `tune_jobs.jobs` of an installed distribution.

The user asked to run exactly this code, so loading a reference imports (a file: executes) it.
A reference that cannot give a `Job` is one BadInputError naming it, before data or Ray.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import re
import shutil
import sys
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from ray import cloudpickle

from tune_jobs.errors import BadInputError
from tune_jobs.job import Job

ENTRY_POINT_GROUP = "tune_jobs.jobs"
SHIPPED_PACKAGE = "tune_jobs_user_code"  # a submitted job file's package on the cluster
_ATTRIBUTE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
_MODULE = _ATTRIBUTE  # dotted identifiers
_NOT_IN_NAME = re.compile(r"\W")
# File references loaded in this process, by (path, modification time): loaded once.
_LOADED_FILES: dict[tuple[str, int], ModuleType] = {}


@dataclass(frozen=True)
class Reference:
    """A parsed `TARGET:NAME`: TARGET is a file path (`is_file`) or a dotted module name."""

    text: str
    target: str
    attribute: str
    is_file: bool


def parse_reference(text: str) -> Reference | None:
    """`text` as a file or module reference, or None when it is a plain name (no `:NAME`)."""
    target, sep, attribute = text.rpartition(":")
    if not sep or not target or not _ATTRIBUTE.fullmatch(attribute):
        return None
    is_file = target.endswith(".py") or "/" in target or "\\" in target
    if not is_file and not _MODULE.fullmatch(target):
        return None
    return Reference(text, target, attribute, is_file)


def is_reference(text: str) -> bool:
    return parse_reference(text) is not None


def reference_name(text: str) -> str:
    """A folder-safe name for a job reference: NAME of `TARGET:NAME`, else the text itself."""
    reference = parse_reference(text)
    return text if reference is None else reference.attribute


def canonical_reference(text: str) -> str:
    """A file reference with its path made absolute (what run files record); others as they are."""
    reference = parse_reference(text)
    if reference is None or not reference.is_file:
        return text
    return f"{Path(reference.target).expanduser().resolve()}:{reference.attribute}"


def load_reference(text: str) -> Job:
    """The `Job` a file or module reference names; BadInputError naming the reference."""
    reference = parse_reference(text)
    if reference is None:
        raise BadInputError(f"job reference {text!r}: expected path/to/file.py:NAME or "
                            "package.module:NAME")  # fmt: skip
    module = _load_file(reference) if reference.is_file else _import_module(reference)
    try:
        found: Any = module
        for part in reference.attribute.split("."):
            found = getattr(found, part)
    except AttributeError:
        jobs = [name for name, value in vars(module).items() if isinstance(value, Job)]
        offered = f"; its jobs: {', '.join(jobs)}" if jobs else "; it defines no Job"
        raise BadInputError(
            f"job reference {text!r}: {reference.target} has no {reference.attribute!r}{offered}"
        ) from None
    return _checked(found, f"job reference {text!r}")


def _load_file(reference: Reference) -> ModuleType:
    """Execute the file under a module name of its own; its functions pickle by value, so
    Ray's workers need not import it (they could not: the name is made up here)."""
    path = Path(reference.target).expanduser().resolve()
    if not path.is_file():
        raise BadInputError(f"job reference {reference.text!r}: no file {path}")
    key = (str(path), path.stat().st_mtime_ns)
    if key in _LOADED_FILES:
        return _LOADED_FILES[key]
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    name = f"tune_jobs_user_{_NOT_IN_NAME.sub('_', path.stem)}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise BadInputError(f"job reference {reference.text!r}: {path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up by name
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as error:
        del sys.modules[name]
        raise BadInputError(f"job reference {reference.text!r}: {_failure(error)}") from None
    cloudpickle.register_pickle_by_value(module)
    _LOADED_FILES[key] = module
    return module


def _import_module(reference: Reference) -> ModuleType:
    try:
        return importlib.import_module(reference.target)
    except ModuleNotFoundError as error:
        if error.name and reference.target.startswith(error.name):  # the module itself
            raise BadInputError(
                f"job reference {reference.text!r}: no module named {error.name!r} "
                "(a file is given by its path: path/to/file.py:NAME)"
            ) from None
        raise BadInputError(f"job reference {reference.text!r}: {_failure(error)}") from None
    except (Exception, SystemExit) as error:
        raise BadInputError(f"job reference {reference.text!r}: {_failure(error)}") from None


def _failure(error: BaseException) -> str:
    """An exception the user's module raised while loading, with the line that raised it."""
    text = f"loading it raised {type(error).__name__}: {error}"
    frames = traceback.extract_tb(error.__traceback__)
    user = [f for f in frames if "importlib" not in f.filename]
    if user and not isinstance(error, SyntaxError):  # a SyntaxError's text names its line
        text += f" (at {user[-1].filename}, line {user[-1].lineno})"
    return text


def _checked(found: Any, named: str) -> Job:
    if not isinstance(found, Job):
        raise BadInputError(
            f"{named}: {type(found).__name__} {found!r:.60} is not a Job (tune_jobs.api.Job)"
        )
    return found


@dataclass(frozen=True)
class EntryPointJob:
    """One entry point of the group `tune_jobs.jobs`: its name, distribution and target."""

    name: str
    distribution: str
    value: str
    entry_point: Any

    def load(self) -> Job:
        named = f"entry point {self.name!r} ({self.value} in {self.distribution})"
        try:
            found = self.entry_point.load()
        except (Exception, SystemExit) as error:
            raise BadInputError(f"{named}: {_failure(error)}") from None
        return _checked(found, named)


def entry_point_jobs() -> list[EntryPointJob]:
    """The jobs installed distributions register in the entry-point group `tune_jobs.jobs`."""
    found = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    return [
        EntryPointJob(point.name, point.dist.name if point.dist else "?", point.value, point)
        for point in found
    ]


def entry_point_job(name: str) -> Job | None:
    """The job of the entry point `name` (loaded), or None when no distribution registers it."""
    for point in entry_point_jobs():
        if point.name == name:
            return point.load()
    return None


@contextmanager
def shipped_reference(text: str) -> Iterator[tuple[str, list[str]]]:
    """The reference a Ray Job on a cluster loads, and the `py_modules` that carry it there,
    while the `with` lasts (submit uploads them inside it).

    A file travels in a package folder of its own, `SHIPPED_PACKAGE` (Ray's Jobs client cannot
    upload a lone `.py` file), and is imported there by its stem:
    `dir/digits_mlp.py:digits` becomes `tune_jobs_user_code.digits_mlp:digits`.
    Other references name code the cluster must already have.
    """
    reference = parse_reference(text)
    if reference is None or not reference.is_file:
        yield text, []
        return
    path = Path(reference.target).expanduser().resolve()
    if not path.is_file() or path.suffix != ".py":
        raise BadInputError(f"job reference {text!r}: no Python file {path} to submit")
    if not path.stem.isidentifier():
        raise BadInputError(
            f"job reference {text!r}: submit imports the file as module {path.stem!r} on the "
            "cluster, which is not a Python name; rename the file"
        )
    with tempfile.TemporaryDirectory() as folder:
        package = Path(folder) / SHIPPED_PACKAGE
        package.mkdir()
        (package / "__init__.py").write_text("")
        shutil.copyfile(path, package / path.name)
        yield f"{SHIPPED_PACKAGE}.{path.stem}:{reference.attribute}", [str(package)]
