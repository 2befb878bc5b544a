"""Built-in `direct`: forward and backward as correlations (docs/derivations.md).

    Y           = X_pad  (*)_s  F                     + b         correlation, stride s
    dL/dF_j^(i) = sum_batch X_pad^(i) (*) dil(dL/dY^(j))           the dL/dF derivation, dilated by s
    dL/dX^(i)   = crop( sum_j pad_{m-1}(dil(dL/dY^(j))) (*) rot180(F_j^(i)) )   the dL/dX derivation
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
from ..geometry import pairs
from .common import extend, group_slices, in_float32, ones, pad, plain_size, spatial, transposed_out

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


@in_float32
def forward(x, w, b, *, stride, padding, dilation=None, groups=1, transposed=False, output_padding=None):
    """x (N, k, *n), w (p, k / groups, *m), b (p,) or None -> y (N, p, *o); 2-D: (N, k, H, W).
    transposed: w (k, p / groups, *m), y the dL/dX formula applied to x (`_transposed`)."""
    if transposed:
        return _forward_transposed(x, w, b, stride, padding, dilation or ones(x), groups, output_padding)
    xp = array_module(x)
    x_pad, w_spread = pad(x, padding), dilate(w, dilation or ones(x))
    parts = [correlate(x_pad[:, channels], w_spread[filters], stride)
             for channels, filters in group_slices(x.shape[1], w.shape[0], groups)]
    y = parts[0] if groups == 1 else xp.concatenate(parts, axis=1)
    if b is not None:
        y += b.reshape(-1, *ones(x))
    return y


@in_float32
def backward(dy, x, w, b, *, stride, padding, dilation=None, groups=1, transposed=False, output_padding=None):
    """dy (N, p, *o) -> dx (N, k, *n), dw (p, k / groups, *m), db (p,) or None (a transposed
    layer's dw is (k, p / groups, *m)).

    Each group on its own (its channels of X, its filters, its channels of dL/dY); a dilated
    filter as its spread dense form, whose gradient is read back at the taps."""
    dilation = dilation or ones(x)
    db = None if b is None else dy.sum(axis=(0, *spatial(dy)))
    if transposed:
        return (*_backward_transposed(dy, x, w, stride, padding, dilation, groups, output_padding), db)
    return (input_gradient(dy, w, x.shape, stride, padding, dilation, groups),
            filter_gradient(dy, x, w.shape, stride, padding, dilation, groups), db)


def input_gradient(dy, w, x_shape, stride, padding, dilation, groups):
    """dL/dX (N, k, *n) of a plain layer: per group, the full convolution of dL/dY with the
    turned, spread filter (the dL/dX derivation)."""
    xp = array_module(dy)
    w_spread = dilate(w, dilation)
    dx = xp.zeros(x_shape, dtype=dy.dtype)
    for channels, filters in group_slices(x_shape[1], w.shape[0], groups):
        dx[:, channels] = _input_gradient(dy[:, filters], w_spread[filters], x_shape, stride, padding)
    return dx


def filter_gradient(dy, x, w_shape, stride, padding, dilation, groups):
    """dL/dF (p, k / groups, *m) of a plain layer: per group, X_pad correlated with the
    dilated dL/dY (the dL/dF derivation), read back at the taps of a dilated filter."""
    xp = array_module(dy)
    m = w_shape[2:]
    spread = tuple(d * (t - 1) + 1 for d, t in zip(dilation, m))
    dw = xp.zeros((*w_shape[:2], *spread), dtype=dy.dtype)
    for channels, filters in group_slices(x.shape[1], w_shape[0], groups):
        dw[filters] = _filter_gradient(dy[:, filters], x[:, channels], spread, stride, padding)
    return xp.ascontiguousarray(dw[ALL + tuple(slice(None, None, d) for d in dilation)])


def _reach(dy_dil, m):
    """Rows of X_pad some window reads: the dilated dL/dY's size + m - 1 per axis."""
    return tuple(dy_dil.shape[2 + a] + t - 1 for a, t in enumerate(m))


def _filter_gradient(dy, x, m, stride, padding):
    """dL/dF (p, k, *m) of one dense, ungrouped layer (the dL/dF derivation): batch becomes the summed
    'channel' axis of the correlation, so F = p and C = N."""
    dy_dil = dilate(dy, stride)                              # (N, p, *dilated)
    x_pad = pad(x, padding)[ALL + tuple(slice(0, r) for r in _reach(dy_dil, m))]   # leftover rows dropped
    return correlate(x_pad.swapaxes(0, 1), dy_dil.swapaxes(0, 1)).swapaxes(0, 1)


def _input_gradient(dy, w, x_shape, stride, padding):
    """dL/dX (N, k, *n) of one dense, ungrouped layer (the dL/dX derivation): the correlation of the (m-1)-padded,
    dilated dL/dY with rot180(F), leftover rows re-added as zeros, the padding cropped."""
    xp = array_module(dy)
    dims, m = len(x_shape) - 2, w.shape[2:]
    dy_dil = dilate(dy, stride)                              # (N, p, *dilated)
    reach = _reach(dy_dil, m)
    dy_full = pad(dy_dil, tuple(t - 1 for t in m for _ in (0, 1)))   # (N, p, *(dilated + 2 (m - 1)))
    w_rot = w[ALL + (slice(None, None, -1),) * dims].swapaxes(0, 1)  # (k, p, *m), every spatial axis turned
    dx_reach = correlate(dy_full, w_rot)                              # (N, k, *reach)
    sizes = x_shape[2:]
    pads = pairs(padding)
    dx_pad = xp.zeros((dy.shape[0], w.shape[1], *(n + lo + hi for n, (lo, hi) in zip(sizes, pads))),
                      dtype=dx_reach.dtype)
    dx_pad[ALL + tuple(slice(0, r) for r in reach)] = dx_reach        # leftover rows stay 0
    return dx_pad[ALL + tuple(slice(lo, lo + n) for n, (lo, _) in zip(sizes, pads))]


def _forward_transposed(x, w, b, stride, padding, dilation, groups, output_padding):
    """A transposed layer's Y (N, p, *o): the dL/dX of the plain layer whose weight is w (k,
    p / groups, *m), input Y's shape and output x: the dL/dX formula, X dilated by the
    stride, padded by m - 1, correlated with rot180(F), cropped by the padding."""
    out = transposed_out(x, w, stride, padding, dilation, output_padding)
    x_plain = extend(x, plain_size(out, w, stride, padding, dilation))
    y = input_gradient(x_plain, w, (x.shape[0], w.shape[1] * groups, *out), stride, padding, dilation, groups)
    if b is not None:
        y += b.reshape(-1, *ones(x))
    return y


def _backward_transposed(dy, x, w, stride, padding, dilation, groups, output_padding):
    """dL/dX and dL/dF of a transposed layer: dL/dX is the plain forward of dL/dY with w, dL/dF
    the plain layer's filter gradient with the roles of X and dL/dY exchanged."""
    sizes = plain_size(dy.shape[2:], w, stride, padding, dilation)
    dx = forward(dy, w, None, stride=stride, padding=padding, dilation=dilation, groups=groups)
    dx = dx[ALL + tuple(slice(0, n) for n in x.shape[2:])]
    dw = filter_gradient(extend(x, sizes), dy, w.shape, stride, padding, dilation, groups)
    return dx, dw
