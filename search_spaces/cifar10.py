"""Search space of the CIFAR-10 transfer-learning job (Problem 6)."""

from __future__ import annotations

from search_spaces.space import Choice, Float, SearchSpace


def cifar10_transfer_space() -> SearchSpace:
    """ResNet18 fine-tuning: finetune x augmentation = 2 x 2 = 4 grid points, small for a CPU.

    The grid pins lr, optimizer, batch size and resolution to one value each; random search and
    ASHA sample their ranges. `weights=imagenet` is fixed (change it with `--set weights=...`).
    """
    return SearchSpace(
        dimensions={
            "finetune": Choice(("fc", "conv1")),
            "augmentation": Choice(("none", "crop-flip", "more"), grid=("none", "crop-flip")),
            "lr": Float(1e-4, 3e-2, grid=(1e-3,), log=True),
            "optimizer": Choice(("adam", "momentum"), grid=("adam",)),
            "batch_size": Choice((32, 64, 128), grid=(64,)),
            "resolution": Choice((32, 64, 96), grid=(64,)),
        },
        fixed={"weights": "imagenet", "patience": 3},
    )
