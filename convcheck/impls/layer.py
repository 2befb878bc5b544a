"""`--impl layer:PATH.py:ClassName`: a layer class as courses write them (CS 7643 style).

    layer = ClassName(in_channels=k, out_channels=p, kernel_size=m, stride=s, padding=pad)
    layer.weight, layer.bias = w, b           # (p, k, m_h, m_w), (p,): set after construction
    out = layer.forward(x)
    layer.backward(dout)                      # gradients left on the object: layer.dx, layer.dw, layer.db
                                              # (a returned array is taken as dx)

kernel_size is an int for a square filter, else (m_h, m_w); stride and padding are ints, so
layers with unequal strides or asymmetric padding (and dilation, groups) are skipped as not
expressible. A spec's `adapter:` block
renames any of these (constructor arguments and attributes) when a course names them
differently, e.g. `adapter: {in_channels: in_c, weight: W, dw: dW}`. A new layer object is made
for every call, so no state leaks between checks. Dilation and groups are not expressible.
"""

from ..errors import ImplError
from .common import ENTRY_ERRORS, bias_or_zeros, call_text, noted, noting_call, one_int_api

NAMES = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "weight", "bias", "dx", "dw", "db")
"""What an `adapter:` block may rename: the constructor's argument names, then attribute names."""


def load(kind: str, target: str):
    """(forward, backward, folder, expressible, bind) for `--impl layer:PATH.py:ClassName`."""
    label = f"{kind}:{target}"
    path, _, class_name = target.rpartition(":")
    if not path or not class_name:
        raise ImplError(f"--impl {label}: expected layer:PATH.py:ClassName")
    from . import load_module
    module, folder = load_module(path, label)
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type) or not all(callable(getattr(cls, f, None)) for f in ("forward", "backward")):
        raise ImplError(f"--impl {label}: {path} defines no class {class_name!r} with forward(x) and backward(dout)")
    return adapt(cls, folder)


def adapt(cls, folder: str | None):
    """(forward, backward, folder, expressible, bind) for the class itself (`convcheck.check(MyConv)`
    in a notebook)."""
    class_name = cls.__name__

    def bind(spec):
        """forward and backward for one spec: its `adapter:` names over the defaults."""
        names = {**{name: name for name in NAMES}, **dict(spec.adapter)}

        def make(w, b, stride, padding):
            top, bottom, left, right = padding
            arguments = {"in_channels": w.shape[1], "out_channels": w.shape[0],
                         "kernel_size": _one(tuple(w.shape[2:])), "stride": stride[0], "padding": top}
            named = {names[key]: value for key, value in arguments.items()}
            try:
                layer = cls(**named)
            except TypeError as e:
                raise noted(TypeError(f"{e}; if the class names its arguments differently, rename them with an "
                                      "'adapter:' block in the spec (see the README)"),
                            lambda: call_text(class_name, kwargs=named)) from None
            except ENTRY_ERRORS as e:
                raise noted(e, lambda: call_text(class_name, kwargs=named))
            setattr(layer, names["weight"], w.copy())
            setattr(layer, names["bias"], bias_or_zeros(b, w))
            return layer

        def run(layer, method: str, array, label: str):
            return noting_call(lambda: getattr(layer, method)(array),
                               lambda: call_text(f"{class_name}.{method}", [(label, array)]))

        def forward(x, w, b, *, stride, padding):
            return run(make(w, b, stride, padding), "forward", x, "x")

        def backward(dy, x, w, b, *, stride, padding):
            layer = make(w, b, stride, padding)
            run(layer, "forward", x, "x")
            returned = run(layer, "backward", dy, "dout")
            dx = returned if hasattr(returned, "shape") else getattr(layer, names["dx"], None)
            return dx, getattr(layer, names["dw"], None), None if b is None else getattr(layer, names["db"], None)
        return forward, backward

    forward, backward = bind(_Plain())
    return forward, backward, folder, one_int_api, bind


class _Plain:
    adapter = ()


def _one(pair):
    return pair[0] if pair[0] == pair[1] else pair

