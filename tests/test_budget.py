"""Budgets users can plan with: costs said before a run (budget.py, `convcheck plan`), the
over-budget line said before finite differences start, and the overrun said in the report."""

import json
import re

import pytest
from conftest import make_spec
from typer.testing import CliRunner

from convcheck import geometry, verify
from convcheck.checker import plan
from convcheck.cli import app
from convcheck.methods import cost as budget

runner = CliRunner()
SLOW = "import time\nfrom convcheck.impls.direct import forward as _forward, backward\n\n" \
       "def forward(x, w, b, **kwargs):  # 10 ms a whole-layer forward (batch 1, 2 filters), as a real layer costs\n" \
       "    time.sleep(0.01 * x.shape[0] * w.shape[0] / 2)\n    return _forward(x, w, b, **kwargs)\n"
LAYER = "name: slow\nn: 8\nm: 3\nk: 4\np: 2\npadding: 1\nstride: 1\nbatch: 1\n"
GEOM = geometry(make_spec(n=8, m=3, k=4, p=2, padding=1))        # x (1, 4, 8, 8), w (2, 4, 3, 3), b (2,)


def test_choose_runs_full_when_it_fits_else_as_many_sets_as_fit_never_fewer_than_two():
    full = budget.full(GEOM, 0.01)
    assert full.forwards == 2 * 4 * 9 + 4 == budget.full_forwards(GEOM.costs) and full.seconds == pytest.approx(0.76)
    assert budget.choose(GEOM, 0.01, 1.0) == full
    cheap = budget.choose(GEOM, 0.01, 0.7)                            # 4 + 32 projection forwards, then sets of 18
    assert (cheap.method, cheap.sets, cheap.projections) == ("channels", 1 + 1, 16)
    assert cheap.forwards == 4 + 2 * 16 + 2 * 18
    least = budget.choose(GEOM, 1.0, 0.5)
    assert least == budget.minimum(GEOM, 1.0) and least.sets == 2
    assert budget.choose(GEOM, 1.0, 0.5, sets=4) == budget.full(GEOM, 1.0)      # pinned
    assert budget.choose(GEOM, 1.0, 500, sets=1, projections=3).sets == 1


def test_a_transposed_layer_costs_its_own_floor():
    """dL/dX of a transposed layer needs floor((m - 1) gcd(s, d) / s) + 1 classes per axis."""
    up = geometry(make_spec(n=7, m=3, k=4, p=2, stride=2, padding=1, transposed=True, output_padding=(1, 1)))
    assert budget.full(up, 1.0).forwards == 4 * (2 * 2 + 9) + 4


def test_shards_keep_every_shard_within_the_target():
    assert budget.shards([10, 10, 10, 10], 40) == 1
    assert budget.shards([10, 10, 10, 10], 20) == 2                  # layers 1, 3 and 2, 4
    assert budget.shards([30, 1, 1, 1], 20) == 4                     # one layer alone is over: one per shard
    assert budget.shards([], 10) == 1


def test_the_minimum_that_does_not_fit_is_said_before_finite_differences_start(tmp_path):
    (tmp_path / "slow.py").write_text(SLOW)
    spec = make_spec(n=8, m=3, k=4, p=2, padding=1, batch=1)
    lines = []
    result = verify(spec, str(tmp_path / "slow.py"), budget=0.2, notify=lines.append, through="implementation")
    assert result.passed and result.method == "channels" and len(lines) == 1
    assert lines[0].startswith("layer 't': the minimum exact coverage (input channels 0 and 3 and 16 random "
                               "projections per tensor, 72 forwards) takes about ")
    # the estimate is 72 forwards at the rate it says
    total, each = (float(v) for v in re.search(r"takes about ([0-9.e+-]+) s at ([0-9.e+-]+) s a forward",
                                                lines[0]).groups())
    assert total == pytest.approx(72 * each, rel=0.1) and each >= 0.01                # the plug-in sleeps 10 ms
    assert "--budget is 0.2 s" in lines[0] and "--method fast would take about" in lines[0]
    assert result.budget["over_seconds"] > 0 and result.budget["budget_seconds"] == 0.2
    quiet = []
    fits = verify(spec, str(tmp_path / "slow.py"), budget=30, notify=quiet.append, through="implementation")
    assert fits.method == "full" and not quiet and fits.budget["over_seconds"] == 0.0
    verify(spec, str(tmp_path / "slow.py"), method="channels", budget=30, notify=quiet.append, through="implementation")
    assert not quiet                                                   # the minimum fits: nothing to say
    pinned = verify(spec, str(tmp_path / "slow.py"), budget=0.2, channels=2, notify=quiet.append,
                    through="implementation")
    builtin = verify(spec, str(tmp_path / "slow.py"), budget=0.2, notify=quiet.append)
    assert not quiet and builtin.method == "full" and builtin.through == "builtin"   # the slow forward: called twice
    assert not quiet and pinned.budget is None                        # pinned: the budget decides nothing


def test_the_command_line_says_it_on_stderr_quiet_or_not_and_reports_the_overrun(tmp_path):
    (tmp_path / "slow.py").write_text(SLOW)
    (tmp_path / "slow.yaml").write_text(LAYER)
    args = ["verify", str(tmp_path / "slow.yaml"), "--impl", str(tmp_path / "slow.py"), "--budget", "0.2",
            "--through", "implementation"]
    for extra in ([], ["-q"], ["--format", "json"]):
        result = runner.invoke(app, args + extra)
        assert result.exit_code == 0
        assert "convcheck: layer 'slow': the minimum exact coverage" in result.stderr
    table = runner.invoke(app, args).stdout
    assert "over budget: finite differences took" in table and "past --budget 0.2 s" in table
    data = json.loads(runner.invoke(app, args + ["--format", "json"]).stdout)["specs"][0]
    assert data["budget"]["budget_seconds"] == 0.2 and data["budget"]["over_seconds"] > 0
    fits = runner.invoke(app, ["verify", str(tmp_path / "slow.yaml"), "--impl", str(tmp_path / "slow.py"),
                               "--through", "implementation"])
    assert fits.exit_code == 0 and "minimum exact coverage" not in fits.stderr and "over budget" not in fits.stdout


def test_plan_estimates_every_layer_and_checks_nothing(tmp_path):
    (tmp_path / "slow.py").write_text(SLOW)
    (tmp_path / "layers.yaml").write_text("defaults: {n: 8, m: 3, k: 4, p: 2, padding: 1, stride: 1, batch: 1}\n"
                                          "layers:\n  - {name: a}\n  - {name: b, k: 8}\n")
    result = runner.invoke(app, ["plan", str(tmp_path / "layers.yaml"), "--impl", str(tmp_path / "slow.py"),
                                 "--budget", "0.5", "--target", "1", "--format", "json", "--through", "implementation"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["checked"] is False and data["layers"] == 2
    a, b = data["plans"]
    assert a["full"]["forwards"] == 76 and b["full"]["forwards"] == 148
    assert a["forward_seconds"] >= 0.01                               # the plug-in sleeps 10 ms a forward
    assert a["auto"]["method"] == "channels" and a["minimum_fits_budget"] is False
    assert a["auto_estimate_seconds"] == pytest.approx(a["auto"]["seconds"] + a["overhead_seconds"], abs=1e-3)
    assert data["shards"] == 2 and data["auto_seconds"] == pytest.approx(a["auto_estimate_seconds"] +
                                                                         b["auto_estimate_seconds"], abs=1e-3)
    table = runner.invoke(app, ["plan", str(tmp_path / "layers.yaml"), "--impl", str(tmp_path / "slow.py"),
                                "--budget", "0.5", "--target", "1", "--through", "implementation"]).stdout
    assert "channels 2/4 sets + 16 proj (min > budget)" in table and "--shard i/2" in table
    assert "convcheck plan checks nothing" in table


def test_plan_says_which_layers_it_could_not_estimate(tmp_path):
    (tmp_path / "raises.py").write_text("def forward(x, w, b, **k):\n    raise ValueError('no')\n\n"
                                        "def backward(*a, **k):\n    pass\n")
    (tmp_path / "layer.yaml").write_text(LAYER)
    result = runner.invoke(app, ["plan", str(tmp_path / "layer.yaml"), "--impl", str(tmp_path / "raises.py")])
    assert result.exit_code == 1 and "error: forward raised ValueError: no" in result.stdout
    assert runner.invoke(app, ["plan", str(tmp_path / "layer.yaml"), "--target", "0"]).exit_code == 2


@pytest.mark.parametrize("fields", [dict(n=24, m=3, k=16, p=8, padding=1), dict(n=12, m=3, k=6, p=6, groups=3,
                                                                                  padding=1, dilation=2)])
def test_plan_predicts_what_auto_runs(fields):
    """The same timing rule and the same choice: on layers far from the budget's edge, plan and
    verify agree on the method (timings decide near the edge)."""
    spec = make_spec(**fields)
    for budget_s in (0.001, 100):
        assert plan(spec, "im2col", budget=budget_s).auto.method == verify(spec, "im2col", budget=budget_s).method


def test_a_layer_of_one_set_runs_full_when_channels_would_cost_more():
    """k / groups = 1 (depthwise, or one input channel): one set plus 16 projections costs 53
    forwards where every coordinate costs 22, so `auto` never picks it, however small the budget."""
    for fields in (dict(n=10, m=3, k=32, p=32, groups=32, padding=1), dict(n=10, m=3, k=1, p=4, padding=1)):
        geom = geometry(make_spec(**fields))
        assert budget.full(geom, 1.0).forwards == 22
        assert budget.choose(geom, 1.0, 1e-6) == budget.full(geom, 1.0) == budget.minimum(geom, 1.0)
        result = verify(make_spec(**fields), "im2col", budget=1e-6)
        assert result.method == "full" and result.forwards == 22 and not result.partial
