"""`--impl jax:MODULE:NAME`: a JAX function, typically a `jax.custom_vjp` (an XLA or Pallas
kernel with a backward of its own), as a plug-in. It is called as

    NAME(x, w, b, stride, padding[, dilation[, groups]])

x (N, k, *n), w (p, k / groups, *m) and b (p,) or None as jax arrays of the layer's dtype;
stride a tuple per axis and padding a tuple of (before, after) pairs per axis, as
`jax.lax.conv_general_dilated` takes them; dilation (a tuple per axis) and groups (an int) only
when not 1, dilation as ones when only groups needs passing. All are positional and hashable,
so a custom_vjp takes them as `nondiff_argnums`. The forward calls it; the backward is its
`jax.vjp`, so a custom_vjp's own bwd rule is what gets checked; `second` (order 2) takes
`jax.grad` through that vjp, the bwd rule's own derivative. A transposed layer has no such call:
it is skipped as not expressible. jax is imported only here, with 64-bit floats on
(`jax_enable_x64`: float64 layers are checked in float64): `pip install 'convcheck[jax]'`.
"""

import numpy as np

from ..errors import ImplError, NotTwiceDifferentiable
from ..geometry import pairs
from .common import call_text, noting_call

NOT_DIFFERENTIABLE = ("do not support JVP", "Differentiation rule for", "not implemented for", "callback")
"""What JAX says when a bwd rule cannot be differentiated (a NumPy callback, a primitive with no JVP)."""


def load(kind: str, target: str):
    """(forward, backward, folder, expressible, bind, second) for `--impl jax:MODULE:NAME`."""
    from . import load_named
    return adapt(*load_named(kind, target, "function", _jax))


def _jax(label: str):
    try:
        import jax
    except ImportError:
        raise ImplError(f"--impl {label}: needs JAX: pip install 'convcheck[jax]'") from None
    jax.config.update("jax_enable_x64", True)
    return jax


def arguments(stride, padding, conv) -> list:
    """(stride, padding[, dilation[, groups]]) as NAME takes them (module docstring)."""
    dims = len(stride)
    dilation, groups = tuple(int(d) for d in conv.get("dilation", (1,) * dims)), int(conv.get("groups", 1))
    extra = [dilation, groups] if groups != 1 else [dilation] if any(d != 1 for d in dilation) else []
    return [tuple(int(s) for s in stride), tuple((int(lo), int(hi)) for lo, hi in pairs(padding)), *extra]


def adapt(function, folder: str | None, name: str | None = None):
    """(forward, backward, folder, expressible, bind, second) for the function itself."""
    name = name or getattr(function, "__name__", "function")
    jax = _jax(name)
    import jax.numpy as jnp

    def bound(stride, padding, conv):
        args = arguments(stride, padding, conv)
        return lambda x, w, b: noting_call(lambda: function(x, w, b, *args),
                                           lambda: call_text(name, [("x", x), ("w", w), ("b", b), *args]))

    def forward(x, w, b, *, stride, padding, **conv):
        return _array(bound(stride, padding, conv)(_in(x), _in(w), _in(b)))

    def backward(dy, x, w, b, *, stride, padding, **conv):
        y, vjp = jax.vjp(bound(stride, padding, conv), _in(x), _in(w), _in(b))
        dx, dw, db = vjp(_in(dy).astype(y.dtype))
        return _array(dx), _array(dw), None if b is None else _array(db)

    def second(dy, x, w, b, u, *, stride, padding, **conv):
        """{x, w, b, y: the gradient of L2 = <U_X, dL/dX> + <U_F, dL/dF> + <U_b, dL/db>} by jax.grad
        through the vjp (second.py); NotTwiceDifferentiable where JAX cannot differentiate it."""
        f = bound(stride, padding, conv)

        def l2(x, w, b, g):
            _, vjp = jax.vjp(f, x, w, b)
            grads = vjp(g.astype(x.dtype))
            return sum(jnp.sum(t * jnp.asarray(u[key], t.dtype)) for key, t in zip("xwb", grads) if t is not None)
        try:
            found = jax.grad(l2, argnums=(0, 1, 2, 3))(_in(x), _in(w), _in(b), _in(dy))
        except Exception as e:
            if not any(words in str(e) for words in NOT_DIFFERENTIABLE):
                raise
            raise NotTwiceDifferentiable(f"JAX cannot differentiate its backward ({type(e).__name__}: "
                                         f"{str(e).splitlines()[0]}): a callback or a primitive with no derivative "
                                         "in the bwd rule; write it with jax.numpy and lax ops") from None
        return {key: _array(value) for key, value in zip("xwby", found) if value is not None}

    def expressible(spec, geom):
        if spec.transposed:
            return ("not expressible in this API: the jax adapter calls NAME as jax.lax.conv_general_dilated takes a "
                    "plain convolution; a transposed layer has no such call")
        return None

    return forward, backward, folder, expressible, None, second


def _in(a):
    """A jax array with a's values (None stays None)."""
    if a is None:
        return None
    import jax.numpy as jnp
    return jnp.asarray(a)


def _array(value):
    """A jax array back to NumPy (bfloat16 stays ml_dtypes' bfloat16, the same type)."""
    return np.asarray(value)
