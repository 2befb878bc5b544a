"""Coverage methods: which coordinates of dL/dX, dL/dF and dL/db finite differences compare,
and what a pass then guarantees. One module each, its guarantee in its docstring:

    full      every coordinate, at the floor of black-box finite differences
    channels  every coordinate of some input channels (first and last always) + projections
    sample    `samples` coordinates per tensor, where mistakes live first
    fast      random projections only: which tensor is wrong, not where
    auto      `full` when its estimated time fits the budget, else `channels` (cost.choose)

dL/db is checked at every coordinate by all of them (one forward). `cost` prices each method
before it runs, from one timed forward: `auto`'s choice, the over-budget line, `convcheck plan`.
"""

from . import channels, cost, fast, full, sample


def choose(method: str, geom, forward_seconds: float, budget: float, pinned, projections) -> str:
    """The method that runs: `method`, or for 'auto' what cost.choose picks within `budget`."""
    return cost.choose(geom, forward_seconds, budget, pinned, projections).method if method == "auto" else method


def run(method: str, pb, analytic: dict, tol, rng, geom, *, samples: int, deadline: float, pinned=None,
        projections=None) -> tuple[dict, dict]:
    """({dx, dw, db: TensorCheck}, the options that redo exactly this coverage on any machine)
    for a chosen `method` (not 'auto'); `deadline` (time.perf_counter seconds) bounds `channels`."""
    if method == "full":
        return full.run(pb, analytic, tol), {"method": "full"}
    if method == "channels":
        checks, covered, directions = channels.run(pb, analytic, tol, rng, deadline, pinned, projections)
        return checks, {"method": "channels", "channels": max(covered, 1), "projections": directions}
    if method == "sample":
        return sample.run(pb, analytic, tol, geom, rng, samples), {"method": "sample", "samples": samples}
    directions = projections or fast.DIRECTIONS
    return fast.run(pb, analytic, tol, rng, directions), {"method": "fast", "projections": directions}
