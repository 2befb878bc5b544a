"""Issue 19: `convcheck plan`'s estimates against the measured `convcheck verify` times.

    python tests/benchmarks/bench_plan.py [--impl im2col] [--skip-full]

For each layer, side by side in this process: `plan` (one timed forward, what auto runs within
the default budget and what full costs) and then `verify` with the default method and with
`--method full`, timed (result.seconds: the whole check of the layer, forward check and
backward included). Prints measured / estimated; the goal is within a factor of 2 either
way. Then the same through the command line, whole processes: `convcheck plan --format json`
once against `convcheck verify --format json` (each layer's `seconds`, measured in its worker).
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tables import table

from convcheck import verify
from convcheck.checker import plan
from convcheck.loader import load_specs

ROOT = Path(__file__).resolve().parents[2]
LAYERS = {  # name: spec fields; the 5x100x100 layer comes from configs/
    "small 4x16x16 3x3": dict(n=16, m=3, k=4, p=4, padding=1, stride=1),
    "64x56x56 s1": dict(n=56, m=3, k=64, p=64, padding=1, stride=1),
    "128x28x28 s2": dict(n=28, m=3, k=128, p=128, padding=1, stride=2),
    "256x14x14 s1": dict(n=14, m=3, k=256, p=256, padding=1, stride=1),
    "depthwise 128x56x56": dict(n=56, m=3, k=128, p=128, padding=1, stride=1, groups=128),
    "batch 20,000 of 2x8x8": dict(n=8, m=3, k=2, p=2, padding=1, stride=1, batch=20000),
}


def write(folder: Path) -> Path:
    """All layers in one file, the 5x100x100 layer first."""
    multichannel = (ROOT / "configs" / "multichannel_5x100x100.yaml").read_text().split("\n")
    fields = {line.split(":")[0].strip(): line.split(":", 1)[1].strip() for line in multichannel
              if ":" in line and not line.startswith("#")}
    layers = [{"name": "5x100x100", **{k: v for k, v in fields.items() if k in ("n", "m", "k", "p", "padding",
                                                                            "stride")}}]
    layers += [{"name": name.replace(" ", "-").replace(",", ""), **f} for name, f in LAYERS.items()]
    path = folder / "layers.yaml"
    path.write_text("layers:\n" + "".join("  - {" + ", ".join(f"{k}: {v}" for k, v in layer.items()) + "}\n"
                                         for layer in layers))
    return path


def ratio(measured: float, estimated: float) -> str:
    return f"{measured / estimated:.2f}x" if estimated > 0 else "—"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--impl", default="im2col")
    parser.add_argument("--skip-full", action="store_true", help="skip verify --method full (~1 min)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        path = write(Path(name))
        specs = load_specs(path)
        rows = []
        for spec in specs:
            estimate = plan(spec, args.impl)
            auto = verify(spec, args.impl)
            row = [spec.name, f"{estimate.auto.method} {estimate.estimate(estimate.auto):.2f} s",
                   f"{auto.method} {auto.seconds:.2f} s", ratio(auto.seconds, estimate.estimate(estimate.auto))]
            if not args.skip_full:
                full = verify(spec, args.impl, method="full")
                row += [f"{estimate.estimate(estimate.full):.2f} s", f"{full.seconds:.2f} s",
                        ratio(full.seconds, estimate.estimate(estimate.full))]
            rows.append(row)
        header = ["layer", "plan: auto", "verify: auto", "measured/est."]
        header += [] if args.skip_full else ["plan: full", "verify: full", "measured/est."]
        print(f"in-process, impl {args.impl}, default budget; goal: measured/est. between 0.5x and 2x")
        print(table(header, rows))

        exe = shutil.which("convcheck", path=str(Path(sys.executable).parent)) or shutil.which("convcheck")
        planned = json.loads(subprocess.run([exe, "plan", str(path), "--impl", args.impl, "--format", "json"],
                                            capture_output=True, text=True).stdout)
        checked = json.loads(subprocess.run([exe, "verify", str(path), "--impl", args.impl, "--format", "json"],
                                            capture_output=True, text=True).stdout)
        rows = [(p["name"], f"{p['auto']['method']} {p['auto_estimate_seconds']:.2f} s",
                 f"{c['method']} {c['seconds']:.2f} s", ratio(c["seconds"], p["auto_estimate_seconds"]))
                for p, c in zip(planned["plans"], checked["specs"])]
        rows.append(("total", f"{planned['auto_seconds']:.2f} s", f"{checked['seconds']:.2f} s (the whole run)",
                     ratio(checked["seconds"], planned["auto_seconds"])))
        print("\nthe command line: convcheck plan, then convcheck verify (each layer's seconds, in its worker)")
        print(table(("layer", "plan: auto", "verify: auto", "measured/est."), rows))


if __name__ == "__main__":
    main()
