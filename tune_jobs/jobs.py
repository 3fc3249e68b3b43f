"""The built-in jobs, and `get_job`: a built-in job by name, or a user's job by reference."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from search_spaces.cifar10 import cifar10_transfer_space
from search_spaces.mnist import (
    mnist_batchnorm_space,
    mnist_bench_space,
    mnist_l1_space,
    mnist_l2_space,
    mnist_optimizers_space,
)
from search_spaces.space import SearchSpace
from trainables.cifar10 import coerce as coerce_cifar10
from trainables.cifar10 import train_cifar10
from trainables.cifar10 import validate as validate_cifar10
from trainables.data import load_cifar10, load_mnist
from trainables.mnist import L1_ENFORCED, MnistConfig, coerce, train_mnist, train_mnist_l1
from tune_jobs.job import Job, UnknownJobError
from tune_jobs.user_jobs import entry_point_job, is_reference, load_reference

MNIST_ARCHITECTURE = ("conv_layers", "channels", "kernel_size", "width", "batchnorm")


def mnist_job(name: str, description: str, space: Callable[[], SearchSpace], **extra: Any) -> Job:
    """A job of the MNIST CNN: its data, config, 10 epochs and architecture are the same for all."""
    return Job(
        name=name,
        description=description,
        trainable=extra.pop("trainable", train_mnist),
        space=space,
        load_data=load_mnist,
        validate=MnistConfig.from_dict,
        coerce=coerce,
        max_epochs=extra.pop("max_epochs", 10),
        architecture=MNIST_ARCHITECTURE,
        reuse_actors=True,  # the trainable keeps no state between calls (tests: test_reuse.py)
        **extra,
    )


JOBS: dict[str, Job] = {
    job.name: job
    for job in (
        mnist_job(
            "mnist-l2",
            "Problem 4.1: MNIST CNN, plain SGD, dropout + L2, tuned on val_acc",
            mnist_l2_space,
        ),
        mnist_job(
            "mnist-l1",
            "Problem 4.2: MNIST CNN, L1 tuned with lr; no dropout, no weight decay",
            mnist_l1_space,
            trainable=train_mnist_l1,
            enforced=L1_ENFORCED,
        ),
        mnist_job(
            "mnist-optimizers",
            "Problem 4.3(a): SGD, momentum, AdaGrad, Adam, each with its own params",
            mnist_optimizers_space,
        ),
        mnist_job(
            "mnist-batchnorm",
            "Problem 4.3(b): batch normalization on every hidden layer, lr retuned",
            mnist_batchnorm_space,
            enforced={"batchnorm": True},
        ),
        mnist_job(
            "mnist-bench",
            "HPO benchmark: 6-dim space (lr, L2, dropout, channels, width, optimizer), "
            "4,000 training images, 9 epochs",
            mnist_bench_space,
            max_epochs=9,  # Hyperband with eta 3: rungs at 1, 3, 9 epochs
            train_subset=4000,
        ),
        Job(
            name="cifar10-transfer",
            description="Problem 6: ResNet18 transfer learning on CIFAR-10, fc or conv1 fine-tuned",
            trainable=train_cifar10,
            space=cifar10_transfer_space,
            load_data=load_cifar10,
            validate=validate_cifar10,
            coerce=coerce_cifar10,
            max_epochs=10,
            reuse_actors=True,  # as MNIST: nothing outlives the call but torch's caches
        ),
    )
}


def get_job(reference: str) -> Job:
    """The built-in job `reference`, or the user's job it names (`tune_jobs.user_jobs`): a
    `path/to/file.py:NAME`, a `package.module:NAME` or an entry point's name.

    UnknownJobError for a name that is neither; BadInputError for a reference that cannot load.
    """
    if reference in JOBS:
        return JOBS[reference]
    if is_reference(reference):
        return load_reference(reference)
    from_entry_point = entry_point_job(reference)
    if from_entry_point is not None:
        return from_entry_point
    raise UnknownJobError(
        f"unknown job {reference!r}; choose one of: {', '.join(JOBS)}, an installed job "
        "(tune-jobs list), or your own as path/to/file.py:NAME or package.module:NAME"
    )
