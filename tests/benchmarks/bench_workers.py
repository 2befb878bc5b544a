"""Worker processes: what they cost, against convcheck before them (commit BEFORE, in-process).

    python tests/benchmarks/bench_workers.py [--before PATH/TO/convcheck] [--repeats 5]

Whole process, as users run it (`convcheck verify ...` from a clean install, wall time):
  - fixed cost: one tiny layer (seed 000), this convcheck vs BEFORE;
  - a directory of 200 small specs (n 5-12, k and p 1-4, strides 1-2, every padding form),
    this convcheck with --jobs 1 and --jobs 2 vs BEFORE.
In-process: the same 200 specs through `runner.verify_all` (jobs 1 and 2) vs a loop of
`checker.verify` in this process, which is what the CLI did before workers.

BEFORE is installed from git into a cache folder (a venv with `pip install`) unless --before
names its `convcheck` executable. Runs are interleaved and the best of --repeats is kept.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BEFORE = "4e819a5"
"""The last commit before worker processes (issue 8): every layer checked in the CLI's own process."""


def install_before(commit: str) -> str:
    """The `convcheck` executable of `commit`, installed once into ~/.cache/convcheck-bench/<commit>."""
    home = Path.home() / ".cache" / "convcheck-bench" / commit
    exe = home / "venv" / "bin" / "convcheck"
    if exe.exists():
        return str(exe)
    source = home / "src"
    source.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
    subprocess.run([sys.executable, "-m", "venv", str(home / "venv")], check=True)
    subprocess.run([str(home / "venv" / "bin" / "python"), "-m", "pip", "install", "-q", str(source)], check=True)
    return str(exe)


def small_specs(folder: Path, count: int = 200) -> Path:
    """`count` small layers, one file each."""
    forms = ["valid", "same", "full", 1, [0, 1, 2, 1]]
    for i in range(count):
        (folder / f"layer{i:03d}.yaml").write_text(
            f"name: small-{i}\nn: {5 + i % 8}\nm: {1 + i % 3}\nk: {1 + i % 4}\np: {1 + (i // 4) % 4}\n"
            f"padding: {forms[i % 5]}\nstride: {1 + (i // 5) % 2}\nseed: {i}\n")
    return folder


def whole_process(command: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} exited {done.returncode}: {done.stderr[-500:]}")
    return seconds


def best_of(runs: dict, repeats: int) -> dict:
    """{label: best seconds}, the runs of each repeat interleaved."""
    best = {label: float("inf") for label in runs}
    for _ in range(repeats):
        for label, run in runs.items():
            best[label] = min(best[label], run())
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", help="the convcheck executable of the reference install")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    before = args.before or install_before(BEFORE)
    now = shutil.which("convcheck", path=str(Path(sys.executable).parent)) or shutil.which("convcheck")
    tiny = str(ROOT / "configs" / "valid_square.yaml")
    print(f"cpus {os.cpu_count()}; reference: convcheck at commit {BEFORE} ({before}); best of {args.repeats}")
    with tempfile.TemporaryDirectory() as folder:
        specs = str(small_specs(Path(folder)))
        fixed = best_of({"before": lambda: whole_process([before, "verify", tiny, "-q"]),
                         "now": lambda: whole_process([now, "verify", tiny, "-q"])}, args.repeats)
        print(f"\nwhole process, one tiny layer (fixed cost): before {fixed['before']:.3f} s, "
              f"now {fixed['now']:.3f} s: {fixed['now'] / fixed['before']:.2f}x, "
              f"+{fixed['now'] - fixed['before']:.3f} s")
        many = best_of({"before": lambda: whole_process([before, "verify", specs, "-q"]),
                        "jobs 1": lambda: whole_process([now, "verify", specs, "-q", "--jobs", "1"]),
                        "jobs 2": lambda: whole_process([now, "verify", specs, "-q", "--jobs", "2"])}, args.repeats)
        print("whole process, 200 small specs:")
        for label, seconds in many.items():
            print(f"  {label:8} {seconds:7.3f} s   {seconds / many['before']:.2f}x before")

        from convcheck import load_specs, verify
        from convcheck.runner import verify_all
        loaded = load_specs([specs])
        inproc = best_of({"in-process loop": lambda: timed(lambda: [verify(s, "direct") for s in loaded]),
                          "verify_all jobs 1": lambda: timed(lambda: verify_all(loaded, "direct", jobs=1)),
                          "verify_all jobs 2": lambda: timed(lambda: verify_all(loaded, "direct", jobs=2))},
                         args.repeats)
        print("in-process, 200 small specs (this process; the fork server already running after the first):")
        for label, seconds in inproc.items():
            print(f"  {label:18} {seconds:7.3f} s   {seconds / inproc['in-process loop']:.2f}x the loop")


def timed(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
