"""JAX conv ops with a backward of their own (`jax.custom_vjp`), as a kernel author writes them,
called as `--impl jax:MODULE:NAME` calls them: NAME(x, w, b, stride, padding[, dilation[,
groups]]), padding as (before, after) pairs per axis: a right one, one whose bwd rule stops the
gradient of the filter it saved (right values, a double backward that never reaches F), and one
whose bwd rule runs in NumPy through a callback (not differentiable at all)."""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np


def _conv(x, w, stride, padding, dilation, groups):
    return jax.lax.conv_general_dilated(x, w, stride, padding, rhs_dilation=dilation, feature_group_count=groups)


def _bias(b, dims: int):
    return b.reshape(1, -1, *(1,) * dims)


@partial(jax.custom_vjp, nondiff_argnums=(3, 4, 5, 6))
def conv(x, w, b, stride, padding, dilation=None, groups=1):
    dilation = dilation or (1,) * (x.ndim - 2)
    y = _conv(x, w, stride, padding, dilation, groups)
    return y if b is None else y + _bias(b, x.ndim - 2)


def _forward(x, w, b, stride, padding, dilation=None, groups=1):
    return conv(x, w, b, stride, padding, dilation, groups), (x, w, b is not None)


def _backward(stride, padding, dilation, groups, saved, g):
    x, w, bias = saved
    dilation = dilation or (1,) * (x.ndim - 2)
    _, vjp = jax.vjp(lambda x, w: _conv(x, w, stride, padding, dilation, groups), x, w)
    dx, dw = vjp(g)
    return dx, dw, g.sum(axis=(0, *range(2, g.ndim))) if bias else None


conv.defvjp(_forward, _backward)


@partial(jax.custom_vjp, nondiff_argnums=(3, 4, 5, 6))
def stopped_conv(x, w, b, stride, padding, dilation=None, groups=1):
    return conv(x, w, b, stride, padding, dilation, groups)


def _stopped_backward(stride, padding, dilation, groups, saved, g):
    x, w, bias = saved
    return _backward(stride, padding, dilation, groups, (x, jax.lax.stop_gradient(w), bias), g)


stopped_conv.defvjp(_forward, _stopped_backward)


@partial(jax.custom_vjp, nondiff_argnums=(3, 4, 5, 6))
def callback_conv(x, w, b, stride, padding, dilation=None, groups=1):
    return conv(x, w, b, stride, padding, dilation, groups)


def _callback_backward(stride, padding, dilation, groups, saved, g):
    x, w, bias = saved
    dx, dw, db = _backward(stride, padding, dilation, groups, saved, g)
    as_numpy = jax.pure_callback(lambda a: np.asarray(a), jax.ShapeDtypeStruct(dw.shape, dw.dtype), dw)
    return dx, as_numpy, db


callback_conv.defvjp(_forward, _callback_backward)


def flipped(x, w, b, stride, padding, dilation=None, groups=1):
    """A forward that turns the filter by 180°: a true convolution where the layer correlates."""
    return conv(x, jnp.flip(w, axis=tuple(range(2, w.ndim))), b, stride, padding, dilation, groups)
