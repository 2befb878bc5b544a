"""backward asks for 80 TB: numpy raises MemoryError."""
import numpy as np

from convcheck.impls.direct import forward  # noqa: F401


def backward(dy, x, w, b, *, stride, padding):
    return np.zeros(10**13), w, b
