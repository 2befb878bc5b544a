"""Dilation and groups (PyTorch semantics): the built-ins and every method on random layers,
plug-ins without support, realistic mistakes, and the spec fields. The scipy oracle for the
forward, in every dimension, is in test_nd.py."""

import numpy as np
import pytest
from conftest import PLUGINS, make_spec, specs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convcheck import geometry, load_specs, verify
from convcheck.errors import SpecError
from convcheck.impls import Implementation, direct

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])


@SETTINGS
@given(specs(conv=True), st.sampled_from(["direct", "im2col"]), st.sampled_from(["full", "channels", "sample", "fast"]),
       st.sampled_from(["float64", "float32"]))
def test_every_method_passes_correct_dilated_grouped_layers(spec, impl, method, dtype):
    from dataclasses import replace
    result = verify(replace(spec, dtype=dtype), impl, method=method, budget=1e-4, samples=12)
    assert result.passed, (spec, [(c.name, c.message) for c in result.checks])


def test_full_covers_every_coordinate_of_a_depthwise_layer():
    spec = make_spec(n=8, m=3, k=6, p=6, groups=6, dilation=2, padding="same", stride=2, batch=2)
    result = verify(spec, "im2col", method="full")
    assert result.passed and all(c.checked == c.total for c in result.checks if not c.skipped)
    assert result.check("dw").expected_shape == (6, 1, 3, 3)


def test_a_plugin_without_dilation_support_fails_that_layer_saying_so():
    result = verify(make_spec(dilation=2, n=9, m=3), str(PLUGINS / "naive_loops.py"), method="full")
    assert not result.passed
    message = result.check("y").message
    assert "forward raised TypeError" in message and "this layer needs dilation support" in message
    assert "dilation=(d_h, d_w)" in message
    assert verify(make_spec(n=9, m=3), str(PLUGINS / "naive_loops.py"), method="full").passed  # kwargs only when set


def _mistake(backward):
    return Implementation("mistake", direct.forward, backward)


def _ignores_dilation_in_dw(dy, x, w, b, *, stride, padding, dilation=(1, 1), groups=1):
    """dL/dF from the undilated correlation: the right shape, the wrong taps."""
    dx, _, db = direct.backward(dy, x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
    full = direct._dense_backward(dy, x, direct.dilate(w, dilation), stride, padding)[1]
    return dx, np.ascontiguousarray(full[:, :, :w.shape[2], :w.shape[3]]), db


def _ignores_dilation_in_dx(dy, x, w, b, *, stride, padding, dilation=(1, 1), groups=1):
    """dL/dX with the taps next to each other, as if dilation were 1."""
    _, dw, db = direct.backward(dy, x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
    return direct.backward(dy, x, w, b, stride=stride, padding=padding, groups=groups)[0], dw, db


def _wrong_group_for_dw(dy, x, w, b, *, stride, padding, dilation=(1, 1), groups=1):
    """Each group's dL/dF computed from the next group's input channels."""
    dx, _, db = direct.backward(dy, x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
    shifted = np.roll(x, -(x.shape[1] // groups), axis=1)
    return dx, direct.backward(dy, shifted, w, b, stride=stride, padding=padding, dilation=dilation,
                               groups=groups)[1], db


def _dense_dx_for_groups(dy, x, w, b, *, stride, padding, dilation=(1, 1), groups=1):
    """dL/dX as if every filter fed every channel (groups forgotten in the backward)."""
    _, dw, db = direct.backward(dy, x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
    dense = np.tile(w, (1, groups, 1, 1))
    return direct.backward(dy, x, dense, b, stride=stride, padding=padding, dilation=dilation)[0], dw, db


@pytest.mark.parametrize("backward, tensor", [(_ignores_dilation_in_dw, "dw"), (_ignores_dilation_in_dx, "dx"),
                                              (_wrong_group_for_dw, "dw"), (_dense_dx_for_groups, "dx")])
@pytest.mark.parametrize("method", ["full", "auto", "sample", "fast"])
def test_realistic_dilation_and_groups_mistakes_fail(backward, tensor, method):
    spec = make_spec(n=(10, 9), m=3, k=4, p=4, groups=2, dilation=(2, 1), padding="same", stride=1, batch=2)
    result = verify(spec, _mistake(backward), method=method, samples=32)
    assert not result.check(tensor).passed, (method, result.check(tensor))


def test_the_loader_reads_dilation_and_groups_and_refuses_bad_ones(tmp_path):
    (tmp_path / "ok.yaml").write_text("name: dw\nn: 12\nm: 3\nk: 8\np: 16\ngroups: 8\ndilation: [2, 1]\n"
                                      "padding: same\nstride: 1\n")
    spec = load_specs(tmp_path / "ok.yaml")[0]
    assert (spec.groups, spec.dilation) == (8, (2, 1)) and geometry(spec).shapes["w"] == (16, 1, 3, 3)
    assert geometry(spec).padding == (2, 2, 1, 1) and geometry(spec).out == (12, 12)   # span 5 x 3 under 'same'
    for change, needle in [("groups: 8", "groups: 3"), ("dilation: [2, 1]", "dilation: 0")]:
        (tmp_path / "bad.yaml").write_text((tmp_path / "ok.yaml").read_text().replace(change, needle))
        with pytest.raises(SpecError) as e:
            load_specs(tmp_path / "bad.yaml")
        assert {"groups: 3": "field 'groups': k = 8 and p = 16 must both be multiples of groups = 3; "
                             "valid: 1, 2, 4, 8",
                "dilation: 0": "field 'dilation': must be an integer >= 1, got 0"}[needle] in str(e.value)


def test_full_padding_and_a_too_large_dilated_filter():
    geom = geometry(make_spec(n=5, m=3, dilation=2, padding="full"))
    assert geom.padding == (4, 4, 4, 4) and geom.out == (9, 9)          # d (m - 1) per side: n + e - 1
    with pytest.raises(SpecError, match=r"field 'dilation': dilation 3 spreads the filter's 3 taps over d·\(m − 1\) "
                                        r"\+ 1 = 7 input rows, .* valid: dilation <= 2"):
        geometry(make_spec(n=5, m=3, dilation=3, padding="valid"))             # m fits; d apart the taps do not
    with pytest.raises(SpecError, match=r"field 'm': filter height 5 \(dilated: d·\(m − 1\) \+ 1 with d = 2\) is "
                                        r"larger"):
        geometry(make_spec(n=2, m=3, dilation=2, padding="valid"))             # m itself does not fit


@SETTINGS
@given(specs(dtype="float16", conv=True), st.sampled_from(["direct", "im2col"]),
       st.sampled_from(["full", "channels", "sample", "fast"]))
def test_float16_builtins_pass_every_method(spec, impl, method):
    result = verify(spec, impl, method=method, budget=1e-4, samples=12)
    assert result.passed, (spec, [(c.name, c.message) for c in result.checks])


def test_float16_finite_differences_go_through_the_float64_reference():
    """A kernel that computes in float16 whatever it gets: through it, finite differences
    would be noise; through the reference they are exact, and a wrong backward still fails."""
    def forward(x, w, b, *, stride, padding):
        return direct.forward(x.astype(np.float16), w.astype(np.float16), None if b is None else b.astype(np.float16),
                              stride=stride, padding=padding)

    def backward(dy, x, w, b, *, stride, padding):
        return direct.backward(dy, x, w, b, stride=stride, padding=padding)

    def wrong(dy, x, w, b, *, stride, padding):
        dx, dw, db = backward(dy, x, w, b, stride=stride, padding=padding)
        return dx, dw * np.float16(1.2), db
    spec = make_spec(n=16, m=3, k=6, p=8, padding="same", stride=2, batch=2, dtype="float16")
    assert verify(spec, Implementation("half", forward, backward), method="full").passed
    result = verify(spec, Implementation("half", forward, wrong), method="full")
    assert result.check("dx").passed and not result.check("dw").passed
