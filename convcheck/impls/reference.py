"""The plain-loop oracle of the forward pass, straight from seed 004's index formula

    y[f, r, c] = sum_i sum_a sum_b X_pad[i, r*s_h + a, c*s_w + b] * w[f, i, a, b] + b[f]

(correlation: the filter is not flipped). Deliberately slow and obvious; it shares no
code with the fast implementations so that tests and `verify` can trust it.
"""

import numpy as np


def forward(x, w, b, *, stride, padding):
    """x (N, k, H, W), w (p, k, m_h, m_w), b (p,) or None -> y (N, p, o_h, o_w), float64."""
    top, bottom, left, right = padding
    s_h, s_w = stride
    n_batch, k, h, w_in = x.shape
    p, _, m_h, m_w = w.shape
    x_pad = np.zeros((n_batch, k, h + top + bottom, w_in + left + right))
    x_pad[:, :, top:top + h, left:left + w_in] = x
    rows = range(0, x_pad.shape[2] - m_h + 1, s_h)  # every window start that fits
    cols = range(0, x_pad.shape[3] - m_w + 1, s_w)
    w64 = np.asarray(w, dtype=np.float64)
    y = np.zeros((n_batch, p, len(rows), len(cols)))
    for n in range(n_batch):
        for r, row in enumerate(rows):
            for c, col in enumerate(cols):
                window = x_pad[n, :, row:row + m_h, col:col + m_w]  # (k, m_h, m_w)
                y[n, :, r, c] = np.tensordot(w64, window, axes=3)  # one number per filter
    if b is not None:
        y += np.asarray(b, dtype=np.float64)[None, :, None, None]
    return y
