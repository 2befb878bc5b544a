import sys
from pathlib import Path

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from convcheck.errors import SpecError
from convcheck.geometry import geometry
from convcheck.spec import ConvSpec

PLUGINS = Path(__file__).parent / "plugins"
sys.path.insert(0, str(PLUGINS))


def make_spec(dims: int = 2, **fields) -> ConvSpec:
    """A small valid layer of `dims` spatial axes; any field may be overridden (ints are widened
    to one per axis, padding to (before, after) per axis)."""
    base = dict(n=(6, 7, 5)[:dims] if dims != 2 else (6, 7), m=(3, 2, 2)[:dims], k=2, p=3, padding=0, stride=1,
                dilation=1, name="t")
    base.update(fields)
    for key in ("n", "m", "stride", "dilation"):
        if isinstance(base.get(key), int):
            base[key] = (base[key],) * dims
    if isinstance(base["padding"], int):
        base["padding"] = (base["padding"],) * (2 * dims)
    return ConvSpec(**base)


pairs = st.tuples(st.integers(1, 4), st.integers(1, 4))
paddings = st.one_of(
    st.sampled_from(["valid", "same", "full"]),
    st.integers(0, 3).map(lambda p: (p,) * 4),
    st.tuples(st.integers(0, 3), st.integers(0, 3)).map(lambda p: (p[0], p[0], p[1], p[1])),
    st.tuples(*[st.integers(0, 3)] * 4),
)


def axes(dims: int, low: int, high: int):
    return st.tuples(*[st.integers(low, high)] * dims)


def axis_paddings(dims: int):
    """Every padding form of a layer with `dims` spatial axes."""
    return st.one_of(st.sampled_from(["valid", "same", "full"]), st.integers(0, 3).map(lambda p: (p,) * (2 * dims)),
                     axes(dims, 0, 3).map(lambda p: tuple(v for v in p for _ in (0, 1))), axes(2 * dims, 0, 3))


@st.composite
def specs(draw, dtype="float64", conv=False, dims=2, transposed=False):
    """Random valid layers of `dims` spatial axes (None: 1, 2 or 3 drawn); conv=True adds dilation
    (1-3 per axis) and groups (a divisor of k and p). 3-D layers are kept smaller. transposed:
    True, False, or None (drawn): transposed layers get 'valid' or numeric padding and an
    output padding below the stride or the dilation on each axis."""
    dims = draw(st.sampled_from([1, 2, 3])) if dims is None else dims
    transposed = draw(st.booleans()) if transposed is None else transposed
    k, p = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    extra = {}
    if conv:
        groups = draw(st.sampled_from([1, 2, 3, 4]))
        k, p = k * groups, p * groups
        extra = {"dilation": draw(axes(dims, 1, 3)), "groups": groups}
    size, filt = {1: (12, 5), 2: (9, 5), 3: (6, 3)}[dims]
    stride = draw(axes(dims, 1, 4))
    padding = draw(axis_paddings(dims))
    if transposed:
        size = size // 2 + 1                                                     # outputs grow by the stride
        padding = padding if padding not in ("same", "full") else "valid"
        dilation = extra.get("dilation", (1,) * dims)
        extra.update(transposed=True, output_padding=tuple(draw(st.integers(0, max(s, d) - 1))
                                                           for s, d in zip(stride, dilation)))
    spec = make_spec(
        dims, n=draw(axes(dims, 1, size)), m=draw(axes(dims, 1, filt)), k=k, p=p, batch=draw(st.integers(1, 2)),
        stride=stride, padding=padding, bias=draw(st.booleans()), dtype=dtype,
        seed=draw(st.integers(0, 2**16)), **extra)
    try:
        geometry(spec)
    except SpecError:
        assume(False)
    return spec


def layer_data(spec, seed=0):
    """x, w, b (None without bias) and an upstream gradient g of the layer's shapes, float64."""
    shapes = geometry(spec).shapes
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shapes["x"]), rng.standard_normal(shapes["w"]),
            rng.standard_normal(shapes["b"]) if shapes["b"] else None, rng.standard_normal(shapes["y"]))


def conv_kwargs(spec):
    """The keyword arguments the built-ins take for the layer (transposed ones included)."""
    kwargs = {"stride": spec.stride, "padding": geometry(spec).padding, "dilation": spec.dilation,
              "groups": spec.groups}
    if spec.transposed:
        kwargs.update(transposed=True, output_padding=spec.out_padding)
    return kwargs


class ShapeMismatch(Exception):
    """The engine produced an array whose shape differs from the explained one (a convcheck bug)."""


def confirm(explanation) -> None:
    """Run the built-in engine on random data of the spec's shapes; raise ShapeMismatch on any disagreement."""
    from convcheck.impls import direct, im2col

    geom = explanation.geometry
    s, shapes = geom.spec, geom.shapes
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(shapes["x"]), rng.standard_normal(shapes["w"])
    b = rng.standard_normal(shapes["b"]) if s.bias else None
    kwargs = {"stride": s.stride, "padding": geom.padding, "dilation": s.dilation, "groups": s.groups}
    if s.transposed:
        kwargs.update(transposed=True, output_padding=s.out_padding)
    expected = {t.key: t.shape for t in explanation.tensors}

    def agree(key, shape):
        if shape != expected[key]:
            raise ShapeMismatch(f"{s.where}: layer '{s.name}': the engine's {key} has shape {shape}, but the "
                                f"explanation says {expected[key]}; this is a convcheck bug, please report it")

    y = direct.forward(x, w, b, **kwargs)
    agree("y", y.shape)
    dx, dw, db = direct.backward(y, x, w, b, **kwargs)
    agree("dx", dx.shape)
    agree("dw", dw.shape)
    agree("db", None if db is None else db.shape)
    if s.transposed:                        # its matrices are the plain layer's, checked by the engine above
        return
    group = im2col.channels_first(x[:1], geom.padding)[:s.k // s.groups]   # phi is per group and sample
    phi_t = im2col.im2col(group, s.m, geom.out, im2col.taps(s.m, s.stride, geom.out, s.dilation))  # phi^T
    expected["phi"] = geom.phi
    agree("phi", phi_t.T.shape)


def reach_matrix(n: int, o: int, m: int, s: int, d: int, lo: int, transposed: bool = False) -> np.ndarray:
    """(n, o) 0/1 from `colouring.tap_outputs`: pixel i meets output q through some tap (the
    dense form the colouring proofs compare; the engine never builds it)."""
    from convcheck.colouring import tap_outputs
    dense = np.zeros((n, o + 1))
    np.put_along_axis(dense, tap_outputs(n, o, m, s, d, lo, transposed), 1, axis=1)
    return dense[:, :o]


def reach_loop(n: int, o: int, m: int, s: int, d: int, lo: int, transposed: bool = False) -> np.ndarray:
    """The same (n, o) 0/1 by a loop over pixels, taps and outputs, from the forward's definition."""
    loop = np.zeros((n, o))
    for i in range(n):
        for a in range(m):
            for q in range(o):
                if (q == i * s + a * d - lo) if transposed else (i == q * s + a * d - lo):
                    loop[i, q] = 1
    return loop
