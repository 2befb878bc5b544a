"""Gradients returned in float32 whatever the inputs' dtype."""
import numpy as np

from convcheck.impls import direct
from convcheck.impls.direct import forward  # noqa: F401


def backward(dy, x, w, b, *, stride, padding):
    return tuple(None if g is None else g.astype(np.float32)
                 for g in direct.backward(dy, x, w, b, stride=stride, padding=padding))
