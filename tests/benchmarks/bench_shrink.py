"""Issue 28's cost goal: a failing run of configs/ with the smallest failing layer (the default)
takes at most 2x the same run with --no-shrink (the reference: what a failing run cost before
shrinking existed), measured side by side in one run.

    python tests/benchmarks/bench_shrink.py [--repeats 5]

Plug-ins (written to a temporary folder): the built-in `direct` with one mistake in dL/dX, a
known one (the filter not rotated: filter-not-rotated) and one only the operand solve names
(the filter read as w.reshape(p, -1).T.reshape(w.shape): wrong-operand), plus the planted
course plug-in tests/course/mistakes/early_stop.py (CS231n API: its padded layers fail).

1. Whole process, as users run it: `convcheck verify configs/ --impl PLUGIN -q`, with and
   without --no-shrink, alternated, the median of --repeats runs each.
2. In this process: every layer of configs/ checked by `convcheck.verify`, with and without
   shrinking (the plug-in loaded once, a warm-up pass first), the median of --repeats passes;
   also the layers tried while shrinking and the seconds shrinking took, summed.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tables import table

ROOT = Path(__file__).resolve().parents[2]
TURNED = '''from convcheck.impls import direct
forward = direct.forward
def backward(dy, x, w, b, **kw):
    changed = {change}
    return (direct.backward(dy, x, changed, b, **kw)[0],) + tuple(direct.backward(dy, x, w, b, **kw)[1:])
'''
PLUGINS = {"filter-not-rotated": "w[(slice(None),) * 2 + (slice(None, None, -1),) * (w.ndim - 2)]",
           "wrong-operand": "w.reshape(w.shape[0], -1).T.reshape(w.shape)"}


def plugins(folder: Path) -> dict:
    paths = {}
    for name, change in PLUGINS.items():
        path = folder / f"{name}.py"
        path.write_text(TURNED.format(change=change))
        paths[name] = str(path)
    paths["early_stop (cs231n)"] = f"cs231n:{ROOT / 'tests' / 'course' / 'mistakes' / 'early_stop.py'}"
    return paths


def whole_process(impl: str, shrink: bool) -> float:
    command = [sys.executable, "-m", "convcheck", "verify", str(ROOT / "configs"), "--impl", impl, "-q"]
    started = time.perf_counter()
    done = subprocess.run(command + ([] if shrink else ["--no-shrink"]), capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    if done.returncode != 1:
        raise SystemExit(f"expected a failing run (exit 1), got {done.returncode}: {done.stderr[-500:]}")
    return seconds


def in_process(impl: str, repeats: int) -> tuple:
    from convcheck import verify
    from convcheck.impls import load_impl
    from convcheck.loader import load_specs
    from convcheck.shrink import _TRIED
    specs, loaded = load_specs([ROOT / "configs"]), load_impl(impl)
    times = {True: [], False: []}
    tried = seconds = 0
    for shrink in (False, True):                       # warm-up: imports, the plug-in's first calls
        [verify(spec, loaded, shrink=shrink) for spec in specs]
        _TRIED.clear()
    for _ in range(repeats):
        for shrink in (False, True):
            _TRIED.clear()                             # each pass as a fresh run: nothing tried yet
            started = time.perf_counter()
            results = [verify(spec, loaded, shrink=shrink) for spec in specs]
            times[shrink].append(time.perf_counter() - started)
            if shrink:
                tried = sum(r.smallest.tried for r in results if r.smallest)
                seconds = sum(r.smallest.seconds for r in results if r.smallest)
    failing = sum(not r.passed for r in results)
    return statistics.median(times[False]), statistics.median(times[True]), failing, len(specs), tried, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        paths = plugins(Path(folder))
        rows = []
        for name, impl in paths.items():
            runs = {True: [], False: []}
            for _ in range(args.repeats):
                for shrink in (False, True):
                    runs[shrink].append(whole_process(impl, shrink))
            off, on = statistics.median(runs[False]), statistics.median(runs[True])
            rows.append([name, f"{off:.2f} s", f"{on:.2f} s", f"{on / off:.2f}x"])
        print("1. whole process: convcheck verify configs/ (median of", args.repeats, "runs each; goal <= 2x)")
        print(table(["plug-in", "--no-shrink", "shrinking", "ratio"], rows))
        rows = []
        for name, impl in paths.items():
            off, on, failing, total, tried, seconds = in_process(impl, args.repeats)
            rows.append([name, f"{failing} of {total}", f"{off:.2f} s", f"{on:.2f} s", f"{on / off:.2f}x",
                         f"{tried}", f"{seconds:.2f} s"])
        print("\n2. in this process: convcheck.verify on every layer of configs/ (median of", args.repeats,
              "passes)")
        print(table(["plug-in", "failing", "no shrink", "shrinking", "ratio", "layers tried", "shrinking took"],
                    rows))


if __name__ == "__main__":
    main()
