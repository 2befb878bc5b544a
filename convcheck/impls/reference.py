"""The plain-loop oracle of the forward pass, straight from seed 004's index formula, one
spatial axis or three alike, with taps d apart (dilation) and filters that see only their
group's input channels:

    y[n, f, r, c] = sum_i sum_a sum_b X_pad[n, g k' + i, r*s_h + a*d_h, c*s_w + b*d_w] * w[f, i, a, b] + b[f]

(in 2-D; per axis the same in 1-D and 3-D) where k' = k / groups and g = f // (p / groups)
is filter f's group (correlation: the filter is not flipped). The loop runs over the groups
and the filter taps; each tap adds w[:, :, tap] times the input pixels it meets, for every
output position at once. It shares no code with the implementations under test, computes
its own output size, and is itself tested against scipy.signal.correlate and torch's
conv1d/2d/3d. It runs on the arrays' own backend (the GPU with CuPy), in float64.
"""

import itertools

from ..backend import array_module


def forward(x, w, b, *, stride, padding, dilation=None, groups=1):
    """x (N, k, *n), w (p, k / groups, *m), b (p,) or None -> y (N, p, *o), float64."""
    xp = array_module(x)
    dims = x.ndim - 2
    dilation = dilation or (1,) * dims
    n_batch, k, *sizes = x.shape
    p, k_group, *taps = w.shape
    x_pad = xp.zeros((n_batch, k, *(n + padding[2 * a] + padding[2 * a + 1] for a, n in enumerate(sizes))))
    inside = tuple(slice(padding[2 * a], padding[2 * a] + n) for a, n in enumerate(sizes))
    x_pad[(slice(None), slice(None)) + inside] = x
    out = [len(range(0, x_pad.shape[2 + a] - dilation[a] * (taps[a] - 1), stride[a])) for a in range(dims)]
    y = xp.zeros((p, n_batch, *out))                       # every window start whose span fits
    p_group = p // groups
    for g in range(groups):
        channels = x_pad[:, g * k_group:(g + 1) * k_group]
        filters = slice(g * p_group, (g + 1) * p_group)
        for tap in itertools.product(*(range(m) for m in taps)):
            at = tuple(slice(t * d, t * d + s * o, s) for t, d, s, o in zip(tap, dilation, stride, out))
            pixels = channels[(slice(None), slice(None)) + at]                     # (N, k', *o)
            y[filters] += xp.tensordot(w[(filters, slice(None)) + tap].astype(xp.float64), pixels, axes=([1], [1]))
    y = xp.moveaxis(y, 0, 1)                                                       # (N, p, *o)
    if b is not None:
        y = y + b.astype(xp.float64).reshape(-1, *(1,) * dims)
    return y
