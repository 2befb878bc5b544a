"""Diagnosis: every mistake id comes out of a deliberately wrong implementation, in the table
and the JSON, and no correct implementation is ever diagnosed."""

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import make_spec, specs
from hypothesis import HealthCheck, given, settings
from wrong import WRONG

from convcheck import geometry, verify
from convcheck.diagnose import MISTAKES, diagnose
from convcheck.impls import Implementation, direct, im2col, reference
from convcheck.operands import search
from convcheck.prepare import prepare

COURSE = Path(__file__).parent / "course" / "mistakes"


def with_backward(change):
    """direct's forward and a backward whose (dx, dw, db) go through `change`."""
    def backward(dy, x, w, b, *, stride, padding):
        return change(*direct.backward(dy, x, w, b, stride=stride, padding=padding), x=x, w=w, dy=dy)
    return Implementation("wrong", direct.forward, backward)


def _wrong(key):
    impl, fields, tensor = WRONG[key]
    return Implementation(key, impl.forward, impl.backward), fields, tensor


CASES = {  # mistake id -> (implementation, spec fields, tensor that must be diagnosed)
    "filter-not-rotated": _wrong("no_rotation"),
    "stride-ignored": _wrong("stride_ignored"),
    "padding-crop": _wrong("padding_crop"),
    "forward-flipped": _wrong("flipped_forward"),
    "bias-mean": _wrong("db_mean"),
    "batch-partial": _wrong("dw_first_sample"),
    "batch-mean": (with_backward(lambda dx, dw, db, x, **_: (dx, dw / x.shape[0], db)), {}, "dw"),
    "height-width-swapped": (with_backward(lambda dx, dw, db, **_: (dx.swapaxes(2, 3).copy(), dw, db)), {}, "dx"),
    "kernel-transposed": (with_backward(lambda dx, dw, db, **_: (dx, dw.swapaxes(2, 3).copy(), db)), {}, "dw"),
    "filter-gradient-rotated": (with_backward(lambda dx, dw, db, **_: (dx, dw[:, :, ::-1, ::-1].copy(), db)), {},
                                "dw"),
    "filters-averaged": (with_backward(lambda dx, dw, db, w, **_: (dx / w.shape[0], dw, db)), {"p": 4}, "dx"),
    "zero-gradient": (with_backward(lambda dx, dw, db, **_: (dx, np.zeros_like(dw), db)), {}, "dw"),
    "scaled": (with_backward(lambda dx, dw, db, **_: (dx * 0.3, dw, db)), {}, "dx"),
    # what the code did (operands.py, shrink.py, the error): course-style plug-ins, tests/course/mistakes
    "rearranged": (with_backward(lambda dx, dw, db, **_: (dx, dw.transpose(1, 0, 2, 3).reshape(dw.shape), db)),
                   {"k": 3, "p": 3}, "dw"),
    "wrong-operand": (f"cs231n:{COURSE}/scrambled_filter.py", {"p": 4}, "dx"),
    "loop-bounds": (f"cs231n:{COURSE}/early_stop.py", {"padding": 2}, "dx"),
    "padding-hard-coded": (f"cs231n:{COURSE}/hardcoded_padding.py", {"padding": 2}, "dw"),
    "python2-division": (f"cs231n:{COURSE}/python2_division.py", {}, "y"),
    "python2-builtin": (f"cs231n:{COURSE}/python2_xrange.py", {}, "dx"),
}
DID = ("wrong-operand", "rearranged", "loop-bounds", "padding-hard-coded", "python2-division", "python2-builtin")
"""Ids that say what the code did: their explanations give the code's fix, not a derivation step."""


def test_every_mistake_id_has_a_case():
    """Here, or among test_transposed's planted mistakes (which need a transposed layer), or
    test_second's (order 2's)."""
    from test_second import MISTAKES as SECOND
    from test_transposed import MISTAKES as TRANSPOSED
    assert sorted({*CASES, *(mistake for _, _, mistake in TRANSPOSED.values()), *SECOND}) == sorted(MISTAKES)


@pytest.mark.parametrize("mistake", sorted(CASES))
def test_each_mistake_is_named_in_the_table_and_the_json(mistake):
    impl, fields, tensor = CASES[mistake]
    spec = make_spec(**{"n": (8, 8), "m": (3, 3), "k": 3, "p": 3, "batch": 2, **fields})
    result = verify(spec, impl, method="full")
    check = result.check(tensor)
    assert not check.passed and check.diagnosis.mistake == mistake, check.diagnosis
    assert "`convcheck shapes --explain`" in check.diagnosis.explanation or mistake in (
        "height-width-swapped", "zero-gradient", "scaled", *DID)
    from convcheck.report.json_report import result_dict
    data = json.loads(json.dumps(result_dict(result)))
    assert data["tensors"][tensor]["diagnosis"]["mistake"] == mistake
    assert all(t["diagnosis"] is None for t in data["tensors"].values() if t["verdict"] == "pass")


def test_the_scaled_diagnosis_says_the_factor():
    impl, fields, tensor = CASES["scaled"]
    check = verify(make_spec(n=8, m=3, k=3, p=3), impl, method="full").check(tensor)
    assert "times 0.3" in check.diagnosis.explanation


def test_an_empty_crop_at_padding_0_is_padding_crop():
    def backward(dy, x, w, b, *, stride, padding):
        dx, dw, db = direct.backward(dy, x, w, b, stride=stride, padding=padding)
        p = padding[0]
        return dx[:, :, p:-p, p:-p], dw, db                 # the classic: empty when p = 0
    check = verify(make_spec(n=8, m=3), Implementation("crop", direct.forward, backward)).check("dx")
    assert check.diagnosis.mistake == "padding-crop" and "p = 0" in check.diagnosis.explanation


def test_an_unknown_mistake_names_none():
    def backward(dy, x, w, b, *, stride, padding):
        dx, dw, db = direct.backward(dy, x, w, b, stride=stride, padding=padding)
        dx = dx.copy()
        dx[0, 0, 3, 3] += 5.0
        return dx, dw, db
    check = verify(make_spec(n=8, m=3), Implementation("spot", direct.forward, backward), method="full").check("dx")
    assert not check.passed and check.diagnosis.mistake is None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(specs(conv=True))
def test_correct_implementations_are_never_diagnosed(spec):
    """Right arrays from the built-ins and the loop reference: diagnose names no mistake."""
    geom = geometry(spec)
    shapes = geom.shapes
    rng = np.random.default_rng(spec.seed)
    data = {t: None if shapes[s] is None else rng.standard_normal(shapes[s]) for t, s in
            (("x", "x"), ("w", "w"), ("b", "b"), ("g", "y"))}
    kwargs = {"stride": spec.stride, "padding": geom.padding, "dilation": spec.dilation, "groups": spec.groups}
    rtol, atol = 1e-6, 1e-8
    assert diagnose("y", reference.forward(data["x"], data["w"], data["b"], **kwargs), data, geom, rtol, atol).mistake \
        is None
    for impl in (direct, im2col):
        for name, value in zip(("dx", "dw", "db"), impl.backward(data["g"], data["x"], data["w"], data["b"], **kwargs)):
            if value is not None:
                assert diagnose(name, value, data, geom, rtol, atol).mistake is None, (impl, name, spec)
    layer = prepare(spec, "direct", "numpy", None, None)           # and no operand is named for a right array
    drawn = layer.data
    right = dict(zip(("dx", "dw"), im2col.backward(drawn["y"], drawn["x"], drawn["w"], drawn["b"], **layer.kwargs)))
    right["y"] = reference.forward(drawn["x"], drawn["w"], drawn["b"], **layer.kwargs)
    for name, value in right.items():
        assert search(name, value, layer, drawn, rtol, atol) is None, (name, spec)


def test_the_terminal_heatmap_shows_where_the_error_is():
    from convcheck.report.table import heatmap_lines
    error = np.zeros((6, 6))
    error[0, 5] = 3.0                                    # one corner: an off-by-one
    lines = heatmap_lines("dx", error)
    assert "█ = 3" in lines[0] and "rows × columns" in lines[0]
    assert lines[2] == "│" + "  " * 5 + "██│" and all(set(line[1:-1]) == {" "} for line in lines[3:-1])
    big = heatmap_lines("dw", np.arange(100 * 90, dtype=float).reshape(100, 90))
    assert "5 × 3 blocks" in big[0] and len(big) == 20 + 3      # pooled to fit a terminal


def test_a_failing_layer_shows_its_heatmap_and_writes_its_png(tmp_path):
    from typer.testing import CliRunner

    from convcheck.cli import app
    plugin = tmp_path / "crop.py"
    plugin.write_text("from naive_loops import forward\nfrom wrong import padding_crop_backward as backward\n")
    spec = tmp_path / "layer.yaml"
    spec.write_text("name: padded\nn: 8\nm: 3\nk: 2\np: 2\npadding: [1, 1, 2, 2]\nstride: 1\n")
    result = CliRunner().invoke(app, ["verify", str(spec), "--impl", str(plugin), "--plot", str(tmp_path / "plots")])
    assert result.exit_code == 1
    assert "diagnosis: padding-crop" in result.stdout and "|analytic − numerical| of dL/dX" in result.stdout
    pytest.importorskip("matplotlib")
    png = tmp_path / "plots" / "padded_dx.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_is_one_line(monkeypatch, tmp_path):
    import importlib.util

    from typer.testing import CliRunner

    from convcheck.cli import app
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    from pathlib import Path
    configs = Path(__file__).parent.parent / "configs" / "valid_square.yaml"
    result = CliRunner().invoke(app, ["verify", str(configs), "--plot", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr == "convcheck: error: --plot needs matplotlib: pip install 'convcheck[plot]'\n"


def _batch(change):
    """direct's forward; a backward that computes (dx, dw, db) = change(dy, x, w, b, backward)."""
    def backward(dy, x, w, b, *, stride, padding):
        def grads(dy=dy, x=x):
            return direct.backward(np.ascontiguousarray(dy), np.ascontiguousarray(x), w, b, stride=stride,
                                   padding=padding)
        return change(dy, x, grads)
    return Implementation("batch", direct.forward, backward)


def _one(a, i=0):
    return np.broadcast_to(a[[i]], a.shape)


BATCH_MISTAKES = {  # what people write -> (tensor, mistake id)
    "dF from sample 0's input for all (x[:1] broadcast)": (lambda dy, x, g: (g()[0], g(x=_one(x))[1], g()[2]), "dw"),
    "dF from the last sample's input for all": (lambda dy, x, g: (g()[0], g(x=_one(x, -1))[1], g()[2]), "dw"),
    "dF from sample 0's dL/dY for all": (lambda dy, x, g: (g()[0], g(dy=_one(dy))[1], g()[2]), "dw"),
    "dX from sample 0's dL/dY for all": (lambda dy, x, g: (g(dy=_one(dy))[0], g()[1], g()[2]), "dx"),
    "db from sample 0's dL/dY for all": (lambda dy, x, g: (g()[0], g()[1], g(dy=_one(dy))[2]), "db"),
    "dF without the last sample": (lambda dy, x, g: (g()[0], g(dy=dy[:-1], x=x[:-1])[1], g()[2]), "dw"),
    "dF from samples 0 and 2 summed": (
        lambda dy, x, g: (g()[0], g(dy=dy[[0, 2]], x=x[[0, 2]])[1], g()[2]), "dw"),
    "db from samples 1 and 3 summed": (lambda dy, x, g: (g()[0], g()[1], g(dy=dy[[1, 3]], x=x[[1, 3]])[2]), "db"),
    "dX left at zero for sample 1": (lambda dy, x, g: (g()[0] * np.array([1, 0, 1, 1])[:, None, None, None], g()[1],
                                                      g()[2]), "dx"),
}


@pytest.mark.parametrize("what", sorted(BATCH_MISTAKES))
def test_every_batch_mistake_is_batch_partial(what):
    change, tensor = BATCH_MISTAKES[what]
    spec = make_spec(n=(7, 6), m=(3, 2), k=2, p=3, batch=4, stride=(2, 1), padding=(1, 0, 1, 1))
    check = verify(spec, _batch(change), method="full").check(tensor)
    assert not check.passed and check.diagnosis.mistake == "batch-partial", (what, check.diagnosis)


def test_the_batch_partial_diagnosis_names_the_samples():
    change, tensor = BATCH_MISTAKES["dF from samples 0 and 2 summed"]
    spec = make_spec(n=7, m=3, batch=4)
    explanation = verify(spec, _batch(change), method="full").check(tensor).diagnosis.explanation
    assert "uses only samples 0, 2 of the 4" in explanation and "leaves out samples 1, 3" in explanation
    change, tensor = BATCH_MISTAKES["dF from sample 0's input for all (x[:1] broadcast)"]
    explanation = verify(spec, _batch(change), method="full").check(tensor).diagnosis.explanation
    assert "sample 0's input X[0] for every sample" in explanation


@pytest.mark.parametrize("tensor, mistake", [("dw", "batch-mean"), ("dx", "batch-mean"), ("db", "bias-mean")])
def test_a_gradient_averaged_over_the_batch_is_named(tensor, mistake):
    index = ("dx", "dw", "db").index(tensor)

    def change(dy, x, g):
        grads = list(g())
        grads[index] = grads[index] / x.shape[0]
        return tuple(grads)
    check = verify(make_spec(n=7, m=3, p=2, batch=3), _batch(change), method="full").check(tensor)
    assert check.diagnosis.mistake == mistake and "3" in check.diagnosis.explanation
