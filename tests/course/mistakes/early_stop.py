"""Course-style (CS231n API) conv layer whose backward loops over the input's size H, W instead of
the output's: IndexError at stride 2, the last rows of dL/dY never reached at padding 2."""

import numpy as np

from .right_forward import conv_forward_naive  # noqa: F401  (the adapter calls it)


def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx_pad, dw = np.zeros_like(x_pad), np.zeros_like(w)
    db = np.sum(dout, axis=(0, 2, 3))
    for n in range(N):
        for f in range(F):
            for i in range(min(H, H + 2 * pad - HH + 1)):      # the mistake: the input's rows, not dout's
                for j in range(min(W, W + 2 * pad - WW + 1)):
                    window = x_pad[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                    dw[f] += window * dout[n, f, i, j]
                    dx_pad[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW] += w[f] * dout[n, f, i, j]
    return dx_pad[:, :, pad:pad + H, pad:pad + W], dw, db
