"""A conv layer of torch ops in the plug-in contract, every field of the spec format (1-D, 2-D
and 3-D, asymmetric padding, stride, dilation, groups, transposed with output padding):
autograd supplies its backward and that backward's gradients (order 2's right answer)."""

import torch.nn.functional as F


def conv(x, w, b, *, stride, padding, dilation=None, groups=1, transposed=False, output_padding=None):
    dims = x.dim() - 2
    dilation = tuple(dilation or (1,) * dims)
    pairs = [tuple(padding[2 * a:2 * a + 2]) for a in range(dims)]
    if transposed:
        extra = tuple(output_padding or (0,) * dims)
        y = getattr(F, f"conv_transpose{dims}d")(x, w, None, stride=stride, groups=groups, dilation=dilation)
        crop = [v for a in reversed(range(dims)) for v in (-pairs[a][0], extra[a] - pairs[a][1])]
        y = F.pad(y, crop)                                     # negative pads crop, output padding adds zeros
        return y if b is None else y + b.view(1, -1, *(1,) * dims)
    pads = [v for a in reversed(range(dims)) for v in pairs[a]]
    return getattr(F, f"conv{dims}d")(F.pad(x, pads), w, b, stride=stride, dilation=dilation, groups=groups)
