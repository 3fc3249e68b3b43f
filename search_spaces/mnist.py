"""Search spaces of the MNIST jobs."""

from __future__ import annotations

from search_spaces.space import Choice, Float, SearchSpace


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
