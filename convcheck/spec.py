"""`ConvSpec`: one convolution layer as written in a YAML spec, sizes normalised to one int per
spatial axis (`dims` of them: 1, 2 or 3).

Notation (docs/derivations.md): input X is n x n x k, each of the p filters F_j is m x m x k.
Array layout: x (batch, k, *n), w (p, k / groups, *m), b (p,); in 2-D x (batch, k, n_h, n_w).
"""

from dataclasses import dataclass

PADDING_NAMES = ("valid", "same", "full")
LAYOUTS = ("nchw", "nhwc")
DTYPES = ("float64", "float32", "float16", "bfloat16")
LABELS = {"x": "X", "w": "F", "b": "b", "y": "Y", "dy": "dL/dY", "dx": "dL/dX", "dw": "dL/dF", "db": "dL/db",
          "d2x": "dL2/dX", "d2w": "dL2/dF", "d2b": "dL2/db", "d2g": "dL2/dG"}
"""The derivations' notation for each tensor key (F is the filter bank w). Order 2 (second.py):
L2 = <U_X, dL/dX> + <U_F, dL/dF> + <U_b, dL/db>, and G = dL/dY."""


@dataclass(frozen=True)
class ConvSpec:
    """A conv layer to check.

    n, m, stride and dilation hold one int per spatial axis (2-D: (h, w)). `padding` is kept
    as written: a name ('valid' | 'same' | 'full') or explicit (before, after) per axis, axis by
    axis (2-D: (top, bottom, left, right)); `geometry.resolve_padding` turns names into ints.
    `rtol`/`atol` are None when the spec leaves the dtype's default in force.
    """

    n: tuple[int, ...]
    m: tuple[int, ...]
    k: int
    p: int
    padding: str | tuple[int, ...]
    stride: tuple[int, ...]
    name: str = "layer"
    dilation: tuple[int, ...] = (1, 1)   # taps d apart: effective filter size d (m - 1) + 1
    groups: int = 1                      # k / groups input channels per filter, as in PyTorch
    layout: str = "nchw"                 # the plug-in's arrays: nchw, or nhwc (x (N, H, W, k), w (m_h, m_w, k, p))
    adapter: tuple = ()                  # (name, renamed) pairs for the layer: adapter's arguments and attributes
    batch: int | None = None       # None: the spec sets none (shapes use 1; verify checks options.CHECK_BATCH)
    bias: bool = True
    dtype: str = "float64"
    seed: int = 0
    rtol: float | None = None
    atol: float | None = None
    source: str | None = None
    line: int | None = None
    chained: bool = False          # in a network file: k and n are the previous layer's p and output
    transposed: bool = False       # a transposed convolution (PyTorch's ConvTranspose1d/2d/3d): w (k, p / groups, *m)
    output_padding: tuple = ()     # transposed: extra rows at the end of each axis, each < its stride or dilation

    @property
    def dims(self) -> int:
        """Spatial axes: 1, 2 or 3."""
        return len(self.n)

    @property
    def batch_size(self) -> int:
        """The batch N shapes use: the spec's, 1 where it sets none."""
        return self.batch or 1

    @property
    def out_padding(self) -> tuple[int, ...]:
        """output_padding, one per axis (zeros when none is given)."""
        return self.output_padding or (0,) * self.dims

    @property
    def where(self) -> str:
        """'file:line' of the layer, for messages."""
        if self.source is None:
            return self.name
        return f"{self.source}:{self.line}" if self.line else self.source
