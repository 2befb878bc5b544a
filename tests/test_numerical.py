"""Finite differences through a forward only, against brute force and the analytic gradients."""

import numpy as np
import pytest

from convcheck import numerical
from convcheck.impls import direct, reference


def _problem(n=(6, 5), m=(3, 2), k=2, p=3, batch=2, stride=(1, 1), padding=(0, 0, 0, 0), bias=True,
             forward=reference.forward, seed=0):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal((batch, k, *n)), rng.standard_normal((p, k, *m))
    b = rng.standard_normal(p) if bias else None
    g = rng.standard_normal(reference.forward(x, w, b, stride=stride, padding=padding).shape)
    return numerical.Problem(forward, x, w, b, g, stride, padding, numerical.STEP[np.dtype("float64")])


def _brute_force(pb, name):
    """Central differences of the whole L = sum(G * Y), one coordinate at a time."""
    arrays = {"x": pb.x, "w": pb.w, "b": pb.b}
    out = np.zeros(arrays[name].size)
    for i in range(out.size):
        values = []
        for sign in (1, -1):
            changed = {k: (v.copy() if v is not None else None) for k, v in arrays.items()}
            changed[name].flat[i] += sign * pb.step
            values.append(np.sum(pb.g * reference.forward(changed["x"], changed["w"], changed["b"],
                                                          stride=pb.stride, padding=pb.padding)))
        out[i] = (values[0] - values[1]) / (2 * pb.step)
    return out


GEOMETRIES = [
    dict(),
    dict(n=(11, 13), m=(3, 4), k=1, p=1, batch=3),       # many pixels share a colour class
    dict(stride=(2, 2), n=(8, 7)),                      # leftover rows and columns
    dict(stride=(3, 2), n=(9, 8), m=(2, 3), padding=(2, 1, 0, 3)),
    dict(padding=(4, 4, 3, 3), n=(3, 3), m=(3, 3)),     # crops that are mostly padding
    dict(m=(1, 1), stride=(2, 3)),                      # windows that skip pixels entirely
    dict(bias=False, m=(6, 5)),                         # filter the size of the input: one output
]


@pytest.mark.parametrize("kwargs", GEOMETRIES)
def test_colouring_and_crops_equal_brute_force(kwargs):
    """All coordinates go through colour classes; a subset through crops: both are exact."""
    pb = _problem(**kwargs)
    names = ["x", "w"] + (["b"] if pb.b is not None else [])
    every = numerical.gradients(pb, {name: np.arange(getattr(pb, name).size) for name in names})
    subset = np.arange(0, pb.x.size, 3)
    cropped = numerical.gradients(pb, {"x": subset})["x"]
    for name in names:
        expected = _brute_force(pb, name)
        np.testing.assert_allclose(every[name], expected, rtol=1e-9, atol=1e-9)
        if name == "x":
            np.testing.assert_allclose(cropped, expected[subset], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("kwargs", GEOMETRIES)
def test_numerical_matches_analytic(kwargs):
    pb = _problem(forward=direct.forward, **kwargs)
    dx, dw, db = direct.backward(pb.g, pb.x, pb.w, pb.b, stride=pb.stride, padding=pb.padding)
    coords = {"x": np.arange(dx.size), "w": np.arange(dw.size)}
    got = numerical.gradients(pb, coords)
    np.testing.assert_allclose(got["x"], dx.ravel(), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(got["w"], dw.ravel(), rtol=1e-7, atol=1e-9)


def test_small_batches_give_the_same_values(monkeypatch):
    pb = _problem(stride=(2, 1), padding=(1, 0, 2, 1))
    coords = {"x": np.arange(pb.x.size), "w": np.arange(pb.w.size), "b": np.arange(pb.b.size)}
    whole = numerical.gradients(pb, coords)
    monkeypatch.setattr(numerical, "BATCH_BYTES", 1)  # one coordinate per forward call
    calls = []
    one_by_one = numerical.gradients(pb, coords, progress=lambda done, total: calls.append((done, total)))
    for name in coords:
        np.testing.assert_allclose(one_by_one[name], whole[name], rtol=1e-9, atol=1e-10)  # rounding only
    assert calls[-1] == (sum(len(c) for c in coords.values()),) * 2


def test_a_failing_forward_is_a_numerical_error():
    def forward(x, w, b, *, stride, padding):
        raise RuntimeError("boom")
    with pytest.raises(numerical.NumericalError, match="RuntimeError: boom"):
        numerical.gradients(_problem(forward=forward), {"w": np.arange(3)})


def test_a_forward_that_ignores_batch_size_is_caught():
    def forward(x, w, b, *, stride, padding):
        return reference.forward(x[:1], w, b, stride=stride, padding=padding)
    with pytest.raises(numerical.NumericalError, match="returned shape"):
        numerical.gradients(_problem(forward=forward, batch=1), {"x": np.arange(4)})


@pytest.mark.parametrize("kwargs", GEOMETRIES)
def test_projections_are_directional_derivatives(kwargs):
    pb = _problem(**kwargs)
    names = ["x", "w"] + (["b"] if pb.b is not None else [])
    found = numerical.projections(pb, names, np.random.default_rng(5), directions=3)
    for name in names:
        u, numeric = found[name]
        assert u.shape == (3, *getattr(pb, name).shape)
        expected = np.tensordot(u, _brute_force(pb, name).reshape(u.shape[1:]), axes=u.ndim - 1)
        np.testing.assert_allclose(numeric, expected, rtol=1e-8, atol=1e-8)
