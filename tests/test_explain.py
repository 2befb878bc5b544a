"""`convcheck shapes`: every printed size is the geometry's and the engine's, and its arithmetic holds."""

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import ShapeMismatch, confirm, make_spec, specs
from hypothesis import HealthCheck, given, settings
from rich.console import Console
from typer.testing import CliRunner

from convcheck import geometry, load_specs
from convcheck.cli import app
from convcheck.explain import explain, touched
from convcheck.impls import direct, reference
from convcheck.report.shapes import explanation_dict, render_human, render_markdown

ROOT = Path(__file__).parent.parent
SNAPSHOTS = Path(__file__).parent / "snapshots"
runner = CliRunner()

SPECS = [  # every padding form, stride 1-3 with and without leftover rows, non-square
    make_spec(n=100, m=5, k=5, p=10),
    make_spec(n=(8, 6), m=(3, 5), padding="same"),
    make_spec(n=(6, 5), m=(3, 4), padding="same"),
    make_spec(n=7, m=4, stride=2, padding="same"),
    make_spec(n=(9, 10), m=(3, 2), stride=(3, 2), padding="same"),
    make_spec(n=5, m=3, padding="full", bias=False),
    make_spec(n=(5, 7), m=(2, 3), stride=(2, 3), padding="full"),
    make_spec(n=8, m=3, stride=2),                         # leftover 1
    make_spec(n=9, m=3, stride=2),                         # no leftover
    make_spec(n=(10, 11), m=(3, 2), stride=3),             # leftover (1, 0)
    make_spec(n=(6, 7), m=3, padding=(1, 2, 0, 3), stride=(1, 2)),
    make_spec(n=4, m=4, padding=(2, 2, 2, 2)),
    make_spec(n=(3, 12), m=(3, 1), stride=(1, 3), padding=(0, 0, 1, 1), batch=3),
]


def evaluate(expr: str) -> int:
    """The integer value of a step's arithmetic as printed (−, ·, ⌈a / b⌉, mod, max)."""
    expr = re.sub(r"⌈(\d+) / (\d+)⌉", r"(-(-\1 // \2))", expr)
    expr = expr.replace("−", "-").replace("·", "*").replace("mod", "%")
    assert re.fullmatch(r"[\d\s+\-*/%()max,]+", expr), expr
    return eval(expr, {"max": max})


def axis_parts(numbers: str) -> list[str]:
    """'rows: A; columns: B' -> [A, B]; 'A' -> [A, A]."""
    if numbers.startswith("rows: "):
        rows, cols = numbers[len("rows: "):].split("; columns: ")
        return [rows, cols]
    return [numbers, numbers]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.n}-{s.m}-{s.stride}-{s.padding}")
def test_every_shape_and_every_step_agrees_with_geometry_engine_and_arithmetic(spec):
    assert_explanation_holds(spec)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(specs())
def test_explanations_of_generated_layers_hold(spec):
    assert_explanation_holds(spec)


def assert_explanation_holds(spec):
    geom = geometry(spec)
    explanation = explain(geom)
    confirm(explanation)  # the engine's arrays have the printed shapes
    assert {t.key: t.shape for t in explanation.tensors} == geom.shapes
    steps = {s.id: s for s in explanation.steps}
    for a in (0, 1):
        part = {key: axis_parts(steps[key].numbers)[a] for key in steps}
        assert evaluate(part["y"].rsplit(" = ", 1)[0]) == geom.out[a]
        assert part["y"].endswith(f"= {geom.out[a]}")
        left, right = part["dw.size"].rsplit(" = ", 1)
        assert evaluate(left) == int(right) == spec.m[a]
        chain = [c.split(" leftover")[0].split(" cropped")[0] for c in part["dx.size"].split(", ")]
        total = evaluate(chain[0].rsplit(" = ", 1)[0])
        for link in chain[1:]:
            total = evaluate(f"{total} {link.rsplit(' = ', 1)[0]}")
        assert total == spec.n[a] and part["dx.size"].endswith(f"= {spec.n[a]}")
        if "leftover" in steps:
            left, right = part["leftover"].rsplit(" = ", 1)
            assert evaluate(left) == int(right) == geom.leftover[a]
        if spec.stride != (1, 1):
            left, right = part["dy"].rsplit(" = ", 1)
            assert evaluate(left) == int(right) == geom.dilated[a]
    o, cols = geom.out[0] * geom.out[1], spec.m[0] * spec.m[1] * spec.k   # recomputed here on purpose
    assert geom.phi == (o, cols)
    assert steps["phi"].numbers.endswith(f"= ({o}, {cols}) per sample")
    assert steps["dF_f"].numbers.endswith(f"= ({cols}, {spec.p})")


def test_leftover_step_only_when_strided_and_says_zero_gradient():
    steps = {s.id: s for s in explain(geometry(make_spec(n=8, m=3, stride=2))).steps}
    assert "dL/dX is 0" in steps["leftover"].result
    assert "leftover" not in {s.id for s in explain(geometry(make_spec(n=8, m=3))).steps}


def test_same_padding_step_says_where_the_odd_pixel_goes():
    step = explain(geometry(make_spec(n=7, m=4, stride=2, padding="same"))).steps[0]
    assert "total = max((4 − 1)·2 + 4 − 7, 0) = 3 → 1 before, 2 after" in step.numbers
    assert "bottom/right" in step.note and "PyTorch" in step.note


@pytest.mark.parametrize("n,m,s,lo", [(n, m, s, lo) for n in (1, 5, 8) for m in (1, 2, 3) for s in (1, 2, 3)
                                      for lo in (0, 1, 2) if n + 2 * lo >= m])
def test_region_of_a_pixel_matches_brute_force(n, m, s, lo):
    o = (n + 2 * lo - m) // s + 1
    for pixel in range(n):
        reading = [i for i in range(o) if i * s <= pixel + lo <= i * s + m - 1]
        first, last = touched(pixel, m, s, lo, o)
        assert list(range(first, last + 1)) == reading


def test_seed004_interior_pixel_reaches_m_by_m_outputs():
    step = next(s for s in explain(geometry(make_spec(n=9, m=3, padding="same"))).steps if s.id == "region")
    assert "X[4, 4] → rows 3…5, columns 3…5: 3 × 3 = 9 outputs" in step.numbers
    assert "X[0, 0] → rows 0…1, columns 0…1: 2 × 2 = 4 outputs" in step.numbers


def test_views_select_steps():
    geom = geometry(SPECS[0])
    assert {s.view for s in explain(geom, "direct").steps} == {"direct"}
    assert {s.view for s in explain(geom, "im2col").steps} == {"im2col"}


def test_engine_disagreement_is_an_error(monkeypatch):
    monkeypatch.setattr(direct, "forward", lambda x, w, b, **k: np.zeros((1, 1, 1, 1)))
    with pytest.raises(ShapeMismatch, match="engine's y has shape"):
        confirm(explain(geometry(make_spec())))


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.n}-{s.m}-{s.stride}-{s.padding}")
def test_json_tensors_match_independent_loops(spec):
    data = explanation_dict(explain(geometry(spec)))
    geom = geometry(spec)
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(data["tensors"]["x"]), rng.standard_normal(data["tensors"]["w"])
    y = reference.forward(x, w, None, stride=spec.stride, padding=tuple(data["spec"]["padding"]))
    assert list(y.shape) == data["tensors"]["y"] == data["tensors"]["dy"]
    assert data["tensors"]["dx"] == data["tensors"]["x"] and data["tensors"]["dw"] == data["tensors"]["w"]
    assert data["spec"]["padding"] == list(geom.padding) and data["spec"]["n"] == list(spec.n)
    assert {"name", "spec", "tensors", "steps"} <= set(data)
    assert set(data["tensors"]) == {"x", "w", "b", "y", "dy", "dx", "dw", "db"}


def test_cli_json_is_an_object_for_one_spec_and_a_list_for_several():
    one = runner.invoke(app, ["shapes", str(ROOT / "configs" / "multichannel_5x100x100.yaml"), "--format", "json"])
    assert one.exit_code == 0
    data = json.loads(one.stdout)
    assert data["tensors"]["y"] == [1, 10, 96, 96] and data["tensors"]["dw"] == [10, 5, 5, 5]
    several = runner.invoke(app, ["shapes", str(ROOT / "configs"), "--format", "json"])
    assert isinstance(json.loads(several.stdout), list) and len(json.loads(several.stdout)) >= 9


def test_cli_seed001_explanation_has_the_arithmetic_and_no_colour_when_piped():
    result = runner.invoke(app, ["shapes", str(ROOT / "configs" / "multichannel_5x100x100.yaml"), "--explain"])
    assert result.exit_code == 0
    out = result.stdout
    assert "\x1b[" not in out
    for text in ("(1,10,96,96)", "100 − 5 + 1 = 96", "100 − (100 − 5 + 1) + 1 = 5", "(10, 5, 5, 5)",
                 "(100 − 5 + 1) + 2·(5 − 1) − 5 + 1 = 100", "k = 5 channels × p = 10 filters", "(9216, 125)"):
        assert text in out, text


def test_cli_impossible_layer_is_explained_with_exit_2(tmp_path):
    spec = tmp_path / "tiny.yaml"
    spec.write_text("name: tiny\nn: 3\nm: 5\nk: 1\np: 1\npadding: 0\nstride: 1\n")
    result = runner.invoke(app, ["shapes", str(spec)])
    assert result.exit_code == 2
    assert "n + top + bottom = 3 + 0 + 0 = 3" in result.stderr
    assert "m <= 3" in result.stderr and "(1 per side)" in result.stderr and "n >= 5" in result.stderr


def _snapshot(name: str, text: str):
    path = SNAPSHOTS / name
    if os.environ.get("CONVCHECK_UPDATE_SNAPSHOTS"):
        path.write_text(text)
    assert text == path.read_text(), f"{name} changed; rerun with CONVCHECK_UPDATE_SNAPSHOTS=1 if intended"


def test_snapshot_markdown_explanations():
    names = ("5x100x100-ten-5x5x5", "same-stride2-float32")
    specs = [s for s in load_specs(ROOT / "configs") if s.name in names]
    explanations = [explain(geometry(s)) for s in specs]
    for e in explanations:
        object.__setattr__(e.geometry.spec, "source", Path(e.geometry.spec.source).name)
    _snapshot("explain.md", render_markdown(explanations, full=True))


def test_snapshot_terminal_table():
    (spec,) = load_specs(ROOT / "configs" / "im2col_batch.yaml")
    object.__setattr__(spec, "source", "im2col_batch.yaml")
    console = Console(width=110, record=True, color_system=None, force_terminal=False)
    render_human([explain(geometry(spec))], console, full=False)
    _snapshot("shapes_im2col_batch.txt", console.export_text())
