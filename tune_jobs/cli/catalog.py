"""`tune-jobs list` and `tune-jobs methods`: the registered jobs and HPO methods."""

from __future__ import annotations

import argparse

from search_spaces.methods import METHODS
from tune_jobs.errors import EXIT_OK
from tune_jobs.jobs import JOBS


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(func={"list": cmd_list, "methods": cmd_methods}[name])


def cmd_list(args: argparse.Namespace) -> int:
    print("Jobs:")
    for job in JOBS.values():
        print(f"  {job.name:<18} {job.description}")
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
