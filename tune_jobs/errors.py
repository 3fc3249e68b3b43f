"""The errors a user's mistake raises, and the exit statuses `tune_jobs.cli.main` maps them to.

Every command reports bad input the same way: raise `BadInputError` (or a subclass) before any
expensive work; `main` prints it as one line and exits with `EXIT_BAD_INPUT`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
EXIT_INTERRUPTED = 130  # the shell's status for a command ended by SIGINT (128 + 2)


class BadInputError(ValueError):
    """A user mistake found before any expensive work (CLI exit status 2)."""


class ClusterError(BadInputError):
    """An unreachable cluster, a refused storage, a cluster that would not start (exit 2)."""


@contextmanager
def bad_input(*errors: type[Exception]) -> Iterator[None]:
    """Re-raise the lower layers' own bad-input errors (missing data, a bad image) as ours."""
    try:
        yield
    except errors as error:
        raise BadInputError(str(error)) from None
