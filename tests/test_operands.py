"""What a wrong gradient computed: the right formula on another operand, found by a least-squares
solve and described against the real one; the NumPy expression given makes that operand, no
description is given that does not fit (right arrays: test_diagnose's hypothesis test)."""

import numpy as np
import pytest
from conftest import make_spec

from convcheck import verify
from convcheck.impls import Implementation, direct
from convcheck.operands import SYMBOL
from convcheck.prepare import prepare


def planted(tensor: str, operand: str, change):
    """direct's forward and a backward whose `tensor` is computed with `change(operand)`."""
    def backward(dy, x, w, b, **kwargs):
        right = direct.backward(dy, x, w, b, **kwargs)
        ops = {"x": x, "w": w, "dy": dy}
        ops[SYMBOL[operand]] = change(ops[SYMBOL[operand]])
        wrong = direct.backward(ops["dy"], ops["x"], ops["w"], b, **kwargs)
        index = ("dx", "dw").index(tensor)
        return tuple(wrong[i] if i == index else right[i] for i in range(3))
    return Implementation(f"{tensor}-{operand}", direct.forward, backward)


CASES = {  # name -> (tensor, operand, change, relation, spec fields)
    "filter flipped along H": ("dx", "w", lambda w: w[:, :, ::-1], "flipped", {}),
    "filters in reverse order": ("dx", "w", lambda w: w[::-1], "flipped", {"p": 3}),
    "filter's axes exchanged": ("dx", "w", lambda w: w.swapaxes(2, 3), "axes-exchanged", {}),
    "filter reshaped from its transposed matrix": ("dx", "w", lambda w: w.reshape(w.shape[0], -1).T.reshape(w.shape),
                                                   "reshaped", {"p": 3}),
    "filter's last row zeroed": ("dx", "w", lambda w: np.concatenate([w[:, :, :-1], 0 * w[:, :, -1:]], axis=2),
                                 "zeroed", {}),
    "dL/dY transposed": ("dx", "g", lambda g: g.swapaxes(2, 3), "axes-exchanged", {}),
    "filter 0 for every filter": ("dx", "w", lambda w: np.repeat(w[:1], w.shape[0], axis=0), "one-index",
                                  {"p": 3}),
    "X transposed": ("dw", "x", lambda x: x.swapaxes(2, 3), "axes-exchanged", {}),
    "X shifted by one row": ("dw", "x", lambda x: np.pad(x, ((0, 0), (0, 0), (1, 0), (0, 0)))[:, :, :-1], "shifted",
                             {}),
    "1-D dL/dY reversed": ("dx", "g", lambda g: g[:, :, ::-1], "flipped", {"n": (9,), "m": (3,)}),
    "3-D filter's D and W exchanged": ("dx", "w", lambda w: w.swapaxes(2, 4), "axes-exchanged",
                                       {"n": (4, 4, 4), "m": (2, 2, 2), "k": 1, "p": 2}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_operand_a_wrong_gradient_used_is_found_and_described(case):
    tensor, operand, change, relation, fields = CASES[case]
    spec = make_spec(len(fields.get("n", (6, 6))), **{"n": (6, 6), "m": (3, 3), "k": 2, "p": 2, "batch": 2,
                                                       **fields})
    impl = planted(tensor, operand, change)
    result = verify(spec, impl, method="full")
    diagnosis = result.check(tensor).diagnosis
    assert diagnosis.mistake in ("wrong-operand", "padding-hard-coded"), (case, diagnosis)
    assert diagnosis.operand == operand and relation in diagnosis.relation, (case, diagnosis)
    assert "is the right formula" in diagnosis.explanation
    if diagnosis.expression:                                  # the expression makes the operand from the right one
        layer = prepare(result.spec, impl, "numpy", None, None)
        ops = {"x": layer.data["x"], "w": layer.data["w"], "dy": layer.data["y"]}
        name = SYMBOL[operand]
        scope = {"np": np, **{key: value.copy() for key, value in ops.items()}}
        if " = 0" in diagnosis.expression:
            exec(diagnosis.expression, scope)
            made = scope[name]
        else:
            made = eval(diagnosis.expression, scope)
        np.testing.assert_array_equal(made, change(ops[name]))


def test_an_operand_not_made_of_the_right_ones_entries_is_said_so():
    rng = np.random.default_rng(5)
    impl = planted("dx", "w", lambda w: w + rng.standard_normal(w.shape) * 0 + np.arange(w.size).reshape(w.shape))
    result = verify(make_spec(n=(6, 6), m=(3, 3), k=2, p=2), impl, method="full")
    diagnosis = result.smallest.diagnoses["dx"]                # said on the smallest layer, where it was solved
    assert diagnosis.mistake == "wrong-operand" and diagnosis.relation == "other"
    assert "not even a rearrangement" in diagnosis.explanation
    assert result.check("dx").diagnosis.mistake is None          # its numbers hold there only: not carried


def test_a_mistake_no_operand_explains_names_none():
    """A spot error, not linear in G: no operand fits at rounding level, so nothing is said."""
    def backward(dy, x, w, b, **kwargs):
        dx, dw, db = direct.backward(dy, x, w, b, **kwargs)
        dx = dx.copy()
        dx[0, 0, 3, 3] += 5.0
        return dx, dw, db
    result = verify(make_spec(n=(8, 8), m=(3, 3)), Implementation("spot", direct.forward, backward), method="full")
    assert result.check("dx").diagnosis.mistake is None
    assert all(d.mistake is None for d in result.smallest.diagnoses.values())


@pytest.mark.parametrize("key", ["dw_unpadded", "padding_crop"])
def test_an_input_padded_by_other_amounts_is_said_with_its_padding(key):
    """dL/dF from X padded (0, top + bottom) where the layer pads (top, bottom): the padded input
    X_pad solved for, X found placed at 0 instead of at `top`."""
    from wrong import WRONG
    wrong, fields, _ = WRONG[key]
    impl = Implementation(key, wrong.forward, wrong.backward)
    spec = make_spec(**{"n": (8, 8), "m": (3, 3), "k": 3, "p": 3, "batch": 2, "padding": (1, 1, 1, 1), **fields})
    result = verify(spec, impl, method="full")
    diagnosis = result.check("dw").diagnosis
    assert (diagnosis.mistake, diagnosis.operand, diagnosis.relation) == ("wrong-operand", "xpad", "padded")
    layer = prepare(result.spec, impl, "numpy", None, None)
    data = layer.data
    padded = eval(diagnosis.expression, {"np": np, "x": data["x"]})
    top, bottom, left, right = spec.padding
    assert padded.shape[2:] == (8 + top + bottom, 8 + left + right)
    expected = direct.backward(data["y"], padded, data["w"], data["b"], stride=spec.stride, padding=(0, 0, 0, 0))[1]
    np.testing.assert_allclose(wrong.backward(data["y"], data["x"], data["w"], data["b"], stride=spec.stride,
                                              padding=spec.padding)[1], expected, rtol=1e-10, atol=1e-12)


def test_right_values_in_the_wrong_places_are_rearranged():
    def backward(dy, x, w, b, **kwargs):
        dx, dw, db = direct.backward(dy, x, w, b, **kwargs)
        return dx, dw.transpose(1, 0, 2, 3).reshape(dw.shape), db
    impl = Implementation("rearranged", direct.forward, backward)
    diagnosis = verify(make_spec(n=(7, 7), m=(3, 3), k=2, p=3), impl, method="full").check("dw").diagnosis
    assert diagnosis.mistake == "rearranged" and diagnosis.relation == "reshaped"
    assert diagnosis.expression == "dw.transpose(1, 0, 2, 3).reshape(dw.shape)"
