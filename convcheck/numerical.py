"""Finite-difference gradients of L = sum(G * Y) through a forward function only.

L is affine in each of x, w and b, so the one-sided difference

    dL/dt_i ~ (L(t + h e_i) - L(t)) / h

has no truncation error, exactly like the central one, at half the forwards: only rounding.
A forward that rounds in precision eps returns each output with an error of about
eps * |Y|, so a difference of two forwards carries ~eps * |Y| per output and the quotient
~eps * |Y| / h per output read (the central difference has the same two rounded forwards
over 2h: the same order). Rounding therefore shrinks as h grows, and h is as large as
`STEP` allows for the precision the forward actually computes in. Everything here runs
in float64 on the arrays' backend (the GPU with CuPy), the index bookkeeping in NumPy on the
host; no dense Jacobian is built. The unperturbed Y(t) is computed once, when a
`Problem` is made, and every difference is taken against it.

Exact engines (every coordinate of what they are asked for):
- `input_channels`: two pixels that are never taps of one window never share an output, so a
  whole colour class of pixels (`colouring.colour`: (i div d) mod m per axis, proved there) is
  perturbed in one forward and each pixel's difference is read off its own outputs (Jacobian
  compression by colouring, Curtis-Powell-Reid): m_h * m_w forwards per input channel, the
  least any colouring can do; with groups one forward serves one channel of every group.
- `filter_channels`: output channel f depends on filter f alone, so perturbing tap
  (c, i, j) of every filter at once gives dL/dF[:, c, i, j] for all p filters in one
  forward: m_h * m_w forwards per input channel, banks of taps stacked as extra filters.
- `bias`: every b_f + h at once, one forward for all of dL/db.
For sampled coordinates: `input_at` runs each pixel on a small crop around it, `filter_at`
perturbed copies of single filters as extra filters. `projections` gives directional
derivatives along random directions (whole-tensor for x, per filter for w).

`Problem.forwards` counts the work in whole-layer forwards: output elements computed
divided by the layer's output size.
"""

import itertools
import math
import statistics
import time
from typing import Callable

import numpy as np

from .backend import array_module, sliding_window_view, synchronize
from .colouring import classes, colours, tap_outputs
from .geometry import effective_size, pairs, reach, reached_outputs

STEP = {np.dtype("float64"): 1e-3, np.dtype("float32"): 1.0}
"""h per dtype the forward computes in: rounding error ~ eps * |Y| / h is ~1e-13 at 1e-3 in
float64; a forward that rounds to float32 (eps 6e-8) needs the largest step, and an affine L
loses nothing by it."""

BATCH_BYTES = 16 * 2**20
"""Memory one batched forward call may take (inputs, outputs, a typical im2col). 64 MiB
measured no faster on ResNet-50's 3x3 layers (80% and 85% of the GEMM rate at 256@14,
within the machine's noise) nor on the 5x100x100 layer of configs/, and takes 4x the memory."""


TIMING_RUNS, TIMING_S = 5, 0.5
"""A Problem times the layer's forward at least twice and up to TIMING_RUNS times while the
runs so far took under TIMING_S seconds, and keeps the median of the runs after the first: a
first call pays for cold caches and allocations (4x a warm one on a 64 x 56 x 56 layer), and on
a GPU for compiling kernels, and the median follows a machine that is busy for the whole check
where the fastest run would not. `plan` and `verify` both time through it."""


class NumericalError(Exception):
    """The forward failed or returned a wrong shape while computing differences."""


class Problem:
    """The float64 point where gradients are taken, and its unperturbed output.

    x (N, k, *n), w (p, k / groups, *m), b (p,) or None, g = G = dL/dY (N, p, *o): one, two or
    three spatial axes (2-D: x (N, k, H, W)). Making one runs and times the forward
    (TIMING_RUNS): y0 (N, p, *o), `seconds` (a forward and reading its difference off); the step
    follows the dtype that forward returns. `progress(done, total)`, if given, is told the
    whole-layer forwards computed so far against `planned`; `describe(error)` words what the
    forward raised. `trusted`: the forward never writes into its arguments (the built-in im2col,
    tested so), so the engines make their batches of perturbed copies once and restore them
    between forwards, and the shared point is passed as it is; any other forward gets fresh
    copies every call, so that one that writes into its inputs cannot corrupt the next.
    """

    def __init__(self, forward: Callable, x, w, b, g, stride, padding, progress=None, describe=None, conv=None,
                 trusted: bool = False):
        self.forward, self.x, self.w, self.b, self.g, self.trusted = forward, x, w, b, g, trusted
        self.conv = conv or {}                        # dilation=, groups= as the plug-in gets them, when not 1
        self.dilation = self.conv.get("dilation", (1,) * (x.ndim - 2))
        self.groups = self.conv.get("groups", 1)
        self.transposed = self.conv.get("transposed", False)
        self.out_padding = self.conv.get("output_padding", (0,) * (x.ndim - 2))
        self.wc = canonical(w, self.groups) if self.transposed else w    # (p, k / groups, *m): filter f = output f
        self.extent = tuple(effective_size(m, d) for m, d in zip(w.shape[2:], self.dilation))
        self.xp = array_module(x)
        self.describe = describe or (lambda e: f"{type(e).__name__}: {e}")
        self.stride, self.padding, self.pads = stride, padding, pairs(padding)   # flat, as the forward takes it
        self.progress, self.planned, self.forwards = progress, 1.0, 0.0
        timings, readings = [], []
        while len(timings) < 2 or len(timings) < TIMING_RUNS and sum(timings) < TIMING_S:
            started, self.forwards = time.perf_counter(), 0.0                # only one counts as work
            y0 = self._run(x, w, b, padding, g.shape)
            synchronize(self.xp)
            timings.append(time.perf_counter() - started)
            started = time.perf_counter()                                    # what reading a difference off costs
            self.xp.einsum("npi,npi->p", _flat(self.xp.asarray(y0, dtype=self.xp.float64) - y0, 2), _flat(g, 2))
            synchronize(self.xp)
            readings.append(time.perf_counter() - started)
        self.seconds = statistics.median(timings[1:]) + statistics.median(readings[1:])
        self.step = STEP.get(getattr(y0, "dtype", None), max(STEP.values()))
        self.y0 = self.xp.asarray(y0, dtype=self.xp.float64)

    def weights(self, wc):
        """Filters in the canonical layout (p', k / groups, *m), output channel f from filter f, as
        the forward takes them: the same, or (k, p' / groups, *m) for a transposed layer."""
        return plugin_layout(wc, self.groups) if self.transposed else wc

    def canonical(self, a):
        """Filters (or their gradient) in the plug-in's layout -> the canonical one (`wc`'s)."""
        return canonical(a, self.groups) if self.transposed else a

    def plugin_positions(self) -> np.ndarray:
        """For each element of the plug-in's w, flat, the flat index of the same element in the
        canonical layout (the identity for a plain layer): maps the engines' coordinates."""
        return np.asarray(self.weights(np.arange(self.wc.size).reshape(self.wc.shape))).ravel()

    def call(self, x, w, b, padding, expected) -> np.ndarray:
        """forward(x, w, b) as float64, shape checked; any failure is a NumericalError."""
        return self.xp.asarray(self._run(x, w, b, padding, expected), dtype=self.xp.float64)

    def _run(self, x, w, b, padding, expected):
        own = [a.copy() if a is not None and not self.trusted and any(a is t for t in (self.x, self.w, self.b))
               else a for a in (x, w, b)]
        try:  # the shared point is copied (unless trusted): a forward that writes into its inputs cannot corrupt it
            y = self.forward(*own, stride=self.stride, padding=padding, **self.conv)
        except (Exception, SystemExit) as e:
            raise NumericalError(f"forward raised {self.describe(e)}") from None
        if getattr(y, "shape", None) != expected:
            raise NumericalError(f"forward on a batch of perturbed inputs returned shape "
                                 f"{getattr(y, 'shape', type(y).__name__)}, expected {expected}")
        if not math.isfinite(float(y.sum())):          # one pass: NaN or inf anywhere makes the sum so
            bad = int((~self.xp.isfinite(y)).sum())     # a difference of NaN is no gradient: say so, never compare it
            raise NumericalError(f"forward on a batch of perturbed inputs {tuple(expected)} returned "
                                 f"{bad} non-finite values (NaN or inf)" if bad else
                                 f"forward on a batch of perturbed inputs {tuple(expected)} returned values whose sum "
                                 "overflows")
        self.forwards += int(np.prod(expected)) / self.g.size
        if self.progress:
            self.progress(min(self.forwards, self.planned), self.planned)
        return y


def canonical(w, groups: int):
    """A transposed layer's w (k, p / groups, *m) as plain filters (p, k / groups, *m): output
    channel g (p / groups) + f' reads w[g k' + c', f'] for its group's k' channels c'."""
    k, p_group, *m = w.shape
    return w.reshape(groups, k // groups, p_group, *m).swapaxes(1, 2).reshape(groups * p_group, k // groups, *m)


def plugin_layout(wc, groups: int):
    """The inverse of `canonical`: plain filters (p, k / groups, *m) -> (k, p / groups, *m)."""
    p, k_group, *m = wc.shape
    return wc.reshape(groups, p // groups, k_group, *m).swapaxes(1, 2).reshape(groups * k_group, p // groups, *m)


def input_channels(pb: Problem, sets) -> np.ndarray:
    """dL/dX at every coordinate of the input channels of `sets`, (N, k, *n), zero elsewhere.

    Set j (one of w's k / groups channels) is input channel j of every group, g k' + j: a pixel
    of one group never reaches another group's outputs, so one forward perturbs a colour class
    (`colouring.colours`, per axis) in all of them at once and reads each group's change off its own
    output channels, summed over each pixel's outputs (`colouring.tap_outputs`, m a pixel per
    axis, gathered: memory of the order of the layer's own arrays). Cost: prod(m) forwards per
    set (fewer where the input is smaller), the floor of black-box finite differences."""
    n_batch, k, *sizes = pb.x.shape
    p, k_w, *m = pb.wc.shape
    dims, groups, out = len(sizes), pb.groups, pb.g.shape[2:]
    xp = pb.xp
    members = [{c: np.flatnonzero(colours(sizes[a], m[a], pb.stride[a], pb.dilation[a], pb.transposed) == c)
                for c in range(classes(sizes[a], m[a], pb.stride[a], pb.dilation[a], pb.transposed))}
               for a in range(dims)]
    outputs = [tap_outputs(sizes[a], out[a], m[a], pb.stride[a], pb.dilation[a], pb.pads[a][0], pb.transposed)
               for a in range(dims)]                                                     # (n_a, m_a)
    reads = [{c: xp.asarray(outputs[a][pixels]) for c, pixels in members[a].items()} for a in range(dims)]
    g = pb.g.reshape(n_batch, groups, p // groups, *out)
    y0 = pb.y0.reshape(g.shape)
    perturbed = [(j, combo) for j in sets for combo in itertools.product(*(range(len(c)) for c in members))]
    values, copies = xp.zeros(pb.x.shape), _Copies(pb, pb.x)
    per_item = 16 * n_batch * (pb.x[0].size + math.prod(out) * (p + pb.wc[0].size))
    for chunk in _chunks(perturbed, per_item):
        at = [(slice(None),) + np.ix_(np.arange(groups) * k_w + j, *(members[a][c] for a, c in enumerate(combo)))
              for j, combo in chunk]
        batch = copies.fresh(len(chunk))                                    # (B, N, k, *n)
        for item, index in enumerate(at):
            copies.perturb(item, index)                                     # one class of channel j, every group
        y = pb.call(batch.reshape(-1, k, *sizes), pb.w, pb.b, pb.padding, (len(chunk) * n_batch, p, *out))
        change = xp.einsum("bngq...,ngq...->bng...", y.reshape(len(chunk), *g.shape) - y0, g)  # (B, N, groups, *o)
        for item, ((_, combo), index) in enumerate(zip(chunk, at)):
            sums = change[item]                                             # (N, groups, *o)
            for a, c in enumerate(combo):                                   # each axis's outputs -> its pixels
                sums = _gather(sums, reads[a][c], 2 + a)
            values[index] = sums / pb.step                                  # (N, groups, *class pixels)
    return values


def _gather(sums, outputs, axis: int):
    """sums (..., o, ...) -> (..., len(outputs), ...): each pixel's outputs (`outputs` (pixels, m),
    o where none) summed along `axis`."""
    xp = array_module(sums)
    padded = xp.concatenate([sums, xp.zeros_like(sums.take([0], axis=axis))], axis=axis)   # index o reads 0
    return padded.take(outputs, axis=axis).sum(axis=axis + 1)


def channels_of(pb: Problem, sets) -> list[int]:
    """The input channels `input_channels(pb, sets)` covers: g k' + j for every group g."""
    k_w = pb.wc.shape[1]
    return sorted(g * k_w + j for j in sets for g in range(pb.groups))


def filter_channels(pb: Problem, channels) -> np.ndarray:
    """dL/dF[:, channels] at every coordinate in the canonical layout (p, len(channels), *m) (a
    transposed layer's as `canonical` orders it), channels of the filters' own axis (k / groups
    of them): one forward per tap, each tap perturbed in all p filters at once (a bank), banks
    stacked as extra filters."""
    n_batch, p, *out = pb.g.shape
    m = pb.wc.shape[2:]
    taps = [(i, c, tap) for i, c in enumerate(channels) for tap in itertools.product(*map(range, m))]
    xp = pb.xp
    values, copies = xp.zeros((p, len(channels), *m)), _Copies(pb, pb.wc)
    columns = n_batch * p * math.prod(m) * math.prod(pb.x.shape[2:]) if pb.transposed else 0   # its col2im's
    for chunk in _chunks(taps, 16 * (n_batch * p * math.prod(out) + pb.wc.size) + 8 * columns):  # outputs, copies
        banks = copies.fresh(len(chunk))                                   # (T, p, k', *m)
        for item, (_, c, tap) in enumerate(chunk):
            copies.perturb(item, (slice(None), c) + tap)
        y = _banks_forward(pb, banks, None if pb.b is None else xp.broadcast_to(pb.b, (len(chunk), p)))
        change = xp.einsum("ntpi,npi->tp", _flat(y - pb.y0[:, None], 3), _flat(pb.g, 2)) / pb.step   # (T, p)
        for item, (i, _, tap) in enumerate(chunk):
            values[(slice(None), i) + tap] = change[item]
    return values


class _Copies:
    """Batches of copies of `base` (B, *base.shape) for perturbing: made once and restored
    element by element between forwards when the forward is trusted (`Problem.trusted`), made
    afresh for every batch otherwise."""

    def __init__(self, pb: Problem, base):
        self.pb, self.base, self.batch, self.touched = pb, base, None, []

    def fresh(self, count: int):
        """`count` unperturbed copies of base, (count, *base.shape)."""
        if self.pb.trusted and self.batch is not None and len(self.batch) >= count:
            for item, index in self.touched:
                self.batch[item][index] = self.base[index]
        else:
            self.batch = self.pb.xp.broadcast_to(self.base, (count, *self.base.shape)).copy()
        self.touched = []
        return self.batch[:count]

    def perturb(self, item: int, index) -> None:
        """Add the step to copy `item` at `index` (an index of base)."""
        self.batch[item][index] += self.pb.step
        self.touched.append((item, index))


def bias(pb: Problem) -> np.ndarray:
    """dL/db, (p,): every b_f + h in one forward; output channel f moves with b_f alone."""
    y = pb.call(pb.x, pb.w, pb.b + pb.step, pb.padding, pb.g.shape)
    return pb.xp.einsum("npi,npi->p", _flat(y - pb.y0, 2), _flat(pb.g, 2)) / pb.step


def _banks_forward(pb: Problem, banks, b) -> np.ndarray:
    """Filter banks (T, p, k', *m) as T*p filters of one forward -> (N, T, p, *o). With groups
    the extra filters go inside each group, (g, T, p / g), so that every filter still sees its
    own group's input channels; b (T, p) or None likewise."""
    n_batch, p, *out = pb.g.shape
    t, g = len(banks), pb.groups

    def order(a):                                     # (T, p, ...) -> (g, T, p / g, ...) -> (T p, ...)
        return a.reshape(t, g, p // g, *a.shape[2:]).swapaxes(0, 1).reshape(t * p, *a.shape[2:])
    y = pb.call(pb.x, pb.weights(order(banks)), None if b is None else order(b), pb.padding, (n_batch, t * p, *out))
    return y.reshape(n_batch, g, t, p // g, *out).swapaxes(1, 2).reshape(n_batch, t, p, *out)


def input_at(pb: Problem, flat: np.ndarray) -> np.ndarray:
    """dL/dX at some flat indices of x, each from the forward of a crop around the pixel. A crop
    reads every input its reach outputs (per axis) need, so its unperturbed outputs are y0's.
    A transposed layer's pixels are perturbed each in a copy of the whole input instead."""
    if pb.transposed:
        return _input_at_whole(pb, flat)
    p, dims = pb.wc.shape[0], pb.x.ndim - 2
    out = pb.g.shape[2:]
    reaches = [min(reach(pb.extent[a], pb.stride[a]), out[a]) for a in range(dims)]   # outputs a pixel can touch
    crops = [(reaches[a] - 1) * pb.stride[a] + pb.extent[a] for a in range(dims)]    # input rows they read
    n, c, *position = np.unravel_index(flat, pb.x.shape)
    first, inside = [], []                                        # per axis: the crop's first output, the pixel in it
    for a in range(dims):
        row = position[a] + pb.pads[a][0]                         # position in the padded input
        o0 = np.clip(reached_outputs(row, pb.extent[a], pb.stride[a])[1] - reaches[a] + 1, 0, out[a] - reaches[a])
        first.append(o0)
        inside.append(row - o0 * pb.stride[a])
    xp = pb.xp
    windows = sliding_window_view(xp)
    values = xp.zeros(len(flat))
    touched = np.flatnonzero(np.all([inside[a] < crops[a] for a in range(dims)], axis=0))  # others: leftover, 0
    spatial = tuple(range(2, 2 + dims))
    x_pad = xp.pad(pb.x, [(0, 0), (0, 0), *pb.pads])
    x_crops = windows(x_pad, tuple(crops), axis=spatial)          # (N, k, *starts, *crops)
    g_crops = windows(pb.g, tuple(reaches), axis=spatial)
    y0_crops = windows(pb.y0, tuple(reaches), axis=spatial)
    per_item = 16 * (pb.x.shape[1] * math.prod(crops) + math.prod(reaches) * (p + pb.wc[0].size))
    for idx in _chunks(touched, per_item):
        starts = tuple(first[a][idx] * pb.stride[a] for a in range(dims))
        batch = x_crops[(n[idx], slice(None)) + starts]           # (B, k, *crops), a copy
        batch[(np.arange(len(idx)), c[idx]) + tuple(inside[a][idx] for a in range(dims))] += pb.step
        y = pb.call(batch, pb.w, pb.b, (0,) * (2 * dims), (len(idx), p, *reaches))
        at = (n[idx], slice(None)) + tuple(first[a][idx] for a in range(dims))
        values[idx] = xp.einsum("bpi,bpi->b", _flat(y - y0_crops[at], 2), _flat(g_crops[at], 2)) / pb.step
    return values


def _input_at_whole(pb: Problem, flat: np.ndarray) -> np.ndarray:
    """dL/dX at some flat indices of x, each pixel perturbed in its own copy of the input, the
    copies stacked on the batch axis: one whole-layer forward per sample of the batch."""
    n_batch, p, *out = pb.g.shape
    n, rest = np.unravel_index(flat, (n_batch, pb.x[0].size))
    xp = pb.xp
    values = xp.zeros(len(flat))
    for idx in _chunks(np.arange(len(flat)), 16 * (pb.x[0].size + pb.g[0].size)):
        batch = pb.x[n[idx]].copy()                                   # (B, k, *n): each its sample's input
        batch.reshape(len(idx), -1)[np.arange(len(idx)), rest[idx]] += pb.step
        y = pb.call(batch, pb.w, pb.b, pb.padding, (len(idx), p, *out))
        values[idx] = xp.einsum("bi,bi->b", _flat(y - pb.y0[n[idx]], 1), _flat(pb.g[n[idx]], 1)) / pb.step
    return values


def filter_at(pb: Problem, flat: np.ndarray) -> np.ndarray:
    """dL/dF at some flat indices of the canonical filters (p, k / groups, *m): banks in which
    each filter has at most one perturbed tap, so that each filter's output channel gives its
    own coordinate's difference."""
    n_batch, p = pb.g.shape[:2]
    per_filter = pb.wc[0].size
    f, tap = flat // per_filter, flat % per_filter                 # filter and tap of each coordinate
    bank = np.zeros(len(flat), dtype=np.int64)                     # the n-th coordinate of a filter: bank n
    for filter_index in np.unique(f):
        at = np.flatnonzero(f == filter_index)
        bank[at] = np.arange(len(at))
    xp = pb.xp
    values = xp.zeros(len(flat))
    for banks_idx in _chunks(np.arange(bank.max() + 1 if len(flat) else 0), 16 * (pb.g.size + pb.wc.size)):
        banks = xp.broadcast_to(pb.wc, (len(banks_idx), *pb.wc.shape)).copy()   # (T, p, k', *m)
        idx = np.flatnonzero(np.isin(bank, banks_idx))
        t = bank[idx] - banks_idx[0]
        banks.reshape(len(banks_idx), p, -1)[t, f[idx], tap[idx]] += pb.step
        y = _banks_forward(pb, banks, None if pb.b is None else xp.broadcast_to(pb.b, (len(banks_idx), p)))
        change = xp.einsum("ntpi,npi->tp", _flat(y - pb.y0[:, None], 3), _flat(pb.g, 2)) / pb.step   # (T, p)
        values[idx] = change[t, f[idx]]
    return values


class Directions:
    """`count` standard-normal directions of `shape`, float64 on `xp`, drawn from a generator in
    chunks and drawn again from its saved state on demand, never all held at once (one
    direction of a 1-D layer of 2 M numbers is 16 MiB). `chunks` gives the same numbers every
    time, the ones a single rng.standard_normal((count, *shape), float32) would have drawn."""

    def __init__(self, rng, count: int, shape, xp):
        self.count, self.shape, self.xp = count, tuple(shape), xp
        self._kind, self._state, self._after = type(rng.bit_generator), rng.bit_generator.state, None

    def chunks(self, bytes_per_direction: int):
        """(indices, u (len(indices), *shape)) in order, each chunk under BATCH_BYTES where it can be."""
        rng = np.random.Generator(self._kind())
        rng.bit_generator.state = self._state
        for idx in _chunks(np.arange(self.count), bytes_per_direction):
            yield idx, self.xp.asarray(rng.standard_normal((len(idx), *self.shape), dtype=np.float32),
                                       dtype=self.xp.float64)
        self._after = rng.bit_generator.state

    def drawn_from(self, rng) -> None:
        """Move `rng` past these directions, as if they had been drawn from it."""
        if self._after is None:
            for _ in self.chunks(8 * math.prod(self.shape)):
                pass
        rng.bit_generator.state = self._after


def projections(pb: Problem, names, rng, directions: int) -> dict:
    """Directional derivatives of L along standard-normal directions u.

    Returns {name: (u `Directions` (d, *shape), numeric (d, groups))} for name in 'x', 'w' (w in
    the canonical layout, `Problem.wc`):
    numeric[j, f] = (L_f(t + h u_j) - L_f(t)) / h. For x one group, L itself; for w one group
    per filter f, L_f = sum(G[:, f] * Y[:, f]): output channel f moves with filter f alone,
    so one forward of a perturbed bank tests every filter on its own. x: perturbed inputs
    stacked on the batch axis; w: perturbed banks stacked as extra filters.
    """
    n_batch, p, *out = pb.g.shape
    xp, found = pb.xp, {}
    if "x" in names:
        u = Directions(rng, directions, pb.x.shape, xp)
        numeric = xp.zeros((directions, 1))
        columns = pb.y0.size * pb.wc[0].size                                  # the forward's im2col, per direction
        for idx, chunk in u.chunks(16 * pb.y0.size + 16 * pb.x.size + 8 * columns):
            batch = pb.x + pb.step * chunk                                    # (B, N, k, *n)
            y = pb.call(batch.reshape(-1, *pb.x.shape[1:]), pb.w, pb.b, pb.padding, (len(idx) * n_batch, p, *out))
            numeric[idx, 0] = (y.reshape(len(idx), -1) - pb.y0.ravel()) @ pb.g.ravel() / pb.step
        u.drawn_from(rng)
        found["x"] = (u, numeric)
    if "w" in names:
        u = Directions(rng, directions, pb.wc.shape, xp)
        numeric = xp.zeros((directions, p))
        for idx, chunk in u.chunks(16 * (pb.y0.size + pb.wc.size)):
            b = None if pb.b is None else xp.broadcast_to(pb.b, (len(idx), p))
            y = _banks_forward(pb, pb.wc + pb.step * chunk, b)
            numeric[idx] = xp.einsum("ndpi,npi->dp", _flat(y - pb.y0[:, None], 3), _flat(pb.g, 2)) / pb.step
        u.drawn_from(rng)
        found["w"] = (u, numeric)
    return found


def _flat(a, keep: int):
    """a with its axes after the first `keep` flattened into one: the spatial axes, for sums."""
    return a.reshape(*a.shape[:keep], -1)


def _chunks(items, bytes_per_item: int) -> list:
    """Split items into batches that keep one forward call under BATCH_BYTES."""
    size = max(1, BATCH_BYTES // max(bytes_per_item, 1))
    return [items[i:i + size] for i in range(0, len(items), size)]


