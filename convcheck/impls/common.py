"""Array helpers shared by the built-in implementations."""

from ..backend import array_module
from ..geometry import output_size


def pad(x, padding):
    """Zero-pad the last two axes by (top, bottom, left, right). (..., H, W) -> (..., H+t+b, W+l+r)."""
    top, bottom, left, right = padding
    if not any(padding):
        return x
    xp = array_module(x)
    out = xp.zeros((*x.shape[:-2], x.shape[-2] + top + bottom, x.shape[-1] + left + right), dtype=x.dtype)
    out[..., top:top + x.shape[-2], left:left + x.shape[-1]] = x
    return out


def out_size(x, w, stride, padding) -> tuple[int, int]:
    """(o_h, o_w) for x (N, k, H, W) and w (p, k, m_h, m_w)."""
    return (output_size(x.shape[2], w.shape[2], stride[0], padding[0], padding[1]),
            output_size(x.shape[3], w.shape[3], stride[1], padding[2], padding[3]))
