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
SMALL = [s for s in load_specs(ROOT / "configs") if not s.name.startswith("seed001")]   # loops: keep it quick


def test_cs231n_naive_and_fast_pass_what_their_api_expresses_and_skip_the_rest():
    for kind in ("cs231n", "cs231n-fast"):
        results = [verify(spec, f"{kind}:{COURSE / 'layers.py'}" if kind == "cs231n" else
                          f"{kind}:{COURSE / 'fast_layers.py'}", method="full") for spec in SMALL]
        ran = [r for r in results if not r.skipped]
        assert all(r.passed for r in results), [(r.spec.name, r.skipped, [c.message for c in r.checks]) for r in ran]
        skipped = {r.spec.name: r.skipped for r in results if r.skipped}
        assert "asymmetric-padding" in skipped and "depthwise" in skipped and "atrous" in skipped
        assert skipped["asymmetric-padding"].startswith("not expressible in this API: padding")
        assert {r.spec.name for r in ran} >= {"seed000-general", "stride2-leftover-rows", "full-no-bias", "stem"}


def test_the_classic_crop_bug_is_found_and_named(tmp_path):
    course = tmp_path / "assignment2" / "cs231n"
    shutil.copytree(COURSE, course)
    layers = course / "layers.py"
    right, classic = "dx_pad[:, :, pad:pad + H, pad:pad + W]", "dx_pad[:, :, pad:-pad, pad:-pad]"
    layers.write_text(layers.read_text().replace(right, classic))
    result = CliRunner().invoke(app, ["verify", str(ROOT / "configs" / "seed000_general.yaml"), "--impl",
                                      f"cs231n:{layers}", "--format", "json"])
    assert result.exit_code == 1
    tensor = json.loads(result.stdout)["specs"][0]["tensors"]["dx"]
    assert tensor["actual_shape"] == [1, 3, 0, 0] and tensor["diagnosis"]["mistake"] == "padding-crop"


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
    cli = CliRunner().invoke(app, ["verify", str(ROOT / "configs" / "seed000_general.yaml"), "--impl", tf_style,
                                   "--layout", "nhwc"])
    assert cli.exit_code == 0, cli.output
    spec_file.write_text(spec_file.read_text().replace("layout: nhwc", "layout: NHWC_"))
    bad = CliRunner().invoke(app, ["verify", str(spec_file)])
    assert bad.exit_code == 2 and "field 'layout': must be one of nchw, nhwc" in bad.stderr


def test_torch_ops_a_custom_function_and_a_function_of_torch_ops():
    import pytest
    pytest.importorskip("torch")
    ops = Path(__file__).parent / "course" / "torch_ops.py"
    for spec in SMALL:
        function = verify(spec, f"torch:{ops}:Conv2dOp", method="full")
        assert function.passed, (spec.name, [c.message for c in function.checks])
        assert bool(function.skipped) == (spec.dilation != (1, 1) or spec.groups != 1)
        assert verify(spec, f"torch:{ops}:conv", method="full").passed          # dilation and groups too
    wrong = verify(SMALL[0], f"torch:{ops}:UnrotatedOp", method="full")
    assert not wrong.check("dx").passed and wrong.check("dx").diagnosis.mistake == "filter-not-rotated"


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
    plain = verify(load_specs(ROOT / "configs" / "seed000_general.yaml")[0], target)
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
