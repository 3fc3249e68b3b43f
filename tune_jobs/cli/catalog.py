"""`tune-jobs list` and `tune-jobs methods`: the registered jobs and HPO methods."""

from __future__ import annotations

import argparse

from search_spaces.methods import METHODS
from tune_jobs.errors import EXIT_OK, BadInputError
from tune_jobs.jobs import JOBS
from tune_jobs.user_jobs import entry_point_jobs


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(func={"list": cmd_list, "methods": cmd_methods}[name])


def cmd_list(args: argparse.Namespace) -> int:
    print("Jobs (run one by name, or your own as path/to/file.py:NAME or package.module:NAME):")
    for job in JOBS.values():
        print(f"  {job.name:<18} {job.description}  [built-in]")
    for point in entry_point_jobs():
        origin = f"entry point of {point.distribution}: {point.value}"
        if point.name in JOBS:
            origin += "; hidden by the built-in job of that name"
        try:
            description = point.load().description
        except BadInputError as error:  # one broken distribution must not hide the others
            description = f"(cannot load: {error})"
        print(f"  {point.name:<18} {description}  [{origin}]")
    print("Methods:")
    for method in METHODS.values():
        print(f"  {method.name:<18} {method.summary}")
    return EXIT_OK


def cmd_methods(args: argparse.Namespace) -> int:
    rows = [
        (
            m.name,
            m.family,
            "yes" if m.seeded else "no",
            ", ".join(f"{k.name}={k.default}" for k in m.knobs) or "-",
        )
        for m in METHODS.values()
    ]
    header = ("method", "family", "seeded", "knobs (--method-opt NAME=VALUE)")
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(3)]
    for row in (header, *rows):
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
            + "  "
            + row[3]
        )
    for method in METHODS.values():
        print(f"\n{method.name}: {method.summary}\n  + {method.pros}\n  - {method.cons}")
        for knob in method.knobs:
            print(f"  --method-opt {knob.describe()}")
        for name, source in method.notes.items():
            print(f"  {name}: {source}")
    return EXIT_OK
