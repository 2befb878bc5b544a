"""backward recurses forever."""
from convcheck.impls.direct import forward  # noqa: F401


def backward(dy, x, w, b, *, stride, padding):
    return backward(dy, x, w, b, stride=stride, padding=padding)
