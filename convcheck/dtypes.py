"""The dtypes a layer is checked in, by the spec's name: NumPy's float64, float32 and float16,
and bfloat16 through ml_dtypes (the NumPy bfloat16 JAX uses; an optional extra, imported only
for a bfloat16 layer). No NumPy at import: the command line reads the names before any worker.
"""

from .errors import ConvcheckError

HALF = ("float16", "bfloat16")
"""Dtypes that round to about three significant digits: finite differences never go through a
forward computed in them (checker._through), and a failing forward's gradients are not asked
for against it (consistency)."""
BYTES = {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2}


def numpy_dtype(name: str):
    """The NumPy dtype for the spec's `dtype` name; ConvcheckError with the install line where
    bfloat16's ml_dtypes is missing."""
    import numpy as np
    if name != "bfloat16":
        return np.dtype(name)
    try:
        import ml_dtypes
    except ImportError:
        raise ConvcheckError("dtype bfloat16 needs ml_dtypes (NumPy's bfloat16): pip install "
                             "'convcheck[bfloat16]'") from None
    return np.dtype(ml_dtypes.bfloat16)
