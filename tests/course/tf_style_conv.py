"""A channels-last (TensorFlow-layout) implementation: x (N, H, W, k), w (m_h, m_w, k, p), y (N, o_h, o_w, p).
Plain loops; it never sees NCHW arrays."""

import numpy as np


def forward(x, w, b, *, stride, padding):
    top, bottom, left, right = padding
    (sh, sw), (mh, mw, _, p) = stride, w.shape
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    oh, ow = (xp.shape[1] - mh) // sh + 1, (xp.shape[2] - mw) // sw + 1
    y = np.zeros((x.shape[0], oh, ow, p), dtype=x.dtype)
    for r in range(oh):
        for c in range(ow):
            window = xp[:, r * sh:r * sh + mh, c * sw:c * sw + mw, :]            # (N, mh, mw, k)
            y[:, r, c, :] = np.tensordot(window, w, axes=([1, 2, 3], [0, 1, 2]))
    return y if b is None else y + b


def backward(dy, x, w, b, *, stride, padding):
    top, bottom, left, right = padding
    (sh, sw), (mh, mw, _, _) = stride, w.shape
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for r in range(dy.shape[1]):
        for c in range(dy.shape[2]):
            window = xp[:, r * sh:r * sh + mh, c * sw:c * sw + mw, :]            # (N, mh, mw, k)
            dw += np.tensordot(window, dy[:, r, c, :], axes=([0], [0]))          # (mh, mw, k, p)
            dxp[:, r * sh:r * sh + mh, c * sw:c * sw + mw, :] += np.tensordot(dy[:, r, c, :], w, axes=([1], [3]))
    dx = dxp[:, top:top + x.shape[1], left:left + x.shape[2], :]
    return dx, dw, None if b is None else dy.sum(axis=(0, 1, 2))
