"""Job registry: which trainable, search space, data and epoch budget each job runs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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
from trainables import metrics
from trainables.cifar10 import coerce as coerce_cifar10
from trainables.cifar10 import train_cifar10
from trainables.cifar10 import validate as validate_cifar10
from trainables.data import ImageSplits, load_cifar10, load_mnist
from trainables.mnist import L1_ENFORCED, MnistConfig, coerce, train_mnist, train_mnist_l1


class UnknownJobError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Job:
    name: str
    description: str
    trainable: Callable[[dict[str, Any], ImageSplits], None]
    space: Callable[[], SearchSpace]
    load_data: Callable[..., ImageSplits]
    validate: Callable[[Mapping[str, Any]], Any]  # raises on a bad config
    coerce: Callable[[str, Any], Any]  # parses one `--set KEY=VALUE`
    max_epochs: int
    default_method: str = "grid"
    metric: str = metrics.METRIC
    mode: str = metrics.MODE
    reuse_actors: bool = False  # Tune's actor reuse: for trainables that are cheap to restart
    keep_checkpoints: int | None = 1  # per trial, besides the latest; None keeps all
    # Hyperparameters that shape the weights: `--init-from` needs the source to match on them.
    architecture: tuple[str, ...] = ()
    # Hyperparameters the job holds at one value; `--set` of another value is refused.
    enforced: Mapping[str, Any] = field(default_factory=dict)
    # Training images used unless `--train-subset` says otherwise (None: the whole split).
    train_subset: int | None = None

    def parse(self, key: str, value: Any) -> Any:
        """One `--set KEY=VALUE` parsed by `coerce`, refusing a change to an enforced value."""
        parsed = self.coerce(key, value)
        if key in self.enforced and parsed != self.enforced[key]:
            raise ValueError(
                f"job {self.name} holds {key}={self.enforced[key]!r}; {key}={value!r} is refused"
            )
        return parsed

    def __post_init__(self) -> None:
        if self.max_epochs < 1:
            raise ValueError(f"job {self.name}: max_epochs must be >= 1")

    def check_space(self, space: SearchSpace) -> None:
        """Validate every grid point and both ends of every range against the trainable's config."""
        base = {**space.fixed, **{k: d.grid[0] for k, d in space.dimensions.items()}}
        self.validate(base)
        for name, dimension in space.dimensions.items():
            ends = [getattr(dimension, "low", None), getattr(dimension, "high", None)]
            for value in [*dimension.grid, *(v for v in ends if v is not None)]:
                self.validate({**base, name: value})


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
        ),
    )
}


def get_job(name: str) -> Job:
    """The registered job `name`, or an error listing the choices."""
    if name not in JOBS:
        raise UnknownJobError(f"unknown job {name!r}; choose one of: {', '.join(JOBS)}")
    return JOBS[name]
