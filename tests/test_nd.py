"""1-D and 3-D convolutions (dims: 1 | 2 | 3): the loop reference against an independent scipy
oracle, the built-ins and every method on random layers, the floor per axis, realistic
mistakes, the spec fields, shapes and the command line."""

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import conv_kwargs, layer_data, make_spec, reach_matrix, specs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.signal import correlate
from typer.testing import CliRunner

from convcheck import colouring, geometry, load_specs, verify
from convcheck.cli import app
from convcheck.errors import SpecError
from convcheck.impls import Implementation, direct, im2col, reference
from convcheck.methods import cost as budget

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
ROOT = Path(__file__).parent.parent


def scipy_forward(x, w, b, stride, padding, dilation, groups):
    """Independent oracle: scipy's valid N-D correlation with the filter's taps spread d apart,
    per sample, filter and channel of the filter's group, then every s-th output per axis."""
    dims = x.ndim - 2
    x_pad = np.pad(x, [(0, 0), (0, 0), *((padding[2 * a], padding[2 * a + 1]) for a in range(dims))])
    p, k_group, *m = w.shape
    spread = np.zeros((p, k_group, *(d * (t - 1) + 1 for d, t in zip(dilation, m))))
    spread[(slice(None), slice(None)) + tuple(slice(None, None, d) for d in dilation)] = w
    per_group = p // groups
    out = np.array([[sum(correlate(x_pad[n, (f // per_group) * k_group + i], spread[f, i], mode="valid")
                         for i in range(k_group)) + (0 if b is None else b[f])
                     for f in range(p)] for n in range(x.shape[0])])
    return out[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in stride)]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(specs(conv=True, dims=None))
def test_reference_and_builtins_match_the_scipy_oracle_in_every_dimension(spec):
    x, w, b, _ = layer_data(spec)
    kwargs = conv_kwargs(spec)
    expected = scipy_forward(x, w, b, spec.stride, kwargs["padding"], spec.dilation, spec.groups)
    assert expected.shape == geometry(spec).shapes["y"]
    for impl in (reference, direct, im2col):
        np.testing.assert_allclose(impl.forward(x, w, b, **kwargs), expected, rtol=1e-10, atol=1e-10)


@SETTINGS
@given(specs(conv=True, dims=None))
def test_the_two_builtins_agree_on_the_backward(spec):
    x, w, b, g = layer_data(spec)
    kwargs = conv_kwargs(spec)
    for a, c in zip(direct.backward(g, x, w, b, **kwargs), im2col.backward(g, x, w, b, **kwargs)):
        assert (a is None) == (c is None)
        if a is not None:
            np.testing.assert_allclose(a, c, rtol=1e-10, atol=1e-10)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(specs(conv=True, dims=None, transposed=None), st.sampled_from(["direct", "im2col"]),
       st.sampled_from(["full", "channels", "sample", "fast"]), st.sampled_from(["float64", "float32"]))
def test_every_method_passes_correct_layers_in_every_dimension(spec, impl, method, dtype):
    """1-D, 2-D and 3-D, plain and transposed; full at the floor of each kind."""
    from dataclasses import replace
    spec = replace(spec, dtype=dtype)
    result = verify(spec, impl, method=method, samples=8, budget=1e-4)
    assert result.passed, (spec, [(c.name, c.message) for c in result.checks])
    if method == "full":
        assert result.forwards == budget.full(geometry(spec), 0).forwards


@pytest.mark.parametrize("dims, fields, floor", [
    (1, dict(n=50, m=5, k=4, p=3, stride=2, padding=2), 2 * 4 * 5 + 4),
    (1, dict(n=40, m=3, k=6, p=6, groups=6, dilation=4, padding=4), 2 * 1 * 3 + 4),
    (3, dict(n=(6, 7, 8), m=3, k=2, p=3, stride=(1, 2, 1), padding=1), 2 * 2 * 27 + 4),
    (3, dict(n=6, m=(2, 3, 3), k=4, p=4, groups=2, dilation=(1, 2, 1), padding=(0, 1, 2, 2, 1, 1)), 2 * 2 * 18 + 4),
])
def test_full_costs_the_true_floor_per_axis(dims, fields, floor):
    spec = make_spec(dims, **fields)
    result = verify(spec, "im2col", method="full")
    assert result.passed and result.forwards == floor


def test_the_colour_classes_multiply_across_three_axes():
    """Brute force: in a 3-D layer no two pixels of one class (product of the per-axis classes)
    share an output."""
    sizes, m, s, d, lo = (5, 6, 4), (2, 3, 2), (1, 2, 3), (2, 1, 1), (1, 0, 1)
    out = [(n + 2 * p - (dd * (t - 1) + 1)) // st + 1 for n, t, st, dd, p in zip(sizes, m, s, d, lo)]
    taps = [reach_matrix(n, o, t, st, dd, p) for n, o, t, st, dd, p in zip(sizes, out, m, s, d, lo)]
    colours = [colouring.colour(n, t, dd) for n, t, dd in zip(sizes, m, d)]
    pixels = list(itertools.product(*map(range, sizes)))
    for u, v in itertools.combinations(pixels, 2):
        if all(colours[a][u[a]] == colours[a][v[a]] for a in range(3)):
            assert not all((taps[a][u[a]] * taps[a][v[a]]).any() for a in range(3)), (u, v)


def _unrotated(dy, x, w, b, **kwargs):
    """dL/dX with the filter not turned (every spatial axis), the rest right."""
    _, dw, db = direct.backward(dy, x, w, b, **kwargs)
    flipped = w[(slice(None), slice(None)) + (slice(None, None, -1),) * (w.ndim - 2)]
    return direct.backward(dy, x, np.ascontiguousarray(flipped), b, **kwargs)[0], dw, db


def _stride_ignored(dy, x, w, b, *, stride, padding, **kwargs):
    """dL/dF as if the stride were 1: output o reads its window at o, not o·s (dL/dY not dilated)."""
    dx, _, db = direct.backward(dy, x, w, b, stride=stride, padding=padding, **kwargs)
    dims = x.ndim - 2
    x_pad = np.pad(x, [(0, 0), (0, 0), *((padding[2 * a], padding[2 * a + 1]) for a in range(dims))])
    crop = x_pad[(slice(None), slice(None)) + tuple(slice(0, dy.shape[2 + a] + w.shape[2 + a] - 1)
                                                    for a in range(dims))]
    return dx, direct.backward(dy, np.ascontiguousarray(crop), w, b, stride=(1,) * dims, padding=(0,) * (2 * dims),
                               **kwargs)[1], db


@pytest.mark.parametrize("method", ["full", "channels", "sample", "fast"])
@pytest.mark.parametrize("dims", [1, 3])
def test_realistic_mistakes_fail_and_are_named_in_1d_and_3d(dims, method):
    spec = make_spec(dims, n=9 if dims == 1 else 6, m=3, k=2, p=3, padding=1, batch=2)
    unrotated = verify(spec, Implementation("unrotated", direct.forward, _unrotated), method=method, samples=16)
    assert unrotated.check("dx").verdict == "FAIL" and unrotated.check("dw").passed
    if method == "full":
        assert unrotated.check("dx").diagnosis.mistake == "filter-not-rotated"
    strided = make_spec(dims, n=9 if dims == 1 else 7, m=3, k=2, p=2, stride=2, padding=1)
    result = verify(strided, Implementation("stride", direct.forward, _stride_ignored), method=method, samples=16)
    assert result.check("dw").verdict == "FAIL"


def test_axes_exchanged_in_3d_are_named():
    spec = make_spec(3, n=(5, 6, 6), m=3, k=2, p=2, padding=1)

    def backward(dy, x, w, b, **kwargs):
        dx, dw, db = direct.backward(dy, x, w, b, **kwargs)
        return np.ascontiguousarray(dx.swapaxes(3, 4)), dw, db
    check = verify(spec, Implementation("swapped", direct.forward, backward), method="full").check("dx")
    assert check.diagnosis.mistake == "height-width-swapped" and "axes H and W exchanged" in check.diagnosis.explanation


def test_the_spec_fields_in_every_dimension(tmp_path):
    path = tmp_path / "layers.yaml"
    path.write_text("layers:\n"
                    "  - {name: audio, n: 100, m: 5, k: 2, p: 4, padding: [2, 1], stride: 2, dims: 1}\n"
                    "  - {name: listed, n: [100], m: 5, k: 2, p: 4, padding: same, stride: 1}\n"
                    "  - {name: video, n: [8, 16, 16], m: 3, k: 3, p: 8, padding: [1, 1, 1], stride: [1, 2, 2]}\n"
                    "  - {name: sides, dims: 3, n: 6, m: 3, k: 1, p: 1, padding: [1, 0, 0, 1, 2, 2], stride: 1}\n")
    audio, listed, video, sides = load_specs(path)
    assert (audio.dims, audio.n, audio.padding, audio.stride, audio.dilation) == (1, (100,), (2, 1), (2,), (1,))
    assert geometry(audio).shapes["y"] == (1, 4, 50) and geometry(listed).shapes["y"] == (1, 4, 100)
    assert video.dims == 3 and video.padding == (1, 1, 1, 1, 1, 1) and geometry(video).out == (8, 8, 8)
    assert geometry(video).shapes["w"] == (8, 3, 3, 3, 3)
    assert sides.padding == (1, 0, 0, 1, 2, 2) and geometry(sides).out == (5, 5, 8)
    for bad, needle in [("padding: [1, 2, 3]", "valid: an int >= 0, [p], [before, after]"),
                        ("m: [3, 3]", "field 'm': must be an integer or a list of 1 (dims = 1, from dims)")]:
        (tmp_path / "bad.yaml").write_text(f"name: b\ndims: 1\nn: 20\nk: 1\np: 1\nstride: 1\n"
                                           f"{bad}\n" + ("m: 3\n" if bad.startswith("padding") else "padding: 0\n"))
        with pytest.raises(SpecError, match=needle.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
            load_specs(tmp_path / "bad.yaml")


def test_shapes_explains_1d_and_3d_layers_with_their_numbers(tmp_path):
    path = tmp_path / "layers.yaml"
    path.write_text("layers:\n  - {name: audio, n: 100, m: 5, k: 2, p: 4, padding: 0, stride: 2, dims: 1}\n"
                    "  - {name: video, n: [8, 16, 16], m: 3, k: 3, p: 8, padding: 1, stride: [1, 2, 2]}\n")
    result = CliRunner().invoke(app, ["shapes", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    audio, video = json.loads(result.stdout)
    assert audio["spec"]["dims"] == 1 and video["spec"]["dims"] == 3
    steps = {s["id"]: s for s in video["steps"]}
    assert steps["y"]["numbers"] == "depth: (8 + 1 + 1 − 3) // 1 + 1 = 8; rows: (16 + 1 + 1 − 3) // 2 + 1 = 8; " \
                                    "columns: (16 + 1 + 1 − 3) // 2 + 1 = 8"
    assert steps["phi"]["title"] == "φ(X): vol2col (the im2col form, in 3-D)"
    assert "(o_d·o_h·o_w, m_d·m_h·m_w·k)" in steps["phi"]["formula"]
    table = CliRunner().invoke(app, ["shapes", str(path), "--explain"])
    assert table.exit_code == 0 and "(N, k, D, H, W)" in table.stdout and "(N, k, L)" in table.stdout


def test_verify_checks_1d_and_3d_layers_from_the_command_line(tmp_path):
    result = CliRunner().invoke(app, ["verify", str(ROOT / "configs" / "conv1d_audio.yaml"),
                                      str(ROOT / "configs" / "conv3d_video.yaml"), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {s["spec"]["dims"] for s in data["specs"]} == {1, 3} and data["failed"] == 0


def test_channels_last_in_3d():
    spec = make_spec(3, n=5, m=2, k=3, p=2, padding=1, batch=2)

    def forward(x, w, b, **kwargs):                     # x (N, D, H, W, k), w (m_d, m_h, m_w, k, p)
        return np.moveaxis(direct.forward(np.moveaxis(x, -1, 1), np.moveaxis(w, (-1, -2), (0, 1)), b, **kwargs), 1, -1)

    def backward(dy, x, w, b, **kwargs):
        dx, dw, db = direct.backward(np.moveaxis(dy, -1, 1), np.moveaxis(x, -1, 1), np.moveaxis(w, (-1, -2), (0, 1)),
                                     b, **kwargs)
        return np.moveaxis(dx, 1, -1), np.moveaxis(dw, (0, 1), (-1, -2)), db
    assert verify(spec, Implementation("ndhwc", forward, backward), method="full", layout="nhwc").passed


def test_torch_conv1d_and_conv3d_ops_pass_through_the_adapter(tmp_path):
    pytest.importorskip("torch")
    ops = tmp_path / "ops.py"
    ops.write_text("import torch.nn.functional as F\n\n"
                   "def conv1d(x, w, b, *, stride, padding, dilation=(1,), groups=1):\n"
                   "    return F.conv1d(F.pad(x, padding), w, b, stride=stride, dilation=dilation, groups=groups)\n\n"
                   "def conv3d(x, w, b, *, stride, padding, dilation=(1, 1, 1), groups=1):\n"
                   "    pads = [p for a in reversed(range(3)) for p in padding[2 * a:2 * a + 2]]\n"
                   "    return F.conv3d(F.pad(x, pads), w, b, stride=stride, dilation=dilation, groups=groups)\n")
    one = make_spec(1, n=20, m=3, k=2, p=4, stride=2, padding=(2, 1), dilation=2, groups=2)
    three = make_spec(3, n=5, m=3, k=2, p=2, stride=(1, 2, 1), padding=(1, 0, 1, 1, 0, 1))
    assert verify(one, f"torch:{ops}:conv1d", method="full").passed
    assert verify(three, f"torch:{ops}:conv3d", method="full").passed


def test_torch_functions_with_their_own_backward_are_called_as_conv1d_and_conv3d(tmp_path):
    """A custom Function is called as F.conv1d/F.conv3d are (ints where the axes agree,
    dilation and groups positionally); its own backward, written with torch.nn.grad, passes."""
    pytest.importorskip("torch")
    ops = tmp_path / "function_ops.py"
    ops.write_text(
        "import torch\nimport torch.nn.functional as F\n\n"
        "class ConvNd(torch.autograd.Function):\n"
        "    @staticmethod\n"
        "    def forward(ctx, x, w, b, stride=1, padding=0, dilation=1, groups=1):\n"
        "        assert isinstance(stride, (int, tuple)) and isinstance(padding, (int, tuple))\n"
        "        ctx.save_for_backward(x, w)\n"
        "        ctx.conf = stride, padding, dilation, groups, b is not None\n"
        "        return getattr(F, f'conv{x.dim() - 2}d')(x, w, b, stride, padding, dilation, groups)\n\n"
        "    @staticmethod\n"
        "    def backward(ctx, dy):\n"
        "        x, w = ctx.saved_tensors\n"
        "        stride, padding, dilation, groups, bias = ctx.conf\n"
        "        d = x.dim() - 2\n"
        "        grad = torch.nn.grad\n"
        "        dx = getattr(grad, f'conv{d}d_input')(x.shape, w, dy, stride, padding, dilation, groups)\n"
        "        dw = getattr(grad, f'conv{d}d_weight')(x, w.shape, dy, stride, padding, dilation, groups)\n"
        "        return dx, dw, dy.sum(dim=(0, *range(2, 2 + d))) if bias else None, None, None, None, None\n")
    for spec in [make_spec(1, n=20, m=3, k=2, p=4, stride=2, padding=2, dilation=2, groups=2),
                 make_spec(3, n=5, m=(3, 2, 3), k=2, p=2, stride=(1, 2, 1), padding=(1, 1, 0, 0, 1, 1))]:
        result = verify(spec, f"torch:{ops}:ConvNd", method="full")
        assert result.passed, [(c.name, c.message) for c in result.checks]


def test_the_reference_agrees_with_torch_conv1d_and_conv3d():
    torch = pytest.importorskip("torch")
    for spec in [make_spec(1, n=17, m=4, k=4, p=6, stride=3, padding=2, dilation=2, groups=2),
                 make_spec(3, n=(5, 6, 7), m=(2, 3, 2), k=3, p=6, stride=(1, 2, 2), padding=1, dilation=(2, 1, 1),
                           groups=3)]:
        x, w, b, _ = layer_data(spec)
        conv = torch.nn.functional.conv1d if spec.dims == 1 else torch.nn.functional.conv3d
        expected = conv(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), stride=spec.stride,
                        padding=spec.padding[0::2], dilation=spec.dilation, groups=spec.groups).numpy()
        np.testing.assert_allclose(reference.forward(x, w, b, **conv_kwargs(spec)), expected, rtol=1e-10, atol=1e-10)


def test_2d_only_adapters_skip_1d_and_3d_layers():
    layers = ROOT / "tests" / "course" / "assignment2" / "cs231n" / "layers.py"
    for dims in (1, 3):
        skipped = verify(make_spec(dims, n=8, m=3, padding=1), f"cs231n:{layers}").skipped
        assert skipped == f"not expressible in this API: it takes 2-D layers, and this one has dims = {dims}"
