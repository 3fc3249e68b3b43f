"""A real two-node Ray cluster on 127.0.0.1: `cluster up/down`, `submit`, `jobs`, the dashboard,
token auth, and the refusals (unreachable address, local storage on several nodes).

The cluster is driven through the `tune-jobs` CLI in subprocesses (this process may hold its own
in-process Ray), shared by the module, and stopped by process id at the end.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tune_jobs.cluster.local import cluster_down, read_state

CLI = [sys.executable, "-m", "tune_jobs.cli"]
ROOT = Path(__file__).resolve().parents[2]


def cluster_env(folder: Path) -> dict[str, str]:
    """This test's own token and state file: nothing of the user's ~/.ray is read or written."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "TUNE_JOBS_"))}
    env.update(
        RAY_AUTH_MODE="token",
        RAY_AUTH_TOKEN_PATH=str(folder / "auth_token"),
        TUNE_JOBS_CLUSTER_STATE=str(folder / "cluster.json"),
    )
    return env


def tune_jobs(*args: str, env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listen_addresses(port: int) -> set[str]:
    """Local IPv4 addresses listening on `port` (from /proc/net/tcp: state 0A is LISTEN)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """`tune-jobs cluster up --workers 1`: a head and a worker node, one CPU each."""
    folder = tmp_path_factory.mktemp("cluster")
    env = cluster_env(folder)
    up = tune_jobs("cluster", "up", "--num-cpus", "1", "--workers", "1", env=env)
    state = read_state(folder / "cluster.json")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield env, state, up.stdout
    finally:
        down = tune_jobs("cluster", "down", env=env)
        if state is not None:
            deadline = time.monotonic() + 30
            while any(alive(n["pid"]) for n in state.nodes) and time.monotonic() < deadline:
                time.sleep(0.5)
            leftover = [n["pid"] for n in state.nodes if alive(n["pid"])]
            cluster_down(folder / "cluster.json")  # belt and braces: by pid, from the file
            assert down.returncode == 0 and not leftover, down.stdout + down.stderr


@pytest.mark.slow
def test_cluster_up_binds_loopback_with_a_token_and_prints_the_dashboard(cluster):
    env, state, out = cluster
    assert len(state.nodes) == 2 and all(alive(node["pid"]) for node in state.nodes)
    assert state.dashboard_url.startswith("http://127.0.0.1:") and state.dashboard_url in out
    dashboard_port = int(state.dashboard_url.rsplit(":", 1)[1])
    assert listen_addresses(dashboard_port) == {"127.0.0.1"}
    assert state.gcs_address.startswith("127.0.0.1:")
    token = Path(env["RAY_AUTH_TOKEN_PATH"])
    assert state.token == str(token) and len(token.read_text().strip()) >= 32
    # A second `up` on the same state file refuses rather than start a second cluster.
    again = tune_jobs("cluster", "up", env=env)
    assert again.returncode == 2 and "already up" in again.stderr


def _get(url: str, token: str | None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.mark.slow
def test_submitted_smoke_job_succeeds_on_both_nodes_and_the_dashboard_lists_it(
    cluster, mnist_dir, tmp_path
):
    from analysis.results import curves_frame, load_experiment

    env, state, _ = cluster
    storage = f"file://{tmp_path}"  # both nodes see this machine's disk: say so explicitly
    submit = tune_jobs(
        "submit", "mnist-l2", "--method", "random", "--samples", "2", "--max-epochs", "1",
        "--train-subset", "128", "--data-dir", str(mnist_dir), "--storage", storage,
        "--name", "submitted", "--address", state.dashboard_url, "--wait",
        env=env,
    )  # fmt: skip
    assert submit.returncode == 0, submit.stdout[-3000:] + submit.stderr[-3000:]
    job_id = re.search(r"Submitted (\S+):", submit.stdout).group(1)
    assert f"Job {job_id}: SUCCEEDED" in submit.stdout

    curves = curves_frame(load_experiment(tmp_path / "submitted"))
    assert curves["trial_id"].nunique() == 2 and set(curves["epoch"]) == {1}
    assert curves["node_id"].nunique() == 2  # one trial on each node

    token = Path(env["RAY_AUTH_TOKEN_PATH"]).read_text().strip()
    status, body = _get(f"{state.dashboard_url}/api/jobs/", token)
    assert status == 200 and job_id in body
    assert _get(f"{state.dashboard_url}/api/jobs/", None)[0] == 401
    assert _get(f"{state.dashboard_url}/api/jobs/", "0" * 64)[0] == 403

    listed = tune_jobs("jobs", "list", env=env)  # the address comes from the state file
    assert listed.returncode == 0 and re.search(rf"{job_id}\s+SUCCEEDED", listed.stdout)
    shown = tune_jobs("jobs", "status", job_id, env=env)
    assert shown.returncode == 0 and "SUCCEEDED" in shown.stdout
    assert "submitted" in shown.stdout  # metadata names the experiment folder
    logs = tune_jobs("jobs", "logs", job_id, env=env)
    assert logs.returncode == 0 and "Best trial" in logs.stdout
    missing = tune_jobs("jobs", "status", "raysubmit_nosuchjob", env=env)
    assert missing.returncode == 2 and "no job" in missing.stderr


@pytest.mark.slow
def test_jobs_refuse_a_client_without_the_token(cluster):
    env, state, _ = cluster
    stranger = {**env, "RAY_AUTH_TOKEN": "f" * 64}  # a wrong token takes precedence
    result = tune_jobs("jobs", "list", "--address", state.dashboard_url, env=stranger)
    assert result.returncode == 2 and "403" in result.stderr


@pytest.mark.slow
def test_plain_local_storage_is_refused_on_two_nodes_and_nothing_is_written(
    cluster, mnist_dir, tmp_path
):
    env, state, _ = cluster
    results = tmp_path / "results"
    common = ["mnist-l2", "--smoke-test", "--data-dir", str(mnist_dir), "--storage", str(results)]
    submit = tune_jobs("submit", *common, "--address", state.dashboard_url, env=env)
    run = tune_jobs("run", *common, "--address", state.gcs_address, env=env)
    for result in (submit, run):
        assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
        assert "plain local path, but the cluster has 2 nodes" in result.stderr
        assert "file:///" in result.stderr and "s3://" in result.stderr
    assert not results.exists()


@pytest.mark.parametrize("command", ["run", "submit", "jobs"])
def test_unreachable_address_fails_in_seconds_and_writes_nothing(command, tmp_path):
    env = cluster_env(tmp_path)
    port = free_port()  # nothing listens there
    args = {
        "run": ["run", "mnist-l2", "--smoke-test", "--address", f"127.0.0.1:{port}"],
        "submit": ["submit", "mnist-l2", "--smoke-test", "--address", f"http://127.0.0.1:{port}"],
        "jobs": ["jobs", "list", "--address", f"http://127.0.0.1:{port}"],
    }[command]
    storage = ["--storage", str(tmp_path / "results")] if command != "jobs" else []
    started = time.monotonic()
    result = tune_jobs(*args, *storage, env=env, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "cannot reach a Ray cluster at" in result.stderr and str(port) in result.stderr
    assert time.monotonic() - started < 45  # python + torch + ray imports take most of it
    assert not (tmp_path / "results").exists()


def test_submit_forwards_every_run_option():
    from dataclasses import fields

    from tune_jobs.cli.service import RUN_FLAGS, run_argv
    from tune_jobs.options import RunOptions

    pairs = {"overrides", "ranges", "choices", "method_options"}
    handled = set(RUN_FLAGS) | pairs | {"job", "smoke_test", "address"}
    assert {f.name for f in fields(RunOptions)} <= handled
    options = RunOptions(
        "mnist-l2", overrides={"lr": "0.1"}, samples=3, smoke_test=True,
        ranges={"dropout": "0.1:0.5"}, choices={"width": "32,64"},
        method_options={"startup_trials": "3"}, metric="val_loss", track="mlflow",
    )  # fmt: skip
    argv = run_argv(options)
    assert argv[:2] == ["run", "mnist-l2"] and ["--samples", "3"] == argv[4:6]
    assert "--set" in argv and "lr=0.1" in argv and argv[-1] == "--smoke-test"
    for flag, value in (
        ("--range", "dropout=0.1:0.5"), ("--choice", "width=32,64"),
        ("--method-opt", "startup_trials=3"), ("--metric", "val_loss"), ("--track", "mlflow"),
    ):  # fmt: skip
        assert argv[argv.index(flag) + 1] == value
    assert "--address" not in argv


@pytest.mark.slow
def test_cluster_state_is_json_with_the_pids(cluster):
    env, state, _ = cluster
    recorded = json.loads(Path(env["TUNE_JOBS_CLUSTER_STATE"]).read_text())
    assert [node["pid"] for node in recorded["nodes"]] == [node["pid"] for node in state.nodes]


@pytest.mark.slow
def test_submitted_own_job_file_travels_with_the_job(cluster, tmp_path):
    """A job file outside the project (which `working_dir` uploads) reaches both nodes."""
    env, state, _ = cluster
    job_file = tmp_path / "code" / "digits_mlp.py"
    job_file.parent.mkdir()
    job_file.write_text((ROOT / "examples" / "digits_mlp.py").read_text())
    submit = tune_jobs(
        "submit", f"{job_file}:digits", "--method", "random", "--samples", "2", "--max-epochs",
        "1", "--storage", f"file://{tmp_path}", "--name", "own", "--address",
        state.dashboard_url, "--wait",
        env=env,
    )  # fmt: skip
    assert submit.returncode == 0, submit.stdout[-3000:] + submit.stderr[-3000:]
    # Imported on the cluster from the package it travelled in.
    assert "run tune_jobs_user_code.digits_mlp:digits" in submit.stdout
    record = json.loads((tmp_path / "own" / "tune_jobs_run.json").read_text())
    assert record["job"] == "tune_jobs_user_code.digits_mlp:digits"
    assert len(list((tmp_path / "own").glob("*/result.json"))) == 2
