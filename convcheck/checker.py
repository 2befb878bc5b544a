"""`verify(spec, impl)`: one layer checked in this process, the Python API the command line,
the pytest plugin and notebooks all reach (in worker processes through `runner`).

verify reads as the check runs: prepare the layer (prepare.py) -> check the forward at two
draws against the loop reference -> call the backward -> finite differences by a coverage
method (methods/) through the forward `through` decides -> diagnose what failed (diagnose.py,
consistency.py) -> the SpecResult (result.py). `plan` prices the same check without running it.

diagnose and consistency are imported where they are used: a passing `full` check, the common
case, needs neither, and a worker's imports are on the command's critical path."""

import time

import numpy as np

from . import methods, numerical
from .compare import compare, validate
from .dtypes import HALF
from .errors import ImplError
from .impls import Implementation, im2col, reference
from .impls.calls import Raised, call
from .methods import cost
from .options import DEFAULT_BUDGET_S, DEFAULT_SAMPLES, FORWARD_CHECKS, check_options, checked, tolerances
from .prepare import SECOND_DRAW, prepare
from .result import Coverage, Diagnosis, LayerPlan, SpecResult, TensorCheck
from .spec import ConvSpec


def verify(spec: ConvSpec, impl: "str | Implementation" = "direct", *, method: str = "auto",
           samples: int = DEFAULT_SAMPLES, budget: float = DEFAULT_BUDGET_S, rtol: float | None = None,
           atol: float | None = None, seed: int | None = None, progress=None, backend="numpy",
           layout: str | None = None, channels: int | None = None, projections: int | None = None,
           notify=None, through: str = "builtin", shrink: bool = True, provisional=None, order: int = 1) -> SpecResult:
    """Check `impl`'s forward against the loop reference (at two draws of x, w, b) and its
    backward against finite differences of L = sum(G * Y), on seeded random x, w, b and G of the
    spec's shapes, at batch options.CHECK_BATCH when the spec sets none. Finite differences go
    through the built-in im2col forward, a forward known to be the layer, so a gradient's
    verdict means right for this layer and the plug-in's own forward is called twice whatever
    the method; through='implementation' takes them through the plug-in's forward instead once
    it passed its check (see `_through`). Beside a failing forward each gradient also says
    whether it is the gradient of that forward (TensorCheck.own_forward).

    method, samples, budget, channels, projections: the coverage (methods/; options.OPTIONS
    says what each means). `result.rerun` holds the options that redo a run's coverage exactly.
    When the budget decides (auto and channels, unpinned), `notify(line)`, if given, is told
    before finite differences start that even the minimum `channels` keeps (cost.minimum) will
    not fit, with the numbers; `result.budget` says afterwards what was spent.

    shrink: a failing layer is shrunk to the smallest layer that fails the same way
    (`result.smallest`, shrink.py), which also says what each failing tensor computed
    (operands.py); `provisional(result)`, if given, is handed the result before shrinking starts
    (a worker sends it to the parent, which keeps it if shrinking never ends).

    order=2: also the gradients of the op's backward (double backward, `impl.second`, torch: ops)
    against finite differences of that backward (second.py), under `method` ('channels' aside)
    with a budget of its own: checks d2x, d2w, d2b, d2g after y, dx, dw, db.

    rtol/atol/seed override the spec's, which override the dtype's defaults.
    `progress(done, total)` is told the forwards computed while finite differences run.
    layout: 'nchw' or 'nhwc' overrides the spec's (the plug-in's arrays; reports stay NCHW).
    backend: 'numpy', 'cupy' or an array module with NumPy's API. x, w, b and G are drawn
    on the host from the seed whatever the backend, moved to its device once, and everything
    else (plug-in, reference, finite differences, comparison) runs there; the plug-in may
    return NumPy arrays, which are moved too.
    """
    started = time.perf_counter()
    check_options(method=method, through=through, seed=seed, rtol=rtol, atol=atol, budget=budget, samples=samples,
                  channels=channels, projections=projections, order=order)
    default_batch, spec = spec.batch is None, checked(spec)
    layer = prepare(spec, impl, backend, layout, seed)
    asked, second_tolerances = {"rtol": rtol, "atol": atol}, tolerances(spec, rtol, atol, order=2)
    _second_available(layer, order, layout or spec.layout)
    rtol, atol = tolerances(spec, rtol, atol)
    result = SpecResult(spec, layer.geom, layer.impl.name, method, rtol, atol, backend=layer.xp.__name__,
                        default_batch=default_batch, order=order)
    if layer.skipped:
        result.skipped = layer.skipped
        return result
    y, forward_check, y_data = _forward_checks(layer, layer.geom.shapes["y"], spec.dtype, rtol, atol)
    layer.second = {}                     # y_data holds the second draw where its check is the one reported
    result.checks.append(forward_check)
    grads = call(layer.impl, "backward", {"dy": layer.cast["y"], **{t: layer.cast[t] for t in ("x", "w", "b")}},
                 layer.kwargs)
    checks, analytic = _backward_checks(grads, layer.geom.shapes, spec.dtype, y if isinstance(y, Raised) else None)
    result.through = _through(spec, forward_check.passed, through)
    checks.update(_differences(result, layer, analytic, (rtol, atol), samples=samples, budget=budget,
                               pinned=channels, projections=projections, progress=progress, notify=notify))
    result.checks.extend(checks[name] for name in ("dx", "dw", "db"))
    outputs = _diagnose(result, layer, y, analytic, grads, y_data)
    if order == 2:
        from . import second
        result.order_tolerances = second_tolerances
        checks, ran = second.run(layer, method, second_tolerances, samples=samples, budget=budget,
                                 projections_wanted=projections)
        result.checks.extend(checks)
        same = result.rerun is not None and result.rerun.get("method") == ran   # under auto the orders may differ:
        result.rerun = {**result.rerun, "order": 2} if same else None           # no flags then redo both
    result.seconds = time.perf_counter() - started
    if shrink and not result.passed:
        again = {"budget": budget, "samples": samples, **asked, "seed": seed, "backend": backend,   # a spec's own
                 "layout": layout, "through": through, "order": order}                           # are its fields
        _shrink(result, layer, impl, outputs, again, provisional)
        result.seconds = time.perf_counter() - started
    return result


def _shrink(result: SpecResult, layer, impl, outputs: dict, options: dict, provisional) -> None:
    """result.smallest: the smallest layer failing as this one does; a failing tensor with no
    known mistake takes the operand found there where it holds on this layer too (operands.carry)."""
    from .operands import carry
    from .shrink import limit_for, smallest
    if provisional is not None:
        provisional(result)
    try:
        result.smallest = smallest(result, impl, options, limit_for(result.seconds))
    except Exception as e:  # noqa: BLE001  (a plug-in's object that breaks the search: the verdict stands)
        from .result import Smallest
        from .shrink import failure
        result.smallest = Smallest({}, [list(f) for f in failure(result)], stopped="no smallest layer: shrinking "
                                   f"could not follow this failure ({type(e).__name__}: {e})")
        return
    if result.smallest is None:
        return
    for check in result.checks:
        found = result.smallest.diagnoses.get(check.name)
        if found is None or found.mistake is None or check.passed or check.skipped or check.unchecked:
            continue
        if check.diagnosis is None or check.diagnosis.mistake is None:
            value = outputs.get(check.name)
            if found.rule is None:                     # found from the layer's behaviour (shrink.py): it holds here
                check.diagnosis = found
            elif value is not None and not isinstance(value, Raised):
                check.diagnosis = carry(found, check.name, value, layer.data, layer.geom, layer.kwargs, result.rtol,
                                        result.atol) or check.diagnosis


def _differences(result: SpecResult, layer, analytic: dict, tol, *, samples, budget, pinned, projections,
                 progress, notify) -> dict:
    """{dx, dw, db: TensorCheck} by finite differences under result.method ('auto' resolved
    here), through the forward result.through names; sets result.method, rerun, forwards and,
    where the budget decided, result.budget. A forward that fails while they run leaves every
    gradient 'not checked', saying why."""
    spec, geom, data = result.spec, layer.geom, layer.data
    governed = result.method in ("auto", "channels") and pinned is None      # the budget decides the coverage
    begun = time.perf_counter()
    try:
        forward = layer.impl.forward if result.through == "implementation" else im2col.forward
        problem = numerical.Problem(forward, data["x"], data["w"], data["b"], data["y"], spec.stride, geom.padding,
                                    progress, layer.impl.describe, layer.conv, trusted=forward is im2col.forward)
        result.method = methods.choose(result.method, geom, problem.seconds, budget, pinned, projections)
        if result.method == "channels" and governed and notify is not None:
            least = cost.minimum(geom, problem.seconds)
            if least.method == "channels" and least.seconds > budget:
                notify(cost.over_budget(spec, problem, least, budget))
        checks, result.rerun = methods.run(result.method, problem, analytic, tol, layer.rng, geom, samples=samples,
                                           deadline=begun + budget, pinned=pinned, projections=projections)
        result.forwards = FORWARD_CHECKS + problem.forwards
        if governed:
            spent = time.perf_counter() - begun
            result.budget = {"budget_seconds": budget, "finite_differences_seconds": round(spent, 3),
                             "over_seconds": round(spent - budget, 3) if spent > cost.OVER * budget else 0.0}
        return checks
    except numerical.NumericalError as e:
        failure = f"not checked: finite differences need a working forward, and {e}"
        return {"d" + t: TensorCheck("d" + t, geom.shapes[t], tuple(value.shape), unchecked=True, message=failure)
                for t, value in analytic.items()}
    finally:
        im2col.release()                                   # the built-in forward's scratch ends with the check


def _diagnose(result: SpecResult, layer, y, analytic: dict, grads, y_data: dict) -> None:
    """Name the known mistake each failing tensor matches and, beside a failing forward, say
    whether each gradient is that forward's; the plug-in's outputs ({y, dx, dw, db}: arrays, or
    what it raised)."""
    outputs = {"y": y, **dict(zip(("dx", "dw", "db"), grads if isinstance(grads, (tuple, list)) else (grads,) * 3))}
    data = {"x": layer.data["x"], "w": layer.data["w"], "b": layer.data["b"], "g": layer.data["y"]}
    for check in result.checks:
        if not check.passed and not check.skipped and not check.unchecked:
            at = data if check.name != "y" else {**data, **y_data}
            check.diagnosis = _diagnosis(check.name, outputs.get(check.name), at, layer.geom, result.rtol, result.atol)
    if not result.check("y").passed:
        _own_forward(result, layer.impl, y, data, analytic, (result.rtol, result.atol), layer.kwargs, layer.conv,
                     layer.seed)
    return outputs


def _second_available(layer, order: int, layout: str) -> None:
    """ImplError where order 2 is asked of an implementation with no double backward."""
    if order == 2 and layer.impl.second is None:
        raise ImplError(f"--order 2: {layer.impl.name} has no double backward to check; order 2 checks torch ops, "
                        "whose backward autograd differentiates, and JAX functions (--impl torch:MODULE:NAME, "
                        "jax:MODULE:NAME, check(MyFunction))" +
                        ("; and they take NCHW arrays, not --layout nhwc" if layout == "nhwc" else ""))


def _through(spec: ConvSpec, forward_passed: bool, wanted: str) -> str:
    """The forward finite differences go through, the one place that decides: the built-in
    im2col ('builtin'), a forward known to be the layer, always computed in float64 (tested
    against the loop reference and SciPy), so that a gradient's verdict means right for this
    layer whatever the plug-in's forward does, and the check never costs the plug-in's forward
    more than its two checked calls. The plug-in's own forward ('implementation') only when
    asked for (`wanted`) and it passed its check at both draws (`plan`, which checks nothing,
    assumes it will); never for float16, whose forward rounds Y to 1e-3 and whose differences
    would drown any gradient error."""
    if wanted == "implementation" and forward_passed and spec.dtype not in HALF:
        return "implementation"
    return "builtin"


def _forward_checks(layer, shape, dtype, rtol, atol) -> tuple:
    """(what the forward returned at the seeded point, the Y TensorCheck, the x, w, b the check's
    figures are from): the second draw first, then the seeded point. The check is the seeded
    point's, unless that passed and the second draw did not."""
    impl, kwargs, second = layer.impl, layer.kwargs, layer.second
    cast = layer.cast["x"].dtype
    y2 = call(impl, "forward", {t: None if second[t] is None else second[t].astype(cast, copy=False)
                                for t in ("x", "w", "b")},
               kwargs)
    y = call(impl, "forward", {t: layer.cast[t] for t in ("x", "w", "b")}, kwargs)
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
         seed: int | None = None, through: str = "builtin", order: int = 1, samples: int = DEFAULT_SAMPLES,
         **_) -> LayerPlan:
    """What `verify` would cost on this layer (at the batch verify checks), from timed forwards
    on the layer's seeded data, as verify times them: one call of `impl`'s forward (verify's
    forward check makes FORWARD_CHECKS, and its backward is counted as BACKWARD_FORWARDS of
    them), drawing the data and comparing the gradients once (the overhead), and the forward
    finite differences go through (the built-in im2col, or with through='implementation' the
    plug-in's own), timed with reading each difference off (`numerical.Problem.seconds`):
    `full` at the floor, what `auto` runs within
    `budget` (or as --channels/--projections pin it), and the minimum `channels` keeps. Checks
    nothing. With order=2, what order 2 adds (second.price: its double backward once, its
    backward's calls under `full` and under auto within `budget`). Options verify takes and
    planning does not need (method, rtol, ...) are accepted and ignored."""
    started = time.perf_counter()
    check_options(through=through, seed=seed, budget=budget, channels=channels, projections=projections, order=order)
    spec = checked(spec)
    layer = prepare(spec, impl, backend, layout, seed)
    _second_available(layer, order, layout or spec.layout)
    prepared = time.perf_counter() - started                    # verify draws the same data
    from .memory import estimate
    planned = LayerPlan(spec, layer.geom, layer.impl.name, budget, skipped=layer.skipped,
                        memory_bytes=estimate(layer.geom).bytes)
    if layer.skipped:
        return planned
    x, w, b, g = (layer.data[name] for name in ("x", "w", "b", "y"))
    begun = time.perf_counter()
    y = call(layer.impl, "forward", {"x": layer.cast["x"], "w": layer.cast["w"], "b": layer.cast["b"]},
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
                                    describe=layer.impl.describe, conv=layer.conv, trusted=forward is im2col.forward)
    except numerical.NumericalError as e:
        planned.error = str(e)
        return planned
    begun = time.perf_counter()
    for t in ("x", "w"):                                        # verify compares each gradient once
        compare("d" + t, x if t == "x" else w, x if t == "x" else w, *tolerances(spec, None, None))
    gradients = time.perf_counter() - begun
    seconds = problem.seconds
    planned.forward_seconds = seconds
    planned.overhead = prepared + gradients + FORWARD_CHECKS * (own + compared) + cost.BACKWARD_FORWARDS * own
    planned.full = cost.full(layer.geom, seconds)
    planned.auto = cost.choose(layer.geom, seconds, budget, channels, projections)
    planned.minimum = cost.minimum(layer.geom, seconds)
    im2col.release()
    if order == 2:
        from .second import price
        try:
            planned.order2 = price(layer, budget, samples)
        except numerical.NumericalError as e:
            planned.error = f"order 2: {e}"
    planned.seconds = time.perf_counter() - started
    return planned


def _diagnosis(name, value, data, geom, rtol, atol):
    """What `diagnose` names for a failing tensor, or for what the plug-in raised (diagnose.raised);
    None where there is no array to compare (it returned something else: its message says so)."""
    from .diagnose import diagnose, raised
    if isinstance(value, Raised):
        return raised(value)
    if not hasattr(value, "shape") or not hasattr(value, "dtype"):
        return None
    try:
        return diagnose(name, value, data, geom, rtol, atol)
    except Exception as e:  # an array a mistake's arithmetic cannot take (a wrong dtype, odd strides)
        return Diagnosis(None, f"could not be compared with the known mistakes ({type(e).__name__})")


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
