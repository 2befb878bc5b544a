"""Order 2 (second.py): the gradients of a torch op's own backward against finite differences of
that backward, every coordinate under `full`, on every kind of layer; right ops pass, planted
wrong double backwards fail with their diagnosis, ops whose backward leaves autograd get the
not-twice-differentiable verdict; the same verdict from the command line, the API and pytest."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import make_spec, specs
from hypothesis import HealthCheck, given, settings

from convcheck import second
from convcheck.checker import verify
from convcheck.errors import ConvcheckError
from convcheck.options import checked
from convcheck.prepare import prepare

torch_ops = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs PyTorch (convcheck[torch])")

PLUGINS = Path(__file__).parent / "plugins"
COURSE = Path(__file__).parent / "course"
CONV = f"torch:{PLUGINS / 'torch_conv.py'}:conv"
OPS = COURSE / "torch_ops.py"
SECOND = ("d2x", "d2w", "d2b", "d2g")
MISTAKES = ("not-twice-differentiable",)
"""The diagnosis ids only order 2 names (test_a_backward_autograd_cannot_differentiate_... and the JAX one)."""

LAYERS = [
    make_spec(2, n=7, m=3, k=3, p=4, padding=1),
    make_spec(2, n=(8, 7), m=(3, 2), k=4, p=2, stride=2, padding=(2, 0, 1, 1), groups=2),
    make_spec(1, n=15, m=3, k=2, p=4, stride=2, padding=(2, 1), dilation=2, groups=2),
    make_spec(3, n=(4, 5, 4), m=2, k=2, p=2, padding=(1, 0, 0, 1, 1, 1), stride=(1, 2, 1)),
    make_spec(2, n=(4, 5), m=3, k=4, p=2, stride=2, padding=1, transposed=True, output_padding=(1, 0), groups=2),
    make_spec(1, n=6, m=3, k=2, p=3, stride=3, padding=(1, 2), dilation=2, transposed=True, bias=False),
]


@torch_ops
@pytest.mark.parametrize("spec", LAYERS, ids=lambda s: f"{len(s.n)}d{'-transposed' * s.transposed}")
def test_torch_ops_own_double_backward_passes_at_every_coordinate(spec):
    result = verify(spec, CONV, method="full", order=2)
    assert result.passed, [c.message for c in result.checks if not c.passed]
    names = [c.name for c in result.checks]
    assert names == ["y", "dx", "dw", "db", *SECOND]
    for check in result.checks[4:]:
        if check.skipped:
            assert check.name == "d2b" and not spec.bias
            continue
        assert check.coverage.every and check.checked == check.total > 0


def _point(spec, impl="im2col"):
    """(second.Point at the spec's seeded point, the layer): the built-in im2col's backward as the
    black box (any backward will do: these tests are about the sets, not about autograd)."""
    layer = prepare(checked(spec), impl, "numpy", None, None)
    u = second.upstream({t: layer.geom.shapes[t] for t in ("x", "w", "b")}, layer.seed, np)
    return second.Point(layer.impl, {t: layer.cast[t] for t in ("x", "w", "b", "y")}, u, layer.kwargs), layer


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs(conv=True, dims=None, transposed=None))
def test_the_coloured_sets_give_each_coordinate_its_own_difference(spec):
    """`full`'s sets (many coordinates per call of the backward, each read off the outputs it
    alone reaches) equal each coordinate perturbed alone with every output read: the colouring
    of the module docstring holds on random layers, transposed, grouped, dilated, 1-D to 3-D."""
    pt, _ = _point(spec)
    coloured = second.full(pt)
    for t in ("x", "w", "b", "y"):
        if pt.cast[t] is None:
            continue
        alone = second.sampled(pt, t, range(pt.cast[t].size)).reshape(pt.cast[t].shape)
        np.testing.assert_allclose(coloured[t], alone, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("spec", [make_spec(2, n=9, m=3, k=2, p=5, stride=2, padding=1),
                                  make_spec(2, n=5, m=3, k=4, p=2, stride=2, transposed=True, groups=2)])
def test_full_makes_as_many_calls_as_it_prices(spec):
    pt, layer = _point(spec)
    second.full(pt)
    assert pt.calls == second.full_calls({t: layer.geom.shapes[t] for t in ("x", "w", "b", "y")}, layer.geom)


@torch_ops
@pytest.mark.parametrize("op", ["Conv2dOp", "TwiceConv2dOp", "UnrotatedOp"])
def test_ops_whose_backward_is_differentiable_pass_order_two(op):
    """UnrotatedOp's backward is wrong (order 1 fails) yet differentiable: its double backward
    is that backward's derivative, and order 2 says so."""
    result = verify(make_spec(2, n=7, m=3, k=3, p=4, padding=1), f"torch:{OPS}:{op}", method="full", order=2,
                    shrink=False)
    assert all(result.check(name).passed for name in SECOND)
    assert result.check("dx").passed == (op != "UnrotatedOp")


@torch_ops
def test_a_planted_wrong_double_backward_fails_with_its_diagnosis():
    result = verify(make_spec(2, n=7, m=3, k=3, p=4, padding=1), f"torch:{OPS}:NoFilterTwiceConv2dOp",
                    method="full", order=2, shrink=False)
    assert [c.name for c in result.checks if not c.passed] == ["d2w"]
    check = result.check("d2w")
    assert check.coverage.every and check.diagnosis.mistake == "zero-gradient"


@torch_ops
def test_a_course_function_that_saves_its_columns_drops_the_input_from_its_double_backward():
    """CourseConv2DFunction saves unfold(x), made without a graph, and builds dL/dF from it: its
    backward is right, but a gradient penalty on dL/dF would never reach X."""
    result = verify(make_spec(2, n=7, m=3, k=3, p=4, padding=1), f"torch:{OPS}:CourseConv2DFunction",
                    method="full", order=2, shrink=False)
    assert [c.name for c in result.checks if not c.passed] == ["d2x"]
    assert result.check("d2x").diagnosis.mistake == "zero-gradient"


@torch_ops
def test_autograd_that_differs_from_the_backward_it_differentiates_fails(tmp_path):
    """A backward whose values are right everywhere but whose graph carries a term the values do
    not (x - x.detach(): zero, with gradient one): autograd's dL2/dX has it, the differences of
    the backward do not."""
    ops = tmp_path / "hidden.py"
    ops.write_text(OPS.read_text() + "\n\nclass HiddenTermOp(Conv2dOp):\n"
                   "    @staticmethod\n"
                   "    def backward(ctx, dy):\n"
                   "        dx, dw, *rest = Conv2dOp.backward(ctx, dy)\n"
                   "        x, _ = ctx.saved_tensors\n"
                   "        return (dx + dx * (x - x.detach()), dw, *rest)\n")
    result = verify(make_spec(2, n=6, m=3, k=2, p=3), f"torch:{ops}:HiddenTermOp", method="full", order=2,
                    shrink=False)
    assert result.check("dx").passed and result.check("dw").passed
    assert not result.check("d2x").passed


@torch_ops
@pytest.mark.parametrize("op, why", [("OnceConv2dOp", "@once_differentiable"), ("DetachedConv2dOp", "dL/dF outside")])
def test_a_backward_autograd_cannot_differentiate_is_not_twice_differentiable(op, why):
    result = verify(make_spec(2, n=6, m=3, k=2, p=3), f"torch:{OPS}:{op}", method="full", order=2, shrink=False)
    assert result.check("dx").passed and result.check("dw").passed
    for name in SECOND:
        check = result.check(name)
        assert not check.passed and check.message.startswith("not twice differentiable")
        assert check.diagnosis.mistake == "not-twice-differentiable" and why in check.diagnosis.explanation


@torch_ops
@pytest.mark.parametrize("method", ["sample", "fast"])
def test_sample_and_fast_pass_right_ops_and_catch_the_planted_one(method):
    spec = make_spec(2, n=7, m=3, k=3, p=4, padding=1)
    right = verify(spec, f"torch:{OPS}:TwiceConv2dOp", method=method, order=2, samples=16)
    wrong = verify(spec, f"torch:{OPS}:NoFilterTwiceConv2dOp", method=method, order=2, samples=16, shrink=False)
    assert right.passed and right.partial
    assert [c.name for c in wrong.checks if not c.passed] == ["d2w"]
    coverage = right.check("d2x").coverage
    assert coverage.projections == 2 and coverage.sampled == (16 if method == "sample" else 0)
    assert right.check("d2b").coverage.every


@torch_ops
def test_auto_runs_full_within_the_budget_and_samples_past_it():
    spec = make_spec(2, n=7, m=3, k=3, p=4, padding=1)
    assert verify(spec, CONV, order=2, budget=float("inf")).check("d2x").coverage.every
    assert verify(spec, CONV, order=2, budget=1e-9, samples=8).check("d2x").coverage.sampled == 8
    assert verify(spec, CONV, order=2, budget=1e-9).check("d2x").coverage.every      # 64 samples each: dearer


@torch_ops
def test_rerun_promises_the_same_coverage_only_where_one_method_ran_both_orders():
    spec = make_spec(2, n=16, m=3, k=3, p=4)
    assert verify(spec, CONV, order=2, method="full").rerun == {"method": "full", "order": 2}
    assert verify(spec, CONV, order=2, method="sample", samples=8).rerun == {"method": "sample", "samples": 8,
                                                                             "order": 2}
    mixed = verify(spec, CONV, order=2, budget=1e-9)                        # order 1 channels, order 2 sample
    assert mixed.method != "sample" and mixed.check("d2x").coverage.sampled and mixed.rerun is None


@torch_ops
def test_order_two_is_refused_where_it_cannot_run():
    spec = make_spec(2)
    with pytest.raises(ConvcheckError, match="--order 2: direct has no double backward"):
        verify(spec, "direct", order=2)
    with pytest.raises(ConvcheckError, match="--order 3"):
        verify(spec, CONV, order=3)
    with pytest.raises(ConvcheckError, match="--method channels: order 2 has no channel sets"):
        verify(spec, CONV, order=2, method="channels")
    with pytest.raises(ConvcheckError, match="not --layout nhwc"):
        verify(spec, CONV, order=2, layout="nhwc")


@torch_ops
def test_the_smallest_failing_layer_keeps_order_two():
    result = verify(make_spec(2, n=7, m=3, k=3, p=4, padding=1), f"torch:{OPS}:NoFilterTwiceConv2dOp",
                    method="full", order=2)
    assert result.smallest is not None and result.smallest.failure == [["d2w", "zero-gradient"]]
    assert result.smallest.fields["k"] == 1 and result.smallest.fields["p"] == 1


@torch_ops
def test_the_command_line_the_api_and_pytest_give_one_verdict(tmp_path):
    spec = tmp_path / "layer.yaml"
    spec.write_text("name: penalty\nn: 7\nm: 3\nk: 3\np: 4\npadding: 1\nstride: 1\n")
    impl = f"torch:{OPS}:NoFilterTwiceConv2dOp"
    cli = subprocess.run([sys.executable, "-m", "convcheck", "verify", str(spec), "--impl", impl, "--order", "2",
                          "--method", "full", "--no-shrink", "--format", "json"], capture_output=True, text=True)
    assert cli.returncode == 1, cli.stderr
    report = json.loads(cli.stdout)["specs"][0]
    assert report["order"] == 2 and report["rerun"]["order"] == 2
    assert report["tensors"]["d2w"]["verdict"] == "FAIL"
    assert report["tensors"]["d2w"]["diagnosis"]["mistake"] == "zero-gradient"
    assert {name: t["verdict"] for name, t in report["tensors"].items()}["d2x"] == "pass"

    from convcheck import check
    sys.path.insert(0, str(COURSE))
    try:
        import torch_ops
    finally:
        sys.path.remove(str(COURSE))
    api = check(torch_ops.NoFilterTwiceConv2dOp, spec=str(spec), order=2, method="full", shrink=False)
    assert {c.name: c.verdict for c in api.checks} == {name: t["verdict"] for name, t in report["tensors"].items()}

    (tmp_path / "conftest.py").write_text("")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", str(spec),
                          f"--convcheck-impl={impl}", "--convcheck-order=2", "--convcheck-method=full",
                          "--convcheck-no-shrink", "-p", "no:cacheprovider"], capture_output=True, text=True,
                         cwd=tmp_path)
    assert run.returncode == 1 and "1 failed" in run.stdout and "dL2/dF" in run.stdout, run.stdout[-2000:]


jax_ops = pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="needs JAX (convcheck[jax])")
JAX_OPS = COURSE / "jax_ops.py"


@jax_ops
@pytest.mark.parametrize("spec", [LAYERS[0], LAYERS[1], LAYERS[2], LAYERS[3]], ids=["2d", "2d-groups", "1d", "3d"])
def test_a_jax_custom_vjp_passes_orders_one_and_two_at_every_coordinate(spec):
    result = verify(spec, f"jax:{JAX_OPS}:conv", method="full", order=2)
    assert result.passed, [c.message for c in result.checks if not c.passed]
    assert all(c.coverage.every for c in result.checks if c.name != "y")


@jax_ops
def test_a_jax_bwd_rule_that_stops_the_filter_gradient_fails_order_two_only():
    result = verify(LAYERS[0], f"jax:{JAX_OPS}:stopped_conv", method="full", order=2, shrink=False)
    assert [c.name for c in result.checks if not c.passed] == ["d2w"]
    assert result.check("d2w").diagnosis.mistake == "zero-gradient"
    assert verify(LAYERS[0], f"jax:{JAX_OPS}:stopped_conv", method="full").passed        # order 1 cannot see it


@jax_ops
def test_a_jax_bwd_rule_through_a_numpy_callback_is_not_twice_differentiable():
    result = verify(LAYERS[0], f"jax:{JAX_OPS}:callback_conv", method="full", order=2, shrink=False)
    assert result.check("dw").passed
    diagnosis = result.check("d2w").diagnosis
    assert diagnosis.mistake == "not-twice-differentiable" and "JAX cannot differentiate" in diagnosis.explanation


@jax_ops
def test_jax_functions_are_checked_at_order_one_and_skip_transposed_layers():
    result = verify(LAYERS[0], f"jax:{JAX_OPS}:flipped", method="full", shrink=False)
    assert result.check("y").diagnosis.mistake == "forward-flipped"
    skipped = verify(LAYERS[4], f"jax:{JAX_OPS}:conv", method="full", order=2)
    assert skipped.skipped.startswith("not expressible in this API")


@jax_ops
def test_a_jax_function_given_as_an_object_is_checked_in_this_process():
    sys.path.insert(0, str(COURSE))
    try:
        import jax_ops as module
    finally:
        sys.path.remove(str(COURSE))
    from convcheck import check
    result = check(module.stopped_conv, api="jax", spec=LAYERS[0], order=2, method="full", shrink=False)
    assert [c.name for c in result.checks if not c.passed] == ["d2w"]
    assert check(module.conv, spec=LAYERS[0], order=2, method="full").passed          # a custom_vjp: found by its type


def test_a_failing_second_order_gradient_is_named_against_its_differences():
    rng = np.random.default_rng(0)
    numeric = rng.standard_normal((2, 3, 4, 4))
    tol = (1e-6, 1e-8)
    assert second.diagnose("x", np.zeros_like(numeric), numeric, *tol).mistake == "zero-gradient"
    scaled = second.diagnose("y", 0.5 * numeric, numeric, *tol)
    assert scaled.mistake == "scaled" and "0.5 times" in scaled.explanation
    assert second.diagnose("w", numeric.swapaxes(-1, -2), numeric, *tol).mistake == "kernel-transposed"
    assert second.diagnose("x", numeric.swapaxes(-1, -2), numeric, *tol).mistake == "height-width-swapped"
    assert second.diagnose("w", numeric[..., ::-1, ::-1], numeric, *tol).mistake == "filter-gradient-rotated"
    assert second.diagnose("x", numeric + 1.0, numeric, *tol).mistake is None


@torch_ops
def test_a_double_backward_that_raises_fails_its_rows_with_the_line(tmp_path):
    ops = tmp_path / "raising.py"
    ops.write_text(OPS.read_text() + "\n\nclass _Raises(_Conv2dInput):\n"
                   "    @staticmethod\n"
                   "    def backward(ctx, ddx):\n"
                   "        raise RuntimeError('no double backward for this kernel yet')\n\n\n"
                   "class RaisingTwiceOp(TwiceConv2dOp):\n"
                   "    inner = _Raises\n")
    result = verify(make_spec(2, n=6, m=3, k=2, p=3), f"torch:{ops}:RaisingTwiceOp", method="full", order=2,
                    shrink=False)
    assert result.check("dx").passed
    for name in SECOND:
        message = result.check(name).message
        assert message.startswith("double backward raised RuntimeError") and "no double backward" in message


def test_the_command_line_refuses_what_order_two_cannot_check_in_one_line(tmp_path):
    spec = tmp_path / "layer.yaml"
    spec.write_text("n: 6\nm: 3\nk: 2\np: 3\npadding: 0\nstride: 1\n")
    for flags, says in ((["--impl", "direct", "--order", "2"], "--order 2: direct has no double backward"),
                        (["--order", "3"], "--order 3: must be 1"),
                        (["--order", "2", "--method", "channels"], "--method channels: order 2 has no channel sets")):
        done = subprocess.run([sys.executable, "-m", "convcheck", "verify", str(spec), *flags], capture_output=True,
                              text=True)
        assert done.returncode == 2 and says in done.stderr, (flags, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


@torch_ops
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_half_precision_double_backwards_pass_and_the_planted_one_fails(dtype):
    """Differences of the backward run in float64 (a bfloat16 backward differenced in bfloat16 is
    off by 25%), and order 2's rows take their dtype's measured tolerances."""
    if dtype == "bfloat16":
        pytest.importorskip("ml_dtypes")
    spec = make_spec(2, n=7, m=3, k=3, p=4, padding=1, dtype=dtype)
    right = verify(spec, f"torch:{OPS}:TwiceConv2dOp", method="full", order=2)
    assert right.passed, [c.message for c in right.checks if not c.passed]
    from convcheck.options import TOLERANCES, TOLERANCES_ORDER2
    assert right.order_tolerances == TOLERANCES_ORDER2.get(dtype, TOLERANCES[dtype])
    wrong = verify(spec, f"torch:{OPS}:NoFilterTwiceConv2dOp", method="full", order=2, shrink=False)
    assert [c.name for c in wrong.checks if not c.passed] == ["d2w"]


@torch_ops
def test_tolerances_given_apply_to_order_twos_rows_too():
    spec = make_spec(2, n=7, m=3, k=3, p=4, padding=1, dtype="bfloat16")
    pytest.importorskip("ml_dtypes")
    result = verify(spec, CONV, method="full", order=2, rtol=1e-6, atol=1e-6, shrink=False)
    assert result.order_tolerances == (1e-6, 1e-6) and not result.check("d2g").passed


@torch_ops
def test_plan_prices_order_two(tmp_path):
    """plan --order 2: the double backward once and the backward's calls, full's and auto's within
    the budget, added to each estimate; the same refusal as verify where there is no double backward."""
    from convcheck.checker import plan
    spec = make_spec(2, n=7, m=3, k=3, p=4, padding=1)
    planned = plan(spec, CONV, order=2, budget=float("inf"))
    order2 = planned.order2
    assert order2["method"] == "full" and order2["calls"] == order2["full_calls"] == second.full_calls(
        {t: planned.geometry.shapes[t] for t in ("x", "w", "b", "y")}, planned.geometry)
    assert planned.estimate(planned.full) > planned.full.seconds + planned.overhead + order2["full_seconds"] - 1e-9
    small = plan(spec, CONV, order=2, budget=1e-9).order2                 # sampling 64 each would cost more
    assert small["method"] == "full"
    tight = plan(make_spec(2, n=16, m=3, k=3, p=4), CONV, order=2, budget=1e-9).order2
    assert tight["method"] == "sample" and tight["calls"] < tight["full_calls"]
    assert plan(spec, CONV).order2 is None
    with pytest.raises(ConvcheckError, match="--order 2: direct has no double backward"):
        plan(spec, "direct", order=2)
    layer = tmp_path / "layer.yaml"
    layer.write_text("n: 7\nm: 3\nk: 3\np: 4\npadding: 1\nstride: 1\n")
    done = subprocess.run([sys.executable, "-m", "convcheck", "plan", str(layer), "--impl", CONV, "--order", "2",
                           "--format", "json"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["plans"][0]["order2"]["full_calls"] == order2["full_calls"]
