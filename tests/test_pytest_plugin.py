"""The pytest plugin, run as users run it: `pytest --convcheck-impl IMPL PATHS` in a process of
its own, on this project's configs/ (its own tests use the plugin this way) and a copy of them."""

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from convcheck import load_specs

ROOT = Path(__file__).parent.parent
CONFIGS = ROOT / "configs"
STRIDED_WRONG = '''"""Right on every layer whose strides are all 1; dL/dX 1.5 times too large elsewhere."""
from convcheck.impls import direct

forward = direct.forward


def backward(dy, x, w, b, *, stride, padding, **conv):
    dx, dw, db = direct.backward(dy, x, w, b, stride=stride, padding=padding, **conv)
    return (dx * 1.5 if any(s != 1 for s in stride) else dx), dw, db
'''


def _pytest(folder: Path, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA", *args], cwd=folder,
                          capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture
def project(tmp_path):
    """A project with a copy of configs/, a plug-in wrong on strided layers and a YAML file that is no spec."""
    shutil.copytree(CONFIGS, tmp_path / "configs")
    (tmp_path / "strided_wrong.py").write_text(STRIDED_WRONG)
    (tmp_path / "configs" / "workflow.yml").write_text("on: push\njobs:\n  test: {runs-on: ubuntu-latest}\n")
    return tmp_path


def _ids(output: str, word: str) -> set[str]:
    return {line.split()[1] for line in output.splitlines() if line.startswith(word + " ")}


def test_registered_as_pytest11_convcheck():
    assert [e.value for e in entry_points(group="pytest11") if e.name == "convcheck"] == ["convcheck.pytest_plugin"]


def test_this_projects_configs_pass_one_item_per_layer():
    run = _pytest(ROOT, "--convcheck-impl", "im2col", "configs/")
    layers = load_specs(CONFIGS)
    expected = {f"{Path(s.source).relative_to(ROOT)}::{s.name}" for s in layers}
    assert run.returncode == 0, run.stdout
    assert _ids(run.stdout, "PASSED") == expected and len(expected) == len(layers) == 31


def test_exactly_the_wrong_layers_fail_with_the_table(project):
    run = _pytest(project, "--convcheck-impl", "strided_wrong.py", "configs/")
    layers = load_specs(CONFIGS)                                   # the copy holds the same layers
    strided = {f"{Path(s.source).relative_to(ROOT)}::{s.name}" for s in layers if any(v != 1 for v in s.stride)}
    assert run.returncode == 1
    assert _ids(run.stdout, "FAILED") == strided and 0 < len(strided) < len(layers)
    assert len(_ids(run.stdout, "PASSED")) == len(layers) - len(strided)
    assert "dL/dX: " in run.stdout and "checked elements off" in run.stdout
    assert "diagnosis: scaled" in run.stdout and "  dL/dX    " in run.stdout            # the table's row
    assert "workflow.yml" not in run.stdout                                               # no spec: left alone


def test_k_x_junitxml_and_xdist_work_as_for_any_test(project):
    only = _pytest(project, "--convcheck-impl", "strided_wrong.py", "configs/", "-k", "multichannel or same_odd")
    assert _ids(only.stdout, "PASSED") == {"configs/multichannel_5x100x100.yaml::5x100x100-ten-5x5x5",
                                           "configs/same_odd_filter.yaml::same-odd-filter"}
    first = _pytest(project, "--convcheck-impl", "strided_wrong.py", "configs/", "-x")
    assert len(_ids(first.stdout, "FAILED")) == 1 and "stopping after 1 failures" in first.stdout
    report = project / "junit.xml"
    _pytest(project, "--convcheck-impl", "strided_wrong.py", "configs/", f"--junitxml={report}")
    cases = ET.parse(report).getroot().iter("testcase")
    failed = {case.get("name") for case in cases if case.find("failure") is not None}
    assert "stride2-leftover-rows" in failed and "5x100x100-ten-5x5x5" not in failed
    pytest.importorskip("xdist")
    serial = _pytest(project, "--convcheck-impl", "strided_wrong.py", "configs/")
    parallel = _pytest(project, "--convcheck-impl", "strided_wrong.py", "configs/", "-n", "2")
    assert _ids(parallel.stdout, "FAILED") == _ids(serial.stdout, "FAILED")
    assert _ids(parallel.stdout, "PASSED") == _ids(serial.stdout, "PASSED")


def test_nothing_is_collected_without_an_impl_and_the_ini_option_gives_one(project):
    bare = _pytest(project, "configs/")
    assert bare.returncode == 5 and "no tests ran" in bare.stdout                          # YAML left alone
    (project / "pytest.ini").write_text("[pytest]\nconvcheck_impl = direct\n")
    configured = _pytest(project, "configs/", "--convcheck-method", "auto", "--convcheck-budget", "2",
                         "--convcheck-seed", "3")
    assert configured.returncode == 0 and len(_ids(configured.stdout, "PASSED")) == len(load_specs(CONFIGS))
    (project / "pytest.ini").write_text("[pytest]\nconvcheck_impl = strided_wrong.py\n")    # beside the ini file
    below = _pytest(project / "configs", ".")                                             # run from a subfolder
    assert below.returncode == 1 and "stride2-leftover-rows" in " ".join(_ids(below.stdout, "FAILED"))


def test_a_bad_spec_is_a_collection_error_and_a_bad_impl_a_usage_error(project):
    (project / "configs" / "broken.yaml").write_text("n: 5\nm: 3\nk: 1\np: 1\npadding: 0\nstride: 0\n")
    run = _pytest(project, "--convcheck-impl", "direct", "configs/")
    assert run.returncode == 2
    assert "convcheck: error: configs/broken.yaml:6: layer 'broken': field 'stride': must be an integer >= 1, " \
           "got 0" in run.stdout
    missing = _pytest(project, "--convcheck-impl", "nowhere.py", "configs/")
    assert missing.returncode == 4 and "convcheck: error: --impl nowhere.py: no such file" in missing.stderr
    bad_option = _pytest(project, "--convcheck-impl", "direct", "--convcheck-method", "exact", "configs/")
    assert bad_option.returncode == 4 and "invalid choice: 'exact'" in bad_option.stderr


def test_the_command_line_the_plugin_and_the_api_take_the_tables_options():
    """options.OPTIONS is verify's options, once: `convcheck verify` and `plan` take exactly its
    options (flags, types, defaults, help), `--convcheck-NAME` exactly its options, the API
    exactly its keywords; an option added in one place only fails here."""
    import inspect

    import typer

    from convcheck import checker, cli, testing
    from convcheck.options import OPTION, OPTIONS
    from convcheck.pytest_plugin import pytest_addoption
    from convcheck.runner import Session
    names = [option.name for option in OPTIONS]
    assert list(OPTION) == names and len(set(names)) == len(names)
    own = {"verify": {"paths", "impl", "format", "output", "jobs", "shard", "plot", "quiet", "show_output"},
           "plan": {"paths", "impl", "target", "format", "jobs"}}                  # the command line's alone
    commands = typer.main.get_command(cli.app).commands
    for command, function in (("verify", cli.verify), ("plan", cli.plan)):
        taken = [name for name in inspect.signature(function).parameters if name not in own[command]]
        assert taken == [option.name for option in OPTIONS if command in option.commands], command
        params = {param.name: param for param in commands[command].params}
        assert set(params) == own[command] | set(taken), command
        for name in taken:
            option, param = OPTION[name], params[name]
            assert param.opts == [f"--{name}"] and param.help == option.help, name
            assert getattr(param.default, "value", param.default) == option.default, name
            if option.choices:
                assert tuple(getattr(c, "value", c) for c in param.type.choices) == option.choices, name
            elif option.type is bool:                                        # on by default: --no-NAME
                assert param.is_flag and param.secondary_opts == [f"--no-{name}"], name
            else:
                assert param.type.name.split()[0] == option.type.__name__, name
                assert getattr(param.type, "min", None) == option.minimum, name

    class Parser:                                                           # what pytest_addoption asks for
        added = {}

        def getgroup(self, *args):
            return self

        def addoption(self, flag, **settings):
            self.added[flag] = settings

        def addini(self, *args, **kwargs):
            pass
    parser = Parser()
    pytest_addoption(parser)
    flags = [f"--convcheck-{'no-' * (OPTION[name].type is bool)}{name}" for name in names]
    assert list(parser.added) == ["--convcheck-impl", *flags]
    for option, flag in zip(OPTIONS, flags):
        settings = parser.added[flag]
        assert settings["default"] is None
        if option.type is bool:                          # off when given: verify's default (on) otherwise
            assert settings["action"] == "store_const" and settings["const"] is False
            assert settings["dest"] == f"convcheck_{option.name}"
            continue
        assert settings.get("choices", ()) == option.choices and settings.get("type", str) is option.type

    assert testing.OPTIONS == tuple(names)
    keywords = set(inspect.signature(checker.verify).parameters) - {"spec", "impl", "progress", "notify",
                                                                      "provisional"}
    assert keywords == {option.name for option in OPTIONS if not option.worker}
    assert [option.name for option in OPTIONS if option.worker] == ["timeout"]
    assert "timeout" in inspect.signature(Session).parameters                     # the workers', not verify's
    assert {option.name for option in OPTIONS if "plan" in option.commands and not option.worker} <= \
        set(inspect.signature(checker.plan).parameters)
    for option in OPTIONS:
        assert option.default is None or isinstance(option.default, option.type), option.name
        if option.choices:
            assert option.type is str and (option.default is None or option.default in option.choices)
        if not option.worker:                            # verify's own defaults are the table's
            assert inspect.signature(checker.verify).parameters[option.name].default == option.default


HOSTILE = '''"""Right on every layer but the one of n = 8 rows, where it misbehaves as asked."""
import ctypes, os, sys, time
from convcheck.impls import direct

forward = direct.forward


def backward(dy, x, w, b, **kwargs):
    if x.shape[2] == 8:
        if os.environ["HOW"] == "loop":
            while True:
                time.sleep(0.01)
        if os.environ["HOW"] == "exit":
            os._exit(3)
        if os.environ["HOW"] == "segfault":
            ctypes.string_at(0)
        if os.environ["HOW"] == "interrupt":
            raise KeyboardInterrupt()
    return direct.backward(dy, x, w, b, **kwargs)
'''


@pytest.mark.parametrize("how, words", [("loop", "backward timed out after 2 s"),
                                        ("exit", "backward exited with code 3"),
                                        ("segfault", "backward killed by signal SIGSEGV"),
                                        ("interrupt", "the check could not finish: KeyboardInterrupt")])
def test_a_hostile_plugin_fails_its_item_alone(tmp_path, how, words):
    """An endless loop, os._exit, a segfault, a plug-in's own KeyboardInterrupt: one failed item,
    the others pass, and pytest reports them all (the plug-in runs in the session's worker)."""
    (tmp_path / "hostile.py").write_text(HOSTILE)
    (tmp_path / "three.yaml").write_text("defaults: {padding: valid, stride: 1, m: 3, k: 1, p: 1}\nlayers:\n"
                                         "  - {name: a, n: 9}\n  - {name: b, n: 8}\n  - {name: c, n: 7}\n")
    env = {**os.environ, "HOW": how, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA",
                          "--convcheck-impl", "hostile.py", "--convcheck-timeout", "2", "three.yaml"], cwd=tmp_path,
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 1, run.stdout + run.stderr
    assert _ids(run.stdout, "FAILED") == {"three.yaml::b"} and _ids(run.stdout, "PASSED") == {"three.yaml::a",
                                                                                           "three.yaml::c"}
    assert words in run.stdout


def test_a_file_marked_only_by_name_is_collected_only_when_named():
    """configs/resnet50.yaml: passed over in configs/ (as `convcheck verify configs/` does), its 53
    layers collected when the file is named."""
    folder = _pytest(ROOT, "--convcheck-impl", "im2col", "configs/", "--collect-only")
    assert "resnet50.yaml" not in folder.stdout and folder.returncode == 0
    named = _pytest(ROOT, "--convcheck-impl", "im2col", "configs/resnet50.yaml", "--collect-only")
    assert "53 tests collected" in named.stdout, named.stdout
