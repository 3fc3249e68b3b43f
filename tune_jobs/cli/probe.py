"""`tune-jobs probe ...`: look inside models (AlexNet's first layer, adversarial examples), at the
CIFAR-10 data, and at a finished `cifar10-transfer` experiment.

Exit codes: 0 done, 1 the adversarial search found no perturbation that changes the prediction,
2 bad input (missing or unreadable image, unknown transform, unusable weights; nothing is written).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from analysis.probes.adversarial_probe import probe_adversarial
from analysis.probes.alexnet import RANDOM_WARNING, probe_alexnet
from analysis.probes.cifar_samples import save_class_samples
from analysis.probes.classifier import load_classifier
from analysis.probes.images import ProbeError, read_image
from analysis.probes.transfer import check_job, report_transfer
from analysis.probes.transforms import parse_transforms
from trainables.data import DataError, cifar10_classes, load_cifar10
from trainables.pretrained import WeightsError
from tune_jobs.cli.common import check_out, print_files
from tune_jobs.errors import EXIT_OK, bad_input

DEFAULT_OUT = Path("results/probes")
WEIGHTS_HELP = (
    "imagenet (torchvision's, via the TORCH_HOME cache), none (random) or a state-dict FILE"
)


# A probe's own bad input: a missing or unreadable image, unusable weights, missing or bad data.
PROBE_INPUT_ERRORS = (ProbeError, WeightsError, DataError)


def configure(name: str, probe: argparse.ArgumentParser) -> None:
    probe.description = __doc__.split("\n\n")[0]
    probes = probe.add_subparsers(dest="probe", metavar="PROBE", required=True)

    alexnet = probes.add_parser(
        "alexnet", help="AlexNet first-layer maps and filters, top-5 under transforms"
    )
    alexnet.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    alexnet.add_argument(
        "--transforms", nargs="+", metavar="NAME[=SEVERITY]",
        help="crop=KEEP blur=SIGMA noise=STD rotate=DEGREES occlude=FRACTION (default: all five)",
    )  # fmt: skip
    _common(alexnet, "alexnet")
    alexnet.set_defaults(func=_alexnet)

    adversarial = probes.add_parser(
        "adversarial", help="smallest FGSM/PGD, noise and rotation that change the prediction"
    )
    adversarial.add_argument("image", type=Path, metavar="IMAGE")
    adversarial.add_argument("--model", choices=("resnet18", "alexnet"), default="resnet18")
    adversarial.add_argument(
        "--label", help="true class (ImageNet index or name); default: the clean prediction"
    )
    adversarial.add_argument("--size", type=int, help="input side (default: the weights' 224)")
    adversarial.add_argument("--pgd-steps", type=int, default=10)
    _common(adversarial, "adversarial")
    adversarial.set_defaults(func=_adversarial)

    cifar = probes.add_parser("cifar10", help="save one CIFAR-10 image of each class, labelled")
    cifar.add_argument("--data-dir", help="data root (default: $TUNE_JOBS_DATA_DIR or user cache)")
    cifar.add_argument("--out", type=Path, default=DEFAULT_OUT / "cifar10")
    cifar.set_defaults(func=_cifar10)

    transfer = probes.add_parser(
        "transfer", help="val_acc curves, early stops and conv1 filter change of an experiment"
    )
    transfer.add_argument("experiment", type=Path, help="a cifar10-transfer results folder")
    transfer.add_argument("--out", type=Path, default=DEFAULT_OUT / "transfer")
    transfer.set_defaults(func=_transfer)


def _common(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT / name, help="output folder")
    parser.add_argument("--weights", default="imagenet", help=WEIGHTS_HELP)


def _alexnet(args: argparse.Namespace) -> int:
    check_out(args.out)
    with bad_input(*PROBE_INPUT_ERRORS):
        transforms = parse_transforms(args.transforms)
        result = probe_alexnet(args.images, args.out, transforms, args.weights)
    if result.random_weights:
        print(RANDOM_WARNING)
    shape = "x".join(map(str, next(iter(result.feature_maps.values())).shape))
    print(f"AlexNet conv1 (64 filters, 3x11x11, stride 4): output maps {shape} per image")
    top1 = result.top5[result.top5["rank"] == 1]
    print("\ntop-1 per image and transform (top5.md has all five):")
    print(top1[["image", "transform", "class_name", "probability"]].to_string(index=False))
    print(f"\nHow the maps relate to the filters: {args.out / 'alexnet.md'}")
    print_files(result.files)
    if result.random_weights:
        print(RANDOM_WARNING)
    return EXIT_OK


def _adversarial(args: argparse.Namespace) -> int:
    check_out(args.out)
    with bad_input(*PROBE_INPUT_ERRORS):
        if args.size is not None and args.size < 32:
            raise ProbeError(f"--size must be >= 32, got {args.size}")
        if args.pgd_steps < 1:
            raise ProbeError(f"--pgd-steps must be >= 1, got {args.pgd_steps}")
        read_image(args.image)  # a bad image fails before the model is built
        classifier = load_classifier(args.model, args.weights, args.size)
        result = probe_adversarial(args.image, args.out, classifier, args.label, args.pgd_steps)
    names = classifier.categories
    if classifier.random:
        print(f"WARNING: weights=none: {args.model} has RANDOM weights; no class is 'correct'.")
    if result.clean_correct is False:
        print(
            f"WARNING: the clean image is NOT classified as {names[result.label]!r}; the search "
            "still pushes it away from that class."
        )
    reference = "the given label" if result.clean_correct is not None else "the clean prediction"
    print(f"reference class ({reference}): {result.label} {names[result.label]}")
    print(result.table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print_files(result.files)
    return 0 if result.table["fooled"].any() else 1


def _cifar10(args: argparse.Namespace) -> int:
    check_out(args.out)
    with bad_input(*PROBE_INPUT_ERRORS):
        data = load_cifar10(args.data_dir)
        classes = cifar10_classes(args.data_dir)
    files = save_class_samples(data, classes, args.out)
    print(f"One test image per class ({len(files) - 1} classes): {', '.join(classes)}")
    print_files(files)
    return EXIT_OK


def _transfer(args: argparse.Namespace) -> int:
    check_out(args.out)
    with bad_input(*PROBE_INPUT_ERRORS):
        check_job(args.experiment)  # another job's experiment would print a table of None
        summary, change, files = report_transfer(args.experiment, args.out)
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if change is None:
        print("\nNo finetune=conv1 trial with a checkpoint: no conv1 filter comparison.")
    else:
        print(
            f"\nconv1 filters, best conv1 trial {change.trial_id} (epoch {change.epoch}): "
            f"mean |after - before| = {change.mean_abs_change:.4g} "
            f"({change.relative_change:.2%} of the mean |weight| before)"
        )
    print_files(files)
    return EXIT_OK
