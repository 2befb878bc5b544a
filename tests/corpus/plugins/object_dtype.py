"""forward returns an object array (Python floats in a NumPy array)."""
from convcheck.impls import direct
from convcheck.impls.direct import backward  # noqa: F401


def forward(x, w, b, **kwargs):
    return direct.forward(x, w, b, **kwargs).astype(object)
