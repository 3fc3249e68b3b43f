"""`tune-jobs theory ...`: run the theory checks, print what they measured, save their figures.

Exit codes: 0 every check holds, 1 a check fails, 2 bad input (nothing is computed or written).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from analysis.theory.checks import Check

DEFAULT_OUT = Path("results/theory")
COST_CHOICES = ("quadratic", "cross-entropy")  # the same names as analysis.theory.backprop.COSTS


def add_theory_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add `theory` and its checks to a CLI's sub-command parsers; each sets `func`."""
    theory = subparsers.add_parser(
        "theory",
        help="numerical checks of the theory problems",
        description="Measure the claims of the theory problems and save figures.",
    )
    checks = theory.add_subparsers(dest="theory_check", metavar="CHECK", required=True)
    for name, func, help_text in (
        ("vanishing-gradient", _vanishing, "width where |w sigma'(wa+b)| >= 1, and its maximum"),
        ("unstable-gradients", _unstable, "per-layer gradient norms for several activations"),
        ("momentum", _momentum, "momentum descent for mu in {-0.5, 0, 0.5, 0.9, 1, 1.1}"),
    ):
        sub = checks.add_parser(name, help=help_text, description=help_text)
        sub.add_argument(
            "--out",
            type=Path,
            default=DEFAULT_OUT,
            help=f"folder for figures and tables (default: {DEFAULT_OUT})",
        )
        sub.set_defaults(func=func)
    backprop = checks.add_parser(
        "backprop",
        help="hand-derived conv/max-pool/FC backpropagation against autograd",
        description="Hand-derived conv/max-pool/FC backpropagation against autograd (float64).",
    )
    backprop.add_argument("--seed", type=int, default=0, help="seed of the random cases")
    backprop.add_argument(
        "--cost", choices=COST_CHOICES, default=None, help="cost function (default: both)"
    )
    backprop.set_defaults(func=_backprop)


def _out_dir(path: Path) -> Path | None:
    """Create the output folder, or print why not and return None."""
    if path.exists() and not path.is_dir():
        print(f"error: --out {path} exists and is not a folder", file=sys.stderr)
        return None
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"error: cannot create --out {path}: {exc}", file=sys.stderr)
        return None
    return path


def _report(checks: list[Check], written: list[Path]) -> int:
    """Print the checks and the files written; the exit code."""
    print("\nchecks:")
    for check in checks:
        print(f"  [{'PASS' if check.passed else 'FAIL'}] {check.name} (value {check.value:.6g})")
    if written:
        print("\nfiles written:")
        for path in written:
            print(f"  {path}")
    from analysis.theory.checks import all_passed

    return 0 if all_passed(checks) else 1


def _vanishing(args: argparse.Namespace) -> int:
    out = _out_dir(args.out)
    if out is None:
        return 2
    # Imported here so that `tune-jobs --help` does not pay for scipy.
    from analysis.theory.plots import plot_width
    from analysis.theory.vanishing import vanishing_gradient_check

    result = vanishing_gradient_check()
    print("Set of a with |w sigma'(wa + b)| >= 1: width, closed form vs brentq roots")
    print(result.table.to_string(index=False, float_format=lambda v: f"{v:.12g}"))
    m, mn = result.maximum, result.maximum_numerical
    print(
        f"\nmaximum width (bounded minimize_scalar on the formula): |w| = {m.weight:.6f}, "
        f"width = {m.width:.6f}"
    )
    print(
        f"same on the root-finding width:                          |w| = {mn.weight:.6f}, "
        f"width = {mn.width:.6f}"
    )
    b = result.below_four
    print(
        f"|w| < 4: max of |w| sigma'(z) on the grid = {b.max_factor:.6f} "
        f"(at w = {b.at_weight:.4f}, z = {b.at_z:.4f}; the bound is |w|/4 < 1)"
    )
    png, csv = out / "vanishing_gradient_width.png", out / "vanishing_gradient_table.csv"
    plot_width(result.curve, result.maximum).savefig(png, dpi=120)
    result.table.to_csv(csv, index=False)
    return _report(result.checks, [png, csv])


def _unstable(args: argparse.Namespace) -> int:
    out = _out_dir(args.out)
    if out is None:
        return 2
    from analysis.theory.plots import plot_layer_norms
    from analysis.theory.unstable import unstable_gradients

    result = unstable_gradients()
    depth = int(result.norms["layer"].max())
    print(f"||dC/db_l|| per layer at initialization ({depth} layers, width 64, seed 0)")
    table = result.norms.pivot(index="layer", columns="activation", values="bias_grad_norm")
    print(table[list(result.summary["activation"])].to_string(float_format=lambda v: f"{v:.3e}"))
    print("\nfirst/last layer ratio (bias gradient; weight gradient for comparison):")
    cols = [
        "activation",
        "max_derivative",
        "weight_gain",
        "first_over_last",
        "weight_grad_first_over_last",
        "trend",
    ]
    print(result.summary[cols].to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    png, csv = out / "unstable_gradients.png", out / "unstable_gradients.csv"
    plot_layer_norms(result.norms, f"({depth} layers)").savefig(png, dpi=120)
    result.norms.to_csv(csv, index=False)
    return _report(result.checks, [png, csv])


def _momentum(args: argparse.Namespace) -> int:
    out = _out_dir(args.out)
    if out is None:
        return 2
    from analysis.theory.momentum import CURVATURES, NET_LR, QUAD_LR, STEPS, momentum_study
    from analysis.theory.plots import plot_momentum

    result = momentum_study()
    print(f"Momentum descent v <- mu v - eta grad, x <- x + v, {STEPS} steps")
    print(
        f"quadratic: curvatures {CURVATURES}, eta = {QUAD_LR}; "
        f"network: 1-16-1 tanh on sin(2x), eta = {NET_LR}"
    )
    cols = ["problem", "mu", "final_loss", "spectral_radius", "flip_fraction", "verdict", "steps"]
    summary = result.summary.sort_values(["problem", "mu"], ascending=[False, True])
    print(summary[cols].to_string(index=False, float_format=lambda v: f"{v:.3g}", na_rep="-"))
    png, csv = out / "momentum.png", out / "momentum_summary.csv"
    plot_momentum(result.losses).savefig(png, dpi=120)
    result.summary.to_csv(csv, index=False)
    return _report(result.checks, [png, csv])


def _backprop(args: argparse.Namespace) -> int:
    if args.seed < 0:
        print(f"error: --seed must be >= 0, got {args.seed}", file=sys.stderr)
        return 2
    from analysis.theory.backprop_check import (
        TOLERANCE,
        backprop_check,
        count_tied_windows,
        tie_case,
    )
    from analysis.theory.checks import Check

    costs = (args.cost,) if args.cost else COST_CHOICES
    diffs = backprop_check(seed=args.seed, costs=costs)
    print("Hand-derived backpropagation vs torch autograd (float64), largest |difference|")
    print(f"cases: {', '.join(dict.fromkeys(diffs['case']))}")
    print(
        f"tied 2x2 windows in the tie case: {count_tied_windows(tie_case(args.seed))} "
        "(routed to the first maximum in row-major order, as torch's max_pool2d)"
    )
    table = diffs.pivot_table(
        index=["equation", "quantity", "function"],
        columns="cost",
        values="max_abs_diff",
        aggfunc="max",
        sort=False,
    )
    print(table.to_string(float_format=lambda v: f"{v:.2e}"))
    worst = diffs.groupby("cost", sort=False)["max_abs_diff"].max()
    checks = [
        Check(
            f"every equation matches autograd below {TOLERANCE:g} [{cost}]",
            value,
            value < TOLERANCE,
        )
        for cost, value in worst.items()
    ]
    return _report(checks, [])
