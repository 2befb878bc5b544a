"""The command line through Typer's CliRunner, and once through the installed entry point."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from convcheck import __version__, load_specs
from convcheck.cli import app

ROOT = Path(__file__).parent.parent
CONFIGS = ROOT / "configs"
PLUGINS = ROOT / "tests" / "plugins"
runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def wrong_plugin(tmp_path, backward_name):
    path = tmp_path / f"{backward_name}.py"
    path.write_text(f"from naive_loops import forward\nfrom wrong import {backward_name} as backward\n")
    return path


def test_verify_configs_passes_with_exit_0():
    result = run("verify", CONFIGS)
    assert result.exit_code == 0, result.output
    count = len(load_specs(CONFIGS))                                                   # configs/course/ too
    assert f"{count} specs: {count} passed" in result.stdout and ", 0 failed" in result.stdout   # partial if loaded
    assert "5x100x100-ten-5x5x5" in result.stdout and "(2,10,96,96)" in result.stdout
    assert "batch 2 (the spec sets none)" in result.stdout                 # checked at 2: batch mistakes show


def test_verify_user_plugin_file_passes():
    result = run("verify", CONFIGS / "im2col_batch.yaml", "--impl", PLUGINS / "naive_loops.py")
    assert result.exit_code == 0, result.output


def test_wrong_plugin_exits_1_naming_tensor_and_worst_index(tmp_path):
    result = run("verify", CONFIGS / "valid_square.yaml", "--impl", wrong_plugin(tmp_path, "no_rotation_backward"))
    assert result.exit_code == 1
    assert "FAIL" in result.stdout and "dL/dX:" in result.stdout and "worst at (" in result.stdout
    assert "1 spec: 0 passed, 1 failed" in result.stdout


def test_stride_ignored_is_caught_on_the_stride_2_config(tmp_path):
    result = run("verify", CONFIGS / "strides_and_padding.yaml", "--impl",
                 wrong_plugin(tmp_path, "stride_ignored_backward"), "--method", "sample")
    assert result.exit_code == 1
    assert "method sample" in result.stdout and "sampled of" in result.stdout


def test_json_format_is_stable_and_machine_readable():
    result = run("verify", CONFIGS / "same_odd_filter.yaml", "--format", "json", "--method", "full")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["passed"] == 1 and data["failed"] == 0
    (spec,) = data["specs"]
    assert spec["method"] == "full" and set(spec["tensors"]) == {"y", "dx", "dw", "db"}
    assert spec["tensors"]["dx"]["expected_shape"] == [2, 1, 8, 6]             # the spec sets no batch: 2
    assert spec["default_batch"] is True and spec["spec"]["batch"] == 2
    assert spec["tensors"]["dx"]["verdict"] == "pass"
    assert spec["tensors"]["dx"]["coverage"] == {
        "text": "every coordinate", "every_coordinate": True, "exact": 96, "total": 96, "channels": None,
        "sampled": 0, "projections": 0, "per_filter": False}
    assert spec["partial_coverage"] is False and data["passed_on_partial_coverage"] == 0
    assert spec["forwards"] == 3 + 15 + 15 + 1      # forward check (2 draws), baseline, 3 x 5 classes and taps, bias


def test_channels_method_reports_its_coverage_in_table_json_and_summary():
    spec = CONFIGS / "multichannel_5x100x100.yaml"
    table = run("verify", spec, "--method", "channels", "--budget", "0.001")
    assert table.exit_code == 0, table.output
    assert "method channels: partial coverage, below" in table.stdout
    assert "dL/dX every coordinate of input channels 0, 4 (2 of 5) + 16 random projections" in table.stdout
    assert ("dL/dF every coordinate of input channels 0, 4 (2 of 5, all filters) + 16 random projections "
            "(each filter on its own)") in table.stdout
    assert "1 spec: 1 passed (1 on partial coverage: see its coverage lines), 0 failed" in table.stdout
    data = json.loads(run("verify", spec, "--method", "channels", "--budget", "0.001", "--format", "json").stdout)
    (layer,) = data["specs"]
    assert layer["method"] == "channels" and layer["partial_coverage"] and data["passed_on_partial_coverage"] == 1
    dw = layer["tensors"]["dw"]["coverage"]
    assert dw["channels"] == [0, 4] and dw["projections"] == 16 and dw["per_filter"] and not dw["every_coordinate"]
    assert dw["exact"] == layer["tensors"]["dw"]["checked"] == 10 * 2 * 25
    assert layer["tensors"]["db"]["coverage"]["every_coordinate"]


def test_auto_takes_full_within_the_budget_and_channels_beyond_it():
    spec = CONFIGS / "multichannel_5x100x100.yaml"              # about 1 s in full: 30 s holds it on a loaded machine
    assert json.loads(run("verify", spec, "--format", "json", "--budget", "30").stdout)["specs"][0]["method"] == "full"
    tight = json.loads(run("verify", spec, "--format", "json", "--budget", "0.001").stdout)["specs"][0]
    assert tight["method"] == "channels" and tight["passed"]


@pytest.mark.parametrize("args,needle", [
    (["verify", "no/such/file.yaml"], "no such file or directory"),
    (["verify", CONFIGS, "--impl", "no_such_impl"], "built-ins: direct, im2col"),
    (["shapes", "no/such/file.yaml"], "no such file or directory"),
    (["verify", CONFIGS, "--budget", "0"], "--budget"),
])
def test_usage_errors_exit_2_with_one_line(args, needle):
    result = run(*args)
    assert result.exit_code == 2
    assert needle in result.stderr and result.stderr.count("\n") == 1
    assert "Traceback" not in result.output


def test_bad_spec_exits_2_naming_file_field_and_fix(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("n: 4\nm: 3\nk: 1\np: 1\npadding: valid\nstrid: 1\n")
    result = run("verify", spec)
    assert result.exit_code == 2
    assert "bad.yaml:6" in result.stderr and "did you mean 'stride'?" in result.stderr


def test_cli_overrides_reach_the_check():
    result = run("verify", CONFIGS / "valid_square.yaml", "--rtol", "0.5", "--atol", "0.25",
                 "--seed", "3", "--method", "sample", "--samples", "5", "--impl", "im2col")
    assert result.exit_code == 0
    assert "rtol 0.5, atol 0.25" in result.stdout and "impl im2col" in result.stdout


def test_shapes_prints_every_tensor():
    result = run("shapes", CONFIGS / "multichannel_5x100x100.yaml")
    assert result.exit_code == 0
    for shape in ("(1,5,100,100)", "(10,5,5,5)", "(1,10,96,96)", "(10,)"):
        assert shape in result.stdout


def test_version():
    result = run("--version")
    assert result.exit_code == 0 and __version__ in result.stdout


def test_installed_entry_point():
    exe = shutil.which("convcheck") or str(Path(sys.executable).parent / "convcheck")
    done = subprocess.run([exe, "verify", str(CONFIGS)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert " passed" in done.stdout and ", 0 failed" in done.stdout


def test_plugin_messages_with_brackets_are_printed_verbatim(tmp_path):
    plugin = tmp_path / "brackets.py"
    plugin.write_text("from naive_loops import forward\n\ndef backward(*a, **k):\n"
                      "    raise ValueError('[bold]shapes [1, 2] and [/red] differ')\n")
    result = run("verify", CONFIGS / "valid_square.yaml", "--impl", plugin)
    assert result.exit_code == 1
    assert "[bold]shapes [1, 2] and [/red] differ" in result.stdout


def test_fast_method_and_quiet():
    result = run("verify", CONFIGS / "multichannel_5x100x100.yaml", CONFIGS / "valid_square.yaml",
                 "--method", "fast", "--quiet")
    assert result.exit_code == 0
    assert "2 specs: 2 passed" in result.stdout and "5x100x100" not in result.stdout   # passing tables hidden
    loud = run("verify", CONFIGS / "valid_square.yaml", "--method", "fast")
    assert "method fast" in loud.stdout and "dL/dX 2 random projections" in loud.stdout
    assert "dL/dF 2 random projections (each filter on its own)" in loud.stdout
    assert "1 spec: 1 passed (1 on partial coverage: see its coverage lines), 0 failed" in loud.stdout


def test_progress_bar_appears_only_after_its_delay_and_only_on_a_terminal():
    import io

    from rich.console import Console

    from convcheck.report.progress import LazyProgress
    out = io.StringIO()
    bar = LazyProgress(Console(file=out, force_terminal=True, width=80), delay=0.0)
    bar.start(0, "seed001: finite differences")
    bar.start(1, "seed002: finite differences")
    bar.update(0, 5, 10)
    bar.update(1, 2, 10)
    bar.layers(1, 3)
    bar.stop(0)
    bar.close()
    assert "seed001: finite differences" in out.getvalue() and "seed002" in out.getvalue()
    assert "layers" in out.getvalue()
    silent = io.StringIO()
    late = LazyProgress(Console(file=silent, force_terminal=True), delay=60.0)
    late.start(0, "x")
    late.update(0, 5, 10)
    late.layers(1, 3)
    late.close()
    piped = LazyProgress(Console(file=silent, force_terminal=False), delay=0.0)
    piped.start(0, "x")
    piped.update(0, 5, 10)
    piped.close()
    assert silent.getvalue() == ""


def test_shapes_of_a_network_file_start_with_its_summary_table():
    net = CONFIGS / "network_mobilenet_block.yaml"
    table = run("shapes", net)
    assert table.exit_code == 0
    head = table.stdout.split("╭")[0]
    assert f"network {net}: input 3 x 16 x 16" in head
    for row in (("stem", "3 x 16 x 16", "8 x 16 x 16", "224"),      # p k m m + p, as torch counts them
                ("depthwise", "8 x 16 x 16", "8 x 8 x 8", "80"),     # groups = 8: 8 x 1 x 3 x 3 + 8
                ("pointwise", "8 x 8 x 8", "16 x 8 x 8", "144"),
                ("atrous", "16 x 8 x 8", "16 x 8 x 8", "2,320"), ("total", "16 x 8 x 8", "2,768")):
        line = next(line for line in head.splitlines() if line.split() and line.split()[0] == row[0])
        assert all(cell in line for cell in row), line
    data = json.loads(run("shapes", net, "--format", "json").stdout)
    assert [d["network"]["position"] for d in data] == [1, 2, 3, 4]
    assert [d["network"]["output"] for d in data] == [[8, 16, 16], [8, 8, 8], [16, 8, 8], [16, 8, 8]]
    assert all(d["network"]["output"] == [d["tensors"]["y"][1], *d["tensors"]["y"][2:]] for d in data)
    markdown = run("shapes", net, "--format", "markdown").stdout
    assert "| **total** | | 16 x 8 x 8 | 2,768 |" in markdown
    assert "network" not in json.loads(run("shapes", CONFIGS / "valid_square.yaml", "--format", "json").stdout)


def test_help_shows_the_extras_and_keeps_sentences_whole():
    result = runner.invoke(app, ["verify", "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "convcheck[cupy]" in result.stdout and "convcheck[plot]" in result.stdout
    assert "runs past --timeout fails" in result.stdout           # the docstring is a paragraph, not its lines


def test_a_table_in_a_file_or_pipe_has_no_trailing_spaces(tmp_path):
    result = run("verify", CONFIGS / "valid_square.yaml", "--output", tmp_path / "report.txt")
    assert result.exit_code == 0
    for text in (result.stdout, (tmp_path / "report.txt").read_text()):
        lines = text.splitlines()
        assert len(lines) > 5 and all(line == line.rstrip() for line in lines)


def test_an_exact_tensor_has_no_worst_index(tmp_path):
    spec = tmp_path / "zero.yaml"
    spec.write_text("name: zero\nn: 5\nm: 1\nk: 1\np: 1\npadding: 0\nstride: 1\n")
    plugin = tmp_path / "exact.py"      # dL/db of a 1x1 layer is a plain sum: finite differences match it exactly
    plugin.write_text("from convcheck.impls.direct import forward, backward\n")
    data = json.loads(run("verify", spec, "--impl", plugin, "--format", "json").stdout)["specs"][0]
    exact = [name for name, t in data["tensors"].items() if t["max_abs_err"] == 0]
    assert exact and all(data["tensors"][name]["worst_index"] is None for name in exact)
    from convcheck.spec import LABELS
    rows = {line.split()[0]: line.split() for line in run("verify", spec, "--impl", plugin).stdout.splitlines()
            if line.startswith("  ") and line.split()[0] in LABELS.values()}
    for name in exact:
        assert rows[LABELS[name]][3] == "0.00e+00" and rows[LABELS[name]][-2] == "—", rows[LABELS[name]]


def test_a_failure_that_matches_no_known_mistake_says_so(tmp_path):
    plugin = tmp_path / "spot.py"
    plugin.write_text("from convcheck.impls.direct import forward, backward as right\n\n"
                      "def backward(dy, x, w, b, *, stride, padding):\n"
                      "    dx, dw, db = right(dy, x, w, b, stride=stride, padding=padding)\n"
                      "    dx = dx.copy()\n    dx[0, 0, 1, 1] += 3.0\n    return dx, dw, db\n")
    result = run("verify", CONFIGS / "valid_square.yaml", "--impl", plugin)
    assert result.exit_code == 1
    assert "diagnosis: no known mistake: dL/dX matches none of the known mistakes" in result.stdout


def test_pinned_coverage_is_the_same_on_any_machine_and_says_how_to_rerun(tmp_path):
    spec = tmp_path / "wide.yaml"
    spec.write_text("name: wide\nn: 12\nm: 3\nk: 12\np: 4\npadding: same\nstride: 1\n")
    reports = []
    for budget in ("0.0001", "1000"):           # a slow machine and a fast one, as the budget sees them
        result = run("verify", spec, "--channels", 3, "--projections", 5, "--budget", budget, "--format", "json")
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)["specs"][0]
        reports.append({name: (t["coverage"], t["max_abs_err"]) for name, t in data["tensors"].items()})
        assert data["rerun"] == {"method": "channels", "channels": 3, "projections": 5}
        assert data["rerun_flags"] == "--method channels --channels 3 --projections 5"
    assert reports[0] == reports[1]
    covered = reports[0]["dx"][0]["channels"]
    assert len(covered) == 3 and covered[0] == 0 and covered[-1] == 11           # the first and the last always
    timed = run("verify", spec, "--budget", "0.0001")             # a timed run prints the pin that redoes it
    assert "the same coverage on any machine: --method channels --channels 2 --projections 16" in timed.stdout
    full = json.loads(run("verify", spec, "--channels", 12, "--format", "json").stdout)["specs"][0]
    assert full["method"] == "full" and full["rerun"] == {"method": "full"}


def test_pins_for_a_method_without_them_are_usage_errors():
    result = run("verify", CONFIGS / "valid_square.yaml", "--method", "full", "--channels", 2)
    assert result.exit_code == 2 and "--channels 2: pins how many input channels" in result.stderr
    result = run("verify", CONFIGS / "valid_square.yaml", "--method", "sample", "--projections", 2)
    assert result.exit_code == 2 and "--projections 2" in result.stderr


def test_names_with_colons_print_as_they_are(tmp_path):
    spec = tmp_path / "colon.yaml"
    spec.write_text("name: conv:smile:1\nn: 5\nm: 3\nk: 1\np: 1\npadding: 0\nstride: 1\n")
    result = run("verify", spec)
    assert result.exit_code == 0 and "conv:smile:1" in result.stdout


def _complete(shell: str, words: str, cwd: Path) -> list[str]:
    """What the shell's completion asks the command for, as the script --show-completion prints asks it."""
    env = {**__import__("os").environ, "_CONVCHECK_COMPLETE": f"complete_{shell}"}
    env.update({"COMP_WORDS": words, "COMP_CWORD": str(len(words.split(" ")) - 1)} if shell == "bash" else
               {"_TYPER_COMPLETE_ARGS": words})
    out = subprocess.run([sys.executable, "-m", "convcheck"], cwd=cwd, env=env, capture_output=True, text=True,
                         timeout=60)
    return out.stdout.split()


def test_show_completion_prints_the_named_shells_script_and_completes_impl_and_method(tmp_path):
    for shell, marker in (("bash", "complete -o default -F _convcheck_completion convcheck"),
                          ("zsh", "#compdef convcheck"), ("fish", "complete --command convcheck")):
        script = subprocess.run([sys.executable, "-m", "convcheck", "--show-completion", shell], capture_output=True,
                                text=True, timeout=60)
        assert script.returncode == 0 and marker in script.stdout, (shell, script.stdout[:200])
    usage = CliRunner().invoke(app, ["--help"]).output
    assert "--install-completion" in usage and "--show-completion" in usage
    (tmp_path / "my_conv.py").write_text("")
    (tmp_path / "course").mkdir()
    (tmp_path / "notes.txt").write_text("")
    assert _complete("bash", "convcheck verify --impl ", tmp_path) == [
        "direct", "im2col", "cs231n:", "cs231n-fast:", "torch:", "layer:", "jax:", "course/", "my_conv.py"]
    assert _complete("bash", "convcheck verify --impl cs231n:c", tmp_path) == ["cs231n:course/"]
    assert _complete("bash", "convcheck verify --method ", tmp_path) == ["auto", "full", "channels", "sample", "fast"]
    assert _complete("bash", "convcheck verify --format h", tmp_path) == ["html"]
    assert "full" in " ".join(_complete("zsh", "convcheck verify --method f", tmp_path))


def test_impl_completion_offers_every_builtin_and_adapter():
    from convcheck.cli import IMPL_KINDS
    from convcheck.impls import ADAPTERS, BUILTINS
    assert set(IMPL_KINDS) == set(BUILTINS) | {f"{kind}:" for kind in ADAPTERS}


def test_h_is_help_and_install_completion_names_the_shell(tmp_path):
    assert run("-h").exit_code == 0 and "Usage: " in run("-h").stdout and "verify" in run("-h").stdout
    assert run("verify", "-h").exit_code == 0 and "--impl" in run("verify", "-h").stdout
    env = {**__import__("os").environ, "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "convcheck", "--install-completion", "bash"], capture_output=True,
                          text=True, env=env, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("bash completion installed in "), done.stdout
    assert "Shells." not in done.stdout and (tmp_path / ".bash_completions" / "convcheck.sh").is_file()
