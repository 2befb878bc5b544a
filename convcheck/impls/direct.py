"""Built-in `direct`: forward and backward as correlations (seeds 000 and 004).

    Y           = X_pad  (*)_s  F                     + b         correlation, stride s
    dL/dF_j^(i) = sum_batch X_pad^(i) (*) dil(dL/dY^(j))           seed 000, dilated by s
    dL/dX^(i)   = crop( sum_j pad_{m-1}(dil(dL/dY^(j))) (*) rot180(F_j^(i)) )   seed 004
    dL/db_j     = sum dL/dY^(j)

dil() inserts s - 1 zeros between rows/columns of dL/dY; crop() re-adds the leftover
rows no window reached (their gradient is 0) and removes the padding. A dilated filter is
its spread dense form (d - 1 zeros between taps): the same formulas hold with the spread
filter, and dL/dF is read back at its taps. Groups are independent layers side by side. Every
formula holds per spatial axis, so 1-D and 3-D layers run the same code.
"""

import itertools
import math

from ..backend import array_module
from .common import group_slices, ones, pad, spatial

ALL = (slice(None), slice(None))
"""The batch (or filter) and channel axes, whole: prefix of an index into the spatial axes."""


def correlate(x, w, stride=None):
    """Valid multi-channel correlation. x (N, C, *n), w (F, C, *m) -> (N, F, *o), any number
    of spatial axes.

    A plain loop over whichever is fewer, filter taps or output positions, each step one
    matrix product: taps for a forward (25 taps, 9216 outputs), outputs for dL/dF (9216
    "taps" of the dL/dY-sized filter, 25 outputs).
    """
    xp = array_module(x)
    dims = x.ndim - 2
    stride = stride or ones(x)
    (n, c), (f, _, *m) = x.shape[:2], w.shape
    o = [(x.shape[2 + a] - m[a]) // stride[a] + 1 for a in range(dims)]
    if math.prod(m) <= math.prod(o):
        col = xp.empty((c, *m, n, *o), dtype=x.dtype)             # Chainer's im2col, channels first
        x_t = x.swapaxes(0, 1)                                      # (C, N, *n)
        for tap in itertools.product(*map(range, m)):
            col[(slice(None),) + tap] = x_t[ALL + tuple(slice(t, t + s * q, s) for t, s, q in zip(tap, stride, o))]
        y = w.reshape(f, -1) @ col.reshape(c * math.prod(m), -1)  # (F, N * prod(o))
        return xp.ascontiguousarray(y.reshape(f, n, *o).swapaxes(0, 1))
    windows = xp.empty((*o, n, c, *m), dtype=x.dtype)              # one window per output position
    for position in itertools.product(*map(range, o)):
        windows[position] = x[ALL + tuple(slice(q * s, q * s + t) for q, s, t in zip(position, stride, m))]
    y = windows.reshape(math.prod(o) * n, -1) @ w.reshape(f, -1).T  # (prod(o) * N, F)
    return xp.ascontiguousarray(y.reshape(*o, n, f).transpose(dims, dims + 1, *range(dims)))


def dilate(a, step):
    """Insert step - 1 zeros between neighbours on the last len(step) axes: dL/dY dilated by the
    stride (N, p, o_h, o_w) -> (N, p, s_h(o_h-1)+1, s_w(o_w-1)+1), and a dilated filter as a dense
    one (p, c, m_h, m_w) -> (p, c, d_h(m_h-1)+1, d_w(m_w-1)+1), whose correlation is the dilated one."""
    if all(s == 1 for s in step):
        return a
    xp = array_module(a)
    lead = a.shape[:a.ndim - len(step)]
    sizes = a.shape[a.ndim - len(step):]
    out = xp.zeros((*lead, *(s * (n - 1) + 1 for s, n in zip(step, sizes))), dtype=a.dtype)
    out[(...,) + tuple(slice(None, None, s) for s in step)] = a
    return out


def forward(x, w, b, *, stride, padding, dilation=None, groups=1):
    """x (N, k, *n), w (p, k / groups, *m), b (p,) or None -> y (N, p, *o); 2-D: (N, k, H, W)."""
    xp = array_module(x)
    x_pad, w_spread = pad(x, padding), dilate(w, dilation or ones(x))
    parts = [correlate(x_pad[:, channels], w_spread[filters], stride)
             for channels, filters in group_slices(x.shape[1], w.shape[0], groups)]
    y = parts[0] if groups == 1 else xp.concatenate(parts, axis=1)
    if b is not None:
        y += b.reshape(-1, *ones(x))
    return y


def backward(dy, x, w, b, *, stride, padding, dilation=None, groups=1):
    """dy (N, p, *o) -> dx (N, k, *n), dw (p, k / groups, *m), db (p,) or None.

    Each group on its own (its channels of X, its filters, its channels of dL/dY); a dilated
    filter as its spread dense form, whose gradient is read back at the taps."""
    xp = array_module(dy)
    dilation = dilation or ones(x)
    w_spread = dilate(w, dilation)
    dx, dw = xp.zeros(x.shape, dtype=dy.dtype), xp.zeros(w_spread.shape, dtype=dy.dtype)
    for channels, filters in group_slices(x.shape[1], w.shape[0], groups):
        dx[:, channels], dw[filters] = _dense_backward(dy[:, filters], x[:, channels], w_spread[filters],
                                                       stride, padding)
    db = None if b is None else dy.sum(axis=(0, *spatial(dy)))
    return dx, xp.ascontiguousarray(dw[ALL + tuple(slice(None, None, d) for d in dilation)]), db


def _dense_backward(dy, x, w, stride, padding):
    """dL/dX (N, k, *n) and dL/dF (p, k, *m) of one dense, ungrouped layer (seeds 000, 004)."""
    xp = array_module(dy)
    dims = x.ndim - 2
    m = w.shape[2:]
    dy_dil = dilate(dy, stride)                              # (N, p, *dilated)
    reach = tuple(dy_dil.shape[2 + a] + m[a] - 1 for a in range(dims))
    x_pad = pad(x, padding)[ALL + tuple(slice(0, r) for r in reach)]   # (N, k, *reach), leftover dropped
    # dL/dF: batch becomes the summed 'channel' axis, so F = p and C = N
    dw = correlate(x_pad.swapaxes(0, 1), dy_dil.swapaxes(0, 1)).swapaxes(0, 1)   # (p, k, *m)
    # dL/dX: full convolution = correlation of the (m-1)-padded dL/dY with rot180(F)
    dy_full = pad(dy_dil, tuple(t - 1 for t in m for _ in (0, 1)))   # (N, p, *(dilated + 2 (m - 1)))
    w_rot = w[ALL + (slice(None, None, -1),) * dims].swapaxes(0, 1)  # (k, p, *m), every spatial axis turned
    dx_reach = correlate(dy_full, w_rot)                              # (N, k, *reach)
    sizes = x.shape[2:]
    dx_pad = xp.zeros((*x.shape[:2], *(n + padding[2 * a] + padding[2 * a + 1] for a, n in enumerate(sizes))),
                      dtype=dx_reach.dtype)
    dx_pad[ALL + tuple(slice(0, r) for r in reach)] = dx_reach        # leftover rows stay 0
    return dx_pad[ALL + tuple(slice(padding[2 * a], padding[2 * a] + n) for a, n in enumerate(sizes))], dw
