import numpy as np

from convcheck.compare import compare, validate


def test_worst_index_is_the_element_furthest_past_tolerance():
    ref = np.zeros((2, 3, 4))
    got = ref.copy()
    got[1, 2, 3] = 1e-3
    got[0, 0, 0] = 1e-9  # within atol
    check = compare("dx", got, ref, rtol=1e-6, atol=1e-8)
    assert not check.passed and check.worst_index == (1, 2, 3)
    assert check.max_abs == 1e-3 and check.tolerance_ratio == 1e-3 / 1e-8
    assert check.max_rel is None              # no element where the relative tolerance governs
    assert "1 of 24" in check.message


def test_relative_error_of_a_passing_tensor_cannot_read_as_a_failure():
    """Near-zero elements (leftover rows of a strided layer) carry rounding as absolute error."""
    ref = np.array([0.0, 1e-12, 3e-9, 0.5, -2.0, 40.0])
    got = ref + np.array([9e-9, -9e-9, 9e-9, 4e-7, -1.9e-6, 3e-5])
    check = compare("dx", got, ref, rtol=1e-6, atol=1e-8)
    assert check.passed and check.tolerance_ratio <= 1
    assert check.max_rel <= 2e-6                # over |n| >= atol / rtol = 0.01 only
    assert compare("dx", got, ref, rtol=0, atol=1e-4).max_rel is None


def test_zero_tolerance_means_exact():
    ref = np.arange(4.0)
    assert compare("dx", ref.copy(), ref, rtol=0, atol=0).passed
    check = compare("dx", ref + np.array([0, 0, 1e-15, 0]), ref, rtol=0, atol=0)
    assert not check.passed and check.tolerance_ratio == np.inf and check.worst_index == (2,)


def test_relative_tolerance_scales_with_the_reference():
    ref = np.full(5, 1000.0)
    assert compare("dw", ref * (1 + 5e-7), ref, rtol=1e-6, atol=0).passed
    assert not compare("dw", ref * (1 + 5e-6), ref, rtol=1e-6, atol=0).passed


def test_flat_indices_compare_only_those_coordinates():
    got = np.arange(12.0).reshape(3, 4)
    ref = np.array([5.0, 11.0])
    check = compare("dx", got, ref, 1e-6, 1e-8, flat=np.array([5, 11]))
    assert check.passed and check.checked == 2 and check.total == 12


def test_validate_shape_dtype_finiteness_and_type():
    assert validate("y", np.zeros((1, 2)), (1, 2), "float64") is None
    assert "shape (2, 1)" in validate("y", np.zeros((2, 1)), (1, 2), "float64").message
    assert "dtype float64, expected float32" in validate("y", np.zeros((1, 2)), (1, 2), "float32").message
    bad = np.zeros((1, 2))
    bad[0, 1] = np.inf
    check = validate("y", bad, (1, 2), "float64")
    assert "non-finite" in check.message and check.worst_index == (0, 1)
    assert "returned list" in validate("y", [[0.0, 0.0]], (1, 2), "float64").message


def test_projection_check_passes_rounding_and_fails_real_errors():
    from convcheck.compare import compare_projections
    rng = np.random.default_rng(0)
    grad = rng.standard_normal((3, 4, 5))
    u = rng.standard_normal((4, 3, 4, 5))
    exact = np.tensordot(u, grad, axes=3)[:, None]        # (d, 1): one group, the whole tensor
    noisy = grad * (1 + 1e-9 * rng.standard_normal(grad.shape))
    assert compare_projections("dx", noisy, u, exact, rtol=1e-6, atol=1e-8).passed
    wrong = grad.copy()
    wrong[0, 0, 0] += 1.0                                  # one element off by a lot
    check = compare_projections("dx", wrong, u, exact, rtol=1e-6, atol=1e-8)
    assert not check.passed and "rerun with --method full" in check.message
    assert check.worst_index is None and check.checked == 0   # nothing compared element by element


def test_projections_per_filter_test_each_filter_on_its_own():
    from convcheck.compare import compare_projections
    rng = np.random.default_rng(1)
    grad = rng.standard_normal((64, 8, 3, 3))             # (p, k, m_h, m_w)
    u = rng.standard_normal((2, *grad.shape))
    per_filter = np.einsum("dpkij,pkij->dp", u, grad)
    wrong = grad.copy()
    wrong[17, 3, 1, 1] *= 1.5                             # one element of one filter, 50% off
    check = compare_projections("dw", wrong, u, per_filter, rtol=1e-3, atol=1e-3)
    assert not check.passed and "filter 17" in check.message
    whole = np.tensordot(u, grad, axes=4)[:, None]        # the same error drowns in the whole tensor
    assert compare_projections("dw", wrong, u, whole, rtol=1e-3, atol=1e-3).passed
