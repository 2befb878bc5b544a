"""A CS 7643-style layer class: constructor arguments and attributes named its own way (in_c,
W, dW), gradients left on the object by backward."""

import numpy as np


class Conv2D:
    def __init__(self, in_c, out_channels, kernel_size=3, stride=1, padding=0):
        self.in_c, self.out_channels, self.kernel_size = in_c, out_channels, kernel_size
        self.stride, self.padding = stride, padding
        self.W = np.random.randn(out_channels, in_c, kernel_size, kernel_size)
        self.bias = np.zeros(out_channels)

    def forward(self, x):
        s, p, k = self.stride, self.padding, self.kernel_size
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        self.cache = xp
        N, C, H, W = xp.shape
        oh, ow = (H - k) // s + 1, (W - k) // s + 1
        out = np.zeros((N, self.out_channels, oh, ow), dtype=x.dtype)
        for i in range(oh):
            for j in range(ow):
                window = xp[:, :, i * s:i * s + k, j * s:j * s + k]
                out[:, :, i, j] = np.tensordot(window, self.W, axes=([1, 2, 3], [1, 2, 3]))
        return out + self.bias[None, :, None, None]

    def backward(self, dout):
        s, p, k = self.stride, self.padding, self.kernel_size
        xp = self.cache
        dxp = np.zeros_like(xp)
        self.dW = np.zeros_like(self.W)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                window = xp[:, :, i * s:i * s + k, j * s:j * s + k]
                self.dW += np.tensordot(dout[:, :, i, j], window, axes=([0], [0]))
                dxp[:, :, i * s:i * s + k, j * s:j * s + k] += np.tensordot(dout[:, :, i, j], self.W, axes=([1], [0]))
        self.dx = dxp[:, :, p:dxp.shape[2] - p, p:dxp.shape[3] - p]
        self.db = dout.sum(axis=(0, 2, 3))
