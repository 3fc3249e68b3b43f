"""Cluster addresses: check in seconds that a Ray cluster answers at an address, and where its
dashboard is. Ray itself retries an unreachable cluster for a minute or more.
"""

from __future__ import annotations

import functools
import json
import os
import socket
import threading
from urllib.parse import urlsplit

from trainables.reporting import fault_env
from tune_jobs.cluster.auth import auth_headers, enable_token_auth
from tune_jobs.cluster.local import read_state, state_file
from tune_jobs.errors import ClusterError

ADDRESS_TIMEOUT_S = 5.0  # an unreachable address fails within this
API_SERVER_ENV = "RAY_API_SERVER_ADDRESS"  # Ray's own variable for the Jobs API address


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
    _announce(found)
    return found


@functools.cache  # once per process: `prepare` and `ensure_ray` both resolve the address
def _announce(found: str) -> None:
    """Say which cluster `auto` joins: it may be one this user did not start."""
    state = read_state(state_file())
    ours = state is not None and state.gcs_address == found
    which = "the cluster `tune-jobs cluster up` started" if ours else "a running Ray cluster"
    print(f"--address auto: joining {which} at {found} (pass --address HOST:PORT to choose)")


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


def dashboard_address(address: str | None) -> tuple[str, str]:
    """The Jobs API / dashboard URL and what named it: `address`, $RAY_API_SERVER_ADDRESS, or
    the state file of `tune-jobs cluster up`. ClusterError when none does: a guessed
    127.0.0.1:8265 could be another user's cluster."""
    source = "--address"
    if not address and os.environ.get(API_SERVER_ENV):
        address, source = os.environ[API_SERVER_ENV], f"${API_SERVER_ENV}"
    if not address:
        path = state_file()
        state = read_state(path)
        if state is None:
            raise ClusterError(
                f"no cluster address: pass --address http://HEAD:8265, set ${API_SERVER_ENV}, "
                f"or start one with `tune-jobs cluster up` (no state file at {path})"
            )
        address, source = state.dashboard_url, f"the `tune-jobs cluster up` state file {path}"
    return (address if "://" in address else f"http://{address}"), source


def dashboard_url(address: str | None) -> str:
    """The Jobs API / dashboard URL (see `dashboard_address`)."""
    return dashboard_address(address)[0]


def driver_runtime_env(address: str | None) -> dict | None:
    """The runtime_env a driver joining a cluster at `address` gives its trials.

    Trials on a cluster inherit the environment of the nodes, not of the driver, so the
    fault-injection variables (trainables.reporting) travel here. A local Ray started by the
    driver, and a Ray Job (whose runtime_env `submit` sets), need nothing.
    """
    env = fault_env()
    return {"env_vars": env} if address is not None and env else None
