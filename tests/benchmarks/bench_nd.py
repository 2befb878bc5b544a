"""Issue 17: `full` on a 3-D layer and a transposed 2-D layer, against the floor of black-box
finite differences, with the 5x100x100 2-D layer beside them.

    python tests/benchmarks/bench_nd.py [--impl im2col]

References, each run side by side in this process:
- forwards against the floor: 2 (k / groups) prod(m) + 4 for a plain layer (each axis capped
  where the input is smaller), (k / groups)(classes + prod(m)) + 4 for a transposed one, with
  floor((m - 1) gcd(s, d) / s) + 1 colour classes per axis (`colouring.transposed_colour`);
- time in-process against (floor x the time of one forward of the layer, the mean of 20 back
  to back): the finite differences' own overhead;
- the same check as a whole `convcheck verify --method full` process from the installed entry
  point (interpreter start and imports included).
"""

import argparse
import os
import platform
import tempfile
from pathlib import Path

import numpy as np
from bench_coverage import _write, one_forward, process
from tables import table

from convcheck import verify
from convcheck.geometry import geometry
from convcheck.impls import load_impl
from convcheck.loader import load_specs
from convcheck.methods import cost as budget
from convcheck.options import checked

ROOT = Path(__file__).parent.parent.parent
LAYERS = {  # name -> spec fields (None: the config file)
    "5x100x100, ten 5x5": None,
    "3-D 8x16x32x32, eight 3x3x3": dict(dims=3, n="[16, 32, 32]", m=3, k=8, p=8, padding=1, stride=1),
    "transposed 2-D 64 ch, 28 -> 56": dict(n=28, m=3, k=64, p=64, stride=2, padding=1, output_padding=1,
                                          transposed="true"),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--impl", default="im2col")
    args = parser.parse_args()
    impl = load_impl(args.impl)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"numpy {np.__version__}; impl {args.impl}, float64, method full\n")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name, fields in LAYERS.items():
            path = ROOT / "configs" / "multichannel_5x100x100.yaml" if fields is None else _write(Path(folder), name,
                                                                                               fields)
            spec = checked(load_specs(path)[0])                     # at the batch verify checks
            floor = budget.full(geometry(spec), 0).forwards
            t_forward = one_forward(spec, impl)
            result = verify(spec, impl, method="full")
            wall, report = process(path, args.impl, "--method", "full")
            assert result.passed and report["passed"], [(c.name, c.message) for c in result.checks]
            rows.append((name, f"{result.forwards:g}", floor, f"{result.forwards / floor:.3f}x",
                         f"{t_forward * 1e3:.1f} ms", f"{result.seconds:.2f} s", f"{wall:.2f} s",
                         f"{floor * t_forward:.2f} s", f"{result.seconds / (floor * t_forward):.2f}x"))
    print(table(("layer", "forwards", "floor", "ratio", "one forward", "in-process", "process",
                 "floor x one forward", "ratio"), rows))


if __name__ == "__main__":
    main()
