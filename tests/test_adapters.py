"""`--impl KIND:TARGET` adapters, run on course-style files kept in tests/course/."""

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from convcheck import load_specs, verify
from convcheck.cli import app
from convcheck.errors import ImplError

ROOT = Path(__file__).parent.parent
COURSE = Path(__file__).parent / "course" / "assignment2" / "cs231n"
SMALL = [s for s in load_specs(ROOT / "configs")                           # 2-D APIs: plain 2-D layers
         if not s.name.startswith("5x100x100") and s.dims == 2 and not s.transposed]


def test_cs231n_naive_and_fast_pass_what_their_api_expresses_and_skip_the_rest():
    for kind in ("cs231n", "cs231n-fast"):
        results = [verify(spec, f"{kind}:{COURSE / 'layers.py'}" if kind == "cs231n" else
                          f"{kind}:{COURSE / 'fast_layers.py'}", method="full") for spec in SMALL]
        ran = [r for r in results if not r.skipped]
        assert all(r.passed for r in results), [(r.spec.name, r.skipped, [c.message for c in r.checks]) for r in ran]
        skipped = {r.spec.name: r.skipped for r in results if r.skipped}
        assert "asymmetric-padding" in skipped and "depthwise" in skipped and "atrous" in skipped
        assert skipped["asymmetric-padding"].startswith("not expressible in this API: padding")
        assert {r.spec.name for r in ran} >= {"valid-9x9x3-four-3x3x3", "stride2-leftover-rows", "full-no-bias", "stem"}


def test_the_classic_crop_bug_is_found_and_named(tmp_path):
    course = tmp_path / "assignment2" / "cs231n"
    shutil.copytree(COURSE, course)
    layers = course / "layers.py"
    right, classic = "dx_pad[:, :, pad:pad + H, pad:pad + W]", "dx_pad[:, :, pad:-pad, pad:-pad]"
    layers.write_text(layers.read_text().replace(right, classic))
    result = CliRunner().invoke(app, ["verify", str(ROOT / "configs" / "valid_square.yaml"), "--impl",
                                      f"cs231n:{layers}", "--format", "json"])
    assert result.exit_code == 1
    tensor = json.loads(result.stdout)["specs"][0]["tensors"]["dx"]
    assert tensor["actual_shape"] == [2, 3, 0, 0] and tensor["diagnosis"]["mistake"] == "padding-crop"


def test_skipped_layers_are_reported_not_failed_in_every_format(tmp_path):
    target = f"cs231n:{COURSE / 'layers.py'}"
    spec = ROOT / "configs" / "strides_and_padding.yaml"
    table = CliRunner().invoke(app, ["verify", str(spec), "--impl", target])
    assert table.exit_code == 0
    assert "skipped: not expressible in this API" in table.stdout and "skipped (not expressible" in table.stdout
    data = json.loads(CliRunner().invoke(app, ["verify", str(spec), "--impl", target, "--format", "json"]).stdout)
    assert data["skipped"] >= 1 and data["failed"] == 0
    assert any(s["skipped"] and not s["passed"] for s in data["specs"])
    import xml.etree.ElementTree as ET
    junit = ET.fromstring(CliRunner().invoke(app, ["verify", str(spec), "--impl", target, "--format", "junit"]).stdout)
    assert junit.get("skipped") == str(data["skipped"]) and junit.find(".//skipped") is not None


def test_a_course_file_without_the_functions_is_one_line(tmp_path):
    plain = tmp_path / "empty.py"
    plain.write_text("x = 1\n")
    import pytest
    with pytest.raises(ImplError, match="defines no conv_forward_naive and no conv_backward_naive"):
        verify(SMALL[0], f"cs231n:{plain}")


def test_a_channels_last_implementation_runs_with_layout_nhwc(tmp_path):
    tf_style = str(Path(__file__).parent / "course" / "tf_style_conv.py")
    plain = [s for s in SMALL if s.dilation == (1, 1) and s.groups == 1]
    assert all(verify(spec, tf_style, method="full", layout="nhwc").passed for spec in plain)
    assert not verify(plain[0], tf_style, method="full").passed               # as NCHW it is wrong
    spec_file = tmp_path / "nhwc.yaml"
    spec_file.write_text("name: tf\nn: [7, 6]\nm: 3\nk: 2\np: 3\npadding: same\nstride: 2\nlayout: nhwc\n")
    result = CliRunner().invoke(app, ["verify", str(spec_file), "--impl", tf_style, "--format", "json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["specs"][0]["spec"]["layout"] == "nhwc"
    cli = CliRunner().invoke(app, ["verify", str(ROOT / "configs" / "valid_square.yaml"), "--impl", tf_style,
                                   "--layout", "nhwc"])
    assert cli.exit_code == 0, cli.output
    spec_file.write_text(spec_file.read_text().replace("layout: nhwc", "layout: NHWC_"))
    bad = CliRunner().invoke(app, ["verify", str(spec_file)])
    assert bad.exit_code == 2 and "field 'layout': must be one of nchw, nhwc" in bad.stderr


OPS = Path(__file__).parent / "course" / "torch_ops.py"


def test_torch_ops_a_custom_function_and_a_function_of_torch_ops():
    import pytest
    pytest.importorskip("torch")
    for spec in [s for s in SMALL if s.dims == 2]:                               # the ops are conv2d's
        function = verify(spec, f"torch:{OPS}:Conv2dOp", method="full")           # dilation and groups too
        assert function.passed, (spec.name, [c.message for c in function.checks])
        top, bottom, left, right = function.geometry.padding
        assert bool(function.skipped) == (top != bottom or left != right)
        assert verify(spec, f"torch:{OPS}:conv", method="full").passed
    wrong = verify(SMALL[0], f"torch:{OPS}:UnrotatedOp", method="full")
    assert not wrong.check("dx").passed and wrong.check("dx").diagnosis.mistake == "filter-not-rotated"


def test_a_function_is_called_as_torch_calls_conv2d():
    """ints where both axes agree, (h, w) pairs where not, dilation and groups only when not 1."""
    from conftest import make_spec

    from convcheck.impls.torch_op import functional_args
    assert functional_args((1, 1), (1, 1, 1, 1), {}) == [1, 1]
    assert functional_args((2, 1), (1, 1, 2, 2), {}) == [(2, 1), (1, 2)]
    assert functional_args((1, 1), (0, 0, 0, 0), {"dilation": (2, 2)}) == [1, 0, 2]
    assert functional_args((1, 1), (0, 0, 0, 0), {"groups": 4}) == [1, 0, 1, 4]
    assert functional_args((1, 1), (0, 0, 0, 0), {"dilation": (1, 3), "groups": 2}) == [1, 0, (1, 3), 2]
    import pytest
    pytest.importorskip("torch")
    skipped = verify(make_spec(n=8, m=3, padding=(1, 0, 1, 1)), f"torch:{OPS}:Conv2dOp").skipped
    assert skipped.startswith("not expressible in this API: padding (top, bottom, left, right) = (1, 0, 1, 1)")


def test_a_course_function_that_asserts_int_arguments_passes():
    import pytest
    pytest.importorskip("torch")
    from conftest import make_spec
    target = f"torch:{OPS}:CourseConv2DFunction"
    for spec in [make_spec(n=7, m=3, k=3, p=4, padding=1, batch=2), make_spec(n=9, m=3, stride=2, padding=2),
                 make_spec(n=(8, 6), m=2, k=2, p=3, stride=2, padding=0, bias=False)]:
        result = verify(spec, target, method="full")
        assert result.passed, (spec, [c.message for c in result.checks])


def test_a_function_that_fails_on_its_arguments_names_the_call():
    import pytest
    pytest.importorskip("torch")
    from conftest import make_spec
    spec = make_spec(n=7, m=3, k=3, p=4, padding=1, stride=(2, 1), batch=2)        # a stride pair: the op asserts
    message = verify(spec, f"torch:{OPS}:CourseConv2DFunction").check("y").message
    assert message.startswith("forward raised AssertionError (torch_ops.py:")
    assert "convcheck called CourseConv2DFunction.apply(x (2,3,7,7), w (4,3,3,3), b (4,), (2, 1), 1)" in message
    assert "'Adapting an op: a three-line wrapper'" in message
    dilated = make_spec(n=7, m=3, k=3, p=4, padding=1, dilation=2)                 # one argument too many
    message = verify(dilated, f"torch:{OPS}:CourseConv2DFunction").check("y").message
    assert "TypeError" in message and "CourseConv2DFunction.apply(x (2,3,7,7), w (4,3,3,3), b (4,), 1, 1, 2)" in message


def test_the_other_adapters_and_plain_plugins_name_the_call_too(tmp_path):
    from conftest import make_spec
    spec = make_spec(n=7, m=3, k=3, p=4, padding=1)
    (tmp_path / "picky.py").write_text(
        "def forward(x, w, b, *, stride, padding):\n    assert padding == 1, 'padding must be an int'\n\n"
        "backward = forward\n")
    message = verify(spec, str(tmp_path / "picky.py")).check("y").message
    assert "convcheck called forward(x (2,3,7,7), w (4,3,3,3), b (4,), stride=(1, 1), padding=(1, 1, 1, 1))" in message
    (tmp_path / "layers.py").write_text(
        "def conv_forward_naive(x, w, b, conv_param):\n    raise ValueError('bad conv_param')\n\n"
        "def conv_backward_naive(dout, cache):\n    pass\n")
    message = verify(spec, f"cs231n:{tmp_path / 'layers.py'}").check("y").message
    assert "conv_forward_naive(x (2,3,7,7), w (4,3,3,3), b (4,), {'stride': 1, 'pad': 1})" in message
    (tmp_path / "cls.py").write_text(
        "class Conv:\n    def __init__(self, in_channels, out_channels, kernel_size, stride, padding):\n"
        "        assert kernel_size == 5\n    def forward(self, x): pass\n    def backward(self, dout): pass\n")
    message = verify(spec, f"layer:{tmp_path / 'cls.py'}:Conv").check("y").message
    assert "Conv(in_channels=3, out_channels=4, kernel_size=3, stride=1, padding=1)" in message


def test_the_torch_adapter_without_torch_is_one_line(monkeypatch):
    import sys

    import pytest
    monkeypatch.setitem(sys.modules, "torch", None)                               # import torch fails
    with pytest.raises(ImplError, match=r"needs PyTorch: pip install 'convcheck\[torch\]'"):
        verify(SMALL[0], "torch:anything.py:op")
    with pytest.raises(ImplError, match="expected torch:MODULE:NAME"):
        verify(SMALL[0], "torch:op")


def test_a_layer_class_with_its_own_names_through_an_adapter_block():
    course = Path(__file__).parent / "course"
    target = f"layer:{course / 'cs7643_conv.py'}:Conv2D"
    results = [verify(spec, target, method="full") for spec in load_specs(course / "cs7643_layers.yaml")]
    assert [(r.spec.name, r.passed, bool(r.skipped)) for r in results] == [
        ("same-3x3", True, False), ("strided", True, False), ("asymmetric", True, True)]
    plain = verify(load_specs(ROOT / "configs" / "valid_square.yaml")[0], target)
    assert "unexpected keyword argument 'in_channels'; if the class names its arguments differently, rename " \
           "them with an 'adapter:' block" in plain.check("y").message
    cli = CliRunner().invoke(app, ["verify", str(course / "cs7643_layers.yaml"), "--impl", target])
    assert cli.exit_code == 0 and "2 passed, 1 skipped" in cli.stdout


def test_bad_adapter_blocks_are_one_line(tmp_path):
    import pytest

    from convcheck.errors import SpecError
    for block, needle in [("{in_channel: in_c}", "unknown name 'in_channel'; did you mean 'in_channels'?"),
                          ("{weight: 3}", "weight must be renamed to a Python identifier, got 3"),
                          ("[W]", "must be a mapping")]:
        (tmp_path / "a.yaml").write_text(f"name: a\nn: 8\nm: 3\nk: 2\np: 2\npadding: 1\nstride: 1\nadapter: {block}\n")
        with pytest.raises(SpecError, match="field 'adapter'") as e:
            load_specs(tmp_path / "a.yaml")
        assert needle in str(e.value)


def test_a_printing_op_does_not_interleave_with_the_table():
    """A whole process, as a user runs it: lecture code that prints from forward and backward."""
    import subprocess

    import pytest
    pytest.importorskip("torch")
    command = [shutil.which("convcheck"), "verify", str(ROOT / "configs" / "valid_square.yaml"), "--impl",
               f"torch:{OPS}:TalkativeConv2dOp"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "MyConv2d" not in done.stdout + done.stderr and "1 spec: 1 passed" in done.stdout
    shown = subprocess.run(command + ["--show-output"], capture_output=True, text=True, timeout=120)
    assert "    | Performing custom backward of MyConv2d" in shown.stdout
