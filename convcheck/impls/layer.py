"""`--impl layer:PATH.py:ClassName`: a layer class as courses write them (CS 7643 style).

    layer = ClassName(in_channels=k, out_channels=p, kernel_size=m, stride=s, padding=pad)
    layer.weight, layer.bias = w, b           # (p, k, m_h, m_w), (p,): set after construction
    out = layer.forward(x)
    layer.backward(dout)                      # gradients left on the object: layer.dx, layer.dw, layer.db
                                              # (a returned array is taken as dx)

kernel_size is an int for a square filter, else (m_h, m_w); stride and padding are ints, so
layers with unequal strides or asymmetric padding (and dilation, groups) are skipped as not
expressible, and so are non-square filters when the constructor's signature says kernel_size is
an int. A class that takes one int without saying so fails such a layer (an error inside the
user's code is never turned into a skip), and the failure says the pair it was given.
A spec's `adapter:` block
renames any of these (constructor arguments and attributes) when a course names them
differently, e.g. `adapter: {in_channels: in_c, weight: W, dw: dW}`. A new layer object is made
for every call, so no state leaks between checks. Dilation and groups are not expressible.
"""

import inspect

from ..errors import ImplError
from .blame import NOTE
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
        names = _names(spec)

        def make(w, b, arguments):
            named = {names[key]: value for key, value in arguments.items()}
            try:
                layer = cls(**named)
            except TypeError as e:
                if e.__traceback__.tb_next is not None:        # raised inside the constructor, not by the call
                    raise noted(_pair_noted(e, names, arguments), lambda: call_text(class_name, kwargs=named))
                raise noted(TypeError(f"{e}; if the class names its arguments differently, rename them with an "
                                      "'adapter:' block in the spec (see docs/plugins.md)"),
                            lambda: call_text(class_name, kwargs=named)) from None
            except ENTRY_ERRORS as e:
                raise noted(_pair_noted(e, names, arguments), lambda: call_text(class_name, kwargs=named))
            except BaseException as e:
                raise _pair_noted(e, names, arguments)
            setattr(layer, names["weight"], w.copy())
            setattr(layer, names["bias"], bias_or_zeros(b, w))
            return layer

        def run(layer, method: str, array, label: str, arguments: dict):
            try:
                return noting_call(lambda: getattr(layer, method)(array),
                                   lambda: call_text(f"{class_name}.{method}", [(label, array)]))
            except BaseException as e:
                raise _pair_noted(e, names, arguments)

        def forward(x, w, b, *, stride, padding):
            arguments = _arguments(w, stride, padding)
            return run(make(w, b, arguments), "forward", x, "x", arguments)

        def backward(dy, x, w, b, *, stride, padding):
            arguments = _arguments(w, stride, padding)
            layer = make(w, b, arguments)
            run(layer, "forward", x, "x", arguments)
            returned = run(layer, "backward", dy, "dout", arguments)
            dx = returned if hasattr(returned, "shape") else getattr(layer, names["dx"], None)
            return dx, getattr(layer, names["dw"], None), None if b is None else getattr(layer, names["db"], None)
        return forward, backward

    def expressible(spec, geom):
        """one_int_api's reasons, and a non-square filter where the constructor says kernel_size: int."""
        reason = one_int_api(spec, geom)
        if reason or len(set(spec.m)) == 1:
            return reason
        argument = _names(spec)["kernel_size"]
        if _annotated_int(cls, argument):
            return (f"not expressible in this API: {class_name}({argument}: int) takes one int, and this layer's "
                    f"filter is {spec.m[0]} x {spec.m[1]}")
        return None

    forward, backward = bind(_Plain())
    return forward, backward, folder, expressible, bind


class _Plain:
    adapter = ()


def _arguments(w, stride, padding) -> dict:
    """The constructor's arguments, by their default names: kernel_size an int for a square filter."""
    return {"in_channels": w.shape[1], "out_channels": w.shape[0], "kernel_size": _one(tuple(w.shape[2:])),
            "stride": stride[0], "padding": padding[0]}


def _names(spec) -> dict:
    """What the adapter calls each of NAMES for this spec: its `adapter:` block over the defaults."""
    return {**{name: name for name in NAMES}, **dict(spec.adapter)}


def _annotated_int(cls, argument: str) -> bool:
    """The constructor's `argument` is annotated int (`kernel_size: int`, also as a string)."""
    try:
        parameter = inspect.signature(cls).parameters.get(argument)
    except (TypeError, ValueError):
        return False
    return parameter is not None and parameter.annotation in (int, "int")


def _pair_noted(error: BaseException, names: dict, arguments: dict) -> BaseException:
    """`error` noting the (m_h, m_w) pair the adapter passed, when it passed one: the class's
    code may take one int only."""
    pair = arguments["kernel_size"]
    if isinstance(pair, tuple) and not hasattr(error, NOTE):
        try:
            setattr(error, NOTE, f"the adapter passed {names['kernel_size']}={pair} for this {pair[0]} x {pair[1]} "
                                 "filter: a class whose API takes one int kernel size cannot take this layer "
                                 "(configs/course/ has square filters only)")
        except AttributeError:
            pass
    return error


def _one(pair):
    return pair[0] if pair[0] == pair[1] else pair

