"""`channels`: every coordinate of dL/dX and dL/dF on whole sets of input channels, the first
and the last always, then the seed's draw while the budget lasts (or exactly `--channels` of
them), plus random projections of both for errors in the channels not covered; all of dL/db.
A set is one of the filters' k / groups channels: input channel j of every group for dL/dX
(one forward serves them all) and dL/dF[:, j].

Guarantee: on the channels covered, what `full` guarantees; elsewhere, what `fast`'s
projections do. The coverage line names the channels and the directions."""

import time

import numpy as np

from .. import numerical
from ..backend import array_module, synchronize
from ..compare import compare_projections, merge
from .common import bias, canonical, exact
from .cost import PROJECTIONS, directions_within, set_forwards


def channel_order(k: int, rng) -> list[int]:
    """Input channels in the order exact checks take them: the first, the last, then the seed's draw."""
    middle = [int(c) for c in rng.permutation(np.arange(1, k - 1))] if k > 2 else []
    return list(dict.fromkeys([0, k - 1, *middle]))


def run(pb, analytic: dict, tol, rng, deadline: float, pinned=None, directions=None) -> tuple[dict, int, int]:
    """All of dL/db; dL/dX and dL/dF exactly on sets of input channels in `channel_order` while
    `deadline` (perf_counter seconds) allows, never fewer than two (exactly `pinned` sets if
    given); `directions` random projections of each (else as the budget allows). Set j is w's
    channel j: input channel j of every group for dL/dX and dL/dF[:, j]; without groups, one
    input channel. Returns (checks, sets covered, directions)."""
    k_w = pb.wc.shape[1]
    order = channel_order(k_w, rng)
    if pinned is not None:
        order, deadline = order[:pinned], float("inf")
        directions = directions or PROJECTIONS[0]
    tensors = [t for t in ("x", "w") if t in analytic]
    shapes = {"x": pb.x.shape, "w": pb.wc.shape}                # the filters in the canonical layout
    directions = directions or directions_within(pb.seconds, deadline - time.perf_counter())
    found = numerical.projections(pb, tensors, rng, directions)
    checks = bias(pb, analytic, tol)
    per_set = set_forwards(shapes, pb.dilation, pb.stride, pb.transposed)
    fits = len(order) if pinned is not None else int(max(deadline - time.perf_counter(), 0) /
                                                      (pb.seconds * per_set))
    pb.planned = pb.forwards + min(k_w, max(fits, min(2, k_w))) * per_set
    values = {t: array_module(pb.x).zeros(shapes[t]) for t in tensors}
    done, covered = {"x": [], "w": []}, 0
    seconds = pb.seconds * per_set                                # one set's time, measured after the first
    for j in order if tensors else []:
        if covered >= 2 and time.perf_counter() + seconds > deadline:
            break
        begun, covered = time.perf_counter(), covered + 1
        if "x" in tensors:
            inputs = numerical.channels_of(pb, [j])
            values["x"][:, inputs] = numerical.input_channels(pb, [j])[:, inputs]
            done["x"] += inputs
        if "w" in tensors:
            values["w"][:, j] = numerical.filter_channels(pb, [j])[:, 0]
            done["w"].append(j)
        synchronize(pb.xp)
        seconds = time.perf_counter() - begun
    for t in tensors:
        name = "d" + t
        flat = np.arange(values[t].size).reshape(shapes[t])[:, sorted(done[t])].ravel()
        of_channels, channels = shapes[t][1], tuple(sorted(done[t]))
        if t == "w" and pb.transposed:                            # back to the plug-in's layout (k, p / g, *m)
            values[t], flat = pb.weights(values[t]), np.flatnonzero(np.isin(pb.plugin_positions(), flat))
            of_channels, channels = pb.x.shape[1], tuple(numerical.channels_of(pb, done[t]))
        found_exact = exact(name, analytic[t], values[t].ravel()[flat], tol, flat, channels=channels,
                            of_channels=of_channels, projections=directions, filters=t == "w")
        checks[name] = merge(found_exact, compare_projections(name, canonical(pb, t, analytic), *found[t], *tol))
    return checks, covered, directions
