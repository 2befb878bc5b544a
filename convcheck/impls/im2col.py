"""Built-in `im2col`: the matrix form of seed 003.

    phi(X)   (o_h*o_w, k*m_h*m_w) per sample: one row per output position, one column per tap
    F_f      (k*m_h*m_w, p)               w.reshape(p, -1).T
    O_f      = phi(X) F_f + b             (o_h*o_w, p)
    dL/dF_f  = sum_batch phi(X)^T dL/dO_f
    dL/dphi  = dL/dO_f F_f^T, then col2im adds each entry back onto the pixel it came from.

phi(X) is stored transposed, as Chainer's `col` (N, k, m_h, m_w, o_h, o_w), so that each
filter tap is one strided slice of the padded image (`im2col`/`col2im` loop over the taps
and are exact adjoints) and every product is one BLAS call without copies. With dilation d a tap's slice starts d
rows further on; with groups each group is its own phi(X) and F_f. In 1-D and 3-D (vol2col)
the same, one strided slice per tap of the filter's 1 or 3 axes.
"""

import itertools
import math

from ..backend import array_module
from .common import group_slices, ones, out_size, pad, spatial

ALL = (slice(None), slice(None))


def taps(m, stride, out, dilation) -> list[tuple]:
    """(index of the tap in col, index of the padded input it meets) for every filter tap: the
    strided slice of X_pad per axis, taps dilation apart. Made once per call, used per group."""
    return [(ALL + tap, ALL + tuple(slice(t * d, t * d + s * o, s) for t, d, s, o in zip(tap, dilation, stride, out)))
            for tap in itertools.product(*map(range, m))]


def im2col(x_pad, m, out, tap_slices):
    """x_pad (N, k, *n_p) -> phi(X)^T as (N, k * prod(m), prod(o)), `tap_slices` from `taps`."""
    xp = array_module(x_pad)
    n, k = x_pad.shape[:2]
    col = xp.empty((n, k, *m, *out), dtype=x_pad.dtype)
    for tap, at in tap_slices:
        col[tap] = x_pad[at]                                              # (N, k, *o)
    return col.reshape(n, k * math.prod(m), math.prod(out))


def col2im(dphi_t, padded_shape, m, out, tap_slices):
    """(dL/dphi)^T (N, k * prod(m), prod(o)) -> dL/dX_pad (N, k, *n_p), overlapping taps summed."""
    xp = array_module(dphi_t)
    n, k = padded_shape[:2]
    col = dphi_t.reshape(n, k, *m, *out)
    dx_pad = xp.zeros(padded_shape, dtype=dphi_t.dtype)
    for tap, at in tap_slices:
        dx_pad[at] += col[tap]
    return dx_pad


def forward(x, w, b, *, stride, padding, dilation=None, groups=1):
    """x (N, k, *n), w (p, k / groups, *m), b (p,) or None -> y (N, p, *o); 2-D: (N, k, H, W)."""
    xp = array_module(x)
    dilation = dilation or ones(x)
    p, m = w.shape[0], w.shape[2:]
    out = out_size(x, w, stride, padding, dilation)
    x_pad = pad(x, padding)
    o_f_t = xp.empty((x.shape[0], p, math.prod(out)), dtype=x.dtype)
    tap_slices = taps(m, stride, out, dilation)
    for channels, filters in group_slices(x.shape[1], p, groups):
        phi_t = im2col(x_pad[:, channels], m, out, tap_slices)                  # (N, k' prod(m), prod(o))
        o_f_t[:, filters] = w[filters].reshape(p // groups, -1) @ phi_t         # (N, p', prod(o)) = (phi F_f)^T
    if b is not None:
        o_f_t += b[:, None]
    return o_f_t.reshape(x.shape[0], p, *out)


def backward(dy, x, w, b, *, stride, padding, dilation=None, groups=1):
    """dy (N, p, *o) -> dx (N, k, *n), dw (p, k / groups, *m), db (p,) or None."""
    xp = array_module(dy)
    dilation = dilation or ones(x)
    p, m = w.shape[0], w.shape[2:]
    out = dy.shape[2:]
    x_pad = pad(x, padding)
    dx_pad, dw = xp.empty(x_pad.shape, dtype=dy.dtype), xp.empty(w.shape, dtype=dy.dtype)
    tap_slices = taps(m, stride, out, dilation)
    for channels, filters in group_slices(x.shape[1], p, groups):
        phi_t = im2col(x_pad[:, channels], m, out, tap_slices)                   # (N, k' prod(m), prod(o))
        do_f_t = dy[:, filters].reshape(dy.shape[0], p // groups, -1)            # (N, p', prod(o)) = (dL/dO_f)^T
        dw[filters] = (do_f_t @ phi_t.transpose(0, 2, 1)).sum(axis=0).reshape(dw[filters].shape)
        dphi_t = w[filters].reshape(p // groups, -1).T @ do_f_t                  # (N, k' prod(m), prod(o))
        dx_pad[:, channels] = col2im(dphi_t, x_pad[:, channels].shape, m, out, tap_slices)
    dx = dx_pad[(slice(None), slice(None)) + tuple(slice(padding[2 * a], padding[2 * a] + n)
                                                   for a, n in enumerate(x.shape[2:]))]
    db = None if b is None else dy.sum(axis=(0, *spatial(dy)))
    return xp.ascontiguousarray(dx), dw, db
