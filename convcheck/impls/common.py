"""Array helpers shared by the built-in implementations."""

from ..backend import array_module
from ..geometry import effective_size, output_size, pairs, transposed_size


def in_float32(function):
    """`function` of arrays (leading positional arguments, None allowed) computed in float32
    when they are a half precision (float16, bfloat16), its arrays rounded back once: products
    accumulate in float32, as half-precision kernels (cuDNN's, torch's on the CPU) do. Other
    dtypes pass through unchanged."""
    import functools

    @functools.wraps(function)
    def wide(*arrays, **kwargs):
        dtype = next(a.dtype for a in arrays if a is not None)
        if dtype.itemsize >= 4:
            return function(*arrays, **kwargs)
        out = function(*(None if a is None else a.astype("float32") for a in arrays), **kwargs)
        if isinstance(out, tuple):
            return tuple(None if a is None else a.astype(dtype) for a in out)
        return out.astype(dtype)
    return wide


def pad(x, padding):
    """Zero-pad the last len(padding) / 2 axes by (before, after) each, axis by axis:
    (..., H, W) -> (..., H + top + bottom, W + left + right) in 2-D."""
    if not any(padding):
        return x
    pads = pairs(padding)
    xp = array_module(x)
    spatial = x.shape[-len(pads):]
    out = xp.zeros((*x.shape[:-len(pads)], *(n + lo + hi for n, (lo, hi) in zip(spatial, pads))), dtype=x.dtype)
    out[(...,) + tuple(slice(lo, lo + n) for n, (lo, _) in zip(spatial, pads))] = x
    return out


def ones(x) -> tuple[int, ...]:
    """(1, ...) with one entry per spatial axis of x (N, C, *spatial): the default stride or dilation."""
    return (1,) * (x.ndim - 2)


def out_size(x, w, stride, padding, dilation=None) -> tuple[int, ...]:
    """Output size per axis for x (N, k, *n) and w (p, k / groups, *m), taps dilation apart."""
    dilation = dilation or ones(x)
    return tuple(output_size(x.shape[2 + a], effective_size(w.shape[2 + a], dilation[a]), stride[a], lo, hi)
                 for a, (lo, hi) in enumerate(pairs(padding)))


def spatial(a, offset: int = 2) -> tuple[int, ...]:
    """The spatial axes of an array whose first `offset` axes are not: (2, 3) for NCHW."""
    return tuple(range(offset, a.ndim))


def plain_size(out, w, stride, padding, dilation) -> tuple[int, ...]:
    """Size of the plain layer's output whose dL/dX is a transposed layer's output `out`: the
    input size n, plus the rows output padding beyond the stride adds (when d > s)."""
    return tuple(output_size(o, effective_size(w.shape[2 + a], dilation[a]), stride[a], lo, hi)
                 for a, (o, (lo, hi)) in enumerate(zip(out, pairs(padding))))


def transposed_out(x, w, stride, padding, dilation, output_padding) -> tuple[int, ...]:
    """A transposed layer's output size per axis: (n - 1) s - (lo + hi) + d (m - 1) + op + 1."""
    op = output_padding or (0,) * (x.ndim - 2)
    return tuple(transposed_size(n, effective_size(w.shape[2 + a], dilation[a]), stride[a], lo, hi, op[a])
                 for a, (n, (lo, hi)) in enumerate(zip(x.shape[2:], pairs(padding))))


def extend(x, sizes):
    """x with zeros appended on its spatial axes up to `sizes` (never shorter)."""
    if tuple(x.shape[2:]) == tuple(sizes):
        return x
    xp = array_module(x)
    out = xp.zeros((*x.shape[:2], *sizes), dtype=x.dtype)
    out[(slice(None), slice(None)) + tuple(slice(0, n) for n in x.shape[2:])] = x
    return out


def one_int_api(spec, geom) -> str | None:
    """Why a layer cannot be written in an API that takes one int padding and one int stride
    and has no dilation or groups (CS231n's functions, course layer classes: 2-D), or None."""
    if spec.dims != 2:
        return f"not expressible in this API: it takes 2-D layers, and this one has dims = {spec.dims}"
    if spec.transposed:
        return "not expressible in this API: it has plain convolutions only, and this layer is transposed"
    if len(set(geom.padding)) > 1:
        return f"not expressible in this API: padding (top, bottom, left, right) = {geom.padding} is not one int"
    if spec.stride[0] != spec.stride[1]:
        return f"not expressible in this API: stride {spec.stride} is not one int"
    if any(d != 1 for d in spec.dilation) or spec.groups != 1:
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


CALL = "convcheck_call"
"""The attribute a plug-in's exception carries the call convcheck made under (Implementation.describe shows it)."""
ADAPTING = "docs/plugins.md, 'Adapting an op: a three-line wrapper'"
ENTRY_ERRORS = (TypeError, AssertionError, ValueError)
"""What an op raises when it does not take the arguments it was called with."""


def noted(error: BaseException, text) -> BaseException:
    """`error` carrying the call text (`text()`, made only now), unless it already carries one."""
    if not hasattr(error, CALL):
        try:
            setattr(error, CALL, text())
        except AttributeError:             # an exception type that refuses attributes
            pass
    return error


def noting_call(call, text):
    """call(); a TypeError, AssertionError or ValueError from it carries `text()`, the call as made."""
    try:
        return call()
    except ENTRY_ERRORS as e:
        raise noted(e, text)


def call_text(function: str, args=(), kwargs=None) -> str:
    """'CustomConv2DFunction.apply(x (2,3,7,7), w (4,3,3,3), b (4,), 1, 1)': a call as convcheck
    made it. args: (name, array or None) pairs, labels (str, shown as they are) or plain values;
    kwargs: name -> value."""
    def value(v):
        shape = getattr(v, "shape", None)
        return "(" + ",".join(str(int(d)) for d in shape) + ("," if len(shape) == 1 else "") + ")" \
            if shape is not None else repr(v)

    def item(a):
        if isinstance(a, str):
            return a
        if isinstance(a, tuple) and len(a) == 2 and isinstance(a[0], str):
            return f"{a[0]} {value(a[1])}"                        # 'x (2,3,7,7)', 'b None
        return value(a)
    parts = [item(a) for a in args] + [f"{k}={value(v)}" for k, v in (kwargs or {}).items()]
    return f"{function}({', '.join(parts)})"
