"""A transposed layer's derivation in the derivations' terms: Y is the dL/dX formula applied to
X, dL/dX the plain forward applied to dL/dY, dL/dF the dL/dF formula with X and dL/dY
exchanged; and the im2col form's matrices run the other way."""

import math
from typing import NamedTuple

from .geometry import Geometry, transposed_size_text
from .steps import Step, bias_step, per_axis, plane, symbols


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


def spread(geom: Geometry, a: int) -> Spread:
    s = geom.spec
    (lo, hi), n, e, st, op, o = geom.pads[a], s.n[a], geom.extent[a], s.stride[a], s.out_padding[a], geom.out[a]
    return Spread(n, e, st, lo, hi, op, o, e - 1 - lo, e - 1 - hi + op, (o + lo + hi - e) // st + 1)


def transposed_steps(geom: Geometry) -> list[Step]:
    """A transposed layer in the derivations' terms: Y is the dL/dX formula applied to X, dL/dX
    the forward applied to dL/dY, dL/dF the dL/dF formula with X and dL/dY exchanged."""
    s, dims = geom.spec, geom.dims
    ax = [spread(geom, a) for a in range(dims)]
    strided, dilated = any(v != 1 for v in s.stride), any(v != 1 for v in s.dilation)
    cut = "before + after" if dims != 2 else "top + bottom"
    steps = [Step(
        "transposed", "direct", "A transposed convolution: Y is the dL/dX formula",
        "Y^(j) = Σ_i rot180(F_i^(j)) ∗ pad(dilate_s(X^(i))): X in the place of dL/dY",
        "input pixel X[i] adds X[i]·F[a] to Y[i·s + a·d − before], a = 0 … m − 1, per axis",
        f"the layer maps {s.k} channels of {plane(s.n)} to {s.p} channels of {plane(geom.out)}",
        "the dL/dX derivation: dL/dY dilated by s, padded by m − 1, convolved with the rotated filter; its "
        "padding is what the transposed layer cuts from that full output, output_padding what it adds at the end",
        compact=True)]
    if dilated:
        steps.append(Step(
            "dilation", "direct", "Dilation: the filter's span", "e = d·(m − 1) + 1: m taps, d apart",
            per_axis(geom, lambda a: f"{s.dilation[a]}·({s.m[a]} − 1) + 1 = {geom.extent[a]}"),
            f"each input pixel spreads over {plane(geom.extent)} of Y through {plane(s.m)} taps; below, m is "
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
        per_axis(geom, dil) if strided else "s = 1: nothing to insert",
        f"dilated X is {plane(geom.dilated)} per channel",
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
        per_axis(geom, padding), f"padded dilated X is {plane(geom.padded)} per channel",
        "the spec's padding is cut from the full output; output_padding adds rows at the end (bottom/right) only"
        + ("; a negative amount crops X's dilated rows" if crops else "")))

    def out(a):
        x = ax[a]
        return f"({x.n} − 1)·{x.s} − ({x.lo} + {x.hi}) + {x.e - 1} + {x.op} + 1 = {x.o}"
    steps.append(Step(
        "y", "direct", "Output Y", f"o = {transposed_size_text(*cut.split(' + '))}",
        per_axis(geom, out), f"Y is {plane(geom.out)} × {s.p}",
        "the padded dilated X correlated with rot180(F): D + before + after − m + 1 = o", compact=True))
    unreached = tuple(max(x.op - x.hi, 0) for x in ax)
    if any(unreached):
        steps.append(Step(
            "unreached", "direct", "Rows no input reaches", "output_padding − after_cut rows at the end",
            per_axis(geom, lambda a: str(unreached[a])),
            "the last of them hold only the bias, and their dL/dY reaches no gradient of X or F",
            "the plain layer's leftover rows (the per-index form), seen from the other side"))

    def dx(a):
        x = ax[a]
        extra = f", the first {x.n} kept" if x.fits != x.n else ""
        return f"({x.o} + {x.lo} + {x.hi} − {x.e}) // {x.s} + 1 = {x.fits}{extra}"
    steps.append(Step(
        "dx.size", "direct", "dL/dX^(i) = Σ_j F_i^(j) ⋆_s pad(dL/dY^(j)): the plain forward",
        f"size (o + {cut} − m) // s + 1 = n", per_axis(geom, dx), f"each dL/dX^(i) is {plane(s.n)}, the size of X^(i)",
        "the backward of a transposed convolution is the plain convolution it transposes: the same filters, "
        "stride, padding, dilation and groups", compact=True))

    def dw(a):
        x = ax[a]
        r = (x.o + x.lo + x.hi - x.e) % x.s
        return f"({x.o} + {x.lo} + {x.hi} − {r}) − {(x.fits - 1) * x.s + 1} + 1 = {x.e}"
    steps.append(Step(
        "dw.size", "direct", "dL/dF_i^(j) = pad(dL/dY^(j)) ⋆ dilate_s(X^(i))",
        f"size (o + {cut} − r) − D + 1 = m", per_axis(geom, dw),
        f"each dL/dF_i^(j) is {plane(s.m)}" + ("" if not dilated else ", read at the taps d apart"),
        "the dL/dF derivation with X and dL/dY exchanged: dL/dY padded by the cut, X dilated by s", compact=True))
    steps.append(Step(
        "dw.depth", "direct", "Depth of dL/dF",
        "one slice per (input channel i, output channel j of its group)",
        f"k = {s.k} stacks × p/groups = {s.p // s.groups} = {s.k * s.p // s.groups} correlations",
        f"dL/dF is array {geom.shapes['dw']}; the batch of {s.batch_size} is summed", compact=True))
    steps.append(bias_step(geom))

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


def transposed_im2col_steps(geom: Geometry) -> list[Step]:
    """The im2col form's matrices run the other way: Y is col2im of X_f F_f, dL/dX is φ(dL/dY) F_f^T."""
    s, dims = geom.spec, geom.dims
    k_g, p_g = s.k // s.groups, s.p // s.groups          # per group: each group is its own X_f and F_f
    fits = tuple(spread(geom, a).fits for a in range(dims))
    rows, taps = math.prod(fits), math.prod(s.m) * p_g
    n_sym, m_sym = symbols("n", dims, "·"), symbols("m", dims, "·") + "·p"
    n, m = "·".join(map(str, fits)), "·".join(map(str, (*s.m, p_g)))
    padded_y = tuple(o + lo + hi for o, (lo, hi) in zip(geom.out, geom.pads))
    extra = "" if fits == s.n else f" (X extended by zeros to {plane(fits)}: output padding past the stride)"
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
             f"({rows}, {taps}) → ({s.p}, {plane(padded_y).replace(' × ', ', ')}) → ({s.p}, "
             f"{plane(geom.out).replace(' × ', ', ')})", f"Y is array {geom.shapes['y']}",
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
