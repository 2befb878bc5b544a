"""`verify(spec, impl)`: forward, analytic backward and numerical gradients of one layer,
compared tensor by tensor. This is the Python API the CLI is a thin layer over."""

import time

import numpy as np

from . import numerical
from .errors import ConvcheckError
from .compare import TOLERANCES, SpecResult, TensorCheck, compare, compare_projections, validate
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

    started_forward = time.perf_counter()
    y, error = _call(impl.forward, cast["x"], cast["w"], cast["b"], **kwargs)
    t_forward = time.perf_counter() - started_forward
    y_check = _failed("y", shapes["y"], error) or validate("y", y, shapes["y"], spec.dtype)
    if y_check is None:
        y_check = compare("y", y, reference.forward(x, w, b, **kwargs), rtol, atol)
        if not y_check.passed:
            y_check.message = "forward differs from the loop reference: " + y_check.message
    result.checks.append(y_check)

    grads, error = _call(impl.backward, cast["y"], cast["x"], cast["w"], cast["b"], **kwargs)
    if error is None and not (isinstance(grads, (tuple, list)) and len(grads) == 3):
        error = f"backward returned {type(grads).__name__}, expected a tuple (dx, dw, db)"
    checks, pending = {}, {}
    for name, tensor, value in zip(("dx", "dw", "db"), ("x", "w", "b"), grads if error is None else [None] * 3):
        if shapes[tensor] is None:
            checks[name] = TensorCheck(name, None, skipped=True, message="the spec has bias: false")
            continue
        checks[name] = _failed(name, shapes[tensor], error) or validate(name, value, shapes[tensor], spec.dtype)
        if checks[name] is None:
            pending[tensor] = value

    if spec.dtype != "float64":  # finite differences run in float64: time and probe that forward
        started_forward = time.perf_counter()
        y, _ = _call(impl.forward, x, w, b, **kwargs)
        t_forward = time.perf_counter() - started_forward
    step = numerical.STEP.get(getattr(y, "dtype", None), max(numerical.STEP.values()))
    if method == "auto":
        method = "full" if t_forward * numerical.full_cost(shapes, spec.stride) <= AUTO_BUDGET_S else "sample"
    result.method = method
    problem = numerical.Problem(impl.forward, x, w, b, g, spec.stride, geom.padding, step)
    coords = {t: _coords(shapes[t], method, samples, rng, t == "x") for t in pending}
    try:
        if method == "fast":
            numeric = numerical.projections(problem, list(pending), rng, progress=progress)
        else:
            numeric = numerical.gradients(problem, coords, progress)
    except numerical.NumericalError as e:
        numeric = {t: f"not checked: finite differences need a working forward, and {e}" for t in pending}
    for tensor, value in pending.items():
        name = "d" + tensor
        if isinstance(numeric[tensor], str):
            checks[name] = TensorCheck(name, shapes[tensor], tuple(value.shape), message=numeric[tensor])
        elif method == "fast":
            checks[name] = compare_projections(name, value, *numeric[tensor], rtol, atol)
        else:
            checks[name] = compare(name, value, numeric[tensor], rtol, atol, coords[tensor])
    result.checks.extend(checks[name] for name in ("dx", "dw", "db"))
    result.seconds = time.perf_counter() - started
    return result


def _draw(rng, shape):
    """Standard normal values drawn in float32, so exactly representable in either dtype,
    held in float64 (None if no shape)."""
    if shape is None:
        return None
    return rng.standard_normal(shape, dtype=np.float32).astype(np.float64)


def _call(function, *args, **kwargs):
    """(result, None) or (None, 'raised Error: message'): a plug-in never crashes convcheck.
    Each call gets copies, so a plug-in that writes into its inputs cannot affect the next."""
    try:
        return function(*(None if a is None else a.copy() for a in args), **kwargs), None
    except (Exception, SystemExit) as e:
        return None, f"raised {type(e).__name__}: {e}"


def _failed(name, shape, error):
    if error is None:
        return None
    return TensorCheck(name, shape, total=int(np.prod(shape)),
                       message=("forward " if name == "y" else "backward ") + error)


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
