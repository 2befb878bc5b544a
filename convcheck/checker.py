"""`verify(spec, impl)`: forward, analytic backward and numerical gradients of one layer,
compared tensor by tensor. This is the Python API the CLI is a thin layer over.

diagnose, consistency and coverage are imported where they are used: a passing `full` check,
the common case, needs none of them, and a worker's imports are on the command's critical path."""

import time
from dataclasses import dataclass

import numpy as np
from numpy.random import default_rng

from . import budget as costs
from . import numerical
from .backend import array_module, load_backend, synchronize, to_device
from .compare import compare, compare_projections, error_map, merge, validate
from .errors import ConvcheckError
from .geometry import geometry
from .impls import Implementation, im2col, load_impl, reference
from .impls.common import call_text, noting_call
from .impls.layout import channels_last
from .options import (
    DEFAULT_BUDGET_S,
    DEFAULT_SAMPLES,
    FORWARD_CHECKS,
    METHODS,
    THROUGH,
    check_pins,
    check_values,
    checked,
    tolerances,
)
from .result import Coverage, Diagnosis, LayerPlan, SpecResult, TensorCheck
from .spec import ConvSpec

FAST_DIRECTIONS = 2
"""Random directions of `fast`."""


def verify(spec: ConvSpec, impl: "str | Implementation" = "direct", *, method: str = "auto",
           samples: int = DEFAULT_SAMPLES, budget: float = DEFAULT_BUDGET_S, rtol: float | None = None,
           atol: float | None = None, seed: int | None = None, progress=None, backend="numpy",
           layout: str | None = None, channels: int | None = None, projections: int | None = None,
           notify=None, through: str = "builtin") -> SpecResult:
    """Check `impl`'s forward against the loop reference (at two draws of x, w, b) and its
    backward against finite differences of L = sum(G * Y), on seeded random x, w, b and G of the
    spec's shapes, at batch options.CHECK_BATCH when the spec sets none. Finite differences go
    through the built-in im2col forward, a forward known to be the layer, so a gradient's
    verdict means right for this layer and the plug-in's own forward is called twice whatever
    the method; through='implementation' takes them through the plug-in's forward instead once
    it passed its check (see `_through`). Beside a failing forward each gradient also says
    whether it is the gradient of that forward (TensorCheck.own_forward).

    method: 'full' (every coordinate), 'channels' (all of dL/db, every coordinate of dL/dX
    and dL/dF on as many input channels as fit `budget` seconds, the first and last always,
    plus random projections of each: see budget.PROJECTIONS), 'sample' (`samples` stratified coordinates
    of dL/dX and dL/dF, all of dL/db), 'fast' (FAST_DIRECTIONS random projections, all of
    dL/db), or 'auto' (full if its estimate fits `budget`, else channels).

    channels, projections: pin what `auto` and `channels` cover, whatever the machine's speed:
    exactly `channels` input channels (the first, the last, then the seed's draw; full when
    that is all of them) and `projections` random directions (budget.PROJECTIONS[0] if not given; also
    `fast`'s count). `result.rerun` holds the options that redo a run's coverage exactly.

    When the budget decides (auto and channels, unpinned), `notify(line)`, if given, is told
    before finite differences start that even the minimum `channels` keeps (budget.minimum)
    will not fit, with the numbers; `result.budget` says afterwards what was spent.

    rtol/atol/seed override the spec's, which override the dtype's defaults.
    `progress(done, total)` is told the forwards computed while finite differences run.
    layout: 'nchw' or 'nhwc' overrides the spec's (the plug-in's arrays; reports stay NCHW).
    backend: 'numpy', 'cupy' or an array module with NumPy's API. x, w, b and G are drawn
    on the host from the seed whatever the backend, moved to its device once, and everything
    else (plug-in, reference, finite differences, comparison) runs there; the plug-in may
    return NumPy arrays, which are moved too.
    """
    started = time.perf_counter()
    if method not in METHODS:
        raise ConvcheckError(f"--method {method}: unknown; valid: {', '.join(METHODS)}")
    check_values(seed, rtol, atol, budget, samples, channels, projections)
    check_pins(method, channels, projections)
    if through not in THROUGH:
        raise ConvcheckError(f"--through {through}: unknown; valid: {', '.join(THROUGH)}")
    default_batch, spec = spec.batch is None, checked(spec)
    layer = _prepare(spec, impl, backend, layout, seed)
    impl, geom, xp, rng = layer.impl, layer.geom, layer.xp, layer.rng
    shapes = geom.shapes
    rtol, atol = tolerances(spec, rtol, atol)
    result = SpecResult(spec, geom, impl.name, method, rtol, atol, backend=xp.__name__, default_batch=default_batch)
    if layer.skipped:
        result.skipped = layer.skipped
        return result
    x, w, b, g = (layer.data[name] for name in ("x", "w", "b", "y"))   # float64 on the device; g: G = dL/dY
    cast, conv, kwargs = layer.cast, layer.conv, layer.kwargs

    y, forward_check, y_data = _forward_checks(layer, shapes["y"], spec.dtype, rtol, atol)
    result.checks.append(forward_check)
    grads = _call(impl, "backward", {"dy": cast["y"], "x": cast["x"], "w": cast["w"], "b": cast["b"]}, kwargs)
    checks, analytic = _backward_checks(grads, shapes, spec.dtype, y if isinstance(y, Raised) else None)
    result.through = _through(spec, forward_check.passed, through)

    tol = (rtol, atol)
    governed = method in ("auto", "channels") and channels is None      # the budget decides the coverage
    try:
        begun = time.perf_counter()
        deadline = begun + budget
        forward = impl.forward if result.through == "implementation" else im2col.forward
        problem = numerical.Problem(forward, x, w, b, g, spec.stride, geom.padding, progress, impl.describe, conv)
        if method == "auto":
            method = costs.choose(geom, problem.seconds, budget, channels, projections).method
        if method == "channels" and governed and notify is not None:
            least = costs.minimum(geom, problem.seconds)
            if least.method == "channels" and least.seconds > budget:
                notify(over_budget(spec, problem, least, budget))
        if method == "full":
            checks.update(_full(problem, analytic, tol))
            result.rerun = {"method": "full"}
        elif method == "channels":
            found, covered, directions = _channels(problem, analytic, tol, rng, deadline, channels, projections)
            checks.update(found)
            result.rerun = {"method": "channels", "channels": max(covered, 1), "projections": directions}
        elif method == "sample":
            checks.update(_sample(problem, analytic, tol, geom, rng, samples))
            result.rerun = {"method": "sample", "samples": samples}
        else:
            checks.update(_fast(problem, analytic, tol, rng, projections or FAST_DIRECTIONS))
            result.rerun = {"method": "fast", "projections": projections or FAST_DIRECTIONS}
        result.forwards = FORWARD_CHECKS + problem.forwards
        if governed:
            spent = time.perf_counter() - begun
            result.budget = {"budget_seconds": budget, "finite_differences_seconds": round(spent, 3),
                             "over_seconds": round(spent - budget, 3) if spent > OVER * budget else 0.0}
    except numerical.NumericalError as e:
        failure = f"not checked: finite differences need a working forward, and {e}"
        for tensor, value in analytic.items():
            checks["d" + tensor] = TensorCheck("d" + tensor, shapes[tensor], tuple(value.shape), unchecked=True,
                                               message=failure)
    result.method = method
    result.checks.extend(checks[name] for name in ("dx", "dw", "db"))
    outputs = {"y": y, **dict(zip(("dx", "dw", "db"), grads if isinstance(grads, (tuple, list)) else ()))}
    data = {"x": x, "w": w, "b": b, "g": g}
    for check in result.checks:
        if not check.passed and not check.skipped and not check.unchecked:
            at = data if check.name != "y" else {**data, **y_data}
            check.diagnosis = _diagnosis(check.name, outputs.get(check.name), at, geom, rtol, atol)
    if not forward_check.passed:
        _own_forward(result, impl, y, data, analytic, tol, kwargs, conv, layer.seed)
    result.seconds = time.perf_counter() - started
    return result


BACKWARD_FORWARDS = 2
"""`plan` counts the plug-in's backward as this many forwards (dL/dX and dL/dF each cost about
one forward's multiply-adds)."""
OVER = 1.1
"""A layer is said to have run over its budget past this multiple of it (finite differences
only): `channels` stops when the next set would not fit, so a run ends a little past it."""


def over_budget(spec: ConvSpec, pb, least, budget: float) -> str:
    """The line said before finite differences start when even the minimum coverage does not fit."""
    k_w = pb.w.shape[1]
    inputs = numerical.channels_of(pb, sorted({0, k_w - 1}))
    fast = 2 + 2 * FAST_DIRECTIONS + (pb.b is not None)
    return (f"layer '{spec.name}': the minimum exact coverage (input channels {_words(inputs)} and "
            f"{least.projections} random projections per tensor, {least.forwards:g} forwards) takes about "
            f"{least.seconds:.3g} s at {pb.seconds:.2g} s a forward; --budget is {budget:g} s. convcheck keeps that "
            f"minimum; --method fast would take about {fast * pb.seconds:.2g} s (which tensor is wrong, not where)")


def _words(values: list) -> str:
    return " and ".join(str(v) for v in values) if len(values) <= 2 else ", ".join(str(v) for v in values)


def _through(spec: ConvSpec, forward_passed: bool, wanted: str) -> str:
    """The forward finite differences go through, the one place that decides: the built-in
    im2col ('builtin'), a forward known to be the layer, always computed in float64 (tested
    against the loop reference and SciPy), so that a gradient's verdict means right for this
    layer whatever the plug-in's forward does, and the check never costs the plug-in's forward
    more than its two checked calls. The plug-in's own forward ('implementation') only when
    asked for (`wanted`) and it passed its check at both draws (`plan`, which checks nothing,
    assumes it will); never for float16, whose forward rounds Y to 1e-3 and whose differences
    would drown any gradient error."""
    if wanted == "implementation" and forward_passed and spec.dtype != "float16":
        return "implementation"
    return "builtin"


SECOND_DRAW = 2
"""The forward is checked at the spec's seeded x, w, b and at a second draw from the seed
sequence (seed, SECOND_DRAW), called first: a forward whose answer depends on more than its
inputs (a cache kept from an earlier call, a counter, a reused output buffer) shows at one of
the two: options.FORWARD_CHECKS calls of the plug-in's forward."""


def _forward_checks(layer, shape, dtype, rtol, atol) -> tuple:
    """(what the forward returned at the seeded point, the Y TensorCheck, the x, w, b the check's
    figures are from): the second draw first, then the seeded point. The check is the seeded
    point's, unless that passed and the second draw did not."""
    impl, kwargs, second = layer.impl, layer.kwargs, layer.second
    y2 = _call(impl, "forward", {t: None if second[t] is None else second[t].astype(dtype) for t in ("x", "w", "b")},
               kwargs)
    y = _call(impl, "forward", {t: layer.cast[t] for t in ("x", "w", "b")}, kwargs)
    data = layer.data
    check = _forward_check(y, reference.forward(data["x"], data["w"], data["b"], **kwargs), shape, dtype, rtol, atol)
    other = _forward_check(y2, reference.forward(second["x"], second["w"], second["b"], **kwargs), shape, dtype,
                           rtol, atol)
    if not check.passed:
        if other.passed and check.max_abs is not None:          # right at its first call, wrong at its second
            check.message += (" (though right on a second draw of x, w and b called just before: the forward's "
                              "answer depends on more than its inputs, a cache or a counter, or on their values)")
        return y, check, {}
    if other.passed:
        return y, check, {}
    other.message = (f"{other.message} on a second draw of x, w and b (seed sequence ({layer.seed}, {SECOND_DRAW}), "
                     "checked first), though right on the spec's seeded draw: the forward's answer depends on more "
                     "than its inputs (a cache, a counter, a reused buffer) or on their values")
    return y2, other, {t: second[t] for t in ("x", "w", "b")}


def _own_forward(result, impl, y, data, analytic, tol, kwargs, conv, seed) -> None:
    """Beside a failing forward: each gradient's relation to that forward (consistency.note)."""
    from .consistency import consistency, note
    answers, reason = consistency(impl.forward, y, isinstance(y, Raised), data, analytic, tol, kwargs, conv,
                                  result.spec.dtype, seed, impl.describe)
    forward_check = result.check("y")
    mistake = forward_check.diagnosis.mistake if forward_check.diagnosis is not None else None
    for tensor, consistent in answers.items():
        check = result.check("d" + tensor)
        if not check.unchecked:
            check.own_forward = note(check.name, check.passed, consistent, reason, mistake)


def plan(spec: ConvSpec, impl: "str | Implementation" = "direct", *, budget: float = DEFAULT_BUDGET_S,
         backend="numpy", layout: str | None = None, channels: int | None = None, projections: int | None = None,
         seed: int | None = None, through: str = "builtin", **_) -> LayerPlan:
    """What `verify` would cost on this layer (at the batch verify checks), from timed forwards
    on the layer's seeded data, as verify times them: one call of `impl`'s forward (verify's
    forward check makes FORWARD_CHECKS, and its backward is counted as BACKWARD_FORWARDS of
    them), and the forward finite differences go through (the built-in im2col, or with
    through='implementation' the plug-in's own): `full` at the floor, what `auto` runs within
    `budget` (or as --channels/--projections pin it), and the minimum `channels` keeps. Checks
    nothing. Options verify takes and planning does not need (method, rtol, ...) are accepted
    and ignored."""
    started = time.perf_counter()
    check_values(seed=seed, budget=budget, channels=channels, projections=projections)
    if through not in THROUGH:
        raise ConvcheckError(f"--through {through}: unknown; valid: {', '.join(THROUGH)}")
    check_pins("auto", channels, projections)
    spec = checked(spec)
    layer = _prepare(spec, impl, backend, layout, seed)
    from .memory import estimate
    planned = LayerPlan(spec, layer.geom, layer.impl.name, budget, skipped=layer.skipped,
                        memory_bytes=estimate(layer.geom).bytes)
    if layer.skipped:
        return planned
    x, w, b, g = (layer.data[name] for name in ("x", "w", "b", "y"))
    begun = time.perf_counter()
    y = _call(layer.impl, "forward", {"x": layer.cast["x"], "w": layer.cast["w"], "b": layer.cast["b"]},
              layer.kwargs)
    own = time.perf_counter() - begun
    if isinstance(y, Raised):
        planned.error = "forward " + y
        return planned
    begun = time.perf_counter()
    reference.forward(x, w, b, **layer.kwargs)                  # verify's forward check compares with it, twice
    compared = time.perf_counter() - begun
    planned.through = _through(spec, True, through)
    forward = layer.impl.forward if planned.through == "implementation" else im2col.forward
    try:
        problem = numerical.Problem(forward, x, w, b, g, spec.stride, layer.geom.padding,
                                    describe=layer.impl.describe, conv=layer.conv)
    except numerical.NumericalError as e:
        planned.error = str(e)
        return planned
    seconds = problem.seconds
    planned.forward_seconds = seconds
    planned.overhead = FORWARD_CHECKS * (own + compared) + BACKWARD_FORWARDS * own
    planned.full = costs.full(layer.geom, seconds)
    planned.auto = costs.choose(layer.geom, seconds, budget, channels, projections)
    planned.minimum = costs.minimum(layer.geom, seconds)
    planned.seconds = time.perf_counter() - started
    return planned


@dataclass
class _Layer:
    """A layer as `verify` and `plan` both start from: the implementation bound to it, its
    geometry, the array module, the seeded draws (float64 on the device, and `cast` to the
    spec's dtype, what the plug-in gets), the plug-in's keyword arguments."""

    impl: Implementation
    geom: object
    xp: object
    rng: object
    data: dict                 # x, w, b, y (= G): float64 on the device
    cast: dict                 # the same in the spec's dtype
    second: dict               # x, w, b of the forward check's second draw (SECOND_DRAW), float64 on the device
    seed: int                  # the seed in force (the spec's, or verify's seed=)
    conv: dict                 # dilation=, groups= when not 1 (old plug-ins keep working)
    kwargs: dict               # stride=, padding=, **conv
    skipped: str               # why the implementation's API cannot express the layer, or ''


def _prepare(spec: ConvSpec, impl, backend, layout, seed) -> _Layer:
    from .memory import refuse
    refuse(spec)                                         # before any array of the layer is allocated
    xp = load_backend(backend)
    impl = load_impl(impl).for_spec(spec)
    if (layout or spec.layout) == "nhwc":
        impl = channels_last(impl)
    elif layout not in (None, "nchw"):
        raise ConvcheckError(f"--layout {layout}: unknown; valid: nchw, nhwc")
    geom = geometry(spec)
    reason = impl.expressible(spec, geom) if impl.expressible else None
    seed = spec.seed if seed is None else seed
    rng, again = default_rng(seed), default_rng([seed, SECOND_DRAW])
    data = {} if reason else {name: to_device(xp, _draw(rng, geom.shapes[name], spec.dtype))
                              for name in ("x", "w", "b", "y")}
    second = {} if reason else {name: to_device(xp, _draw(again, geom.shapes[name], spec.dtype))
                                for name in ("x", "w", "b")}
    cast = {k: None if v is None else v.astype(spec.dtype) for k, v in data.items()}
    conv = {**({"dilation": spec.dilation} if any(d != 1 for d in spec.dilation) else {}),
            **({"groups": spec.groups} if spec.groups != 1 else {}),
            **({"transposed": True} if spec.transposed else {}),
            **({"output_padding": spec.out_padding} if any(spec.out_padding) else {})}
    kwargs = {"stride": spec.stride, "padding": geom.padding, **conv}
    return _Layer(impl, geom, xp, rng, data, cast, second, seed, conv, kwargs, reason or "")


def _diagnosis(name, value, data, geom, rtol, atol):
    """What `diagnose` names for a failing tensor; None where there is no array to compare (the
    plug-in raised or returned something else: its message says so already)."""
    if isinstance(value, Raised) or not hasattr(value, "shape") or not hasattr(value, "dtype"):
        return None
    from .diagnose import diagnose
    try:
        return diagnose(name, value, data, geom, rtol, atol)
    except Exception as e:  # an array a mistake's arithmetic cannot take (a wrong dtype, odd strides)
        return Diagnosis(None, f"could not be compared with the known mistakes ({type(e).__name__})")


def _exact(name, analytic, numeric, tol, flat=None, **coverage) -> TensorCheck:
    """compare() at flat indices (all if None), with the Coverage it amounts to."""
    check = compare(name, analytic, numeric, *tol, flat)
    check.coverage = Coverage(total=check.total, exact=check.checked, **coverage)
    if not check.passed and len(check.expected_shape) >= 3:          # dL/dX and dL/dF; dL/db has no map
        check.error_map = error_map(analytic, numeric, flat)
    return check


def _bias(pb, analytic, tol) -> dict:
    """dL/db, every coordinate, whatever the method: it costs one forward."""
    return {"db": _exact("db", analytic["b"], numerical.bias(pb), tol)} if "b" in analytic else {}


def _full(pb, analytic, tol) -> dict:
    """Every coordinate of every tensor, at the floor of black-box finite differences."""
    shapes = {"x": pb.x.shape, "w": pb.wc.shape, "b": None if pb.b is None else pb.b.shape}
    pb.planned = pb.forwards + numerical.full_forwards(shapes, pb.dilation, pb.stride, pb.transposed) - 1 - \
        FORWARD_CHECKS
    checks = _bias(pb, analytic, tol)
    sets = range(pb.wc.shape[1])
    if "x" in analytic:
        checks["dx"] = _exact("dx", analytic["x"], numerical.input_channels(pb, sets), tol)
    if "w" in analytic:
        checks["dw"] = _exact("dw", analytic["w"], pb.weights(numerical.filter_channels(pb, sets)), tol)
    return checks


def _channels(pb, analytic, tol, rng, deadline, pinned=None, directions=None) -> tuple[dict, int, int]:
    """All of dL/db; dL/dX and dL/dF exactly on whole sets of input channels, the first and the
    last always, then the seed's draw while the budget lasts (exactly `pinned` sets if given);
    random projections of dL/dX and dL/dF (per filter) for errors in the channels not covered
    (`directions` of them if given, else as the budget allows). Set j is w's channel j: input
    channel j of every group for dL/dX (one forward serves them all) and dL/dF[:, j]; without
    groups, one input channel. Returns (checks, sets covered, directions)."""
    k_w = pb.wc.shape[1]
    from .coverage import channel_order
    order = channel_order(k_w, rng)
    if pinned is not None:
        order, deadline = order[:pinned], float("inf")
        directions = directions or costs.PROJECTIONS[0]
    tensors = [t for t in ("x", "w") if t in analytic]
    shapes = {"x": pb.x.shape, "w": pb.wc.shape}                # the filters in the canonical layout
    directions = directions or costs.directions(pb.x.size, pb.w.size, pb.seconds, deadline - time.perf_counter())
    found = numerical.projections(pb, tensors, rng, directions)
    checks = _bias(pb, analytic, tol)
    per_set = numerical.set_forwards(shapes, pb.dilation, pb.stride, pb.transposed)
    fits = len(order) if pinned is not None else int(max(deadline - time.perf_counter(), 0) /
                                                      (pb.seconds * per_set))
    pb.planned = pb.forwards + min(k_w, max(fits, min(2, k_w))) * per_set
    values = {t: array_module(pb.x).zeros(shapes[t]) for t in tensors}
    done, covered = {"x": [], "w": []}, 0
    seconds = pb.seconds * per_set                                # one set's time, measured after the first
    for j in order if tensors else []:
        if covered >= 2 and time.perf_counter() + seconds > deadline:
            break
        begun, covered = time.perf_counter(), covered + 1
        if "x" in tensors:
            inputs = numerical.channels_of(pb, [j])
            values["x"][:, inputs] = numerical.input_channels(pb, [j])[:, inputs]
            done["x"] += inputs
        if "w" in tensors:
            values["w"][:, j] = numerical.filter_channels(pb, [j])[:, 0]
            done["w"].append(j)
        synchronize(pb.xp)
        seconds = time.perf_counter() - begun
    for t in tensors:
        name = "d" + t
        flat = np.arange(values[t].size).reshape(shapes[t])[:, sorted(done[t])].ravel()
        of_channels, channels = shapes[t][1], tuple(sorted(done[t]))
        if t == "w" and pb.transposed:                            # back to the plug-in's layout (k, p / g, *m)
            values[t], flat = pb.weights(values[t]), np.flatnonzero(np.isin(pb.plugin_positions(), flat))
            of_channels, channels = pb.x.shape[1], tuple(numerical.channels_of(pb, done[t]))
        exact = _exact(name, analytic[t], values[t].ravel()[flat], tol, flat, channels=channels,
                       of_channels=of_channels, projections=directions, filters=t == "w")
        checks[name] = merge(exact, compare_projections(name, _canonical(pb, t, analytic), *found[t], *tol))
    return checks, covered, directions


def _canonical(pb, tensor: str, analytic: dict):
    """The analytic gradient in the layout the engines' projections use (dL/dF: `Problem.wc`'s)."""
    return pb.canonical(analytic["w"]) if tensor == "w" else analytic[tensor]


def _sample(pb, analytic, tol, geom, rng, samples) -> dict:
    """`samples` stratified coordinates of dL/dX and dL/dF, all of dL/db."""
    checks = _bias(pb, analytic, tol)
    for t in ("x", "w"):
        if t in analytic:
            from .coverage import stratified
            flat = stratified(t, geom, samples, rng)                 # the plug-in's layout
            numeric = numerical.input_at(pb, flat) if t == "x" else numerical.filter_at(pb, pb.plugin_positions()[flat])
            checks["d" + t] = _exact("d" + t, analytic[t], numeric, tol, flat, sampled=len(flat))
    return checks


def _fast(pb, analytic, tol, rng, directions) -> dict:
    """`directions` random projections of dL/dX and dL/dF (per filter), all of dL/db."""
    tensors = [t for t in ("x", "w") if t in analytic]
    pb.planned = pb.forwards + len(tensors) * directions + ("b" in analytic)
    found = numerical.projections(pb, tensors, rng, directions)
    checks = _bias(pb, analytic, tol)
    for t in tensors:
        check = compare_projections("d" + t, _canonical(pb, t, analytic), *found[t], *tol)
        check.expected_shape = check.actual_shape = tuple(analytic[t].shape)
        check.coverage = Coverage(total=check.total, projections=directions, filters=t == "w")
        checks["d" + t] = check
    return checks


def _forward_check(y, y_reference, shape, dtype, rtol, atol) -> TensorCheck:
    """y: the plug-in's output or what it raised; compared with the loop reference."""
    if isinstance(y, Raised):
        return TensorCheck("y", shape, total=int(np.prod(shape)), message="forward " + y)
    check = validate("y", y, shape, dtype)
    if check is None:
        check = compare("y", y, y_reference, rtol, atol)
        check.coverage = Coverage(total=check.total, exact=check.checked)
        if not check.passed:
            check.message = "forward differs from the loop reference: " + check.message
    return check


def _backward_checks(grads, shapes, dtype, forward_raised=None) -> tuple[dict, dict]:
    """({dx, dw, db: TensorCheck or None while numerics are pending}, {x, w, b: valid analytic array}).
    forward_raised: what the forward raised, if it did: a backward that raised too is 'not
    checked', the forward's error said once (on Y), the backward's only if it differs."""
    if not isinstance(grads, Raised) and not (isinstance(grads, (tuple, list)) and len(grads) == 3):
        grads = Raised(f"returned {type(grads).__name__}, expected a tuple (dx, dw, db)")
    checks, analytic = {}, {}
    values = [None] * 3 if isinstance(grads, Raised) else grads
    for name, tensor, value in zip(("dx", "dw", "db"), ("x", "w", "b"), values):
        shape = shapes[tensor]
        if shape is None:
            checks[name] = TensorCheck(name, None, skipped=True, message="the spec has bias: false")
        elif isinstance(grads, Raised) and forward_raised is not None:
            same = grads.key is not None and grads.key == forward_raised.key
            also = "" if same else f" (the backward {grads})"
            checks[name] = TensorCheck(name, shape, total=int(np.prod(shape)), unchecked=True,
                                       message="not checked: the forward raised" + also)
        elif isinstance(grads, Raised):
            checks[name] = TensorCheck(name, shape, total=int(np.prod(shape)), message="backward " + grads)
        else:
            checks[name] = validate(name, value, shape, dtype)
            if checks[name] is None:
                analytic[tensor] = value
    return checks, analytic


def _draw(rng, shape, dtype: str):
    """Standard normal values drawn in float32 (rounded to float16 for a float16 layer), so
    exactly representable in the layer's dtype, held in float64 (None if no shape)."""
    if shape is None:
        return None
    values = rng.standard_normal(shape, dtype=np.float32)
    return (values.astype(np.float16) if dtype == "float16" else values).astype(np.float64)


class Raised(str):
    """What a plug-in raised, as 'raised Error: message' (a plug-in may return anything else);
    `key`: the exception's type and message, the same whichever call raised it."""

    key = None

    @classmethod
    def of(cls, text: str, error: BaseException) -> "Raised":
        raised = cls(text)
        raised.key = (type(error).__name__, str(error))
        return raised


def _call(impl, which: str, arrays: dict, kwargs: dict):
    """impl.forward or impl.backward (`which`) on copies of `arrays`: its result, or `Raised`
    when it raised or wrote into an argument. A plug-in's exception never crashes convcheck,
    and the copies keep one that writes into its inputs from affecting the next call."""
    copies = {name: None if a is None else a.copy() for name, a in arrays.items()}
    try:
        result = noting_call(lambda: getattr(impl, which)(*copies.values(), **kwargs),
                             lambda: call_text(which, list(copies.items()), kwargs))
    except (Exception, SystemExit) as e:
        needs = [key for key in ("dilation", "groups", "transposed", "output_padding") if key in kwargs and
                 key in str(e)]
        if isinstance(e, TypeError) and needs:
            forms = {"dilation": "dilation=(d_h, d_w)", "groups": "groups=g", "transposed": "transposed=True",
                     "output_padding": "output_padding=(op_h, op_w)"}
            return Raised.of(f"raised {impl.describe(e, call=False)}: this layer needs {' and '.join(needs)} "
                             f"support: the plug-in's {which} must accept "
                             f"{' and '.join(forms[key] for key in needs)} (see the plug-in contract)", e)
        return Raised.of(f"raised {impl.describe(e)}", e)
    changed = [name for name, a in arrays.items()
               if a is not None and not bool(array_module(a).array_equal(a, copies[name]))]
    if changed:
        return Raised(f"wrote into its argument {', '.join(changed)} (in place): a caller's arrays, such as "
                      "autograd's saved inputs, would be corrupted; compute on a copy")
    return _own(result)


def _own(returned):
    """What a plug-in returned, its arrays copied: it may reuse an output buffer on its next call.
    A NumPy subclass (a masked array) becomes a plain array of its values: masks mean nothing to
    a gradient, and every value is compared."""
    if isinstance(returned, (tuple, list)):
        return tuple(_own(a) for a in returned) if isinstance(returned, tuple) else [_own(a) for a in returned]
    if isinstance(returned, np.ndarray) and type(returned) is not np.ndarray:
        return np.array(np.ma.getdata(returned), subok=False)
    return returned.copy() if hasattr(returned, "shape") and callable(getattr(returned, "copy", None)) else returned
