"""forward writes every output into one buffer per shape and returns it (as some kernels do);
backward returns dL/db = 0. convcheck copies what a plug-in returns, so the buffer's next write
moves nothing it compares: dL/db fails."""
import numpy as np

from convcheck.impls import direct

BUFFERS = {}


def forward(x, w, b, **kwargs):
    y = direct.forward(x, w, b, **kwargs)
    out = BUFFERS.setdefault(y.shape, np.empty_like(y))
    out[...] = y
    return out


def backward(dy, x, w, b, **kwargs):
    dx, dw, db = direct.backward(dy, x, w, b, **kwargs)
    return dx, dw, np.zeros_like(db)
