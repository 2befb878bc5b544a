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

from .explain_transposed import transposed_im2col_steps, transposed_steps
from .geometry import Geometry, correlation_size, reached_outputs, sub
from .steps import Step, axis_numbers, bias_step, hw, layout_of, per_axis, plane, sides, symbols

VIEWS = ("direct", "im2col", "both")


@dataclass(frozen=True)
class Tensor:
    key: str                 # x, w, b, y, dy, dw, dx, db
    notation: str            # the derivations' notation with numbers, e.g. '100 × 100 × 5'
    layout: str              # array layout in symbols, e.g. '(N, k, H, W)'
    shape: tuple | None      # resolved array shape; None without bias


@dataclass(frozen=True)
class Explanation:
    geometry: Geometry
    tensors: list[Tensor]
    steps: list[Step]


def explain(geom: Geometry, view: str = "both") -> Explanation:
    """Tensors and derivation steps of one layer; view: 'direct', 'im2col' or 'both'."""
    steps, transposed = [], geom.spec.transposed
    if view in ("direct", "both"):
        steps += transposed_steps(geom) if transposed else _direct_steps(geom)
    if view in ("im2col", "both"):
        steps += transposed_im2col_steps(geom) if transposed else _im2col_steps(geom)
    return Explanation(geom, _tensors(geom), steps)


def _tensors(geom: Geometry) -> list[Tensor]:
    s, shapes, dims = geom.spec, geom.shapes, geom.dims
    square = len(set(s.n)) == 1 and len(set(s.m)) == 1 and len(set(geom.out)) == 1
    n_sym, m_sym = (" × ".join(["n"] * dims), " × ".join(["m"] * dims)) if square else \
        (symbols("n", dims), symbols("m", dims))
    plain = all(v == 1 for v in s.stride) and not any(geom.padding) and not s.transposed
    o_sym = (" × ".join(["(n − m + 1)" if plain else "o"] * dims)) if square else symbols("o", dims)
    n, m, o = plane(s.n), plane(s.m), plane(geom.out)
    no_bias = "none (bias: false)"
    depth, k_w = ("k", s.k) if s.groups == 1 else ("k/groups", s.k // s.groups)
    x_layout, o_layout = f"(N, k, {layout_of(dims)})", f"(N, p, {symbols('o', dims, ', ')})"
    w_layout = f"(p, {'k' if s.groups == 1 else 'k/groups'}, {symbols('m', dims, ', ')})"
    filters = f"p = {s.p} filters F_j, each {m_sym} × {depth} = {m} × {k_w}"
    if s.transposed:                      # one stack of filters per input channel: X^(i) spreads through F_i
        depth, p_w = ("p", s.p) if s.groups == 1 else ("p/groups", s.p // s.groups)
        w_layout = f"(k, {depth}, {symbols('m', dims, ', ')})"
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


def _padding_step(geom: Geometry) -> Step:
    s = geom.spec
    padded = f"X_pad is {plane(geom.padded)} × {s.k}"
    names = "(top, bottom, left, right)" if geom.dims == 2 else "(before, after per axis)"
    pads = f"{names} = ({', '.join(map(str, geom.padding))})"
    if s.padding == "same":
        def same(a):
            n, m, st, lo, hi, o, _, _ = axis_numbers(geom, a)
            return (f"o = ⌈{n} / {st}⌉ = {o}, total = max(({o} − 1)·{st} + {m} − {n}, 0) = {lo + hi} "
                    f"→ {lo} before, {hi} after")
        odd = any(lo != hi for lo, hi in geom.pads)
        return Step("padding", "direct", "Padding 'same'",
                    "o = ⌈n / s⌉; total = max((o − 1)·s + m − n, 0); before = ⌊total / 2⌋, after = total − before",
                    per_axis(geom, same), f"{pads}; {padded}",
                    ("an odd total puts the extra pixel at the bottom/right (TensorFlow/JAX 'SAME'; "
                     "PyTorch allows 'same' only at stride 1)" if odd else
                     "an even total splits evenly ('same' padding: (m − 1)/2 on each side for an odd filter at "
                     "stride 1)"))
    if s.padding == "full":
        return Step("padding", "direct", "Padding 'full'", "m − 1 zeros on every side",
                    per_axis(geom, lambda a: f"{geom.extent[a]} − 1 = {geom.extent[a] - 1}"), f"{pads}; {padded}",
                    "the output grows to n + m − 1")
    if not any(geom.padding):
        return Step("padding", "direct", "No padding", "top = bottom = left = right = 0" if geom.dims == 2 else
                    "before = after = 0 on every axis", pads, f"X_pad = X, {plane(s.n)} × {s.k}")
    return Step("padding", "direct", "Padding as given", names, pads, padded,
                "zeros around X; the same amount is cropped from dL/dX at the end")


def _direct_steps(geom: Geometry) -> list[Step]:
    s, cut = geom.spec, sides(geom.dims)
    plain = all(v == 1 for v in s.stride) and not any(geom.padding)       # the derivations' own case
    strided = not all(v == 1 for v in s.stride)
    steps = [_padding_step(geom)] + _dilation_and_groups_steps(geom)

    def out(a):
        n, m, st, lo, hi, o, _, _ = axis_numbers(geom, a)
        return f"{n} − {m} + 1 = {o}" if plain else f"({n} + {lo} + {hi} − {m}) // {st} + 1 = {o}"
    steps.append(Step("y", "direct", "Output Y", "o = n − m + 1" if plain else f"o = (n + {cut} − m) // s + 1",
                      per_axis(geom, out), f"Y is {plane(geom.out)} × {s.p}: one channel per filter",
                      "the forward pass: with stride 1 and no padding Y is (n − m + 1) × (n − m + 1) × p"
                      if plain else "",
                      compact=True))
    if strided or any(geom.leftover):
        def left(a):
            n, m, st, lo, hi, _, r, _ = axis_numbers(geom, a)
            return f"({n} + {lo} + {hi} − {m}) mod {st} = {r}"
        words = {1: ("position",), 2: ("row", "column"), 3: ("plane", "row", "column")}[geom.dims]
        counts = " and ".join(f"{r} {word}{'s' * (r != 1)}" for r, word in zip(geom.leftover, words))
        result = (f"the last {counts} of X_pad are read by no window: their dL/dX is 0" if any(geom.leftover) else
                  "none: every row and column of X_pad is read by some window")
        steps.append(Step("leftover", "direct", "Leftover rows", f"r = (n + {cut} − m) mod s",
                          per_axis(geom, left), result,
                          "the stride steps over them before a whole window fits" if any(geom.leftover) else ""))

    def dil(a):
        _, _, st, _, _, o, _, d = axis_numbers(geom, a)
        return f"{st}·({o} − 1) + 1 = {d}"
    steps.append(Step("dy", "direct", "Upstream gradient dL/dY",
                      "dL/dY has Y's shape" + ("; dilated by s: d = s·(o − 1) + 1" if strided else ""),
                      per_axis(geom, dil) if strided else f"{plane(geom.out)} × {s.p}",
                      f"dilated dL/dY is {plane(geom.dilated)} per channel" if strided else f"d = o = {hw(geom.out)}",
                      "s − 1 zeros between neighbours put each gradient where its window started" if strided else ""))

    def dw(a):
        n, m, st, lo, hi, o, r, d = axis_numbers(geom, a)
        if plain:
            return f"{n} − ({n} − {m} + 1) + 1 = {m}"
        return f"({n} + {lo} + {hi} − {r}) − {d} + 1 = {correlation_size(n + lo + hi - r, d)}"
    steps.append(Step(
        "dw.size", "direct", "dL/dF_j^(i) = X^(i) ⋆ dL/dY^(j)",
        "size n − (n − m + 1) + 1 = m" if plain else f"size (n + {cut} − r) − d + 1 = m",
        per_axis(geom, dw), f"each dL/dF_j^(i) is {plane(s.m)}, the size of the filter slice F_j^(i)" +
        ("" if all(v == 1 for v in s.dilation) else f", read at the taps, d = {hw(s.dilation)} apart, of the "
                                         f"{plane(geom.extent)} correlation"),
        "the dL/dF derivation: the correlation of channel i of X with channel j of dL/dY" +
        ("" if plain else "; X_pad without its leftover rows, dL/dY dilated"),
        r"\frac{\partial L}{\partial F_j^{(i)}} = X_{pad}^{(i)} \circledast \frac{\partial L}{\partial Y^{(j)}}",
        compact=True))
    steps.append(Step(
        "dw.depth", "direct", "Depth of dL/dF (the dL/dF derivation)",
        "dL/dF_j = [dL/dF_j^(1), …, dL/dF_j^(k)]: one slice per input channel i, for each filter j",
        f"{'k' if s.groups == 1 else 'k/groups'} = {s.k // s.groups} channels × p = {s.p} filters = "
        f"{s.k // s.groups * s.p} correlations of a {plane(geom.padded)} channel of X_pad with a "
        f"{plane(geom.dilated)} channel of dL/dY",
        f"dL/dF is {s.p} × ({plane(s.m)} × {s.k // s.groups}) = array {geom.shapes['dw']}; the batch of "
        f"{s.batch_size} is summed" + ("" if s.groups == 1 else f"; filter j only meets the {s.k // s.groups} channels "
                                                           "of its group"),
        f"X's depth k = {s.k} and dL/dY's depth p = {s.p} never need to match: channel i of X only meets "
        "channel j of dL/dY, one pair per slice", compact=True))

    def dx(a):
        n, m, st, lo, hi, o, r, d = axis_numbers(geom, a)
        if plain:
            return f"({n} − {m} + 1) + 2·({m} − 1) − {m} + 1 = {n}"
        full = correlation_size(d + 2 * (m - 1), m)
        return (f"{d} + 2·({m} − 1) − {m} + 1 = {full}, + {r} leftover = {full + r}, "
                f"− {lo} − {hi} cropped = {full + r - lo - hi}")
    steps.append(Step(
        "dx.size", "direct", "dL/dX^(i) = Σ_j rot180(F_j^(i)) ∗ pad_(m−1)(dL/dY^(j))",
        "size (n − m + 1) + 2(m − 1) − m + 1 = n" if plain else
        f"size d + 2(m − 1) − m + 1, + r leftover rows of zeros, − {cut.replace(' + ', ' − ')} cropped = n",
        per_axis(geom, dx), f"each dL/dX^(i) is {plane(s.n)}, the size of X^(i)",
        "the dL/dX derivation: rot180 turns the filter by 180°; the full "
        f"convolution slides it over dL/dY padded by m − 1 = {hw(tuple(m - 1 for m in geom.extent))} on every side"
        + ("" if all(v == 1 for v in s.dilation) else " (m: the dilated filter's span; its gaps are zeros)"),
        r"\frac{\partial L}{\partial X^{(i)}} = \sum_j \left(F_j^{(i)}\right)' \ast "
        r"\mathrm{pad}_{m-1}\!\left(\frac{\partial L}{\partial Y^{(j)}}\right)", compact=True))
    steps.append(Step(
        "dx.depth", "direct", "Depth of dL/dX",
        "dL/dX = [dL/dX^(1), …, dL/dX^(k)]: the p filters' contributions are summed into each channel",
        f"Σ over p = {s.p} filters, for each of k = {s.k} channels",
        f"dL/dX is {plane(s.n)} × {s.k} = array {geom.shapes['dx']}"))
    steps.append(bias_step(geom))
    steps.append(_region_step(geom))
    return steps


def _dilation_and_groups_steps(geom: Geometry) -> list[Step]:
    """What dilation and groups change, with the layer's numbers (none for a plain layer)."""
    s, steps = geom.spec, []
    if any(v != 1 for v in s.dilation):
        steps.append(Step(
            "dilation", "direct", "Dilation: the filter's span", "e = d·(m − 1) + 1: m taps, d apart",
            per_axis(geom, lambda a: f"{s.dilation[a]}·({s.m[a]} − 1) + 1 = {geom.extent[a]}"),
            f"each window spans {plane(geom.extent)} of X_pad but reads only {plane(s.m)} taps; below, m is "
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
        spans = [touched(pixel[a], geom.extent[a], s.stride[a], geom.pads[a][0], geom.out[a])
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
    o_sym, m_sym = symbols("o", dims, "·"), symbols("m", dims, "·") + "·k"
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
             f"({rows}, {cols}) → ({s.k}, {plane(geom.padded).replace(' × ', ', ')}) → ({s.k}, "
             f"{plane(s.n).replace(' × ', ', ')})",
             f"dL/dX is array {geom.shapes['dx']}", "a pixel read by several windows collects several terms"),
    ]


