"""Transposed convolutions (transposed: true, PyTorch's ConvTranspose semantics): the loop
reference and both built-ins against loops written here from the index formula, the floor of
finite differences checked by brute force, realistic mistakes under every method with their
diagnosis, torch's conv_transpose, the spec fields, shapes, schema and the command line. Every
method on random transposed layers: test_nd.py."""

import itertools
import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from conftest import confirm, conv_kwargs, layer_data, make_spec, reach_loop, reach_matrix, specs
from hypothesis import HealthCheck, given, settings
from typer.testing import CliRunner

from convcheck import colouring, geometry, load_specs, verify
from convcheck.cli import app
from convcheck.errors import SpecError
from convcheck.explain import explain
from convcheck.impls import Implementation, direct, im2col, reference
from convcheck.methods import cost as budget
from convcheck.schema import spec_schema

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
ROOT = Path(__file__).parent.parent


def reaches(spec):
    """Every (input position, tap, output position) of the layer: output t = i·s + a·d − before
    on each axis, kept when inside 0 … o − 1 (PyTorch's ConvTranspose index formula)."""
    geom = geometry(spec)
    for pos in itertools.product(*map(range, spec.n)):
        for tap in itertools.product(*map(range, spec.m)):
            t = tuple(pos[a] * spec.stride[a] + tap[a] * spec.dilation[a] - geom.padding[2 * a]
                      for a in range(spec.dims))
            if all(0 <= t[a] < geom.out[a] for a in range(spec.dims)):
                yield pos, tap, t


def loops(spec, x, w, b, dy):
    """y, dx, dw, db from the index formula, one term at a time: x (N, k, *n), w (k, p / g, *m)."""
    geom = geometry(spec)
    k_g, p_g = spec.k // spec.groups, spec.p // spec.groups
    y, dx, dw = np.zeros(geom.shapes["y"]), np.zeros(x.shape), np.zeros(w.shape)
    for pos, tap, t in reaches(spec):
        for i in range(spec.k):
            for jj in range(p_g):
                j = (i // k_g) * p_g + jj
                y[(slice(None), j) + t] += x[(slice(None), i) + pos] * w[(i, jj) + tap]
                dx[(slice(None), i) + pos] += dy[(slice(None), j) + t] * w[(i, jj) + tap]
                dw[(i, jj) + tap] += x[(slice(None), i) + pos] @ dy[(slice(None), j) + t]
    if b is not None:
        y += b.reshape(-1, *(1,) * spec.dims)
    return y, dx, dw, None if b is None else dy.sum(axis=(0, *range(2, 2 + spec.dims)))


@SETTINGS
@given(specs(conv=True, dims=None, transposed=True))
def test_reference_and_builtins_match_loops_from_the_index_formula(spec):
    x, w, b, g = layer_data(spec)
    y, dx, dw, db = loops(spec, x, w, b, g)
    assert y.shape == geometry(spec).shapes["y"]
    for impl in (reference, direct, im2col):
        np.testing.assert_allclose(impl.forward(x, w, b, **conv_kwargs(spec)), y, rtol=1e-10, atol=1e-10)
    for impl in (direct, im2col):
        for got, want in zip(impl.backward(g, x, w, b, **conv_kwargs(spec)), (dx, dw, db)):
            assert (got is None) == (want is None)
            if want is not None:
                np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def chromatic(conflicts: np.ndarray) -> int:
    """Fewest colours with no two conflicting pixels alike, by exhaustive search (small graphs)."""
    n = len(conflicts)

    def fits(colours, i, c):
        return all(colours[j] != c or not conflicts[i, j] for j in range(i))

    def search(colours, count):
        i = len(colours)
        if i == n:
            return True
        return any(search(colours + [c], count) for c in range(count) if fits(colours, i, c))
    return next(count for count in range(1, n + 1) if search([], count))


def test_the_transposed_floor_by_brute_force():
    """Along one axis: the colouring never puts two pixels that reach one output together, and
    no colouring does with fewer classes than it uses (the conflict graph's chromatic number),
    for every small size, filter, stride, dilation, cut and output padding."""
    checked = 0
    for n, m, s, d in itertools.product(range(1, 8), range(1, 5), range(1, 4), range(1, 4)):
        for lo, hi in itertools.product(range(0, 3), repeat=2):
            for op in range(max(s, d)):
                o = (n - 1) * s - lo - hi + d * (m - 1) + op + 1
                if o < 1:
                    continue
                reach = reach_matrix(n, o, m, s, d, lo, transposed=True)
                np.testing.assert_array_equal(reach, reach_loop(n, o, m, s, d, lo, transposed=True))
                conflicts = (reach @ reach.T > 0) & ~np.eye(n, dtype=bool)
                colour = colouring.transposed_colour(n, m, s, d)
                assert not (conflicts & (colour[:, None] == colour[None, :])).any(), (n, m, s, d, lo, hi, op)
                classes = colouring.transposed_classes_along(n, m, s, d)
                assert len(set(colour)) == classes
                least = chromatic(conflicts)
                assert least <= classes
                if lo == hi == 0:                      # nothing cut: every pixel's whole reach is in the map
                    assert least == classes, (n, m, s, d, op)
                checked += 1
    assert checked > 3000


@pytest.mark.parametrize("dims, fields, floor", [
    (2, dict(n=14, m=3, k=8, p=4, stride=2, padding=1, output_padding=(1, 1)), 8 * (2 * 2 + 9) + 4),
    (2, dict(n=28, m=4, k=6, p=6, stride=2, padding=1), 6 * (2 * 2 + 16) + 4),
    (1, dict(n=20, m=5, k=2, p=4, stride=3, dilation=2), 2 * (2 + 5) + 4),
    (3, dict(n=4, m=3, k=2, p=2, stride=(2, 1, 3), padding=1, output_padding=(1, 0, 2)), 2 * (2 * 3 * 1 + 27) + 4),
    (1, dict(n=12, m=3, k=4, p=8, groups=4, stride=2), 1 * (2 + 3) + 4),
])
def test_full_runs_at_the_transposed_floor(dims, fields, floor):
    """full costs (k / groups)(classes + prod(m)) + 4 forwards: a set is input channel j of
    every group, for dL/dX and for the taps of w[j] (all output channels at once); each axis's
    classes are min(floor((m − 1) gcd(s, d) / s) + 1, ceil(n / (d / gcd(s, d))))."""
    spec = make_spec(dims, transposed=True, batch=2, **fields)
    assert budget.full(geometry(spec), 0).forwards == floor
    result = verify(spec, "direct", method="full")
    assert result.passed and result.forwards == floor
    coverage = result.check("dx").coverage
    assert coverage.every and coverage.total == int(np.prod(geometry(spec).shapes["x"]))


def transposed_impl(name, forward=None, backward=None):
    """direct's transposed layer with its forward or backward changed: forward(x, w, b, conv),
    backward(dy, x, w, b, conv) -> (dx, dw, db), conv the keyword arguments convcheck passes."""
    def fwd(x, w, b, **conv):
        return forward(x, w, b, conv) if forward else direct.forward(x, w, b, **conv)

    def bwd(dy, x, w, b, **conv):
        return backward(dy, x, w, b, conv) if backward else direct.backward(dy, x, w, b, **conv)
    return Implementation(name, fwd, bwd)


def _swapped(conv):
    pads = conv["padding"]
    return {**conv, "padding": tuple(p for a in range(0, len(pads), 2) for p in (pads[a + 1], pads[a]))}


def _dropped_rows(dy, conv):
    """dL/dY without its output-padding rows, as a backward sized from o without output_padding."""
    dy = dy.copy()
    for a, op in enumerate(conv.get("output_padding", ())):
        if op:
            dy[(slice(None), slice(None)) + (slice(None),) * a + (slice(-op, None),)] = 0
    return dy


def _shifted(conv):
    """The output padding before the output: the cut moved by it on every axis."""
    pads, op = conv["padding"], conv["output_padding"]
    return {**conv, "padding": tuple(p for a in range(len(op)) for p in (pads[2 * a] - op[a], pads[2 * a + 1] + op[a]))}


LAYER = dict(n=(6, 7), m=(3, 3), k=3, p=4, batch=2, stride=(2, 2), padding=(2, 1, 2, 1), output_padding=(1, 1))
MISTAKES = {  # planted mistake -> (implementation, tensor that fails, diagnosis id)
    "the crop taken from the wrong side": (transposed_impl(
        "crop", backward=lambda dy, x, w, b, c: direct.backward(dy, x, w, b, **_swapped(c))), "dx", "crop-side"),
    "output padding ignored in the backward": (transposed_impl(
        "op", backward=lambda dy, x, w, b, c: direct.backward(_dropped_rows(dy, c), x, w, b, **c)), "dw",
        "output-padding-ignored"),
    "output padding on the wrong side": (transposed_impl(                 # on LAYER_SIDE: not the swapped crop
        "side", forward=lambda x, w, b, c: direct.forward(x, w, b, **_shifted(c))), "y", "output-padding-side"),
    "dL/dX with the filter turned": (transposed_impl(
        "turned", backward=lambda dy, x, w, b, c: (direct.backward(dy, x, w[(..., *[slice(None, None, -1)] * 2)], b,
                                                                    **c)[0], *direct.backward(dy, x, w, b, **c)[1:])),
        "dx", "filter-not-rotated"),
}


@pytest.mark.parametrize("method", ["full", "channels", "sample", "fast"])
@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_realistic_transposed_mistakes_fail_under_every_method(mistake, method):
    impl, tensor, mistake_id = MISTAKES[mistake]
    layer = {**LAYER, "padding": (2, 0, 2, 0)} if mistake_id == "output-padding-side" else LAYER
    result = verify(make_spec(transposed=True, **layer), impl, method=method, samples=16)
    check = result.check(tensor)
    assert not result.passed and not check.passed, (mistake, method, check.message)
    if method == "full":
        assert check.diagnosis.mistake == mistake_id, check.diagnosis


def test_a_forward_without_output_padding_is_named_by_its_shape():
    def forward(x, w, b, c):
        return direct.forward(x, w, b, **{**c, "output_padding": None})
    result = verify(make_spec(transposed=True, **LAYER), transposed_impl("short", forward=forward), method="full")
    check = result.check("y")
    assert not check.passed and check.diagnosis.mistake == "output-padding-ignored"
    assert "1 short of" in check.diagnosis.explanation


def test_a_plugin_for_plain_convolutions_fails_a_transposed_layer_with_one_line():
    def forward(x, w, b, *, stride, padding):
        return direct.forward(x, w, b, stride=stride, padding=padding)

    def backward(dy, x, w, b, *, stride, padding):
        return direct.backward(dy, x, w, b, stride=stride, padding=padding)
    result = verify(make_spec(transposed=True, **LAYER), Implementation("plain", forward, backward))
    message = result.check("y").message
    assert not result.passed and "must accept transposed=True" in message and "\n" not in message


def test_explain_derives_a_transposed_layer_with_its_numbers():
    spec = make_spec(transposed=True, **LAYER)
    explanation = explain(geometry(spec))
    confirm(explanation)                                             # the engine agrees with every shape
    steps = {step.id: step for step in explanation.steps}
    assert "(6 − 1)·2 − (2 + 1) + 2 + 1 + 1 = 11" in steps["y"].numbers
    assert "(11 + 2 + 1 − 3) // 2 + 1 = 6" in steps["dx.size"].numbers         # the plain forward of dL/dY
    assert "rot180" in steps["transposed"].formula and "dL/dX" in steps["transposed"].title
    assert steps["x.dilated"].result == "dilated X is 11 × 13 per channel"
    assert "before 3 − 1 − 2 = 0, after 3 − 1 − 1 + 1 = 2" in steps["padding"].numbers
    assert {"X_f", "phi", "col2im", "dX_f", "dF_f"} <= set(steps)
    w = next(t for t in explanation.tensors if t.key == "w")
    assert w.layout == "(k, p, m_h, m_w)" and w.shape == (3, 4, 3, 3)


def write(tmp_path, text, name="spec.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


BASE = "n: 8\nm: 3\nk: 1\np: 1\n"


@pytest.mark.parametrize("text, field, words", [
    ("padding: 0\nstride: 2\noutput_padding: 1\n", "output_padding", "transposed: true"),
    ("transposed: true\npadding: 0\nstride: 2\noutput_padding: 2\n", "output_padding", "0 … 1"),
    ("transposed: true\npadding: 1\nstride: 2\ndilation: 3\noutput_padding: 3\n", "output_padding", "0 … 2"),
    ("transposed: true\npadding: same\nstride: 1\n", "padding", "means nothing"),
    ("transposed: true\npadding: full\nstride: 1\n", "padding", "means nothing"),
    ("transposed: true\npadding: 0\nstride: 2\noutput_padding: [1, 1, 1]\n", "output_padding", "2"),
    ("transposed: yes please\npadding: 0\nstride: 1\n", "transposed", "true or false"),
    ("transposed: true\nn: 2\nm: 1\npadding: 1\nstride: 1\n", "padding", "cuts everything"),
])
def test_bad_transposed_fields_get_one_line_and_exit_2(tmp_path, text, field, words):
    lines = dict(line.split(": ", 1) for line in (BASE + text).splitlines())
    path = write(tmp_path, "".join(f"{key}: {value}\n" for key, value in lines.items()))
    with pytest.raises(SpecError) as e:
        load_specs(path)
    message = str(e.value)
    assert "\n" not in message and f"'{field}'" in message and words in message, message
    result = CliRunner().invoke(app, ["verify", path])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output


def test_the_schema_takes_transposed_layers_and_refuses_what_the_loader_refuses():
    validator = jsonschema.Draft202012Validator(spec_schema())
    good = {"n": 8, "m": 3, "k": 2, "p": 2, "transposed": True, "stride": 2, "output_padding": 1, "padding": [1, 0]}
    assert not list(validator.iter_errors(good))
    assert not list(validator.iter_errors({**good, "dims": 3, "output_padding": [1, 0, 1], "padding": 1}))
    for bad in ({**good, "padding": "same"}, {k: v for k, v in good.items() if k != "transposed"},
                {**good, "output_padding": [1, 1, 1]}, {**good, "transposed": False}):
        assert list(validator.iter_errors(bad)), bad


def test_the_example_configs_hold_a_transposed_layer_and_an_encoder_decoder():
    layer, = load_specs(ROOT / "configs" / "transposed_upsample.yaml")
    assert layer.transposed and any(layer.out_padding) and geometry(layer).out == (28, 28)
    chain = load_specs(ROOT / "configs" / "network_encoder_decoder.yaml")
    assert [s.transposed for s in chain] == [False, False, True, True]
    assert geometry(chain[-1]).out == chain[0].n and chain[-1].p == chain[0].k      # the decoder undoes the encoder


def test_json_and_shapes_carry_the_transposed_fields():
    result = CliRunner().invoke(app, ["verify", str(ROOT / "configs" / "transposed_upsample.yaml"), "--format", "json"])
    assert result.exit_code == 0, result.output
    spec = json.loads(result.stdout)["specs"][0]["spec"]
    assert spec["transposed"] is True and spec["output_padding"] == [1, 1] and spec["padding"] == [1, 1, 1, 1]
    shapes = CliRunner().invoke(app, ["shapes", str(ROOT / "configs" / "transposed_upsample.yaml"), "--explain"])
    assert shapes.exit_code == 0 and "the plain forward" in shapes.stdout and "(8,4,3,3)" in shapes.stdout


def torch_transposed(spec, x, w, b):
    """PyTorch's conv_transpose1d/2d/3d without padding (the full output), output padding as
    zeros at the end, then the cut: any padding, the two sides of an axis apart."""
    import torch
    geom = geometry(spec)
    conv = getattr(torch.nn.functional, f"conv_transpose{spec.dims}d")
    full = conv(torch.from_numpy(x), torch.from_numpy(w), None, spec.stride, 0, 0, spec.groups, spec.dilation)
    full = torch.nn.functional.pad(full, tuple(v for a in reversed(range(spec.dims)) for v in (0, spec.out_padding[a])))
    y = full[(slice(None), slice(None)) + tuple(slice(geom.padding[2 * a], geom.padding[2 * a] + geom.out[a])
                                                for a in range(spec.dims))].numpy()
    return y if b is None else y + b.reshape(-1, *(1,) * spec.dims)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(specs(conv=True, dims=None, transposed=True))
def test_the_reference_agrees_with_torch_conv_transpose(spec):
    pytest.importorskip("torch")
    x, w, b, _ = layer_data(spec)
    np.testing.assert_allclose(reference.forward(x, w, b, **conv_kwargs(spec)), torch_transposed(spec, x, w, b),
                               rtol=1e-10, atol=1e-10)


TORCH_OPS = '''
import torch
import torch.nn.functional as F

def conv_transpose(x, w, b, *, stride, padding, transposed=False, output_padding=None, dilation=None, groups=1):
    """A function of torch ops: autograd's backward is checked."""
    dims = x.dim() - 2
    assert transposed and padding[0::2] == padding[1::2]
    conv = getattr(F, f"conv_transpose{dims}d")
    return conv(x, w, b, stride, padding[0::2], output_padding or 0, groups, dilation or 1)

class ConvTranspose(torch.autograd.Function):
    """A custom Function called as F.conv_transpose{1,2,3}d: its own backward, written from the
    plain convolution it transposes."""
    @staticmethod
    def forward(ctx, x, w, b, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
        ctx.save_for_backward(x, w)
        ctx.conf = stride, padding, groups, dilation, b is not None
        conv = getattr(F, f"conv_transpose{x.dim() - 2}d")
        return conv(x, w, b, stride, padding, output_padding, groups, dilation)

    @staticmethod
    def backward(ctx, dy):
        x, w = ctx.saved_tensors
        stride, padding, groups, dilation, bias = ctx.conf
        dims = x.dim() - 2
        conv = getattr(F, f"conv{dims}d")
        dx = conv(dy, w, None, stride, padding, dilation, groups)
        dx = dx[(slice(None), slice(None)) + tuple(slice(0, n) for n in x.shape[2:])]
        dw = getattr(torch.nn.grad, f"conv{dims}d_weight")(dy, w.shape, x, stride, padding, dilation, groups)
        db = dy.sum(dim=(0, *range(2, 2 + dims))) if bias else None
        return dx, dw, db, None, None, None, None, None

class TurnedFilter(ConvTranspose):
    """A planted mistake: dL/dX through the filter turned by 180 degrees, as a plain layer's is."""
    @staticmethod
    def backward(ctx, dy):
        x, w = ctx.saved_tensors
        dx, dw, db, *rest = ConvTranspose.backward(ctx, dy)
        stride, padding, groups, dilation, _ = ctx.conf
        turned = w.flip(tuple(range(2, w.dim())))
        dx = getattr(F, f"conv{x.dim() - 2}d")(dy, turned, None, stride, padding, dilation, groups)
        return (dx[(slice(None), slice(None)) + tuple(slice(0, n) for n in x.shape[2:])], dw, db, *rest)
'''


@pytest.mark.parametrize("dims, fields", [
    (1, dict(n=9, m=4, k=2, p=3, stride=3, padding=1, output_padding=(2,))),
    (2, dict(n=(5, 6), m=3, k=4, p=2, stride=2, padding=1, output_padding=(1, 1), groups=2)),
    (2, dict(n=6, m=3, k=2, p=2, stride=1, dilation=2, padding=2)),
    (3, dict(n=3, m=2, k=2, p=2, stride=(2, 1, 2), padding=(1, 1, 0, 0, 0, 0), output_padding=(1, 0, 0))),
])
def test_torch_conv_transpose_ops_pass_and_a_turned_filter_fails(tmp_path, dims, fields):
    """Correct torch-backed transposed plug-ins, a function of torch ops and a custom Function
    with its own backward, pass in 1-D, 2-D and 3-D; a Function whose dL/dX turns the filter
    fails and is named."""
    pytest.importorskip("torch")
    ops = tmp_path / "transposed_ops.py"
    ops.write_text(TORCH_OPS)
    spec = make_spec(dims, transposed=True, batch=2, **fields)
    for name in ("conv_transpose", "ConvTranspose"):
        result = verify(spec, f"torch:{ops}:{name}", method="full")
        assert result.passed, (name, [(c.name, c.message) for c in result.checks], result.error)
    wrong = verify(spec, f"torch:{ops}:TurnedFilter", method="full").check("dx")
    assert not wrong.passed and wrong.diagnosis.mistake == "filter-not-rotated"


def test_a_network_after_a_transposed_layer_names_its_formula(tmp_path):
    path = write(tmp_path, "input: {k: 3, n: 8}\ndefaults: {m: 3, padding: 1, stride: 2}\nlayers:\n"
                           "  - {name: up, transposed: true, p: 4, output_padding: 1}\n  - {name: next, p: 2, n: 15}\n")
    with pytest.raises(SpecError) as e:
        load_specs(path)
    assert "layer 'up' outputs 16 x 16: o_h = (n - 1)·s - (top + bottom) + d·(m - 1) + output_padding + 1 = " \
           "(8 - 1)·2 - (1 + 1) + 2 + 1 + 1 = 16" in str(e.value)


def test_a_channels_last_transposed_implementation_runs_with_layout_nhwc(tmp_path):
    """layout nhwc hands x as (N, *n, k) and a transposed layer's w as (*m, p / groups, k),
    TensorFlow's conv_transpose filter layout; y and the gradients come back channels-first."""
    plugin = tmp_path / "tf_style_transposed.py"
    plugin.write_text(
        "import numpy as np\nfrom convcheck.impls import direct\n\n"
        "def first(a):\n    return np.moveaxis(a, -1, 1)\n\n"
        "def last(a):\n    return np.ascontiguousarray(np.moveaxis(a, 1, -1))\n\n"
        "def filters(w):\n    assert w.ndim == 4\n    return np.ascontiguousarray(w.transpose(3, 2, 0, 1))\n\n"
        "def forward(x, w, b, **conv):\n    return last(direct.forward(first(x), filters(w), b, **conv))\n\n"
        "def backward(dy, x, w, b, **conv):\n"
        "    dx, dw, db = direct.backward(first(dy), first(x), filters(w), b, **conv)\n"
        "    return last(dx), np.ascontiguousarray(dw.transpose(2, 3, 1, 0)), db\n")
    spec = make_spec(transposed=True, layout="nhwc", **{**LAYER, "p": 2, "groups": 1})
    result = verify(spec, str(plugin), method="full")
    assert result.passed, [(c.name, c.message) for c in result.checks]


def test_a_function_on_a_transposed_layer_is_called_as_torch_calls_conv_transpose():
    """(stride, padding, output_padding, groups, dilation), trailing defaults left out."""
    from convcheck.impls.torch_op import functional_args
    t = {"transposed": True}
    assert functional_args((2, 2), (1, 1, 1, 1), t) == [2, 1]
    assert functional_args((2, 2), (1, 1, 1, 1), {**t, "output_padding": (1, 1)}) == [2, 1, 1]
    assert functional_args((2, 1), (1, 1, 0, 0), {**t, "groups": 4}) == [(2, 1), (1, 0), 0, 4]
    assert functional_args((1,), (0, 0), {**t, "dilation": (2,)}) == [1, 0, 0, 1, 2]


def test_output_padding_is_passed_only_when_it_is_not_all_zero():
    """A transposed plug-in without an output_padding argument runs layers without it, and
    fails the others with one line naming what it must accept."""
    def forward(x, w, b, *, stride, padding, transposed):
        return direct.forward(x, w, b, stride=stride, padding=padding, transposed=transposed)

    def backward(dy, x, w, b, *, stride, padding, transposed):
        return direct.backward(dy, x, w, b, stride=stride, padding=padding, transposed=transposed)
    impl = Implementation("no-op", forward, backward)
    assert verify(make_spec(transposed=True, **{**LAYER, "output_padding": (0, 0)}), impl, method="full").passed
    failed = verify(make_spec(transposed=True, **LAYER), impl, method="full")
    assert not failed.passed and "must accept output_padding=(op_h, op_w)" in failed.check("y").message
