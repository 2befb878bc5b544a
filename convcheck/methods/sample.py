"""`sample`: `samples` coordinates of dL/dX and of dL/dF, all of dL/db. The places where
hand-written backprop goes wrong come first (borders, corners, leftover rows and columns,
stride phases, the first and last channel and filter), then the seed's draw (`stratified`).
dL/dX's pixels each run on a small crop around them; dL/dF's taps as extra filters.

Guarantee: every sampled element is compared with its own finite difference; the elements
not sampled are not checked (the coverage line says how many were)."""

import itertools

import numpy as np

from .. import numerical
from ..geometry import Geometry
from .common import bias, exact


def run(pb, analytic: dict, tol, geom, rng, samples: int) -> dict:
    """`samples` stratified coordinates of dL/dX and dL/dF, all of dL/db."""
    checks = bias(pb, analytic, tol)
    for t in ("x", "w"):
        if t in analytic:
            flat = stratified(t, geom, samples, rng)                 # the plug-in's layout
            numeric = numerical.input_at(pb, flat) if t == "x" else numerical.filter_at(pb, pb.plugin_positions()[flat])
            checks["d" + t] = exact("d" + t, analytic[t], numeric, tol, flat, sampled=len(flat))
    return checks


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
    """(n, c, *position) in priority order: for the first and last channel (and sample), the
    corners, every stride phase, the middle of each side, the first leftover row of each axis."""
    n_batch, k, *sizes = geom.shapes["x"]
    dims, middle = len(sizes), tuple(n // 2 for n in sizes)
    corners = list(itertools.product(*((0, n - 1) for n in sizes)))
    phases = list(itertools.product(*([_phase(sizes[a], geom.stride[a], geom.pads[a][0], phase)
                                       for phase in range(geom.stride[a])] for a in range(dims))))
    sides = [middle[:a] + (end,) + middle[a + 1:] for a in range(dims) for end in (0, sizes[a] - 1)]
    leftover = []
    for a in range(dims):                                         # the first row no window reads, if any
        row = (geom.out[a] - 1) * geom.stride[a] + geom.extent[a] - geom.pads[a][0]
        if row < sizes[a]:
            leftover.append(middle[:a] + (max(row, 0),) + middle[a + 1:])
    places = corners + phases + sides + leftover
    planes = list(dict.fromkeys([(0, 0), (n_batch - 1, k - 1), (0, k - 1), (n_batch - 1, 0)]))
    return [(n, c, *place) for place in places for n, c in planes]


def _phase(n: int, s: int, lo: int, phase: int) -> int:
    """A row near the middle whose padded position is `phase` modulo the stride."""
    row = n // 2 + (phase - n // 2 - lo) % s
    return row if row < n else max(row - s, 0)


def _places_w(shape) -> list[tuple]:
    """(f, c, *tap): the corner and middle taps of the first and last filter and channel."""
    p, k, *m = shape
    taps = list(itertools.product(*((0, t - 1) for t in m))) + [tuple(t // 2 for t in m)]
    planes = list(dict.fromkeys([(0, 0), (p - 1, k - 1), (0, k - 1), (p - 1, 0)]))
    return [(f, c, *tap) for tap in taps for f, c in planes]
