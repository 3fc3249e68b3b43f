"""`tune-jobs theory ...`: run the theory checks, print what they measured, save their figures.

Exit codes: 0 every check holds, 1 a check fails, 2 bad input (nothing is computed or written).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from analysis.theory import backprop_check as hand_backprop
from analysis.theory.backprop import COSTS
from analysis.theory.checks import Check, all_passed
from analysis.theory.momentum import CURVATURES, NET_LR, QUAD_LR, STEPS, momentum_study
from analysis.theory.plots import plot_layer_norms, plot_momentum, plot_width
from analysis.theory.unstable import unstable_gradients
from analysis.theory.vanishing import vanishing_gradient_check
from tune_jobs.cli.common import check_out, print_files
from tune_jobs.errors import EXIT_FAILED, EXIT_OK, BadInputError

DEFAULT_OUT = Path("results/theory")


def configure(name: str, theory: argparse.ArgumentParser) -> None:
    theory.description = "Measure the claims of the theory problems and save figures."
    checks = theory.add_subparsers(dest="theory_check", metavar="CHECK", required=True)
    for check, func, help_text in (
        ("vanishing-gradient", _vanishing, "width where |w sigma'(wa+b)| >= 1, and its maximum"),
        ("unstable-gradients", _unstable, "per-layer gradient norms for several activations"),
        ("momentum", _momentum, "momentum descent for mu in {-0.5, 0, 0.5, 0.9, 1, 1.1}"),
    ):
        sub = checks.add_parser(check, help=help_text, description=help_text)
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
        "--cost", choices=COSTS, default=None, help="cost function (default: both)"
    )
    backprop.set_defaults(func=_backprop)


def _report(checks: list[Check], written: list[Path]) -> int:
    """Print the checks and the files written; the exit code."""
    print("\nchecks:")
    for check in checks:
        print(f"  [{'PASS' if check.passed else 'FAIL'}] {check.name} (value {check.value:.6g})")
    print_files(written)
    return EXIT_OK if all_passed(checks) else EXIT_FAILED


def _vanishing(args: argparse.Namespace) -> int:
    out = check_out(args.out, create=True)
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
    out = check_out(args.out, create=True)
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
    out = check_out(args.out, create=True)
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
        raise BadInputError(f"--seed must be >= 0, got {args.seed}")

    costs = (args.cost,) if args.cost else COSTS
    diffs = hand_backprop.backprop_check(seed=args.seed, costs=costs)
    print("Hand-derived backpropagation vs torch autograd (float64), largest |difference|")
    print(f"cases: {', '.join(dict.fromkeys(diffs['case']))}")
    tied = hand_backprop.count_tied_windows(hand_backprop.tie_case(args.seed))
    print(
        f"tied 2x2 windows in the tie case: {tied} "
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
            f"every equation matches autograd below {hand_backprop.TOLERANCE:g} [{cost}]",
            value,
            value < hand_backprop.TOLERANCE,
        )
        for cost, value in worst.items()
    ]
    return _report(checks, [])
