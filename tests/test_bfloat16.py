"""dtype: bfloat16 (issue 29, part 2): NumPy plug-ins get ml_dtypes' bfloat16 arrays, torch ops
torch.bfloat16 tensors; right ones pass at the measured tolerances, wrong ones fail and are
named, a plug-in that returns another dtype fails on it, and where bfloat16 cannot be had the
error is one line on the spec's dtype field."""

import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import make_spec, specs
from hypothesis import HealthCheck, given, settings

from convcheck import verify
from convcheck.errors import SpecError
from convcheck.impls import Implementation, direct
from convcheck.loader import load_mapping
from convcheck.options import TOLERANCES

ml_dtypes = pytest.importorskip("ml_dtypes")
OPS = Path(__file__).parent / "course" / "torch_ops.py"
LAYER = {"n": 7, "m": 3, "k": 3, "p": 4, "padding": 1, "stride": 2, "dtype": "bfloat16"}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(specs(dtype="bfloat16", conv=True, dims=None, transposed=None))
def test_the_built_ins_pass_random_bfloat16_layers(spec):
    """Float32 accumulation rounded once (impls.common.in_float32): within the defaults on any
    layer, dilation, groups, 1-D, 3-D and transposed included."""
    for impl in ("direct", "im2col"):
        result = verify(spec, impl, method="full", shrink=False)
        assert result.passed, (impl, spec, [(c.name, c.message) for c in result.checks if not c.passed])


def test_a_plugin_gets_bfloat16_arrays_and_a_mistake_is_named():
    seen = []

    def backward(dy, x, w, b, **kwargs):
        seen.append((dy.dtype, x.dtype, w.dtype, b.dtype))
        turned = w[:, :, ::-1, ::-1]
        dx = direct.backward(dy, x, turned, b, **kwargs)[0]
        return (dx, *direct.backward(dy, x, w, b, **kwargs)[1:])
    result = verify(load_mapping(LAYER)[0], Implementation("unrotated", direct.forward, backward))
    assert seen and all(d == np.dtype(ml_dtypes.bfloat16) for d in seen[0])
    check = result.check("dx")
    assert not check.passed and check.diagnosis.mistake == "filter-not-rotated"
    assert (result.rtol, result.atol) == TOLERANCES["bfloat16"]
    assert result.check("dw").passed and result.check("db").passed


def test_a_gradient_in_another_dtype_fails_on_its_dtype():
    def backward(dy, x, w, b, **kwargs):
        return tuple(a.astype(np.float32) for a in direct.backward(dy, x, w, b, **kwargs))
    result = verify(load_mapping(LAYER)[0], Implementation("float32", direct.forward, backward))
    assert "dtype float32, expected bfloat16" in result.check("dx").message


def test_torch_ops_get_bfloat16_tensors():
    pytest.importorskip("torch")
    spec = load_mapping(LAYER)[0]
    assert verify(spec, f"torch:{OPS}:Conv2dOp", method="full").passed
    assert verify(spec, f"torch:{OPS}:conv", method="full").passed
    wrong = verify(spec, f"torch:{OPS}:UnrotatedOp", method="full")
    assert wrong.check("dx").diagnosis.mistake == "filter-not-rotated"


def test_finite_differences_never_go_through_a_bfloat16_forward():
    result = verify(load_mapping(LAYER)[0], "direct", through="implementation")
    assert result.passed and result.through == "builtin"


def test_without_ml_dtypes_the_error_names_the_field_and_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ml_dtypes", None)           # `import ml_dtypes` raises ImportError
    with pytest.raises(SpecError) as raised:
        verify(load_mapping(LAYER)[0], "direct")
    assert raised.value.field == "dtype" and "pip install 'convcheck[bfloat16]'" in str(raised.value)


def test_a_backend_without_bfloat16_refuses_the_layer_in_one_line():
    import strict_backend
    with pytest.raises(SpecError) as raised:
        verify(make_spec(dtype="bfloat16"), "direct", backend=strict_backend)
    assert raised.value.field == "dtype" and "no bfloat16 arrays" in str(raised.value)


def test_small_errors_in_half_precision_say_what_summing_in_it_leaves():
    """A tensor off by a percent or two (a sum rounded in bfloat16 as it goes) is no known
    mistake, said with what to do; one off by its own size is not called rounding."""
    from convcheck.diagnose import diagnose
    from convcheck.geometry import geometry
    spec = load_mapping(LAYER)[0]
    geom = geometry(spec)
    rng = np.random.default_rng(1)
    data = {t: rng.standard_normal(geom.shapes[s]) for t, s in (("x", "x"), ("w", "w"), ("b", "b"), ("g", "y"))}
    kwargs = {"stride": spec.stride, "padding": geom.padding}
    truth = direct.backward(data["g"], data["x"], data["w"], data["b"], **kwargs)[0]
    rounded = truth + 0.02 * np.abs(truth).max() * rng.uniform(-1, 1, truth.shape)
    said = diagnose("dx", rounded, data, geom, *TOLERANCES["bfloat16"])
    assert said.mistake is None and "summing in bfloat16" in said.explanation and "float32" in said.explanation
    wrong = truth + np.abs(truth).max() * rng.uniform(-1, 1, truth.shape)
    assert "summing in" not in diagnose("dx", wrong, data, geom, *TOLERANCES["bfloat16"]).explanation
