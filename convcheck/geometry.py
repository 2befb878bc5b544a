"""Every size formula of a convolution, each in one small function, and `Geometry`.

One spatial axis at a time (1-D, 2-D and 3-D layers apply the same formulas per axis), with
n the input size, m the filter size, s the stride and (lo, hi) the zero padding before/after
(top/bottom or left/right in 2-D). A dilated filter (taps
d apart) spans e = d (m - 1) + 1 input rows, and every formula below reads m as that span
(PyTorch's semantics; e = m without dilation):

    padded size     n + lo + hi
    output size     o = (n + lo + hi - m) // s + 1            (n - m + 1 at s=1, no padding)
    leftover        r = (n + lo + hi - m) % s  rows no window reaches; their dL/dX is 0
    dilated dL/dY   s * (o - 1) + 1                           (s - 1 zeros between rows)
    reached outputs padded row R is read by outputs ceil((R - m + 1) / s) … R // s, at most
                    ceil(m / s) of them                         (the per-index form's region)
    'same'          o = ceil(n / s); total pad = max((o - 1) * s + m - n, 0), the odd pixel
                    at the bottom/right (TensorFlow/JAX 'SAME')
    'full'          m - 1 on both sides                        (dL/dY padded for dL/dX)
    groups          w is (p, k / groups, m_h, m_w): filter f sees the input channels of its group

A transposed convolution (PyTorch's ConvTranspose) runs the other way: input pixel i adds
x[i] w[a] to output i s + a d - lo, and with op the output padding (extra rows at the end)

    transposed size o = (n - 1) s - (lo + hi) + d (m - 1) + op + 1
    as the dL/dX  the input dilated by s ((n - 1) s + 1), padded by e - 1 - lo before and
    dL/dX formula   e - 1 - hi + op after, correlated with rot180(F): o = that - e + 1
    weights         w is (k, p / groups, *m); its dL/dX is the plain convolution of dL/dY

This module knows no arrays: it turns a `ConvSpec` into the shape of every tensor.
"""

import math
from dataclasses import dataclass

from .errors import SpecError
from .spec import ConvSpec


def output_size(n: int, m: int, s: int, lo: int, hi: int) -> int:
    """Number of filter positions along an axis: (n + lo + hi - m) // s + 1."""
    return (n + lo + hi - m) // s + 1


def effective_size(m: int, d: int) -> int:
    """Input rows a filter of m taps, d apart, spans: d (m - 1) + 1."""
    return d * (m - 1) + 1


def correlation_size(n: int, m: int) -> int:
    """Length of a valid stride-1 correlation of n values with m: n - m + 1. It gives dL/dF's
    size (X_pad without leftover rows against the dilated dL/dY) and dL/dX's (the dilated
    dL/dY padded by m - 1 against the rotated filter)."""
    return n - m + 1


def leftover(n: int, m: int, s: int, lo: int, hi: int) -> int:
    """Padded rows after the last window, untouched by any output: (n + lo + hi - m) % s."""
    return (n + lo + hi - m) % s


def dilated_size(o: int, s: int) -> int:
    """Size of dL/dY with s - 1 zeros inserted between neighbours: s * (o - 1) + 1."""
    return s * (o - 1) + 1


def reached_outputs(row, m: int, s: int):
    """First and last output whose window reads padded row `row` (the per-index form's region R), before
    clipping to 0 … o - 1: ceil((row - m + 1) / s) and row // s. Works on ints and arrays."""
    return -((m - 1 - row) // s), row // s


def reach(m: int, s: int) -> int:
    """Most outputs along an axis that one input pixel reaches: ceil(m / s)."""
    return -(-m // s)


def transposed_size(n: int, m: int, s: int, lo: int, hi: int, op: int) -> int:
    """Output size of a transposed convolution along an axis (m: the filter's span):
    (n - 1) s - (lo + hi) + m - 1 + op + 1."""
    return (n - 1) * s - (lo + hi) + m + op


def same_padding(n: int, m: int, s: int) -> tuple[int, int]:
    """(lo, hi) giving output ceil(n / s); an odd total puts the extra pixel in hi."""
    o = -(-n // s)
    total = max((o - 1) * s + m - n, 0)
    return total // 2, total - total // 2


def pairs(padding) -> tuple[tuple[int, int], ...]:
    """Flat padding (before, after per axis, axis by axis: 2-D (top, bottom, left, right), as
    plug-ins take it) as one (before, after) pair per axis."""
    return tuple(zip(padding[0::2], padding[1::2]))


def transposed_size_text(before: str = "before", after: str = "after", minus: str = "−") -> str:
    """The transposed output-size formula as messages and explanations write it."""
    return f"(n {minus} 1)·s {minus} ({before} + {after}) + d·(m {minus} 1) + output_padding + 1"


AXES = {1: ("",), 2: ("h", "w"), 3: ("d", "h", "w")}
"""Subscripts of the spatial axes in formulas: o_h, m_w, s_d; a 1-D layer's are plain."""
SIDES = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}
"""What an axis's size is called, per number of spatial axes."""
LINES = {1: ("positions",), 2: ("rows", "columns"), 3: ("depth", "rows", "columns")}
"""What the lines along each axis are called (`shapes` steps, heatmaps)."""


def sub(name: str, axis: int, dims: int) -> str:
    """'o_h' for axis 0 of a 2-D layer, 'o' in 1-D, 'o_d' for axis 0 in 3-D."""
    suffix = AXES[dims][axis]
    return f"{name}_{suffix}" if suffix else name


def edges(axis: int, dims: int) -> tuple[str, str]:
    """Names of an axis's two padding sides: ('top', 'bottom'), ('left', 'right') in 2-D,
    ('before', 'after') (with the axis's subscript in 3-D) otherwise."""
    if dims == 2:
        return (("top", "bottom"), ("left", "right"))[axis]
    return sub("before", axis, dims), sub("after", axis, dims)


def axis_padding(padding, n: int, m: int, s: int, axis: int) -> tuple[int, int]:
    """(lo, hi) for one axis of a padding name or (before, after) per axis."""
    if padding == "valid":
        return 0, 0
    if padding == "full":
        return m - 1, m - 1
    if padding == "same":
        return same_padding(n, m, s)
    return pairs(padding)[axis]


def resolve_padding(padding, n: tuple[int, ...], m: tuple[int, ...], stride: tuple[int, ...]) -> tuple[int, ...]:
    """(before, after) per axis, axis by axis, in pixels for any padding form; 2-D: (top,
    bottom, left, right)."""
    return tuple(pad for axis in range(len(n)) for pad in axis_padding(padding, n[axis], m[axis], stride[axis], axis))


@dataclass(frozen=True)
class Geometry:
    """Every resolved size of one layer, one entry per spatial axis; shapes are (N, k, *n) and
    (p, k / groups, *m)."""

    spec: ConvSpec
    padding: tuple[int, ...]             # (before, after) per axis; 2-D: (top, bottom, left, right)
    padded: tuple[int, ...]              # n + lo + hi per axis
    out: tuple[int, ...]                 # output size per axis, (o_h, o_w) in 2-D
    leftover: tuple[int, ...]            # rows/columns no window reaches
    dilated: tuple[int, ...]             # dL/dY after inserting s - 1 zeros
    extent: tuple[int, ...]              # rows/columns one window spans: d (m - 1) + 1

    @property
    def stride(self) -> tuple[int, ...]:
        return self.spec.stride

    @property
    def dims(self) -> int:
        return self.spec.dims

    @property
    def pads(self) -> tuple[tuple[int, int], ...]:
        """(before, after) padding per axis: `padding` in pairs."""
        return pairs(self.padding)

    @property
    def phi(self) -> tuple[int, int]:
        """Shape of the im2col matrix phi(X) per sample: (positions, taps * k / groups)."""
        s = self.spec
        return math.prod(self.out), math.prod(s.m) * (s.k // s.groups)

    @property
    def filters(self) -> tuple[int, ...]:
        """The filter bank as plain filters, (p, k / groups, *m): output channel f from filter f
        (a transposed layer's w (k, p / groups, *m) reordered so; the cost model counts on it)."""
        s = self.spec
        return (s.p, s.k // s.groups, *s.m)

    @property
    def costs(self) -> dict:
        """What the cost model (numerical.full_forwards, budget) reads: x, the plain filters, b."""
        return {"x": self.shapes["x"], "w": self.filters, "b": self.shapes["b"]}

    @property
    def shapes(self) -> dict[str, tuple[int, ...] | None]:
        """Expected shape of every tensor, keyed x, w, b, y, dy, dx, dw, db (b: None without bias);
        a transposed layer's w is (k, p / groups, *m)."""
        s = self.spec
        x = (s.batch_size, s.k, *s.n)
        w = (s.k, s.p // s.groups, *s.m) if s.transposed else (s.p, s.k // s.groups, *s.m)
        b = (s.p,) if s.bias else None
        y = (s.batch_size, s.p, *self.out)
        return {"x": x, "w": w, "b": b, "y": y, "dy": y, "dx": x, "dw": w, "db": b}


def geometry(spec: ConvSpec) -> Geometry:
    """Resolve a spec's sizes; an impossible layer raises `SpecError` saying what would fit."""
    extent = tuple(effective_size(m, d) for m, d in zip(spec.m, spec.dilation))
    pads = resolve_padding(spec.padding, spec.n, extent, spec.stride)
    if spec.transposed:
        return _transposed(spec, extent, pads)
    for axis, (lo, hi) in enumerate(pairs(pads)):
        n, m = spec.n[axis], extent[axis]
        if n + lo + hi < m:
            raw, d = spec.m[axis], spec.dilation[axis]
            if d > 1 and raw <= n + lo + hi:               # the taps fit; their spacing does not
                raise SpecError(_too_spread(axis, spec.dims, n, raw, lo, hi, d), file=spec.source,
                                line=spec.line, layer=spec.name, field="dilation")
            raise SpecError(_too_large(axis, spec.dims, n, m, lo, hi, d), file=spec.source,
                            line=spec.line, layer=spec.name, field="m")
    padded = tuple(spec.n[a] + lo + hi for a, (lo, hi) in enumerate(pairs(pads)))
    args = [(spec.n[a], extent[a], spec.stride[a], lo, hi) for a, (lo, hi) in enumerate(pairs(pads))]
    out = tuple(output_size(*a) for a in args)
    return Geometry(spec=spec, padding=pads, padded=padded, out=out,
                    leftover=tuple(leftover(*a) for a in args),
                    dilated=tuple(dilated_size(o, a[2]) for o, a in zip(out, args)), extent=extent)


def _transposed(spec: ConvSpec, extent: tuple, pads: tuple) -> Geometry:
    """A transposed layer's sizes: `dilated` is the input dilated by the stride, `padded` that
    padded by e - 1 - lo and e - 1 - hi + op (the dL/dX formula), no leftover rows."""
    axes, op = range(spec.dims), spec.out_padding
    out = tuple(transposed_size(spec.n[a], extent[a], spec.stride[a], lo, hi, op[a])
                for a, (lo, hi) in enumerate(pairs(pads)))
    for a in axes:
        if out[a] < 1:
            before, after = edges(a, spec.dims)
            raise SpecError(f"a transposed layer's output {SIDES[spec.dims][a]} "
                            f"{transposed_size_text(before, after)} = ({spec.n[a]} − 1)·{spec.stride[a]} − "
                            f"({' + '.join(map(str, pairs(pads)[a]))}) + "
                            f"{extent[a] - 1} + {op[a]} + 1 = {out[a]}: the "
                            f"padding cuts everything; valid: {before} + {after} <= "
                            f"{(spec.n[a] - 1) * spec.stride[a] + extent[a] - 1 + op[a]}", file=spec.source,
                            line=spec.line, layer=spec.name, field="padding")
    dilated = tuple(dilated_size(spec.n[a], spec.stride[a]) for a in axes)
    padded = tuple(out[a] + extent[a] - 1 for a in axes)
    return Geometry(spec=spec, padding=pads, padded=padded, out=out, leftover=(0,) * spec.dims, dilated=dilated,
                    extent=extent)


def _too_spread(axis: int, dims: int, n: int, m: int, lo: int, hi: int, d: int) -> str:
    """Explain an output size of 0 that the dilation alone causes (m taps fit, d apart they do not)."""
    side = SIDES[dims][axis]
    lo_name, hi_name = edges(axis, dims)
    padded = n + lo + hi
    return (f"dilation {d} spreads the filter's {m} taps over d·(m − 1) + 1 = {d * (m - 1) + 1} input rows, more "
            f"than the padded input {side} n + {lo_name} + {hi_name} = {padded}, so the output size is 0; "
            f"valid: dilation <= {(padded - 1) // (m - 1)}")


def _too_large(axis: int, dims: int, n: int, m: int, lo: int, hi: int, d: int = 1) -> str:
    """Explain an output size of 0: which formula fails with which numbers, and what fits (m:
    the filter's span, d (m - 1) + 1 when dilated)."""
    side = SIDES[dims][axis]
    lo_name, hi_name = edges(axis, dims)
    short = m - (n + lo + hi)
    spans = "" if d == 1 else f" (dilated: d·(m − 1) + 1 with d = {d})"
    return (f"filter {side} {m}{spans} is larger than the padded input {side} "
            f"n + {lo_name} + {hi_name} = {n} + {lo} + {hi} = {n + lo + hi}, so the output "
            f"size (n + {lo_name} + {hi_name} - m) // s + 1 is 0; valid: m <= {n + lo + hi}, "
            f"or {short} more padding in total ({-(-short // 2)} per side), or n >= {m - lo - hi}")


def spec_dict(geom) -> dict:
    """A layer's resolved spec, as `shapes --format json` and `verify --format json` give it."""
    spec = geom.spec
    form = spec.padding if isinstance(spec.padding, str) else "explicit"
    return {"dims": spec.dims, "n": list(spec.n), "m": list(spec.m), "k": spec.k, "p": spec.p,
            "stride": list(spec.stride),
            "padding": list(geom.padding), "padding_form": form,
            "dilation": list(spec.dilation), "groups": spec.groups, "layout": spec.layout,
            "transposed": spec.transposed, "output_padding": list(spec.out_padding),
            "adapter": dict(spec.adapter),
            "batch": spec.batch_size, "bias": spec.bias, "dtype": spec.dtype, "seed": spec.seed}
