"""forward is right on its first call only and returns 2y afterwards; backward returns 2x every
gradient, so it is the gradient of what the forward gives from its second call on. The forward
check calls it twice (a second draw, then the seeded one): Y fails, the gradients fail."""
from convcheck.impls import direct

CALLS = []


def forward(x, w, b, **kwargs):
    CALLS.append(1)
    return direct.forward(x, w, b, **kwargs) * (1 if len(CALLS) == 1 else 2)


def backward(dy, x, w, b, **kwargs):
    return tuple(2 * g for g in direct.backward(dy, x, w, b, **kwargs))
