"""Issue 4's performance goals, measured side by side with torch in one process.

    python -m pip install torch==2.13.0      # the CPU build; a benchmark-only dependency
    python tests/benchmarks/bench_performance.py [--skip-gradcheck-default] [--no-scaling]

Reference for every ratio: torch.autograd.gradcheck and torch.nn.functional.conv2d (CPU,
float64), run in this same process on the same layers. Each timing is the best of several
repeats (the minimum is the least disturbed by the rest of the machine). Prints one table of
goals and, unless --no-scaling, how time and memory grow with n, m, k, p for each method.
"""

import argparse
import os
import platform
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import torch
from tables import table

from convcheck import verify
from convcheck.impls import direct, im2col
from convcheck.methods.fast import DIRECTIONS as FAST_DIRECTIONS
from convcheck.options import DEFAULT_SAMPLES
from convcheck.spec import ConvSpec

ROOT = Path(__file__).resolve().parents[2]
MULTICHANNEL = ROOT / "configs" / "multichannel_5x100x100.yaml"


def layer(n, m, k, p, **kw) -> ConvSpec:
    """Batch 1, set: the goals compare one sample with gradcheck's and torch's."""
    return ConvSpec(n=(n, n), m=(m, m), k=k, p=p, padding="valid", stride=(1, 1), name=f"{k}x{n}x{n}-{p}x{m}x{m}",
                    batch=1, **kw)


def best(fn, repeat=5, number=1) -> float:
    """Seconds per call, best of `repeat` rounds of `number` calls (one warm-up call first)."""
    return side_by_side(fn, repeat=repeat, number=number)[0]


def side_by_side(*fns, repeat=5, number=1) -> list[float]:
    """Best seconds per call of each function, their rounds interleaved so that a slow spell
    of this (virtual) machine hits every side alike."""
    for fn in fns:
        fn()
    rounds = [[] for _ in fns]
    for _ in range(repeat):
        for fn, times in zip(fns, rounds):
            start = time.perf_counter()
            for _ in range(number):
                fn()
            times.append((time.perf_counter() - start) / number)
    return [min(times) for times in rounds]


def torch_inputs(spec: ConvSpec, seed=0):
    g = torch.Generator().manual_seed(seed)
    make = lambda *shape: torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=True)  # noqa: E731
    return (make(spec.batch, spec.k, *spec.n), make(spec.p, spec.k, *spec.m), make(spec.p))


def gradcheck_call(spec: ConvSpec, fast_mode: bool):
    x, w, b = torch_inputs(spec)
    call = lambda: torch.autograd.gradcheck(torch.nn.functional.conv2d, (x, w, b), fast_mode=fast_mode)  # noqa: E731
    assert call()
    return call


def process(*args) -> float:
    """Wall seconds of one `convcheck` process, the best of three."""
    exe = Path(sys.executable).parent / "convcheck"
    walls = []
    for _ in range(3):
        start = time.perf_counter()
        done = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True)
        walls.append(time.perf_counter() - start)
        assert done.returncode == 0, done.stdout + done.stderr
    return min(walls)


def process_peak_mb(*args) -> float:
    """Peak resident memory (MB) of a fresh `convcheck ARGS` and every process it starts (the
    worker server and its workers): the sum over the process tree of each process's VmHWM,
    its own high-water mark, read from /proc every 2 ms while the run lasts (the last reading
    of a process holds its peak up to then; ru_maxrss would carry over this torch-laden
    parent's peak through fork and exec, and misses the workers)."""
    exe = Path(sys.executable).parent / "convcheck"
    run = subprocess.Popen([str(exe), *map(str, args)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peaks = {}
    while run.poll() is None:
        for pid, kb in _tree_hwm(run.pid).items():
            peaks[pid] = max(peaks.get(pid, 0), kb)
        time.sleep(0.002)
    return sum(peaks.values()) / 1024


def _tree_hwm(root: int) -> dict:
    """{pid: VmHWM in kB} of `root` and its descendants."""
    parents, hwm = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        parents[int(entry.name)] = int(fields["PPid"])
        if "VmHWM" in fields:
            hwm[int(entry.name)] = int(fields["VmHWM"].split()[0])
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return {pid: hwm[pid] for pid in tree if pid in hwm}


def peak_mb(fn) -> float:
    """Peak Python/NumPy allocation of one call, in MB (tracemalloc)."""
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def goals(skip_default: bool) -> list[tuple]:
    rows = []
    small, multichannel = layer(32, 5, 5, 10), layer(100, 5, 5, 10)

    # Goal 1: full on 1x5x32x32 with ten 5x5 filters vs gradcheck's default (dense Jacobians)
    if skip_default:
        ours = best(lambda: verify(small, "direct", method="full"))
        rows.append(("1 full, 5x32x32 vs gradcheck default", f"{ours:.3f} s", "skipped", "—", ">= 100x", "?"))
    else:
        ours, theirs = side_by_side(lambda: verify(small, "direct", method="full"),
                                    gradcheck_call(small, fast_mode=False), repeat=2)
        rows.append(("1 full, 5x32x32 vs gradcheck default", f"{ours:.3f} s", f"{theirs:.1f} s",
                     f"{theirs / ours:.0f}x faster", ">= 100x", theirs / ours >= 100))

    # Goal 2: the whole `convcheck verify --method full` process on the 5x100x100 layer
    wall = process("verify", MULTICHANNEL, "--method", "full")
    peak = process_peak_mb("verify", MULTICHANNEL, "--method", "full")
    inputs = 1 * 5 * 100 * 100 + 10 * 5 * 5 * 5 + 10
    jacobian_gb = inputs * (1 * 10 * 96 * 96) * 8 / 1e9
    rows.append(("2 full, 5x100x100, whole process", f"{wall:.2f} s, {peak:.0f} MB",
                 f"gradcheck: cannot run ({jacobian_gb:.0f} GB Jacobian)", "—", "< 1 s, < 500 MB",
                 wall < 1 and peak < 500))

    # Goal 3: fast vs gradcheck fast_mode on the 5x100x100 layer, for each built-in as the implementation
    for impl in ("im2col", "direct"):
        ours, theirs = side_by_side(lambda: verify(multichannel, impl, method="fast"),
                                    gradcheck_call(multichannel, fast_mode=True), repeat=15)
        rows.append((f"3 fast ({impl}) vs gradcheck fast_mode, 5x100x100", f"{ours * 1e3:.1f} ms",
                     f"{theirs * 1e3:.1f} ms", f"{theirs / ours:.2f}x", ">= 1x", ours <= theirs))

    # Goal 4: built-in forward and backward vs torch conv2d on the 5x100x100 layer
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((1, 5, 100, 100)), rng.standard_normal((10, 5, 5, 5)), rng.standard_normal(10)
    dy = rng.standard_normal((1, 10, 96, 96))
    kw = {"stride": (1, 1), "padding": (0, 0, 0, 0)}
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    tdy = torch.tensor(dy)
    torch_fwd = lambda: torch.nn.functional.conv2d(tx, tw, tb)  # noqa: E731
    torch_both = lambda: torch.autograd.grad(torch.nn.functional.conv2d(tx, tw, tb), (tx, tw, tb), tdy)  # noqa: E731
    for impl in (im2col, direct):
        name = impl.__name__.rsplit(".", 1)[1]
        fwd, t_fwd = side_by_side(lambda: impl.forward(x, w, b, **kw), torch_fwd, repeat=9, number=30)
        both, t_both = side_by_side(lambda: (impl.forward(x, w, b, **kw), impl.backward(dy, x, w, b, **kw)),
                                    torch_both, repeat=9, number=30)
        rows.append((f"4 {name} forward vs torch conv2d", f"{fwd * 1e3:.2f} ms", f"{t_fwd * 1e3:.2f} ms",
                     f"{t_fwd / fwd:.2f}x", ">= 1x", fwd <= t_fwd))
        rows.append((f"4 {name} forward+backward vs torch", f"{both * 1e3:.2f} ms", f"{t_both * 1e3:.2f} ms",
                     f"{t_both / both:.2f}x", ">= 1x", both <= t_both))

    # Goal 5: `convcheck verify configs/` as a whole process, and the import time
    wall = process("verify", ROOT / "configs")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import convcheck.cli"], check=True)
    imports = time.perf_counter() - start
    rows.append(("5 verify configs/, whole process", f"{wall:.2f} s", f"(python -c 'import convcheck.cli': "
                 f"{imports:.2f} s)", "—", "< 3 s", wall < 3))
    return rows


def scaling() -> list[tuple]:
    """Time and peak memory of verify per method as one of n, m, k, p grows from 5x32x32, 10 5x5 filters."""
    base = dict(n=32, m=5, k=5, p=10)
    grid = [("n", 16), ("n", 32), ("n", 64), ("n", 128), ("m", 3), ("m", 7), ("k", 2), ("k", 16),
            ("p", 4), ("p", 32)]
    rows = []
    for key, value in grid:
        spec = layer(**{**base, key: value})
        row = [f"{key}={value}", spec.name]
        for method in ("full", "sample", "fast"):
            seconds = best(lambda: verify(spec, "direct", method=method), repeat=3)
            mb = peak_mb(lambda: verify(spec, "direct", method=method))
            row.append(f"{seconds:.3f} s / {mb:.0f} MB")
        rows.append(tuple(row))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-gradcheck-default", action="store_true", help="skip the ~34 s gradcheck run")
    parser.add_argument("--no-scaling", action="store_true", help="skip the scaling table")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads), float64\n")
    rows = [(*r[:5], "met" if r[5] is True else "MISSED" if r[5] is False else r[5])
            for r in goals(args.skip_gradcheck_default)]
    print(table(("goal", "convcheck", "reference (torch)", "ratio", "target", ""), rows))
    if not args.no_scaling:
        print("\nscaling of `verify` (direct), base layer 5x32x32 with ten 5x5 filters, one of n, m, k, p changed:")
        print(table(("change", "layer", "full", f"sample ({DEFAULT_SAMPLES})", f"fast ({FAST_DIRECTIONS} directions)"),
                    scaling()))


if __name__ == "__main__":
    main()
