"""Finite-difference gradients of L = sum(G * Y) through a forward function only.

L is affine in each of x, w and b, so the central difference

    dL/dt_i ~ (L(t + h e_i) - L(t - h e_i)) / 2h

has no truncation error: only rounding, which shrinks as h grows. The step therefore
depends on the precision the forward actually computes in (`STEP`). Everything here runs
in float64; no dense Jacobian is built.

Two ideas make every coordinate affordable:
- receptive-field locality: perturbing X[n, c, i, j] changes at most ceil(m/s) outputs per
  axis (`geometry.reached_outputs`). For `full`, pixels s*ceil(m/s) apart never share an
  output, so a whole colour class of them (one channel, every such row and column) is
  perturbed at once and each pixel's difference is read off its own outputs (Jacobian
  compression by colouring, Curtis-Powell-Reid): k * (s*ceil(m/s))^2 pairs of forwards
  instead of 2 per pixel. For a sample, each pixel's forward runs on a small crop around it.
- batching: many perturbed images, crops or filters (for w and b) go through one forward
  call, stacked on the batch or the filter axis.
"""

from dataclasses import dataclass
from typing import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .geometry import reach, reached_outputs

STEP = {np.dtype("float64"): 1e-3, np.dtype("float32"): 1.0}
"""h per dtype the forward computes in: rounding error ~ eps * |Y| / h is ~1e-13 at 1e-3 in
float64; a forward that rounds to float32 (eps 6e-8) needs the largest step, and an affine L
loses nothing by it."""

BATCH_BYTES = 16 * 2**20
"""Memory one batched forward call may take (inputs, outputs, a typical im2col): small enough
to stay in cache, which measured faster than larger batches on seed 001's layer."""

DIRECTIONS = 2
"""Random directions per tensor for the `fast` method (see `compare.compare_projections`)."""


class NumericalError(Exception):
    """The forward failed or returned a wrong shape while computing differences."""


@dataclass(frozen=True)
class Problem:
    """The float64 point where gradients are taken.

    x (N, k, H, W), w (p, k, m_h, m_w), b (p,) or None, g = G = dL/dY (N, p, o_h, o_w).
    """

    forward: Callable
    x: np.ndarray
    w: np.ndarray
    b: np.ndarray | None
    g: np.ndarray
    stride: tuple[int, int]
    padding: tuple[int, int, int, int]
    step: float

    def call(self, x, w, b, padding, expected):
        """forward(x, w, b) in float64 with shape checked; any failure is a NumericalError."""
        own = [a.copy() if a is not None and any(a is t for t in (self.x, self.w, self.b)) else a
               for a in (x, w, b)]
        try:  # the shared point is copied, so a forward that writes into its inputs cannot corrupt it
            y = self.forward(*own, stride=self.stride, padding=padding)
        except Exception as e:
            raise NumericalError(f"forward raised {type(e).__name__}: {e}") from None
        if getattr(y, "shape", None) != expected:
            raise NumericalError(f"forward on a batch of perturbed inputs returned shape "
                                 f"{getattr(y, 'shape', type(y).__name__)}, expected {expected}")
        return np.asarray(y, dtype=np.float64)


def gradients(problem: Problem, coords: dict[str, np.ndarray], progress=None) -> dict[str, np.ndarray]:
    """Numerical dL/dt at the given flat indices of t, for t in coords' keys ('x', 'w', 'b')."""
    total = sum(len(c) for c in coords.values())
    done = [0]

    def advance(count):
        done[0] += count
        if progress:
            progress(done[0], total)

    grads = {}
    if "x" in coords and len(coords["x"]) == problem.x.size:
        grads["x"] = _input_gradient_coloured(problem, advance).ravel()[coords["x"]]
    elif "x" in coords:
        grads["x"] = _input_gradient(problem, coords["x"], advance)
    for name in ("w", "b"):
        if name in coords:
            grads[name] = _parameter_gradient(problem, name, coords[name], advance)
    return grads


def _input_gradient_coloured(pb: Problem, advance) -> np.ndarray:
    """dL/dX at every coordinate (N, k, H, W): one pair of whole forwards per colour class."""
    (s_h, s_w), (top, _, left, _) = pb.stride, pb.padding
    n_batch, k, h, w_in = pb.x.shape
    p, _, m_h, m_w = pb.w.shape
    o_h, o_w = pb.g.shape[2:]
    period_h, period_w = s_h * reach(m_h, s_h), s_w * reach(m_w, s_w)
    rows, cols = np.arange(h), np.arange(w_in)
    first_r, last_r = reached_outputs(rows + top, m_h, s_h)              # each pixel's outputs, unclipped
    first_c, last_c = reached_outputs(cols + left, m_w, s_w)
    r0, r1 = np.clip(first_r, 0, o_h), np.clip(last_r + 1, 0, o_h)      # half-open, clipped
    c0, c1 = np.clip(first_c, 0, o_w), np.clip(last_c + 1, 0, o_w)
    classes = [(c, a, b) for c in range(k) for a in range(min(period_h, h)) for b in range(min(period_w, w_in))]
    values = np.zeros(pb.x.shape)
    per_item = 16 * n_batch * (k * h * w_in + o_h * o_w * (p + pb.w[0].size))
    for chunk in _chunks(np.arange(len(classes)), per_item):
        size = len(chunk)
        batch = np.broadcast_to(pb.x, (2 * size, *pb.x.shape)).copy()    # (2B, N, k, H, W)
        for i, index in enumerate(chunk):
            c, a, b = classes[index]
            batch[i, :, c, a::period_h, b::period_w] += pb.step
            batch[size + i, :, c, a::period_h, b::period_w] -= pb.step
        y = pb.call(batch.reshape(-1, k, h, w_in), pb.w, pb.b, pb.padding, (2 * size * n_batch, p, o_h, o_w))
        y = y.reshape(2, size, n_batch, p, o_h, o_w)
        change = np.einsum("bnpij,npij->bnij", y[0] - y[1], pb.g)        # (B, N, o_h, o_w)
        box = np.zeros((size, n_batch, o_h + 1, o_w + 1))                # integral image: box sums
        box[:, :, 1:, 1:] = change.cumsum(axis=2).cumsum(axis=3)
        for i, index in enumerate(chunk):
            c, a, b = classes[index]
            ri, ci = rows[a::period_h, None], cols[None, b::period_w]
            sums = (box[i][:, r1[ri], c1[ci]] - box[i][:, r0[ri], c1[ci]]
                    - box[i][:, r1[ri], c0[ci]] + box[i][:, r0[ri], c0[ci]])   # (N, rows, cols)
            values[:, c, a::period_h, b::period_w] = sums / (2 * pb.step)
            advance(sums.size)
    return values


def _input_gradient(pb: Problem, flat: np.ndarray, advance) -> np.ndarray:
    """dL/dX at some flat indices of x, each from the forward of a crop around the pixel."""
    (s_h, s_w), (top, bottom, left, right) = pb.stride, pb.padding
    p, _, m_h, m_w = pb.w.shape
    o_h, o_w = pb.g.shape[2:]
    reach_h, reach_w = min(reach(m_h, s_h), o_h), min(reach(m_w, s_w), o_w)  # outputs a pixel can touch
    crop_h, crop_w = (reach_h - 1) * s_h + m_h, (reach_w - 1) * s_w + m_w  # input rows they read
    n, c, i, j = np.unravel_index(flat, pb.x.shape)
    row, col = i + top, j + left                                  # position in the padded input
    o0 = np.clip(reached_outputs(row, m_h, s_h)[1] - reach_h + 1, 0, o_h - reach_h)  # crop's first output row
    q0 = np.clip(reached_outputs(col, m_w, s_w)[1] - reach_w + 1, 0, o_w - reach_w)
    r_in, c_in = row - o0 * s_h, col - q0 * s_w                   # the pixel inside its crop
    values = np.zeros(len(flat))
    touched = np.flatnonzero((r_in < crop_h) & (c_in < crop_w))   # others: leftover rows, dL/dX = 0
    advance(len(flat) - len(touched))
    x_pad = np.pad(pb.x, [(0, 0), (0, 0), (top, bottom), (left, right)])
    x_crops = sliding_window_view(x_pad, (crop_h, crop_w), axis=(2, 3))  # (N, k, ., ., crop_h, crop_w)
    g_crops = sliding_window_view(pb.g, (reach_h, reach_w), axis=(2, 3))
    per_item = 16 * (pb.x.shape[1] * crop_h * crop_w + reach_h * reach_w * (p + pb.w[0].size))
    for idx in _chunks(touched, per_item):
        size = len(idx)
        crops = x_crops[n[idx], :, o0[idx] * s_h, q0[idx] * s_w]     # (B, k, crop_h, crop_w)
        batch = np.concatenate([crops, crops])                       # (2B, k, crop_h, crop_w)
        at = (c[idx], r_in[idx], c_in[idx])
        batch[(np.arange(size), *at)] += pb.step
        batch[(np.arange(size, 2 * size), *at)] -= pb.step
        y = pb.call(batch, pb.w, pb.b, (0, 0, 0, 0), (2 * size, p, reach_h, reach_w))
        g = g_crops[n[idx], :, o0[idx], q0[idx]]                     # (B, p, reach_h, reach_w)
        values[idx] = np.einsum("bpij,bpij->b", y[:size] - y[size:], g) / (2 * pb.step)
        advance(size)
    return values


def _parameter_gradient(pb: Problem, name: str, flat: np.ndarray, advance) -> np.ndarray:
    """dL/dw or dL/db at flat indices: perturbed copies of each filter run as extra filters."""
    n_batch, p, o_h, o_w = pb.g.shape
    per_filter = pb.w[0].size
    f = flat // per_filter if name == "w" else flat             # filter of each coordinate
    values = np.zeros(len(flat))
    for idx in _chunks(np.arange(len(flat)), 16 * n_batch * o_h * o_w):
        size = len(idx)
        w = np.concatenate([pb.w[f[idx]]] * 2)                     # (2B, k, m_h, m_w)
        b = None if pb.b is None else np.concatenate([pb.b[f[idx]]] * 2)  # (2B,)
        target = w.reshape(2 * size, -1) if name == "w" else b[:, None]
        tap = flat[idx] % per_filter if name == "w" else 0
        target[np.arange(size), tap] += pb.step
        target[np.arange(size, 2 * size), tap] -= pb.step
        y = pb.call(pb.x, w, b, pb.padding, (n_batch, 2 * size, o_h, o_w))
        values[idx] = np.einsum("nbij,nbij->b", y[:, :size] - y[:, size:], pb.g[:, f[idx]]) / (2 * pb.step)
        advance(size)
    return values


def _chunks(indices: np.ndarray, bytes_per_item: int):
    """Split indices into batches that keep one forward call under BATCH_BYTES."""
    size = max(1, BATCH_BYTES // max(bytes_per_item, 1))
    return [indices[i:i + size] for i in range(0, len(indices), size)]


def full_cost(shapes: dict, stride: tuple[int, int]) -> float:
    """Forwards of the whole layer that `full` costs: 2 per colour class of x, and the filter
    banks of w and b (2 perturbed filters per coordinate, p filters to a forward)."""
    _, k, h, w_in = shapes["x"]
    p, _, m_h, m_w = shapes["w"]
    classes = k * min(stride[0] * reach(m_h, stride[0]), h) * min(stride[1] * reach(m_w, stride[1]), w_in)
    n_params = p * k * m_h * m_w + (p if shapes["b"] else 0)
    return 2 * classes + 2 * n_params / p


def projections(pb: Problem, names, rng, directions: int = DIRECTIONS, progress=None) -> dict:
    """`fast`: directional derivatives of L along random standard-normal directions u.

    Returns {name: (u (d, *shape), (L(t + h u_j) - L(t)) / h for each j (d,))} for name in
    x, w, b. One-sided differences: L is affine in each tensor, so they are exact up to
    rounding, like the central ones, at half the forwards; the unperturbed point rides in
    the same call. x: inputs stacked on the batch axis; w and b: filter banks stacked as
    extra filters of one forward (the p filters of a bank never mix with another's).
    """
    n_batch, p, o_h, o_w = pb.g.shape
    g = pb.g.transpose(1, 0, 2, 3).reshape(p, -1)                     # (p, N*o_h*o_w)
    u = {name: rng.standard_normal((directions, *getattr(pb, name).shape), dtype=np.float32).astype(np.float64)
         for name in names}
    found = {}
    if "x" in u:
        batch = np.concatenate([pb.x[None], pb.x + pb.step * u["x"]])  # (1 + d, N, k, H, W)
        y = pb.call(batch.reshape(-1, *pb.x.shape[1:]), pb.w, pb.b, pb.padding,
                    ((1 + directions) * n_batch, p, o_h, o_w))
        losses = _loss(y.reshape(1 + directions, n_batch, p, -1).transpose(0, 2, 1, 3), g)
        found["x"] = (u["x"], (losses[1:] - losses[0]) / pb.step)
    params = [name for name in ("w", "b") if name in u]
    if params:  # the unperturbed bank, then every perturbed bank of w and b, as filters of one forward
        w_banks, b_banks = [pb.w[None]], [None if pb.b is None else pb.b[None]]
        for name in params:
            moved = getattr(pb, name) + pb.step * u[name]                # (d, *shape)
            w_banks.append(moved if name == "w" else np.broadcast_to(pb.w, (directions, *pb.w.shape)))
            b_banks.append(moved if name == "b" else None if pb.b is None else np.broadcast_to(pb.b, (directions, p)))
        banks = 1 + directions * len(params)
        w = np.concatenate(w_banks).reshape(-1, *pb.w.shape[1:])
        b = None if pb.b is None else np.concatenate(b_banks).reshape(-1)
        y = pb.call(pb.x, w, b, pb.padding, (n_batch, banks * p, o_h, o_w))
        losses = _loss(y.reshape(n_batch, banks, p, -1).transpose(1, 2, 0, 3), g)  # (banks,)
        for i, name in enumerate(params):
            found[name] = (u[name], (losses[1 + i * directions:1 + (i + 1) * directions] - losses[0]) / pb.step)
    if progress:
        progress(len(names), len(names))
    return found


def _loss(y, g) -> np.ndarray:
    """L = sum(G * Y) for each of a stack of outputs. y (B, p, N, o_h*o_w) or its view, g (p, N*o_h*o_w) -> (B,)."""
    return y.reshape(len(y), -1) @ g.ravel()
