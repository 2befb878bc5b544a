"""Compare what an implementation returned with the reference: a `result.TensorCheck` per tensor.

An element passes when |a - n| <= atol + rtol * |n| (numpy.isclose), with a the value
under test and n the reference (loop forward for y, finite differences for gradients).
Reported per tensor: max |a - n|; the tolerance ratio, max |a - n| / (atol + rtol |n|), at
most 1 on a pass; the index of the worst element, the one furthest past its allowed error;
and the max relative error |a - n| / |n| over the elements where the relative tolerance
governs (|n| >= atol / rtol), so that it is at most 2 rtol on a pass and never reads as a
failure because of near-zero elements (None when there are none).
"""

import numpy as np

from .backend import array_module
from .dtypes import numpy_dtype
from .result import TensorCheck


def validate(name: str, value, expected_shape: tuple, dtype: str) -> TensorCheck | None:
    """A failed TensorCheck if `value` is not a finite array of the expected shape and dtype, else None."""
    fail = TensorCheck(name, expected_shape, total=int(np.prod(expected_shape)))
    shape = getattr(value, "shape", None)
    if shape is None or not hasattr(value, "dtype"):
        fail.message = f"returned {type(value).__name__}, expected an array of shape {expected_shape}"
        return fail
    fail.actual_shape = tuple(shape)
    if tuple(shape) != tuple(expected_shape):
        fail.message = f"shape {tuple(shape)}, but the spec gives {tuple(expected_shape)}"
        return fail
    if value.dtype != numpy_dtype(dtype):
        fail.message = f"dtype {value.dtype}, expected {dtype} (the spec's dtype)"
        return fail
    finite = array_module(value).isfinite(value)
    if not finite.all():
        bad = tuple(int(i) for i in array_module(value).argwhere(~finite)[0])
        fail.message = f"holds {int((~finite).sum())} non-finite values, first at {bad}"
        fail.worst_index = bad
        return fail
    return None


def compare(name: str, actual, reference, rtol: float, atol: float, flat: np.ndarray | None = None) -> TensorCheck:
    """Compare actual (any float dtype) with reference at flat indices (all if None, else a
    NumPy array), on their backend; only the figures come back to the host."""
    xp = array_module(actual, reference)
    a = xp.asarray(actual, dtype=xp.float64).ravel()
    ref = xp.asarray(reference, dtype=xp.float64).ravel()
    if flat is not None:
        a = a[flat]
    check = TensorCheck(name, tuple(actual.shape), tuple(actual.shape), checked=int(a.size),
                        total=int(np.prod(actual.shape)))
    if a.size == 0:
        check.passed = True
        return check
    err = xp.abs(a - ref)
    scale = xp.abs(ref)                         # in place from here on: a large tensor's comparison
    excess = scale * rtol                       # holds three copies of it (err, |ref|, the ratio)
    excess += atol                              # atol + rtol |ref|
    excess = _ratio(err, excess)
    worst = int(xp.argmax(excess))
    check.max_abs = float(err.max())
    check.tolerance_ratio = float(excess[worst])
    check.passed = bool(excess[worst] <= 1.0)
    bad = 0 if check.passed else int((excess > 1.0).sum())
    del excess
    governed = scale >= (atol / rtol if rtol > 0 else xp.inf)  # where rtol, not atol, sets the tolerance
    if bool(governed.any()):
        relative = xp.where(governed, scale, 1.0)
        xp.divide(err, relative, out=relative)
        relative[~governed] = 0.0
        check.max_rel = float(relative.max())
    else:
        check.max_rel = None
    if check.max_abs > 0:                                   # no error anywhere: no worst element to name
        check.worst_index = tuple(int(i) for i in np.unravel_index(worst if flat is None else flat[worst],
                                                                   actual.shape))
    if not check.passed:
        check.message = (f"{bad} of {a.size} checked elements off; worst at {check.worst_index}: "
                         f"got {float(a[worst]):.6g}, expected {float(ref[worst]):.6g}")
    return check


def error_map(actual, reference, flat=None):
    """|actual - reference| at the compared coordinates (flat indices of actual, all if None;
    others count 0) as a 2-D map: summed over the first two axes, (N, k, H, W) -> (H, W) for
    dL/dX and (p, k, m_h, m_w) -> (m_h, m_w) for dL/dF; a 1-D layer's is one row, (1, n); a 3-D
    layer's is summed over depth too, (D, H, W) -> (H, W). A report figure: on the host, as NumPy."""
    xp = array_module(actual, reference)
    a = xp.asarray(actual, dtype=xp.float64)
    diff = xp.zeros(a.size)
    at = slice(None) if flat is None else flat
    diff[at] = xp.abs(a.ravel()[at] - xp.asarray(reference, dtype=xp.float64).ravel())
    summed = diff.reshape(a.shape).sum(axis=(0, 1))
    summed = summed.reshape(1, -1) if summed.ndim == 1 else summed.reshape(-1, *summed.shape[-2:]).sum(axis=0)
    return summed if xp is np else xp.asnumpy(summed)


def _ratio(err, allowed):
    """err / allowed, written over `allowed` (no copy of a large tensor), where a zero allowance
    takes exactness (0 if err is 0, else inf)."""
    xp = array_module(err)
    positive = allowed > 0
    allowed[~positive] = 1.0
    ratio = xp.divide(err, allowed, out=allowed)
    ratio[~positive] = xp.inf
    ratio[err == 0] = 0.0
    return ratio


Z_PROJECTION = 5.0
"""Projected errors are judged in units of their expected size: 5 sigma."""


def compare_projections(name: str, actual, u, numeric,
                        rtol: float, atol: float) -> TensorCheck:
    """Compare <actual, u_j> with the numerical directional derivative along u_j, per group.

    u (d, *shape), an array or `numerical.Directions`; numeric (d, G): G = 1 for the whole
    tensor, or one group per index of the first axis (per filter, for dL/dF). With tau_i = atol
    + rtol |a_i| and u standard normal, an error e within tolerance everywhere gives <e, u> ~
    N(0, |e|^2) with |e| <= |tau|: passing needs |<a, u> - n| <= Z_PROJECTION * sqrt(sum u_i^2
    tau_i^2), a false alarm below 6e-7 per test even for errors at the tolerance (a correct
    implementation's rounding sits orders of magnitude below it). An error with |e| = K |tau| in
    a group passes one test with probability < 0.8 Z / K = 4 / K, all d directions with
    probability < (4 / K)^d: 1.6e-5 at K = 1000 and d = 2, 1.5e-5 at K = 16 and d = 8. It cannot
    say which element is wrong (per filter: which filter).
    """
    xp = array_module(actual, numeric)
    a, numeric = (xp.asarray(t, dtype=xp.float64) for t in (actual, numeric))
    d, groups = numeric.shape
    tau = (atol + rtol * xp.abs(a)).reshape(groups, -1)
    projected, spread = xp.zeros((d, groups)), xp.zeros((d, groups))
    chunks = u.chunks(24 * a.size) if hasattr(u, "chunks") else [(np.arange(d), xp.asarray(u, dtype=xp.float64))]
    for idx, chunk in chunks:                                             # numerical.Directions: a few at a time
        chunk = chunk.reshape(len(idx), groups, -1)
        projected[idx] = xp.einsum("dge,ge->dg", chunk, a.reshape(groups, -1))   # (d, G) analytic <a, u_j>
        spread[idx] = xp.einsum("dge,ge->dg", chunk ** 2, tau ** 2)
    allowed = Z_PROJECTION * xp.sqrt(spread)
    err = xp.abs(projected - numeric)
    check = TensorCheck(name, tuple(a.shape), tuple(a.shape), total=int(a.size), passed=True)
    ratio = _ratio(err, allowed.copy())                    # allowed is quoted below
    check.max_abs = float(err.max())
    check.tolerance_ratio = float(ratio.max())
    j, f = (int(i) for i in np.unravel_index(int(xp.argmax(ratio)), err.shape))
    if bool(err[j, f] > allowed[j, f]):
        check.passed = False
        where = f"filter {f}, direction {j + 1}" if groups > 1 else f"direction {j + 1}"
        check.message = (f"{int((err > allowed).sum())} of {err.size} random projections off; {where}: "
                         f"<analytic, u> = {float(projected[j, f]):.6g}, numerical {float(numeric[j, f]):.6g} "
                         f"(allowed {float(allowed[j, f]):.2g}); a projection cannot say which element: rerun "
                         "with --method full")
    return check


def merge(exact: TensorCheck, projected: TensorCheck) -> TensorCheck:
    """One verdict from an exact check of some coordinates and a projection check of the whole
    tensor: a failure in either fails the tensor; errors and worst index are the exact part's."""
    exact.passed = exact.passed and projected.passed
    exact.tolerance_ratio = max(r for r in (exact.tolerance_ratio, projected.tolerance_ratio, 0.0) if r is not None)
    exact.message = "; ".join(m for m in (exact.message, projected.message) if m)
    return exact
