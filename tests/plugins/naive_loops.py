"""A correct, course-assignment style implementation with plain loops (CS231n layout).

It shares no code with convcheck: verify must pass it on any spec.
"""

import numpy as np


def forward(x, w, b, *, stride, padding):
    top, bottom, left, right = padding
    sh, sw = stride
    n, k, h, wd = x.shape
    p, _, mh, mw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    oh, ow = (xp.shape[2] - mh) // sh + 1, (xp.shape[3] - mw) // sw + 1
    y = np.zeros((n, p, oh, ow), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * sh:i * sh + mh, j * sw:j * sw + mw]
            y[:, :, i, j] = np.einsum("nkab,pkab->np", patch, w)
    if b is not None:
        y += b[None, :, None, None]
    return y


def backward(dy, x, w, b, *, stride, padding):
    top, bottom, left, right = padding
    sh, sw = stride
    p, _, mh, mw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for i in range(dy.shape[2]):
        for j in range(dy.shape[3]):
            patch = xp[:, :, i * sh:i * sh + mh, j * sw:j * sw + mw]
            dw += np.einsum("np,nkab->pkab", dy[:, :, i, j], patch)
            dxp[:, :, i * sh:i * sh + mh, j * sw:j * sw + mw] += np.einsum("np,pkab->nkab", dy[:, :, i, j], w)
    dx = dxp[:, :, top:top + x.shape[2], left:left + x.shape[3]]
    db = None if b is None else dy.sum(axis=(0, 2, 3))
    return dx, dw, db
