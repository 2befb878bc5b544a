"""Built-in `direct`: forward and backward as correlations (seeds 000 and 004).

    Y           = X_pad  (*)_s  F                     + b         correlation, stride s
    dL/dF_j^(i) = sum_batch X_pad^(i) (*) dil(dL/dY^(j))           seed 000, dilated by s
    dL/dX^(i)   = crop( sum_j pad_{m-1}(dil(dL/dY^(j))) (*) rot180(F_j^(i)) )   seed 004
    dL/db_j     = sum dL/dY^(j)

dil() inserts s - 1 zeros between rows/columns of dL/dY; crop() re-adds the leftover
rows no window reached (their gradient is 0) and removes the padding. A dilated filter is
its spread dense form (d - 1 zeros between taps): the same formulas hold with the spread
filter, and dL/dF is read back at its taps. Groups are independent layers side by side.
"""

from ..backend import array_module
from .common import group_slices, pad


def correlate(x, w, stride=(1, 1)):
    """Valid multi-channel correlation. x (N, C, H, W), w (F, C, m_h, m_w) -> (N, F, o_h, o_w).

    A plain loop over whichever is fewer, filter taps or output positions, each step one
    matrix product: taps for a forward (25 taps, 9216 outputs), outputs for dL/dF (9216
    "taps" of the dL/dY-sized filter, 25 outputs).
    """
    xp = array_module(x)
    (s_h, s_w), (n, c), (f, _, m_h, m_w) = stride, x.shape[:2], w.shape
    o_h, o_w = (x.shape[2] - m_h) // s_h + 1, (x.shape[3] - m_w) // s_w + 1
    if m_h * m_w <= o_h * o_w:
        col = xp.empty((c, m_h, m_w, n, o_h, o_w), dtype=x.dtype)   # Chainer's im2col, channels first
        x_t = x.transpose(1, 0, 2, 3)                                 # (C, N, H, W)
        for a in range(m_h):
            for b in range(m_w):
                col[:, a, b] = x_t[:, :, a:a + s_h * o_h:s_h, b:b + s_w * o_w:s_w]
        y = w.reshape(f, -1) @ col.reshape(c * m_h * m_w, -1)        # (F, N*o_h*o_w)
        return xp.ascontiguousarray(y.reshape(f, n, o_h, o_w).transpose(1, 0, 2, 3))
    windows = xp.empty((o_h, o_w, n, c, m_h, m_w), dtype=x.dtype)   # one window per output position
    for r in range(o_h):
        for q in range(o_w):
            windows[r, q] = x[:, :, r * s_h:r * s_h + m_h, q * s_w:q * s_w + m_w]
    y = windows.reshape(o_h * o_w * n, -1) @ w.reshape(f, -1).T      # (o_h*o_w*N, F)
    y = xp.ascontiguousarray(y.reshape(o_h, o_w, n, f).transpose(2, 3, 0, 1))
    return y


def dilate(a, step):
    """Insert step - 1 zeros between neighbours on the last two axes: dL/dY dilated by the stride
    (N, p, o_h, o_w) -> (N, p, s_h(o_h-1)+1, s_w(o_w-1)+1), and a dilated filter as a dense one
    (p, c, m_h, m_w) -> (p, c, d_h(m_h-1)+1, d_w(m_w-1)+1), whose correlation is the dilated one."""
    s_h, s_w = step
    if (s_h, s_w) == (1, 1):
        return a
    xp = array_module(a)
    *lead, rows, cols = a.shape
    out = xp.zeros((*lead, s_h * (rows - 1) + 1, s_w * (cols - 1) + 1), dtype=a.dtype)
    out[..., ::s_h, ::s_w] = a
    return out


def forward(x, w, b, *, stride, padding, dilation=(1, 1), groups=1):
    """x (N, k, H, W), w (p, k / groups, m_h, m_w), b (p,) or None -> y (N, p, o_h, o_w)."""
    xp = array_module(x)
    x_pad, w_spread = pad(x, padding), dilate(w, dilation)
    parts = [correlate(x_pad[:, channels], w_spread[filters], stride)
             for channels, filters in group_slices(x.shape[1], w.shape[0], groups)]
    y = parts[0] if groups == 1 else xp.concatenate(parts, axis=1)
    if b is not None:
        y += b[None, :, None, None]
    return y


def backward(dy, x, w, b, *, stride, padding, dilation=(1, 1), groups=1):
    """dy (N, p, o_h, o_w) -> dx (N, k, H, W), dw (p, k / groups, m_h, m_w), db (p,) or None.

    Each group on its own (its channels of X, its filters, its channels of dL/dY); a dilated
    filter as its spread dense form, whose gradient is read back at the taps."""
    xp = array_module(dy)
    w_spread = dilate(w, dilation)
    dx, dw = xp.zeros(x.shape, dtype=dy.dtype), xp.zeros(w_spread.shape, dtype=dy.dtype)
    for channels, filters in group_slices(x.shape[1], w.shape[0], groups):
        dx[:, channels], dw[filters] = _dense_backward(dy[:, filters], x[:, channels], w_spread[filters],
                                                       stride, padding)
    db = None if b is None else dy.sum(axis=(0, 2, 3))
    return dx, xp.ascontiguousarray(dw[:, :, ::dilation[0], ::dilation[1]]), db


def _dense_backward(dy, x, w, stride, padding):
    """dL/dX (N, k, H, W) and dL/dF (p, k, m_h, m_w) of one dense, ungrouped layer (seeds 000, 004)."""
    xp = array_module(dy)
    top, bottom, left, right = padding
    m_h, m_w = w.shape[2:]
    dy_dil = dilate(dy, stride)                              # (N, p, d_h, d_w)
    reach_h, reach_w = dy_dil.shape[2] + m_h - 1, dy_dil.shape[3] + m_w - 1
    x_pad = pad(x, padding)[:, :, :reach_h, :reach_w]        # (N, k, reach_h, reach_w), leftover dropped
    # dL/dF: batch becomes the summed 'channel' axis, so F = p and C = N
    dw = correlate(x_pad.transpose(1, 0, 2, 3), dy_dil.transpose(1, 0, 2, 3))  # (k, p, m_h, m_w)
    dw = dw.transpose(1, 0, 2, 3)                             # (p, k, m_h, m_w)
    # dL/dX: full convolution = correlation of the (m-1)-padded dL/dY with rot180(F)
    dy_full = pad(dy_dil, (m_h - 1, m_h - 1, m_w - 1, m_w - 1))  # (N, p, d_h+2(m_h-1), d_w+2(m_w-1))
    w_rot = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)          # (k, p, m_h, m_w)
    dx_reach = correlate(dy_full, w_rot)                        # (N, k, reach_h, reach_w)
    h, w_in = x.shape[2:]
    dx_pad = xp.zeros((*x.shape[:2], top + h + bottom, left + w_in + right), dtype=dx_reach.dtype)
    dx_pad[:, :, :reach_h, :reach_w] = dx_reach               # leftover rows stay 0
    return dx_pad[:, :, top:top + h, left:left + w_in], dw    # (N, k, H, W), (p, k, m_h, m_w)
