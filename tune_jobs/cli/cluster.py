"""`tune-jobs cluster up | down | status`: a local Ray cluster of `ray start` processes."""

from __future__ import annotations

import argparse
import shlex

from tune_jobs.cluster.local import cluster_down, cluster_up, read_state, state_file
from tune_jobs.errors import EXIT_FAILED, EXIT_OK


def configure(name: str, cluster: argparse.ArgumentParser) -> None:
    steps = cluster.add_subparsers(dest="cluster_action", metavar="ACTION", required=True)
    up = steps.add_parser("up", help="ray start a head (and worker nodes) on this machine")
    up.add_argument("--num-cpus", type=int, help="CPUs per node (default: cores / nodes)")
    up.add_argument("--workers", type=int, default=0, help="worker nodes beside the head")
    up.add_argument("--host", default="127.0.0.1", help="IP every node binds to (loopback)")
    up.add_argument("--port", type=int, help="GCS port (default: a free one)")
    up.add_argument("--dashboard-port", type=int, help="dashboard port (default: a free one)")
    up.set_defaults(func=_cluster_up)
    down = steps.add_parser("down", help="stop the processes `cluster up` started")
    down.set_defaults(func=_cluster_down)
    status = steps.add_parser("status", help="what `cluster up` started, if anything")
    status.set_defaults(func=_cluster_status)
    for step in (up, down, status):
        step.add_argument(
            "--state-file", help="where up records its processes ($TUNE_JOBS_CLUSTER_STATE)"
        )


def _cluster_up(args: argparse.Namespace) -> int:
    path = state_file(args.state_file)
    cluster = cluster_up(
        num_cpus=args.num_cpus,
        workers=args.workers,
        host=args.host,
        port=args.port,
        dashboard_port=args.dashboard_port,
        path=path,
    )
    cpus = cluster.nodes[0]["num_cpus"]
    nodes = f"head + {args.workers} worker node(s), {cpus} CPU(s) each"
    print(f"Ray cluster up: {nodes}, on {args.host}")
    print(f"  dashboard  {cluster.dashboard_url}")
    if cluster.token:
        print(f"  token      {cluster.token} (token auth on; the dashboard asks for it)")
    else:
        print("  token      none: RAY_AUTH_MODE=disabled, anyone who can connect runs code")
    print(f"  run        tune-jobs run JOB --address {cluster.gcs_address}")
    print(f"  submit     tune-jobs submit JOB --address {cluster.dashboard_url}")
    print(f"  stop       tune-jobs cluster down{_state_flag(args)}")
    print(f"  state      {path}")
    return EXIT_OK


def _cluster_down(args: argparse.Namespace) -> int:
    path = state_file(args.state_file)
    if read_state(path) is None:
        print(f"No local cluster recorded in {path}; nothing to stop.")
        return EXIT_OK
    stopped = cluster_down(path)
    print(f"Stopped {len(stopped)} node(s): pids {', '.join(map(str, stopped)) or '-'}")
    return EXIT_OK


def _cluster_status(args: argparse.Namespace) -> int:
    path = state_file(args.state_file)
    cluster = read_state(path)
    if cluster is None:
        print(f"No local cluster recorded in {path}.")
        return EXIT_FAILED
    print(f"dashboard {cluster.dashboard_url}, GCS {cluster.gcs_address}, temp {cluster.temp_dir}")
    for node in cluster.nodes:
        print(f"  {node['role']:<10} pid {node['pid']:<8} {node['num_cpus']} CPU(s)")
    return EXIT_OK


def _state_flag(args: argparse.Namespace) -> str:
    return f" --state-file {shlex.quote(args.state_file)}" if args.state_file else ""
