"""dL/dF with its two spatial axes and its filter and channel axes exchanged."""
from convcheck.impls import direct
from convcheck.impls.direct import forward  # noqa: F401


def backward(dy, x, w, b, *, stride, padding):
    dx, dw, db = direct.backward(dy, x, w, b, stride=stride, padding=padding)
    return dx, dw.transpose(1, 0, 3, 2), db
