"""The CuPy backend on a real GPU: marked `gpu`, skipped without CuPy or a CUDA device.
`python tests/benchmarks/gpu.py` runs these and the GPU benchmark."""

import pytest
from conftest import make_spec

from convcheck import load_specs, verify
from convcheck.backend import load_backend
from convcheck.errors import ConvcheckError
from convcheck.impls import Implementation, direct

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def cupy():
    try:
        return load_backend("cupy")
    except ConvcheckError as e:
        pytest.skip(str(e))


@pytest.mark.parametrize("method", ["full", "channels", "sample", "fast", "auto"])
@pytest.mark.parametrize("impl", ["direct", "im2col"])
def test_every_config_passes_on_the_gpu_and_agrees_with_numpy(cupy, method, impl):
    from pathlib import Path
    for spec in load_specs(Path(__file__).parent.parent / "configs"):
        on_gpu = verify(spec, impl, method=method, backend="cupy", budget=0.05)
        assert on_gpu.passed and on_gpu.backend == "cupy", [(c.name, c.message) for c in on_gpu.checks]
        if method in ("full", "sample", "fast"):
            on_cpu = verify(spec, impl, method=method)
            for a, b in zip(on_gpu.checks, on_cpu.checks):
                assert (a.tolerance_ratio is None) == (b.tolerance_ratio is None)


def test_plugins_get_cupy_arrays_and_may_return_numpy(cupy):
    seen = []

    def forward(x, w, b, *, stride, padding):
        seen.append(type(x).__module__.split(".")[0])
        return cupy.asnumpy(direct.forward(x, w, b, stride=stride, padding=padding))

    def backward(dy, x, w, b, *, stride, padding):
        return tuple(None if g is None else cupy.asnumpy(g)
                     for g in direct.backward(dy, x, w, b, stride=stride, padding=padding))
    result = verify(make_spec(stride=2, padding=(1, 0, 2, 1)), Implementation("host", forward, backward),
                    method="full", backend="cupy")
    assert result.passed and set(seen) == {"cupy"}


def test_a_wrong_backward_fails_on_the_gpu(cupy):
    def backward(dy, x, w, b, *, stride, padding):
        dx, dw, db = direct.backward(dy, x, w, b, stride=stride, padding=padding)
        return dx, dw[:, :, ::-1], db
    result = verify(make_spec(m=(3, 3)), Implementation("flipped", direct.forward, backward), method="full",
                    backend="cupy")
    assert result.check("dx").passed and not result.check("dw").passed
