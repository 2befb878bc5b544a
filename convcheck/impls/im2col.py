"""Built-in `im2col`: the matrix form of seed 003.

    phi(X)   (N, o_h*o_w, k*m_h*m_w)   one row per output position, one column per filter tap
    F_f      (k*m_h*m_w, p)            w.reshape(p, -1).T
    O_f      = phi(X) F_f + b          (N, o_h*o_w, p)
    dL/dF_f  = sum_batch phi(X)^T dL/dO_f
    dL/dphi  = dL/dO_f F_f^T, then col2im adds each column back onto the pixel it came from.

im2col/col2im loop over the m_h*m_w filter taps, each tap a strided slice of the padded
image (Chainer's `im2col_cpu`/`col2im_cpu`); they are exact adjoints of each other.
"""

from ..backend import array_module
from .common import out_size, pad


def im2col(x_pad, m_h, m_w, stride, out):
    """x_pad (N, k, H_p, W_p) -> phi (N, o_h*o_w, k*m_h*m_w)."""
    xp = array_module(x_pad)
    (s_h, s_w), (o_h, o_w) = stride, out
    n, k = x_pad.shape[:2]
    col = xp.empty((n, o_h, o_w, k, m_h, m_w), dtype=x_pad.dtype)
    for a in range(m_h):
        for b in range(m_w):
            tap = x_pad[:, :, a:a + s_h * o_h:s_h, b:b + s_w * o_w:s_w]  # (N, k, o_h, o_w)
            col[:, :, :, :, a, b] = tap.transpose(0, 2, 3, 1)
    return col.reshape(n, o_h * o_w, k * m_h * m_w)


def col2im(dphi, padded_shape, m_h, m_w, stride, out):
    """dphi (N, o_h*o_w, k*m_h*m_w) -> d x_pad (N, k, H_p, W_p), summing overlapping taps."""
    xp = array_module(dphi)
    (s_h, s_w), (o_h, o_w) = stride, out
    n, k = padded_shape[:2]
    col = dphi.reshape(n, o_h, o_w, k, m_h, m_w)
    dx_pad = xp.zeros(padded_shape, dtype=dphi.dtype)
    for a in range(m_h):
        for b in range(m_w):
            dx_pad[:, :, a:a + s_h * o_h:s_h, b:b + s_w * o_w:s_w] += col[:, :, :, :, a, b].transpose(0, 3, 1, 2)
    return dx_pad


def forward(x, w, b, *, stride, padding):
    """x (N, k, H, W), w (p, k, m_h, m_w), b (p,) or None -> y (N, p, o_h, o_w)."""
    xp = array_module(x)
    p, _, m_h, m_w = w.shape
    o_h, o_w = out = out_size(x, w, stride, padding)
    phi = im2col(pad(x, padding), m_h, m_w, stride, out)   # (N, o_h*o_w, k*m_h*m_w)
    o_f = phi @ w.reshape(p, -1).T                         # (N, o_h*o_w, p)
    if b is not None:
        o_f += b
    return xp.ascontiguousarray(o_f.reshape(x.shape[0], o_h, o_w, p).transpose(0, 3, 1, 2))


def backward(dy, x, w, b, *, stride, padding):
    """dy (N, p, o_h, o_w) -> dx (N, k, H, W), dw (p, k, m_h, m_w), db (p,) or None."""
    xp = array_module(dy)
    p, _, m_h, m_w = w.shape
    top, _, left, _ = padding
    out = dy.shape[2:]
    x_pad = pad(x, padding)
    phi = im2col(x_pad, m_h, m_w, stride, out)              # (N, o_h*o_w, k*m_h*m_w)
    do_f = dy.transpose(0, 2, 3, 1).reshape(dy.shape[0], -1, p)  # (N, o_h*o_w, p)
    df_f = xp.einsum("nqc,nqp->cp", phi, do_f)              # (k*m_h*m_w, p) = sum phi^T dL/dO_f
    dphi = do_f @ w.reshape(p, -1)                          # (N, o_h*o_w, k*m_h*m_w) = dL/dO_f F_f^T
    dx_pad = col2im(dphi, x_pad.shape, m_h, m_w, stride, out)
    dx = dx_pad[:, :, top:top + x.shape[2], left:left + x.shape[3]]
    db = None if b is None else dy.sum(axis=(0, 2, 3))
    return xp.ascontiguousarray(dx), xp.ascontiguousarray(df_f.T.reshape(w.shape)), db
