"""`full`: every coordinate of dL/dX, dL/dF and dL/db, at the floor of black-box finite
differences (2 (k / groups) prod(m) + 4 whole-layer forwards for a plain layer, `cost.full`).

Guarantee: every element of every gradient is compared with its own finite difference; a
pass means each one is within rtol and atol of it."""

from .. import numerical
from ..options import FORWARD_CHECKS
from .common import bias, exact
from .cost import full_forwards


def run(pb, analytic: dict, tol) -> dict:
    """{dx, dw, db: TensorCheck} at every coordinate; `pb.planned` set for the progress bar."""
    shapes = {"x": pb.x.shape, "w": pb.wc.shape, "b": None if pb.b is None else pb.b.shape}
    pb.planned = pb.forwards + full_forwards(shapes, pb.dilation, pb.stride, pb.transposed) - 1 - FORWARD_CHECKS
    checks = bias(pb, analytic, tol)
    sets = range(pb.wc.shape[1])
    if "x" in analytic:
        checks["dx"] = exact("dx", analytic["x"], numerical.input_channels(pb, sets), tol)
    if "w" in analytic:
        checks["dw"] = exact("dw", analytic["w"], pb.weights(numerical.filter_channels(pb, sets)), tol)
    return checks
