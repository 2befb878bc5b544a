"""A derivation step (`Step`) and the text helpers every explanation writes its numbers with:
a layer's sizes per axis ("rows: 9; columns: 9"), planes ("7 × 7"), symbols ("o_h·o_w"),
the array layout and the padding sides in the layer's own dimensions."""

from dataclasses import dataclass

from .geometry import LINES, Geometry, sub


@dataclass(frozen=True)
class Step:
    id: str                  # stable key, e.g. 'dw.size'
    view: str                # 'direct' or 'im2col'
    title: str
    formula: str             # symbols
    numbers: str             # the formula with this spec's numbers
    result: str
    note: str = ""
    latex: str = ""          # the step's equation for Markdown, if it has one
    compact: bool = False    # shown without --explain


def hw(values) -> str:
    """'5' when every axis agrees, '8 × 6' otherwise (rows × columns in 2-D)."""
    values = tuple(values)
    return str(values[0]) if len(set(values)) == 1 else " × ".join(map(str, values))


def plane(values) -> str:
    """A size written out, every axis: '96 × 96' (2-D), '100' (1-D), '8 × 16 × 16' (3-D)."""
    return " × ".join(map(str, values))


def per_axis(geom: Geometry, text) -> str:
    """text(axis) for every spatial axis, written once when they all read the same."""
    texts = [text(a) for a in range(geom.dims)]
    if len(set(texts)) == 1:
        return texts[0]
    return "; ".join(f"{name}: {t}" for name, t in zip(LINES[geom.dims], texts))


def symbols(name: str, dims: int, joint: str = " × ") -> str:
    """'n_h × n_w' (2-D), 'n' (1-D), 'n_d × n_h × n_w' (3-D); joint '·' for products."""
    return joint.join(sub(name, a, dims) for a in range(dims))


def layout_of(dims: int) -> str:
    """The spatial axes of x in array layout: 'H, W' (2-D), 'L' (1-D), 'D, H, W' (3-D)."""
    return {1: "L", 2: "H, W", 3: "D, H, W"}[dims]


def sides(dims: int) -> str:
    """The padding's two sides in a per-axis formula: 'top + bottom' in 2-D, 'before + after' else."""
    return "top + bottom" if dims == 2 else "before + after"


def axis_numbers(geom: Geometry, a: int):
    """(n, m, s, lo, hi, o, r, d) of one axis; m is the filter's span d (m - 1) + 1 when dilated."""
    s = geom.spec
    return (s.n[a], geom.extent[a], s.stride[a], *geom.pads[a], geom.out[a], geom.leftover[a], geom.dilated[a])


def bias_step(geom: Geometry) -> Step:
    s = geom.spec
    return Step(
        "db", "direct", "dL/db_j = Σ dL/dY^(j)",
        f"one number per {'output channel' if s.transposed else 'filter'}: the sum over batch and positions",
        f"p = {s.p} sums of {s.batch_size} × {plane(geom.out)} values" if s.bias else "no bias",
        f"dL/db is array {geom.shapes['db']}" if s.bias else "the spec has bias: false: no b and no dL/db",
        latex=r"\frac{\partial L}{\partial b_j} = \sum \frac{\partial L}{\partial Y^{(j)}}", compact=True)
