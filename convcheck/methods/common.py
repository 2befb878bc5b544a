"""What every coverage method shares: an exact comparison with the Coverage it amounts to, and
dL/db, which every method checks at every coordinate."""

from .. import numerical
from ..compare import compare, error_map
from ..result import Coverage, TensorCheck


def exact(name, analytic, numeric, tol, flat=None, **coverage) -> TensorCheck:
    """compare() at flat indices (all if None), with the Coverage it amounts to."""
    check = compare(name, analytic, numeric, *tol, flat)
    check.coverage = Coverage(total=check.total, exact=check.checked, **coverage)
    if not check.passed and len(check.expected_shape) >= 3:          # dL/dX and dL/dF; dL/db has no map
        check.error_map = error_map(analytic, numeric, flat)
    return check


def bias(pb, analytic, tol) -> dict:
    """dL/db, every coordinate, whatever the method: it costs one forward."""
    return {"db": exact("db", analytic["b"], numerical.bias(pb), tol)} if "b" in analytic else {}


def canonical(pb, tensor: str, analytic: dict):
    """The analytic gradient in the layout the engines' projections use (dL/dF: `Problem.wc`'s)."""
    return pb.canonical(analytic["w"]) if tensor == "w" else analytic[tensor]
