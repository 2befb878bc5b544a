"""Realistic wrong implementations, each one mistake on top of the correct `naive_loops`.

`WRONG[name]` is a module-like object with forward and backward, plus the kind of spec
that exposes the mistake (some only show with stride > 1, padding or a batch).
"""

from types import SimpleNamespace

import naive_loops as ok
import numpy as np


def _pad(x, padding):
    top, bottom, left, right = padding
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))


def _full_conv_dx(dy, w, x_shape, stride, padding, rotate):
    """dL/dX as the seeds' full convolution, optionally forgetting the 180-degree rotation."""
    sh, sw = stride
    top, bottom, left, right = padding
    n, p, oh, ow = dy.shape
    _, k, mh, mw = w.shape
    dil = np.zeros((n, p, sh * (oh - 1) + 1, sw * (ow - 1) + 1))
    dil[:, :, ::sh, ::sw] = dy
    full = np.pad(dil, ((0, 0), (0, 0), (mh - 1, mh - 1), (mw - 1, mw - 1)))
    f = w[:, :, ::-1, ::-1] if rotate else w
    hp, wp = x_shape[2] + top + bottom, x_shape[3] + left + right
    dxp = np.zeros((n, k, hp, wp))
    for i in range(full.shape[2] - mh + 1):
        for j in range(full.shape[3] - mw + 1):
            dxp[:, :, i, j] = np.einsum("npab,pkab->nk", full[:, :, i:i + mh, j:j + mw], f)
    return dxp[:, :, top:top + x_shape[2], left:left + x_shape[3]]


def no_rotation_backward(dy, x, w, b, *, stride, padding):
    """dL/dX convolves with F instead of rot180(F)."""
    _, dw, db = ok.backward(dy, x, w, b, stride=stride, padding=padding)
    return _full_conv_dx(dy, w, x.shape, stride, padding, rotate=False), dw, db


def stride_ignored_backward(dy, x, w, b, *, stride, padding):
    """The backward treats the layer as stride 1 (dL/dY not dilated)."""
    sh, sw = stride
    top, bottom, left, right = padding
    xp = _pad(x, padding)
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    mh, mw = w.shape[2:]
    for i in range(dy.shape[2]):
        for j in range(dy.shape[3]):
            dw += np.einsum("np,nkab->pkab", dy[:, :, i, j], xp[:, :, i:i + mh, j:j + mw])
            dxp[:, :, i:i + mh, j:j + mw] += np.einsum("np,pkab->nkab", dy[:, :, i, j], w)
    return dxp[:, :, top:top + x.shape[2], left:left + x.shape[3]], dw, dy.sum(axis=(0, 2, 3))


def padding_crop_backward(dy, x, w, b, *, stride, padding):
    """dL/dX cropped from the top-left corner of the padded gradient instead of at the padding."""
    top, bottom, left, right = padding
    dx, dw, db = ok.backward(dy, x, w, b, stride=stride, padding=(0, top + bottom, 0, left + right))
    return dx, dw, db


def db_mean_backward(dy, x, w, b, *, stride, padding):
    """dL/db averaged over positions instead of summed."""
    dx, dw, _ = ok.backward(dy, x, w, b, stride=stride, padding=padding)
    return dx, dw, dy.mean(axis=(0, 2, 3))


def dw_first_sample_backward(dy, x, w, b, *, stride, padding):
    """dL/dF from the first sample of the batch only."""
    dx, _, db = ok.backward(dy, x, w, b, stride=stride, padding=padding)
    _, dw, _ = ok.backward(dy[:1], x[:1], w, b, stride=stride, padding=padding)
    return dx, dw, db


def dw_unpadded_backward(dy, x, w, b, *, stride, padding):
    """dL/dF correlates the unpadded X with dL/dY, ignoring the padding's shift."""
    dx, _, db = ok.backward(dy, x, w, b, stride=stride, padding=padding)
    top, bottom, left, right = padding
    xp = np.pad(x, ((0, 0), (0, 0), (0, top + bottom), (0, left + right)))
    _, dw, _ = ok.backward(dy, xp, w, b, stride=stride, padding=(0, 0, 0, 0))
    return dx, dw, db


def flipped_forward(x, w, b, *, stride, padding):
    """A true convolution (flipped filter) in the forward; the backward matches it."""
    return ok.forward(x, w[:, :, ::-1, ::-1], b, stride=stride, padding=padding)


def flipped_backward(dy, x, w, b, *, stride, padding):
    dx, dw, db = ok.backward(dy, x, w[:, :, ::-1, ::-1], b, stride=stride, padding=padding)
    return dx, dw[:, :, ::-1, ::-1], db


def channels_swapped_backward(dy, x, w, b, *, stride, padding):
    """dL/dF with filter and channel axes mixed up (reshape instead of transpose)."""
    dx, dw, db = ok.backward(dy, x, w, b, stride=stride, padding=padding)
    return dx, np.ascontiguousarray(dw.transpose(1, 0, 2, 3)).reshape(dw.shape), db


def float64_backward(dy, x, w, b, *, stride, padding):
    """Returns float64 gradients for float32 inputs."""
    return tuple(None if g is None else g.astype(np.float64)
                 for g in ok.backward(dy, x, w, b, stride=stride, padding=padding))


def nan_backward(dy, x, w, b, *, stride, padding):
    dx, dw, db = ok.backward(dy, x, w, b, stride=stride, padding=padding)
    dx = dx.copy()
    dx[0, 0, -1, -1] = np.nan
    return dx, dw, db


def raising_backward(dy, x, w, b, *, stride, padding):
    raise ValueError("operands could not be broadcast together")


def _impl(backward, forward=ok.forward):
    return SimpleNamespace(forward=forward, backward=backward)


WRONG = {
    # name: (implementation, spec overrides that expose it, tensor that must fail)
    "no_rotation": (_impl(no_rotation_backward), {}, "dx"),
    "stride_ignored": (_impl(stride_ignored_backward), {"stride": (2, 2)}, "dx"),
    "padding_crop": (_impl(padding_crop_backward), {"padding": (1, 1, 2, 2)}, "dx"),
    "db_mean": (_impl(db_mean_backward), {}, "db"),
    "dw_first_sample": (_impl(dw_first_sample_backward), {"batch": 2}, "dw"),
    "dw_unpadded": (_impl(dw_unpadded_backward), {"padding": (1, 1, 1, 1)}, "dw"),
    "flipped_forward": (_impl(flipped_backward, flipped_forward), {}, "y"),
    "channels_swapped": (_impl(channels_swapped_backward), {"k": 3, "p": 3}, "dw"),
    "float64_for_float32": (_impl(float64_backward), {"dtype": "float32"}, "dx"),
    "nan": (_impl(nan_backward), {}, "dx"),
    "raising": (_impl(raising_backward), {}, "dx"),
}
