"""Sobol configurations of a space: inside its bounds, of the right types, reproducible, and
accepted by the job that owns the space."""

from __future__ import annotations

import math

from search_spaces.mnist import mnist_bench_space
from search_spaces.sobol import from_unit, grid_configs, sobol_configs
from search_spaces.space import Choice, Float, Int
from tune_jobs.jobs import get_job


def test_sobol_configs_lie_inside_the_space_and_the_job_accepts_them():
    space = mnist_bench_space()
    configs = sobol_configs(space, 64, seed=3)
    assert len(configs) == 64
    for config in configs:
        for name, dimension in space.dimensions.items():
            value = config[name]
            if isinstance(dimension, Choice):
                assert value in dimension.options
            else:
                assert dimension.low <= value <= dimension.high
                assert isinstance(value, int) == isinstance(dimension, Int)
        get_job("mnist-bench").validate({**space.fixed, **config})
    # Every optimizer and both halves of each range are visited by 64 space-filling points.
    assert {c["optimizer"] for c in configs} == {"sgd", "momentum", "adam"}
    lrs = [math.log10(c["lr"]) for c in configs]  # log scale: half the points below 1e-2
    assert 24 <= sum(v < -2 for v in lrs) <= 40


def test_sobol_configs_are_reproducible_and_a_longer_run_extends_a_shorter_one():
    space = mnist_bench_space()
    assert sobol_configs(space, 8, seed=1) == sobol_configs(space, 8, seed=1)
    assert sobol_configs(space, 8, seed=1) == sobol_configs(space, 16, seed=1)[:8]
    assert sobol_configs(space, 8, seed=1) != sobol_configs(space, 8, seed=2)


def test_unit_positions_map_on_each_dimension_scale():
    assert math.isclose(from_unit(Float(1e-4, 1.0, grid=(1e-2,), log=True), 0.5), 1e-2)
    assert math.isclose(from_unit(Float(0.0, 0.6, grid=(0.3,)), 0.5), 0.3)
    assert from_unit(Int(8, 32, grid=(16,), log=True), 0.5) == 16
    options = Choice(("sgd", "momentum", "adam"))
    assert [from_unit(options, u) for u in (0.0, 0.34, 0.67, 0.999)] == [
        "sgd", "momentum", "adam", "adam",
    ]  # fmt: skip


def test_the_bench_grid_has_64_points_inside_its_ranges():
    space = mnist_bench_space()
    assert len(space.dimensions) == 6
    points = grid_configs(space)
    assert len(points) == 64 == space.grid_size()
    assert len({tuple(p.values()) for p in points}) == 64
    get_job("mnist-bench").check_space(space)
