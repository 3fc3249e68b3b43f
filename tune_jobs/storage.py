"""Experiment folders given as a local path or a storage URI, read and written one way.

Ray Tune writes experiments through pyarrow filesystems (`s3://`, `gs://`, `file://`, local
paths); the files tune-jobs keeps beside Ray's (the run file, a comparison's manifest) go through
the same filesystem, so a local path and a URI take one path through the code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyarrow import fs

from analysis.experiment import filesystem_and_path
from tune_jobs.errors import BadInputError

NAME_RULE = "a single folder name: no '/' or '\\', not empty, '.' or '..', no control characters"


def is_uri(location: str) -> bool:
    return "://" in location


def absolute_uri(location: str) -> str:
    """A local path made absolute (a job on a cluster runs in its own folder); a URI as it is."""
    return location if is_uri(location) else str(Path(location).expanduser().resolve())


def check_name(name: str, option: str = "--name") -> str:
    """Refuse a name that is not one folder under the results root (it could write elsewhere)."""
    bad = (
        name in ("", ".", "..")
        or any(sep in name for sep in ("/", "\\"))
        or any(ord(char) < 32 or ord(char) == 127 for char in name)
    )
    if bad:
        raise BadInputError(f"{option} {name!r} must be {NAME_RULE}")
    return name


def check_storage_root(location: str) -> None:
    """Refuse a results root that is a file or lies below one: nothing could be written there."""
    if is_uri(location) and not location.startswith("file://"):
        filesystem, root = filesystem_and_path(location)
        if filesystem.get_file_info(root).type == fs.FileType.File:
            raise BadInputError(f"--storage {location}: {location} is a file, not a folder")
        return
    path = Path(location.removeprefix("file://")).expanduser().absolute()
    for candidate in (path, *path.parents):  # the nearest existing one decides
        if candidate.exists() or candidate.is_symlink():
            if not candidate.is_dir():
                raise BadInputError(
                    f"--storage {location}: {candidate} is a file, not a folder, so no results "
                    "can be written there"
                )
            return


@dataclass(frozen=True)
class Folder:
    """One folder under a results root; `location` is an absolute local path or a URI."""

    location: str

    @classmethod
    def at(cls, location: str) -> Folder:
        return cls(absolute_uri(str(location)))

    def __str__(self) -> str:
        return self.location

    def child(self, name: str) -> Folder:
        return Folder(f"{self.location.rstrip('/')}/{name}")

    def exists(self) -> bool:
        filesystem, root = filesystem_and_path(self.location)
        return filesystem.get_file_info(root).type != fs.FileType.NotFound

    def read_json(self, name: str) -> dict[str, Any]:
        """The JSON file `name` in this folder (FileNotFoundError/OSError/JSONDecodeError)."""
        filesystem, root = filesystem_and_path(self.location)
        with filesystem.open_input_stream(f"{root}/{name}") as stream:
            return json.loads(stream.readall().decode())

    def write_json(self, name: str, record: dict[str, Any]) -> None:
        """Write `record` as the JSON file `name`, creating this folder if needed."""
        filesystem, root = filesystem_and_path(self.location)
        filesystem.create_dir(root, recursive=True)
        with filesystem.open_output_stream(f"{root}/{name}") as stream:
            stream.write(json.dumps(record, indent=2, default=str).encode())
