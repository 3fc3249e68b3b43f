"""The fault-injection hook: inert unless its variable is set, and crashing only a fresh attempt.

The end-to-end checks (a crash retried from its checkpoint on a real cluster, max failures
exhausted) are in test_resume.py, which shares a cluster with the resume test.
"""

from __future__ import annotations

import errno
import pickle

import pytest

from trainables.reporting import (
    CRASH_AT_EPOCH_ENV,
    EPOCH_DELAY_ENV,
    STORAGE_FULL,
    InjectedFault,
    StorageFullError,
    fault_env,
    inject_faults,
)
from tune_jobs.cluster.address import driver_runtime_env


def test_hook_is_inert_without_its_variables(monkeypatch):
    monkeypatch.delenv(CRASH_AT_EPOCH_ENV, raising=False)
    monkeypatch.delenv(EPOCH_DELAY_ENV, raising=False)
    for epoch in range(1, 5):
        inject_faults(epoch, restored=False)
    assert fault_env() == {} and driver_runtime_env("127.0.0.1:6379") is None


def test_crash_at_epoch_hits_only_that_epoch_of_a_fresh_attempt(monkeypatch):
    monkeypatch.setenv(CRASH_AT_EPOCH_ENV, "2")
    inject_faults(1, restored=False)
    inject_faults(3, restored=False)
    inject_faults(2, restored=True)  # a retry restored from a checkpoint runs on
    with pytest.raises(InjectedFault, match="epoch 2"):
        inject_faults(2, restored=False)


def test_fault_variables_travel_to_a_cluster_but_not_to_a_local_ray(monkeypatch):
    monkeypatch.setenv(CRASH_AT_EPOCH_ENV, "3")
    monkeypatch.setenv(EPOCH_DELAY_ENV, "0.5")
    expected = {CRASH_AT_EPOCH_ENV: "3", EPOCH_DELAY_ENV: "0.5"}
    assert fault_env() == expected
    assert driver_runtime_env("127.0.0.1:6379") == {"env_vars": expected}
    assert driver_runtime_env(None) is None  # a local Ray's workers inherit the driver's env


def test_storage_full_error_survives_the_trip_to_the_driver():
    # Ray rebuilds a worker's exception from its args: a custom signature broke that once.
    error = StorageFullError.of("/results/run", 512 << 10, 3 << 20)
    again = pickle.loads(pickle.dumps(error))
    assert again.errno == errno.ENOSPC and str(again) == str(error)
    assert STORAGE_FULL in str(again) and "/results/run has 0.5 MiB free" in str(again)
