"""backward aborts (a failed assert in C code): SIGABRT."""
import os

from convcheck.impls.direct import forward  # noqa: F401


def backward(dy, x, w, b, *, stride, padding):
    os.abort()
