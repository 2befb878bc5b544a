"""Built-in `im2col`: the im2col form (docs/derivations.md).

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
from ..geometry import pairs
from .common import extend, group_slices, ones, out_size, pad, plain_size, spatial, transposed_out

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


def forward(x, w, b, *, stride, padding, dilation=None, groups=1, transposed=False, output_padding=None):
    """x (N, k, *n), w (p, k / groups, *m), b (p,) or None -> y (N, p, *o); 2-D: (N, k, H, W).
    transposed: w (k, p / groups, *m) and Y = col2im(F_f^T X), the plain layer's dL/dX path."""
    xp = array_module(x)
    dilation = dilation or ones(x)
    if transposed:
        out = transposed_out(x, w, stride, padding, dilation, output_padding)
        x_plain = extend(x, plain_size(out, w, stride, padding, dilation))
        y = _input_gradient(x_plain, w, (x.shape[0], w.shape[1] * groups, *out), stride, padding, dilation, groups)
    else:
        p, m = w.shape[0], w.shape[2:]
        out = out_size(x, w, stride, padding, dilation)
        x_pad = pad(x, padding)
        o_f_t = xp.empty((x.shape[0], p, math.prod(out)), dtype=x.dtype)
        tap_slices = taps(m, stride, out, dilation)
        for channels, filters in group_slices(x.shape[1], p, groups):
            phi_t = im2col(x_pad[:, channels], m, out, tap_slices)              # (N, k' prod(m), prod(o))
            o_f_t[:, filters] = w[filters].reshape(p // groups, -1) @ phi_t     # (N, p', prod(o)) = (phi F_f)^T
        y = o_f_t.reshape(x.shape[0], p, *out)
    if b is not None:
        y += b.reshape(-1, *ones(x))
    return y


def backward(dy, x, w, b, *, stride, padding, dilation=None, groups=1, transposed=False, output_padding=None):
    """dy (N, p, *o) -> dx (N, k, *n), dw (p, k / groups, *m), db (p,) or None. transposed: dw
    (k, p / groups, *m), dL/dX the plain forward of dL/dY, dL/dF the plain layer's with X and
    dL/dY exchanged."""
    xp = array_module(dy)
    dilation = dilation or ones(x)
    db = None if b is None else dy.sum(axis=(0, *spatial(dy)))
    if transposed:
        dx = forward(dy, w, None, stride=stride, padding=padding, dilation=dilation, groups=groups)
        dx = dx[(slice(None), slice(None)) + tuple(slice(0, n) for n in x.shape[2:])]
        x_plain = extend(x, plain_size(dy.shape[2:], w, stride, padding, dilation))
        return xp.ascontiguousarray(dx), _filter_gradient(x_plain, dy, w.shape, stride, padding, dilation, groups), db
    dx = _input_gradient(dy, w, x.shape, stride, padding, dilation, groups)
    return dx, _filter_gradient(dy, x, w.shape, stride, padding, dilation, groups), db


def _input_gradient(dy, w, x_shape, stride, padding, dilation, groups):
    """dL/dX (N, k, *n) of a plain layer: dL/dphi = F_f dL/dO_f per group, then col2im, cropped."""
    xp = array_module(dy)
    p, m, out = w.shape[0], w.shape[2:], dy.shape[2:]
    pads = pairs(padding)
    padded = (*x_shape[:2], *(n + lo + hi for n, (lo, hi) in zip(x_shape[2:], pads)))
    dx_pad = xp.empty(padded, dtype=dy.dtype)
    tap_slices = taps(m, stride, out, dilation)
    for channels, filters in group_slices(x_shape[1], p, groups):
        do_f_t = dy[:, filters].reshape(dy.shape[0], p // groups, -1)            # (N, p', prod(o)) = (dL/dO_f)^T
        dphi_t = w[filters].reshape(p // groups, -1).T @ do_f_t                  # (N, k' prod(m), prod(o))
        dx_pad[:, channels] = col2im(dphi_t, (padded[0], channels.stop - channels.start, *padded[2:]), m, out,
                                     tap_slices)
    crop = tuple(slice(lo, lo + n) for n, (lo, _) in zip(x_shape[2:], pads))
    return xp.ascontiguousarray(dx_pad[(slice(None), slice(None)) + crop])


def _filter_gradient(dy, x, w_shape, stride, padding, dilation, groups):
    """dL/dF (p, k / groups, *m) of a plain layer: phi(X)^T dL/dO_f per group, summed over the batch."""
    xp = array_module(dy)
    p, m, out = w_shape[0], w_shape[2:], dy.shape[2:]
    x_pad = pad(x, padding)
    dw = xp.empty(w_shape, dtype=dy.dtype)
    tap_slices = taps(m, stride, out, dilation)
    for channels, filters in group_slices(x.shape[1], p, groups):
        phi_t = im2col(x_pad[:, channels], m, out, tap_slices)                   # (N, k' prod(m), prod(o))
        do_f_t = dy[:, filters].reshape(dy.shape[0], p // groups, -1)
        dw[filters] = (do_f_t @ phi_t.transpose(0, 2, 1)).sum(axis=0).reshape(dw[filters].shape)
    return dw
