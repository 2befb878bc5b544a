"""verify(): correct implementations pass on generated specs, realistic wrong ones fail."""

from pathlib import Path

import numpy as np
import pytest
from conftest import PLUGINS, make_spec, specs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wrong import WRONG

from convcheck import verify
from convcheck.errors import ConvcheckError
from convcheck.geometry import geometry
from convcheck.impls import Implementation, direct, im2col

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])


@SETTINGS
@given(specs())
def test_builtins_pass_every_coordinate(spec):
    for impl in ("direct", "im2col", str(PLUGINS / "naive_loops.py")):
        result = verify(spec, impl, method="full")
        assert result.passed, (impl, spec, [(c.name, c.message) for c in result.checks])
        assert result.method == "full"
        assert all(c.checked == c.total for c in result.checks if not c.skipped)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(specs(dtype="float32"))
def test_builtins_pass_in_float32(spec):
    assert verify(spec, "direct", method="full").passed
    assert verify(spec, "im2col", method="full").passed


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(specs(), st.sampled_from(["direct", "im2col"]))
def test_fast_and_sample_agree_with_full_on_correct_implementations(spec, impl):
    """Every method passes a correct implementation (strides, padding: clipped receptive fields)."""
    for method in ("channels", "sample", "fast"):
        result = verify(spec, impl, method=method, samples=8, budget=1e-4)
        assert result.passed and result.method == method, (method, [(c.name, c.message) for c in result.checks])


@SETTINGS
@given(specs())
def test_the_two_builtins_agree(spec):
    geom = geometry(spec)
    rng = np.random.default_rng(spec.seed)
    x, w = rng.standard_normal(geom.shapes["x"]), rng.standard_normal(geom.shapes["w"])
    b = rng.standard_normal(spec.p) if spec.bias else None
    dy = rng.standard_normal(geom.shapes["y"])
    kwargs = dict(stride=spec.stride, padding=geom.padding)
    np.testing.assert_allclose(direct.forward(x, w, b, **kwargs), im2col.forward(x, w, b, **kwargs),
                               rtol=1e-12, atol=1e-12)
    for a, c in zip(direct.backward(dy, x, w, b, **kwargs), im2col.backward(dy, x, w, b, **kwargs)):
        assert (a is None) == (c is None)
        if a is not None:
            np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-12)


def _wrong(name):
    impl, overrides, tensor = WRONG[name]
    return Implementation(name, impl.forward, impl.backward), overrides, tensor


@pytest.mark.parametrize("method", ["full", "channels", "sample", "fast"])
@pytest.mark.parametrize("name", sorted(WRONG))
def test_wrong_implementations_fail_on_the_right_tensor(name, method):
    impl, overrides, tensor = _wrong(name)
    spec = make_spec(**{"n": (9, 8), "m": (3, 3), **overrides})
    result = verify(spec, impl, method=method, samples=16)
    assert not result.passed
    check = result.check(tensor)
    assert check.verdict == "FAIL" and check.message
    projected = check.coverage is not None and check.coverage.exact == 0  # knows the tensor, not the element
    if check.max_abs is not None and not projected:      # a numeric failure names its worst element
        assert check.worst_index is not None and len(check.worst_index) == len(check.expected_shape)
    if check.max_abs is not None and projected:
        assert "rerun with --method full" in check.message


def test_the_forward_is_checked_against_the_loop_reference():
    impl, _, _ = _wrong("flipped_forward")
    result = verify(make_spec(), impl, method="full")
    assert "loop reference" in result.check("y").message
    # its backward is the gradient of its own (wrong) forward: right for that forward, wrong for the layer
    assert result.through == "builtin"
    assert result.check("dx").verdict == "FAIL" and result.check("dw").verdict == "FAIL"
    assert result.check("dx").own_forward.consistent and result.check("dw").own_forward.consistent


def test_sample_always_includes_the_corners_of_x():
    impl, _, _ = _wrong("nan")  # NaN in the last corner of dx
    spec = make_spec(n=(40, 40), m=(3, 3))
    assert verify(spec, impl, method="sample", samples=4).check("dx").verdict == "FAIL"


def test_auto_runs_full_on_small_layers_and_says_so():
    result = verify(make_spec(), "direct")
    assert result.method == "full" and not result.partial


def test_full_costs_the_floor_in_whole_layer_forwards():
    """Seed 001's layer: 125 colour classes + 125 taps + 1 bias + 1 unperturbed + 2 forward checks."""
    from convcheck.loader import load_specs
    spec = load_specs(PLUGINS.parent.parent / "configs" / "multichannel_5x100x100.yaml")[0]
    assert verify(spec, "im2col", method="full").forwards == 254


def test_a_budget_must_be_positive():
    with pytest.raises(ConvcheckError, match="--budget"):
        verify(make_spec(), "direct", budget=0)


def test_plugin_that_breaks_only_on_perturbed_batches_is_a_failed_check_not_a_crash():
    def forward(x, w, b, *, stride, padding):
        if x.shape[0] != 1:
            raise MemoryError("batch too big")
        return direct.forward(x, w, b, stride=stride, padding=padding)
    impl = Implementation("picky", forward, direct.backward)
    assert verify(make_spec(batch=1), impl, method="full").passed      # differences through the built-in: no batches
    result = verify(make_spec(batch=1), impl, method="full", through="implementation")
    assert not result.passed
    assert result.check("y").passed
    assert "not checked" in result.check("dx").message and "MemoryError" in result.check("dx").message


def test_backward_returning_two_values_fails_every_gradient():
    impl = Implementation("two", direct.forward, lambda *a, **k: direct.backward(*a, **k)[:2])
    result = verify(make_spec(), impl)
    assert all("expected a tuple (dx, dw, db)" in result.check(n).message for n in ("dx", "dw", "db"))


def test_tolerance_precedence_cli_over_spec_over_dtype():
    assert verify(make_spec(), "direct").rtol == 1e-6
    assert verify(make_spec(rtol=1e-3), "direct").rtol == 1e-3
    assert verify(make_spec(rtol=1e-3), "direct", rtol=0.5).rtol == 0.5
    assert verify(make_spec(dtype="float32"), "direct").atol == 1e-3


def test_seeded_runs_are_repeatable_and_the_seed_matters():
    a, b = verify(make_spec(seed=3), "direct"), verify(make_spec(seed=3), "direct")
    c = verify(make_spec(), "direct", seed=4)
    assert a.check("dx").max_abs == b.check("dx").max_abs
    assert a.check("dx").max_abs != c.check("dx").max_abs


def test_unknown_method_is_a_usage_error():
    with pytest.raises(ConvcheckError, match="valid: auto, full, channels, sample, fast"):
        verify(make_spec(), "direct", method="fastest")


def test_plugins_that_write_into_their_inputs_fail_and_do_not_corrupt_the_check():
    def forward(x, w, b, *, stride, padding):
        y = direct.forward(x, w, b, stride=stride, padding=padding)
        x *= 2.0
        w += 1.0
        return y

    def backward(dy, x, w, b, *, stride, padding):
        grads = direct.backward(dy, x, w, b, stride=stride, padding=padding)
        dy[...] = 0.0
        return grads
    spec = make_spec(stride=(2, 1), padding=(1, 0, 0, 1))
    result = verify(spec, Implementation("scribbler", forward, backward), method="full")
    assert not result.passed
    assert "forward wrote into its argument x, w (in place)" in result.check("y").message
    for name in ("dx", "dw", "db"):
        assert "backward wrote into its argument dy (in place)" in result.check(name).message
    # finite differences run on copies: the scribbling forward still gives right numerical gradients
    only_forward = verify(spec, Implementation("scribbler", forward, direct.backward), method="full")
    assert not only_forward.check("y").passed
    assert all(only_forward.check(name).passed for name in ("dx", "dw", "db"))


def test_a_forward_returning_text_is_a_failed_check():
    impl = Implementation("texty", lambda *a, **k: "not an array", direct.backward)
    check = verify(make_spec(), impl).check("y")
    assert check.verdict == "FAIL" and "returned str" in check.message


@pytest.mark.parametrize("method", ["full", "channels", "sample", "fast"])
def test_a_plugin_that_computes_in_float32_whatever_it_is_given_passes_float32_specs(method):
    """Its forward rounds to float32 even on float64 input: the step grows to match."""
    def forward(x, w, b, *, stride, padding):
        return im2col.forward(x.astype(np.float32), w.astype(np.float32), None if b is None else b.astype(np.float32),
                              stride=stride, padding=padding)

    def backward(dy, x, w, b, *, stride, padding):
        return im2col.backward(dy, x, w, b, stride=stride, padding=padding)
    spec = make_spec(n=(12, 11), m=(3, 3), k=4, p=5, batch=2, stride=(2, 1), padding="same", dtype="float32")
    assert verify(spec, Implementation("f32", forward, backward), method=method, budget=1e-4).passed


def test_no_false_failures_on_random_correct_layers_of_every_kind():
    """The stress script at CI size: random layers (1-D, 2-D and 3-D, plain and transposed, strides
    1-4, every padding form, dilation and groups, float64, float32 and float16), both built-ins,
    every method;
    tests/benchmarks/stress_correct.py runs 1,000."""
    import importlib.util
    path = Path(__file__).parent / "benchmarks" / "stress_correct.py"
    module_spec = importlib.util.spec_from_file_location("stress_correct", path)
    stress_correct = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(stress_correct)
    counts, checks, false_failures = stress_correct.stress(layers=150, seed=2026, report=lambda line: None)
    transposed = counts.pop("transposed")
    assert min(counts.values()) > 30 and transposed > 20 and checks == 150 * 8
    assert false_failures == []


def test_channels_covers_one_channel_of_every_group_per_set():
    """With groups, one forward set is w's channel j: input channel j of every group."""
    spec = make_spec(n=9, m=3, k=8, p=4, groups=2, padding=1, batch=2)
    result = verify(spec, "im2col", method="channels", channels=2)
    assert result.passed and result.rerun == {"method": "channels", "channels": 2, "projections": 16}
    assert result.check("dx").coverage.channels == (0, 3, 4, 7)      # sets 0 and 3 (the first and last) in both groups
    assert result.check("dw").coverage.channels == (0, 3)
    per_set = 3 * 3 + 3 * 3                                           # colour classes + taps
    assert result.forwards == 4 + 2 * per_set + 2 * 16                # 2 forward checks, baseline, bias; projections
    full = verify(spec, "im2col", channels=4)                         # every set: full
    assert full.method == "full" and full.forwards == 2 * 4 * 9 + 4
