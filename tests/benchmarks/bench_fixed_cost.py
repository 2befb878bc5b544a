"""Issue 16's fixed cost: a whole `convcheck verify` against Python's own, side by side.

    python tests/benchmarks/bench_fixed_cost.py [--repeats 11] [--gradcheck-repeats 1]

Run it with the Python of a clean install (`pip install .`, not `-e`): every figure is a whole
process as users run it, wall time, the runs interleaved, best and median of --repeats.
References, each measured in this run:
- `python -c "import numpy"`: Python's own floor for anything that uses NumPy. Goal: a whole
  `convcheck verify` of a tiny layer (2 channels, 6 x 6, 3x3 filters) with a plug-in file at
  most 2x it, with plug-in isolation (worker processes) kept.
- the same check through the Python API as a whole process (`verify(spec, "plug.py")`, the
  plug-in in the calling process): what isolation costs on top.
- `torch.autograd.gradcheck` (default mode, dense Jacobians) of conv2d on a 1x5x32x32 input
  with ten 5x5 filters, float64, as a whole process, against `convcheck verify --method full`
  of that layer: goal at least 100x (skipped without torch).
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tables import table

PLUGIN = "from convcheck.impls.direct import forward, backward\n"
TINY = "name: tiny\nn: 6\nm: 3\nk: 2\np: 2\npadding: 1\nstride: 1\n"
GRADCHECK_LAYER = "name: gradcheck-layer\nn: 32\nm: 5\nk: 5\np: 10\npadding: 0\nstride: 1\n"
GRADCHECK = """import torch
torch.manual_seed(0)
x = torch.randn(1, 5, 32, 32, dtype=torch.float64, requires_grad=True)
w = torch.randn(10, 5, 5, 5, dtype=torch.float64, requires_grad=True)
b = torch.randn(10, dtype=torch.float64, requires_grad=True)
assert torch.autograd.gradcheck(torch.nn.functional.conv2d, (x, w, b))
"""


def run(command: list[str], folder: Path) -> float:
    """Wall seconds of one whole process; it must succeed."""
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=folder)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} exited {done.returncode}: {(done.stdout + done.stderr)[-800:]}")
    return seconds


def measure(commands: dict, folder: Path, repeats: int) -> dict:
    """{name: sorted seconds}, the commands interleaved round by round."""
    times = {name: [] for name in commands}
    for _ in range(repeats):
        for name, command in commands.items():
            times[name].append(run(command, folder))
    return {name: sorted(values) for name, values in times.items()}


def best_median(values: list) -> str:
    return f"{values[0]:.3f} s / {values[len(values) // 2]:.3f} s"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--gradcheck-repeats", type=int, default=1, help="gradcheck takes ~30 s a run; 0 skips it")
    args = parser.parse_args()
    convcheck = shutil.which("convcheck", path=str(Path(sys.executable).parent)) or sys.exit("no convcheck next to "
                                                                                            "this Python")
    python = sys.executable
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "plug.py").write_text(PLUGIN)
        (folder / "tiny.yaml").write_text(TINY)
        (folder / "layer.yaml").write_text(GRADCHECK_LAYER)
        api = "from convcheck import load_specs, verify; assert verify(load_specs('tiny.yaml')[0], 'plug.py').passed"
        times = measure({"numpy": [python, "-c", "import numpy"],
                         "verify": [convcheck, "verify", "tiny.yaml", "--impl", "plug.py"],
                         "api": [python, "-c", api]}, folder, args.repeats)
        ratio = times["verify"][0] / times["numpy"][0], times["verify"][len(times["verify"]) // 2] / \
            times["numpy"][len(times["numpy"]) // 2]
        rows = [("python -c 'import numpy'", best_median(times["numpy"]), "1.00x", "reference"),
                ("the check through the Python API (no isolation)", best_median(times["api"]),
                 f"{times['api'][0] / times['numpy'][0]:.2f}x", ""),
                ("convcheck verify tiny.yaml --impl plug.py", best_median(times["verify"]),
                 f"{ratio[0]:.2f}x / {ratio[1]:.2f}x", "<= 2x")]
        print(f"whole processes, best / median of {args.repeats}, interleaved ({python}):")
        print(table(("process", "wall (best / median)", "vs numpy", "goal"), rows))

        try:
            import torch  # noqa: F401
        except ImportError:
            print("\ngradcheck: skipped (no torch)")
            return
        if args.gradcheck_repeats < 1:
            return
        full = [convcheck, "verify", "layer.yaml", "--method", "full"]
        times = measure({"gradcheck": [python, "-c", GRADCHECK], "full": full}, folder, args.gradcheck_repeats)
        times["full"] = measure({"full": full}, folder, args.repeats)["full"]
        print(f"\ngradcheck (default mode) vs convcheck --method full, 1x5x32x32, ten 5x5 filters, float64, "
              f"whole processes (gradcheck best of {args.gradcheck_repeats}, convcheck best of {args.repeats}):")
        print(table(("process", "wall", "ratio", "goal"),
                    [("python: torch.autograd.gradcheck(conv2d)", f"{times['gradcheck'][0]:.2f} s", "reference", ""),
                     ("convcheck verify layer.yaml --method full", f"{times['full'][0]:.3f} s",
                      f"{times['gradcheck'][0] / times['full'][0]:.0f}x faster", ">= 100x")]))


if __name__ == "__main__":
    main()
