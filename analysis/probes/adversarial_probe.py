"""`tune-jobs probe adversarial`: fool an ImageNet classifier on one image and report how."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from analysis.probes.adversarial import PGD_STEPS, Attempt, attempts_frame, fool
from analysis.probes.classifier import Classifier, top5_frame
from analysis.probes.figures import adversarial_figure
from analysis.probes.images import ProbeError, markdown_table, read_image


@dataclass(frozen=True)
class AdversarialProbe:
    label: int
    clean_correct: bool | None  # None: no --label given, the clean prediction is the reference
    attempts: list[Attempt]
    table: pd.DataFrame
    top5: pd.DataFrame
    files: list[Path]


def resolve_label(label: str | None, categories: tuple[str, ...]) -> int | None:
    """A class index from an index or a (case-insensitive) name fragment; None stays None."""
    if label is None:
        return None
    if label.isdigit():
        index = int(label)
        if index < len(categories):
            return index
        raise ProbeError(f"--label {label}: class index must be below {len(categories)}")
    matches = [i for i, name in enumerate(categories) if label.lower() in name.lower()]
    if len(matches) != 1:
        shown = ", ".join(categories[i] for i in matches[:5]) or "none"
        raise ProbeError(f"--label {label!r} matches {len(matches)} classes ({shown}); be precise")
    return matches[0]


def probe_adversarial(
    image_path: Path,
    out: Path,
    classifier: Classifier,
    label: str | None = None,
    pgd_steps: int = PGD_STEPS,
) -> AdversarialProbe:
    """Find perturbations that change the prediction on one image; write table and figure."""
    x = classifier.prepare(read_image(image_path)).unsqueeze(0)
    true_label = resolve_label(label, classifier.categories)
    clean = classifier.probabilities(x)[0]
    predicted = int(clean.argmax())
    reference = predicted if true_label is None else true_label
    attempts = fool(classifier.model, x, reference, pgd_steps)
    table = attempts_frame(attempts, classifier.categories, reference)
    top5 = [top5_frame(clean, classifier.categories, image="original")]
    for attempt in attempts:
        probabilities = classifier.probabilities(attempt.image)[0]
        top5.append(top5_frame(probabilities, classifier.categories, image=attempt.kind))
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "adversarial.csv", out / "adversarial.md", out / "adversarial_top5.csv"]
    table.to_csv(files[0], index=False)
    all_top5 = pd.concat(top5, ignore_index=True)
    files[1].write_text(
        markdown_table(table, ".4g") + "\n## Top-5 before and after\n\n" + markdown_table(all_top5)
    )
    all_top5.to_csv(files[2], index=False)
    tag = " (RANDOM weights)" if classifier.random else ""
    figure = adversarial_figure(
        x, attempts, top5, f"{image_path.name}: reference class {classifier.categories[reference]}"
        f"{tag}"
    )  # fmt: skip
    figure.savefig(out / "adversarial.png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    files.append(out / "adversarial.png")
    correct = None if true_label is None else predicted == true_label
    return AdversarialProbe(reference, correct, attempts, table, all_top5, files)
