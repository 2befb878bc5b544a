"""Order 2 (`--order 2`): the gradients of an op's own backward (double backward), checked as
order 1 checks the backward.

The backward of a conv layer, B(X, F, b, G) = (dL/dX, dL/dF, dL/db) with G = dL/dY, is
bilinear: dL/dX is linear in each of F and G, dL/dF in each of X and G, dL/db in G, and none
depends on b. For upstream U = (U_X, U_F, U_b), drawn from the seed sequence (seed, UPSTREAM_DRAW),

    L2 = <U_X, dL/dX> + <U_F, dL/dF> + <U_b, dL/db>

has the gradients dL2/dX, dL2/dF, dL2/db and dL2/dG that double backward computes (a gradient
penalty, a Hessian-vector product). `Implementation.second` gives them by autograd through the
op's backward (impls/torch_op.py); here they are compared with finite differences of B itself,
the op's first-order backward called as a black box, one tensor perturbed at a time: B is linear
in it, so a one-sided difference has no truncation error, only rounding (numerical.STEP, as
order 1), and each difference is divided by the perturbation the dtype actually made. The
differences call the op's backward in float64, as order 1's go through a float64 forward,
whatever the layer's dtype (in that dtype only where the op cannot run in float64).

`full`, every coordinate, by colouring as order 1, with the backward's outputs read instead of
Y: a perturbed coordinate's difference is sum(U * change) over the outputs that it alone, of
its set, reaches.
- X pixel (n, c, *i) reaches dL/dF[:, c] (channel c of its group's filters) only: a set is one
  pixel per channel, all k channels at one (n, *i): N prod(n) sets.
- F tap (f, c, *a) reaches dL/dX[:, c] only: a set is tap a of filter f' of every group, in
  every channel: (p / groups) prod(m) sets. X sets read dL/dF and F sets dL/dX alone, so one
  of each shares a call: max(N prod(n), (p / groups) prod(m)) calls for both.
- G pixel (n, f, *q) reaches dL/dF[f], dL/db[f] and the window of dL/dX[n, its group] it is
  read with (its input pixels: `colouring.tap_outputs` with a plain and a transposed layer's
  roles exchanged). A set holds one pixel per filter at most, at distinct (n, *q) of one colour
  class (`colouring.colours` of the exchanged layer: no two windows meet); pixel j of a class's
  P places goes with filter f into set (f - j) mod max(p, P): the sum over classes of
  max(p, N |class|) sets, N prod(o) when the classes hold more places than there are filters,
  the least any set of such sets can be (one filter's N prod(o) pixels all reach dL/dF[f]).
- b_f: each alone, every output read: p sets.
A dependence a backward should not have (dL/dX on X, a channel leaking into another's
gradient) is in autograd's answer and read off no output here, or off another coordinate's:
for a random U the two then differ; an op is never passed for it.

`sample`: `samples` coordinates of X, F and G, each perturbed alone with every output read (no
assumption on the op at all), and random projections of the whole tensor (DIRECTIONS, or
--projections under auto) for what the samples leave; `fast`: the projections alone; dL2/db at every
coordinate always. `auto`: `full` when its calls, at the seconds one call of the backward takes,
fit the budget (or cost no more than `sample`'s), else `sample`. Order 2 has no `channels`:
every set spans all channels.
"""

import itertools
import math
import time
from dataclasses import replace

import numpy as np
from numpy.random import default_rng

from .backend import array_module
from .colouring import colours, tap_outputs
from .compare import compare_projections, merge, validate
from .diagnose import close
from .errors import NotTwiceDifferentiable
from .geometry import pairs
from .impls.calls import Raised, call
from .methods.common import exact
from .methods.fast import DIRECTIONS
from .methods.sample import stratified
from .numerical import STEP, NumericalError, canonical, plugin_layout
from .result import Coverage, Diagnosis, TensorCheck

NAMES = {"x": "d2x", "w": "d2w", "b": "d2b", "y": "d2g"}
"""Each second-order check's name (its key in JSON `tensors`): dL2/dX, dL2/dF, dL2/db, dL2/dG."""
UPSTREAM_DRAW = 3
"""U is drawn from the seed sequence (seed, UPSTREAM_DRAW) (prepare.SECOND_DRAW is 2)."""


def upstream(shapes: dict, seed: int, xp, dtype=np.dtype("float64")) -> dict:
    """U = {x, w, b: standard normal, the plug-in's layouts} (b None without bias), drawn as
    prepare.draw draws x, w, b and G: exactly representable in the layer's `dtype` (the op's
    double backward is seeded with U in it), held in float64 on `xp`."""
    from .prepare import draw
    rng = default_rng([seed, UPSTREAM_DRAW])
    return {t: None if shapes[t] is None else xp.asarray(draw(rng, shapes[t], dtype)) for t in ("x", "w", "b")}


class Point:
    """The point (x, w, b, G in the dtype the op takes), U, and the op's backward there: `base`
    its outputs (dL/dX, dL/dF canonical, dL/db; float64), `seconds` one warm call (the second),
    `calls` made."""

    def __init__(self, impl, cast: dict, u: dict, kwargs: dict):
        self.impl, self.kwargs, self.cast = impl, kwargs, cast
        self.groups, self.transposed = kwargs.get("groups", 1), kwargs.get("transposed", False)
        self.xp = array_module(cast["x"])
        self.u = {"x": u["x"], "w": self.canonical(u["w"]), "b": u["b"]}
        self.step = STEP.get(cast["x"].dtype, max(STEP.values()))
        self.calls = 0
        self.base = self.backward(cast)                        # a first call pays for cold caches: timed again
        started = time.perf_counter()
        self.backward(cast)
        self.seconds = time.perf_counter() - started

    def canonical(self, a):
        return canonical(a, self.groups) if self.transposed else a

    def plugin(self, a):
        return plugin_layout(a, self.groups) if self.transposed else a

    def backward(self, arrays: dict) -> tuple:
        """The op's backward at `arrays` (x, w, b, y = G): (dL/dX, dL/dF canonical, dL/db or None), float64."""
        grads = call(self.impl, "backward", {"dy": arrays["y"], "x": arrays["x"], "w": arrays["w"], "b": arrays["b"]},
                     self.kwargs)
        self.calls += 1
        if isinstance(grads, Raised):
            raise NumericalError(f"backward {grads} on a perturbed point")
        if not isinstance(grads, (tuple, list)) or len(grads) != 3:
            raise NumericalError(f"backward on a perturbed point returned {type(grads).__name__}, "
                                 "expected (dx, dw, db)")
        out = []
        for name, value, like in zip(("dx", "dw", "db"), grads, (arrays["x"], arrays["w"], arrays["b"])):
            if like is None:
                out.append(None)
                continue
            if getattr(value, "shape", None) != like.shape:
                raise NumericalError(f"backward on a perturbed point returned {name} of shape "
                                     f"{getattr(value, 'shape', type(value).__name__)}, expected {like.shape}")
            value = self.xp.asarray(value, dtype=self.xp.float64)
            out.append(self.canonical(value) if name == "dw" else value)
        return tuple(out)

    def read(self, arrays: dict) -> tuple:
        """U * (B(arrays) - B(point)) per output: (R_X, R_F canonical, R_b or None), float64."""
        return tuple(None if new is None else u * (new - old)
                     for new, old, u in zip(self.backward(arrays), self.base, (self.u["x"], self.u["w"], self.u["b"])))

    def perturbed(self, tensor: str, index, plugin: bool = False, arrays: dict | None = None) -> tuple:
        """(`arrays` (the point's x, w, b, y by default) with `tensor` += step at `index` (w: an
        index of the canonical filters, or with `plugin` of the plug-in's), the perturbation the
        dtype made there, float64)."""
        plugin = plugin or tensor != "w"
        base = self.cast[tensor] if plugin else self.canonical(self.cast["w"])
        moved = base.copy()
        moved[index] += self.step
        xp = self.xp
        made = xp.asarray(moved[index], dtype=xp.float64) - xp.asarray(base[index], dtype=xp.float64)
        if bool((made == 0).any()):
            raise NumericalError(f"a step of {self.step} vanished against the values of {tensor} in its dtype")
        return {**(arrays or self.cast), tensor: moved if plugin else self.plugin(moved)}, made


def _total(reads: tuple):
    return sum(float(r.sum()) for r in reads if r is not None)


def full(pt: Point) -> dict:
    """{x, w, b, y: dL2/d(tensor) at every coordinate} (w canonical) from the coloured sets."""
    xp = pt.xp
    x, g = pt.cast["x"], pt.cast["y"]
    n_batch, k, *sizes = x.shape
    p, k_group, *m = pt.base[1].shape
    groups = pt.groups
    found = {"x": xp.zeros(x.shape), "w": xp.zeros((p, k_group, *m)), "y": xp.zeros(g.shape)}
    pixels = [(n, slice(None), *place) for n in range(n_batch) for place in itertools.product(*map(range, sizes))]
    taps = [(rows[:, None], np.arange(k_group)[None, :], *tap)            # tap a of filter f' of every group
            for rows in (np.arange(groups) * (p // groups) + f for f in range(p // groups))
            for tap in itertools.product(*map(range, m))]
    for j in range(max(len(pixels), len(taps))):           # an X set reads dL/dF only, an F set dL/dX: one call
        arrays = pt.cast
        if j < len(pixels):
            arrays, made_x = pt.perturbed("x", pixels[j])
        if j < len(taps):
            arrays, made_w = pt.perturbed("w", taps[j], arrays=arrays)
        r_x, r_w, _ = pt.read(arrays)
        if j < len(pixels):
            found["x"][pixels[j]] = r_w.reshape(groups, p // groups, k_group, -1).sum(axis=(1, 3)).ravel() / made_x
        if j < len(taps):
            found["w"][taps[j]] = r_x.sum(axis=(0, *range(2, r_x.ndim))).reshape(groups, k_group) / made_w
    _full_g(pt, found["y"])
    if pt.cast["b"] is not None:
        found["b"] = xp.asarray([_single(pt, "b", (f,)) for f in range(p)])
    found["w"] = pt.plugin(found["w"])
    return found


def _full_g(pt: Point, into) -> None:
    """dL2/dG at every coordinate into `into` (N, p, *o): the sets of the module docstring."""
    kw, xp = pt.kwargs, pt.xp
    n_batch, p, *out = into.shape
    n_batch, k, *sizes = pt.cast["x"].shape
    m = pt.base[1].shape[2:]
    dims, groups = len(out), pt.groups
    stride, dilation = kw["stride"], kw.get("dilation", (1,) * dims)
    lows = [before for before, _ in pairs(kw["padding"])]
    colour = [colours(out[a], m[a], stride[a], dilation[a], not pt.transposed) for a in range(dims)]
    reached = [tap_outputs(out[a], sizes[a], m[a], stride[a], dilation[a], lows[a], not pt.transposed)
               for a in range(dims)]                                  # (o_a, m_a): input pixels, sizes[a] outside
    for combo in itertools.product(*(range(int(c.max()) + 1) for c in colour)):
        places = [(n, *q) for n in range(n_batch)
                  for q in itertools.product(*(np.flatnonzero(colour[a] == combo[a]) for a in range(dims)))]
        sets = max(p, len(places))
        for t in range(sets):
            members = [(f, places[(f - t) % sets]) for f in range(p) if (f - t) % sets < len(places)]
            if not members:
                continue
            index = tuple(np.array(axis) for axis in zip(*[(place[0], f, *place[1:]) for f, place in members]))
            arrays, made = pt.perturbed("y", index)
            r_x, r_w, r_b = pt.read(arrays)
            per_group = r_x.reshape(n_batch, groups, k // groups, *sizes).sum(axis=2)
            per_group = xp.pad(per_group, [(0, 0), (0, 0)] + [(0, 1)] * dims)     # index sizes[a] reads 0
            filters = r_w.reshape(p, -1).sum(axis=1) + (0 if r_b is None else r_b)
            for j, (f, place) in enumerate(members):
                window = per_group[(place[0], f // (p // groups)) + np.ix_(*(reached[a][place[1 + a]]
                                                                               for a in range(dims)))]
                into[(place[0], f, *place[1:])] = (window.sum() + filters[f]) / made[j]


def _single(pt: Point, tensor: str, index) -> float:
    """dL2/d(tensor)[index] (w: the plug-in's layout) from that coordinate alone, every output read."""
    arrays, made = pt.perturbed(tensor, index, plugin=True)
    return _total(pt.read(arrays)) / float(made)


def sampled(pt: Point, tensor: str, flat) -> np.ndarray:
    """dL2/d(tensor) at flat indices of it (the plug-in's layout), each coordinate alone."""
    shape = pt.cast[tensor].shape
    return pt.xp.asarray([_single(pt, tensor, np.unravel_index(int(i), shape)) for i in flat])


def projections(pt: Point, tensor: str, rng, directions: int) -> tuple:
    """(directions (d, *shape), numeric (d, 1)): the derivative of L2 along each, whole tensor."""
    xp = pt.xp
    shape = pt.cast[tensor].shape
    drawn = xp.asarray(rng.standard_normal((directions, *shape)))
    made, numeric = xp.zeros((directions, *shape)), xp.zeros((directions, 1))
    for j in range(directions):
        base = pt.cast[tensor]
        moved = (xp.asarray(base, dtype=xp.float64) + pt.step * drawn[j]).astype(base.dtype)
        made[j] = (xp.asarray(moved, dtype=xp.float64) - xp.asarray(base, dtype=xp.float64)) / pt.step
        numeric[j, 0] = _total(pt.read({**pt.cast, tensor: moved})) / pt.step
    return made, numeric


def full_calls(shapes: dict, geom) -> int:
    """Calls of the backward `full` makes: max(N prod(n), (p / groups) prod(m)) (an X set and an F
    set share a call) + the G sets + p + 2 (the point, timed twice)."""
    n_batch, _, *sizes = shapes["x"]
    p, _, *m = geom.filters
    out = shapes["y"][2:]
    spec = geom.spec
    counts = []
    for a in range(len(out)):
        colour = colours(out[a], m[a], spec.stride[a], spec.dilation[a], not spec.transposed)
        counts.append(np.bincount(colour))
    g_sets = sum(max(p, n_batch * math.prod(int(c) for c in combo)) for combo in itertools.product(*counts))
    return max(n_batch * math.prod(sizes), p // spec.groups * math.prod(m)) + g_sets + (p if shapes["b"] else 0) + 2


def run(layer, method: str, tol, *, samples: int, budget: float, projections_wanted: int | None) -> tuple:
    """([TensorCheck of dL2/dX, dL2/dF, dL2/db, dL2/dG], the method that ran: `method`, or what
    auto chose) for the layer (checker.verify's `layer`): autograd's, from `layer.impl.second`,
    against finite differences of `layer.impl.backward`."""
    geom, spec = layer.geom, layer.geom.spec
    shapes = {t: geom.shapes[t] for t in ("x", "w", "b", "y")}
    names = [t for t in ("x", "w", "b", "y") if shapes[t] is not None]
    skipped = {"b": TensorCheck(NAMES["b"], None, skipped=True, message="the spec has bias: false")}
    u = upstream(shapes, layer.seed, layer.xp, layer.cast["x"].dtype)
    arrays = {t: layer.cast[t] for t in ("x", "w", "b")}
    try:
        analytic = layer.impl.second(layer.cast["y"], *arrays.values(), u, **layer.kwargs)
    except NotTwiceDifferentiable as e:
        failed = _all_failed(names, shapes, "not twice differentiable: autograd cannot differentiate the op's "
                             "backward (the diagnosis says why)", Diagnosis("not-twice-differentiable", str(e)))
        return [failed.get(t) or skipped[t] for t in ("x", "w", "b", "y")], method
    except (Exception, SystemExit) as e:
        failed = _all_failed(names, shapes, f"double backward raised {layer.impl.describe(e)}")
        return [failed.get(t) or skipped[t] for t in ("x", "w", "b", "y")], method
    checks, valid = dict(skipped) if shapes["b"] is None else {}, {}
    for t in names:
        value = analytic.get(t) if isinstance(analytic, dict) else None
        check = validate(NAMES[t], value, shapes[t], spec.dtype) if value is not None else \
            TensorCheck(NAMES[t], shapes[t], total=math.prod(shapes[t]), message="double backward returned nothing")
        if check is None:
            valid[t] = layer.xp.asarray(value, dtype=layer.xp.float64)
        else:
            checks[t] = check
    try:
        pt = _point(layer, u)
        if method == "auto":
            method = choose(shapes, geom, pt.seconds, budget, samples)[0]
        checks.update(_compare(pt, method, valid, tol, geom, layer.rng, samples, projections_wanted))
    except NumericalError as e:
        for t in valid:
            checks[t] = TensorCheck(NAMES[t], shapes[t], tuple(valid[t].shape), unchecked=True,
                                    message=f"not checked: finite differences need a working backward, and {e}")
    return [checks[t] for t in ("x", "w", "b", "y")], method


def price(layer, budget: float, samples: int) -> dict:
    """What order 2 adds to a check of `layer` (`convcheck plan --order 2`), from the op's double
    backward called once and its backward twice (timed warm, as `run` times it): the seconds of
    the double backward and of one call of the backward, `full`'s calls and seconds, and what
    `auto` runs within `budget` (method, calls, seconds)."""
    geom = layer.geom
    shapes = {t: geom.shapes[t] for t in ("x", "w", "b", "y")}
    u = upstream(shapes, layer.seed, layer.xp, layer.cast["x"].dtype)
    started = time.perf_counter()
    try:
        layer.impl.second(layer.cast["y"], *(layer.cast[t] for t in ("x", "w", "b")), u, **layer.kwargs)
    except NotTwiceDifferentiable:
        pass                                                # verify says so; its time is what it took
    double = time.perf_counter() - started
    call_seconds = _point(layer, u).seconds
    full = full_calls(shapes, geom)
    method, calls = choose(shapes, geom, call_seconds, budget, samples)
    return {"double_backward_seconds": double, "call_seconds": call_seconds, "full_calls": full,
            "full_seconds": full * call_seconds, "method": method, "calls": calls, "seconds": calls * call_seconds}


def choose(shapes: dict, geom, call_seconds: float, budget: float, samples: int) -> tuple[str, int]:
    """(auto's method, its calls of the backward): `full` when its calls fit `budget` at
    `call_seconds` each, or cost no more than `sample`'s (a small layer), else `sample`."""
    full = full_calls(shapes, geom)
    sampled = sum(min(samples, math.prod(shapes[t])) + (DIRECTIONS if samples < math.prod(shapes[t]) else 0)
                  for t in ("x", "w", "y")) + (shapes["b"][0] if shapes["b"] else 0) + 2
    return ("full", full) if full * call_seconds <= budget or full <= sampled else ("sample", sampled)


def _point(layer, u: dict) -> Point:
    """The Point finite differences run at: the op's backward in float64 (the layer's draws as
    drawn), as order 1's go through a float64 forward, so that a float32, float16 or bfloat16
    layer's differences are not drowned in the dtype's rounding (bfloat16 differences of a
    bfloat16 backward are off by 25%); in the layer's dtype where the op cannot run in float64."""
    try:
        return Point(layer.impl, {t: layer.data[t] for t in ("x", "w", "b", "y")}, u, layer.kwargs)
    except NumericalError:
        if layer.cast["x"].dtype == layer.data["x"].dtype:
            raise
        return Point(layer.impl, {t: layer.cast[t] for t in ("x", "w", "b", "y")}, u, layer.kwargs)


def _compare(pt: Point, method: str, analytic: dict, tol, geom, rng, samples: int, wanted) -> dict:
    """{tensor: TensorCheck} for the valid analytic tensors under `method`."""
    checks = {}
    if method == "full":
        numeric = full(pt)
        for t, a in analytic.items():
            checks[t] = exact(NAMES[t], a, numeric[t], tol)
            if not checks[t].passed:
                checks[t].diagnosis = diagnose(t, a, numeric[t], *tol)
        return checks
    if "b" in analytic:
        checks["b"] = exact(NAMES["b"], analytic["b"], sampled(pt, "b", range(analytic["b"].size)), tol)
    for t in ("x", "w", "y"):
        if t not in analytic:
            continue
        directions, check = wanted or DIRECTIONS, None
        if method == "sample":
            flat = stratified(t, geom, samples, rng) if t != "y" else _places(analytic[t].size, samples, rng)
            check = exact(NAMES[t], analytic[t], sampled(pt, t, flat), tol, flat, sampled=len(flat))
        if check is None or not check.coverage.every:           # projections for what the samples leave
            projected = compare_projections(NAMES[t], analytic[t], *projections(pt, t, rng, directions), *tol)
            coverage = Coverage(total=projected.total, projections=directions) if check is None else \
                replace(check.coverage, projections=directions)
            check = projected if check is None else merge(check, projected)
            check.coverage = coverage
        checks[t] = check
    return checks


def _places(size: int, samples: int, rng) -> np.ndarray:
    """`samples` flat indices of G: its first and last element, then the seed's draw."""
    if samples >= size:
        return np.arange(size)
    rest = rng.choice(np.arange(1, size - 1), samples - 2, replace=False)
    return np.sort(np.concatenate([[0, size - 1], rest])).astype(np.int64)


def _all_failed(names, shapes, message: str, diagnosis: Diagnosis | None = None) -> dict:
    return {t: TensorCheck(NAMES[t], shapes[t], total=math.prod(shapes[t]), message=message, diagnosis=diagnosis)
            for t in names}


def diagnose(tensor: str, analytic, numeric, rtol: float, atol: float) -> Diagnosis:
    """The mistake a failing second-order gradient shows against its finite differences: zero,
    scaled, its spatial axes exchanged or reversed; else none known."""
    label = f"dL2/d{ {'x': 'X', 'w': 'F', 'b': 'b', 'y': 'G'}[tensor]}"
    xp = array_module(analytic)
    if bool(xp.all(analytic == 0)) and not bool(xp.all(numeric == 0)):
        return Diagnosis("zero-gradient", f"{label} is all zeros where the differences are not: the double backward "
                                          "drops this input (a detached operand, a missing term of the product rule)")
    norm = float(xp.sum(numeric * numeric))
    if norm > 0:
        factor = float(xp.sum(analytic * numeric)) / norm
        if not math.isclose(factor, 1.0, rel_tol=1e-3) and close(analytic, factor * numeric, rtol, atol):
            return Diagnosis("scaled", f"{label} is {factor:.6g} times the right one: a constant factor in the double "
                                       "backward (a mean for a sum, a doubled term)")
    spatial = tuple(range(2, analytic.ndim))
    swapped = xp.swapaxes(numeric, -1, -2) if len(spatial) >= 2 and analytic.shape[-1] == analytic.shape[-2] else None
    if swapped is not None and close(analytic, swapped, rtol, atol) and not close(numeric, swapped, rtol, atol):
        mistake = "kernel-transposed" if tensor == "w" else "height-width-swapped"
        return Diagnosis(mistake, f"{label} has its last two axes exchanged: the double backward transposes a tap or "
                                  "pixel index")
    if spatial and close(analytic, xp.flip(numeric, axis=spatial), rtol, atol) and \
            not close(numeric, xp.flip(numeric, axis=spatial), rtol, atol):
        mistake = "filter-gradient-rotated" if tensor == "w" else "filter-not-rotated"
        return Diagnosis(mistake, f"{label} is the right one rotated by 180 degrees: the double backward flips (or "
                                  "forgets to flip) the filter")
    return Diagnosis(None, f"{label} matches none of the known second-order mistakes (zero-gradient, scaled, "
                           "height-width-swapped, kernel-transposed, filter-not-rotated, filter-gradient-rotated)")
