"""Is each gradient the gradient of the plug-in's own forward? Asked when that forward fails.

When the forward check fails, every gradient's verdict comes from finite differences through
the loop reference, so that "pass" means right for this layer whatever the forward does. A
learner still wants to know how the backward relates to the forward they wrote: a backward
that is the exact gradient of a wrong forward (both written with the filter flipped, say) needs
the forward fixed and the backward changed with it; a backward that is right for the layer
needs only the forward fixed. This module asks that question, cheaply: `fast`'s DIRECTIONS random
projections of dL/dX and of dL/dF (per filter) and every coordinate of dL/db, through the
plug-in's forward, judged as `fast` judges them (compare.compare_projections), then words the
answer beside the verdict (JSON: each gradient's `own_forward`).
"""

import numpy as np

from . import numerical
from .backend import array_module
from .compare import compare, compare_projections
from .dtypes import HALF
from .methods import fast
from .result import OwnForward
from .spec import LABELS

FAST_DIRECTIONS = fast.DIRECTIONS
"""Random directions per tensor, as `fast` takes them: an error K times its tolerance hides
from both with probability below (4 / K)^2 (compare.compare_projections)."""


def consistency(forward, y, raised: bool, data: dict, analytic: dict, tol: tuple, kwargs: dict, conv: dict,
                dtype: str, seed: int, describe=None) -> tuple[dict, str]:
    """({tensor ('x', 'w', 'b'): True, False or None}, why None or '') for the gradients in `analytic`.

    y: what the forward returned at data's point (`raised`: it raised instead); data: float64
    x, w, b, g on the check's backend; kwargs: stride=, padding=; conv: dilation=, groups= when
    not 1. Runs 2 FAST_DIRECTIONS + 2 forwards (with bias), none of them counted in the report."""
    reason = _cannot_ask(y, raised, data["g"].shape, dtype)
    if reason:
        return {t: None for t in analytic}, reason
    try:
        pb = numerical.Problem(forward, data["x"], data["w"], data["b"], data["g"], kwargs["stride"],
                               kwargs["padding"], describe=describe, conv=conv)
        tensors = [t for t in ("x", "w") if t in analytic]
        found = numerical.projections(pb, tensors, np.random.default_rng([seed, 1]), FAST_DIRECTIONS)
        answers = {t: compare_projections("d" + t, pb.canonical(analytic[t]) if t == "w" else analytic[t], *found[t],
                                          *tol).passed for t in tensors}
        if "b" in analytic:
            answers["b"] = compare("db", analytic["b"], numerical.bias(pb), *tol).passed
    except numerical.NumericalError as e:
        return {t: None for t in analytic}, f"finite differences through your forward failed: {e}"
    return answers, ""


def _cannot_ask(y, raised: bool, shape: tuple, dtype: str) -> str:
    """Why the forward has no gradient to compare with, or ''."""
    if raised:
        return "your forward raised, so it has no gradient to compare with"
    if getattr(y, "shape", None) != shape:
        what = f"shape {tuple(y.shape)}" if hasattr(y, "shape") else type(y).__name__
        return f"your forward returns {what}, not Y {shape}: it has no gradient to compare with"
    if dtype in HALF:
        return f"not asked in {dtype}: a {dtype} forward rounds too coarsely for finite differences of its own"
    if getattr(getattr(y, "dtype", None), "kind", None) not in ("f", "c"):
        return (f"your forward returns dtype {getattr(y, 'dtype', None)}, not numbers: it has no gradient to "
                "compare with")
    if not bool(array_module(y).isfinite(y).all()):
        return "your forward returns non-finite values: it has no gradient to compare with"
    return ""


def note(name: str, passed: bool, consistent: bool | None, reason: str, forward_mistake: str | None) -> OwnForward:
    """The sentence beside a gradient judged against the true layer while the forward failed."""
    label = LABELS[name]
    if consistent is None:
        return OwnForward(None, f"{label} was judged against the true layer only: {reason}")
    if consistent and not passed:
        flipped = forward_mistake == "forward-flipped"
        which = ", which turns the filter by 180°" if flipped else ""
        return OwnForward(True, f"{label} is the exact gradient of your forward{which}, but not of this layer: "
                                f"fix the forward, and {'flip' if flipped else 'change'} the backward with it")
    if consistent:
        return OwnForward(True, f"{label} is right for this layer and the gradient of your forward too: the "
                                "forward's mistake does not reach it")
    if passed:
        return OwnForward(False, f"{label} is right for this layer but not the gradient of your forward: keep this "
                                 "backward and fix the forward")
    return OwnForward(False, f"{label} is wrong for this layer and not the gradient of your forward either: both "
                             "need fixing")
