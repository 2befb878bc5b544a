"""`--impl cs231n:PATH/layers.py` (and `cs231n-fast:PATH`): CS231n's function pair as a plug-in.

    conv_forward_naive(x, w, b, conv_param) -> (out, cache)     conv_param = {'stride': s, 'pad': p}
    conv_backward_naive(dout, cache) -> (dx, dw, db)

(`conv_forward_fast` / `conv_backward_fast` for cs231n-fast). The cache is opaque: the
backward re-runs the forward for it. The file is imported as part of its package, as the
course's own code imports it (assignment2/cs231n/layers.py is `cs231n.layers`, with
assignment2/ on the path), so `from .fast_layers import ...` and `from cs231n.layers import *`
resolve. That API has one symmetric padding and one stride, a bias always, no dilation and no
groups: other layers are "not expressible in this API" and skipped, not failed.
"""

import os

from ..errors import ImplError
from .common import bias_or_zeros, call_text, noting_call, one_int_api

FUNCTIONS = {"cs231n": ("conv_forward_naive", "conv_backward_naive"),
             "cs231n-fast": ("conv_forward_fast", "conv_backward_fast")}


def load(kind: str, target: str):
    """(forward, backward, folder, expressible, bind) for `--impl KIND:TARGET`."""
    from .files import import_file
    module = import_file(target, f"{kind}:{target}", package=True)
    names = FUNCTIONS[kind]
    missing = [name for name in names if not callable(getattr(module, name, None))]
    if missing:
        raise ImplError(f"--impl {kind}:{target}: defines no {' and no '.join(missing)} (the {kind} adapter calls "
                        f"{names[0]}(x, w, b, conv_param) and {names[1]}(dout, cache))")
    return adapt(*(getattr(module, name) for name in names), os.path.dirname(os.path.realpath(target)))


def adapt(conv_forward, conv_backward, folder: str | None):
    """(forward, backward, folder, expressible, bind) for CS231n's pair of functions themselves
    (`convcheck.check(conv_forward_naive, conv_backward_naive)` in a notebook)."""
    names = (conv_forward.__name__, conv_backward.__name__)

    def call_forward(x, w, b, stride, padding):
        bias, param = bias_or_zeros(b, w), _param(stride, padding)
        return noting_call(lambda: conv_forward(x, w, bias, param),
                           lambda: call_text(names[0], [("x", x), ("w", w), ("b", bias), param]))

    def forward(x, w, b, *, stride, padding):
        return call_forward(x, w, b, stride, padding)[0]

    def backward(dy, x, w, b, *, stride, padding):
        _, cache = call_forward(x, w, b, stride, padding)
        dx, dw, db = noting_call(lambda: conv_backward(dy, cache),
                                 lambda: call_text(names[1], [("dout", dy), "cache"]))
        return dx, dw, None if b is None else db

    return forward, backward, folder, one_int_api, None


def _param(stride, padding) -> dict:
    return {"stride": stride[0], "pad": padding[0]}
