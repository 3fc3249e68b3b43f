"""The nodes of a cluster, and the storage rule they impose: several nodes need shared storage."""

from __future__ import annotations

import os

from tune_jobs.cluster.auth import enable_token_auth
from tune_jobs.errors import ClusterError
from tune_jobs.storage import is_uri


def check_shared_storage(storage: str, nodes: int) -> None:
    """Refuse a plain local --storage on a cluster of several nodes, saying why and what to use."""
    if nodes > 1 and not is_uri(storage):
        raise ClusterError(
            f"--storage {storage} is a plain local path, but the cluster has {nodes} nodes: "
            "each node would write its trials' checkpoints to its own disk, where the driver "
            "and `resume` cannot find them. Use storage every node shares: s3://BUCKET/PREFIX, "
            "gs://BUCKET/PREFIX, another pyarrow filesystem URI, or file:///PATH for a network "
            "filesystem mounted at the same PATH on every node."
        )


def local_cpus() -> float:
    """The CPUs of a local Ray: the running one's, else this machine's (what `ray.init` takes)."""
    import ray

    if ray.is_initialized():
        return float(ray.cluster_resources().get("CPU", 0.0))
    return float(os.cpu_count() or 1)


def largest_node(resource: str) -> float:
    """Resource `resource` ("CPU", "GPU") of the connected Ray's largest alive node by it: the
    most one trial can ever get (a trial's resources are all on one node)."""
    import ray

    return max(
        (float(node["Resources"].get(resource, 0.0)) for node in ray.nodes() if node["Alive"]),
        default=0.0,
    )


def largest_node_cpus() -> float:
    return largest_node("CPU")


def local_gpus() -> float:
    """The GPUs of a local Ray: the running one's, else the CUDA devices torch sees here."""
    import ray

    if ray.is_initialized():
        return float(ray.cluster_resources().get("GPU", 0.0))
    import torch

    return float(torch.cuda.device_count())


def largest_node_gpus() -> float:
    return largest_node("GPU")


def check_gpus_per_trial(gpus: float, available: float, where: str) -> None:
    """Refuse GPU trials where `where` has no GPU, or fewer than one trial asks for."""
    if gpus <= 0:
        return
    if available <= 0:
        raise ClusterError(
            f"--gpus-per-trial {gpus:g}: {where} has no GPU, so no trial could ever start; "
            "leave --gpus-per-trial at 0 to train on CPUs"
        )
    _check_fits("--gpus-per-trial", gpus, "GPUs", available, where)


def check_cpus_per_trial(cpus: float, available: float, where: str) -> None:
    """Refuse trials larger than `where` (`available` CPUs): Ray would leave them PENDING."""
    _check_fits("--cpus-per-trial", cpus, "CPUs", available, where)


def _check_fits(option: str, asked: float, unit: str, available: float, where: str) -> None:
    if asked > available:
        raise ClusterError(
            f"{option} {asked:g}: {where} has {available:g} {unit}, so no trial could ever "
            f"start; use at most {available:g}"
        )


def alive_nodes(address: str | None = None) -> int:
    """Alive nodes of the connected Ray (address None) or of the cluster at a dashboard URL."""
    if address is None:
        import ray

        if not ray.is_initialized():  # Tune will start a local, single-node Ray
            return 1
        return sum(1 for node in ray.nodes() if node["Alive"])
    return len(node_cpus(address))


def node_cpus(address: str) -> list[float]:
    """The CPUs of each alive node of the cluster whose dashboard is at `address`."""
    return node_resource(address, "CPU")


def node_gpus(address: str) -> list[float]:
    """The GPUs of each alive node of the cluster whose dashboard is at `address`."""
    return node_resource(address, "GPU")


def node_resource(address: str, name: str) -> list[float]:
    """Resource `name` (Ray's "CPU", "GPU") of each alive node of the cluster at `address`."""
    from ray.util.state import list_nodes

    enable_token_auth()
    nodes = list_nodes(address=address, filters=[("state", "=", "ALIVE")], timeout=10)
    return [float((node.resources_total or {}).get(name, 0.0)) for node in nodes]
