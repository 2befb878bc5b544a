"""backward raises KeyboardInterrupt itself (a BaseException that is not Exception)."""
from convcheck.impls.direct import forward  # noqa: F401


def backward(dy, x, w, b, *, stride, padding):
    raise KeyboardInterrupt
