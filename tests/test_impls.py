"""The fast forwards and backwards against the loop reference, scipy, and each other."""

import numpy as np
import pytest
from conftest import PLUGINS, make_spec
from scipy.signal import correlate2d

from convcheck.errors import ImplError
from convcheck.geometry import geometry
from convcheck.impls import direct, im2col, load_impl, reference

CASES = [  # (n, m, stride, padding)
    ((5, 5), (3, 3), (1, 1), (0, 0, 0, 0)),
    ((7, 6), (3, 2), (2, 1), (1, 1, 0, 0)),
    ((8, 8), (3, 3), (2, 2), (0, 0, 0, 0)),
    ((9, 7), (4, 3), (3, 2), (2, 0, 1, 3)),
    ((4, 4), (4, 4), (1, 1), (3, 3, 3, 3)),
    ((6, 5), (1, 1), (2, 3), (0, 1, 1, 0)),
    ((3, 10), (3, 1), (1, 4), (2, 2, 0, 0)),
]


def _data(n, m, k=3, p=4, batch=2, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((batch, k, *n)), rng.standard_normal((p, k, *m)),
            rng.standard_normal(p))


def _scipy_forward(x, w, b, stride, padding):
    """Independent oracle: scipy's 2-D correlation per (sample, filter, channel), then subsample."""
    top, bottom, left, right = padding
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    out = np.array([[sum(correlate2d(xp[i, c], w[f, c], mode="valid") for c in range(x.shape[1])) + b[f]
                     for f in range(w.shape[0])] for i in range(x.shape[0])])
    return out[:, :, ::stride[0], ::stride[1]]


@pytest.mark.parametrize("n,m,stride,padding", CASES)
def test_reference_matches_scipy(n, m, stride, padding):
    x, w, b = _data(n, m)
    np.testing.assert_allclose(reference.forward(x, w, b, stride=stride, padding=padding),
                               _scipy_forward(x, w, b, stride, padding), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("impl", [direct, im2col])
@pytest.mark.parametrize("n,m,stride,padding", CASES)
def test_fast_forwards_match_reference(impl, n, m, stride, padding):
    x, w, b = _data(n, m)
    expected = reference.forward(x, w, b, stride=stride, padding=padding)
    got = impl.forward(x, w, b, stride=stride, padding=padding)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n,m,stride,padding", CASES)
def test_output_shape_is_the_geometry_shape(n, m, stride, padding):
    x, w, b = _data(n, m)
    spec = make_spec(n=n, m=m, k=3, p=4, batch=2, stride=stride, padding=padding)
    assert reference.forward(x, w, b, stride=stride, padding=padding).shape == geometry(spec).shapes["y"]


@pytest.mark.parametrize("n,m,stride,padding", CASES)
def test_direct_and_im2col_backwards_agree(n, m, stride, padding):
    x, w, b = _data(n, m)
    dy = np.random.default_rng(1).standard_normal(reference.forward(x, w, b, stride=stride, padding=padding).shape)
    for a, c in zip(direct.backward(dy, x, w, b, stride=stride, padding=padding),
                    im2col.backward(dy, x, w, b, stride=stride, padding=padding)):
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-12)


def test_builtins_keep_float32():
    x, w, b = (a.astype(np.float32) for a in _data((6, 6), (3, 3)))
    for impl in (direct, im2col):
        y = impl.forward(x, w, b, stride=(2, 2), padding=(1, 1, 1, 1))
        assert y.dtype == np.float32
        assert all(g.dtype == np.float32 for g in impl.backward(y, x, w, b, stride=(2, 2), padding=(1, 1, 1, 1)))


def test_leftover_rows_get_zero_gradient():
    x, w, b = _data((8, 8), (3, 3))
    dy = np.ones((2, 4, 3, 3))
    for impl in (direct, im2col):
        dx, _, _ = impl.backward(dy, x, w, b, stride=(2, 2), padding=(0, 0, 0, 0))
        assert np.all(dx[:, :, 7, :] == 0) and np.all(dx[:, :, :, 7] == 0)
        assert np.any(dx[:, :, 6, :] != 0)


def test_no_bias_gives_no_db():
    x, w, _ = _data((5, 5), (3, 3))
    dy = np.ones((2, 4, 3, 3))
    assert direct.backward(dy, x, w, None, stride=(1, 1), padding=(0, 0, 0, 0))[2] is None
    assert im2col.backward(dy, x, w, None, stride=(1, 1), padding=(0, 0, 0, 0))[2] is None


def test_load_impl_by_name_path_and_module(tmp_path):
    assert load_impl("im2col").forward is im2col.forward
    path = str(PLUGINS / "naive_loops.py")
    assert load_impl(path).name == path
    assert load_impl("convcheck.impls.direct").backward is direct.backward


@pytest.mark.parametrize("source,needle", [
    ("def forward(x, w, b, *, stride, padding):\n    return x\n", "defines no backward"),
    ("def forward(x w):\n", "SyntaxError"),
    ("import no_such_module_xyz\n", "ModuleNotFoundError"),
    ("raise SystemExit(3)\n", "SystemExit"),
])
def test_bad_plugins_are_one_line_errors(tmp_path, source, needle):
    path = tmp_path / "plugin.py"
    path.write_text(source)
    with pytest.raises(ImplError) as e:
        load_impl(str(path))
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_unknown_impl_names_the_builtins():
    with pytest.raises(ImplError, match="built-ins: direct, im2col"):
        load_impl("no_such_impl")
