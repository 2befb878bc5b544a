"""Issues 7 and 16: what the default method covers on real layers within its budget, and what
`full` costs against the true floor of black-box finite differences.

    python tests/benchmarks/bench_coverage.py [--impl im2col] [--skip-full-64]

References, each run side by side in this process:
- `full`'s forwards against the true floor, 2 (k / groups) m_h m_w + 4 (each axis capped
  where the input is smaller: `methods.cost.full_forwards`), on strided, dilated, grouped and
  depthwise layers, beside what the engine before issue 16 spent (k (s ceil(e/s))^2 colour
  classes + (k / groups) m_h m_w taps + 3, e = d (m - 1) + 1); and its time against
  (forwards x the time of one forward of the layer, the mean of 20 back to back);
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

from convcheck import verify
from convcheck.geometry import geometry
from convcheck.impls import load_impl
from convcheck.loader import load_specs
from convcheck.methods import cost as budget
from convcheck.options import DEFAULT_BUDGET_S, FORWARD_CHECKS, checked

ROOT = Path(__file__).resolve().parents[2]
LAYERS = {  # name: spec fields; the 5x100x100 layer comes from configs/
    "64x56x56 s1": dict(n=56, m=3, k=64, p=64, padding=1, stride=1),
    "128x28x28 s2": dict(n=28, m=3, k=128, p=128, padding=1, stride=2),
    "256x14x14 s1": dict(n=14, m=3, k=256, p=256, padding=1, stride=1),
}


FLOOR_LAYERS = {  # issue 16's layers (32 x 32 inputs), and the depthwise layer of its speed goal
    "3x3 s2, k 4": dict(n=32, m=3, k=4, p=4, padding=1, stride=2),
    "1x1 s2 (ResNet shortcut), k 8": dict(n=32, m=1, k=8, p=16, padding=0, stride=2),
    "4x4 s3, k 3": dict(n=32, m=4, k=3, p=4, padding=0, stride=3),
    "3x3 d2, k 4": dict(n=32, m=3, k=4, p=4, padding=2, stride=1, dilation=2),
    "3x3 d2 s2, k 4": dict(n=32, m=3, k=4, p=4, padding=2, stride=2, dilation=2),
    "depthwise 3x3, k 32": dict(n=32, m=3, k=32, p=32, padding=1, stride=1, groups=32),
    "3x3 groups 4, k 16": dict(n=32, m=3, k=16, p=16, padding=1, stride=1, groups=4),
    "5x100x100, ten 5x5": None,
    "depthwise 3x3, k 128, 56x56": dict(n=56, m=3, k=128, p=128, padding=1, stride=1, groups=128),
}


def previous_engine(spec) -> int:
    """Forwards `full` spent before issue 16: k (s ceil(e/s))^2 per axis capped at the input size,
    + (k / groups) m_h m_w + 3."""
    classes = 1
    for n, m, s, d in zip(spec.n, spec.m, spec.stride, spec.dilation):
        e = d * (m - 1) + 1
        classes *= min(s * -(-e // s), n)
    return spec.k * classes + spec.k // spec.groups * spec.m[0] * spec.m[1] + (2 + spec.bias)


def write_specs(folder: Path) -> dict:
    """One YAML file per layer, float64; returns {name: path}."""
    paths = {}
    for name, fields in LAYERS.items():
        paths[name] = _write(folder, name, fields)
    paths["5x100x100, ten 5x5"] = ROOT / "configs" / "multichannel_5x100x100.yaml"
    return paths


def _write(folder: Path, name: str, fields: dict) -> Path:
    slug = "".join(c if c.isalnum() else "-" for c in name)
    path = folder / f"{slug}.yaml"
    path.write_text("".join(f"{key}: {value}\n" for key, value in {"name": slug, **fields}.items()))
    return path


def one_forward(spec, impl, repeat: int = 20) -> float:
    """Seconds of one float64 forward of the layer: the mean of `repeat` back to back, the rate
    a long run of forwards sustains (a best-of-N would flatter the reference)."""
    geom = geometry(spec)
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(geom.shapes[t]) for t in ("x", "w", "b"))
    kwargs = {"stride": spec.stride, "padding": geom.padding,
              **({"dilation": spec.dilation} if any(d != 1 for d in spec.dilation) else {}),
              **({"groups": spec.groups} if spec.groups != 1 else {}),
              **({"transposed": True, "output_padding": spec.out_padding} if spec.transposed else {})}
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
        specs = {name: checked(load_specs(path)[0]) for name, path in paths.items()}   # at the batch verify checks

        rows = []
        for name in LAYERS:
            spec = specs[name]
            result = verify(spec, impl)
            wall, report = process(paths[name], args.impl)
            floor = budget.full(geometry(spec), 0).forwards
            tensors = {c.name: {"coverage": c.coverage.as_dict()} for c in result.checks if c.coverage}
            rows.append((name, result.method, f"{result.seconds:.2f} s", f"{wall:.2f} s", report["method"],
                         covered(tensors, spec.k), covered(report["tensors"], spec.k),
                         f"{floor} ({floor * one_forward(spec, impl):.1f} s)"))
        print("default method (auto), in-process and as a whole process:")
        print(table(("layer", "method", "in-process", "process", "method", "coverage in-process",
                     "coverage in the process", "full would need (est.)"), rows))

        rows = []
        for name in ["5x100x100, ten 5x5", "64x56x56 s1"]:
            if name == "64x56x56 s1" and args.skip_full_64:
                continue
            spec = specs[name]
            floor = budget.full(geometry(spec), 0).forwards
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

        rows = []
        for name, fields in FLOOR_LAYERS.items():
            spec = specs[name] if fields is None else checked(load_specs(_write(Path(folder), name, fields))[0])
            floor = budget.full(geometry(spec), 0).forwards
            assert floor == 2 * (spec.k // spec.groups) * spec.m[0] * spec.m[1] + 1 + FORWARD_CHECKS + spec.bias
            best = min((verify(spec, impl, method="full") for _ in range(3)), key=lambda r: r.seconds)
            assert best.passed
            rows.append((name, f"{best.forwards:g}", floor, f"{best.forwards / floor:.3f}x", previous_engine(spec),
                         f"{previous_engine(spec) / best.forwards:.2f}x", f"{best.seconds:.3f} s"))
        print("\nfull at the true floor, 2 (k / groups) m_h m_w + 4 (in-process, best of 3):")
        print(table(("layer", "forwards", "true floor", "ratio", "before issue 16", "saved", "full, in-process"),
                    rows))


if __name__ == "__main__":
    main()
