"""Worker processes: order, reuse, parallel jobs, shards, timeouts and signals."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from convcheck import ImplError, load_specs
from convcheck.cli import app
from convcheck.errors import ConvcheckError
from convcheck.runner import verify_all

ROOT = Path(__file__).parent.parent
CONFIGS = ROOT / "configs"
runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def layers_file(tmp_path, count: int) -> Path:
    """`count` small layers of growing n in one file."""
    path = tmp_path / "many.yaml"
    path.write_text("defaults: {padding: same, stride: 1, m: 3, k: 2, p: 2}\nlayers:\n"
                    + "".join(f"  - {{name: l{i:03d}, n: {5 + i % 7}, seed: {i}}}\n" for i in range(count)))
    return path


def pid_plugin(tmp_path, hang_on: int | None = None) -> Path:
    """The direct built-in, recording the pid of the process each backward runs in (and hanging
    on layers of n == hang_on)."""
    plugin = tmp_path / "pids.py"
    plugin.write_text(f"import os, time\nfrom convcheck.impls.direct import forward, backward as _backward\n\n"
                      f"def backward(dy, x, w, b, *, stride, padding):\n"
                      f"    with open({str(tmp_path / 'pids.txt')!r}, 'a') as f:\n"
                      f"        f.write(f'{{os.getpid()}}\\n')\n"
                      f"    while x.shape[2] == {hang_on}:\n        time.sleep(0.01)\n"
                      f"    return _backward(dy, x, w, b, stride=stride, padding=padding)\n")
    return plugin


def without_timings(report: dict) -> dict:
    for spec in report["specs"]:
        spec.pop("seconds")
    report.pop("seconds")
    return report


def test_jobs_2_gives_the_report_of_jobs_1_in_the_same_order(tmp_path):
    path = layers_file(tmp_path, 12)
    reports = [runner.invoke(app, ["verify", str(path), str(CONFIGS), "--format", "json", "--method", "full",
                                   "--jobs", jobs]) for jobs in ("1", "2")]
    assert [r.exit_code for r in reports] == [0, 0]
    one, two = (without_timings(json.loads(r.stdout)) for r in reports)
    assert one == two and len(one["specs"]) == 12 + len(load_specs([CONFIGS]))
    assert [s["name"] for s in one["specs"]] == [spec.name for spec in load_specs([path, CONFIGS])]


def test_a_worker_is_reused_across_layers_and_replaced_only_when_it_dies(tmp_path):
    path = layers_file(tmp_path, 15)
    results = verify_all(load_specs([path]), str(pid_plugin(tmp_path)), jobs=1)
    assert all(r.passed for r in results)
    pids = (tmp_path / "pids.txt").read_text().split()
    assert len(pids) == 15 and len(set(pids)) == 1 and int(pids[0]) != os.getpid()
    (tmp_path / "pids.txt").unlink()
    results = verify_all(load_specs([path]), str(pid_plugin(tmp_path, hang_on=6)), jobs=2, timeout=1)
    assert [r.error for r in results if r.error] == ["backward timed out after 1 s"] * 2   # n = 6: l001, l008
    assert len(set((tmp_path / "pids.txt").read_text().split())) == 4                     # 2 workers + 2 fresh


def test_the_python_api_runs_in_process_and_verify_all_in_workers(tmp_path):
    from convcheck import verify
    spec = load_specs([layers_file(tmp_path, 1)])[0]
    assert verify(spec, str(pid_plugin(tmp_path))).passed
    assert (tmp_path / "pids.txt").read_text().split() == [str(os.getpid())]


def test_verify_all_raises_for_an_unimportable_plugin_and_bad_options(tmp_path):
    specs = load_specs([CONFIGS / "valid_square.yaml"])
    with pytest.raises(ImplError, match="no built-in, file or module"):
        verify_all(specs, "no_such_module_anywhere")
    with pytest.raises(ConvcheckError, match="--jobs 0: must be at least 1"):
        verify_all(specs, jobs=0)
    with pytest.raises(ConvcheckError, match="--timeout -1: must be a number of seconds"):
        verify_all(specs, timeout=-1)


@pytest.mark.parametrize("args, needle", [
    (["--shard", "0/3"], "--shard 0/3: expected i/N with 1 <= i <= N"),
    (["--shard", "2"], "--shard 2: expected i/N"),
    (["--shard", "4/3"], "--shard 4/3"),
    (["--output", "/no/such/folder/report.xml"], "--output /no/such/folder/report.xml: no such folder"),
    (["--jobs", "-1"], "Invalid value for '--jobs'"),
])
def test_bad_run_options_exit_2_with_one_line(args, needle):
    result = runner.invoke(app, ["verify", str(CONFIGS), *args])
    assert result.exit_code == 2 and needle in result.stderr


def test_shards_are_disjoint_cover_every_layer_and_are_stable(tmp_path):
    path = layers_file(tmp_path, 10)
    names = []
    for i in (1, 2, 3):
        runs = [runner.invoke(app, ["verify", str(path), "--shard", f"{i}/3", "--format", "json"]) for _ in range(2)]
        first, again = ([s["name"] for s in json.loads(r.stdout)["specs"]] for r in runs)
        assert first == again
        names += first
    assert sorted(names) == [f"l{i:03d}" for i in range(10)]


def test_an_empty_shard_passes_with_no_layers(tmp_path):
    result = runner.invoke(app, ["verify", str(CONFIGS / "valid_square.yaml"), "--shard", "2/2"])
    assert result.exit_code == 0 and "shard 2/2: 0 of the 1 layers found" in result.stdout


def hanging_run(tmp_path) -> subprocess.Popen:
    """A whole-process run whose second of three layers hangs in backward; SIGINT left at its default."""
    path = tmp_path / "three.yaml"
    path.write_text("defaults: {padding: valid, stride: 1, m: 3, k: 1, p: 1}\nlayers:\n"
                    "  - {name: a, n: 9}\n  - {name: b, n: 8}\n  - {name: c, n: 7}\n")
    command = [shutil.which("convcheck"), "verify", str(path), "--impl", str(pid_plugin(tmp_path, hang_on=8)),
               "--format", "json"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def wait_for_pids(tmp_path, count: int) -> list[int]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pids = (tmp_path / "pids.txt").read_text().split() if (tmp_path / "pids.txt").exists() else []
        if len(pids) >= count:
            return [int(p) for p in pids]
        time.sleep(0.05)
    raise AssertionError("the plug-in never reached its second layer")


def gone(pid: int) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_stops_the_workers_prints_what_was_gathered_and_exits_130(tmp_path, signum, code):
    process = hanging_run(tmp_path)
    worker = wait_for_pids(tmp_path, 2)[-1]
    process.send_signal(signum)
    out, err = process.communicate(timeout=30)
    assert process.returncode == code
    assert [s["name"] for s in json.loads(out)["specs"]] == ["a"]
    assert f"interrupted by {signal.Signals(signum).name}: 1 of 3 layers checked" in err
    assert gone(worker)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_killed_run_leaves_no_worker_behind(tmp_path):
    process = hanging_run(tmp_path)
    worker = wait_for_pids(tmp_path, 2)[-1]
    process.kill()
    process.communicate(timeout=30)
    assert gone(worker)


TALKATIVE = '''import os, sys
from convcheck.impls import direct

def forward(x, w, b, *, stride, padding):
    print("Performing custom forward of MyConv2d")
    return direct.forward(x, w, b, stride=stride, padding=padding)

def backward(dy, x, w, b, *, stride, padding):
    print("Performing custom backward of MyConv2d")
    print("a warning on stderr", file=sys.stderr)
    os.write(1, b"written by C code on fd 1\\n")
    for i in range(LINES):
        print(f"line {i}")
    dx, dw, db = direct.backward(dy, x, w, b, stride=stride, padding=padding)
    return (dx * FACTOR, dw, db)
'''


def talkative(tmp_path, factor=1, lines=0) -> Path:
    plugin = tmp_path / f"talk_{factor}_{lines}.py"
    plugin.write_text(f"LINES, FACTOR = {lines}, {factor}\n" + TALKATIVE)
    return plugin


def test_a_plugins_prints_are_captured_per_layer_and_shown_under_a_failing_one(tmp_path):
    results = verify_all(load_specs(CONFIGS / "valid_square.yaml"), str(talkative(tmp_path, factor=2)),
                         method="full")
    output = results[0].output.split("\n")
    assert not results[0].passed and results[0].output_lines == len(output) >= 5
    assert output[:3] == ["Performing custom forward of MyConv2d"] * 2 + ["Performing custom backward of MyConv2d"]
    assert "a warning on stderr" in output and "written by C code on fd 1" in output
    table = run("verify", CONFIGS / "valid_square.yaml", "--impl", talkative(tmp_path, factor=2))
    assert table.exit_code == 1
    assert f"  plug-in output ({len(output)} lines):\n    | Performing custom forward of MyConv2d\n" in table.stdout
    data = json.loads(run("verify", CONFIGS / "valid_square.yaml", "--impl", talkative(tmp_path, factor=2),
                          "--format", "json").stdout)
    assert data["specs"][0]["output"] == {"lines": len(output), "last": output}


def test_a_passing_layers_prints_are_dropped_unless_asked_for(tmp_path):
    plugin = talkative(tmp_path)
    quiet = run("verify", CONFIGS / "valid_square.yaml", "--impl", plugin)
    assert quiet.exit_code == 0 and "MyConv2d" not in quiet.output and "plug-in output" not in quiet.output
    assert json.loads(run("verify", CONFIGS / "valid_square.yaml", "--impl", plugin, "--format", "json").stdout
                      )["specs"][0]["output"] is None
    shown = run("verify", CONFIGS / "valid_square.yaml", "--impl", plugin, "--show-output")
    assert shown.exit_code == 0 and "    | Performing custom backward of MyConv2d" in shown.stdout


def test_long_output_keeps_the_last_lines_with_a_count(tmp_path):
    from convcheck.worker import OUTPUT_LINES
    result = verify_all(load_specs(CONFIGS / "valid_square.yaml"), str(talkative(tmp_path, 2, lines=5000)),
                        method="full")[0]
    assert result.output_lines > 5000 and len(result.output.split("\n")) == OUTPUT_LINES
    table = run("verify", CONFIGS / "valid_square.yaml", "--impl", talkative(tmp_path, 2, lines=5000))
    assert f"lines; the last {OUTPUT_LINES}):" in table.stdout and "| line 4999" in table.stdout


def test_a_worker_that_dies_leaves_its_last_words_under_its_layer(tmp_path):
    plugin = tmp_path / "dies.py"
    plugin.write_text("import ctypes\nfrom convcheck.impls.direct import forward\n\n"
                      "def backward(dy, x, w, b, *, stride, padding):\n"
                      "    print('about to scatter', flush=True)\n    ctypes.memset(0, 0, 64)\n")
    result = verify_all(load_specs(CONFIGS / "valid_square.yaml"), str(plugin))[0]
    assert result.error == "backward killed by signal SIGSEGV"
    assert "about to scatter" in result.output.split("\n")


def command_line(tmp_path, *args, probe=False, timeout=120) -> subprocess.CompletedProcess:
    """`convcheck ...` as a whole process, as users run it (workers forked from it); probe: report
    on stderr whether the command's own process imported NumPy."""
    report = "import atexit\natexit.register(lambda: print('numpy imported' if 'numpy' in sys.modules else " \
             "'no numpy', file=sys.stderr))\n"
    code = "import sys\n" + report * probe + "sys.argv[0] = 'convcheck'\nfrom convcheck.__main__ import main\nmain()\n"
    return subprocess.run([sys.executable, "-c", code, *[str(a) for a in args]], capture_output=True, text=True,
                          timeout=timeout, cwd=tmp_path)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the command line forks its workers on Linux")
def test_the_command_line_never_imports_numpy_for_a_passing_run(tmp_path):
    (tmp_path / "plug.py").write_text("from convcheck.impls.direct import forward, backward\n")
    done = command_line(tmp_path, "verify", CONFIGS / "valid_square.yaml", "--impl", "plug.py", probe=True)
    assert done.returncode == 0 and done.stderr.strip().endswith("no numpy"), done.stderr
    failing = tmp_path / "wrong.py"
    failing.write_text("from convcheck.impls.direct import forward, backward as right\n\n"
                       "def backward(*a, **k):\n    dx, dw, db = right(*a, **k)\n    return 2 * dx, dw, db\n")
    done = command_line(tmp_path, "verify", CONFIGS / "valid_square.yaml", "--impl", "wrong.py", probe=True)
    assert done.returncode == 1 and done.stderr.strip().endswith("numpy imported")   # the heatmap's array


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the command line forks its workers on Linux")
@pytest.mark.parametrize("jobs", [1, 2])
def test_the_command_lines_own_workers_survive_crashes_and_hangs(tmp_path, jobs):
    """Workers forked from the command line: a segfault and a hang each fail one layer, the fresh
    workers that replace them check the rest, the plug-in's prints stay out of the report."""
    plugin = tmp_path / "moody.py"
    plugin.write_text("import ctypes, time\nfrom convcheck.impls.direct import forward, backward as right\n\n"
                      "def backward(dy, x, w, b, **k):\n    print('backward on', x.shape)\n"
                      "    if x.shape[2] == 8:\n        ctypes.memset(0, 0, 64)\n"
                      "    if x.shape[2] == 7:\n        time.sleep(60)\n    return right(dy, x, w, b, **k)\n")
    path = tmp_path / "four.yaml"
    path.write_text("defaults: {padding: valid, stride: 1, m: 3, k: 1, p: 1}\nlayers:\n"
                    "  - {name: a, n: 9}\n  - {name: b, n: 8}\n  - {name: c, n: 7}\n  - {name: d, n: 6}\n")
    done = command_line(tmp_path, "verify", path, "--impl", plugin, "--timeout", 3, "--jobs", jobs, "--format",
                        "json")
    assert done.returncode == 1, done.stderr
    specs = json.loads(done.stdout)["specs"]
    assert [(s["name"], s["passed"], s["error"]) for s in specs] == [
        ("a", True, None), ("b", False, "backward killed by signal SIGSEGV"),
        ("c", False, "backward timed out after 3 s"), ("d", True, None)]
    assert specs[1]["output"]["last"] == ["backward on (2, 1, 8, 8)"]


def test_the_command_waits_for_its_workers_before_it_exits(tmp_path):
    """Workers are killed after the results and reaped at exit, after the report: none outlives
    the command. Run under a subreaper, a worker the command left behind would be a zombie here."""
    plugin = tmp_path / "pid_plug.py"
    plugin.write_text(f"import os\nopen({str(tmp_path / 'pids')!r}, 'a').write(f'{{os.getpid()}}\\n')\n"
                      "from convcheck.impls.direct import forward, backward\n")
    spec = tmp_path / "tiny.yaml"
    spec.write_text("layers:\n  - {name: a, n: 6, m: 3, k: 2, p: 2, padding: 1, stride: 1}\n"
                    "  - {name: b, n: 5, m: 2, k: 1, p: 1, padding: 0, stride: 1}\n")
    watcher = tmp_path / "watch.py"
    watcher.write_text(
        "import ctypes, os, subprocess, sys\n"
        "ctypes.CDLL(None).prctl(36, 1)             # PR_SET_CHILD_SUBREAPER: orphans come here\n"
        "code = subprocess.run(sys.argv[1:]).returncode\n"
        f"pids = [int(p) for p in open({str(tmp_path / 'pids')!r}).read().split()]\n"
        "left = [p for p in pids if os.path.exists(f'/proc/{p}')]\n"
        "print('left', left)\n"
        "sys.exit(code)\n")
    for jobs in ("1", "2"):
        run = subprocess.run([sys.executable, str(watcher), sys.executable, "-m", "convcheck", "verify", str(spec),
                              "--impl", str(plugin), "--jobs", jobs], capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stdout + run.stderr
        assert run.stdout.splitlines()[-1] == "left []" and (tmp_path / "pids").read_text().split()
        (tmp_path / "pids").unlink()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_any_number_of_signals_still_gives_the_summary_the_whole_report_and_no_leftovers(tmp_path, signum, code):
    """A CI system that cancels twice, or a user pressing Ctrl-C again during cleanup: exit
    128 + the first signal, the summary, --output written whole and marked interrupted, no
    temporary folder left behind."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    path = tmp_path / "three.yaml"
    path.write_text("defaults: {padding: valid, stride: 1, m: 3, k: 1, p: 1}\nlayers:\n"
                    "  - {name: a, n: 9}\n  - {name: b, n: 8}\n  - {name: c, n: 7}\n")
    report = tmp_path / "report.json"
    command = [shutil.which("convcheck"), "verify", str(path), "--impl", str(pid_plugin(tmp_path, hang_on=8)),
               "--format", "json", "--output", str(report)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "TMPDIR": str(temp)},
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    worker = wait_for_pids(tmp_path, 2)[-1]
    for _ in range(5):                                           # the first, then more while it cleans up
        process.send_signal(signum)
        time.sleep(0.02)
    out, err = process.communicate(timeout=30)
    assert process.returncode == code, err
    assert "Traceback" not in err and f"interrupted by {signal.Signals(signum).name}: 1 of 3 layers checked" in err
    assert "1 spec: 1 passed, 0 failed" in out and f"interrupted by {signal.Signals(signum).name}" in out
    data = json.loads(report.read_text())
    assert [s["name"] for s in data["specs"]] == ["a"]
    assert data["interrupted"] == f"interrupted by {signal.Signals(signum).name}: 1 of 3 layers checked"
    assert gone(worker) and list(temp.iterdir()) == [] and [p.name for p in tmp_path.glob(".*part")] == []


def test_an_interrupted_runs_junit_marks_it_with_an_error():
    from convcheck.report.junit import render
    xml = ET.fromstring(render([], 1.0, stopped="interrupted by SIGTERM: 0 of 3 layers checked").encode())
    case = xml.find(".//testcase")
    assert case.get("name") == "interrupted" and case.find("error").get("type") == "Interrupted"
    assert xml.get("errors") == "1" and xml.get("tests") == "1"
