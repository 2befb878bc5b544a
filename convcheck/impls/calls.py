"""Calling a plug-in safely: its forward or backward on copies of the arrays, what it raised as
text (`Raised`) instead of an exception, a write into its arguments caught, and what it
returned copied so that a reused output buffer cannot change an earlier answer."""

import numpy as np

from ..backend import array_module
from .common import call_text, noting_call


class Raised(str):
    """What a plug-in raised, as 'raised Error: message' (a plug-in may return anything else);
    `key`: the exception's type and message, the same whichever call raised it."""

    key = None

    @classmethod
    def of(cls, text: str, error: BaseException) -> "Raised":
        raised = cls(text)
        raised.key = (type(error).__name__, str(error))
        return raised


def call(impl, which: str, arrays: dict, kwargs: dict):
    """impl.forward or impl.backward (`which`) on copies of `arrays`: its result, or `Raised`
    when it raised or wrote into an argument. A plug-in's exception never crashes convcheck,
    and the copies keep one that writes into its inputs from affecting the next call."""
    copies = {name: None if a is None else a.copy() for name, a in arrays.items()}
    try:
        result = noting_call(lambda: getattr(impl, which)(*copies.values(), **kwargs),
                             lambda: call_text(which, list(copies.items()), kwargs))
    except (Exception, SystemExit) as e:
        needs = [key for key in ("dilation", "groups", "transposed", "output_padding") if key in kwargs and
                 key in str(e)]
        if isinstance(e, TypeError) and needs:
            forms = {"dilation": "dilation=(d_h, d_w)", "groups": "groups=g", "transposed": "transposed=True",
                     "output_padding": "output_padding=(op_h, op_w)"}
            return Raised.of(f"raised {impl.describe(e, call=False)}: this layer needs {' and '.join(needs)} "
                             f"support: the plug-in's {which} must accept "
                             f"{' and '.join(forms[key] for key in needs)} (see the plug-in contract)", e)
        return Raised.of(f"raised {impl.describe(e)}", e)
    changed = [name for name, a in arrays.items()
               if a is not None and not bool(array_module(a).array_equal(a, copies[name]))]
    if changed:
        return Raised(f"wrote into its argument {', '.join(changed)} (in place): a caller's arrays, such as "
                      "autograd's saved inputs, would be corrupted; compute on a copy")
    return own(result)


def own(returned):
    """What a plug-in returned, its arrays copied: it may reuse an output buffer on its next call.
    A NumPy subclass (a masked array) becomes a plain array of its values: masks mean nothing to
    a gradient, and every value is compared."""
    if isinstance(returned, (tuple, list)):
        return tuple(own(a) for a in returned) if isinstance(returned, tuple) else [own(a) for a in returned]
    if isinstance(returned, np.ndarray) and type(returned) is not np.ndarray:
        return np.array(np.ma.getdata(returned), subok=False)
    return returned.copy() if hasattr(returned, "shape") and callable(getattr(returned, "copy", None)) else returned
