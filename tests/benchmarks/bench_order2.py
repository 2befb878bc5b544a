"""Order 2 against torch.autograd.gradgradcheck, side by side, on the issue's layer: 5 x 32 x 32
input, ten 5 x 5 filters, float64, at batch 1 (at convcheck's default batch 2, gradgradcheck's
dense Jacobians took over 20 GiB of this 24 GiB machine and were stopped after 13 minutes).

The op is tests/course/torch_ops.py's TwiceConv2dOp: a custom Function whose backward is a
Function of its own with its own backward. Both sides check every coordinate:
- convcheck: `convcheck verify LAYER --impl torch:...:TwiceConv2dOp --order 2 --method full`
  (order 1 too: Y, dL/dX, dL/dF, dL/db, then dL2/dX, dL2/dF, dL2/db, dL2/dG);
- torch: gradgradcheck(TwiceConv2dOp.apply, (x, w, b)) (its dense numerical and analytical
  Jacobians of the backward, at its default tolerances).

Printed: whole processes (a fresh interpreter each, imports included, as users run them) and
in-process (after both are imported and warm), with the ratio gradgradcheck / convcheck.

    python tests/benchmarks/bench_order2.py [--batch 1] [--runs 1]
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bench_fixed_cost import run

ROOT = Path(__file__).resolve().parents[2]
OPS = ROOT / "tests" / "course" / "torch_ops.py"
LAYER = "name: penalty\nn: 32\nm: 5\nk: 5\np: 10\npadding: 0\nstride: 1\nbatch: {batch}\ndtype: float64\n"
GRADGRAD = f"""
import sys, time
sys.path.insert(0, {str(OPS.parent)!r})
import torch
from torch_ops import TwiceConv2dOp
g = torch.Generator().manual_seed(0)
x = torch.randn({{batch}}, 5, 32, 32, dtype=torch.float64, generator=g, requires_grad=True)
w = torch.randn(10, 5, 5, 5, dtype=torch.float64, generator=g, requires_grad=True)
b = torch.randn(10, dtype=torch.float64, generator=g, requires_grad=True)
assert torch.autograd.gradgradcheck(lambda x, w, b: TwiceConv2dOp.apply(x, w, b, 1, 0), (x, w, b))
"""


def whole(command: list[str]) -> float:
    """Seconds of one fresh process (bench_fixed_cost.run), exiting on failure."""
    return run(command, ROOT)


def in_process(batch: int, spec_path: Path) -> tuple[float, float]:
    import torch

    from convcheck.checker import verify
    from convcheck.loader import load_specs
    sys.path.insert(0, str(OPS.parent))
    from torch_ops import TwiceConv2dOp
    spec = load_specs([spec_path])[0]
    verify(spec, f"torch:{OPS}:TwiceConv2dOp", method="full", order=2)           # warm: imports, first calls
    started = time.perf_counter()
    result = verify(spec, f"torch:{OPS}:TwiceConv2dOp", method="full", order=2)
    ours = time.perf_counter() - started
    assert result.passed and not result.partial
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 5, 32, 32, dtype=torch.float64, generator=g, requires_grad=True)
    w = torch.randn(10, 5, 5, 5, dtype=torch.float64, generator=g, requires_grad=True)
    b = torch.randn(10, dtype=torch.float64, generator=g, requires_grad=True)
    started = time.perf_counter()
    assert torch.autograd.gradgradcheck(lambda x, w, b: TwiceConv2dOp.apply(x, w, b, 1, 0), (x, w, b))
    return ours, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        spec = Path(folder) / "penalty.yaml"
        spec.write_text(LAYER.format(batch=args.batch))
        script = Path(folder) / "gradgrad.py"
        script.write_text(GRADGRAD.replace("{batch}", str(args.batch)))
        ours_cmd = [sys.executable, "-m", "convcheck", "verify", str(spec), "--impl", f"torch:{OPS}:TwiceConv2dOp",
                    "--order", "2", "--method", "full", "-q"]
        theirs_cmd = [sys.executable, str(script)]
        print(f"layer: 5 x 32 x 32, ten 5 x 5 filters, batch {args.batch}, float64; every coordinate on both sides")
        for run in range(args.runs):
            ours, theirs = whole(ours_cmd), whole(theirs_cmd)
            print(f"whole processes  convcheck --order 2 {ours:7.2f} s   gradgradcheck {theirs:7.2f} s   "
                  f"ratio {theirs / ours:6.1f}x")
        ours, theirs = in_process(args.batch, spec)
        print(f"in-process       convcheck --order 2 {ours:7.2f} s   gradgradcheck {theirs:7.2f} s   "
              f"ratio {theirs / ours:6.1f}x")


if __name__ == "__main__":
    main()
