"""How far correct half-precision second-order gradients fall from the exact ones: the
measurement behind options.TOLERANCES_ORDER2.

    python tests/benchmarks/order2_tolerances.py [--dtype float16|bfloat16|float32] [--layers 200] [--seed 0]

Random layers as tests/benchmarks/stress_correct.py draws them (1-D to 3-D, strides, dilation,
groups, transposed, every padding form), checked with tests/plugins/torch_conv.py (torch's
own conv ops, autograd's double backward) on the CPU: for each, x, w, b, G and U are drawn,
the op's double backward (the torch adapter's `second`, what `--order 2` compares) runs once
in the dtype and once in float64, the exact answer, and each element of dL2/dX, dL2/dF,
dL2/dG is compared. A second-order gradient is two rounded computations deep (the backward's
outputs, then their own gradients), so it drifts further than a first-order one. Printed: the
worst |error| of elements whose exact value is below 1 in size (what atol must cover), the
worst |error| / |exact| of the others (what rtol must cover), and how many elements the
order-1 defaults and the order-2 ones fail.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from stress_correct import drift, random_layers  # noqa: E402

from convcheck.dtypes import numpy_dtype  # noqa: E402
from convcheck.geometry import geometry  # noqa: E402
from convcheck.impls import load_impl  # noqa: E402
from convcheck.options import TOLERANCES, TOLERANCES_ORDER2  # noqa: E402

CONV = f"torch:{Path(__file__).parents[1] / 'plugins' / 'torch_conv.py'}:conv"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dtype", choices=("float16", "bfloat16", "float32"), default="bfloat16")
    parser.add_argument("--layers", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    second = load_impl(CONV).second
    dtype = numpy_dtype(args.dtype)
    tolerances = {"order 1": TOLERANCES[args.dtype], "order 2": TOLERANCES_ORDER2.get(args.dtype,
                                                                                       TOLERANCES[args.dtype])}
    worst_abs = worst_rel = 0.0
    failing = {name: 0 for name in tolerances}
    elements = 0
    for spec in random_layers(rng, args.layers):
        geom, shapes = geometry(spec), geometry(spec).shapes
        draw = {t: None if shapes[t] is None else rng.standard_normal(shapes[t]) for t in ("x", "w", "b", "y")}
        u = {t: None if shapes[t] is None else rng.standard_normal(shapes[t]).astype(dtype).astype(np.float64)
             for t in ("x", "w", "b")}                   # as second.upstream draws it: representable in the dtype
        kwargs = {"stride": spec.stride, "padding": geom.padding, "dilation": spec.dilation, "groups": spec.groups,
                  **({"transposed": True, "output_padding": spec.out_padding} if spec.transposed else {})}
        half = {t: None if a is None else a.astype(dtype) for t, a in draw.items()}
        rounded = {t: None if a is None else a.astype(np.float64) for t, a in half.items()}
        exact = second(rounded["y"], rounded["x"], rounded["w"], rounded["b"], u, **kwargs)   # the same numbers
        got = second(half["y"], half["x"], half["w"], half["b"], u, **kwargs)
        for t in ("x", "w", "y"):
            ours, truth = got[t].astype(np.float64), exact[t]
            err = np.abs(ours - truth)
            absolute, relative = drift(ours, truth)
            worst_abs, worst_rel = max(worst_abs, absolute), max(worst_rel, relative)
            for name, (rtol, atol) in tolerances.items():
                failing[name] += int((err > atol + rtol * np.abs(truth)).sum())
            elements += err.size
    print(f"{args.layers} random layers, {elements:,} second-order gradient elements, torch's conv ops in {args.dtype} "
          "against float64 on the same numbers")
    print(f"worst |err| where |exact| < 1: {worst_abs:.3g}; worst |err|/|exact| elsewhere: {worst_rel:.3g}")
    for name, (rtol, atol) in tolerances.items():
        print(f"failing at {name}'s defaults (rtol {rtol:g}, atol {atol:g}): {failing[name]:,}")


if __name__ == "__main__":
    main()
