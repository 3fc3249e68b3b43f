"""Puts trainables, search spaces and HPO methods together into Ray Tune jobs, and the CLI."""
