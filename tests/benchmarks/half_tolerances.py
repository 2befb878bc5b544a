"""How far correct half-precision gradients fall from the exact ones: the measurement behind
options.TOLERANCES["float16"] and options.TOLERANCES["bfloat16"].

    python tests/benchmarks/half_tolerances.py [--dtype float16|bfloat16] [--layers 300] [--seed 0]

Random layers (input 1-24, filter 1-6, k and p up to 24, strides 1-4, dilation and groups
in some, batch 1-3, every padding form). For each, x, w, b, G are drawn in the dtype, both
built-ins (and torch's conv2d on the CPU in that dtype, where torch is installed) compute
dL/dX, dL/dF, dL/db in it (bfloat16 products accumulate in float32, as bfloat16 kernels do,
and are rounded to bfloat16 once), and each element is compared with the exact float64
gradient of the same numbers. Printed: the worst |error| of elements whose exact value is
below 1 in size (what atol must cover), the worst |error| / |exact| of the others (what rtol
must cover), and how many elements the dtype's (rtol, atol) in options.TOLERANCES fail.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from stress_correct import drift, random_layers  # noqa: E402

from convcheck.dtypes import numpy_dtype  # noqa: E402
from convcheck.geometry import geometry  # noqa: E402
from convcheck.impls import direct, im2col  # noqa: E402
from convcheck.options import TOLERANCES  # noqa: E402


def torch_backward(dtype):
    """torch's conv2d in `dtype` (float16, bfloat16) on the CPU as a third implementation, or None."""
    try:
        import torch
    except ImportError:
        return None
    functional, kind = torch.nn.functional, getattr(torch, dtype)

    def tensor(a, grad=True):
        return torch.tensor(a.astype(np.float32)).to(kind).requires_grad_(grad)

    def backward(dy, x, w, b, *, stride, padding, dilation=(1, 1), groups=1):
        top, bottom, left, right = padding
        tx, tw = tensor(x), tensor(w)
        tb = None if b is None else tensor(b)
        y = functional.conv2d(functional.pad(tx, (left, right, top, bottom)), tw, tb, stride=stride,
                              dilation=dilation, groups=groups)
        grads = torch.autograd.grad(y, [t for t in (tx, tw, tb) if t is not None], tensor(dy, False))
        return tuple(g.float().numpy() for g in grads) + ((None,) if b is None else ())
    return backward


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dtype", choices=("float16", "bfloat16"), default="float16")
    parser.add_argument("--layers", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    impls = {"direct": direct.backward, "im2col": im2col.backward}
    if torch_backward(args.dtype) is not None:
        impls["torch"] = torch_backward(args.dtype)
    naive = {"direct, every step in the dtype": direct.backward.__wrapped__}   # sums rounded as they go: shown,
                                                                                # not what the defaults are for
    dtype, candidate = numpy_dtype(args.dtype), TOLERANCES[args.dtype]
    worst_abs = {name: 0.0 for name in [*impls, *naive]}
    worst_rel = {name: 0.0 for name in [*impls, *naive]}
    failing = {name: 0 for name in [*impls, *naive]}
    elements = 0
    for spec in random_layers(rng, args.layers):
        geom, shapes = geometry(spec), geometry(spec).shapes
        draw = {t: None if shapes[t] is None else rng.standard_normal(shapes[t]).astype(dtype)
                for t in ("x", "w", "b", "y")}
        kwargs = {"stride": spec.stride, "padding": geom.padding, "dilation": spec.dilation, "groups": spec.groups,
                  **({"transposed": True, "output_padding": spec.out_padding} if spec.transposed else {})}
        exact64 = [None if draw[t] is None else draw[t].astype(np.float64) for t in ("y", "x", "w", "b")]
        exact = direct.backward(*exact64, **kwargs)
        for name, backward in {**impls, **naive}.items():
            if name == "torch" and (spec.dims != 2 or spec.transposed):
                continue                                      # conv2d's layers only
            got = backward(draw["y"], draw["x"], draw["w"], draw["b"], **kwargs)
            for ours, truth in zip(got, exact):
                if truth is None:
                    continue
                err = np.abs(ours.astype(np.float64) - truth)
                absolute, relative = drift(ours.astype(np.float64), truth)
                worst_abs[name], worst_rel[name] = max(worst_abs[name], absolute), max(worst_rel[name], relative)
                failing[name] += int((err > candidate[1] + candidate[0] * np.abs(truth)).sum())
                elements += err.size if name == "direct" else 0
    print(f"{args.layers} random layers, {elements:,} gradient elements per implementation, {args.dtype} against exact "
          "float64")
    print(f"{'impl':8} {'worst |err|, |exact| < 1':>26} {'worst |err|/|exact|, |exact| >= 1':>34} "
          f"{'fail at rtol %g, atol %g' % candidate:>26}")
    for name in [*impls, *naive]:
        print(f"{name:8} {worst_abs[name]:>26.3g} {worst_rel[name]:>34.3g} {failing[name]:>26}")
    print("direct and im2col accumulate in float32 and round once, as half-precision kernels do; the last row "
          "rounds every intermediate sum to the dtype, as NumPy code written in it does (not what the defaults "
          "are set from)")


if __name__ == "__main__":
    main()
