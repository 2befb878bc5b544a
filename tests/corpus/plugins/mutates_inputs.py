"""Right gradients, but backward zeroes dy in place once it is done with it."""
from convcheck.impls import direct
from convcheck.impls.direct import forward  # noqa: F401


def backward(dy, x, w, b, *, stride, padding):
    grads = direct.backward(dy, x, w, b, stride=stride, padding=padding)
    dy[...] = 0
    return grads
