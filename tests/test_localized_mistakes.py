"""Never a false pass: one localized mistake (a border, a channel, a filter, a stride phase, a
bias, a tap) fails under the default method on layers too large for `full`, in both dtypes and
over several seeds; correct implementations never fail there. (The verdict is what is tested:
these layers are checked with shrink=False, not shrunk to their smallest failing layer.)"""

import pytest
from localized import MISTAKES, implementation

from convcheck import verify
from convcheck.methods import cost
from convcheck.options import DEFAULT_BUDGET_S
from convcheck.spec import ConvSpec

LAYERS = {
    "64x56x56": dict(n=(56, 56), k=64, p=64, stride=(1, 1)),
    "128x28x28-stride2": dict(n=(28, 28), k=128, p=128, stride=(2, 2)),
    "256x14x14": dict(n=(14, 14), k=256, p=256, stride=(1, 1)),
}
LEAST = 0.01
"""A budget where only the first and the last input channel are covered exactly: the least
the default method ever covers, so the hardest case for it."""
SEEDS = (0, 1, 2)


def layer(name, dtype="float64", seed=0) -> ConvSpec:
    """Batch 1, set: these are about coverage on large layers, and a second sample only doubles their time."""
    return ConvSpec(m=(3, 3), padding=(1, 1, 1, 1), name=name, dtype=dtype, seed=seed, batch=1, **LAYERS[name])


# dw_tap_middle_channel: one element of a channel that may not be covered exactly is caught by the
# per-filter projections when it is large against the tolerance of its whole filter (k m_h m_w
# elements): on these layers it is; it is not guaranteed in general (docs/how-it-works.md, "Guarantees").
CASES = [(mistake, "64x56x56") for mistake in MISTAKES if mistake != "stride_phase"] + [
    ("stride_phase", "128x28x28-stride2"), ("dx_channel_row", "128x28x28-stride2"),
    ("dw_tap_middle_channel", "128x28x28-stride2"), ("db_filter_plus_1", "128x28x28-stride2")]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("mistake,name", CASES)
def test_each_localized_mistake_fails_even_when_only_two_channels_are_exact(mistake, name, dtype):
    tensor = MISTAKES[mistake][1]
    for seed in SEEDS:
        result = verify(layer(name, dtype, seed), implementation(mistake), budget=LEAST, shrink=False)
        assert result.method == "channels"
        coverage = result.check(tensor).coverage
        assert coverage is not None and (coverage.every or len(coverage.channels) >= 2)
        assert result.check(tensor).verdict == "FAIL", (seed, result.check(tensor))
        assert all(c.passed for c in result.checks if c.name != tensor), (seed, result.checks)


@pytest.mark.parametrize("impl", ["im2col", "direct"])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_correct_implementations_never_fail_on_partial_coverage(impl, name):
    for dtype in ("float64", "float32"):
        for seed in SEEDS[:2]:
            result = verify(layer(name, dtype, seed), impl, budget=LEAST)
            assert result.passed and result.partial, (dtype, seed, result.checks)
            dx = result.check("dx").coverage
            assert dx.channels[:1] == (0,) and dx.channels[-1] == LAYERS[name]["k"] - 1


def test_a_budget_too_small_for_full_covers_whole_channels():
    """256 x 14 x 14: `full` needs 4,612 forwards (over 20 s here); within a tenth of
    DEFAULT_BUDGET_S (no machine runs 4,612 such forwards in it) `auto` covers whole channels and
    says so, and mistakes of every tensor still fail. What it asserts is what ran, never how fast."""
    spec = layer("256x14x14", "float32")
    assert cost.full_forwards({"x": (1, 256, 14, 14), "w": (256, 256, 3, 3), "b": (256,)}) == 4612
    budget = DEFAULT_BUDGET_S / 10
    correct = verify(spec, "im2col", budget=budget)
    assert correct.method == "channels" and correct.passed and correct.partial
    assert 2 <= len(correct.check("dw").coverage.channels) < 256 and correct.budget["budget_seconds"] == budget
    for mistake in ("dx_channel_zero", "dw_tap_last_channel", "db_filter_plus_1"):
        result = verify(spec, implementation(mistake), budget=budget, shrink=False)
        assert result.method == "channels" and result.check(MISTAKES[mistake][1]).verdict == "FAIL", mistake
