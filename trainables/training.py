"""Training and evaluation steps: plain functions over modules and tensors, shared by the jobs."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

OPTIMIZERS = ("sgd", "momentum", "adagrad", "adam")
EVAL_BATCH_SIZE = 250  # larger batches were slower on CPU (memory-bound activations)
# A GPU runs a batch this size of ResNet18 at 224 px in a few GiB; larger ones gain little.
GPU_EVAL_BATCH_SIZE = 1024


def penalized_parameters(model: nn.Module) -> list[nn.Parameter]:
    """Weight matrices and conv kernels: the parameters L1 and L2 act on.

    Biases and batch-norm scales are left out: they shift and scale activations rather than
    add capacity, and penalizing them only fights the normalization (the usual convention).
    """
    return [p for p in model.parameters() if p.requires_grad and p.dim() > 1]


def build_optimizer(
    name: str,
    model: nn.Module,
    lr: float,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    betas: tuple[float, float] = (0.9, 0.999),
) -> torch.optim.Optimizer:
    """One of `OPTIMIZERS`, with L2 as weight decay on `penalized_parameters` only."""
    decayed = penalized_parameters(model)
    decayed_ids = {id(p) for p in decayed}
    others = [p for p in model.parameters() if p.requires_grad and id(p) not in decayed_ids]
    groups = [
        {"params": decayed, "weight_decay": weight_decay},
        {"params": others, "weight_decay": 0.0},
    ]
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr)
    if name == "momentum":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum)
    if name == "adagrad":
        return torch.optim.Adagrad(groups, lr=lr)
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr, betas=betas)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")


def set_hyperparameters(
    optimizer: torch.optim.Optimizer,
    lr: float,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    betas: tuple[float, float] = (0.9, 0.999),
) -> None:
    """Impose a config's values on an optimizer whose state came from a checkpoint.

    `load_state_dict` restores the saved hyperparameters too; after a PBT exploit the config has
    new ones, which must win. The decayed group is the first, as `build_optimizer` orders them.
    """
    for index, group in enumerate(optimizer.param_groups):
        group["lr"] = lr
        group["weight_decay"] = weight_decay if index == 0 else 0.0
        if "momentum" in group and group["momentum"]:
            group["momentum"] = momentum
        if "betas" in group:
            group["betas"] = betas


def l1_penalty(model: nn.Module, strength: float) -> torch.Tensor:
    """strength * sum |w| over `penalized_parameters` (differentiable)."""
    total = sum(p.abs().sum() for p in penalized_parameters(model))
    return strength * total


def l2_penalty(model: nn.Module, weight_decay: float) -> torch.Tensor:
    """(weight_decay / 2) * sum w^2: the cost whose gradient SGD's weight decay applies."""
    with torch.no_grad():
        total = sum(p.pow(2).sum() for p in penalized_parameters(model))
    return 0.5 * weight_decay * total


@dataclass(frozen=True)
class EpochStats:
    train_loss: float  # mean data loss per example
    train_cost: float  # mean data loss + penalties
    finite: bool


GPU_CHECK_EVERY = 32  # batches between finiteness checks on a GPU (each one waits for the device)


def train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    l1: float = 0.0,
    weight_decay: float = 0.0,
) -> EpochStats:
    """One pass over `batches`; stops early and reports `finite=False` if the loss blows up."""
    model.train()
    # Sums stay on the model's device in float64 (the arithmetic of Python floats). The
    # finiteness check is a host sync: every batch on a CPU (free there), every
    # GPU_CHECK_EVERY batches on a GPU; a loss that blew up in between leaves NaN weights, and
    # the next check (or the one after the loop) still ends the epoch as diverged.
    loss_sum = cost_sum = None
    seen = 0
    check_every = finiteness_interval(model)
    for step, (x, y) in enumerate(batches):
        loss = F.cross_entropy(model(x), y)
        objective = loss + l1_penalty(model, l1) if l1 > 0 else loss
        if step % check_every == 0 and not torch.isfinite(objective):
            return EpochStats(math.nan, math.nan, finite=False)
        optimizer.zero_grad(set_to_none=True)
        objective.backward()
        optimizer.step()
        cost = objective.detach().double()
        if weight_decay:
            cost = cost + l2_penalty(model, weight_decay).double()
        loss_sum = _add(loss_sum, loss.detach().double() * len(y))
        cost_sum = _add(cost_sum, cost * len(y))
        seen += len(y)
    if loss_sum is None:  # no batches
        return EpochStats(math.nan, math.nan, finite=True)
    cost = cost_sum.item() / seen
    if not math.isfinite(cost):
        return EpochStats(math.nan, math.nan, finite=False)
    return EpochStats(loss_sum.item() / seen, cost, finite=True)


def finiteness_interval(model: nn.Module) -> int:
    """Batches between finiteness checks: 1 on a CPU, GPU_CHECK_EVERY on an accelerator."""
    return 1 if next(model.parameters()).device.type == "cpu" else GPU_CHECK_EVERY


def _add(total: torch.Tensor | None, value: torch.Tensor) -> torch.Tensor:
    return value if total is None else total + value


def eval_batch_size(device: torch.device | str) -> int:
    """Evaluation batch size on `device`: `EVAL_BATCH_SIZE` on a CPU, larger on a GPU."""
    return GPU_EVAL_BATCH_SIZE if torch.device(device).type == "cuda" else EVAL_BATCH_SIZE


@torch.no_grad()
def evaluate(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = EVAL_BATCH_SIZE
) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of `model` on (x, y), summed on their device."""
    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=y.device)
    correct = torch.zeros((), dtype=torch.int64, device=y.device)
    for start in range(0, len(y), batch_size):
        logits = model(x[start : start + batch_size])
        target = y[start : start + batch_size]
        loss_sum += F.cross_entropy(logits, target, reduction="sum").double()
        correct += (logits.argmax(1) == target).sum()
    return loss_sum.item() / len(y), correct.item() / len(y)
