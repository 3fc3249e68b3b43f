"""`tune-jobs submit | jobs | cluster | resume`: tune jobs as a service on a Ray cluster.

Ray Jobs (`JobSubmissionClient`) runs `tune-jobs run` on the cluster; `cluster up/down` starts and
stops a local cluster with `ray start`; `resume` continues an experiment with `Tuner.restore`.
Exit status as `tune-jobs run`: 0 ok, 1 a failed job or run, 2 bad input or no cluster.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from tune_jobs.cluster import (
    ClusterError,
    alive_nodes,
    check_address,
    check_shared_storage,
    cluster_down,
    cluster_up,
    dashboard_url,
    enable_token_auth,
    read_state,
    state_file,
)

if TYPE_CHECKING:
    from ray.job_submission import JobSubmissionClient

    from tune_jobs.runner import RunOptions

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# Uploaded with each job: the code, not environments, results or data (gitignore syntax).
WORKING_DIR_EXCLUDES = ["/.venv/", "/.git/", "/results/", "/data/", "*.pt", "*.pth", "*.ckpt"]
# RunOptions fields and the `run` flag that sets each; `submit` forwards them all but address.
RUN_FLAGS = {
    "method": "--method",
    "seed": "--seed",
    "samples": "--samples",
    "max_epochs": "--max-epochs",
    "data_dir": "--data-dir",
    "storage": "--storage",
    "name": "--name",
    "cpus_per_trial": "--cpus-per-trial",
    "concurrency": "--concurrency",
    "train_subset": "--train-subset",
    "budget_epochs": "--budget-epochs",
    "time_budget": "--time-budget",
    "max_failures": "--max-failures",
    "init_from": "--init-from",
}
TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED")


def add_service_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Add `submit`, `jobs`, `cluster` and `resume` to a CLI's sub-command parsers."""
    from tune_jobs.cli import add_run_options  # the CLI imports this module

    submit = subparsers.add_parser(
        "submit",
        help="run a tune job on a Ray cluster as a Ray Job",
        description="Submit `tune-jobs run JOB ...` as a Ray Job. --address is the dashboard "
        "(http://HEAD:8265; default $RAY_API_SERVER_ADDRESS or the `cluster up` cluster).",
    )
    add_run_options(submit)
    submit.add_argument("--wait", action="store_true", help="follow the logs until the job ends")
    submit.set_defaults(func=cmd_submit)

    jobs = subparsers.add_parser("jobs", help="list, inspect, follow and stop Ray Jobs")
    actions = jobs.add_subparsers(dest="jobs_action", metavar="ACTION", required=True)
    for name, func, help_text in (
        ("list", _jobs_list, "every job the cluster knows"),
        ("status", _jobs_status, "status of one job"),
        ("logs", _jobs_logs, "logs of one job"),
        ("stop", _jobs_stop, "stop one job"),
    ):
        action = actions.add_parser(name, help=help_text)
        if name != "list":
            action.add_argument("job_id", metavar="ID", help="submission id printed by submit")
        if name == "logs":
            action.add_argument("--follow", action="store_true", help="until the job ends")
        action.add_argument("--address", help="dashboard URL (default as for submit)")
        action.set_defaults(func=func)

    cluster = subparsers.add_parser("cluster", help="start or stop a local Ray cluster")
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

    resume = subparsers.add_parser(
        "resume",
        help="continue an interrupted experiment from its checkpoints",
        description="Tuner.restore the experiment folder PATH; unfinished and errored trials "
        "continue from their last checkpoints.",
    )
    resume.add_argument("path", metavar="PATH", help="experiment folder (local path or URI)")
    resume.add_argument("--address", help="Ray cluster (default: local Ray)")
    resume.set_defaults(func=cmd_resume)


# --- submit and jobs --------------------------------------------------------------------------


def run_argv(options: RunOptions) -> list[str]:
    """`tune-jobs run` arguments that reproduce `options` (its address is the job's own)."""
    argv = ["run", options.job]
    for name, flag in RUN_FLAGS.items():
        value = getattr(options, name)
        if value is not None:
            argv += [flag, str(value)]
    for key, value in options.overrides.items():
        argv += ["--set", f"{key}={value}"]
    return argv + (["--smoke-test"] if options.smoke_test else [])


def runtime_env() -> dict:
    """The job's runtime_env: this project as working dir, and the variables trials read."""
    from trainables.data import DATA_DIR_ENV
    from trainables.reporting import fault_env

    env = fault_env()
    if os.environ.get(DATA_DIR_ENV):
        env[DATA_DIR_ENV] = str(Path(os.environ[DATA_DIR_ENV]).expanduser().resolve())
    return {"working_dir": str(PROJECT_ROOT), "excludes": WORKING_DIR_EXCLUDES, "env_vars": env}


def job_client(address: str | None) -> JobSubmissionClient:
    """A Jobs API client for the dashboard at `address`, sending the cluster's token."""
    url = dashboard_url(address)
    check_address(url)
    enable_token_auth()
    from ray.job_submission import JobSubmissionClient

    try:
        return JobSubmissionClient(url)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise ClusterError(f"the Ray Jobs API at {url} did not accept us: {error}") from None


def cmd_submit(args: argparse.Namespace) -> int:
    from tune_jobs.cli import run_options
    from tune_jobs.runner import absolute_uri, prepare

    options = run_options(
        args,
        address=None,  # inside the job Ray sets RAY_ADDRESS
        storage=absolute_uri(args.storage),
        data_dir=absolute_uri(args.data_dir) if args.data_dir else None,
        init_from=absolute_uri(args.init_from) if args.init_from else None,
    )
    prepared = prepare(options)  # every input checked here, before the cluster sees anything
    url = dashboard_url(args.address)
    client = job_client(url)
    check_shared_storage(prepared.storage, alive_nodes(url))
    options = run_options(
        args,
        address=None,
        storage=prepared.storage,
        data_dir=options.data_dir,
        init_from=options.init_from,
        name=prepared.name,
    )
    entrypoint = shlex.join(["python", "-m", "tune_jobs.cli", *run_argv(options)])
    experiment = f"{prepared.storage}/{prepared.name}"
    job_id = client.submit_job(
        entrypoint=entrypoint,
        runtime_env=runtime_env(),
        metadata={"tune_jobs_experiment": experiment},
    )
    print(f"Submitted {job_id}: {entrypoint}")
    print(f"Results:   {experiment}")
    print(f"Dashboard: {url}/#/jobs/{job_id}")
    print(f"Follow:    tune-jobs jobs logs {job_id} --follow --address {url}")
    if not args.wait:
        return 0
    return _follow_to_end(client, job_id)


def _follow_to_end(client: JobSubmissionClient, job_id: str) -> int:
    asyncio.run(_tail(client, job_id))
    status = _wait_terminal(client, job_id)
    print(f"Job {job_id}: {status}")
    return 0 if status == "SUCCEEDED" else 1


async def _tail(client: JobSubmissionClient, job_id: str) -> None:
    async for chunk in client.tail_job_logs(job_id):
        print(chunk, end="", flush=True)


def _wait_terminal(client: JobSubmissionClient, job_id: str, timeout: float = 60.0) -> str:
    """The status once terminal (the log stream can close a moment before the status flips)."""
    deadline = time.monotonic() + timeout
    status = str(client.get_job_status(job_id).value)
    while status not in TERMINAL and time.monotonic() < deadline:
        time.sleep(0.5)
        status = str(client.get_job_status(job_id).value)
    return status


def _job_info(client: JobSubmissionClient, job_id: str):
    try:
        return client.get_job_info(job_id)
    except RuntimeError as error:
        raise ClusterError(f"no job {job_id!r} on this cluster ({error})") from None


def _jobs_list(args: argparse.Namespace) -> int:
    jobs = sorted(job_client(args.address).list_jobs(), key=lambda job: job.start_time or 0)
    print(f"{'submission id':<28} {'status':<10} {'started':<19} entrypoint")
    for job in jobs:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime((job.start_time or 0) / 1e3))
        print(f"{job.submission_id or job.job_id:<28} {job.status.value:<10} {started} "
              f"{job.entrypoint[:80]}")  # fmt: skip
    return 0


def _jobs_status(args: argparse.Namespace) -> int:
    info = _job_info(job_client(args.address), args.job_id)
    print(f"{args.job_id}: {info.status.value}" + (f" ({info.message})" if info.message else ""))
    for key, value in (info.metadata or {}).items():
        print(f"  {key}: {value}")
    return 0


def _jobs_logs(args: argparse.Namespace) -> int:
    client = job_client(args.address)
    _job_info(client, args.job_id)
    if args.follow:
        return _follow_to_end(client, args.job_id)
    print(client.get_job_logs(args.job_id), end="")
    return 0


def _jobs_stop(args: argparse.Namespace) -> int:
    client = job_client(args.address)
    _job_info(client, args.job_id)
    stopped = client.stop_job(args.job_id)
    print(f"{args.job_id}: {'stop requested' if stopped else 'already ended'}")
    return 0


# --- local cluster ----------------------------------------------------------------------------


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
    return 0


def _cluster_down(args: argparse.Namespace) -> int:
    path = state_file(args.state_file)
    if read_state(path) is None:
        print(f"No local cluster recorded in {path}; nothing to stop.")
        return 0
    stopped = cluster_down(path)
    print(f"Stopped {len(stopped)} node(s): pids {', '.join(map(str, stopped)) or '-'}")
    return 0


def _cluster_status(args: argparse.Namespace) -> int:
    path = state_file(args.state_file)
    cluster = read_state(path)
    if cluster is None:
        print(f"No local cluster recorded in {path}.")
        return 1
    print(f"dashboard {cluster.dashboard_url}, GCS {cluster.gcs_address}, temp {cluster.temp_dir}")
    for node in cluster.nodes:
        print(f"  {node['role']:<10} pid {node['pid']:<8} {node['num_cpus']} CPU(s)")
    return 0


def _state_flag(args: argparse.Namespace) -> str:
    return f" --state-file {shlex.quote(args.state_file)}" if args.state_file else ""


# --- resume -----------------------------------------------------------------------------------


def cmd_resume(args: argparse.Namespace) -> int:
    from tune_jobs.runner import best_summary, resume

    results, job = resume(args.path, args.address)
    failed = [result for result in results if result.error is not None]
    finished = len(results) - len(failed)
    print(f"\n{finished} of {len(results)} trials finished.")
    if finished:
        best = best_summary(results, job)
        print(
            f"Best trial {best['trial_id']} (epoch {best['epoch']}): "
            f"{job.metric} = {best[job.metric]:.4f}, test_acc = {best['test_acc']:.4f}"
        )
    if failed:
        print(f"{len(failed)} trials failed; first error:\n{failed[0].error}", file=sys.stderr)
        return 1
    return 0
