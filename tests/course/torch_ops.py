"""PyTorch custom ops as their authors write them: an autograd.Function with a hand-written
backward (as a C++/CUDA extension would have), one with a mistake, and a function of torch ops."""

import torch
import torch.nn.functional as F


def _padded(x, padding):
    top, bottom, left, right = padding
    return F.pad(x, (left, right, top, bottom))


class Conv2dOp(torch.autograd.Function):
    """y = conv2d(x_pad, w) + b with its own backward (the transposed convolution for dL/dX)."""

    @staticmethod
    def forward(ctx, x, w, b, stride, padding):
        ctx.save_for_backward(x, w)
        ctx.stride, ctx.padding = stride, padding
        return F.conv2d(_padded(x, padding), w, b, stride=stride)

    @staticmethod
    def backward(ctx, dy):
        x, w = ctx.saved_tensors
        x_pad = _padded(x, ctx.padding)
        dx_pad = torch.nn.grad.conv2d_input(x_pad.shape, w, dy, stride=ctx.stride)
        top, _, left, _ = ctx.padding
        dx = dx_pad[:, :, top:top + x.shape[2], left:left + x.shape[3]]
        dw = torch.nn.grad.conv2d_weight(x_pad, w.shape, dy, stride=ctx.stride)
        db = dy.sum(dim=(0, 2, 3)) if ctx.needs_input_grad[2] else None
        return dx, dw, db, None, None


class UnrotatedOp(Conv2dOp):
    """The same op whose backward forgets to turn the filter by 180° for dL/dX."""

    @staticmethod
    def backward(ctx, dy):
        dx, dw, db, _, _ = Conv2dOp.backward(ctx, dy)
        x, w = ctx.saved_tensors
        x_pad = _padded(x, ctx.padding)
        flipped = torch.nn.grad.conv2d_input(x_pad.shape, w.flip(2, 3), dy, stride=ctx.stride)
        top, _, left, _ = ctx.padding
        return flipped[:, :, top:top + x.shape[2], left:left + x.shape[3]], dw, db, None, None


def conv(x, w, b, *, stride, padding, dilation=(1, 1), groups=1):
    """A function of torch ops: autograd supplies the backward."""
    return F.conv2d(_padded(x, padding), w, b, stride=stride, dilation=dilation, groups=groups)
