"""The GPU run: the `gpu` tests, then the figures of the CuPy backend against NumPy.

    python tests/benchmarks/gpu.py [--skip-tests] [--skip-full-64]

For the 5x100x100 layer (1x5x100x100, ten 5x5 filters) and a 64-channel 56x56 layer with 64
3x3 filters: the full check and the default method (auto, 5 s budget) on NumPy and on
CuPy, each the best of 3 in this process, both built-ins, and GPU against CPU as a ratio.
Without CuPy or a GPU it says so and prints the NumPy figures only.
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-tests", action="store_true")
    parser.add_argument("--skip-full-64", action="store_true", help="skip `full` on the 64x56x56 layer on NumPy")
    args = parser.parse_args()
    if not args.skip_tests:
        code = subprocess.call([sys.executable, "-m", "pytest", "-q", "-m", "gpu", str(ROOT / "tests")])
        if code not in (0, 5):
            sys.exit(code)

    from convcheck import verify
    from convcheck.backend import load_backend
    from convcheck.errors import ConvcheckError
    from convcheck.spec import ConvSpec
    try:
        cupy = load_backend("cupy")
        device = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
    except ConvcheckError as e:
        cupy, device = None, None
        print(f"no GPU figures: {e}")
    layers = {"1x5x100x100, ten 5x5": ConvSpec(n=(100, 100), m=(5, 5), k=5, p=10, padding=(0, 0, 0, 0),
                                                         stride=(1, 1), name="5x100x100", batch=1),
              "64x56x56, 64 3x3, same": ConvSpec(n=(56, 56), m=(3, 3), k=64, p=64, padding=(1, 1, 1, 1),
                                                 stride=(1, 1), name="c64", batch=1)}
    print(f"GPU: {device or 'none'}; best of 3 in one process, float64\n")
    print(f"{'layer':34} {'impl':7} {'method':8} {'numpy':>10} {'cupy':>10} {'GPU/CPU':>8}  "
          f"method run, verdict ({'cupy' if cupy else 'numpy'})")
    for label, spec in layers.items():
        for impl in ("im2col", "direct"):
            for method in ("full", "auto"):
                skip_cpu = args.skip_full_64 and method == "full" and spec.k == 64
                cpu = None if skip_cpu else best(lambda: verify(spec, impl, method=method))
                gpu = best(lambda: verify(spec, impl, method=method, backend="cupy")) if cupy else None
                ratio = f"{cpu[0] / gpu[0]:.1f}x" if cpu and gpu else "—"
                shown = gpu or cpu
                print(f"{label:34} {impl:7} {method:8} {seconds(cpu):>10} {seconds(gpu):>10} {ratio:>8}  "
                      f"{shown[1].method}, {'pass' if shown[1].passed else 'FAIL'}")


def best(run, repeats: int = 3):
    """(best seconds, last result); a result that failed is reported, not hidden."""
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return min(times), result


def seconds(measured) -> str:
    return "—" if measured is None else f"{measured[0]:.3f} s"


if __name__ == "__main__":
    main()
