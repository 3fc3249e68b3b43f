"""`tune-jobs submit | jobs`: tune jobs as a service on a Ray cluster.

Ray Jobs (`JobSubmissionClient`) runs `tune-jobs run` on the cluster and follows its logs.
Exit status as `tune-jobs run`: 0 ok, 1 a failed job, 2 bad input or no cluster.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import sys
import time
from pathlib import Path

from ray.job_submission import JobSubmissionClient

from trainables.data import DATA_DIR_ENV
from trainables.reporting import fault_env
from tune_jobs.cli.run_options import add_job_options, add_run_options, run_options
from tune_jobs.cluster.address import check_address, dashboard_address, dashboard_url
from tune_jobs.cluster.auth import enable_token_auth
from tune_jobs.cluster.nodes import (
    check_cpus_per_trial,
    check_gpus_per_trial,
    check_shared_storage,
    node_cpus,
    node_gpus,
)
from tune_jobs.errors import EXIT_FAILED, EXIT_OK, ClusterError
from tune_jobs.options import RunOptions, prepare
from tune_jobs.storage import absolute_uri
from tune_jobs.user_jobs import shipped_reference

PROJECT_ROOT = Path(__file__).resolve().parents[2]
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
    "gpus_per_trial": "--gpus-per-trial",
    "concurrency": "--concurrency",
    "train_subset": "--train-subset",
    "budget_epochs": "--budget-epochs",
    "time_budget": "--time-budget",
    "max_failures": "--max-failures",
    "init_from": "--init-from",
    "metric": "--metric",
    "mode": "--mode",
    "track": "--track",
}
TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED")


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    {"submit": _submit_options, "jobs": _jobs_options}[name](parser)


def _submit_options(submit: argparse.ArgumentParser) -> None:
    submit.description = (
        "Submit `tune-jobs run JOB ...` as a Ray Job. --address is the dashboard "
        "(http://HEAD:8265; default $RAY_API_SERVER_ADDRESS or the `cluster up` cluster)."
    )
    add_job_options(submit)
    add_run_options(submit)
    submit.add_argument("--wait", action="store_true", help="follow the logs until the job ends")
    submit.set_defaults(func=cmd_submit)


def _jobs_options(jobs: argparse.ArgumentParser) -> None:
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


def run_argv(options: RunOptions) -> list[str]:
    """`tune-jobs run` arguments that reproduce `options` (its address is the job's own)."""
    argv = ["run", options.job]
    for name, flag in RUN_FLAGS.items():
        value = getattr(options, name)
        if value is not None:
            argv += [flag, str(value)]
    for flag, pairs in (
        ("--set", options.overrides),
        ("--range", options.ranges),
        ("--choice", options.choices),
        ("--method-opt", options.method_options),
    ):
        for key, value in pairs.items():
            argv += [flag, f"{key}={value}"]
    return argv + (["--smoke-test"] if options.smoke_test else [])


def runtime_env(py_modules: list[str] | None = None) -> dict:
    """The job's runtime_env: this project as working dir, the variables trials read, and
    `py_modules` (a user's job file, `user_jobs.shipped_reference`)."""
    env = fault_env()
    if os.environ.get(DATA_DIR_ENV):
        env[DATA_DIR_ENV] = str(Path(os.environ[DATA_DIR_ENV]).expanduser().resolve())
    shipped = {"py_modules": py_modules} if py_modules else {}
    return {
        "working_dir": str(PROJECT_ROOT),
        "excludes": WORKING_DIR_EXCLUDES,
        "env_vars": env,
        **shipped,
    }


def job_client(address: str | None, say: bool = False) -> JobSubmissionClient:
    """A Jobs API client for the dashboard at `address`, sending the cluster's token; with
    `say`, the cluster it asks and what named it, on stderr (stdout may be a job's logs)."""
    url, source = dashboard_address(address)
    if say:
        print(f"Cluster: {url} (from {source})", file=sys.stderr)
    check_address(url)
    enable_token_auth()
    try:
        return JobSubmissionClient(url)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise ClusterError(f"the Ray Jobs API at {url} did not accept us: {error}") from None


def cmd_submit(args: argparse.Namespace) -> int:
    options = run_options(
        args,
        address=None,  # inside the job Ray sets RAY_ADDRESS
        storage=absolute_uri(args.storage),
        data_dir=absolute_uri(args.data_dir) if args.data_dir else None,
        init_from=absolute_uri(args.init_from) if args.init_from else None,
    )
    # Every input checked here, before the cluster sees anything; then what the cluster offers.
    prepared = prepare(options, on_cluster=True)
    url = dashboard_url(args.address)
    client = job_client(url)
    cpus = node_cpus(url)
    check_shared_storage(prepared.storage, len(cpus))
    check_cpus_per_trial(
        options.cpus_per_trial, max(cpus, default=0.0), "the cluster's largest node"
    )
    if options.gpus_per_trial:  # asked only then: one more call to the cluster
        gpus = max(node_gpus(url), default=0.0)
        check_gpus_per_trial(options.gpus_per_trial, gpus, "the cluster's largest node")
    with shipped_reference(options.job) as (job, py_modules):  # a user's file goes along
        options = run_options(
            args,
            job=job,
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
            runtime_env=runtime_env(py_modules),
            metadata={"tune_jobs_experiment": experiment},
        )
    print(f"Submitted {job_id}: {entrypoint}")
    print(f"Results:   {experiment}")
    print(f"Dashboard: {url}/#/jobs/{job_id}")
    print(f"Follow:    tune-jobs jobs logs {job_id} --follow --address {url}")
    if not args.wait:
        return EXIT_OK
    return _follow_to_end(client, job_id)


def _follow_to_end(client: JobSubmissionClient, job_id: str) -> int:
    asyncio.run(_tail(client, job_id))
    status = _wait_terminal(client, job_id)
    print(f"Job {job_id}: {status}")
    return EXIT_OK if status == "SUCCEEDED" else EXIT_FAILED


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
    jobs = sorted(
        job_client(args.address, say=True).list_jobs(), key=lambda job: job.start_time or 0
    )
    print(f"{'submission id':<28} {'status':<10} {'started':<19} entrypoint")
    for job in jobs:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime((job.start_time or 0) / 1e3))
        print(f"{job.submission_id or job.job_id:<28} {job.status.value:<10} {started} "
              f"{job.entrypoint[:80]}")  # fmt: skip
    return EXIT_OK


def _jobs_status(args: argparse.Namespace) -> int:
    info = _job_info(job_client(args.address, say=True), args.job_id)
    print(f"{args.job_id}: {info.status.value}" + (f" ({info.message})" if info.message else ""))
    for key, value in (info.metadata or {}).items():
        print(f"  {key}: {value}")
    return EXIT_OK


def _jobs_logs(args: argparse.Namespace) -> int:
    client = job_client(args.address, say=True)
    _job_info(client, args.job_id)
    if args.follow:
        return _follow_to_end(client, args.job_id)
    print(client.get_job_logs(args.job_id), end="")
    return EXIT_OK


def _jobs_stop(args: argparse.Namespace) -> int:
    client = job_client(args.address, say=True)
    _job_info(client, args.job_id)
    stopped = client.stop_job(args.job_id)
    print(f"{args.job_id}: {'stop requested' if stopped else 'already ended'}")
    return EXIT_OK
