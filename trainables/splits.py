"""`Splits`: a job's train / validation / test data as any arrays, cut by `--smoke-test` and
`--train-subset` through `subset` and `sizes` (the same two methods `ImageSplits` has)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Splits:
    """Inputs and targets of three splits: numpy arrays, tensors, anything `len` and slices take.

    Select on `val_*`; `test_*` is only reported.
    """

    train_x: Any
    train_y: Any
    val_x: Any
    val_y: Any
    test_x: Any
    test_y: Any

    def __post_init__(self) -> None:
        for split in ("train", "val", "test"):
            inputs, targets = getattr(self, f"{split}_x"), getattr(self, f"{split}_y")
            if len(inputs) != len(targets):
                raise ValueError(
                    f"Splits: {split}_x has {len(inputs)} rows but {split}_y has {len(targets)}"
                )

    def subset(self, train: int | None = None, evaluation: int | None = None) -> Splits:
        """The first `train` training rows and the first `evaluation` validation and test rows."""
        return Splits(
            self.train_x[:train], self.train_y[:train],
            self.val_x[:evaluation], self.val_y[:evaluation],
            self.test_x[:evaluation], self.test_y[:evaluation],
        )  # fmt: skip

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train_y), "val": len(self.val_y), "test": len(self.test_y)}
