"""What a check covers: stratified samples, the order of exact channels, the coverage text."""

import numpy as np
from conftest import make_spec

from convcheck.geometry import geometry
from convcheck.methods.channels import channel_order
from convcheck.methods.sample import stratified
from convcheck.result import Coverage


def _picked(spec, tensor, samples, seed=0):
    geom = geometry(spec)
    flat = stratified(tensor, geom, samples, np.random.default_rng(seed))
    return geom, flat, set(zip(*np.unravel_index(flat, geom.shapes[tensor])))


def test_samples_start_where_mistakes_live():
    """Corners of the first and last channel, every stride phase, each side, the leftover row."""
    spec = make_spec(n=(11, 13), m=(3, 3), k=4, p=5, stride=(2, 3), batch=2)
    geom, flat, picked = _picked(spec, "x", samples=200)
    assert len(flat) == 200 and len(set(flat)) == 200
    for n, c in [(0, 0), (1, 3)]:
        assert {(n, c, 0, 0), (n, c, 0, 12), (n, c, 10, 0), (n, c, 10, 12)} <= picked
        phases = {(i % 2, j % 3) for (nn, cc, i, j) in picked if (nn, cc) == (n, c)}
        assert phases == {(a, b) for a in range(2) for b in range(3)}
    assert geom.leftover == (0, 1)                    # (13 - 3) % 3: the last column is read by no window
    assert any(j == 12 and i not in (0, 10) for (_, _, i, j) in picked)


def test_samples_of_filters_hold_corner_taps_of_first_and_last_filter_and_channel():
    spec = make_spec(n=(9, 9), m=(3, 3), k=4, p=5)
    _, flat, picked = _picked(spec, "w", samples=30)
    assert len(flat) == 30
    assert {(0, 0, 0, 0), (4, 3, 2, 2), (0, 3, 0, 2), (4, 0, 2, 0), (0, 0, 1, 1)} <= picked


def test_few_samples_keep_the_priorities_and_many_cover_everything():
    spec = make_spec(n=(9, 9), m=(3, 3), k=2, p=2)
    _, flat, picked = _picked(spec, "x", samples=4)
    assert picked == {(0, 0, 0, 0), (0, 1, 0, 0), (0, 0, 0, 8), (0, 1, 0, 8)}
    geom, flat, _ = _picked(spec, "x", samples=10**6)
    assert np.array_equal(flat, np.arange(np.prod(geom.shapes["x"])))


def test_samples_depend_on_the_seed_beyond_the_priorities():
    spec = make_spec(n=(20, 20), m=(3, 3), k=3, p=3)
    assert not np.array_equal(_picked(spec, "x", 64, seed=1)[1], _picked(spec, "x", 64, seed=2)[1])
    assert np.array_equal(_picked(spec, "x", 64, seed=1)[1], _picked(spec, "x", 64, seed=1)[1])


def test_channel_order_is_first_last_then_the_seeds_draw():
    order = channel_order(64, np.random.default_rng(3))
    assert order[:2] == [0, 63] and sorted(order) == list(range(64))
    assert order != channel_order(64, np.random.default_rng(4))
    assert channel_order(1, np.random.default_rng(0)) == [0]
    assert channel_order(2, np.random.default_rng(0)) == [0, 1]


def test_coverage_text_says_what_was_covered_and_how():
    assert Coverage(total=10, exact=10).text() == "every coordinate"
    assert Coverage(total=10, exact=10, projections=16).text() == "every coordinate"
    partial = Coverage(total=640, exact=30, channels=(0, 17, 63), of_channels=64, projections=16, filters=True)
    assert partial.text() == ("every coordinate of input channels 0, 17, 63 (3 of 64, all filters) "
                              "+ 16 random projections (each filter on its own)")
    assert Coverage(total=200, exact=5, channels=(0, 1, 2, 5, 9), of_channels=10).text().startswith(
        "every coordinate of input channels 0-2, 5, 9 (5 of 10)")
    assert Coverage(total=1000, exact=64, sampled=64).text() == "64 sampled of 1,000"
    assert Coverage(total=1000, projections=2).text() == "2 random projections"
    many = Coverage(total=10**4, exact=40, channels=tuple(range(0, 80, 2)), of_channels=100)
    assert "more; all in --format json" in many.text() and many.as_dict()["channels"] == list(range(0, 80, 2))
    assert not partial.every and partial.as_dict()["every_coordinate"] is False
