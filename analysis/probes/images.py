"""Reading images for the probes, tiling maps into grids, and writing small markdown tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch


class ProbeError(ValueError):
    """A user mistake in a probe's input (missing or unreadable image, unknown transform...)."""


def read_image(path: str | Path) -> torch.Tensor:
    """The image at `path` as float RGB in [0, 1], 3 x H x W; ProbeError if it cannot be read."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise ProbeError(f"image {path} does not exist")
    try:
        with Image.open(path) as image:
            pixels = np.array(image.convert("RGB"))
    except (UnidentifiedImageError, OSError) as error:
        raise ProbeError(f"cannot read {path} as an image: {error}") from None
    except Image.DecompressionBombError as error:  # not an OSError: PIL's guard against bombs
        raise ProbeError(f"image {path} is too large to decode safely: {error}") from None
    return torch.from_numpy(pixels).permute(2, 0, 1).float().div(255.0)


def unique_stems(paths: list[Path]) -> list[str]:
    """File stems, made unique with a numeric suffix where two images share one."""
    seen: dict[str, int] = {}
    stems = []
    for path in paths:
        count = seen.get(path.stem, 0)
        seen[path.stem] = count + 1
        stems.append(path.stem if count == 0 else f"{path.stem}-{count + 1}")
    return stems


def tile(maps: torch.Tensor, rows: int, cols: int, per_tile: bool = True, gap: int = 1):
    """Tile N x H x W maps (or N x 3 x H x W colour images) into one array with `gap` borders.

    `per_tile` scales each tile to [0, 1] on its own (shows every map's structure); otherwise one
    scale for all (shows which maps respond strongest).
    """
    maps = maps.detach().float()
    colour = maps.dim() == 4
    flat = maps.reshape(len(maps), -1)
    if per_tile:
        low, high = flat.min(1).values, flat.max(1).values
    else:
        low, high = flat.min().expand(len(maps)), flat.max().expand(len(maps))
    shape = (-1, 1, 1, 1) if colour else (-1, 1, 1)
    scaled = (maps - low.view(shape)) / (high - low).clamp_min(1e-12).view(shape)
    h, w = maps.shape[-2:]
    grid = np.ones(((h + gap) * rows - gap, (w + gap) * cols - gap, *((3,) if colour else ())))
    for index in range(min(len(maps), rows * cols)):
        r, c = divmod(index, cols)
        tile_ = scaled[index].permute(1, 2, 0) if colour else scaled[index]
        grid[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = tile_.numpy()
    return grid


def markdown_table(frame: pd.DataFrame, floatfmt: str = ".4f") -> str:
    """A GitHub markdown table of `frame` (no extra dependency)."""

    def cell(value) -> str:
        if isinstance(value, float):
            return format(value, floatfmt)
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |"]
    lines.append("| " + " | ".join("---" for _ in frame.columns) + " |")
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(False)]
    return "\n".join(lines) + "\n"
