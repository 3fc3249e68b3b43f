"""Problem 5: AlexNet's first layer (feature maps, filters) and top-5 predictions under transforms.

`probe_alexnet` writes every figure and table into a folder and returns what it computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from analysis.probes.classifier import Classifier, load_classifier, top5_frame  # noqa: E402
from analysis.probes.figures import (  # noqa: E402
    feature_map_figure,
    filters_figure,
    top5_figure,
    transforms_figure,
)
from analysis.probes.images import markdown_table, read_image, unique_stems  # noqa: E402
from analysis.probes.transforms import Applied  # noqa: E402

ORIGINAL = "original"
EXPLANATION = """\
# How AlexNet's first-layer feature maps relate to its filters

The first layer is `Conv2d(3, 64, kernel_size=11, stride=4, padding=2)`: 64 filters of 3 x 11 x 11
weights. Feature map k is filter k slid over the 224 x 224 input in steps of 4 pixels:
(224 + 2*2 - 11) / 4 + 1 = 55 positions per side, so the layer outputs 64 x 55 x 55. Each value is
the dot product of filter k with one 11 x 11 RGB patch, plus a bias: a map is bright where the
image locally looks like its filter. Filters that are oriented edges (light/dark stripes) light up
along edges of that orientation; colour-blob filters light up on regions of that colour; the
low-frequency ones respond to brightness. The maps are the conv output before the ReLU, each
scaled to its own range in the grids. Transforms move the maps with the image (rotation, crop),
soften them (blur removes the fine edges the stripe filters need), add speckle (noise excites the
high-frequency filters everywhere) or blank them (occlusion gives flat maps over the grey square).
"""
RANDOM_WARNING = (
    "WARNING: weights=none: AlexNet has RANDOM weights. Its filters are noise and its top-5 "
    "classes are meaningless; pass --weights FILE or use the ImageNet weights for real results."
)


@dataclass(frozen=True)
class AlexNetProbe:
    """What one probe computed: per-image first-layer maps, the filters, and the top-5 table."""

    feature_maps: dict[str, torch.Tensor]  # image stem -> 64 x 55 x 55 (untransformed image)
    filters: torch.Tensor  # 64 x 3 x 11 x 11
    top5: pd.DataFrame  # image, transform, rank, class_index, class_name, probability
    files: list[Path]
    random_weights: bool


def first_layer(classifier: Classifier) -> torch.nn.Conv2d:
    return classifier.model.model.features[0]


@torch.no_grad()
def first_layer_maps(classifier: Classifier, images: torch.Tensor) -> torch.Tensor:
    """Output of the first conv layer (before its ReLU) for [0, 1] images: N x 64 x 55 x 55."""
    normalized = (images - classifier.model.mean) / classifier.model.std
    return first_layer(classifier)(normalized)


def probe_alexnet(
    image_paths: list[Path],
    out: Path,
    transforms: list[Applied],
    weights: str = "imagenet",
    classifier: Classifier | None = None,
) -> AlexNetProbe:
    """Run the probe on every image and write figures, tables and the explanation into `out`."""
    images = [read_image(path) for path in image_paths]  # every image checked before any work
    classifier = classifier or load_classifier("alexnet", weights)
    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []

    def save(figure, name: str) -> None:
        figure.savefig(out / name, dpi=110, bbox_inches="tight")
        plt.close(figure)
        files.append(out / name)

    weight = first_layer(classifier).weight.detach()
    tag = " (RANDOM weights)" if classifier.random else ""
    save(filters_figure(weight[:, 0], f"AlexNet conv1: 64 filters 11x11, input channel 0{tag}"),
         "filters_channel0.png")  # fmt: skip
    save(filters_figure(weight, f"AlexNet conv1: 64 filters 11x11 as RGB{tag}"), "filters_rgb.png")

    tables, maps_by_image = [], {}
    for stem, image in zip(unique_stems(image_paths), images, strict=True):
        variants = {ORIGINAL: classifier.prepare(image)}
        variants |= {t.label: t(variants[ORIGINAL]) for t in transforms}
        batch = torch.stack(list(variants.values()))
        maps = first_layer_maps(classifier, batch)
        maps_by_image[stem] = maps[0]
        shape = "x".join(map(str, maps.shape[1:]))
        save(feature_map_figure(maps[0], f"{stem}: conv1 output maps, {shape}{tag}"),
             f"{stem}_feature_maps.png")  # fmt: skip
        save(transforms_figure(batch, maps, list(variants), f"{stem}: conv1 maps ({shape})"),
             f"{stem}_feature_maps_transforms.png")  # fmt: skip
        probabilities = classifier.probabilities(batch)
        for name, row in zip(variants, probabilities, strict=True):
            tables.append(top5_frame(row, classifier.categories, image=stem, transform=name))
    top5 = pd.concat(tables, ignore_index=True)
    top5.to_csv(out / "top5.csv", index=False)
    header = f"{RANDOM_WARNING}\n\n" if classifier.random else ""
    (out / "top5.md").write_text(header + markdown_table(top5))
    save(top5_figure(top5, f"AlexNet top-5{tag}"), "top5.png")
    (out / "alexnet.md").write_text(EXPLANATION)
    files += [out / "top5.csv", out / "top5.md", out / "alexnet.md"]
    return AlexNetProbe(maps_by_image, weight, top5, files, classifier.random)
