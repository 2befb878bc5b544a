"""backward ends the process with os._exit(3): no exception, no cleanup."""
import os

from convcheck.impls.direct import forward  # noqa: F401


def backward(dy, x, w, b, *, stride, padding):
    os._exit(3)
