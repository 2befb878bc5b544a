"""Built-in `im2col`: the matrix form of seed 003.

    phi(X)   (o_h*o_w, k*m_h*m_w) per sample: one row per output position, one column per tap
    F_f      (k*m_h*m_w, p)               w.reshape(p, -1).T
    O_f      = phi(X) F_f + b             (o_h*o_w, p)
    dL/dF_f  = sum_batch phi(X)^T dL/dO_f
    dL/dphi  = dL/dO_f F_f^T, then col2im adds each entry back onto the pixel it came from.

phi(X) is stored transposed, as Chainer's `col` (N, k, m_h, m_w, o_h, o_w), so that each
filter tap is one strided slice of the padded image (`im2col`/`col2im` loop over the taps
and are exact adjoints) and every product is one BLAS call without copies. With dilation d a tap's slice starts d
rows further on; with groups each group is its own phi(X) and F_f.
"""

from ..backend import array_module
from .common import group_slices, out_size, pad


def im2col(x_pad, m_h, m_w, stride, out, dilation=(1, 1)):
    """x_pad (N, k, H_p, W_p) -> phi(X)^T as (N, k*m_h*m_w, o_h*o_w); taps dilation apart."""
    xp = array_module(x_pad)
    (s_h, s_w), (o_h, o_w), (d_h, d_w) = stride, out, dilation
    n, k = x_pad.shape[:2]
    col = xp.empty((n, k, m_h, m_w, o_h, o_w), dtype=x_pad.dtype)
    for a in range(m_h):
        for b in range(m_w):
            r, c = a * d_h, b * d_w
            col[:, :, a, b] = x_pad[:, :, r:r + s_h * o_h:s_h, c:c + s_w * o_w:s_w]  # (N, k, o_h, o_w)
    return col.reshape(n, k * m_h * m_w, o_h * o_w)


def col2im(dphi_t, padded_shape, m_h, m_w, stride, out, dilation=(1, 1)):
    """(dL/dphi)^T (N, k*m_h*m_w, o_h*o_w) -> dL/dX_pad (N, k, H_p, W_p), overlapping taps summed."""
    xp = array_module(dphi_t)
    (s_h, s_w), (o_h, o_w), (d_h, d_w) = stride, out, dilation
    n, k = padded_shape[:2]
    col = dphi_t.reshape(n, k, m_h, m_w, o_h, o_w)
    dx_pad = xp.zeros(padded_shape, dtype=dphi_t.dtype)
    for a in range(m_h):
        for b in range(m_w):
            r, c = a * d_h, b * d_w
            dx_pad[:, :, r:r + s_h * o_h:s_h, c:c + s_w * o_w:s_w] += col[:, :, a, b]
    return dx_pad


def forward(x, w, b, *, stride, padding, dilation=(1, 1), groups=1):
    """x (N, k, H, W), w (p, k / groups, m_h, m_w), b (p,) or None -> y (N, p, o_h, o_w)."""
    xp = array_module(x)
    p, _, m_h, m_w = w.shape
    out = out_size(x, w, stride, padding, dilation)
    x_pad = pad(x, padding)
    o_f_t = xp.empty((x.shape[0], p, out[0] * out[1]), dtype=x.dtype)
    for channels, filters in group_slices(x.shape[1], p, groups):
        phi_t = im2col(x_pad[:, channels], m_h, m_w, stride, out, dilation)    # (N, k'*m_h*m_w, o_h*o_w)
        o_f_t[:, filters] = w[filters].reshape(p // groups, -1) @ phi_t         # (N, p', o_h*o_w) = (phi F_f)^T
    if b is not None:
        o_f_t += b[:, None]
    return o_f_t.reshape(x.shape[0], p, *out)


def backward(dy, x, w, b, *, stride, padding, dilation=(1, 1), groups=1):
    """dy (N, p, o_h, o_w) -> dx (N, k, H, W), dw (p, k / groups, m_h, m_w), db (p,) or None."""
    xp = array_module(dy)
    p, _, m_h, m_w = w.shape
    top, _, left, _ = padding
    out = dy.shape[2:]
    x_pad = pad(x, padding)
    dx_pad, dw = xp.empty(x_pad.shape, dtype=dy.dtype), xp.empty(w.shape, dtype=dy.dtype)
    for channels, filters in group_slices(x.shape[1], p, groups):
        phi_t = im2col(x_pad[:, channels], m_h, m_w, stride, out, dilation)     # (N, k'*m_h*m_w, o_h*o_w)
        do_f_t = dy[:, filters].reshape(dy.shape[0], p // groups, -1)           # (N, p', o_h*o_w) = (dL/dO_f)^T
        dw[filters] = (do_f_t @ phi_t.transpose(0, 2, 1)).sum(axis=0).reshape(dw[filters].shape)
        dphi_t = w[filters].reshape(p // groups, -1).T @ do_f_t                 # (N, k'*m_h*m_w, o_h*o_w)
        dx_pad[:, channels] = col2im(dphi_t, x_pad[:, channels].shape, m_h, m_w, stride, out, dilation)
    dx = dx_pad[:, :, top:top + x.shape[2], left:left + x.shape[3]]
    db = None if b is None else dy.sum(axis=(0, 2, 3))
    return xp.ascontiguousarray(dx), dw, db
