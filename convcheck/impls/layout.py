"""`layout: nhwc` (or `--layout nhwc`): a channels-last implementation behind the NCHW contract.

x (N, k, *n) -> (N, *n, k) and w (p, k, *m) -> (*m, k, p) (TensorFlow's layouts; 2-D: NHWC
and (m_h, m_w, k, p)) on the way in; y, dy (N, *o, p), dx (N, *n, k) and dw (*m, k, p) back to
channels-first on the way out, so that every check and report stays in one layout. An array
of the wrong rank is passed back as it is, for the shape check to report.
"""

from ..backend import array_module


def to_last(kind: str, ndim: int) -> tuple[int, ...]:
    """The transpose from channels-first to channels-last of an x ('x') or w ('w') of `ndim` axes."""
    spatial = tuple(range(2, ndim))
    return (0, *spatial, 1) if kind == "x" else (*spatial, 1, 0)


def to_first(kind: str, ndim: int) -> tuple[int, ...]:
    """The inverse of `to_last`."""
    order = to_last(kind, ndim)
    return tuple(order.index(axis) for axis in range(ndim))


def channels_last(impl):
    """The same Implementation, its forward and backward taking and giving channels-last arrays."""
    from . import Implementation

    def forward(x, w, b, **kwargs):
        return _back("x", impl.forward(_to("x", x), _to("w", w), b, **kwargs), x.ndim)

    def backward(dy, x, w, b, **kwargs):
        grads = impl.backward(_to("x", dy), _to("x", x), _to("w", w), b, **kwargs)
        if not isinstance(grads, (tuple, list)) or len(grads) != 3:
            return grads
        dx, dw, db = grads
        return _back("x", dx, x.ndim), _back("w", dw, w.ndim), db

    return Implementation(f"{impl.name} (nhwc)", forward, backward, impl.folder, impl.expressible)


def _to(kind, a):
    return a if a is None else array_module(a).ascontiguousarray(a.transpose(to_last(kind, a.ndim)))


def _back(kind, a, ndim: int):
    if getattr(a, "ndim", None) != ndim:
        return a
    return array_module(a).ascontiguousarray(a.transpose(to_first(kind, ndim)))
