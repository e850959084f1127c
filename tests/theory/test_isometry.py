"""Isometry gap φ (seed 001, eq. 5), row normalisation Bn (eq. 4) and Lemma A.1."""
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from depthcheck.kernels.random.haar import sample_stiefel
from depthcheck.kernels.strategies import full_rank_batches, haar_matrices
from depthcheck.theory.isometry import isometry, isometry_gap, log_isometry, row_normalize


def phi_reference(H):
    """φ from the eigenvalues of HᵀH (the authors' isometry_gap): log mean λ - mean log λ."""
    lam = np.linalg.eigvalsh(H.T @ H)
    return np.log(lam.mean()) - np.log(lam).mean()


def am_over_gm(a):
    return a.mean() / np.exp(np.log(a).mean())


row_scales = st.lists(st.floats(0.2, 5.0), min_size=8, max_size=8)


@given(full_rank_batches(max_d=8, min_singular=0.1))
def test_agrees_with_eigenvalue_reference_and_is_nonnegative(H):
    phi = isometry_gap(H)
    assert phi >= 0.0
    assert phi == pytest.approx(phi_reference(H), abs=1e-10)
    assert isometry(H) == pytest.approx(np.exp(-phi), rel=1e-14)
    assert log_isometry(H) == -phi
    assert 0.0 <= isometry(H) <= 1.0


@given(full_rank_batches(d=6, min_singular=0.05), haar_matrices(6),
       st.floats(1e-150, 1e150), st.sampled_from([1.0, -1.0]))
def test_invariant_to_left_rotation_and_scaling(H, W, c, sign):
    phi = isometry_gap(H)
    assert isometry_gap(W @ H) == pytest.approx(phi, abs=1e-10)
    assert isometry_gap(sign * c * H) == pytest.approx(phi, abs=1e-10)


@given(haar_matrices(), st.floats(1e-100, 1e100))
def test_zero_for_orthogonal_and_scaled_orthogonal(W, c):
    assert isometry_gap(W) == pytest.approx(0.0, abs=1e-13)
    assert isometry_gap(c * W) == pytest.approx(0.0, abs=1e-13)
    assert isometry(c * W) == pytest.approx(1.0, abs=1e-13)


def test_zero_for_orthonormal_columns_and_positive_otherwise():
    V = sample_stiefel((10,), 7, 3, np.random.default_rng(0))
    np.testing.assert_allclose(isometry_gap(V), 0.0, atol=1e-13)
    H = V * np.array([1.0, 2.0, 1.0])          # unequal column norms: G = diag(1, 4, 1)
    expected = np.log(2.0) - np.log(4.0) / 3   # log AM - log GM of (1, 4, 1)
    np.testing.assert_allclose(isometry_gap(H), expected, rtol=1e-12)


def test_known_value_two_columns():
    # G = [[1, c], [c, 1]]: det = 1 - c², tr/n = 1, so φ = -log(1 - c²)/2.
    c = 0.6
    H = np.array([[1.0, c], [0.0, np.sqrt(1 - c**2)], [0.0, 0.0]])
    assert isometry_gap(H) == pytest.approx(-np.log(1 - c**2) / 2, rel=1e-14)


def test_rank_deficient_gives_inf_per_batch_element_without_warnings():
    rng = np.random.default_rng(1)
    H = rng.standard_normal((5, 6, 4))
    H[1, :, 2] = H[1, :, 0]                          # duplicate column
    H[2, :, 3] = 2 * H[2, :, 0] - H[2, :, 1]         # exact linear dependence
    H[3, :, 1] = 0.0                                 # zero column
    H[4] = 0.0                                       # zero matrix
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        phi = isometry_gap(H)
        iso = isometry(H)
    assert np.isinf(phi[1:]).all() and (phi[1:] > 0).all()
    np.testing.assert_array_equal(iso[1:], 0.0)
    assert phi[0] == pytest.approx(phi_reference(H[0]), abs=1e-12)
    assert phi.shape == (5,)


def test_more_samples_than_width_is_rank_deficient():
    H = np.random.default_rng(2).standard_normal((2, 3, 5))
    np.testing.assert_array_equal(isometry_gap(H), np.inf)
    assert isometry(H[0]) == 0.0


def test_nearly_dependent_but_full_rank_stays_finite():
    rng = np.random.default_rng(3)
    H = rng.standard_normal((6, 3))
    H[:, 2] = H[:, 0] + 1e-4 * rng.standard_normal(6)
    assert np.isfinite(isometry_gap(H))
    assert isometry_gap(H) == pytest.approx(phi_reference(H), rel=1e-6)


def test_batch_matches_elementwise():
    H = np.random.default_rng(4).standard_normal((2, 3, 5, 4))
    phi = isometry_gap(H)
    assert phi.shape == (2, 3)
    for idx in np.ndindex(2, 3):
        assert phi[idx] == pytest.approx(phi_reference(H[idx]), abs=1e-12)
    assert isinstance(isometry_gap(H[0, 0]), np.floating)


def test_extreme_scales_do_not_overflow():
    H = np.random.default_rng(5).standard_normal((4, 4))
    ref = phi_reference(H)
    for c in (1e300, 1e-300, 1e-305):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert isometry_gap(c * H) == pytest.approx(ref, abs=1e-9)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_input_raises_naming_H(bad):
    H = np.eye(3)
    H[1, 2] = bad
    for f in (isometry_gap, isometry, log_isometry, row_normalize):
        with pytest.raises(ValueError, match="H"):
            f(H)


def test_wrong_dimension_raises():
    with pytest.raises(ValueError, match="H"):
        isometry_gap(np.ones(3))


# ---------------------------------------------------------------- Bn and Lemma A.1

@given(full_rank_batches(d=8, n=8, min_singular=0.2), row_scales)
def test_lemma_A1_identity_and_inequality_square(H0, scales):
    H = np.asarray(scales)[:, None] * H0         # vary the row norms
    a = np.sum(H**2, axis=1)
    I_bn, I_h = isometry(row_normalize(H)), isometry(H)
    assert I_bn >= I_h * (1 - 1e-12)
    assert I_bn == pytest.approx(I_h * am_over_gm(a), rel=1e-10)


@given(full_rank_batches(d=5, n=5), haar_matrices(5))
def test_lemma_2_rotation_then_bn_does_not_decrease_isometry(H, W):
    # Lemma 2 of seed 001: X = Bn(H), I(Bn(W X)) >= I(X) for orthogonal W.
    X = row_normalize(H)
    assert isometry(row_normalize(W @ X)) >= isometry(X) * (1 - 1e-12)


def test_corollary_A3_rotation_to_perfect_isometry():
    X = np.random.default_rng(6).standard_normal((5, 5))
    U, _, _ = np.linalg.svd(X)
    assert isometry(row_normalize(U.T @ X)) == pytest.approx(1.0, abs=1e-12)


@given(st.integers(1, 6), st.integers(1, 6), st.integers(0, 2**32 - 1),
       st.floats(1e-200, 1e200))
def test_row_normalize_unit_rows_and_scale_free(d, n, seed, c):
    H = np.random.default_rng(seed).standard_normal((d, n))
    B = row_normalize(c * H)
    np.testing.assert_allclose(np.linalg.norm(B, axis=1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(B, row_normalize(H), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(B, H / np.linalg.norm(H, axis=1, keepdims=True), rtol=1e-12)


def test_row_normalize_batch_dtype_and_zero_row():
    rng = np.random.default_rng(7)
    H = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    B = row_normalize(H)
    assert B.dtype == np.float32 and B.shape == H.shape
    np.testing.assert_allclose(np.linalg.norm(B, axis=-1), 1.0, rtol=1e-6)
    H = rng.standard_normal((4, 5))
    H[2] = 0.0
    with pytest.raises(ValueError, match="H"):
        row_normalize(H)


def test_lemma_A1_needs_n_equal_d():
    # For n < d the lemma is false: HᵀH = I_2 (I = 1) but Bn(H)ᵀBn(H) = diag(1, 2).
    s = np.sqrt(0.5)
    H = np.array([[1.0, 0.0], [0.0, s], [0.0, s]])
    assert isometry(H) == pytest.approx(1.0, abs=1e-15)
    assert isometry(row_normalize(H)) == pytest.approx(np.sqrt(2.0) / 1.5, rel=1e-14)
