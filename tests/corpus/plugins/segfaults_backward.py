"""backward dies with SIGSEGV."""
import ctypes

from convcheck.impls.direct import forward  # noqa: F401


def backward(dy, x, w, b, *, stride, padding):
    ctypes.memset(0, 0, 64)
