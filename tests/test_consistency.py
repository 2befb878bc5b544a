"""A wrong forward never makes a wrong gradient read "pass": beside a failing forward every gradient
is judged against the true layer (finite differences through the built-in im2col), and each one
says whether it is the gradient of the plug-in's own forward."""

import json

import numpy as np
import pytest
from conftest import make_spec

from convcheck import verify
from convcheck.impls import Implementation, direct
from convcheck.report.json_report import result_dict

ROWS = 6
"""The student's forward leaves output rows ROWS.. at zero (issue 15's layer: 2 x 2 filter, padding 2, 6 x 6)."""
SPEC = make_spec(n=6, m=2, k=3, p=4, padding=2, batch=2)


def zero_rows_forward(x, w, b, *, stride, padding):
    y = direct.forward(x, w, b, stride=stride, padding=padding)
    y[:, :, ROWS:] = 0
    return y


def zero_rows_backward(dy, x, w, b, *, stride, padding):
    """The exact gradient of zero_rows_forward: dL/dY's rows ROWS.. never reach the inputs."""
    dy = dy.copy()
    dy[:, :, ROWS:] = 0
    return direct.backward(dy, x, w, b, stride=stride, padding=padding)


def flipped_forward(x, w, b, *, stride, padding):
    """A true convolution: the filter turned by 180 degrees."""
    return direct.forward(x, np.ascontiguousarray(w[:, :, ::-1, ::-1]), b, stride=stride, padding=padding)


def flipped_backward(dy, x, w, b, *, stride, padding):
    dx, dw, db = direct.backward(dy, x, np.ascontiguousarray(w[:, :, ::-1, ::-1]), b, stride=stride, padding=padding)
    return dx, dw[:, :, ::-1, ::-1], db


@pytest.mark.parametrize("method", ["full", "channels", "sample", "fast"])
def test_a_backward_right_only_for_a_wrong_forward_fails(method):
    result = verify(SPEC, Implementation("rows", zero_rows_forward, zero_rows_backward), method=method, samples=16)
    assert result.check("y").verdict == "FAIL" and result.through == "builtin"
    for name in ("dx", "dw", "db"):
        check = result.check(name)
        assert check.verdict == "FAIL", (method, name)
        assert check.own_forward.consistent is True
        note = check.own_forward.note
        assert "exact gradient of your forward" in note and "fix the forward" in note


@pytest.mark.parametrize("method", ["full", "channels", "sample", "fast"])
def test_a_right_backward_beside_a_wrong_forward_passes(method):
    result = verify(SPEC, Implementation("rows", zero_rows_forward, direct.backward), method=method, samples=16)
    assert not result.passed and result.check("y").verdict == "FAIL"
    for name in ("dx", "dw", "db"):
        check = result.check(name)
        assert check.verdict == "pass", (method, name, check.message)
        assert check.own_forward.consistent is False
        assert "right for this layer but not the gradient of your forward" in check.own_forward.note


def test_a_flipped_forward_and_its_backward_are_told_to_flip_together():
    result = verify(make_spec(n=7, m=3), Implementation("flip", flipped_forward, flipped_backward), method="full")
    assert result.check("y").diagnosis.mistake == "forward-flipped"
    dx = result.check("dx")
    assert dx.verdict == "FAIL" and dx.own_forward.consistent
    assert dx.own_forward.note == ("dL/dX is the exact gradient of your forward, which turns the filter by 180°, but "
                                   "not of this layer: fix the forward, and flip the backward with it")
    db = result.check("db")                       # the bias does not care about the flip
    assert db.verdict == "pass" and db.own_forward.consistent and "does not reach it" in db.own_forward.note


def test_differences_go_through_the_builtin_unless_asked_and_never_through_a_failing_forward():
    result = verify(SPEC, "direct", method="full")
    assert result.passed and result.through == "builtin"
    assert all(c.own_forward is None for c in result.checks)
    own = verify(SPEC, "direct", method="full", through="implementation")
    assert own.passed and own.through == "implementation"
    failing = verify(SPEC, Implementation("rows", zero_rows_forward, direct.backward), method="full",
                     through="implementation")
    assert failing.check("y").verdict == "FAIL" and failing.through == "builtin"
    with pytest.raises(ValueError, match="--through yours: unknown; valid: builtin, implementation"):
        verify(SPEC, "direct", through="yours")


def test_the_json_names_the_forward_and_each_gradients_relation_to_it():
    result = verify(SPEC, Implementation("rows", zero_rows_forward, zero_rows_backward), method="full")
    data = json.loads(json.dumps(result_dict(result)))
    assert data["finite_differences_through"] == "builtin"
    assert data["tensors"]["y"]["own_forward"] is None
    assert data["tensors"]["dw"]["own_forward"]["consistent"] is True
    assert data["tensors"]["dw"]["own_forward"]["note"].startswith("dL/dF is the exact gradient of your forward")
    passing = json.loads(json.dumps(result_dict(verify(SPEC, "direct", method="full", through="implementation"))))
    assert passing["finite_differences_through"] == "implementation"
    assert all(t["own_forward"] is None for t in passing["tensors"].values())


def _raising_forward(x, w, b, *, stride, padding):
    raise ValueError("cannot reshape array of size 96 into shape (2,4,8,8)")


def test_a_forward_that_raises_is_said_once_and_the_gradients_are_not_checked():
    def backward(dy, x, w, b, *, stride, padding):           # a backward that re-runs the forward, as caches do
        _raising_forward(x, w, b, stride=stride, padding=padding)
    result = verify(SPEC, Implementation("raises", _raising_forward, backward), method="full")
    y = result.check("y")
    assert y.verdict == "FAIL" and y.message.startswith("forward raised ValueError: cannot reshape")
    for name in ("dx", "dw", "db"):
        check = result.check(name)
        assert check.verdict == "not checked" and check.message == "not checked: the forward raised"
        assert check.diagnosis is None
    assert not result.passed
    assert result_dict(result)["tensors"]["dx"]["verdict"] == "not checked"


def test_a_backward_that_raises_otherwise_says_its_own_error_too():
    def backward(dy, x, w, b, *, stride, padding):
        raise IndexError("index 9 is out of bounds")
    check = verify(SPEC, Implementation("raises", _raising_forward, backward)).check("dx")
    assert check.verdict == "not checked"
    assert check.message == "not checked: the forward raised (the backward raised IndexError: index 9 is out of " \
                            "bounds (test_consistency.py:122 in backward))"     # a function's own file: named too


def test_a_working_backward_beside_a_raising_forward_is_still_judged_against_the_layer():
    result = verify(SPEC, Implementation("raises", _raising_forward, direct.backward), method="full")
    for name in ("dx", "dw", "db"):
        check = result.check(name)
        assert check.verdict == "pass" and check.own_forward.consistent is None
        assert "your forward raised" in check.own_forward.note


def test_the_table_explains_the_verdicts_beside_a_failing_forward():
    from rich.console import Console

    from convcheck.report.table import JUDGED, render_result
    console = Console(record=True, width=200, color_system=None)
    render_result(verify(SPEC, Implementation("rows", zero_rows_forward, zero_rows_backward), method="full"), console)
    text = console.export_text()
    assert JUDGED in text
    assert "your forward: dL/dF is the exact gradient of your forward, but not of this layer" in text
