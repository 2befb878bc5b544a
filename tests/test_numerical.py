"""Finite differences through a forward only, against brute force and the analytic gradients."""

import numpy as np
import pytest
from conftest import reach_loop, reach_matrix

from convcheck import colouring, numerical
from convcheck.impls import direct, im2col, reference
from convcheck.methods import cost
from convcheck.options import FORWARD_CHECKS


def _problem(n=(6, 5), m=(3, 2), k=2, p=3, batch=2, stride=(1, 1), padding=(0, 0, 0, 0), bias=True,
             forward=reference.forward, seed=0, dilation=(1, 1), groups=1):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal((batch, k, *n)), rng.standard_normal((p, k // groups, *m))
    b = rng.standard_normal(p) if bias else None
    conv = {**({"dilation": dilation} if dilation != (1, 1) else {}), **({"groups": groups} if groups != 1 else {})}
    g = rng.standard_normal(reference.forward(x, w, b, stride=stride, padding=padding, **conv).shape)
    return numerical.Problem(forward, x, w, b, g, stride, padding, conv=conv)


def _every(pb) -> dict:
    """Every coordinate through the exact engines: colour classes, tap banks, the bias bank."""
    sets = range(pb.w.shape[1])
    found = {"x": numerical.input_channels(pb, sets), "w": numerical.filter_channels(pb, sets)}
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
                                                          stride=pb.stride, padding=pb.padding, **pb.conv)))
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
    dict(n=(9, 10), m=(3, 2), dilation=(2, 3), stride=(2, 1), padding=(2, 1, 1, 2)),   # dilated: classes interleave
    dict(n=(7, 8), k=6, p=4, groups=2, stride=(1, 2), padding=(1, 1, 0, 1)),           # one forward, every group
    dict(n=(8, 7), m=(3, 3), k=4, p=4, groups=4, dilation=(2, 1), padding=(2, 2, 1, 1)),  # depthwise, dilated
]


@pytest.mark.parametrize("kwargs", GEOMETRIES)
def test_exact_engines_and_samples_equal_brute_force(kwargs):
    """Colour classes, tap banks and the bias bank (every coordinate), crops and filter copies
    (sampled coordinates), and channel subsets: all exact."""
    pb = _problem(**kwargs)
    every = _every(pb)
    subset_x, subset_w = np.arange(0, pb.x.size, 3), np.arange(1, pb.w.size, 2)
    cropped, copied = numerical.input_at(pb, subset_x), numerical.filter_at(pb, subset_w)
    last = [pb.w.shape[1] - 1]                                          # the last set: channel k' - 1 of every group
    for name in every:
        expected = _brute_force(pb, name)
        np.testing.assert_allclose(every[name].ravel(), expected, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(cropped, _brute_force(pb, "x")[subset_x], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(copied, _brute_force(pb, "w")[subset_w], rtol=1e-9, atol=1e-9)
    inputs = numerical.channels_of(pb, last)
    assert inputs == [g * pb.w.shape[1] + last[0] for g in range(pb.groups)]
    np.testing.assert_allclose(numerical.input_channels(pb, last)[:, inputs], every["x"][:, inputs], rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_allclose(numerical.filter_channels(pb, last), every["w"][:, last], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kwargs", GEOMETRIES)
def test_numerical_matches_analytic(kwargs):
    pb = _problem(forward=direct.forward, **kwargs)
    dx, dw, db = direct.backward(pb.g, pb.x, pb.w, pb.b, stride=pb.stride, padding=pb.padding, **pb.conv)
    got = _every(pb)
    np.testing.assert_allclose(got["x"], dx, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(got["w"], dw, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("kwargs", GEOMETRIES)
def test_every_coordinate_costs_the_floor_in_whole_layer_forwards(kwargs):
    """One unperturbed forward, one per colour class and tap, one for the bias: no more."""
    pb = _problem(**kwargs)
    _every(pb)
    shapes = {"x": pb.x.shape, "w": pb.w.shape, "b": None if pb.b is None else pb.b.shape}
    assert pb.forwards == cost.full_forwards(shapes, pb.dilation) - FORWARD_CHECKS   # the caller's forward check


def test_no_colour_class_holds_two_pixels_that_share_an_output():
    """Brute force over small geometries (n 1-12, m 1-5, stride 1-4, dilation 1-3, padding 0-3):
    pixels of one class are never taps of one window, and the classes are no more than m,
    exactly m where a whole window lies inside the input."""
    import itertools
    for n, m, s, d, lo in itertools.product(range(1, 13), range(1, 6), range(1, 5), range(1, 4), range(4)):
        o = (n + 2 * lo - (d * (m - 1) + 1)) // s + 1
        if o < 1:
            continue
        taps = reach_matrix(n, o, m, s, d, lo)                          # (n, o)
        np.testing.assert_array_equal(taps, reach_loop(n, o, m, s, d, lo))
        shared = taps @ taps.T > 0                                      # pixel pairs with an output in common
        classes = colouring.colour(n, m, d)
        same = classes[:, None] == classes[None, :]
        assert not (shared & same & ~np.eye(n, dtype=bool)).any(), (n, m, s, d, lo)
        used = len(np.unique(classes))
        assert used == colouring.classes_along(n, m, d), (n, m, d)
        assert used <= m and (used == m or taps.sum(axis=0).max() < m), (n, m, s, d, lo)


@pytest.mark.parametrize("layer, forwards", [
    (dict(n=8, m=3, k=4, stride=2, padding=1), 76),                     # 3x3 stride 2: was 104
    (dict(n=8, m=1, k=8, stride=2), 20),                                # ResNet shortcut: was 44
    (dict(n=10, m=4, k=3, stride=3), 100),                              # 4x4 stride 3: was 160
    (dict(n=10, m=3, k=4, dilation=2, padding=2), 76),                  # dilation 2: was 140
    (dict(n=10, m=3, k=4, dilation=2, stride=2, padding=2), 76),        # was 184
    (dict(n=10, m=3, k=32, groups=32, padding=1), 22),                  # depthwise: was 301
    (dict(n=10, m=3, k=16, groups=4, padding=1), 76),                   # groups 4: was 184
])
def test_full_costs_the_true_floor(layer, forwards):
    """2 (k / groups) m_h m_w + 4 whole-layer forwards (bias, the unperturbed point, the forward
    check's two calls), whatever the stride, dilation and groups."""
    from conftest import make_spec

    from convcheck import verify
    spec = make_spec(**{"p": layer["k"], **layer})
    result = verify(spec, "im2col", method="full")
    assert result.passed and result.forwards == forwards
    assert forwards == 2 * (spec.k // spec.groups) * spec.m[0] * spec.m[1] + 4


def test_seed001_floor_is_254_forwards():
    shapes = {"x": (1, 5, 100, 100), "w": (10, 5, 5, 5), "b": (10,)}
    assert cost.full_forwards(shapes) == 5 * 25 + 5 * 25 + 1 + 1 + FORWARD_CHECKS


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
    assert len(calls) == cost.full_forwards(shapes) - 1 - FORWARD_CHECKS and calls[-1][0] == pb.forwards


@pytest.mark.parametrize("kwargs", GEOMETRIES)
def test_the_builtin_forward_never_writes_into_its_inputs(kwargs):
    """What `Problem(trusted=True)` relies on to reuse its batches of perturbed copies: im2col's
    forward on read-only x, w and b (NumPy raises on any write), the transposed layer's too, and
    twice in a row (its scratch reused) with the same answer as the loop reference."""
    pb = _problem(**kwargs)
    for a in (pb.x, pb.w, pb.b):
        if a is not None:
            a.flags.writeable = False
    for _ in range(2):
        y = im2col.forward(pb.x, pb.w, pb.b, stride=pb.stride, padding=pb.padding, **pb.conv)
        np.testing.assert_allclose(y, pb.y0, rtol=1e-12, atol=1e-12)
    wt = np.ascontiguousarray(pb.w.swapaxes(0, 1)) if pb.groups == 1 else None
    if wt is not None:
        wt.flags.writeable = False
        y = im2col.forward(pb.x, wt, None, stride=pb.stride, padding=pb.padding, transposed=True, **pb.conv)
        np.testing.assert_allclose(y, reference.forward(pb.x, wt, None, stride=pb.stride, padding=pb.padding,
                                                        transposed=True, **pb.conv), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kwargs", GEOMETRIES[:4])
def test_reused_copies_give_the_values_fresh_copies_give(kwargs, monkeypatch):
    """trusted: batches made once and restored between forwards; else made afresh every call.
    Small batches (several per engine, the last one shorter) so that restoring is exercised."""
    monkeypatch.setattr(numerical, "BATCH_BYTES", 20000)          # 2 copies, or 9 banks then 3
    fresh = _every(_problem(forward=im2col.forward, **kwargs))
    trusted = _problem(forward=im2col.forward, **kwargs)
    trusted.trusted = True
    reused = _every(trusted)
    for name in fresh:
        np.testing.assert_array_equal(reused[name], fresh[name])


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


def _held(u: numerical.Directions) -> np.ndarray:
    """Every direction at once, drawn in chunks of one (the engine never holds them all)."""
    return np.concatenate([chunk for _, chunk in u.chunks(8 * int(np.prod(u.shape)))])


@pytest.mark.parametrize("kwargs", GEOMETRIES)
def test_projections_are_directional_derivatives(kwargs):
    """x: one directional derivative of L per direction; w: one per direction and filter."""
    pb = _problem(**kwargs)
    rng = np.random.default_rng(5)
    found = numerical.projections(pb, ["x", "w"], rng, directions=3)
    drawn = np.random.default_rng(5).standard_normal((3, *pb.x.shape), dtype=np.float32)   # as one draw would
    u, numeric = _held(found["x"][0]), found["x"][1]
    np.testing.assert_array_equal(u, drawn)
    assert u.shape == (3, *pb.x.shape) and numeric.shape == (3, 1)
    expected = np.tensordot(u, _brute_force(pb, "x").reshape(pb.x.shape), axes=pb.x.ndim)
    np.testing.assert_allclose(numeric[:, 0], expected, rtol=1e-8, atol=1e-8)
    u, numeric = _held(found["w"][0]), found["w"][1]
    after = np.random.default_rng(5)
    after.standard_normal((3, *pb.x.shape), dtype=np.float32), after.standard_normal((3, *pb.w.shape), dtype=np.float32)
    assert rng.random() == after.random()                  # the stream moved past both, as one draw each would
    assert u.shape == (3, *pb.w.shape) and numeric.shape == (3, pb.w.shape[0])
    expected = np.einsum("dpkij,pkij->dp", u, _brute_force(pb, "w").reshape(pb.w.shape))
    np.testing.assert_allclose(numeric, expected, rtol=1e-8, atol=1e-8)
