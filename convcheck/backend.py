"""The array-module seam: one code path for every backend.

Shared code takes `xp = array_module(x)` from its data and calls `xp.` where it would call
`numpy.`, so that CuPy (NumPy's API on a CUDA device) runs the same kernels on the GPU.
Index bookkeeping stays on the host in NumPy; arrays of the layer's size live on the
backend's device; only the report's figures (scalars) come back.
"""

import importlib
import sys

import numpy

from .errors import ConvcheckError

BACKENDS = ("numpy", "cupy")


def array_module(*arrays):
    """The module that owns these arrays: the top-level module of the first array's type that
    is not NumPy's (cupy for cupy.ndarray; any module with NumPy's API), else numpy."""
    for a in arrays:
        if a is None or isinstance(a, (numpy.ndarray, numpy.generic, int, float, bool)):
            continue
        module = sys.modules.get(type(a).__module__.split(".")[0])
        if module is not None and hasattr(module, "asarray"):
            return module
    return numpy


def load_backend(backend):
    """'numpy', 'cupy', or an array module itself -> the module; one-line ConvcheckError when
    CuPy or a CUDA device is missing."""
    if not isinstance(backend, str):
        return backend
    if backend == "numpy":
        return numpy
    if backend != "cupy":
        raise ConvcheckError(f"--backend {backend}: unknown; valid: {', '.join(BACKENDS)}")
    try:
        import cupy
    except ImportError:
        raise ConvcheckError("--backend cupy: CuPy is not installed: pip install 'convcheck[cupy]'") from None
    except Exception as e:  # a broken CUDA install can fail at import
        raise ConvcheckError(f"--backend cupy: importing CuPy failed: {type(e).__name__}: {e}") from None
    try:
        devices = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # CUDARuntimeError: no driver, driver too old, ...
        raise ConvcheckError(f"--backend cupy: CUDA driver error: {e}") from None
    if devices == 0:
        raise ConvcheckError("--backend cupy: no CUDA device found")
    return cupy


def sliding_window_view(xp):
    """xp's lib.stride_tricks.sliding_window_view (CuPy has it since v13)."""
    try:
        return xp.lib.stride_tricks.sliding_window_view
    except AttributeError:  # a package that does not import its submodule
        return importlib.import_module(f"{xp.__name__}.lib.stride_tricks").sliding_window_view


def synchronize(xp) -> None:
    """Wait for the device's queued work (CuPy runs kernels asynchronously), so that a clock
    read afterwards times the work itself; nothing to do on the CPU."""
    cuda = getattr(xp, "cuda", None)
    if cuda is not None and hasattr(cuda, "get_current_stream"):
        cuda.get_current_stream().synchronize()


def to_device(xp, a):
    """A host array (or None) on xp's device."""
    return None if a is None else xp.asarray(a)
