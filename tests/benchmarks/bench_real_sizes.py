"""Issue 27's goals at real sizes, each printed beside its reference, measured in one run.

    python tests/benchmarks/bench_real_sizes.py [--skip-rates] [--skip-memory] [--skip-plan] [--skip-resnet]

Reference for every rate: this machine's float64 GEMM (NumPy's matmul of two 1536 x 1536
matrices, the median of five), measured in this process just before and just after what it is
compared with, the mean of the two.

1. Forwards at the machine's rate: a `--method full` check, in this process, of each of
   ResNet-50's 3x3 layers (64@56, 128@28, 256@14, 512@7) and four of its 1x1 layers, the
   built-in im2col forward timed around every call finite differences make; its FLOPs
   (2 p (k / groups) prod(m) N prod(o) a call) over that time, against the GEMM rate. Goal: 60%.
2. Memory that grows with the layer: each layer checked (`auto`, default budget) in a fresh
   child process; tracemalloc's peak (NumPy reports its allocations) of the check against the
   peak of one forward of the layer, its inputs included, and the child's whole peak resident
   memory (ru_maxrss). Goals: under 3x one forward; the n 65536 layer under 1 GiB.
3. Plans you can trust: `plan` (in this process) against the checks of sections 1 (`full`)
   and 2 (the default method): time and peak memory (tracemalloc), measured / estimated.
   Goal: within 1.5x.
4. ResNet-50 in full: `convcheck verify configs/resnet50.yaml --method full`, a whole process
   as users run it, against its floor: every layer's forwards (2 (k / groups) m_h m_w + 3)
   times their FLOPs at the GEMM rate measured around it. Goal: at most 1.6x.
"""

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
from tables import table

ROOT = Path(__file__).resolve().parents[2]
RESNET = ROOT / "configs" / "resnet50.yaml"
RESNET_LAYER = dict(batch=1, bias=False)           # as configs/resnet50.yaml has them
RATE_LAYERS = {  # ResNet-50's shapes
    "3x3 64@56": dict(n=56, m=3, k=64, p=64, padding=1, **RESNET_LAYER),
    "3x3 128@28": dict(n=28, m=3, k=128, p=128, padding=1, **RESNET_LAYER),
    "3x3 256@14": dict(n=14, m=3, k=256, p=256, padding=1, **RESNET_LAYER),
    "3x3 512@7": dict(n=7, m=3, k=512, p=512, padding=1, **RESNET_LAYER),
    "1x1 64->256@56": dict(n=56, m=1, k=64, p=256, padding=0, **RESNET_LAYER),
    "1x1 256->64@56": dict(n=56, m=1, k=256, p=64, padding=0, **RESNET_LAYER),
    "1x1 1024->256@14": dict(n=14, m=1, k=1024, p=256, padding=0, **RESNET_LAYER),
    "1x1 512->2048@7": dict(n=7, m=1, k=512, p=2048, padding=0, **RESNET_LAYER),
}
MEMORY_LAYERS = {  # the layers, at the batch verify checks: long audio, a transposed upsampler, a volume
    "1-D n 16384 k=p=64 m 9": dict(dims=1, n=16384, m=9, k=64, p=64, padding=4),
    "1-D n 65536 k=p=32 m 9": dict(dims=1, n=65536, m=9, k=32, p=32, padding=4),
    "1-D transposed n 8192 k 256 p 32 m 8 s 4": dict(dims=1, n=8192, m=8, k=256, p=32, padding=32, stride=4,
                                                     output_padding=3, transposed=True),
    "3-D 4@32x64x64 -> 8, 3x3x3": dict(dims=3, n=[32, 64, 64], m=3, k=4, p=8, padding=1),
}


def gemm_rate(size: int = 1536) -> float:
    """GFLOP/s of a float64 matmul, the median of five."""
    a, b = np.random.rand(size, size), np.random.rand(size, size)
    a @ b
    times = []
    for _ in range(5):
        started = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - started)
    return 2 * size**3 / statistics.median(times) / 1e9


def spec_of(fields: dict):
    """The layer as a spec: stride 1 and bias unless the fields say otherwise, at the batch verify
    checks (2, where the fields set none)."""
    from convcheck.loader import load_mapping
    return load_mapping({"name": "layer", "stride": 1, **fields})[0]


def forward_rates(walls: dict) -> list:
    """Section 1: the rate of the forwards inside full checks, against GEMM; each check's wall
    time into `walls`."""
    import convcheck.impls.im2col as im2col
    from convcheck import verify
    original, spent = im2col.forward, {"seconds": 0.0, "flop": 0.0}

    def timed(x, w, b, **kwargs):
        started = time.perf_counter()
        y = original(x, w, b, **kwargs)
        spent["seconds"] += time.perf_counter() - started
        spent["flop"] += 2.0 * w.shape[0] * w[0].size * y.shape[0] * np.prod(y.shape[2:])
        return y
    im2col.forward = timed                           # the checker's `forward is im2col.forward` still holds
    rows = []
    try:
        for name, fields in RATE_LAYERS.items():
            before = gemm_rate()
            spent.update(seconds=0.0, flop=0.0)
            started = time.perf_counter()
            result = verify(spec_of(fields), "im2col", method="full")
            wall = walls[name] = time.perf_counter() - started
            gemm = (before + gemm_rate()) / 2
            rate = spent["flop"] / spent["seconds"] / 1e9
            floor = spent["flop"] / gemm / 1e9
            rows.append([name, f"{gemm:.0f}", f"{rate:.0f}", f"{rate / gemm:.0%}",
                         "yes" if rate >= 0.6 * gemm else "NO", f"{wall:.1f} s", f"{wall / floor:.2f}x", result.passed])
    finally:
        im2col.forward = original
    return rows


def child_memory(fields: dict, method: str = "auto") -> dict:
    """In a fresh process: one forward's peak (inputs included) and the check's, tracemalloc's
    (which slows Python down: its times are not the rates of section 1)."""
    from convcheck import verify
    from convcheck.impls import im2col
    from convcheck.options import checked
    from convcheck.prepare import prepare
    spec = spec_of(fields)
    tracemalloc.start()
    layer = prepare(checked(spec), "im2col", "numpy", None, None)
    x, w, b = (layer.data[t] for t in ("x", "w", "b"))
    inputs = sum(a.nbytes for a in (x, w, b) if a is not None)
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    im2col.forward(x, w, b, **layer.kwargs)
    forward = tracemalloc.get_traced_memory()[1] - base + inputs
    im2col.release()                                 # its scratch, or the check would reuse it untraced
    del layer, x, w, b
    tracemalloc.stop()
    tracemalloc.start()
    started = time.perf_counter()
    result = verify(spec, "im2col", method=method)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    return {"forward": forward, "peak": peak, "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "seconds": seconds, "method": result.method, "passed": result.passed}


def in_child(fields: dict, method: str = "auto") -> dict:
    """child_memory in a fresh process."""
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps(fields), method], capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def memory() -> tuple[list, dict]:
    """Section 2, each layer in its own process."""
    rows, measured = [], {}
    for name, fields in MEMORY_LAYERS.items():
        got = measured[name] = in_child(fields)
        mib = 2**20
        rows.append([name, f"{got['forward'] / mib:.0f} MiB", f"{got['peak'] / mib:.0f} MiB",
                     f"{got['peak'] / got['forward']:.2f}x", f"{got['rss'] / mib:.0f} MiB", got["method"],
                     f"{got['seconds']:.1f} s", got["passed"]])
    return rows, measured


def plans(walls: dict, measured: dict) -> list:
    """Section 3: plan's time and memory against what verify measured: `full` on the layers of
    section 1 (its time; its peak memory from another full check in a fresh process), the
    default method on those of section 2."""
    from convcheck.checker import plan
    from convcheck.geometry import geometry
    from convcheck.memory import estimate
    from convcheck.options import checked
    rows = []
    for name, fields in {**RATE_LAYERS, **MEMORY_LAYERS}.items():
        if name not in walls and name not in measured:
            continue
        planned = plan(spec_of(fields), "im2col")
        method = "full" if name in walls else "auto"
        estimate_s = planned.estimate(planned.full if method == "full" else planned.auto)
        seconds = walls[name] if method == "full" else measured[name]["seconds"]
        memory = estimate(geometry(checked(spec_of(fields)))).bytes
        peak = measured[name]["peak"] if name in measured else in_child(fields, "full")["peak"]
        rows.append([name, method, f"{estimate_s:.1f} s", f"{seconds:.1f} s", f"{seconds / estimate_s:.2f}x",
                     f"{memory / 2**20:.0f} MiB", "-" if peak is None else f"{peak / 2**20:.0f} MiB",
                     "-" if peak is None else f"{peak / memory:.2f}x"])
    return rows


def resnet() -> list:
    """Section 4: the whole network file, --method full, a whole process, against its floor."""
    from convcheck.geometry import geometry
    from convcheck.loader import load_specs
    flop = 0.0
    for spec in load_specs([RESNET]):
        geom = geometry(spec)
        k_w, taps = spec.k // spec.groups, int(np.prod(spec.m))
        flop += (2 * k_w * taps + 3) * 2.0 * spec.p * k_w * taps * int(np.prod(geom.out))
    before = gemm_rate()
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "convcheck", "verify", str(RESNET), "--method", "full", "--format",
                          "json", "--impl", "im2col"], capture_output=True, text=True)
    wall = time.perf_counter() - started
    gemm = (before + gemm_rate()) / 2
    report = json.loads(run.stdout)
    floor = flop / gemm / 1e9
    return [["ResNet-50, 53 layers, --method full", f"{flop / 1e9:,.0f} GFLOP", f"{gemm:.0f} GFLOP/s", f"{floor:.0f} s",
             f"{wall:.0f} s", f"{wall / floor:.2f}x", "yes" if wall <= 1.6 * floor else "NO",
             f"{report['passed']} passed, {report['failed']} failed"]]


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(child_memory(json.loads(sys.argv[2]), sys.argv[3])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for part in ("rates", "memory", "plan", "resnet"):
        parser.add_argument(f"--skip-{part}", action="store_true")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}")
    walls, measured = {}, {}
    if not args.skip_rates:
        print("\n1. forwards inside a --method full check against this machine's float64 GEMM (goal: 60%)")
        print(table(["layer", "GEMM GFLOP/s", "forwards GFLOP/s", "ratio", ">= 60%", "check", "check / floor",
                     "passed"], forward_rates(walls)))
    if not args.skip_memory:
        print("\n2. peak memory of a check (auto, default budget; tracemalloc) against one forward's (goal: < 3x; "
              "n 65536 under 1 GiB resident)")
        rows, measured = memory()
        print(table(["layer", "one forward", "check", "ratio", "resident", "method", "time", "passed"], rows))
    if not args.skip_plan:
        print("\n3. plan against verify, time and memory (goal: within 1.5x)")
        print(table(["layer", "method", "plan", "verify", "ratio", "plan memory", "verify peak", "ratio"],
                    plans(walls, measured)))
    if not args.skip_resnet:
        print("\n4. ResNet-50 in full, a whole process, against its floor (goal: at most 1.6x)")
        print(table(["what", "FLOPs", "GEMM", "floor", "measured", "ratio", "<= 1.6x", "verdict"], resnet()))


if __name__ == "__main__":
    main()
