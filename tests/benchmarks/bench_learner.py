"""Issue 24's goal: a course's naive loops checked in full in about the built-in's time.

    python tests/benchmarks/bench_learner.py [--repeats 5] [--course PATH/cs231n/layers.py] [--own]

Run it with the Python of a clean install (`pip install .`). The layer is the 5x100x100 one
(configs/multichannel_5x100x100.yaml: 5 x 100 x 100, ten 5 x 5 x 5 filters), the spec sets no
batch, so both commands check it at batch 2. The course file is CS231n-style conv_forward_naive /
conv_backward_naive with four nested loops (tests/course/assignment2/cs231n/layers.py unless
--course names another). References, each measured in this run:
- the built-in: `convcheck verify configs/multichannel_5x100x100.yaml`, a whole process;
- the student's own one forward and one backward on that layer at batch 1, in this process.
Goal: `convcheck verify ... --impl cs231n:layers.py`, a whole process, gets `method full: every
coordinate` under the default budget in at most 1.3 x (built-in + 4 x (forward + backward)).
--own also times `--through implementation` (finite differences through the student's own
forward, as every check went before): minutes.
"""

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from tables import table

ROOT = Path(__file__).parent.parent.parent
SPEC = ROOT / "configs" / "multichannel_5x100x100.yaml"
COURSE = ROOT / "tests" / "course" / "assignment2" / "cs231n" / "layers.py"


def whole(command: list[str]) -> tuple[float, dict]:
    """(wall seconds, the JSON report) of one whole process; it must pass."""
    started = time.perf_counter()
    done = subprocess.run(command + ["--format", "json"], capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} exited {done.returncode}: {(done.stdout + done.stderr)[-800:]}")
    return seconds, json.loads(done.stdout)["specs"][0]


def students_calls(path: Path) -> tuple[float, float]:
    """(one forward, one backward) of the course file at batch 1 on the 5x100x100 layer, best of 3."""
    from convcheck.impls.files import import_file
    module = import_file(str(path), str(path), package=True)
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((1, 5, 100, 100)), rng.standard_normal((10, 5, 5, 5)), rng.standard_normal(10)
    forward, backward = [], []
    for _ in range(3):
        started = time.perf_counter()
        out, cache = module.conv_forward_naive(x, w, b, {"stride": 1, "pad": 0})
        forward.append(time.perf_counter() - started)
        started = time.perf_counter()
        module.conv_backward_naive(rng.standard_normal(out.shape), cache)
        backward.append(time.perf_counter() - started)
    return min(forward), min(backward)


def in_process(impl: str) -> float:
    from convcheck import load_specs, verify
    started = time.perf_counter()
    assert verify(load_specs(SPEC)[0], impl).passed
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--course", type=Path, default=COURSE, help="a CS231n layers.py (in its cs231n/ package)")
    parser.add_argument("--own", action="store_true", help="also time --through implementation (minutes)")
    args = parser.parse_args()
    convcheck = shutil.which("convcheck", path=str(Path(sys.executable).parent)) or sys.exit("no convcheck next to "
                                                                                            "this Python")
    course = f"cs231n:{args.course.resolve()}"
    builtin_cmd, naive_cmd = [convcheck, "verify", str(SPEC)], [convcheck, "verify", str(SPEC), "--impl", course]
    builtin, naive, report = [], [], None
    for _ in range(args.repeats):                                         # interleaved
        builtin.append(whole(builtin_cmd)[0])
        seconds, report = whole(naive_cmd)
        naive.append(seconds)
    builtin.sort()
    naive.sort()
    forward, backward = students_calls(args.course.resolve())
    bound = 1.3 * (builtin[0] + 4 * (forward + backward))
    covered = f"method {report['method']}, " + ("every coordinate" if not report["partial_coverage"] else "partial")
    rows = [("the student's forward, batch 1 (in-process)", f"{forward:.3f} s", "", ""),
            ("the student's backward, batch 1 (in-process)", f"{backward:.3f} s", "", ""),
            ("convcheck verify multichannel_5x100x100 (built-in, whole process)",
             f"{builtin[0]:.2f} s / {builtin[len(builtin) // 2]:.2f} s", "reference", ""),
            ("goal: 1.3 x (built-in + 4 x (forward + backward))", f"{bound:.2f} s", "", ""),
            (f"convcheck verify multichannel_5x100x100 --impl {course.split(':')[0]}:... (whole process)",
             f"{naive[0]:.2f} s / {naive[len(naive) // 2]:.2f} s", f"{naive[0] / bound:.2f}x the goal", covered)]
    rows += [("the same through the Python API (in-process): built-in", f"{in_process('direct'):.2f} s", "", ""),
             ("the same through the Python API (in-process): course file", f"{in_process(course):.2f} s", "", "")]
    if args.own:
        seconds, own = whole(naive_cmd + ["--through", "implementation"])
        rows.append(("... --through implementation (whole process, once)", f"{seconds:.1f} s",
                     f"{seconds / naive[0]:.0f}x the default", f"method {own['method']}, " +
                     ("every coordinate" if not own["partial_coverage"] else "partial")))
    print(f"the 5x100x100 layer at batch 2 (the spec sets none), best / median of {args.repeats}, {args.course}:")
    print(table(("what", "wall (best / median)", "ratio", "coverage"), rows))


if __name__ == "__main__":
    main()
