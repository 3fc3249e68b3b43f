"""A local Ray cluster: `cluster up` starts `ray start` nodes on this machine, `cluster down`
stops exactly those. The only thing of our own is a state file listing the processes `up`
started, so that `down` stops those and nothing else.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tune_jobs.cluster.auth import AUTH_MODE_ENV, ensure_token
from tune_jobs.cluster.nodes import alive_nodes
from tune_jobs.errors import ClusterError

LOOPBACK = "127.0.0.1"
DEFAULT_DASHBOARD_PORT = 8265
STATE_ENV = "TUNE_JOBS_CLUSTER_STATE"
DEFAULT_STATE_FILE = "~/.cache/tune-jobs/local-cluster.json"
NODE_START_TIMEOUT_S = 120.0


@dataclass
class LocalCluster:
    """What `cluster up` started: enough for users to connect and for `down` to stop it."""

    gcs_address: str
    dashboard_url: str
    temp_dir: str
    token: str | None
    nodes: list[dict] = field(default_factory=list)  # {"role", "pid", "log", "num_cpus"}


def state_file(path: str | os.PathLike | None = None) -> Path:
    return Path(path or os.environ.get(STATE_ENV) or DEFAULT_STATE_FILE).expanduser()


def read_state(path: Path) -> LocalCluster | None:
    if not path.exists():
        return None
    return LocalCluster(**json.loads(path.read_text()))


def _write_state(path: Path, cluster: LocalCluster) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(cluster), indent=2))


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _ray_executable() -> str:
    beside = Path(sys.executable).with_name("ray")
    return str(beside) if beside.exists() else shutil.which("ray") or "ray"


def _is_ours(pid: int) -> bool:
    """Whether `pid` is still a `ray start` process (pids are reused once a process ends)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"start" in command and any(part.endswith(b"ray") for part in command)


def _wait_started(process: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace") if log.exists() else ""
        if "Ray runtime started" in text:
            return
        if process.poll() is not None:
            raise ClusterError(f"`ray start` exited with {process.returncode}:\n{text[-2000:]}")
        time.sleep(0.5)
    raise ClusterError(f"`ray start` did not start within {timeout:.0f}s; see {log}")


def cluster_up(
    num_cpus: int | None = None,
    workers: int = 0,
    host: str = LOOPBACK,
    port: int | None = None,
    dashboard_port: int | None = None,
    path: str | os.PathLike | None = None,
    timeout: float = NODE_START_TIMEOUT_S,
) -> LocalCluster:
    """Start a head node and `workers` worker nodes on this machine, all bound to `host`.

    Each node is a `ray start --block` in its own process group, so that `cluster_down` stops
    exactly these processes and their children by process id.
    """
    if workers < 0 or (num_cpus is not None and num_cpus < 1):
        raise ClusterError("--workers must be >= 0 and --num-cpus >= 1")
    where = state_file(path)
    running = read_state(where)
    if running and any(_is_ours(node["pid"]) for node in running.nodes):
        raise ClusterError(
            f"a local cluster is already up ({running.dashboard_url}, state in {where}); "
            "run `tune-jobs cluster down` first"
        )
    num_cpus = num_cpus or max(1, (os.cpu_count() or 1) // (workers + 1))
    token = ensure_token()
    env = dict(os.environ)
    # Job entrypoints run `python`: make it this environment's, where tune_jobs is installed.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    if token is not None:
        env[AUTH_MODE_ENV] = "token"
    # Short: Ray puts unix sockets under it, and their paths may not exceed 107 bytes.
    temp_dir = tempfile.mkdtemp(prefix="tj-ray-", dir="/tmp")
    port = port or _free_port(host)
    dashboard_port = dashboard_port or _free_port(host)
    cluster = LocalCluster(
        gcs_address=f"{host}:{port}",
        dashboard_url=f"http://{host}:{dashboard_port}",
        temp_dir=temp_dir,
        token=token,
    )
    head = [
        "--head",
        f"--port={port}",
        f"--dashboard-host={host}",
        f"--dashboard-port={dashboard_port}",
        f"--ray-client-server-port={_free_port(host)}",
    ]
    try:
        for index in range(workers + 1):
            role = "head" if index == 0 else f"worker-{index}"
            flags = head if index == 0 else [f"--address={cluster.gcs_address}"]
            _start_node(cluster, role, flags, host, num_cpus, env, where, timeout)
        _wait_nodes(cluster, workers + 1, timeout)
    except BaseException:
        cluster_down(where)
        raise
    return cluster


def _start_node(
    cluster: LocalCluster,
    role: str,
    flags: list[str],
    host: str,
    num_cpus: int,
    env: dict[str, str],
    where: Path,
    timeout: float,
) -> None:
    # Every node on one machine needs its own agent and metrics ports.
    ports = [
        f"--{name}={_free_port(host)}"
        for name in (
            "dashboard-agent-listen-port",
            "dashboard-agent-grpc-port",
            "runtime-env-agent-port",
            "metrics-export-port",
        )
    ]
    # A temp dir per node: nodes sharing one would also share the runtime_env folders, and a
    # worker node unpacking a job's working_dir would delete it under the running driver.
    node_dir = Path(cluster.temp_dir) / role
    node_dir.mkdir()
    log = node_dir / "ray-start.log"
    command = [
        _ray_executable(),
        "start",
        "--block",
        *flags,
        f"--node-ip-address={host}",
        f"--num-cpus={num_cpus}",
        f"--temp-dir={node_dir}",
        "--disable-usage-stats",
        *ports,
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    cluster.nodes.append({"role": role, "pid": process.pid, "log": str(log), "num_cpus": num_cpus})
    _write_state(where, cluster)  # at once: a half-started cluster can still be stopped
    _wait_started(process, log, timeout)


def _wait_nodes(cluster: LocalCluster, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline:
        try:
            seen = alive_nodes(cluster.dashboard_url)
        except Exception:  # the dashboard answers a few seconds after the head starts
            seen = 0
        if seen >= count:
            return
        time.sleep(1.0)
    raise ClusterError(f"only {seen} of {count} nodes joined within {timeout:.0f}s")


def cluster_down(path: str | os.PathLike | None = None, timeout: float = 30.0) -> list[int]:
    """Stop the processes `cluster up` started (by process id) and remove its temp dir."""
    where = state_file(path)
    cluster = read_state(where)
    if cluster is None:
        return []
    stopped = []
    for node in reversed(cluster.nodes):  # workers before the head
        pid = node["pid"]
        if _is_ours(pid):
            os.kill(pid, signal.SIGTERM)  # `ray start --block` then stops its node's processes
            stopped.append(pid)
    deadline = time.monotonic() + timeout
    for node in cluster.nodes:
        while _is_ours(node["pid"]) and time.monotonic() < deadline:
            time.sleep(0.2)
        _kill_group(node["pid"])
    shutil.rmtree(cluster.temp_dir, ignore_errors=True)
    where.unlink(missing_ok=True)
    return stopped


def _group_members(pgid: int) -> list[int]:
    """Live processes of process group `pgid` (/proc/PID/stat: field 3 state, field 5 group)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()  # after "(comm)", which may hold spaces
        if int(fields[2]) == pgid and fields[0] != "Z":  # a zombie holds nothing any more
            members.append(int(entry.name))
    return members


def _kill_group(pgid: int) -> None:
    """SIGKILL what is left of a node's process group: a session of its own, only its processes."""
    for pid in _group_members(pgid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 5.0  # gone before their temp dir is removed under them
    while _group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
