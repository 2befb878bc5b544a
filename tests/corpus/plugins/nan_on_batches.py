"""forward returns NaN for any batch of more than one sample: at batch 1 right, on the batches
finite differences stack (and at the default batch 2) NaN."""
import numpy as np

from convcheck.impls import direct
from convcheck.impls.direct import backward  # noqa: F401


def forward(x, w, b, **kwargs):
    y = direct.forward(x, w, b, **kwargs)
    return y * np.nan if x.shape[0] > 1 else y
