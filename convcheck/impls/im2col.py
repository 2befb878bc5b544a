"""Built-in `im2col`: the matrix form of seed 003.

    phi(X)   (o_h*o_w, k*m_h*m_w) per sample: one row per output position, one column per tap
    F_f      (k*m_h*m_w, p)               w.reshape(p, -1).T
    O_f      = phi(X) F_f + b             (o_h*o_w, p)
    dL/dF_f  = sum_batch phi(X)^T dL/dO_f
    dL/dphi  = dL/dO_f F_f^T, then col2im adds each entry back onto the pixel it came from.

phi(X) is stored transposed, as Chainer's `col` (N, k, m_h, m_w, o_h, o_w), so that each
filter tap is one strided slice of the padded image (`im2col`/`col2im` loop over the taps
and are exact adjoints) and every product is one BLAS call without copies.
"""

from ..backend import array_module
from .common import out_size, pad


def im2col(x_pad, m_h, m_w, stride, out):
    """x_pad (N, k, H_p, W_p) -> phi(X)^T as (N, k*m_h*m_w, o_h*o_w)."""
    xp = array_module(x_pad)
    (s_h, s_w), (o_h, o_w) = stride, out
    n, k = x_pad.shape[:2]
    col = xp.empty((n, k, m_h, m_w, o_h, o_w), dtype=x_pad.dtype)
    for a in range(m_h):
        for b in range(m_w):
            col[:, :, a, b] = x_pad[:, :, a:a + s_h * o_h:s_h, b:b + s_w * o_w:s_w]  # (N, k, o_h, o_w)
    return col.reshape(n, k * m_h * m_w, o_h * o_w)


def col2im(dphi_t, padded_shape, m_h, m_w, stride, out):
    """(dL/dphi)^T (N, k*m_h*m_w, o_h*o_w) -> dL/dX_pad (N, k, H_p, W_p), overlapping taps summed."""
    xp = array_module(dphi_t)
    (s_h, s_w), (o_h, o_w) = stride, out
    n, k = padded_shape[:2]
    col = dphi_t.reshape(n, k, m_h, m_w, o_h, o_w)
    dx_pad = xp.zeros(padded_shape, dtype=dphi_t.dtype)
    for a in range(m_h):
        for b in range(m_w):
            dx_pad[:, :, a:a + s_h * o_h:s_h, b:b + s_w * o_w:s_w] += col[:, :, a, b]
    return dx_pad


def forward(x, w, b, *, stride, padding):
    """x (N, k, H, W), w (p, k, m_h, m_w), b (p,) or None -> y (N, p, o_h, o_w)."""
    p, _, m_h, m_w = w.shape
    out = out_size(x, w, stride, padding)
    phi_t = im2col(pad(x, padding), m_h, m_w, stride, out)      # (N, k*m_h*m_w, o_h*o_w)
    o_f_t = w.reshape(p, -1) @ phi_t                             # (N, p, o_h*o_w) = (phi(X) F_f)^T
    if b is not None:
        o_f_t += b[:, None]
    return o_f_t.reshape(x.shape[0], p, *out)


def backward(dy, x, w, b, *, stride, padding):
    """dy (N, p, o_h, o_w) -> dx (N, k, H, W), dw (p, k, m_h, m_w), db (p,) or None."""
    xp = array_module(dy)
    p, _, m_h, m_w = w.shape
    top, _, left, _ = padding
    out = dy.shape[2:]
    x_pad = pad(x, padding)
    phi_t = im2col(x_pad, m_h, m_w, stride, out)                 # (N, k*m_h*m_w, o_h*o_w)
    do_f_t = dy.reshape(dy.shape[0], p, -1)                      # (N, p, o_h*o_w) = (dL/dO_f)^T
    df_f_t = (do_f_t @ phi_t.transpose(0, 2, 1)).sum(axis=0)    # (p, k*m_h*m_w) = (phi^T dL/dO_f)^T
    dphi_t = w.reshape(p, -1).T @ do_f_t                         # (N, k*m_h*m_w, o_h*o_w) = (dL/dO_f F_f^T)^T
    dx_pad = col2im(dphi_t, x_pad.shape, m_h, m_w, stride, out)
    dx = dx_pad[:, :, top:top + x.shape[2], left:left + x.shape[3]]
    db = None if b is None else dy.sum(axis=(0, 2, 3))
    return xp.ascontiguousarray(dx), df_f_t.reshape(w.shape), db
