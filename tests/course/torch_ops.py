"""PyTorch custom ops as their authors write them, called the way torch code calls them
(`NAME.apply(x, w, b, stride, padding[, dilation, groups])`, each an int or an (h, w) pair, as
`torch.nn.functional.conv2d` takes them): an autograd.Function with a hand-written backward
(as a C++/CUDA extension would have), one with a mistake, a course-style Function that
asserts int arguments (unfold/fold im2col), one that prints, and a function of torch ops; for
order 2, ops whose backward is differentiable (right, and with a planted mistake in its double
backward) and ones whose backward is not (@once_differentiable, computed in NumPy)."""

import torch
import torch.nn.functional as F
from torch.nn.functional import fold, unfold


class Conv2dOp(torch.autograd.Function):
    """y = conv2d(x, w) + b with its own backward (the transposed convolution for dL/dX)."""

    @staticmethod
    def forward(ctx, x, w, b, stride=1, padding=0, dilation=1, groups=1):
        ctx.save_for_backward(x, w)
        ctx.conv = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
        return F.conv2d(x, w, b, **ctx.conv)

    @staticmethod
    def backward(ctx, dy):
        x, w = ctx.saved_tensors
        dx = torch.nn.grad.conv2d_input(x.shape, w, dy, **ctx.conv)
        dw = torch.nn.grad.conv2d_weight(x, w.shape, dy, **ctx.conv)
        db = dy.sum(dim=(0, 2, 3)) if ctx.needs_input_grad[2] else None
        return dx, dw, db, None, None, None, None


class UnrotatedOp(Conv2dOp):
    """The same op whose backward forgets to turn the filter by 180° for dL/dX."""

    @staticmethod
    def backward(ctx, dy):
        _, dw, db, *rest = Conv2dOp.backward(ctx, dy)
        x, w = ctx.saved_tensors
        return (torch.nn.grad.conv2d_input(x.shape, w.flip(2, 3), dy, **ctx.conv), dw, db, *rest)


class CourseConv2DFunction(torch.autograd.Function):
    """A homework's op: square filters, one int stride and padding, asserted at its entry."""

    @staticmethod
    def forward(ctx, input_feats, weight, bias, stride=1, padding=0):
        assert weight.size(2) == weight.size(3)
        assert isinstance(stride, int) and stride > 0
        assert isinstance(padding, int) and padding >= 0
        size = weight.size(2)
        ctx.conv = (stride, padding, input_feats.shape[2:])
        columns = unfold(input_feats, (size, size), padding=padding, stride=stride)     # (N, k m m, L)
        ctx.save_for_backward(columns, weight, bias)
        out = weight.view(weight.size(0), -1) @ columns                                   # (N, p, L)
        if bias is not None:
            out = out + bias.view(1, -1, 1)
        o_h = (input_feats.size(2) + 2 * padding - size) // stride + 1
        o_w = (input_feats.size(3) + 2 * padding - size) // stride + 1
        return out.view(input_feats.size(0), weight.size(0), o_h, o_w)

    @staticmethod
    def backward(ctx, grad_output):
        columns, weight, bias = ctx.saved_tensors
        stride, padding, input_size = ctx.conv
        size, n_batch, p = weight.size(2), grad_output.size(0), weight.size(0)
        flat = grad_output.reshape(n_batch, p, -1)                                        # (N, p, L)
        grad_weight = (flat @ columns.transpose(1, 2)).sum(0).view_as(weight)
        grad_columns = weight.view(p, -1).t() @ flat                                      # (N, k m m, L)
        grad_input = fold(grad_columns, tuple(input_size), (size, size), padding=padding, stride=stride)
        grad_bias = grad_output.sum((0, 2, 3)) if bias is not None else None
        return grad_input, grad_weight, grad_bias, None, None


class TalkativeConv2dOp(Conv2dOp):
    """Conv2dOp as lecture code writes it: it prints from its forward and its backward."""

    @staticmethod
    def forward(ctx, x, w, b, stride=1, padding=0, dilation=1, groups=1):
        print("Performing custom forward of MyConv2d")
        return Conv2dOp.forward(ctx, x, w, b, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx, dy):
        print("Performing custom backward of MyConv2d")
        return Conv2dOp.backward(ctx, dy)


def conv(x, w, b, *, stride, padding, dilation=(1, 1), groups=1):
    """A function of torch ops, in the plug-in contract: autograd supplies the backward."""
    top, bottom, left, right = padding
    return F.conv2d(F.pad(x, (left, right, top, bottom)), w, b, stride=stride, dilation=dilation, groups=groups)


class _Conv2dInput(torch.autograd.Function):
    """dL/dX = conv2d_input(G, F) as a Function of its own, with its own backward: how a custom
    kernel makes its backward differentiable (a CUDA extension's grad-of-grad)."""

    @staticmethod
    def forward(ctx, dy, w, shape, conv):
        ctx.save_for_backward(dy, w)
        ctx.conv = conv
        return torch.nn.grad.conv2d_input(shape, w, dy, **conv)

    @staticmethod
    def backward(ctx, ddx):
        dy, w = ctx.saved_tensors
        d_dy = F.conv2d(ddx, w, None, **ctx.conv)                             # dL/dX is linear in G
        d_w = torch.nn.grad.conv2d_weight(ddx, w.shape, dy, **ctx.conv)        # and in F
        return d_dy, d_w, None, None


class _Conv2dInputNoFilter(_Conv2dInput):
    """The same with a planted mistake: its backward leaves out d/dF ("weights need no second
    derivative"), so a gradient penalty on dL/dX never reaches the filters."""

    @staticmethod
    def backward(ctx, ddx):
        d_dy, _, *rest = _Conv2dInput.backward(ctx, ddx)
        return (d_dy, None, *rest)


class TwiceConv2dOp(Conv2dOp):
    """Conv2dOp whose backward is differentiable: dL/dX through _Conv2dInput, dL/dF and dL/db
    with torch ops."""

    inner = _Conv2dInput

    @classmethod
    def backward(cls, ctx, dy):
        _, dw, db, *rest = Conv2dOp.backward(ctx, dy)
        x, w = ctx.saved_tensors
        return (cls.inner.apply(dy, w, x.shape, ctx.conv), dw, db, *rest)


class NoFilterTwiceConv2dOp(TwiceConv2dOp):
    """TwiceConv2dOp with the planted mistake of _Conv2dInputNoFilter."""

    inner = _Conv2dInputNoFilter


class OnceConv2dOp(Conv2dOp):
    """Conv2dOp with its backward marked @once_differentiable, as C++ extensions' often are."""

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dy):
        return Conv2dOp.backward(ctx, dy)


class DetachedConv2dOp(Conv2dOp):
    """Conv2dOp whose backward computes dL/dF in NumPy, outside autograd."""

    @staticmethod
    def backward(ctx, dy):
        dx, dw, *rest = Conv2dOp.backward(ctx, dy)
        return (dx, torch.from_numpy(dw.detach().numpy().copy()), *rest)
