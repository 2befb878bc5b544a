"""Issue 25: nothing a plug-in or a spec does can fool a verdict, crash a report or lose it.

The corpus (tests/corpus/, test_corpus.py) holds the hostile plug-ins and bad specs; here every
report format is rendered from them and read back as its readers read it: a strict JSON parser,
an XML parser, GitHub's workflow-command lines, a terminal."""

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from convcheck.cli import app
from convcheck.geometry import geometry
from convcheck.report.html import document
from convcheck.report.json_report import render as json_render
from convcheck.report.junit import render as junit_render
from convcheck.report.table import plain_text
from convcheck.report.text import inert
from convcheck.result import SpecResult, TensorCheck
from convcheck.spec import ConvSpec

ROOT = Path(__file__).parent.parent
PLUGINS = Path(__file__).parent / "corpus" / "plugins"
GOOD = ROOT / "configs" / "valid_square.yaml"
CONTROLS = ("\x1b", "\x00", "\r", "\x07")


def strict_json(text: str):
    """JSON as a strict parser reads it: bare NaN or Infinity refused."""
    return json.loads(text, parse_constant=lambda name: pytest.fail(f"bare {name} in JSON"))


def run(*args, env=None):
    return CliRunner().invoke(app, ["verify", *map(str, args)], env=env)


def test_inert_shows_every_control_character_and_keeps_the_rest():
    assert inert("a\x1b[2Jb\x00c\u202ed\ud800é\t") == "a\\x1b[2Jb\\x00c\\u202ed\\ud800é\\x09"
    assert inert("one\ntwo") == "one\\x0atwo" and inert("one\ntwo", lines=True) == "one\ntwo"
    assert inert("plain text: 3 × 3, (1, 2)") == "plain text: 3 × 3, (1, 2)"


def test_control_characters_from_a_plugin_are_inert_in_every_format(tmp_path):
    plugin = PLUGINS / "control_characters.py"
    table = run(GOOD, "--impl", plugin, "--show-output")
    assert table.exit_code == 1 and "1 spec: 0 passed, 1 failed" in table.stdout
    assert not any(c in table.stdout for c in CONTROLS), repr(table.stdout[:300])
    assert "\\x1b[32mINFO\\x1b[0m forward \\x00 done \\x07" in table.stdout          # the output, shown inert
    assert not any(line.lstrip().startswith("::") for line in table.stdout.splitlines())
    summary = tmp_path / "summary.md"
    github = run(GOOD, "--impl", plugin, "--format", "github", env={"GITHUB_STEP_SUMMARY": str(summary)})
    commands = [line for line in github.stdout.splitlines() if line.startswith("::")]
    assert len(commands) == 1 and commands[0].startswith("::error file=")              # ours, one per failing layer
    assert not any(c in github.stdout + summary.read_text() for c in CONTROLS)
    rows = [line for line in summary.read_text().splitlines() if line.startswith("|")]
    assert len(rows) == 3 and all(row.endswith("|") for row in rows)                    # header, rule, the layer
    junit = run(GOOD, "--impl", plugin, "--format", "junit", "--show-output")
    case = ET.fromstring(junit.stdout.encode()).find(".//testcase")                     # XML 1.0 parses
    assert "\\x1b[2J\\x00bad" in case.find("failure").get("message")
    assert "\\x1b[32mINFO" in case.find("system-out").text
    page = run(GOOD, "--impl", plugin, "--format", "html", "--show-output").stdout
    assert not any(c in page for c in CONTROLS) and "\\x1b[2J\\x00bad" in page
    data = strict_json(run(GOOD, "--impl", plugin, "--format", "json").stdout)       # JSON keeps the exact text
    assert "\x1b[2J\x00bad\r\n::error" in data["specs"][0]["tensors"]["dx"]["message"]


def test_nan_during_finite_differences_fails_the_layer_and_every_report_finishes(tmp_path):
    """At batch 1 the forward is right; on the batches finite differences stack it returns NaN."""
    spec = tmp_path / "one.yaml"
    spec.write_text("name: one\nn: 6\nm: 3\nk: 2\np: 3\npadding: 1\nstride: 1\nbatch: 1\n")
    args = (spec, "--impl", PLUGINS / "nan_on_batches.py", "--through", "implementation")
    table = run(*args)
    assert table.exit_code == 1 and "1 spec: 0 passed, 1 failed" in table.stdout
    assert "returned 1944 non-finite values (NaN or inf)" in table.stdout
    data = strict_json(run(*args, "--format", "json").stdout)
    assert data["failed"] == 1 and data["specs"][0]["tensors"]["dx"]["verdict"] == "not checked"
    ET.fromstring(run(*args, "--format", "junit").stdout.encode())
    assert "<!DOCTYPE html>" in run(*args, "--format", "html").stdout
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--convcheck-impl",
                           str(PLUGINS / "nan_on_batches.py"), "--convcheck-through", "implementation", str(spec)],
                          cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 1 and "1 failed" in done.stdout and "INTERNALERROR" not in done.stdout


def test_a_result_holding_nan_renders_in_every_format():
    """Defence in depth: a NaN that reaches a result (an error map, an error) never stops a report."""
    spec = ConvSpec(n=(5, 5), m=(3, 3), k=1, p=1, padding=(0, 0, 0, 0), stride=(1, 1), name="nan", batch=1)
    check = TensorCheck("dx", (1, 1, 5, 5), (1, 1, 5, 5), max_abs=float("nan"), max_rel=float("inf"),
                        tolerance_ratio=float("nan"), message="1 of 25 checked elements off", total=25)
    check.error_map = np.full((5, 5), np.nan)
    check.error_map[0, 0] = 1.0
    result = SpecResult(spec, geometry(spec), "x", "full", 1e-6, 1e-8, checks=[check])
    assert "1 spec: 0 passed, 1 failed" in plain_text([result], 0.1)
    strict_json(json_render([result], 0.1))
    ET.fromstring(junit_render([result], 0.1).encode())
    assert "<svg" in document([result], 0.1, images="svg")


# ---- what cannot fit is refused up front ------------------------------------------------------------

HUGE = "name: huge\nn: 3000\nm: 64\nk: 1\np: 1\npadding: 0\nstride: 1\nbatch: 1\n"   # im2col: 2937² x 4096 x 8 B


def test_a_layer_that_cannot_fit_is_refused_before_any_layer_runs(tmp_path):
    from convcheck.errors import SpecError
    from convcheck.testing import check
    spec = tmp_path / "two.yaml"
    spec.write_text("layers:\n  - {name: small, n: 5, m: 3, k: 1, p: 1, padding: 0, stride: 1}\n"
                    "  - {name: huge, n: 3000, m: 64, k: 1, p: 1, padding: 0, stride: 1, batch: 1}\n")
    for command in ("verify", "plan"):
        result = CliRunner().invoke(app, [command, str(spec)])
        assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.output
        assert f"convcheck: error: {spec}:3: layer 'huge': field 'm': checking this layer needs about" in result.stderr
        assert "the column matrix of one forward (im2col) alone takes" in result.stderr and "shrink m" in result.stderr
        assert "small" not in result.stdout                                          # nothing ran
    with pytest.raises(SpecError, match="checking this layer needs about .* shrink m"):
        check("direct", n=3000, m=64, k=1, p=1, padding=0, stride=1, batch=1)


def test_the_estimate_names_the_part_that_grows_and_its_field():
    from convcheck.errors import SpecError
    from convcheck.loader import load_mapping
    from convcheck.memory import estimate, refuse
    from convcheck.options import checked

    def part(**fields):
        return estimate(geometry(checked(load_mapping(fields)[0])))
    assert part(n=4000, m=16, k=1, p=1, padding=0, stride=1, batch=1).field == "m"              # 30 GiB of columns
    full = part(dims=1, n=2, m=2, k=1, p=1, dilation=10**9, padding="full", stride=10**9)     # 2·10^9 padded rows
    assert full.part == "the padded input of one forward" and full.field == "dilation" and full.bytes > 2**34
    audio = part(dims=1, n=65536, m=9, k=32, p=32, padding=4, stride=1)
    assert audio.part == "the column matrix of one forward (im2col)" and audio.bytes < 2**30   # no n x o matrix
    with pytest.raises(SpecError, match="field 'm': checking this layer needs about"):
        refuse(load_mapping(dict(dims=1, n=65536, m=9, k=32, p=32, padding=4, stride=1))[0], available=2**28)
    refuse(load_specs_seed001(), available=2**30)                                            # 42 MiB: fits


def load_specs_seed001():
    from convcheck import load_specs
    return load_specs(ROOT / "configs" / "multichannel_5x100x100.yaml")[0]


def test_the_estimate_is_within_a_small_factor_of_what_a_check_allocates():
    """NumPy reports its allocations to tracemalloc: the peak of a full check against the estimate."""
    import tracemalloc

    from convcheck import verify
    from convcheck.loader import load_mapping
    from convcheck.memory import estimate
    from convcheck.options import checked
    for fields in (dict(n=300, m=8, k=1, p=1, padding=0, stride=1, batch=1),      # columns dominate
                   dict(dims=1, n=2048, m=9, k=8, p=8, padding=4, stride=1),      # batches dominate
                   dict(dims=1, n=2048, m=8, k=16, p=4, padding=2, stride=4, transposed=True)):
        spec = load_mapping(fields)[0]
        tracemalloc.start()
        assert verify(spec, "im2col", method="full").passed
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        need = estimate(geometry(checked(spec))).bytes
        assert 0.5 * peak <= need <= 4 * peak, (fields, peak, need)


def test_shapes_allocates_nothing_whatever_the_layer():
    import tracemalloc

    from convcheck.explain import explain
    from convcheck.loader import load_mapping
    from convcheck.report.shapes import explanation_dict
    spec = load_mapping(dict(n=2, m=3, k=10**6, p=10**6, groups=10**6, padding=1, stride=1, batch=1))[0]
    tracemalloc.start()
    explanation_dict(explain(geometry(spec)))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2**20                                   # a megabyte: text, never the layer's 10^6 channels


# ---- bad specs through the API: the CLI's one line, as a ConvcheckError (a ValueError) ---------------

def _deep(levels: int):
    value = []
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize("fields, message", [
    (dict(dims=2.0), "field 'dims': must be 1, 2 or 3, got 2.0"),
    (dict(name="\ud800"), "field 'name': must be printable text"),
    (dict(name="conv\x1b[2J"), "field 'name': must be printable text"),
    (dict(stride=10**20), "field 'stride': must be an integer from 1 to 2,147,483,647"),
    (dict(n=10**5000), "field 'n': must be an integer from 1 to 2,147,483,647"),
    (dict(k=2147483646, p=2147483646, groups=5, m=1, batch=1), "valid: 1, 2, 3, 6, 7, 9, 11, 14, 18, 21, 22, 31, …"),
    (dict(dilation=1000000), "field 'dilation': dilation 1000000 spreads the filter's 3 taps"),
    (dict(n=_deep(3000)), "nested deeper than Python can read"),
    (dict(seed="3"), "--seed '3': must be an integer >= 0"),
    (dict(seed=False), "--seed False: must be an integer >= 0"),
    (dict(seed=float("nan")), "--seed nan: must be an integer >= 0"),
    (dict(rtol=float("inf")), "--rtol inf: must be a finite number >= 0"),
])
def test_a_bad_spec_or_option_through_the_api_is_the_clis_line(fields, message):
    from convcheck.errors import ConvcheckError
    from convcheck.impls import direct
    from convcheck.testing import check
    layer = {**dict(n=5, m=3, k=1, p=1, padding=0, stride=1), **fields}
    with pytest.raises(ConvcheckError, match=re.escape(message)) as error:
        check(direct.forward, direct.backward, **layer)
    assert "\n" not in str(error.value)


def test_a_mapping_with_a_key_that_is_no_text_is_refused():
    from convcheck.errors import SpecError
    from convcheck.loader import load_mapping
    with pytest.raises(SpecError, match="unknown top-level key 1"):
        load_mapping({"layers": [dict(n=5, m=3, k=1, p=1, padding=0, stride=1)], 1: 2})
    with pytest.raises(SpecError, match="a key must be a field's name \\(text\\), got None"):
        load_mapping({None: 3, "n": 5, "m": 3, "k": 1, "p": 1, "padding": 0, "stride": 1})
