"""Correct im2col backprop with one localized mistake each: the bugs that hide from sampling.

`MISTAKES[name] = (edit, tensor)`: edit(dx, dw, db, stride, padding) changes the correct
gradients in place; `tensor` is the one that must fail. "Middle" channels are neither the
first nor the last input channel, so an exact check of whole channels may not cover them.
"""

import numpy as np

from convcheck.impls import Implementation, im2col


def _phase(dx, stride, padding):
    """dL/dX at the pixels of stride phase (1, 1): padded row and column odd modulo the stride."""
    (s_h, s_w), (top, _, left, _) = stride, padding
    return dx[:, :, (1 - top) % s_h::s_h, (1 - left) % s_w::s_w]


def _edits():
    def bottom_row(dx, dw, db, s, p): dx[:, :, -1, :] = 0.0                      # noqa: E704
    def top_row(dx, dw, db, s, p): dx[:, :, 0, :] *= 1.1                         # noqa: E704
    def left_column(dx, dw, db, s, p): dx[:, :, :, 0] *= -1.0                    # noqa: E704
    def right_column(dx, dw, db, s, p): dx[:, :, :, -1] *= 0.9                   # noqa: E704
    def dx_channel_zero(dx, dw, db, s, p): dx[:, dx.shape[1] // 2] = 0.0         # noqa: E704
    def dx_channel_10pct(dx, dw, db, s, p): dx[:, dx.shape[1] // 3] *= 1.1       # noqa: E704
    def dx_channel_row(dx, dw, db, s, p): dx[:, dx.shape[1] // 2, -1, :] = 0.0   # noqa: E704
    def stride_phase(dx, dw, db, s, p): _phase(dx, s, p)[...] = 0.0              # noqa: E704
    def dw_filter_10pct(dx, dw, db, s, p): dw[dw.shape[0] // 2] *= 1.1           # noqa: E704
    def dw_channel_zero(dx, dw, db, s, p): dw[:, dw.shape[1] // 2] = 0.0         # noqa: E704
    def dw_tap_first_channel(dx, dw, db, s, p): dw[dw.shape[0] // 2, 0, 1, 1] *= 1.5   # noqa: E704
    def dw_tap_last_channel(dx, dw, db, s, p): dw[dw.shape[0] // 3, -1, 0, 2] *= 1.5   # noqa: E704
    def dw_tap_middle_channel(dx, dw, db, s, p): dw[5, dw.shape[1] // 2, 2, 0] *= 1.5  # noqa: E704
    def db_filter_plus_1(dx, dw, db, s, p): db[db.shape[0] // 2] += 1.0         # noqa: E704
    return {
        "bottom_row": (bottom_row, "dx"), "top_row": (top_row, "dx"), "left_column": (left_column, "dx"),
        "right_column": (right_column, "dx"), "dx_channel_zero": (dx_channel_zero, "dx"),
        "dx_channel_10pct": (dx_channel_10pct, "dx"), "dx_channel_row": (dx_channel_row, "dx"),
        "stride_phase": (stride_phase, "dx"), "dw_filter_10pct": (dw_filter_10pct, "dw"),
        "dw_channel_zero": (dw_channel_zero, "dw"), "dw_tap_first_channel": (dw_tap_first_channel, "dw"),
        "dw_tap_last_channel": (dw_tap_last_channel, "dw"), "dw_tap_middle_channel": (dw_tap_middle_channel, "dw"),
        "db_filter_plus_1": (db_filter_plus_1, "db"),
    }


MISTAKES = _edits()


def implementation(name: str) -> Implementation:
    """im2col's forward, and its backward with the mistake `name` made."""
    edit, _ = MISTAKES[name]

    def backward(dy, x, w, b, *, stride, padding):
        dx, dw, db = (None if g is None else np.array(g) for g in im2col.backward(dy, x, w, b, stride=stride,
                                                                                   padding=padding))
        edit(dx, dw, db, stride, padding)
        return dx, dw, db
    return Implementation(name, im2col.forward, backward)
