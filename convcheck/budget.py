"""What a check costs before it runs, from one timed forward of the layer: `full` at the floor,
the minimum `channels` always covers, and what `auto` chooses within a budget. `verify`
decides with it and says when even the minimum does not fit; `convcheck plan` prints it.

Costs are whole-layer forwards (numerical.py: output elements computed over one layer's
output), the forward check and the unperturbed point included, times the seconds of one
forward. A set is one of the filters' k / groups channels: input channel j of every group for
dL/dX and dL/dF[:, j] (numerical.input_channels), `numerical.set_forwards` forwards. Every
function takes the layer's `Geometry`.
"""

import math
from dataclasses import dataclass

from . import numerical
from .options import FORWARD_CHECKS

PROJECTIONS = (16, 64)
"""Fewest and most random directions `channels` adds for errors in the channels it does not
cover exactly; each costs one forward for dL/dX and one for dL/dF. Between the two it spends
PROJECTION_SHARE of the budget, with u (d, *shape) kept under PROJECTION_BYTES."""
PROJECTION_SHARE = 0.1
PROJECTION_BYTES = 2**27
MINIMUM_SETS = 2
"""Sets `channels` always covers exactly: the first and the last."""


@dataclass(frozen=True)
class Choice:
    """What a method covers and what it costs."""

    method: str              # 'full' or 'channels'
    sets: int                # sets covered exactly (k / groups of them for full)
    of_sets: int             # k / groups
    projections: int         # random directions per tensor (channels), 0 for full
    forwards: float          # whole-layer forwards, the forward check included
    seconds: float           # forwards x one forward

    def coverage(self) -> str:
        """'every coordinate' or '2 of 64 sets exactly + 16 random projections'."""
        if self.method == "full" or self.sets >= self.of_sets and not self.projections:
            return "every coordinate"
        return f"{self.sets} of {self.of_sets} input-channel sets exactly + {self.projections} random projections"


def _model(geom) -> tuple:
    """(shapes with the plain filters, dilation, stride, transposed): the cost model's arguments."""
    s = geom.spec
    return geom.costs, s.dilation, s.stride, s.transposed


def per_set(geom) -> int:
    """Forwards one set costs, dL/dX and dL/dF together."""
    return numerical.set_forwards(*_model(geom))


def full(geom, forward_seconds: float) -> Choice:
    """`full`: every coordinate, at the floor."""
    forwards = numerical.full_forwards(*_model(geom))
    k_w = geom.filters[1]
    return Choice("full", k_w, k_w, 0, forwards, forwards * forward_seconds)


def channels(geom, forward_seconds: float, sets: int, projections: int) -> Choice:
    """`channels` covering `sets` sets exactly and `projections` directions per tensor."""
    k_w = geom.filters[1]
    sets = min(sets, k_w)
    forwards = 1 + FORWARD_CHECKS + (1 if geom.spec.bias else 0) + 2 * projections + sets * per_set(geom)
    return Choice("channels", sets, k_w, projections, forwards, forwards * forward_seconds)


def minimum(geom, forward_seconds: float) -> Choice:
    """What `channels` covers whatever the budget: the first and the last set, PROJECTIONS[0]
    directions per tensor; `full` where that costs no more (a layer of one or two sets)."""
    return _no_dearer_than_full(geom, forward_seconds, channels(geom, forward_seconds, MINIMUM_SETS, PROJECTIONS[0]))


def _no_dearer_than_full(geom, forward_seconds: float, choice: Choice) -> Choice:
    """`choice`, or `full` where `choice` covers every set or costs as many forwards (k / groups = 1:
    one set plus projections costs more than every coordinate)."""
    whole = full(geom, forward_seconds)
    return whole if choice.sets >= choice.of_sets or choice.forwards >= whole.forwards else choice


def directions(x_size: int, w_size: int, forward_seconds: float, seconds: float) -> int:
    """Random directions for `channels`: PROJECTION_SHARE of `seconds` (two forwards a
    direction), within PROJECTIONS and the memory PROJECTION_BYTES allows (x and w sizes)."""
    fewest, most = PROJECTIONS
    share = int(PROJECTION_SHARE * seconds / (2 * max(forward_seconds, 1e-9)))
    memory = PROJECTION_BYTES // (8 * max(x_size, w_size))
    return max(fewest, min(share, most, memory))


def choose(geom, forward_seconds: float, budget: float, sets: int | None = None,
           projections: int | None = None) -> Choice:
    """What `auto` runs: `full` when it fits `budget` seconds, else `channels` with as many sets
    as fit after its projections, never fewer than the minimum. `sets` and `projections` pin
    it instead (--channels, --projections): full when `sets` covers them all."""
    k_w = geom.filters[1]
    whole = full(geom, forward_seconds)
    if sets is not None:
        return whole if sets >= k_w else channels(geom, forward_seconds, sets, projections or PROJECTIONS[0])
    if whole.seconds <= budget:
        return whole
    d = projections or directions(math.prod(geom.shapes["x"]), math.prod(geom.filters), forward_seconds, budget)
    base = channels(geom, forward_seconds, 0, d)
    fits = int(max(budget - base.seconds, 0) / max(per_set(geom) * forward_seconds, 1e-12))
    return _no_dearer_than_full(geom, forward_seconds, channels(geom, forward_seconds, max(fits, min(MINIMUM_SETS,
                                                                                                      k_w)), d))


def shards(seconds: list[float], target: float) -> int:
    """The fewest N for which `--shard i/N` (layers i, i + N, i + 2N, ... in loader order) keeps
    every shard's estimated seconds within `target`; len(seconds) when even one layer per shard
    does not (a layer alone over the target cannot be split)."""
    for count in range(1, len(seconds) + 1):
        if max(sum(seconds[i::count]) for i in range(count)) <= target:
            return count
    return max(len(seconds), 1)
