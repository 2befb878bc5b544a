"""Course-style fast layers (as in CS231n's assignment 2): an im2col forward and backward."""

import numpy as np


def pad_input(x, pad):
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")


def conv_forward_fast(x, w, b, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out, W_out = 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride
    x_pad = pad_input(x, pad)
    cols = np.empty((C, HH, WW, N, H_out, W_out), dtype=x.dtype)
    for i in range(HH):
        for j in range(WW):
            cols[:, i, j] = x_pad[:, :, i:i + stride * H_out:stride, j:j + stride * W_out:stride].transpose(1, 0, 2, 3)
    cols = cols.reshape(C * HH * WW, -1)
    out = (w.reshape(F, -1) @ cols + b[:, None]).reshape(F, N, H_out, W_out).transpose(1, 0, 2, 3)
    return np.ascontiguousarray(out), (x, w, b, conv_param, cols)


def conv_backward_fast(dout, cache):
    x, w, b, conv_param, cols = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape
    dout_r = dout.transpose(1, 0, 2, 3).reshape(F, -1)
    db = dout.sum(axis=(0, 2, 3))
    dw = (dout_r @ cols.T).reshape(w.shape)
    dcols = (w.reshape(F, -1).T @ dout_r).reshape(C, HH, WW, N, H_out, W_out)
    dx_pad = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=x.dtype)
    for i in range(HH):
        for j in range(WW):
            at = (slice(None), slice(None), slice(i, i + stride * H_out, stride), slice(j, j + stride * W_out, stride))
            dx_pad[at] += dcols[:, i, j].transpose(1, 0, 2, 3)
    return dx_pad[:, :, pad:pad + H, pad:pad + W], dw, db
