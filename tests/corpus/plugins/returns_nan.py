"""dL/dX holds a NaN (an uninitialised np.empty element)."""
import numpy as np

from convcheck.impls import direct
from convcheck.impls.direct import forward  # noqa: F401


def backward(dy, x, w, b, *, stride, padding):
    dx, dw, db = direct.backward(dy, x, w, b, stride=stride, padding=padding)
    dx.flat[5] = np.nan
    return dx, dw, db
