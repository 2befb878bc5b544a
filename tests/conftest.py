import sys
from pathlib import Path

import pytest

from convcheck.spec import ConvSpec

PLUGINS = Path(__file__).parent / "plugins"
sys.path.insert(0, str(PLUGINS))


def make_spec(**fields) -> ConvSpec:
    """A small valid layer; any field may be overridden (ints are widened to pairs)."""
    base = dict(n=(6, 7), m=(3, 2), k=2, p=3, padding=(0, 0, 0, 0), stride=(1, 1), name="t")
    base.update(fields)
    for key in ("n", "m", "stride"):
        if isinstance(base[key], int):
            base[key] = (base[key], base[key])
    if isinstance(base["padding"], int):
        base["padding"] = (base["padding"],) * 4
    return ConvSpec(**base)


@pytest.fixture
def spec_factory():
    return make_spec
