"""Every --format, produced by a real run and parsed back with a standard parser."""

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from typer.testing import CliRunner

from convcheck import load_specs
from convcheck.cli import app

ROOT = Path(__file__).parent.parent
CONFIGS = ROOT / "configs"
CORPUS = ROOT / "tests" / "corpus" / "plugins"
runner = CliRunner()


def mixed(tmp_path) -> list[str]:
    """Three layers: one passes, one fails its gradients (dL/dX off on n = 8), one crashes (n = 7)."""
    plugin = tmp_path / "mixed.py"
    plugin.write_text("import os\nfrom convcheck.impls.direct import forward, backward as _backward\n\n"
                      "def backward(dy, x, w, b, *, stride, padding):\n"
                      "    if x.shape[2] == 7:\n        os._exit(3)\n"
                      "    dx, dw, db = _backward(dy, x, w, b, stride=stride, padding=padding)\n"
                      "    if x.shape[2] == 8:\n        dx = dx * 1.5\n"
                      "    return dx, dw, db\n")
    spec = tmp_path / "three.yaml"
    spec.write_text("defaults: {padding: valid, stride: 1, m: 3, k: 2, p: 2}\nlayers:\n"
                    "  - {name: good, n: 9}\n  - {name: wrong, n: 8}\n  - {name: crash, n: 7}\n")
    return ["verify", str(spec), "--impl", str(plugin)]


def test_json_keys_version_spec_and_tolerance_ratio(tmp_path):
    result = runner.invoke(app, mixed(tmp_path) + ["--format", "json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["convcheck"] and (data["passed"], data["failed"]) == (1, 2)
    good, wrong, crash = data["specs"]
    assert good["spec"] == {"dims": 2, "n": [9, 9], "m": [3, 3], "k": 2, "p": 2, "stride": [1, 1],
                            "padding": [0, 0, 0, 0], "padding_form": "valid", "dilation": [1, 1], "groups": 1,
                            "layout": "nchw", "transposed": False, "output_padding": [0, 0], "adapter": {},
                            "batch": 2, "bias": True, "dtype": "float64", "seed": 0}   # checked at 2: none set
    assert good["default_batch"] is True and good["tensors"]["dx"]["expected_shape"] == [2, 2, 9, 9]
    assert all(t["tolerance_ratio"] <= 1 for t in good["tensors"].values())
    assert wrong["tensors"]["dx"]["tolerance_ratio"] > 1 and wrong["tensors"]["dw"]["tolerance_ratio"] <= 1
    assert wrong["tensors"]["dx"]["max_rel_err"] > 0.3 and wrong["error"] is None
    assert crash["error"] == "backward exited with code 3" and crash["tensors"] == {} and not crash["passed"]
    assert (crash["line"], crash["file"]) == (5, str(tmp_path / "three.yaml"))


def test_junit_one_testcase_per_layer_failures_and_errors(tmp_path):
    result = runner.invoke(app, mixed(tmp_path) + ["--format", "junit"])
    assert result.exit_code == 1
    suites = ET.fromstring(result.stdout.encode())
    assert suites.tag == "testsuites" and suites.get("tests") == "3"
    suite = suites.find("testsuite")
    assert (suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("1", "1", "0")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["good", "wrong", "crash"]
    assert {c.get("classname") for c in cases} == {str(tmp_path / "three.yaml")}
    good, wrong, crash = cases
    assert good.find("failure") is None and good.find("error") is None
    failure = wrong.find("failure")
    assert failure.get("message").startswith("dL/dX: ") and "max abs err" in failure.text
    assert crash.find("error").get("message") == "backward exited with code 3"
    assert "every coordinate" in good.find("system-out").text


def test_github_annotations_point_at_the_layer_line_and_the_step_summary_is_appended(tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = runner.invoke(app, mixed(tmp_path) + ["--format", "github"])
    assert result.exit_code == 1
    errors = [line for line in result.stdout.splitlines() if line.startswith("::error ")]
    assert len(errors) == 2
    parsed = []
    for line in errors:
        head, message = line[len("::error "):].split("::", 1)
        props = dict(item.split("=", 1) for item in head.split(","))
        parsed.append((props["file"], props["line"], props["title"], message))
    assert parsed[0][:3] == (str(tmp_path / "three.yaml"), "4", "convcheck%3A layer 'wrong' failed")
    assert parsed[0][3].startswith("dL/dX: ") and "%0A" not in parsed[0][3]
    assert parsed[1][1] == "5" and parsed[1][3] == "backward exited with code 3"
    text = summary.read_text()
    assert text.startswith("earlier step\n### convcheck: 3 specs: 1 passed, 2 failed")
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    assert [row.split("|")[1].strip() for row in rows] == ["layer", "good", "wrong", "crash"]
    assert "**FAIL**" in rows[2] and "backward exited with code 3" in rows[3]


def test_output_writes_the_report_to_a_file_and_the_table_to_the_terminal(tmp_path):
    out = tmp_path / "report.xml"
    result = runner.invoke(app, ["verify", str(CONFIGS), "--format", "junit", "--output", str(out)])
    assert result.exit_code == 0
    count = len(load_specs(CONFIGS))
    assert f"{count} specs: {count} passed" in result.stdout and ", 0 failed" in result.stdout
    assert "<testsuite" not in result.stdout and ET.parse(out).getroot().get("tests") == str(count)
    table = tmp_path / "report.txt"
    result = runner.invoke(app, ["verify", str(CONFIGS / "valid_square.yaml"), "--output", str(table)])
    assert "valid-9x9x3-four-3x3x3" in table.read_text() and "\x1b[" not in table.read_text()
