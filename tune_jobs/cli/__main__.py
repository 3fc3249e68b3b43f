"""`python -m tune_jobs.cli`: the `tune-jobs` command (Ray Jobs run it this way)."""

import sys

from tune_jobs.cli import main

sys.exit(main())
