"""`layout: nhwc` (or `--layout nhwc`): a channels-last implementation behind the NCHW contract.

x (N, k, H, W) -> (N, H, W, k) and w (p, k, m_h, m_w) -> (m_h, m_w, k, p) (TensorFlow's
layouts) on the way in; y, dy (N, o_h, o_w, p), dx (N, H, W, k) and dw (m_h, m_w, k, p) back
to NCHW on the way out, so that every check and report stays in one layout. An array of the
wrong rank is passed back as it is, for the shape check to report.
"""

from ..backend import array_module

TO = {"x": (0, 2, 3, 1), "w": (2, 3, 1, 0)}          # NCHW -> NHWC, (p, k, m_h, m_w) -> (m_h, m_w, k, p)
BACK = {"x": (0, 3, 1, 2), "w": (3, 2, 0, 1)}


def channels_last(impl):
    """The same Implementation, its forward and backward taking and giving NHWC arrays."""
    from . import Implementation

    def forward(x, w, b, **kwargs):
        return _back("x", impl.forward(_to("x", x), _to("w", w), b, **kwargs))

    def backward(dy, x, w, b, **kwargs):
        grads = impl.backward(_to("x", dy), _to("x", x), _to("w", w), b, **kwargs)
        if not isinstance(grads, (tuple, list)) or len(grads) != 3:
            return grads
        dx, dw, db = grads
        return _back("x", dx), _back("w", dw), db

    return Implementation(f"{impl.name} (nhwc)", forward, backward, impl.folder, impl.expressible)


def _to(kind, a):
    return a if a is None else array_module(a).ascontiguousarray(a.transpose(TO[kind]))


def _back(kind, a):
    if getattr(a, "ndim", None) != 4:
        return a
    return array_module(a).ascontiguousarray(a.transpose(BACK[kind]))
