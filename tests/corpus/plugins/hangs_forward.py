"""forward never returns."""
import time

from convcheck.impls.direct import backward  # noqa: F401


def forward(x, w, b, *, stride, padding):
    while True:
        time.sleep(0.01)
