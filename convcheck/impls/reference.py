"""The plain-loop oracle of the forward pass, straight from seed 004's index formula,
with taps d apart (dilation) and filters that see only their group's input channels:

    y[n, f, r, c] = sum_i sum_a sum_b X_pad[n, g k' + i, r*s_h + a*d_h, c*s_w + b*d_w] * w[f, i, a, b] + b[f]

where k' = k / groups and g = f // (p / groups) is filter f's group (correlation: the filter
is not flipped). The loop runs over the groups and the filter taps (a, b); each tap adds
w[:, :, a, b] times the input pixels it meets, for every output (r, c) at once. It shares
no code with the implementations under test, computes its own output size, and is itself
tested against scipy.signal.correlate2d and torch's conv2d. It runs on the arrays' own
backend (the GPU with CuPy), in float64.
"""

from ..backend import array_module


def forward(x, w, b, *, stride, padding, dilation=(1, 1), groups=1):
    """x (N, k, H, W), w (p, k / groups, m_h, m_w), b (p,) or None -> y (N, p, o_h, o_w), float64."""
    xp = array_module(x)
    top, bottom, left, right = padding
    (s_h, s_w), (d_h, d_w) = stride, dilation
    n_batch, k, h, w_in = x.shape
    p, k_group, m_h, m_w = w.shape
    x_pad = xp.zeros((n_batch, k, h + top + bottom, w_in + left + right))
    x_pad[:, :, top:top + h, left:left + w_in] = x
    o_h = len(range(0, x_pad.shape[2] - d_h * (m_h - 1), s_h))   # every window start whose span fits
    o_w = len(range(0, x_pad.shape[3] - d_w * (m_w - 1), s_w))
    y = xp.zeros((p, n_batch, o_h, o_w))
    p_group = p // groups
    for g in range(groups):
        channels = x_pad[:, g * k_group:(g + 1) * k_group]
        filters = slice(g * p_group, (g + 1) * p_group)
        for a in range(m_h):
            for b_ in range(m_w):
                pixels = channels[:, :, a * d_h:a * d_h + s_h * o_h:s_h, b_ * d_w:b_ * d_w + s_w * o_w:s_w]
                y[filters] += xp.tensordot(w[filters, :, a, b_].astype(xp.float64), pixels, axes=([1], [1]))
    y = y.transpose(1, 0, 2, 3)                                                 # (N, p, o_h, o_w)
    if b is not None:
        y = y + b.astype(xp.float64)[None, :, None, None]
    return y
