"""No false failures: correct implementations on many random layers, every method, both dtypes.

    python tests/benchmarks/stress_correct.py [--layers 1000] [--seed 0]

Each layer is drawn at random (1, 2 or 3 spatial axes, 2-D half of the time; input 1-24 per
side in 2-D, 1-40 in 1-D, 1-8 in 3-D; filter 1-6, 1-7, 1-3; k and p up to 24, batch 1-3,
strides 1-4, dilation 1-3 and groups 1-4 in some, every padding form, with and without
bias, float64, float32 or float16; a quarter transposed, with output padding below the
stride or the dilation and half the input size). Both built-ins
are checked with `full`, `channels` (a tiny budget, so only the first and last input channel
are exact), `sample` and `fast`. Prints every false failure and the totals; exits 1 if any.
"""

import argparse
import sys
import time

import numpy as np

from convcheck import verify
from convcheck.errors import SpecError
from convcheck.geometry import geometry
from convcheck.spec import ConvSpec

METHODS = ("full", "channels", "sample", "fast")


SIZES = {1: (41, 8), 2: (25, 7), 3: (9, 4)}
"""dims -> (input size, filter size) bounds, exclusive: 3-D layers kept small."""


def random_layer(rng, index: int) -> ConvSpec | None:
    """A random layer (1, 2 or 3 spatial axes), or None when its filter does not fit its padded input."""
    dims = int(rng.choice([1, 2, 2, 3]))
    size, filt = SIZES[dims]
    form = rng.integers(5)
    padding = (["valid", "same", "full"][form] if form < 3 else (int(rng.integers(4)),) * (2 * dims) if form == 3
               else tuple(int(v) for v in rng.integers(0, 4, 2 * dims)))
    groups = int(rng.choice([1, 1, 2, 3, 4]))                   # dilation and groups in some layers
    dilation = tuple(int(v) for v in rng.choice([1, 1, 2, 3], dims))
    stride = tuple(int(v) for v in rng.integers(1, 5, dims))
    transposed = {}
    if rng.integers(4) == 0:                                    # a quarter transposed: numeric padding, smaller input
        size = size // 2 + 1
        padding = padding if padding not in ("same", "full") else "valid"
        transposed = {"transposed": True, "output_padding": tuple(int(rng.integers(max(s, d)))
                                                                   for s, d in zip(stride, dilation))}
    spec = ConvSpec(n=tuple(int(v) for v in rng.integers(1, size, dims)),
                    m=tuple(int(v) for v in rng.integers(1, filt, dims)),
                    k=groups * int(rng.integers(1, 7)), p=groups * int(rng.integers(1, 7)),
                    dilation=dilation, groups=groups, batch=int(rng.integers(1, 4)),
                    stride=stride, padding=padding,
                    bias=bool(rng.integers(2)), dtype=("float64", "float32", "float16")[int(rng.integers(3))],
                    seed=int(rng.integers(2**31)), name=f"random-{index}", **transposed)
    try:
        geometry(spec)
    except SpecError:
        return None
    return spec


def random_layers(rng, count: int):
    """`count` random valid layers (random_layer's), one after another."""
    made = 0
    while made < count:
        spec = random_layer(rng, made)
        if spec is not None:
            made += 1
            yield spec


def drift(ours, truth) -> tuple[float, float]:
    """(the worst |error| where |truth| < 1, the worst |error| / |truth| elsewhere): what atol and
    rtol must cover."""
    err, small = np.abs(ours - truth), np.abs(truth) < 1
    return float(err[small].max(initial=0)), float((err[~small] / np.abs(truth[~small])).max(initial=0))


def stress(layers: int, seed: int, report=print) -> tuple[dict, int, list]:
    """({dtype: layers drawn, 'transposed': how many of them are}, checks run, false failures),
    each false failure reported as found."""
    rng = np.random.default_rng(seed)
    checks, false_failures, counts = 0, [], {"float64": 0, "float32": 0, "float16": 0, "transposed": 0}
    while sum(counts.values()) - counts["transposed"] < layers:
        spec = random_layer(rng, sum(counts.values()) - counts["transposed"])
        if spec is None:
            continue
        counts[spec.dtype] += 1
        counts["transposed"] += spec.transposed
        for impl in ("direct", "im2col"):
            for method in METHODS:
                result = verify(spec, impl, method=method, budget=1e-4, samples=16)
                checks += 1
                if not result.passed:
                    bad = [(c.name, c.message) for c in result.checks if not c.passed and not c.skipped]
                    false_failures.append((spec, impl, method, bad))
                    report(f"FALSE FAILURE {impl} {method} {spec}: {bad}")
    return counts, checks, false_failures


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    counts, checks, false_failures = stress(args.layers, args.seed)
    print(f"{args.layers} random layers ({', '.join(f'{n} {dtype}' for dtype, n in counts.items())}), "
          f"{checks} checks (2 built-ins x {len(METHODS)} methods), {len(false_failures)} false failures, "
          f"{time.perf_counter() - started:.0f} s")
    sys.exit(1 if false_failures else 0)


if __name__ == "__main__":
    main()
