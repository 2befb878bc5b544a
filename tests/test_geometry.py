import math

import pytest
from conftest import make_spec

from convcheck.errors import SpecError
from convcheck.geometry import dilated_size, geometry, leftover, output_size, resolve_padding, same_padding


def test_output_size_matches_seed000_at_stride_1():
    for n in range(1, 12):
        for m in range(1, n + 1):
            assert output_size(n, m, 1, 0, 0) == n - m + 1


def test_seed001_layer_gives_96x96():
    geom = geometry(make_spec(n=100, m=5, k=5, p=10))
    assert geom.shapes["y"] == (1, 10, 96, 96)
    assert geom.shapes["dw"] == (10, 5, 5, 5)
    assert geom.shapes["dx"] == (1, 5, 100, 100)
    assert geom.shapes["db"] == (10,)


@pytest.mark.parametrize("n,m,s", [(n, m, s) for n in range(1, 10) for m in range(1, 6) for s in range(1, 4)])
def test_same_padding_gives_ceil_n_over_s_with_extra_at_the_end(n, m, s):
    lo, hi = same_padding(n, m, s)
    assert output_size(n, m, s, lo, hi) == math.ceil(n / s)
    assert hi - lo in (0, 1)


def test_full_padding_is_m_minus_1_each_side():
    assert resolve_padding("full", (5, 6), (3, 4), (1, 1)) == (2, 2, 3, 3)
    assert output_size(5, 3, 1, 2, 2) == 5 + 3 - 1


def test_leftover_rows_and_dilated_size():
    # n=8, m=3, s=2: windows start at 0, 2, 4 -> o=3, row 7 untouched
    assert output_size(8, 3, 2, 0, 0) == 3
    assert leftover(8, 3, 2, 0, 0) == 1
    assert dilated_size(3, 2) == 5
    geom = geometry(make_spec(n=8, m=3, stride=2))
    assert geom.leftover == (1, 1) and geom.dilated == (5, 5)


def test_asymmetric_padding_is_kept_per_side():
    geom = geometry(make_spec(n=(6, 7), m=3, padding=(1, 2, 0, 3), stride=(1, 2)))
    assert geom.padded == (9, 10)
    assert geom.out == (7, 4)


def test_filter_larger_than_padded_input_says_what_fits():
    with pytest.raises(SpecError) as e:
        geometry(make_spec(n=3, m=5, padding=(0, 0, 0, 0)))
    text = str(e.value)
    assert "field 'm'" in text and "3 + 0 + 0 = 3" in text and "m <= 3" in text and "n >= 5" in text


def test_no_bias_has_no_b_or_db():
    shapes = geometry(make_spec(bias=False)).shapes
    assert shapes["b"] is None and shapes["db"] is None
