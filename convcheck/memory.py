"""What a check holds in memory at its peak, from the layer's sizes alone (nothing allocated).

`verify` refuses a layer whose estimate exceeds the machine's memory before it draws any data,
the command line refuses such a spec before any layer runs (exit 2), and `plan` prints the
estimate beside the time. Counted in float64 (8 bytes a number), at the batch N the check runs
at, for the forward finite differences go through (the built-in im2col's; the plug-in's own
memory is its own and not counted):

- data: x, w, b and G (= dL/dY), the plug-in's gradients and the differences being filled
  (x- and w-sized), Y and the unperturbed output, and copies in the spec's dtype where it is
  not float64 (the forward check's second draw is let go once it is checked);
- one forward: the input padded, N k prod(n + pads) (for a transposed layer, its output's
  full map), and im2col's column matrix, one group at a time: N prod(o) (k / groups) prod(m)
  (transposed: N prod(n) (p / groups) prod(m)), and Y;
- finite differences: batches of perturbed copies as the engines make them, as many as
  numerical.BATCH_BYTES holds and never fewer than one copy of x with its output (or one
  bank of w), and the change map a colour class's pixels are
  gathered from (`colouring.tap_outputs`: m entries a pixel, no n x o matrix); the random
  directions of projections are drawn a chunk at a time inside those batches.
- comparing a gradient with its differences: the error, |reference| and their ratio, each the
  size of the larger of x and w.
The largest of the four phases counts once on top of the data. It is an estimate of what
convcheck allocates, good to a small factor; what it is for is refusing layers that need many
times the machine, at once, with the field that makes them so large.
"""

import math
import os
from dataclasses import dataclass

from .dtypes import BYTES as DTYPE_BYTES

BYTES = 8
BATCH_BYTES = 16 * 2**20
"""numerical.BATCH_BYTES (that module imports NumPy; this one must not)."""


@dataclass(frozen=True)
class Estimate:
    """Peak bytes, and the part of the check that dominates them with the field that drives it."""

    bytes: int
    part: str                # 'the column matrix of one forward (im2col)', ...
    part_bytes: int          # what that part alone takes
    field: str               # the spec field to shrink first: 'm', 'n', 'padding', ...
    formula: str             # how the part's size comes about, with the layer's numbers

    def text(self) -> str:
        return human(self.bytes)


def estimate(geom) -> Estimate:
    """The peak memory of checking the layer of `geom` (whose spec is at the batch checked)."""
    s = geom.spec
    shapes = geom.shapes
    n_batch, k, p, groups = s.batch_size, s.k, s.p, s.groups
    x, w, y = (math.prod(shapes[t]) for t in ("x", "w", "y"))
    taps = math.prod(s.m)
    out = math.prod(geom.out)
    cast = 0 if s.dtype == "float64" else DTYPE_BYTES[s.dtype]  # the plug-in's copies in its dtype (float64: none)
    data = BYTES * (3 * x + 3 * w + 3 * y + 2 * p) + cast * (x + w + y)
    if s.transposed:
        padded = n_batch * p * math.prod(geom.padded)
        columns = n_batch * math.prod(s.n) * (p // groups) * taps
        column_text = (f"N·prod(n)·(p / groups)·prod(m) = {n_batch}·{_product(s.n)}·{p // groups}·{_product(s.m)}")
    else:
        padded = n_batch * k * math.prod(geom.padded)
        columns = n_batch * out * (k // groups) * taps
        column_text = (f"N·prod(o)·(k / groups)·prod(m) = {n_batch}·{_product(geom.out)}·{k // groups}·"
                       f"{_product(s.m)}")
    forward = BYTES * (padded + columns + y)
    copies = max(1, BATCH_BYTES // (2 * BYTES * (x + y + columns)))    # as numerical.input_channels and
    banks = max(1, BATCH_BYTES // (2 * BYTES * (y + w)))               # filter_channels fill their batches
    per_copy = BYTES * (x + 2 * y + padded + columns)      # a perturbed copy of x, its output, the difference
    per_bank = BYTES * (w + 2 * y)                         # a perturbed bank of w, its output, the difference
    batches = copies * BYTES * (x + 2 * y)                 # what the copies add beyond their forwards
    differences = max(copies * per_copy, banks * per_bank + forward) + 2 * BYTES * y   # and the change map
    comparing = 3 * BYTES * max(x, w)                              # the error, |reference| and the ratio
    parts = {"the column matrix of one forward (im2col)": (BYTES * columns, "m", column_text),
             "the padded input of one forward": (BYTES * padded, "padding",
                                                 f"N·k·prod(n + pads) = {n_batch}·{k}·{_product(geom.padded)}"),
             "the finite differences' batches of perturbed copies": (
                 batches, "n", f"{copies} cop{'y' if copies == 1 else 'ies'} of x {shapes['x']} and of Y "
                               f"{shapes['y']}, twice"),
             "the layer's arrays": (data, "n", f"x {shapes['x']}, w {shapes['w']}, Y {shapes['y']}")}
    part, (part_bytes, field, formula) = max(parts.items(), key=lambda item: item[1][0])
    if field == "padding" and any(d > 1 for d in s.dilation) and s.padding in ("same", "full"):
        field = "dilation"                                    # 'same'/'full' padding grows with the dilation
    return Estimate(data + max(forward, differences, comparing), part, part_bytes, field, formula)


def _product(values) -> str:
    return "·".join(str(v) for v in values) if len(values) > 1 else str(values[0])


def human(count: float) -> str:
    """Bytes as '1.2 GiB', '340 MiB', '12 KiB'."""
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= size:
            return f"{count / size:.3g} {unit}"
    return f"{int(count)} B"


def machine() -> int:
    """This machine's memory in bytes: the physical memory, or a cgroup's limit when lower (a
    container, a CI runner); None where neither can be read."""
    total = None
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        pass
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as limit:
                value = limit.read().strip()
        except OSError:
            continue
        if value.isdigit() and int(value) < (total or math.inf):
            total = int(value)
    return total


def refuse(spec, available: int | None = None) -> None:
    """A SpecError, naming the field to shrink, when checking `spec` (at the batch the check
    runs at) would need more than `available` bytes, the machine's memory by default."""
    from .errors import SpecError
    from .geometry import geometry
    from .options import checked
    available = machine() if available is None else available
    need = estimate(geometry(checked(spec)))
    if available is not None and need.bytes > available:
        raise SpecError(f"checking this layer needs about {need.text()}, this machine has {human(available)}: "
                        f"{need.part} alone takes {human(need.part_bytes)} ({need.formula}); shrink {need.field}",
                        file=spec.source, line=spec.line, layer=spec.name, field=need.field)
