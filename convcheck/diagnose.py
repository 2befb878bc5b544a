"""Name the mistake: a failing tensor compared with what each known mistake gives on the same data.

The right values come from the loop reference (Y) and the `direct` built-in (gradients) in
float64 on the layer's own x, w, b and G; each known mistake is the same computation done
wrong in one way (the filter not rotated, dL/dY not dilated, a wrong crop, ...). The first
candidate that the plug-in's array matches within the tensor's tolerance names the mistake;
its explanation gives the right formula (docs/derivations.md) with the layer's numbers and the step of
`convcheck shapes --explain` that derives it. No match: mistake None.
"""

import itertools
import math
import re

from .backend import array_module
from .geometry import transposed_size_text
from .impls import direct, reference
from .impls.common import pad
from .result import Diagnosis, ranges_text
from .spec import LABELS

MISTAKES = ("filter-not-rotated", "filter-gradient-rotated", "stride-ignored", "padding-crop", "height-width-swapped",
            "kernel-transposed", "filters-averaged", "bias-mean", "batch-mean", "batch-partial", "zero-gradient",
            "scaled", "forward-flipped", "crop-side", "output-padding-side", "output-padding-ignored",
            "wrong-operand", "rearranged", "loop-bounds", "padding-hard-coded", "python2-division", "python2-builtin",
            "not-twice-differentiable")
"""The ids a diagnosis can name (a contract: JSON `diagnosis.mistake`). The six after the
COMPUTED ones say what the code did rather than which formula it got wrong: the right formula
on another operand, or the right values in the wrong places (operands.py, with `operand`,
`relation` and `expression`), loops over the wrong range (from the array or an IndexError), a
padding that holds at one value only (shrink.py), a size computed with Python 2's `/` and a
Python 2 built-in such as `xrange` (from the error). The last is order 2's (second.py): an op
whose backward autograd cannot differentiate. Order 2's failing gradients also take
zero-gradient, scaled, height-width-swapped, kernel-transposed, filter-not-rotated and
filter-gradient-rotated (second.diagnose)."""

COMPUTED = 16
"""The first COMPUTED ids are the mistakes `diagnose` recomputes and compares."""

FLOAT_SIZE = ("object cannot be interpreted as an integer", "slice indices must be integers",
              "only integers, slices", "'float' object cannot be", "must be an integer, not float")
"""What Python and NumPy say when a float is used as a size or an index."""
PYTHON2 = {"xrange": "range", "raw_input": "input", "unicode": "str", "basestring": "str", "long": "int",
           "unichr": "chr", "reduce": "functools.reduce", "iteritems": "items", "itervalues": "values",
           "iterkeys": "keys", "has_key": "the in operator", "izip": "zip", "cPickle": "pickle"}
"""Python 2's names gone from Python 3, and what Python 3 has instead."""


def diagnose(name: str, value, data: dict, geom, rtol: float, atol: float) -> Diagnosis:
    """name 'y', 'dx', 'dw' or 'db'; value: the plug-in's array for it (any shape); data: the
    float64 x, w, b, g (= G) the check used, on its backend."""
    s = geom.spec
    conv = {"stride": s.stride, "padding": geom.padding, "dilation": s.dilation, "groups": s.groups}
    if s.transposed:
        conv.update(transposed=True, output_padding=s.out_padding)
    truth = _truth(name, data, conv)
    expected, actual = tuple(truth.shape), tuple(getattr(value, "shape", ()))
    if actual != expected:
        return _by_shape(name, actual, expected, geom)
    xp = array_module(truth)
    value = xp.asarray(value, dtype=xp.float64)
    if close(value, truth, rtol, atol):
        return Diagnosis(None, f"{_label(name)}'s values are right: what failed is the check above (its dtype, "
                               "its finiteness or the forward that finite differences go through)")
    if bool(xp.all(value == 0)) and not bool(xp.all(truth == 0)):
        return Diagnosis("zero-gradient", f"{_label(name)} is all zeros where the right one is not: a stub that "
                                          "returns zeros (np.zeros_like) instead of computing the gradient")
    for mistake, candidate, explanation in _candidates(name, value, truth, data, conv, geom):
        if candidate is not None and tuple(candidate.shape) == expected and close(value, candidate, rtol, atol) \
                and not close(candidate, truth, rtol, atol):
            return Diagnosis(mistake, explanation)
    factor = float(xp.sum(value * truth) / max(float(xp.sum(truth * truth)), 1e-300))
    if abs(factor - 1) > rtol and close(value, factor * truth, rtol, atol):
        return Diagnosis("scaled", f"{_label(name)} is the right one times {factor:.6g}: right up to a constant "
                                   "factor (a 1/N, 1/p, 2 or a step size too many or too few)")
    return Diagnosis(None, f"{_label(name)} matches none of the known mistakes ({', '.join(MISTAKES[:COMPUTED])}); "
                           "compare its worst index with `convcheck shapes --explain`"
                           + _rounding(name, value, truth, s.dtype))


ROUNDING = 0.1
"""In half precision, a failing tensor off by at most this fraction of its largest value may be
rounding, not a mistake: summing in the dtype instead of float32 leaves errors of this size."""


def _rounding(name: str, value, truth, dtype: str) -> str:
    """For a half-precision tensor whose errors are all small against its size, what summing in
    that dtype would leave and what to do; '' otherwise."""
    from .dtypes import HALF
    xp = array_module(truth)
    size = float(xp.max(xp.abs(truth))) if truth.size else 0.0
    if dtype not in HALF or size == 0:
        return ""
    off = float(xp.max(xp.abs(value - truth))) / size
    if off > ROUNDING:
        return ""
    return (f"; its errors are at most {off:.1%} of its largest value, the size of what summing in {dtype} leaves "
            f"(gradients that accumulate in float32 and round once, as {dtype} kernels do, stay within the defaults): "
            f"if your code sums in {dtype}, accumulate in float32 (a.astype(np.float32)) and round the result once")


def raised(error) -> Diagnosis | None:
    """The mistake an exception names (`error`: calls.Raised, whose key is (type, message)):
    a float used as a size or index (Python 2's `/`) and an index past an array's end (a loop
    over the wrong range); None for any other."""
    kind, message = error.key if error.key is not None else ("", str(error))
    if kind == "TypeError" and any(words in message for words in FLOAT_SIZE):
        return Diagnosis("python2-division", "a size or an index is a float: in Python 3, / always gives one "
                                             "(range(H / stride), x[i / 2]); Python 2 code relied on / of two ints "
                                             "flooring: use // for sizes and indices, e.g. H_out = 1 + (H + 2 * pad "
                                             "- HH) // stride")
    gone = re.search(r"name '(\w+)' is not defined|has no attribute '(\w+)'|No module named '(\w+)'", message)
    name = gone and next(group for group in gone.groups() if group)
    if kind in ("NameError", "AttributeError", "ModuleNotFoundError") and name in PYTHON2:
        return Diagnosis("python2-builtin", f"`{name}` is Python 2's and gone from Python 3 ({message}): use "
                                            f"{PYTHON2[name]} (Python 2 code: its `/` of two ints floors too, where "
                                            "Python 3 needs //)")
    if kind == "IndexError" and "out of bounds" in message:
        return Diagnosis("loop-bounds", f"a loop ran past the end of an array ({message}): its bound is another "
                                        "array's size, or leaves out the stride; loop over the output's positions "
                                        "(o = (n + before + after − d(m − 1) − 1) // s + 1 per axis) and read the "
                                        "input at r·s + a")
    return None


def _truth(name: str, data: dict, conv: dict):
    if name == "y":
        return reference.forward(data["x"], data["w"], data["b"], **conv)
    dx, dw, db = direct.backward(data["g"], data["x"], data["w"], data["b"], **conv)
    return {"dx": dx, "dw": dw, "db": db}[name]


def _candidates(name, value, truth, data, conv, geom):
    """(mistake, the array it gives or None, explanation) for tensor `name`, most specific first."""
    s = geom.spec
    x, w, b, g = data["x"], data["w"], data["b"], data["g"]
    span, n, dims = geom.extent, s.batch_size, s.dims
    step = "`convcheck shapes --explain`, step"

    def grads(**change):
        return dict(zip(("dx", "dw", "db"), direct.backward(change.get("g", g), change.get("x", x), change.get("w", w),
                                                             change.get("b", b), **{**conv, **change.get("conv", {})})))
    if s.transposed:
        yield from _transposed_candidates(name, geom, conv, grads, lambda c: reference.forward(x, w, b, **c), g)
    if name == "y":
        yield ("forward-flipped", reference.forward(x, _turned(w), b, **conv),
               "Y is a true convolution (the filter turned by 180°), but the layer is a correlation: y[n, f, r, c] = "
               "Σ_i,a,b X_pad[n, i, r·s_h + a, c·s_w + b] · F[f, i, a, b] + b[f], the filter not flipped (seed "
               f"004; {step} 'Output Y')")
        return
    if name == "dx" and s.transposed:
        yield ("filter-not-rotated", grads(w=_turned(w))["dx"],
               "dL/dX of a transposed layer is the plain correlation of dL/dY with F (the plain forward: X's "
               "gradient reads each output through the same taps); this one turns F by 180° as the forward's full "
               f"convolution does ({step} 'dL/dX^(i) = Σ_j F_i^(j) ⋆_s pad(dL/dY^(j))')")
    elif name == "dx":
        yield ("filter-not-rotated", grads(w=_turned(w))["dx"],
               "dL/dX is the full convolution with F itself; the right one turns each filter by 180°: dL/dX^(i) = "
               f"Σ_j rot180(F_j^(i)) ∗ pad_(m−1)(dL/dY^(j)), dL/dY padded by m − 1 = {_pair(e - 1 for e in span)} "
               f"on every side (the dL/dX derivation, docs/derivations.md; "
               f"{step} 'dL/dX^(i) = Σ_j rot180(F_j^(i)) ∗ pad_(m−1)(dL/dY^(j))')")
    if any(v != 1 for v in s.stride) and name in ("dx", "dw") and not s.transposed:   # (its stride sets Y's size)
        yield ("stride-ignored", grads(conv={"stride": (1,) * dims})[name],
               f"{_label(name)} is the backward of the same layer at stride 1: dL/dY must first be dilated by s = "
               f"{_pair(s.stride)} (s − 1 zeros between neighbours, to {_pair(geom.dilated)}) so that each gradient "
               f"sits where its window started (the dL/dX derivation, docs/derivations.md; "
               f"{step} 'Upstream gradient dL/dY')")
    if name == "dx" and not s.transposed:
        padded = grads(x=pad(x, geom.padding), conv={"padding": (0,) * (2 * dims)})["dx"]
        right = tuple(lo for lo, _ in geom.pads)                    # where the crop starts per axis: before
        offsets = sorted({0, *geom.padding})
        for start in itertools.product(offsets, repeat=dims):
            if start != right and all(start[a] + s.n[a] <= padded.shape[2 + a] for a in range(dims)):
                yield ("padding-crop", padded[(slice(None), slice(None)) + tuple(slice(start[a], start[a] + s.n[a])
                                                                                 for a in range(dims))],
                       f"dL/dX is the padded gradient cropped at {_at(start)}; the right crop starts at the padding "
                       f"before each axis, {_at(right)}, and keeps n = {_pair(s.n)}: dL/dX = dL/dX_pad[before : "
                       f"before + n] per axis, dL/dX_pad[top : top + n_h, left : left + n_w] in 2-D (hard-coded or "
                       f"swapped padding; {step} 'dL/dX^(i) = Σ_j rot180(F_j^(i)) ∗ pad_(m−1)(dL/dY^(j))', the crop)")
    for a, c in itertools.combinations(range(dims), 2):             # two spatial axes exchanged
        if s.n[a] == s.n[c] and name == "dx":
            yield ("height-width-swapped", truth.swapaxes(2 + a, 2 + c),
                   f"dL/dX is the right one with its spatial axes {_axis(a, dims)} and {_axis(c, dims)} exchanged: "
                   "H and W (or m_h and m_w) swapped somewhere in the backward")
        if s.m[a] == s.m[c] and name == "dw":
            yield ("kernel-transposed", truth.swapaxes(2 + a, 2 + c),
                   f"dL/dF is the right one with its spatial axes {_axis(a, dims)} and {_axis(c, dims)} transposed: "
                   f"each entry belongs to its own tap of the {_pair(s.m)} filter ({step} 'dL/dF_j^(i) = X^(i) ⋆ "
                   "dL/dY^(j)')")
    if name == "dw":
        yield ("filter-gradient-rotated", _turned(truth),
               f"dL/dF is the right one turned by 180°: dL/dF_j^(i) = X^(i) ⋆ dL/dY^(j) is a correlation, each tap "
               f"(a, b) the sum of X_pad[r·s_h + a, c·s_w + b] · dL/dY[r, c]; this one flips, as a true convolution "
               f"X ∗ dL/dY does, or as rot180 belongs to dL/dX's filter, not to dL/dF (the dL/dF derivation, "
               f"docs/derivations.md; {step} "
               "'dL/dF_j^(i) = X^(i) ⋆ dL/dY^(j)')")
    if name == "dx" and s.p > 1:
        yield ("filters-averaged", truth / s.p,
               f"dL/dX is the right one divided by p = {s.p}: the p filters' contributions must be summed into "
               f"each channel, not averaged ({step} 'Depth of dL/dX')")
    if name == "db":
        positions = math.prod(geom.out)
        for divisor, what in ((n * positions, f"batch × positions = {n} × {positions}"), (positions,
                              f"positions = {positions}"), (n, f"batch = {n}")):
            if divisor > 1:
                yield ("bias-mean", truth / divisor,
                       f"dL/db is the right one divided by {what}: dL/db_j = Σ dL/dY^(j), a sum over the batch "
                       f"and every position, not a mean ({step} 'dL/db_j = Σ dL/dY^(j)')")
    yield from _batch_candidates(name, value, truth, grads, x, g, n)


def _transposed_candidates(name, geom, conv, grads, forward, g):
    """A transposed layer's own mistakes: the padding cut from the wrong side of the full output
    (before and after swapped), the output padding put before the output instead of after (the
    same misalignment in a backward that mirrors such a forward), and a backward that drops
    dL/dY's output-padding rows (sized as if there were none)."""
    s = geom.spec
    before, after = tuple(lo for lo, _ in geom.pads), tuple(hi for _, hi in geom.pads)
    if before != after:
        swapped = tuple(p for lo, hi in geom.pads for p in (hi, lo))
        yield ("crop-side", forward({**conv, "padding": swapped}) if name == "y" else
               grads(conv={"padding": swapped}).get(name),
               f"{_label(name)} is that of the output cropped from the wrong sides: a transposed layer cuts (before, "
               f"after) = {_pairs(before, after)} from the full output, before from the start of each axis and after "
               "from its end; here they are swapped (`convcheck shapes --explain`, step 'Padding')")
    op = s.out_padding
    if any(op) and all(before[a] >= op[a] for a in range(s.dims)):
        shifted = tuple(p for a in range(s.dims) for p in (before[a] - op[a], after[a] + op[a]))
        yield ("output-padding-side", forward({**conv, "padding": shifted}) if name == "y" else
               grads(conv={"padding": shifted}).get(name),
               f"{_label(name)} has the output padding {_pair(op)} at the start of each axis; it belongs at the end: "
               "the full output, less the cut, then output_padding more rows after it "
               "(`convcheck shapes --explain`, step 'Padding')")
    if any(op) and name in ("dx", "dw"):
        dropped = g.copy()
        for a in range(s.dims):
            if op[a]:
                dropped[(slice(None), slice(None)) + (slice(None),) * a + (slice(-op[a], None),)] = 0
        yield ("output-padding-ignored", grads(g=dropped)[name],
               f"{_label(name)} leaves out the last {_pair(op)} rows of dL/dY, the output padding, as if Y had none; "
               "those outputs are real and carry gradient wherever an input reaches them: size every array from "
               f"o = {transposed_size_text()} (`convcheck shapes --explain`, step 'Output Y')")


def _pairs(before, after) -> str:
    return ", ".join(f"({b}, {a})" for b, a in zip(before, after))


BATCH_SUBSETS = 64
"""Largest batch whose sample subsets are searched (one backward per sample)."""


def _batch_candidates(name, value, truth, grads, x, g, n):
    """The batch mistakes: a gradient averaged over the batch (dL/dX, dL/dF: batch-mean; dL/db is
    bias-mean's), one sample's input X or upstream dL/dY used for every sample, and any subset of
    the samples summed (the first n', the last dropped, ...): batch-partial."""
    if n < 2:
        return
    label, step = _label(name), "`convcheck shapes --explain`, step 'Depth of dL/dF': the batch is summed"
    xp = array_module(truth)
    if name in ("dx", "dw"):
        yield ("batch-mean", truth / n,
               f"{label} is the right one divided by the batch size N = {n}: the samples' contributions are summed, "
               "not averaged (a mean over the batch belongs in the loss, whose dL/dY then already carries the 1/N; "
               f"{step})")
    samples = range(n) if n <= 8 else (0, n - 1)
    for j in samples:
        one = xp.broadcast_to(g[j:j + 1], g.shape)
        yield ("batch-partial", grads(g=one)[name],
               f"{label} uses sample {j}'s upstream gradient dL/dY[{j}] for every sample (dy[{j}:{j + 1}] broadcast "
               f"over the batch): each sample's own dL/dY must be used ({step})")
        if name == "dw":
            yield ("batch-partial", grads(x=xp.broadcast_to(x[j:j + 1], x.shape))["dw"],
                   f"dL/dF uses sample {j}'s input X[{j}] for every sample (x[{j}:{j + 1}] broadcast over the batch): "
                   f"each sample's dL/dY must meet its own X, dL/dF_j = Σ_n X_n ⋆ dL/dY_n^(j) ({step})")
    if n > BATCH_SUBSETS:
        return
    if name == "dx":
        contributions = [xp.zeros_like(truth) for _ in range(n)]
        for i in range(n):
            contributions[i][i] = truth[i]
    else:
        contributions = [grads(x=x[i:i + 1], g=g[i:i + 1])[name] for i in range(n)]
    basis = xp.stack([c.ravel() for c in contributions], axis=1)          # (size, N): one column a sample
    coefficients = xp.linalg.lstsq(basis, xp.asarray(value, dtype=xp.float64).ravel(), rcond=None)[0]
    kept = [i for i in range(n) if float(coefficients[i]) > 0.5]
    if 0 < len(kept) < n:
        left = [i for i in range(n) if i not in kept]
        what, plural = "is zero for" if name == "dx" else "leaves out", "s" * (len(kept) > 1)
        yield ("batch-partial", sum(contributions[i] for i in kept),
               f"{label} uses only sample{plural} {ranges_text(kept)} of the {n} in the batch: it {what} "
               f"sample{'s' * (len(left) > 1)} {ranges_text(left)}; every sample's gradient must be "
               f"{'filled in' if name == 'dx' else 'summed'} ({step})")


def _by_shape(name: str, actual: tuple, expected: tuple, geom) -> Diagnosis:
    """A wrong shape: spatial axes exchanged, an empty crop, a transposed output without its
    output padding; else no known mistake."""
    right, op = tuple(lo for lo, _ in geom.pads), geom.spec.out_padding
    if name == "y" and geom.spec.transposed and any(op) and len(actual) == len(expected) and \
            actual[:2] == expected[:2] and all(actual[2 + a] == expected[2 + a] - op[a] for a in range(len(op))):
        return Diagnosis("output-padding-ignored", f"Y has shape {actual}, {_pair(op)} short of {expected} on its "
                                                   "axes: the output padding was left out; a transposed output is "
                                                   f"{transposed_size_text()}")
    if len(actual) == len(expected) > 3 and actual[:2] == expected[:2] and actual[2:] != expected[2:] and \
            sorted(actual[2:]) == sorted(expected[2:]):
        mistake = "kernel-transposed" if name == "dw" else "height-width-swapped"
        return Diagnosis(mistake, f"{_label(name)} has shape {actual}, the expected {expected} with spatial axes "
                                  "exchanged: H and W (m_h and m_w) swapped")
    if name == "dx" and len(actual) == len(expected) and 0 in actual[2:]:
        return Diagnosis("padding-crop", f"dL/dX is empty {actual}: a crop like dx_pad[:, :, p:-p, p:-p] keeps nothing "
                                         f"at p = 0; crop dx_pad[:, :, before:before + n] per axis, the padding "
                                         f"before each axis being {_at(right)}")
    return Diagnosis(None, f"{_label(name)} has shape {actual}, expected {expected}; no known mistake gives it")


def _turned(w):
    """The filter turned by 180°: every spatial axis reversed (rot180 in 2-D)."""
    return w[(slice(None), slice(None)) + (slice(None, None, -1),) * (w.ndim - 2)]


def _at(start: tuple) -> str:
    """'row 0, column 2' in 2-D, 'position 3' in 1-D, '(depth, row, column) = (0, 1, 2)' in 3-D."""
    if len(start) == 2:
        return f"row {start[0]}, column {start[1]}"
    return f"position {start[0]}" if len(start) == 1 else f"(depth, row, column) = {start}"


def _axis(a: int, dims: int) -> str:
    return (("H", "W"), ("D", "H", "W"))[dims - 2][a]


def close(a, b, rtol, atol) -> bool:
    """Every element of a within atol + rtol |b| of b's."""
    xp = array_module(a, b)
    return bool(xp.all(xp.abs(a - b) <= atol + rtol * xp.abs(b)))


def _pair(values) -> str:
    """'3' when every axis agrees, else '3 × 5'."""
    values = tuple(values)
    return str(values[0]) if len(set(values)) == 1 else " × ".join(map(str, values))


def _label(name: str) -> str:
    return LABELS[name]
