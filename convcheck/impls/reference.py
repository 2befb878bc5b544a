"""The plain-loop oracle of the forward pass, straight from the per-index form (docs/derivations.md), one
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
from ..geometry import pairs
from .common import pad, transposed_out


def forward(x, w, b, *, stride, padding, dilation=None, groups=1, transposed=False, output_padding=None):
    """x (N, k, *n), w (p, k / groups, *m), b (p,) or None -> y (N, p, *o), float64; transposed:
    w (k, p / groups, *m), `transposed_forward`."""
    xp = array_module(x)
    dims = x.ndim - 2
    dilation = dilation or (1,) * dims
    if transposed:
        return transposed_forward(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups,
                                  output_padding=output_padding or (0,) * dims)
    n_batch, k, *sizes = x.shape
    p, k_group, *taps = w.shape
    x_pad = pad(x.astype(xp.float64), padding)
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


def transposed_forward(x, w, b, *, stride, padding, dilation, groups, output_padding):
    """A transposed convolution from its index formula: input pixel i of channel c adds
    x[n, c, i] w[c, f', a] to output i s + a d - lo of filter g (p / groups) + f', g the channel's
    group; outputs past the full map (output padding) get only the bias. x (N, k, *n), w (k, p /
    groups, *m) -> y (N, p, *o), float64. The loop runs over the groups and the taps; each tap
    scatters every input pixel at once into a buffer as large as the full map and the output."""
    xp = array_module(x)
    dims = x.ndim - 2
    n_batch, k, *sizes = x.shape
    _, p_group, *taps = w.shape
    out = transposed_out(x, w, stride, padding, dilation, output_padding)
    before = [lo for lo, _ in pairs(padding)]
    span = [max((sizes[a] - 1) * stride[a] + dilation[a] * (taps[a] - 1) + 1, before[a] + out[a])
            for a in range(dims)]                                  # the full map, or the output if longer
    full = xp.zeros((p_group * groups, n_batch, *span))
    k_group = k // groups
    for g in range(groups):
        channels = x[:, g * k_group:(g + 1) * k_group].astype(xp.float64)       # (N, k', *n)
        filters = slice(g * p_group, (g + 1) * p_group)
        for tap in itertools.product(*(range(m) for m in taps)):
            at = tuple(slice(t * d, t * d + s * (n - 1) + 1, s) for t, d, s, n in zip(tap, dilation, stride, sizes))
            full[(filters, slice(None)) + at] += xp.tensordot(w[(slice(g * k_group, (g + 1) * k_group), slice(None))
                                                                + tap].astype(xp.float64), channels, axes=([0], [1]))
    y = xp.moveaxis(full[(slice(None), slice(None)) + tuple(slice(lo, lo + o) for lo, o in zip(before, out))],
                    0, 1)                                                                       # (N, p, *o)
    if b is not None:
        y = y + b.astype(xp.float64).reshape(-1, *(1,) * dims)
    return y
