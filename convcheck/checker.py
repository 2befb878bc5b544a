"""`verify(spec, impl)`: forward, analytic backward and numerical gradients of one layer,
compared tensor by tensor. This is the Python API the CLI is a thin layer over."""

import time

import numpy as np

from . import numerical
from .compare import TOLERANCES, SpecResult, TensorCheck, compare, compare_projections, validate
from .errors import ConvcheckError
from .geometry import geometry
from .impls import Implementation, load_impl, reference
from .spec import ConvSpec

METHODS = ("auto", "full", "sample", "fast")
AUTO_BUDGET_S = 5.0
"""`auto` runs `full` when its estimated time (from one timed forward) fits this budget."""
DEFAULT_SAMPLES = 64


def verify(spec: ConvSpec, impl: "str | Implementation" = "direct", *, method: str = "auto",
           samples: int = DEFAULT_SAMPLES, rtol: float | None = None, atol: float | None = None,
           seed: int | None = None, progress=None) -> SpecResult:
    """Check `impl`'s forward against the loop reference and its backward against finite
    differences of L = sum(G * Y), on seeded random x, w, b and G of the spec's shapes.

    method: 'full' (every coordinate), 'sample' (`samples` per tensor), 'fast' (random
    projections), or 'auto' (full if it fits AUTO_BUDGET_S, else sample).

    rtol/atol/seed override the spec's, which override the dtype's defaults.
    `progress(done, total)` is called while numerical gradients are computed.
    """
    started = time.perf_counter()
    if method not in METHODS:
        raise ConvcheckError(f"--method {method}: unknown; valid: {', '.join(METHODS)}")
    impl = load_impl(impl)
    geom = geometry(spec)
    shapes = geom.shapes
    default_rtol, default_atol = TOLERANCES[spec.dtype]
    rtol = rtol if rtol is not None else spec.rtol if spec.rtol is not None else default_rtol
    atol = atol if atol is not None else spec.atol if spec.atol is not None else default_atol
    rng = np.random.default_rng(spec.seed if seed is None else seed)
    data64 = {name: _draw(rng, shapes[name]) for name in ("x", "w", "b", "y")}
    x, w, b, g = data64["x"], data64["w"], data64["b"], data64["y"]   # g: G = dL/dY
    cast = {k: None if v is None else v.astype(spec.dtype) for k, v in data64.items()}
    kwargs = {"stride": spec.stride, "padding": geom.padding}
    result = SpecResult(spec, geom, impl.name, method, rtol, atol)

    y, t_forward = _timed(impl.forward, cast["x"], cast["w"], cast["b"], **kwargs)
    result.checks.append(_forward_check(y, reference.forward(x, w, b, **kwargs), shapes["y"], spec.dtype, rtol, atol))
    grads = _call(impl.backward, cast["y"], cast["x"], cast["w"], cast["b"], **kwargs)
    checks, analytic = _backward_checks(grads, shapes, spec.dtype)

    if spec.dtype != "float64":  # finite differences run in float64: probe and time that forward
        y, t_forward = _timed(impl.forward, x, w, b, **kwargs)
    step = numerical.STEP.get(getattr(y, "dtype", None), max(numerical.STEP.values()))
    if method == "auto":
        method = "full" if t_forward * numerical.full_cost(shapes, spec.stride) <= AUTO_BUDGET_S else "sample"
    result.method = method
    problem = numerical.Problem(impl.forward, x, w, b, g, spec.stride, geom.padding, step)
    coords = {t: _coords(shapes[t], method, samples, rng, t == "x") for t in analytic}
    failure = None
    try:
        if method == "fast":
            numeric = numerical.projections(problem, list(analytic), rng, progress=progress)
        else:
            numeric = numerical.gradients(problem, coords, progress)
    except numerical.NumericalError as e:
        failure = f"not checked: finite differences need a working forward, and {e}"
    for tensor, value in analytic.items():
        name = "d" + tensor
        if failure:
            checks[name] = TensorCheck(name, shapes[tensor], tuple(value.shape), message=failure)
        elif method == "fast":
            checks[name] = compare_projections(name, value, *numeric[tensor], rtol, atol)
        else:
            checks[name] = compare(name, value, numeric[tensor], rtol, atol, coords[tensor])
    result.checks.extend(checks[name] for name in ("dx", "dw", "db"))
    result.seconds = time.perf_counter() - started
    return result


def _forward_check(y, y_reference, shape, dtype, rtol, atol) -> TensorCheck:
    """y: the plug-in's output or what it raised; compared with the loop reference."""
    if isinstance(y, Raised):
        return TensorCheck("y", shape, total=int(np.prod(shape)), message="forward " + y)
    check = validate("y", y, shape, dtype)
    if check is None:
        check = compare("y", y, y_reference, rtol, atol)
        if not check.passed:
            check.message = "forward differs from the loop reference: " + check.message
    return check


def _backward_checks(grads, shapes, dtype) -> tuple[dict, dict]:
    """({dx, dw, db: TensorCheck or None while numerics are pending}, {x, w, b: valid analytic array})."""
    if not isinstance(grads, Raised) and not (isinstance(grads, (tuple, list)) and len(grads) == 3):
        grads = Raised(f"returned {type(grads).__name__}, expected a tuple (dx, dw, db)")
    checks, analytic = {}, {}
    values = [None] * 3 if isinstance(grads, Raised) else grads
    for name, tensor, value in zip(("dx", "dw", "db"), ("x", "w", "b"), values):
        shape = shapes[tensor]
        if shape is None:
            checks[name] = TensorCheck(name, None, skipped=True, message="the spec has bias: false")
        elif isinstance(grads, Raised):
            checks[name] = TensorCheck(name, shape, total=int(np.prod(shape)), message="backward " + grads)
        else:
            checks[name] = validate(name, value, shape, dtype)
            if checks[name] is None:
                analytic[tensor] = value
    return checks, analytic


def _draw(rng, shape):
    """Standard normal values drawn in float32, so exactly representable in either dtype,
    held in float64 (None if no shape)."""
    if shape is None:
        return None
    return rng.standard_normal(shape, dtype=np.float32).astype(np.float64)


class Raised(str):
    """What a plug-in raised, as 'raised Error: message' (a plug-in may return anything else)."""


def _call(function, *args, **kwargs):
    """The plug-in's result, or `Raised`: a plug-in never crashes convcheck. Each call gets
    copies, so a plug-in that writes into its inputs cannot affect the next."""
    try:
        return function(*(None if a is None else a.copy() for a in args), **kwargs)
    except (Exception, SystemExit) as e:
        return Raised(f"raised {type(e).__name__}: {e}")


def _timed(function, *args, **kwargs):
    """(_call's answer, seconds it took)."""
    started = time.perf_counter()
    answer = _call(function, *args, **kwargs)
    return answer, time.perf_counter() - started


def _coords(shape, method, samples, rng, corners) -> np.ndarray:
    """Flat indices to check: all ('full'), or `samples` random ones plus x's four corners."""
    size = int(np.prod(shape))
    if method != "sample" or samples >= size:
        return np.arange(size)
    chosen = rng.choice(size, samples, replace=False)
    if corners:
        h, w = shape[2] - 1, shape[3] - 1
        chosen = np.union1d(chosen, np.ravel_multi_index(([0] * 4, [0] * 4, [0, 0, h, h], [0, w, 0, w]), shape))
    return np.sort(chosen)
