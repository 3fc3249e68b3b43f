"""An MLP on scikit-learn's 8x8 digits, written only against tune-jobs' public API.

    tune-jobs run examples/digits_mlp.py:digits --method asha

The 1,797 digit images ship inside scikit-learn: nothing is downloaded. docs/own-job.md walks
through this file.
"""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from tune_jobs.api import (
    EPOCH,
    TEST_ACC,
    TRAIN_LOSS,
    VAL_ACC,
    VAL_LOSS,
    Choice,
    Float,
    Int,
    Job,
    SearchSpace,
    Splits,
    epoch_generator,
    report,
    restored_state,
    start_trial,
)

SPLIT_SEED = 0  # the splits are the same in every trial and every run


def load_data() -> Splits:
    """60% train, 20% validation, 20% test, stratified; pixels scaled from 0..16 to 0..1."""
    digits = load_digits()
    x = torch.tensor(digits.data / 16.0, dtype=torch.float32)
    y = torch.tensor(digits.target, dtype=torch.long)
    train_x, rest_x, train_y, rest_y = train_test_split(
        x, y, test_size=0.4, stratify=y, random_state=SPLIT_SEED
    )
    val_x, test_x, val_y, test_y = train_test_split(
        rest_x, rest_y, test_size=0.5, stratify=rest_y, random_state=SPLIT_SEED
    )
    return Splits(train_x, train_y, val_x, val_y, test_x, test_y)


def build_model(config: dict) -> nn.Module:
    layers: list[nn.Module] = []
    width_in = 64
    for _ in range(config["layers"]):
        layers += [nn.Linear(width_in, config["width"]), nn.ReLU(), nn.Dropout(config["dropout"])]
        width_in = config["width"]
    return nn.Sequential(*layers, nn.Linear(width_in, 10))


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Mean cross-entropy and accuracy."""
    model.eval()
    logits = model(x)
    loss = nn.functional.cross_entropy(logits, y).item()
    return loss, (logits.argmax(1) == y).float().mean().item()


def train_epoch(model, optimizer, data: Splits, batch_size: int, generator) -> float:
    """One pass over the training split in a seeded shuffle; the mean training loss."""
    model.train()
    order = torch.randperm(len(data.train_y), generator=generator)
    losses = []
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        loss = nn.functional.cross_entropy(model(data.train_x[batch]), data.train_y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return sum(losses) / len(losses)


def train_digits(config: dict, data: Splits) -> None:
    """One trial: train `config["epochs"]` epochs, report and checkpoint after each."""
    start_trial(config["seed"])  # seeds the weights; uses the CPUs Ray gave the trial
    model = build_model(config)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=config["lr"], weight_decay=config["weight_decay"]
    )
    done = 0
    state = restored_state()  # a scheduler paused this trial, PBT cloned it, or a retry
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        for group in optimizer.param_groups:  # PBT may have changed lr in the config
            group["lr"] = config["lr"]
        done = state["epoch"]
    for epoch in range(done, config["epochs"]):
        generator = epoch_generator(config["seed"], epoch)  # a resumed epoch sees the same batches
        train_loss = train_epoch(model, optimizer, data, config["batch_size"], generator)
        val_loss, val_acc = evaluate(model, data.val_x, data.val_y)
        _, test_acc = evaluate(model, data.test_x, data.test_y)
        report(
            {EPOCH: epoch + 1, TRAIN_LOSS: train_loss, VAL_LOSS: val_loss, VAL_ACC: val_acc,
             TEST_ACC: test_acc},
            {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch + 1},
        )  # fmt: skip


digits = Job(
    name="digits-mlp",
    description="an MLP on scikit-learn's 8x8 digits (examples/digits_mlp.py)",
    trainable=train_digits,
    space=SearchSpace(
        {
            "lr": Float(1e-4, 1e-1, grid=(3e-3, 3e-2), log=True),
            "width": Int(16, 256, grid=(32, 128), log=True),
            "dropout": Float(0.0, 0.5, grid=(0.0, 0.3)),
            "layers": Choice((1, 2)),
            # One grid point: `grid` keeps it fixed, the sampling methods still search the range.
            "weight_decay": Float(1e-6, 1e-2, grid=(1e-4,), log=True),
        },
        fixed={"batch_size": 64},
    ),
    load_data=load_data,
    max_epochs=20,
    reuse_actors=True,  # a trial is seconds: reusing Ray's worker saves starting one per trial
)
