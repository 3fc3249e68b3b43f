"""The k-fold check of a replay table's two models, the choice between them, and the card."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.replay_check import better_model, card, final_val_acc, kfold_check, seed_spread
from trainables.replay import read_table
from tune_jobs.cli import main


def test_kfold_check_scores_both_models_on_every_held_out_configuration(noisy_table):
    table = read_table(noisy_table(configs=30, seeds=2))
    check = kfold_check(table, folds=5)
    assert list(check.index) == ["nearest", "surrogate"]
    assert (check["configs"] == 30).all()
    # A smooth truth (a parabola in log lr): both models rank held-out configurations well.
    assert (check["spearman_rho"] > 0.5).all()
    assert (check["mae"] < 0.1).all()


def test_the_better_model_has_the_higher_rank_correlation_then_the_lower_error():
    check = pd.DataFrame(
        {"spearman_rho": [0.6, 0.8], "mae": [0.01, 0.02]}, index=["nearest", "surrogate"]
    )
    assert better_model(check) == "surrogate"
    assert better_model(check.assign(spearman_rho=[0.8, 0.8])) == "nearest"
    assert better_model(check.assign(spearman_rho=[float("nan"), 0.1])) == "surrogate"


def test_kfold_check_refuses_a_table_too_small_to_fold(noisy_table):
    with pytest.raises(ValueError, match="at least 5 configurations"):
        kfold_check(read_table(noisy_table(configs=4)), folds=5)


def test_check_records_its_choice_and_the_card_reports_the_seed_spread(noisy_table, capsys):
    path = noisy_table(configs=20, seeds=3)
    assert main(["replay", "check", str(path), "--folds", "4"]) == 0
    out = capsys.readouterr().out
    table = read_table(path)
    choice = table.meta["replay_model"]
    assert f"better: {choice}" in out and {r["model"] for r in table.meta["replay_check"]} == {
        "nearest", "surrogate",
    }  # fmt: skip
    spread = seed_spread(table)
    assert len(spread) == 20 and (spread["seeds"] == 3).all() and (spread["range"] > 0).all()
    assert main(["replay", "card", str(path)]) == 0
    text = capsys.readouterr().out
    assert f"std median {spread['std'].median():.4f}" in text
    assert f"range median {spread['range'].median():.4f}" in text
    assert f"replay model: {choice}" in text and "lr: float [0.001, 1.0] (log)" in text
    finals = final_val_acc(table)
    assert f"{finals.min():.4f} to {finals.max():.4f}" in "\n".join(card(table))


def test_use_sets_the_model_by_hand_with_its_reason_and_check_can_choose_again(noisy_table, capsys):
    path = noisy_table(configs=20, seeds=3)
    frame = read_table(path).frame
    for model in ("surrogate", "nearest"):
        reason = f"real runs favour {model}"
        assert main(["replay", "use", str(path), model, "--reason", reason]) == 0
        table = read_table(path)
        assert table.meta["replay_model"] == model
        pd.testing.assert_frame_equal(table.frame, frame)  # the recorded curves stay as they were
        assert main(["replay", "card", str(path)]) == 0
        assert f"replay model: {model} (real runs favour {model})" in capsys.readouterr().out
    assert main(["replay", "check", str(path), "--folds", "4"]) == 0
    assert read_table(path).meta["replay_model_reason"].startswith("replay check:")


@pytest.mark.parametrize(
    "args, named",
    [
        (["surrogate", "--reason", " "], "--reason must say why"),
        (["forest", "--reason", "x"], "invalid choice"),
    ],
)
def test_use_refuses_an_empty_reason_or_an_unknown_model(args, named, noisy_table, capsys):
    path = noisy_table(configs=6)
    before = path.read_bytes()
    try:
        code = main(["replay", "use", str(path), *args])
    except SystemExit as exit:  # argparse's refusal
        code = exit.code
    assert code == 2 and named in capsys.readouterr().err
    assert path.read_bytes() == before
