"""The learner's loop (issue 24): a course's files checked as they are on disk, however many are
checked in one process; a naive forward's loops out of the check's cost; batch mistakes caught
by default; errors that point at the student's line; the course's spec set."""

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from convcheck import assert_conv_backward, check, load_specs, verify
from convcheck.cli import app
from convcheck.impls import Implementation, direct
from convcheck.impls.common import one_int_api
from convcheck.options import FORWARD_CHECKS

ROOT = Path(__file__).parent.parent
COURSE = Path(__file__).parent / "course" / "assignment2"
LAYER = dict(n=7, m=3, k=3, p=4, padding=1, stride=2)
RIGHT_RETURN, ZERO_RETURN = "return dx, dw, db", "return dx * 0, dw * 0, db * 0"


def course(folder: Path, edit: tuple[str, str] | None = None) -> Path:
    """A copy of tests/course/assignment2 (a `cs231n` package: layers.py imports .fast_layers) in
    `folder`, with layers.py edited; the path of layers.py."""
    shutil.copytree(COURSE, folder)
    layers = folder / "cs231n" / "layers.py"
    if edit:
        layers.write_text(layers.read_text().replace(*edit))
    return layers


# ---- 1. a file is checked as it is on disk, whatever was checked before in this process ----------

def test_two_courses_in_one_process_are_two_courses(tmp_path):
    right, stub = course(tmp_path / "A"), course(tmp_path / "B", (RIGHT_RETURN, ZERO_RETURN))
    before = {name: module for name, module in sys.modules.items() if name.split(".")[0] == "cs231n"}
    assert check(f"cs231n:{right}", **LAYER).passed
    wrong = check(f"cs231n:{stub}", **LAYER)
    assert not wrong.passed and wrong.check("dx").diagnosis.mistake == "zero-gradient"
    with pytest.raises(AssertionError, match="zero-gradient"):
        assert_conv_backward(str(stub), api="cs231n", **LAYER)
    assert assert_conv_backward(str(right), api="cs231n", **LAYER).passed          # and back: A is still A
    after = {name: module for name, module in sys.modules.items() if name.split(".")[0] == "cs231n"}
    assert after == before                                   # neither left behind; another test's import kept


def test_an_edit_between_two_checks_is_seen_in_the_file_and_in_its_siblings(tmp_path):
    layers = course(tmp_path / "A")
    assert check(f"cs231n:{layers}", **LAYER).passed
    text = layers.read_text()
    layers.write_text(text.replace("np.sum(window * w[f]) + b[f]", "np.sum(window * w[f]) - b[f]"))   # same size
    assert not check(f"cs231n:{layers}", **LAYER).check("y").passed        # within the same second: no stale .pyc
    layers.write_text(text)
    assert check(f"cs231n:{layers}", **LAYER).passed
    sibling = layers.parent / "fast_layers.py"                              # layers.py imports pad_input from it
    sibling.write_text(sibling.read_text().replace('mode="constant")', 'mode="edge")'))
    assert not check(f"cs231n:{layers}", **LAYER).passed


def test_a_callers_own_course_package_is_left_as_it_was(tmp_path, monkeypatch):
    mine, other = course(tmp_path / "mine"), course(tmp_path / "other", (RIGHT_RETURN, ZERO_RETURN))
    monkeypatch.syspath_prepend(str(mine.parent.parent))
    earlier = {name: module for name, module in sys.modules.items() if name.split(".")[0] == "cs231n"}
    for name in earlier:                                                       # another test's import, set aside
        del sys.modules[name]
    import cs231n.layers as imported  # the notebook's own import
    try:
        assert not check(f"cs231n:{other}", **LAYER).passed                    # the other file, not the imported one
        assert sys.modules["cs231n.layers"] is imported
        assert check(imported.conv_forward_naive, imported.conv_backward_naive, **LAYER).passed
    finally:
        for name in [n for n in sys.modules if n.split(".")[0] == "cs231n"]:
            del sys.modules[name]
        sys.modules.update(earlier)


@pytest.mark.parametrize("kind", ["plain", "layer", "torch"])
def test_every_kind_of_file_is_loaded_afresh(tmp_path, kind):
    if kind == "torch":
        pytest.importorskip("torch")
    source = {"plain": "from convcheck.impls.direct import forward, backward as _backward\n\n"
                       "def backward(*args, **kwargs):\n    dx, dw, db = _backward(*args, **kwargs)\n"
                       "    return dx * FACTOR, dw, db\n",
              "layer": (COURSE.parent / "cs7643_conv.py").read_text().replace("self.dx = dxp",
                                                                              "self.dx = FACTOR * dxp"),
              "torch": (COURSE.parent / "torch_ops.py").read_text().replace(
                  "return dx, dw, db, None, None, None, None",
                  "return dx * FACTOR, dw, db, None, None, None, None")}[kind]
    impl = {"plain": "{path}", "layer": "layer:{path}:Conv2D", "torch": "torch:{path}:Conv2dOp"}[kind]
    fields = dict(LAYER, adapter={"in_channels": "in_c", "weight": "W", "dw": "dW"}) if kind == "layer" else LAYER
    verdicts = []
    for folder, factor in (("a", 1), ("b", 2), ("a", 1), ("a", 3)):           # two files, then an edit of the first
        path = tmp_path / folder / "conv.py"
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"FACTOR = {factor}\n" + source)
        verdicts.append(check(impl.format(path=path), **fields).check("dx").passed)
    assert verdicts == [True, False, True, False]


def test_two_files_in_one_pytest_run(tmp_path):
    right, stub = course(tmp_path / "A"), course(tmp_path / "B", (RIGHT_RETURN, ZERO_RETURN))
    (tmp_path / "test_courses.py").write_text(textwrap.dedent(f"""
        from pathlib import Path
        from convcheck import assert_conv_backward
        LAYER = {LAYER!r}

        def test_a():
            assert_conv_backward({str(right)!r}, api="cs231n", **LAYER)

        def test_b():
            assert_conv_backward({str(stub)!r}, api="cs231n", **LAYER)

        def test_a_edited():
            path = Path({str(right)!r})
            path.write_text(path.read_text().replace({RIGHT_RETURN!r}, {ZERO_RETURN!r}))
            assert_conv_backward(str(path), api="cs231n", **LAYER)
    """))
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_courses.py"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert "1 passed" in run.stdout and "2 failed" in run.stdout, run.stdout
    assert "FAILED test_courses.py::test_b" in run.stdout and "FAILED test_courses.py::test_a_edited" in run.stdout


# ---- 2. finite differences through the built-in: the learner's loops are called a handful of times ----

class Counting:
    """direct's forward and backward, counting the forward's calls."""

    def __init__(self):
        self.calls = 0

    def forward(self, *args, **kwargs):
        self.calls += 1
        return direct.forward(*args, **kwargs)

    def backward(self, *args, **kwargs):
        return direct.backward(*args, **kwargs)


@pytest.mark.parametrize("method", ["full", "channels", "sample", "fast"])
def test_the_plugins_forward_is_called_twice_whatever_the_method(method):
    plugin = Counting()
    result = verify(load_specs(ROOT / "configs" / "valid_square.yaml")[0],
                    Implementation("counting", plugin.forward, plugin.backward), method=method)
    assert result.passed and result.through == "builtin" and plugin.calls == FORWARD_CHECKS
    own = Counting()
    mine = verify(load_specs(ROOT / "configs" / "valid_square.yaml")[0],
                  Implementation("counting", own.forward, own.backward), method=method, through="implementation")
    assert mine.passed and mine.through == "implementation" and own.calls > 2 * FORWARD_CHECKS


def test_a_naive_course_file_gets_every_coordinate_of_seed_001s_layer():
    """The reproduction: CS231n-style loops on 5 x 100 x 100 with ten 5 x 5 x 5 filters used to
    cover 2 of 5 channels in 50 s; the check's cost is now the built-in's (about 1 s), plus a
    few calls. A budget of 30 s holds the built-in's full check on a loaded machine and is a
    tenth of what 254 forwards through these loops would take."""
    spec = load_specs(ROOT / "configs" / "multichannel_5x100x100.yaml")[0]
    result = verify(spec, f"cs231n:{COURSE / 'cs231n' / 'layers.py'}", budget=30)
    assert result.passed and result.method == "full" and not result.partial and result.through == "builtin"
    assert all(c.coverage.every for c in result.checks)


def test_a_forward_right_on_its_first_call_only_fails_its_check():
    calls = []

    def forward(x, w, b, **kwargs):
        calls.append(1)
        return direct.forward(x, w, b, **kwargs) * (1 if len(calls) == 1 else 2)

    result = verify(load_specs(ROOT / "configs" / "valid_square.yaml")[0],
                    Implementation("fickle", forward, direct.backward))
    assert result.check("y").verdict == "FAIL"
    assert all(result.check(t).passed for t in ("dx", "dw", "db"))           # a right backward stays right


def test_a_forward_wrong_only_at_the_second_draw_says_so():
    seen = []

    def forward(x, w, b, **kwargs):
        y = direct.forward(x, w, b, **kwargs)
        seen.append(float(x.ravel()[0]))
        return y if len(seen) != 1 else y + 1.0                                # the second draw comes first

    result = verify(load_specs(ROOT / "configs" / "valid_square.yaml")[0],
                    Implementation("second", forward, direct.backward))
    y = result.check("y")
    assert y.verdict == "FAIL" and "on a second draw of x, w and b" in y.message
    assert y.diagnosis is not None                                              # judged at the draw it failed on


@pytest.mark.parametrize("method", ["full", "fast"])
def test_a_forward_that_reuses_its_output_buffer_cannot_hide_a_wrong_backward(method):
    """tests/corpus/plugins/reused_buffer.py: one output buffer per shape, and dL/db = 0."""
    spec = load_specs(ROOT / "configs" / "valid_square.yaml")[0]
    result = verify(spec, str(Path(__file__).parent / "corpus" / "plugins" / "reused_buffer.py"), method=method)
    assert result.check("y").passed and not result.check("db").passed
    assert result.check("dx").passed and result.check("dw").passed


def test_plan_times_the_forward_differences_go_through():
    from convcheck.checker import plan
    spec = load_specs(ROOT / "configs" / "valid_square.yaml")[0]
    assert plan(spec, "direct").through == "builtin"
    assert plan(spec, "direct", through="implementation").through == "implementation"
    assert plan(spec, "direct").spec.batch == 2                                 # what verify checks


# ---- 3. batch mistakes are caught by default -----------------------------------------------------

def _mean_backward(dy, x, w, b, *, stride, padding):
    dx, dw, db = direct.backward(dy, x, w, b, stride=stride, padding=padding)
    return dx, dw / x.shape[0], db / x.shape[0]


def _first_sample_backward(dy, x, w, b, *, stride, padding):
    one = np.broadcast_to(x[:1], x.shape)
    dx, _, db = direct.backward(dy, x, w, b, stride=stride, padding=padding)
    return dx, direct.backward(dy, one, w, b, stride=stride, padding=padding)[1], db


@pytest.mark.parametrize("backward, tensor, mistake", [(_mean_backward, "dw", "batch-mean"),
                                                        (_mean_backward, "db", "bias-mean"),
                                                        (_first_sample_backward, "dw", "batch-partial")])
def test_a_batch_mistake_fails_a_spec_without_batch_and_passes_at_batch_1(backward, tensor, mistake):
    result = check(direct.forward, backward, **LAYER)                          # keyword spec, no batch
    assert result.spec.batch == 2 and result.default_batch and not result.passed
    assert result.check(tensor).diagnosis.mistake == mistake
    assert check(direct.forward, backward, batch=1, **LAYER).passed            # said: 1, checked at 1


def test_the_command_line_checks_an_unset_batch_at_2_and_shapes_keep_1(tmp_path):
    plugin = tmp_path / "mean.py"
    plugin.write_text("from convcheck.impls.direct import forward, backward as _b\n\n"
                      "def backward(dy, x, w, b, **k):\n    dx, dw, db = _b(dy, x, w, b, **k)\n"
                      "    return dx, dw / x.shape[0], db / x.shape[0]\n")
    spec = tmp_path / "layer.yaml"
    spec.write_text("name: l\nn: 6\nm: 3\nk: 2\np: 3\npadding: 1\nstride: 1\n")
    runner = CliRunner()
    result = runner.invoke(app, ["verify", str(spec), "--impl", str(plugin)])
    assert result.exit_code == 1 and "batch 2 (the spec sets none)" in result.stdout
    assert "diagnosis: batch-mean" in result.stdout and "(2,2,6,6)" in result.stdout
    spec.write_text(spec.read_text() + "batch: 1\n")
    assert runner.invoke(app, ["verify", str(spec), "--impl", str(plugin)]).exit_code == 0
    shapes = runner.invoke(app, ["shapes", str(tmp_path / "layer.yaml")]).stdout
    assert "(1,2,6,6)" in shapes and "(2,2,6,6)" not in shapes


# ---- 4. errors that point the right way ------------------------------------------------------------

def test_a_course_file_given_as_a_plain_plugin_names_the_adapter_that_fits():
    layers = COURSE / "cs231n" / "layers.py"
    result = CliRunner().invoke(app, ["verify", str(ROOT / "configs" / "course"), "--impl", str(layers)])
    assert result.exit_code == 2
    assert f"it defines conv_forward_naive and conv_backward_naive, CS231n's API: check them with --impl " \
           f"cs231n:{layers}" in result.stderr
    classes = COURSE.parent / "cs7643_conv.py"
    result = CliRunner().invoke(app, ["verify", str(ROOT / "configs" / "course"), "--impl", str(classes)])
    assert f"check it with --impl layer:{classes}:Conv2D" in result.stderr


PYTHON2 = '''import numpy as np

def conv_forward_naive(x, w, b, conv_param):
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    s, pad = conv_param["stride"], conv_param["pad"]
    H_out = 1 + (H + 2 * pad - HH) / s
    out = np.zeros((N, F, H_out, H_out))
    return out, None

def conv_backward_naive(dout, cache):
    return None, None, None
'''


def test_a_bug_in_the_students_code_shows_their_line_not_the_wrapper(tmp_path):
    (tmp_path / "layers.py").write_text(PYTHON2)
    message = check(f"cs231n:{tmp_path / 'layers.py'}", **LAYER).check("y").message
    assert "(layers.py:8 in conv_forward_naive: `out = np.zeros((N, F, H_out, H_out))`)" in message
    assert "use // (integer division)" in message
    assert "three-line wrapper" not in message and "convcheck called" not in message
    (tmp_path / "refuses.py").write_text("def forward(x, w, b, stride, padding, extra):\n    pass\n\n"
                                         "backward = forward\n")
    refused = check(str(tmp_path / "refuses.py"), **LAYER).check("y").message      # the call itself refused
    assert "missing 1 required positional argument" in refused and "three-line wrapper" in refused


ONE_INT = '''import numpy as np

class Conv2D:
    def __init__(self, in_channels{annotation}, out_channels, kernel_size{annotation}, stride=1, padding=0):
        self.weight = np.zeros((out_channels, in_channels, kernel_size, kernel_size))
        self.bias = np.zeros(out_channels)

    def forward(self, x):
        return x

    def backward(self, dout):
        return dout
'''


def test_a_one_int_kernel_size_class_on_a_non_square_filter(tmp_path):
    (tmp_path / "plain.py").write_text(ONE_INT.format(annotation=""))
    (tmp_path / "annotated.py").write_text(ONE_INT.format(annotation=": int"))
    fields = dict(n=7, m=[3, 5], k=2, p=3, padding=1, stride=1)
    failed = check(f"layer:{tmp_path / 'plain.py'}:Conv2D", **fields)           # raised in the user's code: a failure
    assert not failed.passed and not failed.skipped
    message = failed.check("y").message
    assert "'tuple' object cannot be interpreted as an integer" in message and "(plain.py:5 in __init__" in message
    assert "the adapter passed kernel_size=(3, 5) for this 3 x 5 filter: a class whose API takes one int kernel " \
           "size cannot take this layer" in message
    skipped = check(f"layer:{tmp_path / 'annotated.py'}:Conv2D", **fields)     # its API says so: not expressible
    assert skipped.skipped == "not expressible in this API: Conv2D(kernel_size: int) takes one int, and this " \
                              "layer's filter is 3 x 5"


# ---- 5. the course's spec set -------------------------------------------------------------------------

def test_the_course_set_is_what_a_course_api_expresses_and_its_code_passes():
    from convcheck.geometry import geometry
    layers = load_specs(ROOT / "configs" / "course")
    assert len(layers) >= 10 and all(one_int_api(s, geometry(s)) is None for s in layers)
    assert {0, 1, 2} <= {s.padding[0] for s in layers} and {1, 2} <= {s.stride[0] for s in layers}
    assert any(s.batch for s in layers) and any(s.n[0] != s.n[1] for s in layers) and any(s.k != s.p for s in layers)
    for spec in layers:
        result = verify(spec, f"cs231n:{COURSE / 'cs231n' / 'layers.py'}")
        assert result.passed and not result.skipped, spec.name


def test_the_classic_crop_fails_the_course_set_at_padding_0(tmp_path):
    layers = course(tmp_path / "A", ("dx_pad[:, :, pad:pad + H, pad:pad + W]", "dx_pad[:, :, pad:-pad, pad:-pad]"))
    results = [verify(spec, f"cs231n:{layers}") for spec in load_specs(ROOT / "configs" / "course")]
    failed = {r.spec.name for r in results if not r.passed}
    assert failed == {r.spec.name for r in results if r.spec.padding[0] == 0}
    assert all(r.check("dx").diagnosis.mistake == "padding-crop" for r in results if not r.passed)
