from __future__ import annotations

import pytest
from ray import tune

from search_spaces.mnist import mnist_l2_space
from search_spaces.space import Choice, Float, Int, SearchSpace


def test_grid_points_enumerate_every_dimension_and_keep_fixed_values():
    space = SearchSpace(
        {"lr": Float(0.01, 1.0, grid=(0.1, 0.5), log=True), "width": Choice((8, 16, 32))},
        fixed={"optimizer": "sgd"},
    )
    grid = space.grid_points()
    assert grid["lr"] == tune.grid_search([0.1, 0.5])
    assert grid["width"] == tune.grid_search([8, 16, 32])
    assert grid["optimizer"] == "sgd" and space.grid_size() == 6


def test_distributions_keep_log_scales_and_categories():
    space = SearchSpace(
        {
            "lr": Float(0.01, 1.0, grid=(0.1,), log=True),
            "dropout": Float(0.0, 0.5, grid=(0.1,)),
            "layers": Int(2, 4, grid=(2,)),
            "width": Choice((8, 16)),
        }
    )
    dist = space.distributions()
    assert isinstance(dist["lr"].get_sampler(), tune.search.sample.LogUniform)
    assert dist["lr"].lower == 0.01 and dist["lr"].upper == 1.0
    assert not isinstance(dist["dropout"].get_sampler(), tune.search.sample.LogUniform)
    assert (dist["layers"].lower, dist["layers"].upper) == (2, 5)  # randint excludes the upper end
    assert dist["width"].categories == [8, 16]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Float(1.0, 0.1, grid=(0.5,)), "low < high"),
        (lambda: Float(0.0, 1.0, grid=(0.5,), log=True), "low > 0"),
        (lambda: Float(0.0, 1.0, grid=(2.0,)), "outside"),
        (lambda: Choice((1,)), "two options"),
        (lambda: Choice((1, 2), grid=(3,)), "outside"),
    ],
)
def test_bad_dimensions_are_refused(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_pin_moves_a_tuned_dimension_to_the_fixed_values():
    space = mnist_l2_space().pin({"lr": 0.02})
    assert "lr" not in space.dimensions and space.fixed["lr"] == 0.02
    assert space.grid_size() == mnist_l2_space().grid_size() // 2


def test_mnist_l2_grid_is_within_the_issue_bounds():
    assert 12 <= mnist_l2_space().grid_size() <= 36
    assert set(mnist_l2_space().dimensions) >= {"lr", "weight_decay", "dropout", "width"}
