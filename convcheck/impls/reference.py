"""The plain-loop oracle of the forward pass, straight from seed 004's index formula

    y[n, f, r, c] = sum_i sum_a sum_b X_pad[n, i, r*s_h + a, c*s_w + b] * w[f, i, a, b] + b[f]

(correlation: the filter is not flipped). The loop runs over the filter taps (a, b); each
tap adds w[:, :, a, b] times the input pixels it meets, for every output (r, c) at once.
It shares no code with the implementations under test, computes its own output size, and
is itself tested against scipy.signal.correlate2d. It runs on the arrays' own backend (the
GPU with CuPy), in float64.
"""

from ..backend import array_module


def forward(x, w, b, *, stride, padding):
    """x (N, k, H, W), w (p, k, m_h, m_w), b (p,) or None -> y (N, p, o_h, o_w), float64."""
    xp = array_module(x)
    top, bottom, left, right = padding
    s_h, s_w = stride
    n_batch, k, h, w_in = x.shape
    p, _, m_h, m_w = w.shape
    x_pad = xp.zeros((n_batch, k, h + top + bottom, w_in + left + right))
    x_pad[:, :, top:top + h, left:left + w_in] = x
    o_h = len(range(0, x_pad.shape[2] - m_h + 1, s_h))   # every window start that fits
    o_w = len(range(0, x_pad.shape[3] - m_w + 1, s_w))
    y = xp.zeros((p, n_batch, o_h, o_w))
    for a in range(m_h):
        for b_ in range(m_w):
            pixels = x_pad[:, :, a:a + s_h * o_h:s_h, b_:b_ + s_w * o_w:s_w]   # X_pad[n, i, r*s_h+a, c*s_w+b]
            y += xp.tensordot(w[:, :, a, b_].astype(xp.float64), pixels, axes=([1], [1]))  # sum over i
    y = y.transpose(1, 0, 2, 3)                                                 # (N, p, o_h, o_w)
    if b is not None:
        y = y + b.astype(xp.float64)[None, :, None, None]
    return y
