"""backward never returns (a student's while loop without its increment)."""
from convcheck.impls.direct import forward  # noqa: F401


def backward(dy, x, w, b, *, stride, padding):
    i = 0
    while i < 10:
        pass
