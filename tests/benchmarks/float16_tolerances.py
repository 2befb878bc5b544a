"""How far correct float16 gradients fall from the exact ones: the measurement behind
options.TOLERANCES["float16"].

    python tests/benchmarks/float16_tolerances.py [--layers 300] [--seed 0]

Random layers (input 1-24, filter 1-6, k and p up to 24, strides 1-4, dilation and groups
in some, batch 1-3, every padding form). For each, x, w, b, G are drawn in float16, both
built-ins (and torch's conv2d on the CPU in half precision, where torch is installed) compute
dL/dX, dL/dF, dL/db in float16, and each element is compared with the exact float64
gradient of the same numbers. Printed: the worst |error| of elements whose exact value is
below 1 in size (what atol must cover), the worst |error| / |exact| of the others (what rtol
must cover), and how many elements a candidate (rtol, atol) would fail.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from stress_correct import random_layer  # noqa: E402

from convcheck.geometry import geometry  # noqa: E402
from convcheck.impls import direct, im2col  # noqa: E402

CANDIDATE = (5e-2, 5e-2)


def torch_backward():
    """torch's conv2d in float16 on the CPU as a third implementation, or None."""
    try:
        import torch
    except ImportError:
        return None
    functional = torch.nn.functional

    def backward(dy, x, w, b, *, stride, padding, dilation=(1, 1), groups=1):
        top, bottom, left, right = padding
        tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
        tb = None if b is None else torch.tensor(b, requires_grad=True)
        y = functional.conv2d(functional.pad(tx, (left, right, top, bottom)), tw, tb, stride=stride,
                              dilation=dilation, groups=groups)
        grads = torch.autograd.grad(y, [t for t in (tx, tw, tb) if t is not None], torch.tensor(dy))
        return tuple(g.numpy() for g in grads) + ((None,) if b is None else ())
    return backward


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    impls = {"direct": direct.backward, "im2col": im2col.backward}
    if torch_backward() is not None:
        impls["torch"] = torch_backward()
    worst_abs = {name: 0.0 for name in impls}
    worst_rel = {name: 0.0 for name in impls}
    failing = {name: 0 for name in impls}
    elements, layers = 0, 0
    while layers < args.layers:
        spec = random_layer(rng, layers)
        if spec is None:
            continue
        layers += 1
        geom, shapes = geometry(spec), geometry(spec).shapes
        draw = {t: None if shapes[t] is None else rng.standard_normal(shapes[t]).astype(np.float16)
                for t in ("x", "w", "b", "y")}
        kwargs = {"stride": spec.stride, "padding": geom.padding, "dilation": spec.dilation, "groups": spec.groups}
        exact64 = [None if draw[t] is None else draw[t].astype(np.float64) for t in ("y", "x", "w", "b")]
        exact = direct.backward(*exact64, **kwargs)
        for name, backward in impls.items():
            got = backward(draw["y"], draw["x"], draw["w"], draw["b"], **kwargs)
            for ours, truth in zip(got, exact):
                if truth is None:
                    continue
                err = np.abs(ours.astype(np.float64) - truth)
                small = np.abs(truth) < 1
                worst_abs[name] = max(worst_abs[name], float(err[small].max(initial=0)))
                worst_rel[name] = max(worst_rel[name], float((err[~small] / np.abs(truth[~small])).max(initial=0)))
                failing[name] += int((err > CANDIDATE[1] + CANDIDATE[0] * np.abs(truth)).sum())
                elements += err.size if name == "direct" else 0
    print(f"{layers} random layers, {elements:,} gradient elements per implementation, float16 against exact float64")
    print(f"{'impl':8} {'worst |err|, |exact| < 1':>26} {'worst |err|/|exact|, |exact| >= 1':>34} "
          f"{'fail at rtol %g, atol %g' % CANDIDATE:>26}")
    for name in impls:
        print(f"{name:8} {worst_abs[name]:>26.3g} {worst_rel[name]:>34.3g} {failing[name]:>26}")


if __name__ == "__main__":
    main()
