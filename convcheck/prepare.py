"""A layer as `verify` and `plan` start from: the implementation bound to it (adapted to the
spec's layout, or why its API cannot express the layer), the geometry, the array module, and
the seeded draws of x, w, b and G = dL/dY the check runs on."""

from dataclasses import dataclass

import numpy as np
from numpy.random import default_rng

from .backend import load_backend, to_device
from .errors import ConvcheckError, SpecError
from .geometry import geometry
from .impls import Implementation, load_impl
from .impls.layout import channels_last
from .spec import ConvSpec

SECOND_DRAW = 2
"""The forward is checked at the spec's seeded x, w, b and at a second draw from the seed
sequence (seed, SECOND_DRAW), called first: a forward whose answer depends on more than its
inputs (a cache kept from an earlier call, a counter, a reused output buffer) shows at one of
the two: options.FORWARD_CHECKS calls of the plug-in's forward."""


@dataclass
class Layer:
    """A layer as `verify` and `plan` both start from: the implementation bound to it, its
    geometry, the array module, the seeded draws (float64 on the device, and `cast` to the
    spec's dtype, what the plug-in gets), the plug-in's keyword arguments."""

    impl: Implementation
    geom: object
    xp: object
    rng: object
    data: dict                 # x, w, b, y (= G): float64 on the device
    cast: dict                 # the same in the spec's dtype
    second: dict               # x, w, b of the forward check's second draw (SECOND_DRAW), float64 on the device
    seed: int                  # the seed in force (the spec's, or verify's seed=)
    conv: dict                 # dilation=, groups= when not 1 (old plug-ins keep working)
    kwargs: dict               # stride=, padding=, **conv
    skipped: str               # why the implementation's API cannot express the layer, or ''


def prepare(spec: ConvSpec, impl, backend, layout, seed) -> Layer:
    from .memory import refuse
    refuse(spec)                                         # before any array of the layer is allocated
    xp = load_backend(backend)
    impl = load_impl(impl).for_spec(spec)
    if (layout or spec.layout) == "nhwc":
        impl = channels_last(impl)
    elif layout not in (None, "nchw"):
        raise ConvcheckError(f"--layout {layout}: unknown; valid: nchw, nhwc")
    geom = geometry(spec)
    reason = impl.expressible(spec, geom) if impl.expressible else None
    dtype = _dtype(spec, xp)
    seed = spec.seed if seed is None else seed
    rng, again = default_rng(seed), default_rng([seed, SECOND_DRAW])
    data = {} if reason else {name: to_device(xp, draw(rng, geom.shapes[name], dtype))
                              for name in ("x", "w", "b", "y")}
    second = {} if reason else {name: to_device(xp, draw(again, geom.shapes[name], dtype))
                                for name in ("x", "w", "b")}
    cast = {k: None if v is None else v.astype(dtype, copy=False) for k, v in data.items()}   # calls copy
    conv = {**({"dilation": spec.dilation} if any(d != 1 for d in spec.dilation) else {}),
            **({"groups": spec.groups} if spec.groups != 1 else {}),
            **({"transposed": True} if spec.transposed else {}),
            **({"output_padding": spec.out_padding} if any(spec.out_padding) else {})}
    kwargs = {"stride": spec.stride, "padding": geom.padding, **conv}
    return Layer(impl, geom, xp, rng, data, cast, second, seed, conv, kwargs, reason or "")


def draw(rng, shape, dtype):
    """Standard normal values drawn in float32 (rounded to float16 or bfloat16 for such a
    layer: `dtype`, a NumPy dtype), so exactly representable in the layer's dtype, held in
    float64 (None if no shape)."""
    if shape is None:
        return None
    values = rng.standard_normal(shape, dtype=np.float32)
    return (values.astype(dtype) if dtype.itemsize < 4 else values).astype(np.float64)


def _dtype(spec, xp):
    """The layer's NumPy dtype; SpecError on the spec's dtype field where it cannot be had
    (bfloat16 without ml_dtypes, or on CuPy, which has no bfloat16 arrays)."""
    from .dtypes import numpy_dtype
    where = {"file": spec.source, "line": spec.line, "layer": spec.name, "field": "dtype"}
    if spec.dtype == "bfloat16" and xp.__name__ != "numpy" and not hasattr(xp, "bfloat16"):
        raise SpecError(f"bfloat16 on --backend {xp.__name__}: it has no bfloat16 arrays; check this layer with "
                        "--backend numpy (a torch: op then gets torch.bfloat16 tensors)", **where)
    try:
        return numpy_dtype(spec.dtype)
    except ConvcheckError as e:
        raise SpecError(str(e), **where) from None
