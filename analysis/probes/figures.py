"""Figures of the probes: map and filter grids, maps under transforms, top-5 bars, filter changes.

Each function returns a matplotlib Figure; callers save and close it.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from analysis.probes.images import tile  # noqa: E402


def _side(count: int) -> tuple[int, int]:
    cols = math.ceil(math.sqrt(count))
    return math.ceil(count / cols), cols


def feature_map_figure(maps: torch.Tensor, title: str) -> Figure:
    """C x H x W maps as a grid (8 x 8 for 64), each scaled to its own range."""
    rows, cols = _side(len(maps))
    figure, axis = plt.subplots(figsize=(8, 8.4))
    axis.imshow(tile(maps, rows, cols), cmap="gray")
    axis.set_title(title)
    axis.axis("off")
    return figure


def filters_figure(weight: torch.Tensor, title: str) -> Figure:
    """Filters as a grid: N x k x k on one symmetric blue-red scale, or N x 3 x k x k as RGB."""
    rows, cols = _side(len(weight))
    figure, axis = plt.subplots(figsize=(7, 7.4))
    if weight.dim() == 3:
        limit = float(weight.abs().max())
        grid = tile(weight, rows, cols, per_tile=False) * 2 * limit - limit  # back to weight units
        shown = axis.imshow(grid, cmap="RdBu_r", vmin=-limit, vmax=limit)
        figure.colorbar(shown, ax=axis, fraction=0.046)
    else:
        axis.imshow(tile(weight, rows, cols))  # each filter min-max scaled to [0, 1] per tile
    axis.set_title(title)
    axis.axis("off")
    return figure


def transforms_figure(
    images: torch.Tensor, maps: torch.Tensor, labels: list[str], title: str
) -> Figure:
    """Side by side per transform: the transformed input (top) and its map grid (bottom)."""
    count = len(labels)
    rows, cols = _side(maps.shape[1])
    figure, axes = plt.subplots(2, count, figsize=(3.2 * count, 6.8), squeeze=False)
    for index, label in enumerate(labels):
        axes[0, index].imshow(images[index].permute(1, 2, 0).clamp(0, 1).numpy())
        axes[0, index].set_title(label)
        axes[1, index].imshow(tile(maps[index], rows, cols), cmap="gray")
        for axis in axes[:, index]:
            axis.axis("off")
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def top5_figure(top5: pd.DataFrame, title: str) -> Figure:
    """Top-5 bars: one panel per image (rows) and transform (columns)."""
    images, transforms = list(dict.fromkeys(top5["image"])), list(dict.fromkeys(top5["transform"]))
    figure, axes = plt.subplots(
        len(images), len(transforms), figsize=(3.4 * len(transforms), 2.0 * len(images)),
        squeeze=False,
    )  # fmt: skip
    for (image, transform), rows in top5.groupby(["image", "transform"], sort=False):
        axis = axes[images.index(image), transforms.index(transform)]
        rows = rows.sort_values("rank", ascending=False)
        names = [name.split(",")[0][:22] for name in rows["class_name"]]
        axis.barh(names, rows["probability"], color="tab:blue")
        axis.set_xlim(0, 1)
        axis.tick_params(labelsize=7)
        axis.set_title(f"{image} / {transform}", fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def filter_change_figure(before: torch.Tensor, after: torch.Tensor, title: str) -> Figure:
    """conv1 filters before and after fine-tuning on one shared scale, and |after - before|."""
    rows, cols = _side(len(before))
    both = torch.stack([before, after])
    low, high = float(both.min()), float(both.max())
    scaled = (both - low) / max(high - low, 1e-12)
    change = (after - before).abs().mean(1)  # per filter, mean over input channels
    figure, axes = plt.subplots(1, 3, figsize=(15, 5.4))
    for axis, filters, name in zip(axes[:2], scaled, ("before", "after"), strict=True):
        axis.imshow(tile(filters.clamp(0, 1), rows, cols, per_tile=False))
        axis.set_title(f"{name} (shared colour scale)")
    shown = axes[2].imshow(tile(change, rows, cols, per_tile=False) * float(change.max()))
    figure.colorbar(shown, ax=axes[2], fraction=0.046)
    axes[2].set_title("|after - before| (mean over RGB)")
    for axis in axes:
        axis.axis("off")
    figure.suptitle(title)
    return figure


def learning_curves_figure(history: pd.DataFrame, title: str = "val_acc per trial") -> Figure:
    """val_acc against epoch, one line per trial; x marks an early stop, dashed: cached features."""
    figure, axis = plt.subplots(figsize=(8, 5))
    for trial_id, rows in history.groupby("trial_id", sort=False):
        cached = bool(rows.get("cached_features", pd.Series([False])).iloc[0])
        label = rows["label"].iloc[0] if "label" in rows else trial_id
        (line,) = axis.plot(rows["epoch"], rows["val_acc"], "--" if cached else "-", marker=".",
                            label=label)  # fmt: skip
        if "early_stopped" in rows and bool(rows["early_stopped"].iloc[-1]):
            last = rows.iloc[-1]
            axis.plot(last["epoch"], last["val_acc"], "x", color=line.get_color(), markersize=12)
    axis.set_xlabel("epoch")
    axis.set_ylabel("val_acc")
    axis.set_title(f"{title} (x: early stop; dashed: cached features)")
    axis.legend(fontsize=7)
    axis.grid(alpha=0.3)
    return figure


def adversarial_figure(
    original: torch.Tensor, attempts: list, top5: list[pd.DataFrame], title: str
) -> Figure:
    """Per column: the image (original, then each attempt), its amplified perturbation, top-5."""
    count = 1 + len(attempts)
    figure, axes = plt.subplots(3, count, figsize=(3.3 * count, 8.5), squeeze=False)
    images = [original, *(a.image for a in attempts)]
    names = ["original", *(f"{a.kind} {a.strength:.3g}" for a in attempts)]
    for index, (image, name, table) in enumerate(zip(images, names, top5, strict=True)):
        axes[0, index].imshow(image[0].permute(1, 2, 0).clamp(0, 1).numpy())
        axes[0, index].set_title(name, fontsize=9)
        delta = (image - original)[0]
        scale = float(delta.abs().max())
        if index and scale > 0:
            axes[1, index].imshow((delta / (2 * scale) + 0.5).permute(1, 2, 0).numpy())
            axes[1, index].set_title(
                f"perturbation x{0.5 / scale:.0f}, Linf {scale:.4f}", fontsize=8
            )
        rows = table.sort_values("rank", ascending=False)
        names_ = [n.split(",")[0][:20] for n in rows["class_name"]]
        axes[2, index].barh(names_, rows["probability"], color="tab:red" if index else "tab:blue")
        axes[2, index].set_xlim(0, 1)
        axes[2, index].tick_params(labelsize=7)
        axes[0, index].axis("off")
        axes[1, index].axis("off")
    figure.suptitle(title)
    figure.tight_layout()
    return figure
