"""Built-in `im2col`: the im2col form (docs/derivations.md).

    phi(X)   (o_h*o_w, k*m_h*m_w) per sample: one row per output position, one column per tap
    F_f      (k*m_h*m_w, p)               w.reshape(p, -1).T
    O_f      = phi(X) F_f + b             (o_h*o_w, p)
    dL/dF_f  = sum_batch phi(X)^T dL/dO_f
    dL/dphi  = dL/dO_f F_f^T, then col2im adds each entry back onto the pixel it came from.

phi(X) is stored transposed and with every sample's positions on one axis, `col`
(k, m_h, m_w, N, o_h, o_w) as (k m_h m_w, N o_h o_w): each filter tap is one strided slice of
the padded input held channels first (k, N, *n_p), so `im2col`/`col2im` loop over the taps
and are exact adjoints, and each product is one large GEMM over all samples (a batch of
perturbed copies is one call of finite differences: BLAS runs at its rate on it, where N
products of o_h o_w columns each would not). With dilation d a tap's slice starts d rows
further on; with groups each group is its own phi(X) and F_f. In 1-D and 3-D (vol2col) the
same, one strided slice per tap of the filter's 1 or 3 axes.
"""

import itertools
import math

from ..backend import array_module
from ..geometry import pairs
from .common import extend, group_slices, in_float32, ones, out_size, plain_size, spatial, transposed_out

ALL = (slice(None), slice(None))


def taps(m, stride, out, dilation) -> list[tuple]:
    """(index of the tap in col, index of the padded input it meets) for every filter tap: the
    strided slice of X_pad per axis, taps dilation apart. Made once per call, used per group."""
    return [(ALL + tap, ALL + tuple(slice(t * d, t * d + s * o, s) for t, d, s, o in zip(tap, dilation, stride, out)))
            for tap in itertools.product(*map(range, m))]


_WORKSPACE: dict = {}
"""The last padded input and column matrix `forward` made, by role, kept for its next call of
the same shape: finite differences call it hundreds of times on one layer, and a fresh array
of tens of MB costs a page fault per 4 KiB on first touch (the column matrix of 4 perturbed
copies of a 64 x 56 x 56 input took 3.5x as long to fill fresh as reused). Only the forward's
own scratch: what it returns is always a new array."""


def _scratch(role: tuple, shape, dtype, xp, zeroed: bool = False):
    """An array of `shape` for `role` (('col',), ('pad', padding)), reused while the role,
    shape and dtype repeat; `zeroed`: all zeros when made (a padded input's border stays zero:
    only its inside, where the padding puts it, is ever written)."""
    key = (*role, xp.__name__)
    kept = _WORKSPACE.get(key)
    if kept is None or kept.shape != tuple(shape) or kept.dtype != dtype:
        _WORKSPACE.pop(key, None)                               # free the old one before making the new
        kept = _WORKSPACE[key] = (xp.zeros if zeroed else xp.empty)(tuple(shape), dtype=dtype)
    return kept


def release() -> None:
    """Free the kept scratch (a check calls it when its finite differences end, so that a large
    layer's column matrix does not outlive its check)."""
    _WORKSPACE.clear()


def channels_first(x, padding):
    """x (N, k, *n) -> X_pad held channels first (k, N, *n_p), zero-padded (before, after) per
    axis; a view of x where there is no padding, else scratch reused by the next call."""
    if not any(padding):
        return x.swapaxes(0, 1)
    xp = array_module(x)
    pads = pairs(padding)
    shape = (x.shape[1], x.shape[0], *(n + lo + hi for n, (lo, hi) in zip(x.shape[2:], pads)))
    padded = _scratch(("pad", tuple(padding)), shape, x.dtype, xp, zeroed=True)
    padded[ALL + tuple(slice(lo, lo + n) for n, (lo, _) in zip(x.shape[2:], pads))] = x.swapaxes(0, 1)
    return padded


def im2col(x_pad_t, m, out, tap_slices):
    """X_pad channels first (k, N, *n_p) -> phi(X)^T as (k * prod(m), N * prod(o)), `tap_slices`
    from `taps`, in scratch reused by the next call; a view of the input for a 1x1 filter at
    stride 1 without padding."""
    xp = array_module(x_pad_t)
    k, n = x_pad_t.shape[:2]
    if math.prod(m) == 1 and tuple(x_pad_t.shape[2:]) == tuple(out):
        return xp.ascontiguousarray(x_pad_t).reshape(k, n * math.prod(out))
    col = _scratch(("col",), (k, *m, n, *out), x_pad_t.dtype, xp)
    for tap, at in tap_slices:
        col[(slice(None),) + tap[2:]] = x_pad_t[at]                     # (k, N, *o)
    return col.reshape(k * math.prod(m), n * math.prod(out))


def col2im(dphi_t, padded_shape, m, out, tap_slices):
    """(dL/dphi)^T (k * prod(m), N * prod(o)) -> dL/dX_pad channels first (k, N, *n_p), overlapping
    taps summed."""
    xp = array_module(dphi_t)
    k, n = padded_shape[:2]
    col = dphi_t.reshape(k, *m, n, *out)
    dx_pad = xp.zeros(padded_shape, dtype=dphi_t.dtype)
    for tap, at in tap_slices:
        dx_pad[at] += col[(slice(None),) + tap[2:]]
    return dx_pad


@in_float32
def forward(x, w, b, *, stride, padding, dilation=None, groups=1, transposed=False, output_padding=None):
    """x (N, k, *n), w (p, k / groups, *m), b (p,) or None -> y (N, p, *o); 2-D: (N, k, H, W).
    transposed: w (k, p / groups, *m) and Y = col2im(F_f^T X), the plain layer's dL/dX path.
    y is a view of the (p, N, *o) product, as BLAS wrote it."""
    xp = array_module(x)
    dilation = dilation or ones(x)
    if transposed:
        out = transposed_out(x, w, stride, padding, dilation, output_padding)
        x_plain = extend(x, plain_size(out, w, stride, padding, dilation))
        y = _input_gradient(x_plain, w, (x.shape[0], w.shape[1] * groups, *out), stride, padding, dilation, groups)
    else:
        p, m = w.shape[0], w.shape[2:]
        out = out_size(x, w, stride, padding, dilation)
        x_pad_t = channels_first(x, padding)
        y_t = xp.empty((p, x.shape[0] * math.prod(out)), dtype=x.dtype)
        tap_slices = taps(m, stride, out, dilation)
        for channels, filters in group_slices(x.shape[1], p, groups):
            phi_t = im2col(x_pad_t[channels], m, out, tap_slices)               # (k' prod(m), N prod(o))
            xp.matmul(w[filters].reshape(p // groups, -1), phi_t, out=y_t[filters])   # (p', N prod(o)) = (phi F_f)^T
        y = y_t.reshape(p, x.shape[0], *out).swapaxes(0, 1)
    if b is not None:
        y += b.reshape(-1, *ones(x))
    return y


@in_float32
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
    padded = (x_shape[1], x_shape[0], *(n + lo + hi for n, (lo, hi) in zip(x_shape[2:], pads)))   # channels first
    dx_pad_t = xp.empty(padded, dtype=dy.dtype)
    dy_t = dy.swapaxes(0, 1)                                                     # (p, N, *o)
    tap_slices = taps(m, stride, out, dilation)
    for channels, filters in group_slices(x_shape[1], p, groups):
        do_f_t = dy_t[filters].reshape(p // groups, -1)                          # (p', N prod(o)) = (dL/dO_f)^T
        k_group = channels.stop - channels.start
        dphi_t = _scratch(("col",), (k_group, *m, x_shape[0], *out), dy.dtype, xp).reshape(k_group * math.prod(m), -1)
        xp.matmul(w[filters].reshape(p // groups, -1).T, do_f_t, out=dphi_t)    # (k' prod(m), N prod(o)), in the
        dx_pad_t[channels] = col2im(dphi_t, (k_group, *padded[1:]), m, out, tap_slices)   # forward's scratch
    crop = tuple(slice(lo, lo + n) for n, (lo, _) in zip(x_shape[2:], pads))
    return xp.ascontiguousarray(dx_pad_t[ALL + crop].swapaxes(0, 1))


def _filter_gradient(dy, x, w_shape, stride, padding, dilation, groups):
    """dL/dF (p, k / groups, *m) of a plain layer: dL/dO_f^T phi(X) per group, every sample's
    positions in the one product (the sum over the batch)."""
    xp = array_module(dy)
    p, m, out = w_shape[0], w_shape[2:], dy.shape[2:]
    x_pad_t = channels_first(x, padding)
    dy_t = dy.swapaxes(0, 1)
    dw = xp.empty(w_shape, dtype=dy.dtype)
    tap_slices = taps(m, stride, out, dilation)
    for channels, filters in group_slices(x.shape[1], p, groups):
        phi_t = im2col(x_pad_t[channels], m, out, tap_slices)                   # (k' prod(m), N prod(o))
        do_f_t = dy_t[filters].reshape(p // groups, -1)                          # (p', N prod(o))
        dw[filters] = (do_f_t @ phi_t.T).reshape(dw[filters].shape)
    return dw
