"""backward raises IndexError two frames deep in this file: the error names the innermost line here."""
from convcheck.impls.direct import forward  # noqa: F401


def _scatter(dx, i):
    return dx[i]


def backward(dy, x, w, b, *, stride, padding):
    return _scatter(x, x.shape[0] + 7), w, b
