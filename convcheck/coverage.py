"""The choice of coordinates to cover (what was covered is `result.Coverage`).

A tensor is covered exactly (every coordinate, or every coordinate of some input
channels), at sampled coordinates, by random projections, or by a mix of these.
`channel_order` and `stratified` decide which channels and which coordinates come first:
the places where hand-written backprop goes wrong (borders, corners, leftover rows and
columns, stride phases, the first and last channel and filter), then the seed's draw.
"""

import numpy as np

from .geometry import Geometry


def channel_order(k: int, rng) -> list[int]:
    """Input channels in the order exact checks take them: the first, the last, then the seed's draw."""
    middle = [int(c) for c in rng.permutation(np.arange(1, k - 1))] if k > 2 else []
    return list(dict.fromkeys([0, k - 1, *middle]))


def stratified(tensor: str, geom: Geometry, samples: int, rng) -> np.ndarray:
    """Flat indices of `samples` coordinates of x or w (fewer if the tensor is smaller):
    the places where mistakes live first, then random ones, sorted."""
    shape = geom.shapes[tensor]
    size = int(np.prod(shape))
    if samples >= size:
        return np.arange(size)
    first = _places_x(geom) if tensor == "x" else _places_w(shape)
    chosen = list(dict.fromkeys(int(i) for i in np.ravel_multi_index(tuple(np.array(first).T), shape)))[:samples]
    rest = np.setdiff1d(np.arange(size), chosen)
    chosen += [int(i) for i in rng.choice(rest, samples - len(chosen), replace=False)]
    return np.sort(np.array(chosen, dtype=np.int64))


def _places_x(geom: Geometry) -> list[tuple]:
    """(n, c, i, j) in priority order: for the first and last channel (and sample), the four
    corners, every stride phase, the middle of each side, the first leftover row and column."""
    n_batch, k, h, w = geom.shapes["x"]
    (s_h, s_w), (top, _, left, _) = geom.stride, geom.padding
    m_h, m_w = geom.spec.m
    phases = [(_phase(h, s_h, top, a), _phase(w, s_w, left, b)) for a in range(s_h) for b in range(s_w)]
    sides = [(0, w // 2), (h - 1, w // 2), (h // 2, 0), (h // 2, w - 1)]
    row, col = (geom.out[0] - 1) * s_h + m_h - top, (geom.out[1] - 1) * s_w + m_w - left  # first unread
    leftover = [(max(row, 0), w // 2)] * (row < h) + [(h // 2, max(col, 0))] * (col < w)
    places = [(0, 0), (0, w - 1), (h - 1, 0), (h - 1, w - 1), *phases, *sides, *leftover]
    planes = list(dict.fromkeys([(0, 0), (n_batch - 1, k - 1), (0, k - 1), (n_batch - 1, 0)]))
    return [(n, c, i, j) for i, j in places for n, c in planes]


def _phase(n: int, s: int, lo: int, phase: int) -> int:
    """A row near the middle whose padded position is `phase` modulo the stride."""
    row = n // 2 + (phase - n // 2 - lo) % s
    return row if row < n else max(row - s, 0)


def _places_w(shape) -> list[tuple]:
    """(f, c, a, b): the corner and middle taps of the first and last filter and channel."""
    p, k, m_h, m_w = shape
    taps = [(0, 0), (m_h - 1, m_w - 1), (0, m_w - 1), (m_h - 1, 0), (m_h // 2, m_w // 2)]
    planes = list(dict.fromkeys([(0, 0), (p - 1, k - 1), (0, k - 1), (p - 1, 0)]))
    return [(f, c, a, b) for a, b in taps for f, c in planes]
