import sys
from pathlib import Path

from hypothesis import assume
from hypothesis import strategies as st

from convcheck.errors import SpecError
from convcheck.geometry import geometry
from convcheck.spec import ConvSpec

PLUGINS = Path(__file__).parent / "plugins"
sys.path.insert(0, str(PLUGINS))


def make_spec(**fields) -> ConvSpec:
    """A small valid layer; any field may be overridden (ints are widened to pairs)."""
    base = dict(n=(6, 7), m=(3, 2), k=2, p=3, padding=(0, 0, 0, 0), stride=(1, 1), name="t")
    base.update(fields)
    for key in ("n", "m", "stride", "dilation"):
        if isinstance(base.get(key), int):
            base[key] = (base[key], base[key])
    if isinstance(base["padding"], int):
        base["padding"] = (base["padding"],) * 4
    return ConvSpec(**base)


pairs = st.tuples(st.integers(1, 4), st.integers(1, 4))
paddings = st.one_of(
    st.sampled_from(["valid", "same", "full"]),
    st.integers(0, 3).map(lambda p: (p,) * 4),
    st.tuples(st.integers(0, 3), st.integers(0, 3)).map(lambda p: (p[0], p[0], p[1], p[1])),
    st.tuples(*[st.integers(0, 3)] * 4),
)


@st.composite
def specs(draw, dtype="float64", conv=False):
    """Random valid layers; conv=True adds dilation (1-3 per axis) and groups (a divisor of k and p)."""
    k, p = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    extra = {}
    if conv:
        groups = draw(st.sampled_from([1, 2, 3, 4]))
        k, p = k * groups, p * groups
        extra = {"dilation": (draw(st.integers(1, 3)), draw(st.integers(1, 3))), "groups": groups}
    spec = make_spec(
        n=(draw(st.integers(1, 9)), draw(st.integers(1, 9))), m=(draw(st.integers(1, 5)), draw(st.integers(1, 5))),
        k=k, p=p, batch=draw(st.integers(1, 2)),
        stride=draw(pairs), padding=draw(paddings), bias=draw(st.booleans()), dtype=dtype,
        seed=draw(st.integers(0, 2**16)), **extra)
    try:
        geometry(spec)
    except SpecError:
        assume(False)
    return spec
