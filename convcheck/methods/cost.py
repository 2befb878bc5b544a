"""What a check costs before it runs, from one timed forward of the layer: `full` at the floor,
the minimum `channels` always covers, and what `auto` chooses within a budget. `verify`
decides with it and says when even the minimum does not fit; `convcheck plan` prints it.

Costs are whole-layer forwards (output elements computed over one layer's output), the
forward check and the unperturbed point included, times the seconds of one forward. A set is
one of the filters' k / groups channels: input channel j of every group for dL/dX and
dL/dF[:, j], `set_forwards` forwards. The functions taking `geom` take the layer's `Geometry`.
"""

import math
from dataclasses import dataclass

from .. import numerical
from ..colouring import classes
from ..options import FORWARD_CHECKS
from .fast import DIRECTIONS as FAST_DIRECTIONS

PROJECTIONS = (16, 64)
"""Fewest and most random directions `channels` adds for errors in the channels it does not
cover exactly; each costs one forward for dL/dX and one for dL/dF. Between the two it spends
PROJECTION_SHARE of the budget (the directions are drawn a chunk at a time, never all held).
"""
PROJECTION_SHARE = 0.1
MINIMUM_SETS = 2
"""Sets `channels` always covers exactly: the first and the last."""

BACKWARD_FORWARDS = 2
"""`plan` counts the plug-in's backward as this many forwards (dL/dX and dL/dF each cost about
one forward's multiply-adds)."""
OVER = 1.1
"""A layer is said to have run over its budget past this multiple of it (finite differences
only): `channels` stops when the next set would not fit, so a run ends a little past it."""


def colour_classes(shapes: dict, dilation=None, stride=None, transposed: bool = False) -> int:
    """Forwards that every coordinate of one set of input channels of dL/dX costs (`colouring.colour`),
    shapes["w"] the canonical filters (p, k / groups, *m) (`Geometry.filters`):
    prod(m), per axis fewer where the input holds fewer classes; a transposed layer
    prod(floor((m - 1) gcd(s, d) / s) + 1) (`colouring.transposed_colour`)."""
    sizes, m = shapes["x"][2:], shapes["w"][2:]
    dilation, stride = dilation or (1,) * len(sizes), stride or (1,) * len(sizes)
    return math.prod(classes(n, t, s, d, transposed) for n, t, s, d in zip(sizes, m, stride, dilation))


def set_forwards(shapes: dict, dilation=None, stride=None, transposed: bool = False) -> int:
    """Forwards that every coordinate of one set (input channel j of every group) costs, in both
    dL/dX and dL/dF."""
    return colour_classes(shapes, dilation, stride, transposed) + math.prod(shapes["w"][2:])


def full_forwards(shapes: dict, dilation=None, stride=None, transposed: bool = False) -> int:
    """Whole-layer forwards of `full`, the floor of black-box finite differences:
    2 (k / groups) prod(m) + 4 for a plain layer, each axis capped where the input is smaller.
    Every set of dL/dX (colour classes) and every tap of the filters' k / groups channels, 1 for
    dL/db (none without bias), 1 unperturbed point and the forward check's FORWARD_CHECKS calls
    (2); a transposed layer's dL/dX needs fewer classes. shapes["w"]: the canonical filters
    (p, k / groups, *m), `Geometry.filters`."""
    return shapes["w"][1] * set_forwards(shapes, dilation, stride, transposed) + (1 if shapes["b"] else 0) + 1 + \
        FORWARD_CHECKS


def over_budget(spec, pb, least, budget: float) -> str:
    """The line said before finite differences start when even the minimum coverage (`least`, a
    Choice) does not fit."""
    k_w = pb.w.shape[1]
    inputs = numerical.channels_of(pb, sorted({0, k_w - 1}))
    fast = 2 + 2 * FAST_DIRECTIONS + (pb.b is not None)
    return (f"layer '{spec.name}': the minimum exact coverage (input channels {_words(inputs)} and "
            f"{least.projections} random projections per tensor, {least.forwards:g} forwards) takes about "
            f"{least.seconds:.3g} s at {pb.seconds:.2g} s a forward; --budget is {budget:g} s. convcheck keeps that "
            f"minimum; --method fast would take about {fast * pb.seconds:.2g} s (which tensor is wrong, not where)")


def _words(values: list) -> str:
    return " and ".join(str(v) for v in values) if len(values) <= 2 else ", ".join(str(v) for v in values)


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
    return set_forwards(*_model(geom))


def full(geom, forward_seconds: float) -> Choice:
    """`full`: every coordinate, at the floor."""
    forwards = full_forwards(*_model(geom))
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


def directions_within(forward_seconds: float, seconds: float) -> int:
    """Random directions for `channels`: PROJECTION_SHARE of `seconds` (two forwards a
    direction), within PROJECTIONS."""
    fewest, most = PROJECTIONS
    return max(fewest, min(int(PROJECTION_SHARE * seconds / (2 * max(forward_seconds, 1e-9))), most))


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
    d = projections or directions_within(forward_seconds, budget)
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
