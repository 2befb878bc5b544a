"""The device code path, honest without a GPU: `verify` through a backend whose arrays refuse
to become NumPy arrays (tests/strict_backend.py), so that a stray `np.` call or a hidden
device-to-host copy in the shared code fails here. Tests that need CuPy and a GPU are marked
`gpu` and skipped without them (tests/benchmarks/gpu.py runs them)."""

import numpy as np
import pytest
import strict_backend
from conftest import make_spec, specs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convcheck import verify
from convcheck.backend import array_module, load_backend
from convcheck.errors import ConvcheckError
from convcheck.impls import Implementation, direct

LAYERS = [
    make_spec(),
    make_spec(n=(9, 8), m=(3, 2), k=3, p=2, stride=(2, 3), padding=(1, 2, 0, 1), batch=2),
    make_spec(n=7, m=3, k=2, p=2, stride=2, padding="same", dtype="float32"),
    make_spec(n=6, m=2, k=2, p=3, padding="full", bias=False),
    make_spec(n=8, m=3, k=4, p=2, stride=(1, 2), padding="valid", dtype="float32", batch=2),
    make_spec(n=9, m=3, k=4, p=6, groups=2, dilation=(2, 1), padding="same", dtype="float16"),
    make_spec(1, n=20, m=4, k=2, p=4, groups=2, dilation=2, stride=3, padding=(2, 1), batch=2),
    make_spec(3, n=(4, 5, 6), m=(2, 3, 2), k=2, p=3, stride=(1, 2, 1), padding="same", dtype="float32"),
    make_spec(n=(5, 6), m=3, k=4, p=2, stride=2, padding=(1, 0, 2, 1), output_padding=(1, 1), transposed=True,
              groups=2, batch=2),
    make_spec(1, n=7, m=3, k=2, p=3, stride=2, dilation=3, padding=(1, 2), output_padding=(2,), transposed=True,
              dtype="float32"),
]


def test_the_strict_arrays_refuse_numpy():
    a = strict_backend.asarray(np.ones((2, 3)))
    for stray in (lambda: np.asarray(a), lambda: np.sum(a), lambda: np.add(a, 1), lambda: np.ones(3) + a,
                  lambda: np.einsum("ij->i", a)):
        with pytest.raises(TypeError):
            stray()
    assert array_module(a) is strict_backend and array_module(np.ones(2)) is np
    assert float((a * 2).sum()) == 12.0 and strict_backend.asnumpy(a).shape == (2, 3)


@pytest.mark.parametrize("method", ["full", "channels", "sample", "fast", "auto"])
@pytest.mark.parametrize("impl", ["direct", "im2col"])
def test_verify_runs_on_a_non_numpy_backend_and_agrees_with_numpy(method, impl):
    for spec in LAYERS:
        on_device = verify(spec, impl, method=method, backend=strict_backend, budget=1e-4, samples=12)
        on_host = verify(spec, impl, method=method, budget=1e-4, samples=12)
        assert on_device.passed, [(c.name, c.message) for c in on_device.checks]
        for device_check, host_check in zip(on_device.checks, on_host.checks):
            assert device_check.worst_index == host_check.worst_index or method in ("channels", "auto")
            if host_check.tolerance_ratio is None:
                assert device_check.tolerance_ratio is None and device_check.skipped == host_check.skipped
            else:
                assert device_check.tolerance_ratio == pytest.approx(host_check.tolerance_ratio, rel=1e-6, abs=1e-12)


def test_only_figures_come_back_to_the_host():
    before = strict_backend.CONVERSIONS
    verify(LAYERS[1], "im2col", method="full", backend=strict_backend)
    assert strict_backend.CONVERSIONS == before


def test_a_wrong_backward_fails_on_the_device_too():
    def backward(dy, x, w, b, *, stride, padding):
        dx, dw, db = direct.backward(dy, x, w, b, stride=stride, padding=padding)
        return dx[:, :, ::-1], dw, db
    result = verify(LAYERS[1], Implementation("flipped", direct.forward, backward), method="full",
                    backend=strict_backend)
    assert not result.check("dx").passed and result.check("dw").passed
    assert result.check("dx").worst_index is not None


def test_a_plugin_returning_numpy_arrays_on_a_device_backend_is_converted_not_failed():
    def forward(x, w, b, *, stride, padding):
        return strict_backend.asnumpy(direct.forward(x, w, b, stride=stride, padding=padding))

    def backward(dy, x, w, b, *, stride, padding):
        return tuple(None if g is None else strict_backend.asnumpy(g)
                     for g in direct.backward(dy, x, w, b, stride=stride, padding=padding))
    result = verify(LAYERS[0], Implementation("host", forward, backward), method="full", backend=strict_backend)
    assert result.passed, [(c.name, c.message) for c in result.checks]


def test_unknown_backend_is_one_line():
    with pytest.raises(ConvcheckError, match="--backend tpu: unknown; valid: numpy, cupy"):
        load_backend("tpu")


def test_cupy_without_cupy_or_a_gpu_is_one_line():
    try:
        import cupy  # noqa: F401
    except ImportError:
        with pytest.raises(ConvcheckError, match=r"CuPy is not installed: pip install 'convcheck\[cupy\]'"):
            load_backend("cupy")
        return
    try:
        load_backend("cupy")
    except ConvcheckError as e:
        assert "CUDA" in str(e)


def test_the_cli_without_cupy_exits_2_with_one_line():
    pytest.importorskip("typer")
    try:
        import cupy  # noqa: F401
        pytest.skip("CuPy is installed here")
    except ImportError:
        pass
    from pathlib import Path

    from typer.testing import CliRunner

    from convcheck.cli import app
    result = CliRunner().invoke(app, ["verify", str(Path(__file__).parent.parent / "configs"), "--backend", "cupy"])
    assert result.exit_code == 2
    assert result.stderr == "convcheck: error: --backend cupy: CuPy is not installed: pip install 'convcheck[cupy]'\n"


def test_json_and_table_say_which_backend_ran():
    result = verify(LAYERS[0], "direct", backend=strict_backend)
    assert result.backend == "strict_backend"
    from convcheck.report.json_report import result_dict
    assert result_dict(result)["backend"] == "strict_backend"


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(specs(transposed=None), st.sampled_from(["float64", "float32"]),
       st.sampled_from(["full", "channels", "sample", "fast"]),
       st.sampled_from(["direct", "im2col"]))
def test_random_layers_pass_through_the_strict_backend(spec, dtype, method, impl):
    from dataclasses import replace
    spec = replace(spec, dtype=dtype)
    result = verify(spec, impl, method=method, backend=strict_backend, budget=1e-4, samples=8)
    assert result.passed, [(c.name, c.message) for c in result.checks]


def test_a_wrong_forward_and_a_batch_mistake_are_judged_and_named_on_the_device_too():
    """Verdicts through the built-in, the own-forward question and the batch diagnoses run on
    the device; only the error maps (report figures) come back to the host."""
    def forward(x, w, b, *, stride, padding):
        y = direct.forward(x, w, b, stride=stride, padding=padding)
        y[:, :, :1] = 0                                                      # the first output row left at zero
        return y

    def backward(dy, x, w, b, *, stride, padding):
        one = array_module(x).broadcast_to(x[:1], x.shape)                   # sample 0's input for every sample
        dx, _, db = direct.backward(dy, x, w, b, stride=stride, padding=padding)
        return dx, direct.backward(dy, one, w, b, stride=stride, padding=padding)[1], db
    before = strict_backend.CONVERSIONS
    impl = Implementation("wrong", forward, backward)
    result = verify(LAYERS[1], impl, method="full", backend=strict_backend, shrink=False)
    maps = sum(c.error_map is not None for c in result.checks)
    assert maps and strict_backend.CONVERSIONS == before + maps
    assert result.through == "builtin" and result.check("y").verdict == "FAIL"
    assert result.check("dx").passed and result.check("dx").own_forward.consistent is False
    assert result.check("dw").diagnosis.mistake == "batch-partial"
    shrunk = verify(LAYERS[1], impl, method="full", backend=strict_backend)   # candidates on the device, the
    small = shrunk.smallest                                                   # tiny layer's solve on the host
    assert small.fields and not small.stopped and small.failure == [["y", "wrong values"], ["dw", "batch-partial"]]


def test_a_torch_op_gets_device_tensors_through_dlpack():
    """--backend cupy with a torch: op: the arrays go to torch and back by DLPack, never through
    the host; a right op passes, a wrong one fails and is named, all on the device."""
    pytest.importorskip("torch")
    from pathlib import Path
    ops = Path(__file__).parent / "course" / "torch_ops.py"
    spec = make_spec(n=(7, 7), m=(3, 3), k=2, p=3, stride=(2, 2), padding=(1, 1, 1, 1), batch=2)
    before = strict_backend.CONVERSIONS
    right = verify(spec, f"torch:{ops}:Conv2dOp", method="full", backend=strict_backend)
    assert right.passed and right.backend == "strict_backend" and strict_backend.CONVERSIONS == before
    wrong = verify(spec, f"torch:{ops}:UnrotatedOp", method="full", backend=strict_backend, shrink=False)
    assert wrong.check("dx").diagnosis.mistake == "filter-not-rotated"
    assert strict_backend.CONVERSIONS == before + 1                       # dL/dX's error map, for the report


def test_order_two_runs_on_the_device():
    """--order 2 with --backend cupy: U drawn on the host and moved once, the op's backward and
    double backward on device tensors (DLPack), the sets, samples and projections on the device;
    a right op passes under every method, the planted one fails and is named."""
    pytest.importorskip("torch")
    from pathlib import Path
    ops = Path(__file__).parent / "course" / "torch_ops.py"
    spec = make_spec(n=(7, 7), m=(3, 3), k=2, p=3, stride=(2, 2), padding=(1, 1, 1, 1), batch=2)
    before = strict_backend.CONVERSIONS
    for method in ("full", "sample", "fast"):
        right = verify(spec, f"torch:{ops}:TwiceConv2dOp", method=method, order=2, backend=strict_backend)
        assert right.passed and len(right.checks) == 8, method
    assert strict_backend.CONVERSIONS == before
    wrong = verify(spec, f"torch:{ops}:NoFilterTwiceConv2dOp", method="full", order=2, backend=strict_backend,
                   shrink=False)
    assert [c.name for c in wrong.checks if not c.passed] == ["d2w"]
    assert wrong.check("d2w").diagnosis.mistake == "zero-gradient"
