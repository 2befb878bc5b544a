"""`fast`: DIRECTIONS random projections of dL/dX and of dL/dF (each filter on its own), and
every coordinate of dL/db: 2 + 2 DIRECTIONS + 1 forwards, whatever the layer's size.

Guarantee: a gradient off by more than the tolerance along a random standard-normal direction
fails; an error confined to a few elements shows with high probability, but a projection says
which tensor is wrong, not which element (rerun with `full` to find it)."""

from .. import numerical
from ..compare import compare_projections
from ..result import Coverage
from .common import bias, canonical

DIRECTIONS = 2
"""Random directions of `fast` (also what the consistency check beside a failing forward uses)."""


def run(pb, analytic: dict, tol, rng, directions: int) -> dict:
    """`directions` random projections of dL/dX and dL/dF (per filter), all of dL/db."""
    tensors = [t for t in ("x", "w") if t in analytic]
    pb.planned = pb.forwards + len(tensors) * directions + ("b" in analytic)
    found = numerical.projections(pb, tensors, rng, directions)
    checks = bias(pb, analytic, tol)
    for t in tensors:
        check = compare_projections("d" + t, canonical(pb, t, analytic), *found[t], *tol)
        check.expected_shape = check.actual_shape = tuple(analytic[t].shape)
        check.coverage = Coverage(total=check.total, projections=directions, filters=t == "w")
        checks["d" + t] = check
    return checks
