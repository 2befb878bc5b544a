"""The smallest failing layer: found for every planted course mistake, failing the same way when
checked again from its own YAML, said in every report, off with --no-shrink, and never lost to
a plug-in that hangs, crashes or raises while the layer shrinks."""

import json
import math
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import make_spec
from typer.testing import CliRunner
from wrong import WRONG

from convcheck import verify
from convcheck.cli import app
from convcheck.impls import Implementation, direct
from convcheck.loader import load_mapping
from convcheck.shrink import failure

MISTAKES = Path(__file__).parent / "course" / "mistakes"
PLANTED = {  # plug-in -> (layer, the mistake named on it, a field the smallest layer passes one step below)
    "scrambled_filter": ({"n": 7, "m": 3, "k": 3, "p": 4, "padding": 1, "stride": 2}, {"dx": "wrong-operand"}, "p"),
    "hardcoded_padding": ({"n": 7, "m": 3, "k": 3, "p": 4, "padding": 2, "stride": 1},
                          {"dx": "padding-hard-coded", "dw": "padding-hard-coded"}, "padding"),
    "early_stop": ({"n": 7, "m": 3, "k": 3, "p": 4, "padding": 2, "stride": 1}, {"dx": "loop-bounds",
                                                                                  "dw": "loop-bounds"}, "padding"),
    "python2_division": ({"n": 7, "m": 3, "k": 3, "p": 4, "padding": 1, "stride": 2}, {"y": "python2-division"},
                         None),
    "python2_xrange": ({"n": 7, "m": 3, "k": 3, "p": 4, "padding": 1, "stride": 2},
                       {"dx": "python2-builtin", "dw": "python2-builtin"}, None),
}


def cs231n(name: str) -> str:
    return f"cs231n:{MISTAKES / name}.py"


def size(fields: dict) -> int:
    """Numbers in x of a layer given by its fields."""
    spec = load_mapping(fields)[0]
    return (spec.batch or 1) * spec.k * math.prod(spec.n)


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_each_planted_course_mistake_is_named_with_its_smallest_failing_layer(name):
    fields, named, passing = PLANTED[name]
    result = verify(load_mapping(fields)[0], cs231n(name))
    assert not result.passed
    for tensor, mistake in named.items():
        assert result.check(tensor).diagnosis.mistake == mistake, (tensor, result.check(tensor).diagnosis)
    small = result.smallest
    assert small.fields and not small.stopped and small.tried > 0
    assert size(small.fields) < size({**fields, "batch": 2})
    again = verify(load_mapping(yaml.safe_load(small.yaml))[0], cs231n(name), shrink=False)   # pasted as given
    assert [list(f) for f in failure(again)] == small.failure          # as the layer failed before it shrank
    assert [tensor for tensor, _ in small.failure] == [tensor for tensor, _ in failure(result)]
    if passing is not None:
        assert any(item["field"] == passing and item["outcome"] == "passes" for item in small.further), small.further


def test_the_smallest_layer_of_each_wrong_plugin_fails_the_same_way():
    """The shrinker's promise on every planted mistake of tests/plugins/wrong.py."""
    for key, (impl, fields, tensor) in WRONG.items():
        spec = make_spec(**{"n": (8, 8), "m": (3, 3), "k": 3, "p": 3, "batch": 2, **fields})
        plugin = Implementation(key, impl.forward, impl.backward)
        result = verify(spec, plugin, method="full")
        small = result.smallest
        assert small is not None and small.fields and not small.stopped, key
        again = verify(load_mapping(small.fields)[0], plugin, method="full", shrink=False)
        assert [list(f) for f in failure(again)] == small.failure, (key, small.fields)
        assert tensor in {name for name, _ in small.failure}, key


def test_shrinking_lowers_each_field_to_what_the_mistake_needs():
    """A backward wrong only with two filters or more, a stride above 1 and batch 2 keeps
    exactly those, and says that one step less passes."""
    def backward(dy, x, w, b, *, stride, padding):
        dx, dw, db = direct.backward(dy, x, w, b, stride=stride, padding=padding)
        if w.shape[0] > 1 and stride[0] > 1 and x.shape[0] > 1:
            dx = dx * 1.5
        return dx, dw, db
    spec = make_spec(n=(11, 11), m=(3, 3), k=4, p=5, batch=3, stride=(3, 3), padding=(1, 1, 1, 1))
    small = verify(spec, Implementation("picky", direct.forward, backward)).smallest
    assert small.fields["p"] == 2 and small.fields["stride"] in (2, [2, 1], [1, 2]) and small.fields["batch"] == 2
    assert small.fields["k"] == 1 and small.fields["m"] == 1
    texts = " ".join(item["text"] for item in small.further)
    assert "passes with p = 1: the mistake needs more than 1 filter" in texts
    assert "passes with batch = 1" in texts


def test_small_tensors_are_shown_side_by_side_with_the_right_ones():
    result = verify(load_mapping(PLANTED["scrambled_filter"][0])[0], cs231n("scrambled_filter"))
    arrays = result.smallest.arrays["dx"]
    yours, right = np.array(arrays["yours"]), np.array(arrays["right"])
    assert yours.shape == right.shape == tuple(arrays["shape"]) and yours.size <= 64
    assert not np.allclose(yours, right)
    text = repr(result)
    assert "smallest failing layer" in text and "yours | right | yours − right" in text
    assert "w.reshape(4, -1).T.reshape(w.shape)" in text         # said on the layer checked, with its p


def test_no_shrink_leaves_the_layer_as_checked():
    spec = load_mapping(PLANTED["scrambled_filter"][0])[0]
    result = verify(spec, cs231n("scrambled_filter"), shrink=False)
    assert not result.passed and result.smallest is None
    passing = verify(spec, "direct")
    assert passing.passed and passing.smallest is None


def test_the_command_line_json_and_html_carry_the_smallest_layer(tmp_path):
    spec = tmp_path / "layer.yaml"
    spec.write_text(yaml.safe_dump({"name": "course", **PLANTED["early_stop"][0]}))
    runner = CliRunner()
    table = runner.invoke(app, ["verify", str(spec), "--impl", cs231n("early_stop")])
    assert table.exit_code == 1 and "smallest failing layer" in table.stdout and "name: course-smallest" in table.stdout
    assert "loop-bounds" in table.stdout
    data = json.loads(runner.invoke(app, ["verify", str(spec), "--impl", cs231n("early_stop"), "--format",
                                          "json"]).stdout)
    smallest = data["specs"][0]["smallest"]
    assert set(smallest) == {"spec", "yaml", "failure", "shrunk_further", "arrays", "diagnoses", "tried", "seconds",
                             "stopped"}
    assert yaml.safe_load(smallest["yaml"]) == smallest["spec"] and smallest["stopped"] is None
    assert data["specs"][0]["tensors"]["dx"]["diagnosis"]["mistake"] == "loop-bounds"
    html = tmp_path / "report.html"
    runner.invoke(app, ["verify", str(spec), "--impl", cs231n("early_stop"), "--format", "html", "--output",
                        str(html)])
    assert 'class="smallest"' in html.read_text()
    junit = runner.invoke(app, ["verify", str(spec), "--impl", cs231n("early_stop"), "--format", "junit"]).stdout
    assert "smallest failing layer" in junit and "name: course-smallest" in junit and "diagnosis: loop-bounds" in junit
    off = json.loads(runner.invoke(app, ["verify", str(spec), "--impl", cs231n("early_stop"), "--format", "json",
                                         "--no-shrink"]).stdout)
    assert off["specs"][0]["smallest"] is None and off["specs"][0]["passed"] is False


TINY = '''"""Right on large layers; on a layer of at most 3 input rows it {what}."""
import os, time
from convcheck.impls import direct
forward = direct.forward

def backward(dy, x, w, b, **kwargs):
    if x.shape[2] <= 3:
        {action}
    dx, dw, db = direct.backward(dy, x, w, b, **kwargs)
    return dx * 2, dw, db
'''


@pytest.mark.parametrize("what, action, words", [
    ("exits", "os._exit(3)", "exited with code 3 while the layer shrank"),
    ("hangs", "time.sleep(600)", "timed out after"),
    ("raises KeyboardInterrupt", "raise KeyboardInterrupt", None)])
def test_a_plugin_that_misbehaves_while_the_layer_shrinks_leaves_the_verdict(tmp_path, monkeypatch, what, action,
                                                                               words):
    from convcheck import pool
    from convcheck.runner import verify_all
    monkeypatch.setattr(pool, "SHRINK_GRACE_S", 0.5)        # the hang is stopped at 2 x 2 s + 0.5 s
    plugin = tmp_path / "tiny.py"
    plugin.write_text(TINY.format(what=what, action=action))
    spec = make_spec(n=(8, 8), m=(3, 3), k=2, p=2)
    result = verify_all([spec], str(plugin), method="full")[0]
    assert not result.passed and not result.error and result.check("dx").verdict == "FAIL"
    assert result.check("dx").diagnosis.mistake == "scaled"
    if words is None:                                        # raised in the worker: shrinking stops, says why
        assert result.smallest.stopped.startswith("interrupted") or result.smallest.fields
    else:
        assert not result.smallest.fields and words in result.smallest.stopped, result.smallest.stopped


def test_shrinking_stops_at_its_time_limit_and_keeps_what_it_found(monkeypatch):
    from convcheck import shrink
    monkeypatch.setattr(shrink, "FLOOR_S", 0.0)
    impl, fields, _ = WRONG["no_rotation"]
    spec = make_spec(**{"n": (8, 8), "m": (3, 3), "k": 3, "p": 3, **fields})
    result = verify(spec, Implementation("slow", impl.forward, impl.backward), method="full")
    small = result.smallest
    assert small.stopped.startswith("stopped after") and small.fields        # the layer as far as it got
    assert not result.passed and result.check("dx").diagnosis.mistake == "filter-not-rotated"


HANGS_SMALL = '''import pathlib, time
from convcheck.impls import direct
forward = direct.forward

def backward(dy, x, w, b, **kwargs):
    if x.shape[2] <= 3:                          # reached only while the layer shrinks
        pathlib.Path({marker!r}).write_text("shrinking")
        time.sleep(600)
    dx, dw, db = direct.backward(dy, x, w, b, **kwargs)
    return dx * 2, dw, db
'''


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_run_stopped_while_a_layer_shrinks_reports_that_layers_verdict(tmp_path):
    marker = tmp_path / "marker.txt"
    plugin = tmp_path / "hangs_small.py"
    plugin.write_text(HANGS_SMALL.format(marker=str(marker)))
    spec = tmp_path / "layer.yaml"
    spec.write_text("name: a\nn: 8\nm: 3\nk: 1\np: 1\npadding: valid\nstride: 1\n")
    process = subprocess.Popen([shutil.which("convcheck"), "verify", str(spec), "--impl", str(plugin), "--format",
                                "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the plug-in never hung while shrinking"
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 143, err
    layer = json.loads(out)["specs"][0]
    assert layer["name"] == "a" and layer["passed"] is False
    assert layer["tensors"]["dx"]["diagnosis"]["mistake"] == "scaled"
    assert "stopped while the layer shrank" in layer["smallest"]["stopped"]


def test_an_edited_plugin_file_is_shrunk_afresh(tmp_path):
    """The learner's loop: verify reloads a plug-in file that changed, and so does shrinking,
    not the outcomes it remembered of the file before the edit."""
    plugin = tmp_path / "conv.py"
    spec = make_spec(n=(8, 8), m=(3, 3), k=2, p=3, stride=(2, 2))
    source = ("from convcheck.impls import direct\nforward = direct.forward\n\ndef backward(dy, x, w, b, **k):\n"
              "    dx, dw, db = direct.backward(dy, x, w, b, **k)\n    return dx * {factor}, dw, db\n")
    plugin.write_text(source.format(factor="(2 if w.shape[0] > 1 else 1)"))       # wrong with two filters or more
    first = verify(spec, str(plugin))
    assert first.smallest.fields["p"] == 2
    plugin.write_text(source.format(factor="(2 if w.shape[0] > 2 else 1)"))       # now with three or more
    again = verify(spec, str(plugin))
    assert again.smallest.fields["p"] == 3 and not again.smallest.stopped
