"""Ray cluster plumbing: address checks, token auth, shared-storage check, a local cluster.

Everything here drives Ray's own machinery (`ray start`, its token loader, its state API); the only
thing of our own is a state file listing the processes `cluster up` started, so that
`cluster down` stops those and nothing else.
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
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from tune_jobs.runner import BadInputError

ADDRESS_TIMEOUT_S = 5.0  # an unreachable address fails within this
LOOPBACK = "127.0.0.1"
DEFAULT_DASHBOARD_PORT = 8265
STATE_ENV = "TUNE_JOBS_CLUSTER_STATE"
DEFAULT_STATE_FILE = "~/.cache/tune-jobs/local-cluster.json"
# Ray's own token variables (ray/_private/authentication): mode, token value, token file.
AUTH_MODE_ENV, AUTH_TOKEN_ENV, AUTH_TOKEN_PATH_ENV = (
    "RAY_AUTH_MODE",
    "RAY_AUTH_TOKEN",
    "RAY_AUTH_TOKEN_PATH",
)
NODE_START_TIMEOUT_S = 120.0


class ClusterError(BadInputError):
    """An unreachable cluster, a refused storage, a cluster that would not start (exit 2)."""


# --- addresses -------------------------------------------------------------------------------


def split_address(address: str) -> tuple[str, int]:
    """HOST and PORT of `HOST:PORT`, `ray://HOST:PORT` or `http(s)://HOST:PORT`."""
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        if parts.scheme in ("http", "https") and parts.hostname:
            return parts.hostname, 443 if parts.scheme == "https" else 80
        raise ClusterError(
            f"--address {address!r} is not HOST:PORT, ray://HOST:PORT or http://HOST:PORT"
        )
    return parts.hostname, port


def resolve_address(address: str | None) -> str | None:
    """`auto` as the address of the running cluster Ray finds; others unchanged."""
    if address != "auto":
        return address
    from ray._private import services

    try:
        found = services.canonicalize_bootstrap_address("auto")
    except ConnectionError as error:
        raise ClusterError(f"--address auto: no running Ray cluster found ({error})") from None
    if not found:
        raise ClusterError("--address auto: no running Ray cluster found on this machine")
    return found


def check_address(address: str | None, timeout: float = ADDRESS_TIMEOUT_S) -> None:
    """Fail in seconds, with one clear message, if the cluster at `address` does not answer.

    Ray itself retries an unreachable GCS for a minute or more; a TCP connect tells us sooner.
    None means a local Ray started in this process: nothing to check.
    """
    if address is None:
        return
    from ray.exceptions import AuthenticationError

    try:
        _check_address(address, timeout)
    except AuthenticationError as error:  # token auth on, but no token here
        raise ClusterError(f"{address}: {error}") from None


def _check_address(address: str, timeout: float) -> None:
    resolved = resolve_address(address)
    host, port = split_address(resolved)
    try:  # a refused connection fails at once; Ray's own clients would retry for a minute
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as error:
        reason = "timed out" if isinstance(error, TimeoutError) else error.strerror or str(error)
    else:  # a firewall or proxy may accept any connection: ask for a Ray answer too
        if resolved.startswith(("http://", "https://")):
            reason = _dashboard_answers(resolved, timeout)
        elif resolved.startswith("ray://"):
            reason = _grpc_answers(host, port, timeout)
        else:
            reason = _gcs_answers(resolved, timeout)
    if reason:
        raise ClusterError(
            f"cannot reach a Ray cluster at {address} ({host}:{port}: {reason}); is it running? "
            "Start one with `tune-jobs cluster up`, or check --address"
        )


def _gcs_answers(address: str, timeout: float) -> str | None:
    """None if Ray's GCS at `address` answers a key-value read within `timeout`, else why not."""
    outcome: list[BaseException | None] = []

    def ask() -> None:
        from ray._raylet import GcsClient

        try:
            enable_token_auth()
            client = GcsClient(address=address)
            client.internal_kv_get(b"session_name", b"session", timeout=timeout)
            outcome.append(None)
        except Exception as error:  # RpcError, AuthenticationError, ...
            outcome.append(error)

    # A daemon thread: Ray's client may keep retrying, and must not hold up this process's exit.
    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    thread.join(timeout)
    if not outcome:
        return f"no answer from a Ray GCS within {timeout:g}s"
    if outcome[0] is not None:
        return f"not a Ray GCS, or it refused us: {outcome[0]}"
    return None


def _grpc_answers(host: str, port: int, timeout: float) -> str | None:
    """None if a gRPC (HTTP/2) server completes a handshake at host:port, else why not."""
    import grpc

    channel = grpc.insecure_channel(f"{host}:{port}")
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout)
    except grpc.FutureTimeoutError:
        return f"no gRPC answer within {timeout:g}s"
    finally:
        channel.close()
    return None


def _dashboard_answers(url: str, timeout: float) -> str | None:
    """None if a Ray dashboard answers /api/version at `url` (with our token), else why not."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(f"{url.rstrip('/')}/api/version", headers=auth_headers())
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if "ray_version" in json.loads(response.read() or b"{}"):
                return None
            return "it answers HTTP, but not as a Ray dashboard"
    except urllib.error.HTTPError as error:
        if error.code in (401, 403):
            return (
                f"HTTP {error.code}: the cluster wants Ray's auth token; set RAY_AUTH_TOKEN or "
                "RAY_AUTH_TOKEN_PATH, or put it in ~/.ray/auth_token"
            )
        return f"HTTP {error.code}: not a Ray dashboard"
    except (urllib.error.URLError, OSError, ValueError) as error:
        return str(getattr(error, "reason", error))


def dashboard_url(address: str | None) -> str:
    """The Jobs API / dashboard URL: `address`, $RAY_API_SERVER_ADDRESS, or the local cluster's."""
    address = address or os.environ.get("RAY_API_SERVER_ADDRESS")
    if not address:
        state = read_state(state_file())
        address = state.dashboard_url if state else f"http://{LOOPBACK}:{DEFAULT_DASHBOARD_PORT}"
    return address if "://" in address else f"http://{address}"


def driver_runtime_env(address: str | None) -> dict | None:
    """The runtime_env a driver joining a cluster at `address` gives its trials.

    Trials on a cluster inherit the environment of the nodes, not of the driver, so the
    fault-injection variables (trainables.reporting) travel here. A local Ray started by the
    driver, and a Ray Job (whose runtime_env `submit` sets), need nothing.
    """
    from trainables.reporting import fault_env

    env = fault_env()
    return {"env_vars": env} if address is not None and env else None


# --- token authentication ---------------------------------------------------------------------


def enable_token_auth() -> bool:
    """Turn on Ray's token auth for this process when a token is at hand (unless set off).

    Ray 2.60 sends the token only when RAY_AUTH_MODE=token, and sets that itself only for a
    local cluster found automatically; a client given an explicit address must opt in.
    """
    from ray._private.authentication.authentication_token_setup import (
        maybe_enable_token_auth_if_token_available,
    )

    return maybe_enable_token_auth_if_token_available(warn_if_disabled=False)


def ensure_token() -> str | None:
    """Where the cluster's token comes from, creating one if there is none; None if auth is off.

    Ray's own order: $RAY_AUTH_TOKEN, the file $RAY_AUTH_TOKEN_PATH, then ~/.ray/auth_token.
    """
    if os.environ.get(AUTH_MODE_ENV, "token").lower() == "disabled":
        return None
    from ray._private.authentication.authentication_token_generator import (
        generate_new_authentication_token,
    )
    from ray._private.authentication.authentication_token_setup import (
        _get_default_token_path,
        generate_and_save_token,
    )
    from ray._raylet import AuthenticationTokenLoader

    if os.environ.get(AUTH_TOKEN_ENV):
        return f"${AUTH_TOKEN_ENV}"
    loader = AuthenticationTokenLoader.instance()
    custom = os.environ.get(AUTH_TOKEN_PATH_ENV)
    if custom:
        path = Path(custom).expanduser()
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(generate_new_authentication_token())
            loader.reset_cache()
        return str(path)
    if not loader.has_token(ignore_auth_mode=True):
        generate_and_save_token()
        loader.reset_cache()
    return str(_get_default_token_path())


def auth_headers() -> dict[str, str]:
    """`Authorization: Bearer <token>` for our own HTTP calls to the dashboard, if auth is on."""
    from ray._private.authentication.http_token_authentication import (
        get_auth_headers_if_auth_enabled,
    )

    enable_token_auth()
    return dict(get_auth_headers_if_auth_enabled({}))


# --- shared storage ---------------------------------------------------------------------------


def is_plain_local(storage: str) -> bool:
    return "://" not in storage


def check_shared_storage(storage: str, nodes: int) -> None:
    """Refuse a plain local --storage on a cluster of several nodes, saying why and what to use."""
    if nodes > 1 and is_plain_local(storage):
        raise ClusterError(
            f"--storage {storage} is a plain local path, but the cluster has {nodes} nodes: "
            "each node would write its trials' checkpoints to its own disk, where the driver "
            "and `resume` cannot find them. Use storage every node shares: s3://BUCKET/PREFIX, "
            "gs://BUCKET/PREFIX, another pyarrow filesystem URI, or file:///PATH for a network "
            "filesystem mounted at the same PATH on every node."
        )


def alive_nodes(address: str | None = None) -> int:
    """Alive nodes of the connected Ray (address None) or of the cluster at a dashboard URL."""
    if address is None:
        import ray

        if not ray.is_initialized():  # Tune will start a local, single-node Ray
            return 1
        return sum(1 for node in ray.nodes() if node["Alive"])
    from ray.util.state import list_nodes

    enable_token_auth()
    return len(list_nodes(address=address, filters=[("state", "=", "ALIVE")], timeout=10))


# --- a local cluster --------------------------------------------------------------------------


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
