"""The derivations of every gradient's size (docs/derivations.md), as data, with a spec's numbers.

`explain(geometry, view)` returns an `Explanation`: each tensor in the derivations' notation and
in array layout, and `Step`s (formula, the formula with the numbers substituted, result,
note) for the direct view (the dL/dF and dL/dX derivations, 'same' padding, the per-index
form) and the im2col view (the im2col form).
Every number comes from `geometry`; nothing is allocated (the test suite runs the built-in
engine against every printed shape, tests/conftest.py `confirm`). Renderers live in `report/`.
"""

import math
from dataclasses import dataclass
from typing import NamedTuple

from .geometry import Geometry, correlation_size, reached_outputs, sub

VIEWS = ("direct", "im2col", "both")


@dataclass(frozen=True)
class Tensor:
    key: str                 # x, w, b, y, dy, dw, dx, db
    notation: str            # the derivations' notation with numbers, e.g. '100 × 100 × 5'
    layout: str              # array layout in symbols, e.g. '(N, k, H, W)'
    shape: tuple | None      # resolved array shape; None without bias


@dataclass(frozen=True)
class Step:
    id: str                  # stable key, e.g. 'dw.size'
    view: str                # 'direct' or 'im2col'
    title: str
    formula: str             # symbols
    numbers: str             # the formula with this spec's numbers
    result: str
    note: str = ""
    latex: str = ""          # the step's equation for Markdown, if it has one
    compact: bool = False    # shown without --explain


@dataclass(frozen=True)
class Explanation:
    geometry: Geometry
    tensors: list[Tensor]
    steps: list[Step]


def explain(geom: Geometry, view: str = "both") -> Explanation:
    """Tensors and derivation steps of one layer; view: 'direct', 'im2col' or 'both'."""
    steps, transposed = [], geom.spec.transposed
    if view in ("direct", "both"):
        steps += _transposed_steps(geom) if transposed else _direct_steps(geom)
    if view in ("im2col", "both"):
        steps += _transposed_im2col_steps(geom) if transposed else _im2col_steps(geom)
    return Explanation(geom, _tensors(geom), steps)


def _hw(values) -> str:
    """'5' when every axis agrees, '8 × 6' otherwise (rows × columns in 2-D)."""
    values = tuple(values)
    return str(values[0]) if len(set(values)) == 1 else " × ".join(map(str, values))


def _plane(values) -> str:
    """A size written out, every axis: '96 × 96' (2-D), '100' (1-D), '8 × 16 × 16' (3-D)."""
    return " × ".join(map(str, values))


AXIS_NAMES = {1: ("positions",), 2: ("rows", "columns"), 3: ("depth", "rows", "columns")}


def _axes(geom: Geometry, text) -> str:
    """text(axis) for every spatial axis, written once when they all read the same."""
    texts = [text(a) for a in range(geom.dims)]
    if len(set(texts)) == 1:
        return texts[0]
    return "; ".join(f"{name}: {t}" for name, t in zip(AXIS_NAMES[geom.dims], texts))


def _symbols(name: str, dims: int, joint: str = " × ") -> str:
    """'n_h × n_w' (2-D), 'n' (1-D), 'n_d × n_h × n_w' (3-D); joint '·' for products."""
    return joint.join(sub(name, a, dims) for a in range(dims))


def _layout(dims: int) -> str:
    """The spatial axes of x in array layout: 'H, W' (2-D), 'L' (1-D), 'D, H, W' (3-D)."""
    return {1: "L", 2: "H, W", 3: "D, H, W"}[dims]


def _sides(dims: int) -> str:
    """The padding's two sides in a per-axis formula: 'top + bottom' in 2-D, 'before + after' else."""
    return "top + bottom" if dims == 2 else "before + after"


def _tensors(geom: Geometry) -> list[Tensor]:
    s, shapes, dims = geom.spec, geom.shapes, geom.dims
    square = len(set(s.n)) == 1 and len(set(s.m)) == 1 and len(set(geom.out)) == 1
    n_sym, m_sym = (" × ".join(["n"] * dims), " × ".join(["m"] * dims)) if square else \
        (_symbols("n", dims), _symbols("m", dims))
    plain = all(v == 1 for v in s.stride) and not any(geom.padding) and not s.transposed
    o_sym = (" × ".join(["(n − m + 1)" if plain else "o"] * dims)) if square else _symbols("o", dims)
    n, m, o = _plane(s.n), _plane(s.m), _plane(geom.out)
    no_bias = "none (bias: false)"
    depth, k_w = ("k", s.k) if s.groups == 1 else ("k/groups", s.k // s.groups)
    x_layout, o_layout = f"(N, k, {_layout(dims)})", f"(N, p, {_symbols('o', dims, ', ')})"
    w_layout = f"(p, {'k' if s.groups == 1 else 'k/groups'}, {_symbols('m', dims, ', ')})"
    filters = f"p = {s.p} filters F_j, each {m_sym} × {depth} = {m} × {k_w}"
    if s.transposed:                      # one stack of filters per input channel: X^(i) spreads through F_i
        depth, p_w = ("p", s.p) if s.groups == 1 else ("p/groups", s.p // s.groups)
        w_layout = f"(k, {depth}, {_symbols('m', dims, ', ')})"
        filters = f"k = {s.k} stacks F_i, one per input channel, each {m_sym} × {depth} = {m} × {p_w}"
    return [
        Tensor("x", f"{n_sym} × k = {n} × {s.k}", x_layout, shapes["x"]),
        Tensor("w", filters, w_layout, shapes["w"]),
        Tensor("b", f"one per {'output channel' if s.transposed else 'filter'}: p = {s.p}" if s.bias else no_bias,
               "(p,)", shapes["b"]),
        Tensor("y", f"{o_sym} × p = {o} × {s.p}", o_layout, shapes["y"]),
        Tensor("dy", f"as Y: {o} × {s.p}", o_layout, shapes["dy"]),
        Tensor("dw", f"as F: {filters}" if s.transposed else
               f"as F_j: {m_sym} × {depth} = {m} × {k_w}, for each of p = {s.p}", w_layout, shapes["dw"]),
        Tensor("dx", f"as X: {n_sym} × k = {n} × {s.k}", x_layout, shapes["dx"]),
        Tensor("db", f"as b: p = {s.p}" if s.bias else no_bias, "(p,)", shapes["db"]),
    ]


def _axis(geom: Geometry, a: int):
    """(n, m, s, lo, hi, o, r, d) of one axis; m is the filter's span d (m - 1) + 1 when dilated."""
    s = geom.spec
    return (s.n[a], geom.extent[a], s.stride[a], geom.padding[2 * a], geom.padding[2 * a + 1],
            geom.out[a], geom.leftover[a], geom.dilated[a])


def _padding_step(geom: Geometry) -> Step:
    s = geom.spec
    padded = f"X_pad is {_plane(geom.padded)} × {s.k}"
    names = "(top, bottom, left, right)" if geom.dims == 2 else "(before, after per axis)"
    pads = f"{names} = ({', '.join(map(str, geom.padding))})"
    if s.padding == "same":
        def same(a):
            n, m, st, lo, hi, o, _, _ = _axis(geom, a)
            return (f"o = ⌈{n} / {st}⌉ = {o}, total = max(({o} − 1)·{st} + {m} − {n}, 0) = {lo + hi} "
                    f"→ {lo} before, {hi} after")
        odd = any(geom.padding[2 * a] != geom.padding[2 * a + 1] for a in range(geom.dims))
        return Step("padding", "direct", "Padding 'same'",
                    "o = ⌈n / s⌉; total = max((o − 1)·s + m − n, 0); before = ⌊total / 2⌋, after = total − before",
                    _axes(geom, same), f"{pads}; {padded}",
                    ("an odd total puts the extra pixel at the bottom/right (TensorFlow/JAX 'SAME'; "
                     "PyTorch allows 'same' only at stride 1)" if odd else
                     "an even total splits evenly ('same' padding: (m − 1)/2 on each side for an odd filter at "
                     "stride 1)"))
    if s.padding == "full":
        return Step("padding", "direct", "Padding 'full'", "m − 1 zeros on every side",
                    _axes(geom, lambda a: f"{geom.extent[a]} − 1 = {geom.extent[a] - 1}"), f"{pads}; {padded}",
                    "the output grows to n + m − 1")
    if not any(geom.padding):
        return Step("padding", "direct", "No padding", "top = bottom = left = right = 0" if geom.dims == 2 else
                    "before = after = 0 on every axis", pads, f"X_pad = X, {_plane(s.n)} × {s.k}")
    return Step("padding", "direct", "Padding as given", names, pads, padded,
                "zeros around X; the same amount is cropped from dL/dX at the end")


def _direct_steps(geom: Geometry) -> list[Step]:
    s, sides = geom.spec, _sides(geom.dims)
    plain = all(v == 1 for v in s.stride) and not any(geom.padding)       # the derivations' own case
    strided = not all(v == 1 for v in s.stride)
    steps = [_padding_step(geom)] + _dilation_and_groups_steps(geom)

    def out(a):
        n, m, st, lo, hi, o, _, _ = _axis(geom, a)
        return f"{n} − {m} + 1 = {o}" if plain else f"({n} + {lo} + {hi} − {m}) // {st} + 1 = {o}"
    steps.append(Step("y", "direct", "Output Y", "o = n − m + 1" if plain else f"o = (n + {sides} − m) // s + 1",
                      _axes(geom, out), f"Y is {_plane(geom.out)} × {s.p}: one channel per filter",
                      "the forward pass: with stride 1 and no padding Y is (n − m + 1) × (n − m + 1) × p"
                      if plain else "",
                      compact=True))
    if strided or any(geom.leftover):
        def left(a):
            n, m, st, lo, hi, _, r, _ = _axis(geom, a)
            return f"({n} + {lo} + {hi} − {m}) mod {st} = {r}"
        words = {1: ("position",), 2: ("row", "column"), 3: ("plane", "row", "column")}[geom.dims]
        counts = " and ".join(f"{r} {word}{'s' * (r != 1)}" for r, word in zip(geom.leftover, words))
        result = (f"the last {counts} of X_pad are read by no window: their dL/dX is 0" if any(geom.leftover) else
                  "none: every row and column of X_pad is read by some window")
        steps.append(Step("leftover", "direct", "Leftover rows", f"r = (n + {sides} − m) mod s",
                          _axes(geom, left), result,
                          "the stride steps over them before a whole window fits" if any(geom.leftover) else ""))

    def dil(a):
        _, _, st, _, _, o, _, d = _axis(geom, a)
        return f"{st}·({o} − 1) + 1 = {d}"
    steps.append(Step("dy", "direct", "Upstream gradient dL/dY",
                      "dL/dY has Y's shape" + ("; dilated by s: d = s·(o − 1) + 1" if strided else ""),
                      _axes(geom, dil) if strided else f"{_plane(geom.out)} × {s.p}",
                      f"dilated dL/dY is {_plane(geom.dilated)} per channel" if strided else f"d = o = {_hw(geom.out)}",
                      "s − 1 zeros between neighbours put each gradient where its window started" if strided else ""))

    def dw(a):
        n, m, st, lo, hi, o, r, d = _axis(geom, a)
        if plain:
            return f"{n} − ({n} − {m} + 1) + 1 = {m}"
        return f"({n} + {lo} + {hi} − {r}) − {d} + 1 = {correlation_size(n + lo + hi - r, d)}"
    steps.append(Step(
        "dw.size", "direct", "dL/dF_j^(i) = X^(i) ⋆ dL/dY^(j)",
        "size n − (n − m + 1) + 1 = m" if plain else f"size (n + {sides} − r) − d + 1 = m",
        _axes(geom, dw), f"each dL/dF_j^(i) is {_plane(s.m)}, the size of the filter slice F_j^(i)" +
        ("" if all(v == 1 for v in s.dilation) else f", read at the taps, d = {_hw(s.dilation)} apart, of the "
                                         f"{_plane(geom.extent)} correlation"),
        "the dL/dF derivation: the correlation of channel i of X with channel j of dL/dY" +
        ("" if plain else "; X_pad without its leftover rows, dL/dY dilated"),
        r"\frac{\partial L}{\partial F_j^{(i)}} = X_{pad}^{(i)} \circledast \frac{\partial L}{\partial Y^{(j)}}",
        compact=True))
    steps.append(Step(
        "dw.depth", "direct", "Depth of dL/dF (the dL/dF derivation)",
        "dL/dF_j = [dL/dF_j^(1), …, dL/dF_j^(k)]: one slice per input channel i, for each filter j",
        f"{'k' if s.groups == 1 else 'k/groups'} = {s.k // s.groups} channels × p = {s.p} filters = "
        f"{s.k // s.groups * s.p} correlations of a {_plane(geom.padded)} channel of X_pad with a "
        f"{_plane(geom.dilated)} channel of dL/dY",
        f"dL/dF is {s.p} × ({_plane(s.m)} × {s.k // s.groups}) = array {geom.shapes['dw']}; the batch of "
        f"{s.batch_size} is summed" + ("" if s.groups == 1 else f"; filter j only meets the {s.k // s.groups} channels "
                                                           "of its group"),
        f"X's depth k = {s.k} and dL/dY's depth p = {s.p} never need to match: channel i of X only meets "
        "channel j of dL/dY, one pair per slice", compact=True))

    def dx(a):
        n, m, st, lo, hi, o, r, d = _axis(geom, a)
        if plain:
            return f"({n} − {m} + 1) + 2·({m} − 1) − {m} + 1 = {n}"
        full = correlation_size(d + 2 * (m - 1), m)
        return (f"{d} + 2·({m} − 1) − {m} + 1 = {full}, + {r} leftover = {full + r}, "
                f"− {lo} − {hi} cropped = {full + r - lo - hi}")
    steps.append(Step(
        "dx.size", "direct", "dL/dX^(i) = Σ_j rot180(F_j^(i)) ∗ pad_(m−1)(dL/dY^(j))",
        "size (n − m + 1) + 2(m − 1) − m + 1 = n" if plain else
        f"size d + 2(m − 1) − m + 1, + r leftover rows of zeros, − {sides.replace(' + ', ' − ')} cropped = n",
        _axes(geom, dx), f"each dL/dX^(i) is {_plane(s.n)}, the size of X^(i)",
        "the dL/dX derivation: rot180 turns the filter by 180°; the full "
        f"convolution slides it over dL/dY padded by m − 1 = {_hw(tuple(m - 1 for m in geom.extent))} on every side"
        + ("" if all(v == 1 for v in s.dilation) else " (m: the dilated filter's span; its gaps are zeros)"),
        r"\frac{\partial L}{\partial X^{(i)}} = \sum_j \left(F_j^{(i)}\right)' \ast "
        r"\mathrm{pad}_{m-1}\!\left(\frac{\partial L}{\partial Y^{(j)}}\right)", compact=True))
    steps.append(Step(
        "dx.depth", "direct", "Depth of dL/dX",
        "dL/dX = [dL/dX^(1), …, dL/dX^(k)]: the p filters' contributions are summed into each channel",
        f"Σ over p = {s.p} filters, for each of k = {s.k} channels",
        f"dL/dX is {_plane(s.n)} × {s.k} = array {geom.shapes['dx']}"))
    steps.append(_bias_step(geom))
    steps.append(_region_step(geom))
    return steps


def _bias_step(geom: Geometry) -> Step:
    s = geom.spec
    return Step(
        "db", "direct", "dL/db_j = Σ dL/dY^(j)",
        f"one number per {'output channel' if s.transposed else 'filter'}: the sum over batch and positions",
        f"p = {s.p} sums of {s.batch_size} × {_plane(geom.out)} values" if s.bias else "no bias",
        f"dL/db is array {geom.shapes['db']}" if s.bias else "the spec has bias: false: no b and no dL/db",
        latex=r"\frac{\partial L}{\partial b_j} = \sum \frac{\partial L}{\partial Y^{(j)}}", compact=True)


class Spread(NamedTuple):
    """One axis of a transposed layer: e the filter's span, before/after the padding of the
    dilated X (negative: a crop), fits the windows the plain layer it transposes fits into
    Y_pad (n, or more when output padding >= stride)."""
    n: int
    e: int
    s: int
    lo: int
    hi: int
    op: int
    o: int
    before: int
    after: int
    fits: int


def _spread(geom: Geometry, a: int) -> Spread:
    s = geom.spec
    n, e, st, lo, hi, op, o = (s.n[a], geom.extent[a], s.stride[a], geom.padding[2 * a], geom.padding[2 * a + 1],
                               s.out_padding[a], geom.out[a])
    return Spread(n, e, st, lo, hi, op, o, e - 1 - lo, e - 1 - hi + op, (o + lo + hi - e) // st + 1)


def _transposed_steps(geom: Geometry) -> list[Step]:
    """A transposed layer in the derivations' terms: Y is the dL/dX formula applied to X, dL/dX
    the forward applied to dL/dY, dL/dF the dL/dF formula with X and dL/dY exchanged."""
    s, dims = geom.spec, geom.dims
    ax = [_spread(geom, a) for a in range(dims)]
    strided, dilated = any(v != 1 for v in s.stride), any(v != 1 for v in s.dilation)
    cut = "before + after" if dims != 2 else "top + bottom"
    steps = [Step(
        "transposed", "direct", "A transposed convolution: Y is the dL/dX formula",
        "Y^(j) = Σ_i rot180(F_i^(j)) ∗ pad(dilate_s(X^(i))): X in the place of dL/dY",
        "input pixel X[i] adds X[i]·F[a] to Y[i·s + a·d − before], a = 0 … m − 1, per axis",
        f"the layer maps {s.k} channels of {_plane(s.n)} to {s.p} channels of {_plane(geom.out)}",
        "the dL/dX derivation: dL/dY dilated by s, padded by m − 1, convolved with the rotated filter; its "
        "padding is what the transposed layer cuts from that full output, output_padding what it adds at the end",
        compact=True)]
    if dilated:
        steps.append(Step(
            "dilation", "direct", "Dilation: the filter's span", "e = d·(m − 1) + 1: m taps, d apart",
            _axes(geom, lambda a: f"{s.dilation[a]}·({s.m[a]} − 1) + 1 = {geom.extent[a]}"),
            f"each input pixel spreads over {_plane(geom.extent)} of Y through {_plane(s.m)} taps; below, m is "
            "that span"))
    if s.groups != 1:
        k_g, p_g = s.k // s.groups, s.p // s.groups
        steps.append(Step(
            "groups", "direct", "Groups: which channels each stack reaches",
            "input channel i reaches the p/groups output channels of its group ⌊i / (k/groups)⌋; F is k × p/groups × m",
            f"groups = {s.groups}: k/groups = {s.k} / {s.groups} = {k_g} input and p/groups = {s.p} / {s.groups} = "
            f"{p_g} output channels per group", f"dL/dF is {geom.shapes['dw']}",
            "each group is an independent transposed layer"))

    def dil(a):
        return f"({ax[a].n} − 1)·{ax[a].s} + 1 = {geom.dilated[a]}"
    steps.append(Step(
        "x.dilated", "direct", "X dilated by the stride", "D = (n − 1)·s + 1: s − 1 zeros between neighbours",
        _axes(geom, dil) if strided else "s = 1: nothing to insert",
        f"dilated X is {_plane(geom.dilated)} per channel",
        "the stride of a transposed layer spreads its input: upsampling" if strided else ""))

    def padding(a):
        x = ax[a]
        tail = f" + {x.op}" if x.op else ""
        return f"before {x.e} − 1 − {x.lo} = {x.before}, after {x.e} − 1 − {x.hi}{tail} = {x.after}"
    crops = any(x.before < 0 or x.after < 0 for x in ax)
    steps.append(Step(
        "padding", "direct", "Padding: m − 1, less the cut, plus output padding after",
        "before = m − 1 − before_cut, after = m − 1 − after_cut + output_padding" if dims != 2 else
        "top = m − 1 − top_cut, bottom = m − 1 − bottom_cut + output_padding (left/right the same)",
        _axes(geom, padding), f"padded dilated X is {_plane(geom.padded)} per channel",
        "the spec's padding is cut from the full output; output_padding adds rows at the end (bottom/right) only"
        + ("; a negative amount crops X's dilated rows" if crops else "")))

    def out(a):
        x = ax[a]
        return f"({x.n} − 1)·{x.s} − ({x.lo} + {x.hi}) + {x.e - 1} + {x.op} + 1 = {x.o}"
    steps.append(Step(
        "y", "direct", "Output Y", f"o = (n − 1)·s − ({cut}) + d·(m − 1) + output_padding + 1",
        _axes(geom, out), f"Y is {_plane(geom.out)} × {s.p}",
        "the padded dilated X correlated with rot180(F): D + before + after − m + 1 = o", compact=True))
    unreached = tuple(max(x.op - x.hi, 0) for x in ax)
    if any(unreached):
        steps.append(Step(
            "unreached", "direct", "Rows no input reaches", "output_padding − after_cut rows at the end",
            _axes(geom, lambda a: str(unreached[a])),
            "the last of them hold only the bias, and their dL/dY reaches no gradient of X or F",
            "the plain layer's leftover rows (the per-index form), seen from the other side"))

    def dx(a):
        x = ax[a]
        extra = f", the first {x.n} kept" if x.fits != x.n else ""
        return f"({x.o} + {x.lo} + {x.hi} − {x.e}) // {x.s} + 1 = {x.fits}{extra}"
    steps.append(Step(
        "dx.size", "direct", "dL/dX^(i) = Σ_j F_i^(j) ⋆_s pad(dL/dY^(j)): the plain forward",
        f"size (o + {cut} − m) // s + 1 = n", _axes(geom, dx), f"each dL/dX^(i) is {_plane(s.n)}, the size of X^(i)",
        "the backward of a transposed convolution is the plain convolution it transposes: the same filters, "
        "stride, padding, dilation and groups", compact=True))

    def dw(a):
        x = ax[a]
        r = (x.o + x.lo + x.hi - x.e) % x.s
        return f"({x.o} + {x.lo} + {x.hi} − {r}) − {(x.fits - 1) * x.s + 1} + 1 = {x.e}"
    steps.append(Step(
        "dw.size", "direct", "dL/dF_i^(j) = pad(dL/dY^(j)) ⋆ dilate_s(X^(i))",
        f"size (o + {cut} − r) − D + 1 = m", _axes(geom, dw),
        f"each dL/dF_i^(j) is {_plane(s.m)}" + ("" if not dilated else ", read at the taps d apart"),
        "the dL/dF derivation with X and dL/dY exchanged: dL/dY padded by the cut, X dilated by s", compact=True))
    steps.append(Step(
        "dw.depth", "direct", "Depth of dL/dF",
        "one slice per (input channel i, output channel j of its group)",
        f"k = {s.k} stacks × p/groups = {s.p // s.groups} = {s.k * s.p // s.groups} correlations",
        f"dL/dF is array {geom.shapes['dw']}; the batch of {s.batch_size} is summed", compact=True))
    steps.append(_bias_step(geom))

    def reached(pixel):
        spans = []
        for a in range(dims):
            rows = [pixel[a] * ax[a].s + tap * s.dilation[a] - ax[a].lo for tap in range(s.m[a])]
            spans.append([r for r in rows if 0 <= r < ax[a].o])
        where = "; ".join(", ".join(map(str, rows)) or "none" for rows in spans)
        total = math.prod(len(rows) for rows in spans)
        return f"X[{', '.join(map(str, pixel))}] → {where}: {total} output{'s' * (total != 1)}"
    steps.append(Step(
        "region", "direct", "Which outputs one pixel reaches",
        "X[i] reaches Y[i·s + a·d − before], a = 0 … m − 1 on each axis, those inside 0 … o − 1",
        f"{reached(tuple(n // 2 for n in s.n))}; {reached((0,) * dims)}",
        f"dL/dX[i] sums those {' × '.join(map(str, s.m))} entries of dL/dY times the filter, fewer at the border"))
    return steps


def _dilation_and_groups_steps(geom: Geometry) -> list[Step]:
    """What dilation and groups change, with the layer's numbers (none for a plain layer)."""
    s, steps = geom.spec, []
    if any(v != 1 for v in s.dilation):
        steps.append(Step(
            "dilation", "direct", "Dilation: the filter's span", "e = d·(m − 1) + 1: m taps, d apart",
            _axes(geom, lambda a: f"{s.dilation[a]}·({s.m[a]} − 1) + 1 = {geom.extent[a]}"),
            f"each window spans {_plane(geom.extent)} of X_pad but reads only {_plane(s.m)} taps; below, m is "
            "that span", "as a dense filter of size e with d − 1 zeros between taps: the formulas hold "
            "with it, and dL/dF is read back at the taps", compact=True))
    if s.groups != 1:
        k_w, p_g = s.k // s.groups, s.p // s.groups
        depthwise = s.groups == s.k
        steps.append(Step(
            "groups", "direct", "Groups: which channels each filter sees",
            "filter j sees the k/groups input channels of its group ⌊j / (p/groups)⌋; F and dL/dF are "
            "p × m × m × k/groups",
            f"groups = {s.groups}: k/groups = {s.k} / {s.groups} = {k_w} channels and p/groups = {s.p} / "
            f"{s.groups} = {p_g} filters per group",
            f"dL/dF is {geom.shapes['dw']}" + (": depthwise, one channel per filter" if depthwise else ""),
            "each group is an independent layer: its channels of X, its filters, its channels of dL/dY; "
            "dL/dX of a channel sums only its group's filters", compact=True))
    return steps


def touched(pixel: int, m: int, s: int, lo: int, o: int) -> tuple[int, int]:
    """First and last output along an axis whose window reads input pixel `pixel` (the per-index form's region R)."""
    first, last = reached_outputs(pixel + lo, m, s)
    return max(first, 0), min(last, o - 1)


def _region_step(geom: Geometry) -> Step:
    s, dims = geom.spec, geom.dims
    centre = tuple(n // 2 for n in s.n)
    names = {1: ("outputs",), 2: ("rows", "columns"), 3: ("planes", "rows", "columns")}[dims]

    def region(pixel):
        spans = [touched(pixel[a], geom.extent[a], s.stride[a], geom.padding[2 * a], geom.out[a])
                 for a in range(dims)]
        counts = [max(last - first + 1, 0) for first, last in spans]
        where = ", ".join(f"{name} {f}…{last}" if last >= f else f"no {name}" for name, (f, last) in zip(names, spans))
        total = math.prod(counts)
        return (f"X[{', '.join(map(str, pixel))}] → {where}: {' × '.join(map(str, counts))} = {total} "
                f"output{'s' * (total != 1)}")
    if all(v == 1 for v in s.stride):
        most = " × ".join(["m"] * dims)
    else:
        most = "at most " + " × ".join(f"⌈{sub('m', a, dims)} / {sub('s', a, dims)}⌉" for a in range(dims))
    return Step(
        "region", "direct", "Which outputs one pixel reaches (the per-index form)",
        "X[r', c'] is read by y[i, j] when i·s ≤ r' + top ≤ i·s + m − 1: rows ⌈(r' + top − m + 1) / s⌉ … "
        "⌊(r' + top) / s⌋, clipped to 0 … o − 1" + ("" if dims == 2 else "; the same on each axis"),
        f"{region(centre)}; {region((0,) * dims)}",
        f"dL/dX[r', c'] sums that region of dL/dY times the filter: {most} terms inside, fewer at the border")


def _im2col_steps(geom: Geometry) -> list[Step]:
    s, dims = geom.spec, geom.dims
    rows, cols = geom.phi
    m = "·".join(map(str, (*s.m, s.k // s.groups)))
    p = s.p // s.groups                                  # per group: each group is its own phi(X) and F_f
    o = "·".join(map(str, geom.out))
    o_sym, m_sym = _symbols("o", dims, "·"), _symbols("m", dims, "·") + "·k"
    return [
        Step("phi", "im2col",
             "φ(X): im2col (the im2col form)" if dims != 3 else "φ(X): vol2col (the im2col form, in 3-D)",
             f"one row per output position, one column per filter tap: ({o_sym}, {m_sym})",
             f"({o}, {m}) = ({rows}, {cols}) per sample", f"φ(X) is ({rows}, {cols})",
             "row q holds the window of X_pad that output position q reads, flattened", compact=True),
        Step("F_f", "im2col", "F_f: the filters as columns", f"F reshaped to ({m_sym}, p)",
             f"({m}, {p}) = ({cols}, {p})", f"F_f is ({cols}, {p})"),
        Step("O_f", "im2col", "O_f = φ(X) F_f", f"({o_sym}, {m_sym})({m_sym}, p) = ({o_sym}, p)",
             f"({rows}, {cols})({cols}, {p}) = ({rows}, {p})",
             f"reshaped to Y {geom.shapes['y'][1:]} per sample", latex=r"O_f = \phi(X)\, F_f"),
        Step("dF_f", "im2col", "dL/dF_f = φ(X)^T dL/dO_f", f"({m_sym}, {o_sym})({o_sym}, p) = ({m_sym}, p)",
             f"({cols}, {rows})({rows}, {p}) = ({cols}, {p})",
             f"reshaped to dL/dF {geom.shapes['dw']}, summed over the batch",
             "the same as the backward of a linear layer",
             r"\frac{\partial L}{\partial F_f} = \phi(X)^T \frac{\partial L}{\partial O_f}", compact=True),
        Step("dphi", "im2col", "dL/dφ = dL/dO_f F_f^T", f"({o_sym}, p)(p, {m_sym}) = ({o_sym}, {m_sym})",
             f"({rows}, {p})({p}, {cols}) = ({rows}, {cols})", f"dL/dφ is ({rows}, {cols}), the shape of φ(X)",
             latex=r"\frac{\partial L}{\partial \phi(X)} = \frac{\partial L}{\partial O_f} F_f^T", compact=True),
        Step("col2im", "im2col", "col2im: back to X's shape",
             "each entry of dL/dφ is added onto the pixel of X_pad it was copied from; then the padding is cropped",
             f"({rows}, {cols}) → ({s.k}, {_plane(geom.padded).replace(' × ', ', ')}) → ({s.k}, "
             f"{_plane(s.n).replace(' × ', ', ')})",
             f"dL/dX is array {geom.shapes['dx']}", "a pixel read by several windows collects several terms"),
    ]


def _transposed_im2col_steps(geom: Geometry) -> list[Step]:
    """The im2col form's matrices run the other way: Y is col2im of X_f F_f, dL/dX is φ(dL/dY) F_f^T."""
    s, dims = geom.spec, geom.dims
    k_g, p_g = s.k // s.groups, s.p // s.groups          # per group: each group is its own X_f and F_f
    fits = tuple(_spread(geom, a).fits for a in range(dims))
    rows, taps = math.prod(fits), math.prod(s.m) * p_g
    n_sym, m_sym = _symbols("n", dims, "·"), _symbols("m", dims, "·") + "·p"
    n, m = "·".join(map(str, fits)), "·".join(map(str, (*s.m, p_g)))
    padded_y = tuple(o + geom.padding[2 * a] + geom.padding[2 * a + 1] for a, o in enumerate(geom.out))
    extra = "" if fits == s.n else f" (X extended by zeros to {_plane(fits)}: output padding past the stride)"
    return [
        Step("X_f", "im2col", "X_f: the input as a matrix", f"one row per input position, one column per channel: "
             f"({n_sym}, k)", f"({n}, {k_g}) = ({rows}, {k_g}) per sample" + extra, f"X_f is ({rows}, {k_g})"),
        Step("F_f", "im2col", "F_f: the filters as rows", f"F reshaped to (k, {m_sym})",
             f"({k_g}, {m}) = ({k_g}, {taps})", f"F_f is ({k_g}, {taps})"),
        Step("phi", "im2col", "Φ = X_f F_f: what each input pixel adds",
             f"({n_sym}, k)(k, {m_sym}) = ({n_sym}, {m_sym})", f"({rows}, {k_g})({k_g}, {taps}) = ({rows}, {taps})",
             f"Φ is ({rows}, {taps})",
             "row q holds input position q times every tap of every filter: the window it adds onto Y",
             r"\Phi = X_f\, F_f", compact=True),
        Step("col2im", "im2col", "Y = col2im(Φ) (the im2col form's dL/dX path, run forward)",
             "each entry of Φ is added onto the pixel of Y_pad its window covers; then the cut is cropped",
             f"({rows}, {taps}) → ({s.p}, {_plane(padded_y).replace(' × ', ', ')}) → ({s.p}, "
             f"{_plane(geom.out).replace(' × ', ', ')})", f"Y is array {geom.shapes['y']}",
             "an output covered by several windows collects several terms", compact=True),
        Step("dX_f", "im2col", "dL/dX_f = φ(dL/dY) F_f^T: the plain layer's forward",
             f"({n_sym}, {m_sym})({m_sym}, k) = ({n_sym}, k)", f"({rows}, {taps})({taps}, {k_g}) = ({rows}, {k_g})",
             f"reshaped to dL/dX {geom.shapes['dx']}", "φ(dL/dY): the im2col of dL/dY padded by the cut",
             r"\frac{\partial L}{\partial X_f} = \phi\!\left(\frac{\partial L}{\partial Y}\right) F_f^T",
             compact=True),
        Step("dF_f", "im2col", "dL/dF_f = X_f^T φ(dL/dY)", f"(k, {n_sym})({n_sym}, {m_sym}) = (k, {m_sym})",
             f"({k_g}, {rows})({rows}, {taps}) = ({k_g}, {taps})",
             f"reshaped to dL/dF {geom.shapes['dw']}, summed over the batch", "a linear layer's backward again",
             r"\frac{\partial L}{\partial F_f} = X_f^T\, \phi\!\left(\frac{\partial L}{\partial Y}\right)",
             compact=True),
    ]
