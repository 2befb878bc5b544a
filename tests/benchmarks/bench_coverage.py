"""Issue 7's figures: what the default method covers on real layers within its budget, and what
`full` costs against the floor of black-box finite differences.

    python tests/benchmarks/bench_coverage.py [--impl im2col] [--skip-full-64]

References, each run side by side in this process:
- `full`'s forwards against the floor (`numerical.full_forwards`: k (s ceil(m/s))^2 colour
  classes + k m_h m_w taps + 1 bias + 1 unperturbed point + 1 forward check), and its time
  against (forwards x the time of one forward of the layer, the mean of 20 back to back);
- the default method (`auto`) in-process and as a whole `convcheck verify` process from the
  installed entry point (interpreter start and imports included).
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from tables import table

from convcheck import numerical, verify
from convcheck.checker import DEFAULT_BUDGET_S
from convcheck.geometry import geometry
from convcheck.impls import load_impl
from convcheck.loader import load_specs

ROOT = Path(__file__).resolve().parents[2]
LAYERS = {  # name: spec fields; seed 001's layer comes from configs/
    "64x56x56 s1": dict(n=56, m=3, k=64, p=64, padding=1, stride=1),
    "128x28x28 s2": dict(n=28, m=3, k=128, p=128, padding=1, stride=2),
    "256x14x14 s1": dict(n=14, m=3, k=256, p=256, padding=1, stride=1),
}


def write_specs(folder: Path) -> dict:
    """One YAML file per layer, float64; returns {name: path}."""
    paths = {}
    for name, fields in LAYERS.items():
        path = folder / (name.replace(" ", "-") + ".yaml")
        path.write_text("".join(f"{key}: {value}\n" for key, value in {"name": name.replace(" ", "-"),
                                                                          **fields}.items()))
        paths[name] = path
    paths["seed 001 (5x100x100, ten 5x5)"] = ROOT / "configs" / "seed001_multichannel.yaml"
    return paths


def one_forward(spec, impl, repeat: int = 20) -> float:
    """Seconds of one float64 forward of the layer: the mean of `repeat` back to back, the rate
    a long run of forwards sustains (a best-of-N would flatter the reference)."""
    geom = geometry(spec)
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(geom.shapes[t]) for t in ("x", "w", "b"))
    kwargs = {"stride": spec.stride, "padding": geom.padding}
    impl.forward(x, w, b, **kwargs)
    start = time.perf_counter()
    for _ in range(repeat):
        impl.forward(x, w, b, **kwargs)
    return (time.perf_counter() - start) / repeat


def process(path: Path, impl: str, *args) -> tuple[float, dict]:
    """(wall seconds, JSON report) of one whole `convcheck verify` process."""
    exe = Path(sys.executable).parent / "convcheck"
    start = time.perf_counter()
    done = subprocess.run([str(exe), "verify", str(path), "--impl", impl, "--format", "json", *args],
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    assert done.returncode == 0, done.stdout + done.stderr
    return wall, json.loads(done.stdout)["specs"][0]


def covered(tensors: dict, k: int) -> str:
    """'dX 52/64 ch + 32 proj, dF all' from JSON-shaped tensors."""
    parts = []
    for key, label in (("dx", "dX"), ("dw", "dF")):
        c = tensors[key]["coverage"]
        parts.append(f"{label} all" if c["every_coordinate"] else
                     f"{label} {len(c['channels'])}/{k} ch + {c['projections']} proj")
    return ", ".join(parts)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--impl", default="im2col", help="implementation under test (default im2col)")
    parser.add_argument("--skip-full-64", action="store_true", help="skip `full` on the 64x56x56 layer (~7 s)")
    args = parser.parse_args()
    impl = load_impl(args.impl)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"numpy {np.__version__}; impl {args.impl}, float64, default budget {DEFAULT_BUDGET_S:g} s\n")
    with tempfile.TemporaryDirectory() as folder:
        paths = write_specs(Path(folder))
        specs = {name: load_specs(path)[0] for name, path in paths.items()}

        rows = []
        for name in LAYERS:
            spec = specs[name]
            result = verify(spec, impl)
            wall, report = process(paths[name], args.impl)
            floor = numerical.full_forwards(geometry(spec).shapes, spec.stride)
            tensors = {c.name: {"coverage": c.coverage.as_dict()} for c in result.checks if c.coverage}
            rows.append((name, result.method, f"{result.seconds:.2f} s", f"{wall:.2f} s", report["method"],
                         covered(tensors, spec.k), covered(report["tensors"], spec.k),
                         f"{floor} ({floor * one_forward(spec, impl):.1f} s)"))
        print("default method (auto), in-process and as a whole process:")
        print(table(("layer", "method", "in-process", "process", "method", "coverage in-process",
                     "coverage in the process", "full would need (est.)"), rows))

        rows = []
        for name in ["seed 001 (5x100x100, ten 5x5)", "64x56x56 s1"]:
            if name == "64x56x56 s1" and args.skip_full_64:
                continue
            spec = specs[name]
            floor = numerical.full_forwards(geometry(spec).shapes, spec.stride)
            t_forward = one_forward(spec, impl)
            result = verify(spec, impl, method="full")
            wall, report = process(paths[name], args.impl, "--method", "full")
            assert result.passed and report["passed"]
            rows.append((name, f"{result.forwards:g}", floor, f"{result.forwards / floor:.3f}x",
                         f"{result.seconds:.2f} s", f"{wall:.2f} s", f"{floor * t_forward:.2f} s",
                         f"{result.seconds / (floor * t_forward):.2f}x"))
        print("\nfull: forwards against the floor, time against forwards x one forward:")
        print(table(("layer", "forwards", "floor", "ratio", "in-process", "process", "floor x one forward",
                     "ratio"), rows))


if __name__ == "__main__":
    main()
