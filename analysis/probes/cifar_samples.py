"""`tune-jobs probe cifar10`: one image of each class, with its label, as a grid and as files."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from trainables.data import ImageSplits  # noqa: E402

UPSCALE = 4  # 32 px images are saved at 128 px (nearest neighbour) so they can be seen


def first_of_each_class(x: torch.Tensor, y: torch.Tensor, num_classes: int) -> dict[int, int]:
    """Class -> index of its first image in (x, y); classes without images are left out."""
    found: dict[int, int] = {}
    for index, label in enumerate(y.tolist()):
        found.setdefault(label, index)
        if len(found) == num_classes:
            break
    return dict(sorted(found.items()))


def save_class_samples(data: ImageSplits, classes: tuple[str, ...], out: Path) -> list[Path]:
    """The first test image of every class: one PNG each and a labelled grid."""
    out.mkdir(parents=True, exist_ok=True)
    picks = first_of_each_class(data.test_x, data.test_y, data.num_classes)
    files = []
    for label, index in picks.items():
        pixels = data.test_x[index].permute(1, 2, 0).numpy()
        image = Image.fromarray(pixels)
        image = image.resize((image.width * UPSCALE, image.height * UPSCALE), Image.NEAREST)
        path = out / f"{label}_{classes[label]}.png"
        image.save(path)
        files.append(path)
    cols = min(5, len(picks))
    rows = -(-len(picks) // cols)
    figure, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 2.5 * rows), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, (label, index) in zip(axes.flat, picks.items(), strict=False):
        axis.imshow(data.test_x[index].permute(1, 2, 0).numpy(), interpolation="nearest")
        axis.set_title(f"{label}: {classes[label]}")
    figure.suptitle("One test image per class")
    figure.tight_layout()
    grid = out / "cifar10_classes.png"
    figure.savefig(grid, dpi=110)
    plt.close(figure)
    return [grid, *files]
