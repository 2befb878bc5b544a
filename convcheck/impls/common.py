"""Array helpers shared by the built-in implementations."""

from ..backend import array_module
from ..geometry import effective_size, output_size


def pad(x, padding):
    """Zero-pad the last two axes by (top, bottom, left, right). (..., H, W) -> (..., H+t+b, W+l+r)."""
    top, bottom, left, right = padding
    if not any(padding):
        return x
    xp = array_module(x)
    out = xp.zeros((*x.shape[:-2], x.shape[-2] + top + bottom, x.shape[-1] + left + right), dtype=x.dtype)
    out[..., top:top + x.shape[-2], left:left + x.shape[-1]] = x
    return out


def out_size(x, w, stride, padding, dilation=(1, 1)) -> tuple[int, int]:
    """(o_h, o_w) for x (N, k, H, W) and w (p, k / groups, m_h, m_w), taps dilation apart."""
    return (output_size(x.shape[2], effective_size(w.shape[2], dilation[0]), stride[0], padding[0], padding[1]),
            output_size(x.shape[3], effective_size(w.shape[3], dilation[1]), stride[1], padding[2], padding[3]))


def one_int_api(spec, geom) -> str | None:
    """Why a layer cannot be written in an API that takes one int padding and one int stride
    and has no dilation or groups (CS231n's functions, course layer classes), or None."""
    if len(set(geom.padding)) > 1:
        return f"not expressible in this API: padding (top, bottom, left, right) = {geom.padding} is not one int"
    if spec.stride[0] != spec.stride[1]:
        return f"not expressible in this API: stride {spec.stride} is not one int"
    if spec.dilation != (1, 1) or spec.groups != 1:
        return "not expressible in this API: it has no dilation and no groups"
    return None


def bias_or_zeros(b, w):
    """APIs that always take a bias get zeros for a layer without one (its db is dropped)."""
    if b is not None:
        return b.copy()
    return array_module(w).zeros(w.shape[0], dtype=w.dtype)


def group_slices(k: int, p: int, groups: int) -> list[tuple[slice, slice]]:
    """(input channels, filters) of each group: filter f sees channels of group f // (p / groups)."""
    kg, pg = k // groups, p // groups
    return [(slice(g * kg, (g + 1) * kg), slice(g * pg, (g + 1) * pg)) for g in range(groups)]
