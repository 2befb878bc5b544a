"""The colouring: which input pixels one forward may perturb together, and which outputs each
pixel reaches, per axis. Finite differences (`numerical.input_channels`) perturb a whole
colour class in one forward and read each pixel's difference off its own outputs
(`tap_outputs`); the cost model (`methods.cost`) counts the classes. Pure index arithmetic on the host: NumPy only.
"""

import math

import numpy as np


def colour(n: int, m: int, d: int = 1) -> np.ndarray:
    """The colour class of each of n pixels along one axis, for windows of m taps d apart:
    class(i) = (i div d) mod m, at most m classes, whatever the stride and the padding.

    No two pixels of one class share an output. A window reads taps o s + a d - lo, a = 0 …
    m - 1, so two pixels i1 != i2 in one window have i1 = i2 (mod d) and |i1 - i2| <= (m - 1) d.
    Take them in one class: i1 = q1 d + r and i2 = q2 d + r with q1 != q2 and q1 = q2 (mod m),
    so |q1 - q2| >= m and |i1 - i2| >= m d > (m - 1) d: no window holds both. Shifting every
    pixel by the padding changes neither difference, so pixel indices serve as they are. And no
    colouring does with fewer: the m taps of a window inside the input share its output, so
    they need m classes. Across axes the classes multiply (a window is a product of ranges)."""
    return (np.arange(n) // d) % m


def classes_along(n: int, m: int, d: int = 1) -> int:
    """How many classes `colour` uses along an axis of n pixels: i div d takes ceil(n / d)
    consecutive values, so min(m, ceil(n / d)) of them mod m."""
    return min(m, -(-n // d))


def transposed_colour(n: int, m: int, s: int, d: int = 1) -> np.ndarray:
    """The colour class of each of n input pixels along one axis of a transposed layer: pixel i
    adds to outputs i s + a d - lo, a = 0 … m - 1. With g = gcd(s, d), u = d / g and
    C = floor((m - 1) g / s) + 1 classes, class(i) = (i div u) mod C.

    No two pixels of one class reach one output. Pixels i1 != i2 meet at an output when
    i1 s + a1 d = i2 s + a2 d, so (i1 - i2) s = (a2 - a1) d: i1 - i2 is a multiple of u (s / g
    and u share no factor) and |i1 - i2| <= (m - 1) d / s. In one class with i1 = i2 (mod u),
    i1 div u and i2 div u differ by a nonzero multiple of C, so |i1 - i2| >= C u > (m - 1) g u
    / s = (m - 1) d / s: they never meet. And C is the floor: an output inside the map is
    reached by up to C pixels (the taps a = a0 + j s / g, j = 0 … C - 1, fall in 0 … m - 1),
    which must all differ. At s = 1 it is `colour`'s m classes; without dilation ceil(m / s)."""
    g = math.gcd(s, d)
    return (np.arange(n) // (d // g)) % ((m - 1) * g // s + 1)


def transposed_classes_along(n: int, m: int, s: int, d: int = 1) -> int:
    """How many classes `transposed_colour` uses along an axis of n pixels."""
    g = math.gcd(s, d)
    return min((m - 1) * g // s + 1, -(-n // (d // g)))


def tap_outputs(n: int, o: int, m: int, s: int, d: int, lo: int, transposed: bool = False) -> np.ndarray:
    """(n, m) int64: the output each of n input pixels meets through each of the m taps along
    one axis, or o where that tap falls outside the o outputs. A pixel's difference is the
    change summed over these outputs (`numerical.input_channels` gathers them), so the
    bookkeeping holds m entries a pixel, never a dense n x o matrix.

    Plain layer: pixel i is tap a of output q when i + lo - q s = a d, so q = (i + lo - a d) / s
    where that divides. Transposed: pixel i adds to output q = i s + a d - lo."""
    i, a = np.arange(n)[:, None], np.arange(m)[None, :]
    if transposed:
        q = i * s + a * d - lo
        inside = (q >= 0) & (q < o)
    else:
        offset = i + lo - a * d
        q = offset // s
        inside = (offset >= 0) & (offset % s == 0) & (q < o)
    return np.where(inside, q, o).astype(np.int64)


def colours(n: int, m: int, s: int, d: int, transposed: bool) -> np.ndarray:
    """The colour class of each of n input pixels along one axis: `colour`, or `transposed_colour`."""
    return transposed_colour(n, m, s, d) if transposed else colour(n, m, d)


def classes(n: int, m: int, s: int, d: int, transposed: bool) -> int:
    """How many classes `colours` uses along an axis of n pixels (s: the stride)."""
    return transposed_classes_along(n, m, s, d) if transposed else classes_along(n, m, d)
