"""What a check covers: `Coverage` per tensor, and the choice of coordinates to cover.

A tensor is covered exactly (every coordinate, or every coordinate of some input
channels), at sampled coordinates, by random projections, or by a mix of these.
`channel_order` and `stratified` decide which channels and which coordinates come first:
the places where hand-written backprop goes wrong (borders, corners, leftover rows and
columns, stride phases, the first and last channel and filter), then the seed's draw.
"""

from dataclasses import dataclass

import numpy as np

from .geometry import Geometry


@dataclass(frozen=True)
class Coverage:
    """How one tensor was checked. `exact` counts the elements compared one by one."""

    total: int                               # elements in the tensor
    exact: int = 0                           # elements compared with their own finite difference
    channels: tuple[int, ...] | None = None  # every coordinate of these input channels (partial)
    of_channels: int = 0                     # input channels in the layer
    sampled: int = 0                         # of `exact`: coordinates chosen one by one
    projections: int = 0                     # random directions
    filters: bool = False                    # dL/dF: channels hold every filter; a direction tests each filter

    @property
    def every(self) -> bool:
        """Every coordinate compared with its own finite difference."""
        return self.exact == self.total

    def text(self) -> str:
        """'every coordinate', 'every coordinate of input channels 0, 17, 63 (3 of 64, all filters)',
        '64 sampled of 1,000', '16 random projections (each filter on its own)', joined by ' + '."""
        parts = []
        if self.every:
            parts.append("every coordinate")
        elif self.channels is not None:
            parts.append(f"every coordinate of input channels {ranges_text(self.channels)} "
                         f"({len(self.channels)} of {self.of_channels}{', all filters' * self.filters})")
        elif self.sampled:
            parts.append(f"{self.sampled:,} sampled of {self.total:,}")
        if self.projections and not self.every:
            parts.append(f"{self.projections} random projection{'s' * (self.projections != 1)}"
                         + " (each filter on its own)" * self.filters)
        return " + ".join(parts) or "not checked"

    def as_dict(self) -> dict:
        """The JSON `coverage` object."""
        return {"text": self.text(), "every_coordinate": self.every, "exact": self.exact, "total": self.total,
                "channels": None if self.channels is None else list(self.channels),
                "sampled": self.sampled, "projections": self.projections, "per_filter": self.filters}


def ranges_text(values, most: int = 12) -> str:
    """Sorted ints as '0-3, 7, 12, 63'; past `most` runs, the rest as a count."""
    runs = []
    for value in sorted(values):
        if runs and value == runs[-1][1] + 1:
            runs[-1][1] = value
        else:
            runs.append([value, value])
    texts = [f"{a}" if a == b else f"{a}, {b}" if b == a + 1 else f"{a}-{b}" for a, b in runs]
    shown = ", ".join(texts[:most])
    return shown if len(texts) <= most else f"{shown}, … ({len(texts) - most} more; all in --format json)"


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
