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
    return numerical.Problem(forward, x, w, b, g, stride, padding)


def _every(pb) -> dict:
    """Every coordinate through the exact engines: colour classes, tap banks, the bias bank."""
    channels = range(pb.x.shape[1])
    found = {"x": numerical.input_channels(pb, channels), "w": numerical.filter_channels(pb, channels)}
    if pb.b is not None:
        found["b"] = numerical.bias(pb)
    return found


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
def test_exact_engines_and_samples_equal_brute_force(kwargs):
    """Colour classes, tap banks and the bias bank (every coordinate), crops and filter copies
    (sampled coordinates), and channel subsets: all exact."""
    pb = _problem(**kwargs)
    every = _every(pb)
    subset_x, subset_w = np.arange(0, pb.x.size, 3), np.arange(1, pb.w.size, 2)
    cropped, copied = numerical.input_at(pb, subset_x), numerical.filter_at(pb, subset_w)
    last = [pb.x.shape[1] - 1]
    for name in every:
        expected = _brute_force(pb, name)
        np.testing.assert_allclose(every[name].ravel(), expected, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(cropped, _brute_force(pb, "x")[subset_x], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(copied, _brute_force(pb, "w")[subset_w], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(numerical.input_channels(pb, last), every["x"][:, last], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(numerical.filter_channels(pb, last), every["w"][:, last], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kwargs", GEOMETRIES)
def test_numerical_matches_analytic(kwargs):
    pb = _problem(forward=direct.forward, **kwargs)
    dx, dw, db = direct.backward(pb.g, pb.x, pb.w, pb.b, stride=pb.stride, padding=pb.padding)
    got = _every(pb)
    np.testing.assert_allclose(got["x"], dx, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(got["w"], dw, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("kwargs", GEOMETRIES)
def test_every_coordinate_costs_the_floor_in_whole_layer_forwards(kwargs):
    """One unperturbed forward, one per colour class and tap, one for the bias: no more."""
    pb = _problem(**kwargs)
    _every(pb)
    shapes = {"x": pb.x.shape, "w": pb.w.shape, "b": None if pb.b is None else pb.b.shape}
    assert pb.forwards == numerical.full_forwards(shapes, pb.stride) - 1   # the forward check is the caller's


def test_seed001_floor_is_253_forwards():
    shapes = {"x": (1, 5, 100, 100), "w": (10, 5, 5, 5), "b": (10,)}
    assert numerical.full_forwards(shapes, (1, 1)) == 5 * 25 + 5 * 25 + 1 + 1 + 1


def test_small_batches_give_the_same_values(monkeypatch):
    pb = _problem(stride=(2, 1), padding=(1, 0, 2, 1))
    whole = _every(pb)
    monkeypatch.setattr(numerical, "BATCH_BYTES", 1)  # one colour class or tap per forward call
    calls = []
    pb.progress, pb.planned = lambda done, total: calls.append((done, total)), 1e9
    one_by_one = _every(pb)
    for name in whole:
        np.testing.assert_allclose(one_by_one[name], whole[name], rtol=1e-9, atol=1e-10)  # rounding only
    shapes = {"x": pb.x.shape, "w": pb.w.shape, "b": pb.b.shape}
    assert len(calls) == numerical.full_forwards(shapes, pb.stride) - 2 and calls[-1][0] == pb.forwards


def test_a_failing_forward_is_a_numerical_error():
    calls = []

    def forward(x, w, b, *, stride, padding):
        calls.append(x.shape)
        if len(calls) > 1:
            raise RuntimeError("boom")
        return reference.forward(x, w, b, stride=stride, padding=padding)
    with pytest.raises(numerical.NumericalError, match="RuntimeError: boom"):
        numerical.filter_at(_problem(forward=forward), np.arange(3))


def test_a_forward_that_ignores_batch_size_is_caught():
    def forward(x, w, b, *, stride, padding):
        return reference.forward(x[:1], w, b, stride=stride, padding=padding)
    with pytest.raises(numerical.NumericalError, match="returned shape"):
        numerical.input_at(_problem(forward=forward, batch=1), np.arange(4))


def test_the_step_follows_the_precision_the_forward_computes_in():
    assert _problem().step == numerical.STEP[np.dtype("float64")]

    def float32_forward(x, w, b, *, stride, padding):
        return reference.forward(x, w, b, stride=stride, padding=padding).astype(np.float32)
    assert _problem(forward=float32_forward).step == numerical.STEP[np.dtype("float32")]


@pytest.mark.parametrize("kwargs", GEOMETRIES)
def test_projections_are_directional_derivatives(kwargs):
    """x: one directional derivative of L per direction; w: one per direction and filter."""
    pb = _problem(**kwargs)
    found = numerical.projections(pb, ["x", "w"], np.random.default_rng(5), directions=3)
    u, numeric = found["x"]
    assert u.shape == (3, *pb.x.shape) and numeric.shape == (3, 1)
    expected = np.tensordot(u, _brute_force(pb, "x").reshape(pb.x.shape), axes=pb.x.ndim)
    np.testing.assert_allclose(numeric[:, 0], expected, rtol=1e-8, atol=1e-8)
    u, numeric = found["w"]
    assert u.shape == (3, *pb.w.shape) and numeric.shape == (3, pb.w.shape[0])
    expected = np.einsum("dpkij,pkij->dp", u, _brute_force(pb, "w").reshape(pb.w.shape))
    np.testing.assert_allclose(numeric, expected, rtol=1e-8, atol=1e-8)
