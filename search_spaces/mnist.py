"""Search spaces of the MNIST jobs."""

from __future__ import annotations

from search_spaces.space import Choice, Float, Int, SearchSpace


def mnist_l2_space() -> SearchSpace:
    """Problem 4.1: plain SGD with dropout and L2; 2 x 2 x 2 x 2 = 16 grid points."""
    return SearchSpace(
        dimensions={
            "lr": Float(0.01, 0.3, grid=(0.05, 0.15), log=True),
            "weight_decay": Float(1e-5, 1e-2, grid=(1e-4, 1e-3), log=True),
            "dropout": Float(0.0, 0.7, grid=(0.25, 0.5)),
            "width": Choice((64, 128, 256), grid=(64, 128)),
        },
        fixed={
            "optimizer": "sgd",
            "batch_size": 64,
            "conv_layers": 2,
            "channels": 16,
            "kernel_size": 5,
        },
    )


# The network of Problem 4.1; the later MNIST jobs start from it (the study pins its best values).
_NETWORK = {"batch_size": 64, "conv_layers": 2, "channels": 16, "kernel_size": 5, "width": 128}


def mnist_l1_space() -> SearchSpace:
    """Problem 4.2: L1 strength tuned with the learning rate; no dropout, no weight decay."""
    return SearchSpace(
        dimensions={
            "lr": Float(0.01, 0.3, grid=(0.05, 0.15), log=True),
            "l1": Float(1e-6, 1e-3, grid=(1e-5, 1e-4), log=True),
        },
        fixed={"optimizer": "sgd", "dropout": 0.0, "weight_decay": 0.0, **_NETWORK},
    )


# Each optimizer's own hyperparameters besides the global learning rate.
OPTIMIZER_PARAMETERS: dict[str, tuple[str, ...]] = {
    "sgd": (),
    "momentum": ("momentum",),
    "adagrad": (),
    "adam": ("beta1", "beta2"),
}
# The value a parameter is pinned to while another optimizer (which ignores it) is tuned.
_UNUSED = {"momentum": 0.0, "beta1": 0.9, "beta2": 0.999}


def mnist_optimizers_space() -> SearchSpace:
    """Problem 4.3(a): the four optimizers, each with its learning rate and own parameters."""
    return SearchSpace(
        dimensions={
            "optimizer": Choice(tuple(OPTIMIZER_PARAMETERS)),
            "lr": Float(1e-4, 0.3, grid=(0.001, 0.01, 0.1), log=True),
            "momentum": Float(0.5, 0.99, grid=(0.9,)),
            "beta1": Float(0.8, 0.99, grid=(0.9,)),
            "beta2": Float(0.99, 0.9999, grid=(0.999,), log=True),
        },
        fixed={"dropout": 0.25, "weight_decay": 1e-4, **_NETWORK},
    )


def optimizer_pins(optimizer: str) -> dict[str, object]:
    """Pins that leave `optimizer`'s learning rate and own parameters as the only ones tuned."""
    if optimizer not in OPTIMIZER_PARAMETERS:
        raise ValueError(
            f"unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZER_PARAMETERS)}"
        )
    own = OPTIMIZER_PARAMETERS[optimizer]
    return {"optimizer": optimizer, **{k: v for k, v in _UNUSED.items() if k not in own}}


def mnist_batchnorm_space() -> SearchSpace:
    """Problem 4.3(b): batch normalization on every hidden layer, the learning rate retuned."""
    return SearchSpace(
        dimensions={"lr": Float(1e-3, 0.5, grid=(0.01, 0.05, 0.2), log=True)},
        fixed={"optimizer": "sgd", "batchnorm": True, "dropout": 0.25, "weight_decay": 1e-4,
               **_NETWORK},
    )  # fmt: skip


def mnist_bench_space() -> SearchSpace:
    """The HPO benchmark's space: six dimensions of a small CNN where methods can differ.

    Grid: the points at a quarter and three quarters of each range on its own scale (log or
    linear; integers rounded), and the first and last optimizer: 2^6 = 64 points, fixed before
    any result was seen. Momentum is held at 0.9 (used by `momentum` only; `sgd` ignores it).
    """
    return SearchSpace(
        dimensions={
            "lr": Float(1e-4, 1.0, grid=(1e-3, 1e-1), log=True),
            "weight_decay": Float(1e-6, 1e-2, grid=(1e-5, 1e-3), log=True),
            "dropout": Float(0.0, 0.6, grid=(0.15, 0.45)),
            "channels": Int(8, 32, grid=(11, 23), log=True),
            "width": Int(32, 128, grid=(45, 91), log=True),
            "optimizer": Choice(("sgd", "momentum", "adam"), grid=("sgd", "adam")),
        },
        fixed={"momentum": 0.9, "batch_size": 64, "conv_layers": 2, "kernel_size": 5},
    )
