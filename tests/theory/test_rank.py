"""r(H) (seed 002, eq. 4), soft rank (eq. 3) and Lemma 1."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from depthcheck.kernels.random.haar import sample_orthogonal, sample_stiefel
from depthcheck.kernels.strategies import batches_with_gram_spectrum
from depthcheck.theory.isometry import row_normalize
from depthcheck.theory.rank import matrix_rank, rank_lower_bound, second_moment, soft_rank

shapes = st.tuples(st.integers(1, 7), st.integers(1, 7))
seeds = st.integers(0, 2**32 - 1)


def low_rank(d, N, k, seed):
    """A d×N Gaussian product of inner dimension k (rank min(d, N, k) almost surely)."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((d, k)) @ rng.standard_normal((k, N))


def r_reference(H):
    lam = np.linalg.eigvalsh(H @ H.T / H.shape[1])
    return lam.sum() ** 2 / np.sum(lam**2)


def with_singular_values(sigma, d, N, seed):
    """H (d×N) with prescribed singular values (len(sigma) <= min(d, N))."""
    rng = np.random.default_rng(seed)
    k = len(sigma)
    U = sample_stiefel((), d, k, rng)
    V = sample_stiefel((), N, k, rng)
    return (U * np.asarray(sigma)) @ V.T


def test_second_moment():
    H = np.random.default_rng(0).standard_normal((2, 4, 3))
    M = second_moment(H)
    assert M.shape == (2, 4, 4)
    np.testing.assert_allclose(M[1], H[1] @ H[1].T / 3, rtol=1e-14)


@given(shapes, st.integers(1, 7), seeds)
def test_r_matches_eigen_definition_and_lemma_1_part_1(shape, k, seed):
    d, N = shape
    H = low_rank(d, N, k, seed)
    r = rank_lower_bound(H)
    assert r == pytest.approx(r_reference(H), rel=1e-10)
    assert 1.0 - 1e-12 <= r <= matrix_rank(H) + 1e-9        # Lemma 1 (1): rank(H) >= r(H)
    assert matrix_rank(H) == min(d, N, k)


@given(shapes, seeds, st.floats(1e-150, 1e150))
def test_r_is_scale_invariant(shape, seed, c):
    H = np.random.default_rng(seed).standard_normal(shape)
    assert rank_lower_bound(c * H) == pytest.approx(rank_lower_bound(H), rel=1e-12)


def test_r_known_values():
    assert rank_lower_bound(np.eye(5)) == pytest.approx(5.0, rel=1e-15)
    # singular values (2, 1): λ ∝ (4, 1), r = 25/17
    H = with_singular_values([2.0, 1.0], 4, 6, 0)
    assert rank_lower_bound(H) == pytest.approx(25 / 17, rel=1e-12)
    assert rank_lower_bound(H.T) == pytest.approx(25 / 17, rel=1e-12)
    assert rank_lower_bound(np.ones((3, 4))) == pytest.approx(1.0, rel=1e-14)


def test_r_batch_shapes():
    H = np.random.default_rng(1).standard_normal((2, 3, 4, 6))
    r = rank_lower_bound(H)
    assert r.shape == (2, 3)
    assert r[1, 2] == pytest.approx(r_reference(H[1, 2]), rel=1e-12)
    assert isinstance(rank_lower_bound(H[0, 0]), np.floating)


spectra = st.lists(st.floats(0.0, 10.0), min_size=2, max_size=6).filter(lambda v: sum(v) > 1e-3)


@given(batches_with_gram_spectrum(spectra), st.floats(0.0, 0.99))
def test_lemma_1_part_2_after_bn(H, tau):
    # Rows of norm sqrt(N) (seed 002's BN), so tr M = d: rank_τ >= (1-τ)² r (both conventions).
    N = H.shape[1]
    if np.any(np.linalg.norm(H, axis=1) < 1e-6 * np.abs(H).max()):
        return                                   # a (numerically) zero row: Bn undefined
    Hn = np.sqrt(N) * row_normalize(H)
    np.testing.assert_allclose(np.trace(second_moment(Hn)), Hn.shape[0], rtol=1e-12)
    r = rank_lower_bound(Hn)
    assert soft_rank(Hn, tau, "eigen") >= (1 - tau) ** 2 * r - 1e-9
    assert soft_rank(Hn, tau, "singular") >= (1 - tau**2) ** 2 * r - 1e-9


def test_lemma_1_part_2_is_tight_enough_to_fail_without_bn():
    # Without tr M = d the bound is false: a tiny-scale H has rank_τ = 0 < (1-τ)² r.
    H = 1e-3 * np.random.default_rng(2).standard_normal((4, 8))
    assert soft_rank(H, 0.5) == 0 < 0.25 * rank_lower_bound(H)


def test_soft_rank_conventions_differ():
    N = 4
    lam = np.array([2.0, 0.4, 0.3, 0.1])            # eigenvalues of M = σ²/N
    H = with_singular_values(np.sqrt(N * lam), 4, N, 3)
    np.testing.assert_allclose(np.linalg.eigvalsh(second_moment(H))[::-1], lam, atol=1e-12)
    # τ = 0.5: "eigen" counts λ > 0.5; "singular" counts σ/√N = √λ > 0.5, i.e. λ > 0.25.
    assert soft_rank(H, 0.5, convention="eigen") == 1
    assert soft_rank(H, 0.5, convention="singular") == 3
    assert soft_rank(H, 0.5) == 1                   # default is "eigen"
    assert soft_rank(H, 0.0) == 4


@given(shapes, seeds, st.floats(0.0, 0.99), st.floats(0.0, 0.99))
def test_soft_rank_monotone_and_bounded(shape, seed, t1, t2):
    H = np.random.default_rng(seed).standard_normal(shape)
    lo, hi = sorted((t1, t2))
    for conv in ("eigen", "singular"):
        assert 0 <= soft_rank(H, hi, conv) <= soft_rank(H, lo, conv) <= min(shape)
    assert soft_rank(H, hi, "singular") >= soft_rank(H, hi, "eigen")   # τ² <= τ


def test_soft_rank_batch():
    H = np.stack([np.eye(3), np.diag([1.0, 1.0, 0.0])]) * np.sqrt(3)
    np.testing.assert_array_equal(soft_rank(H, 0.5), [3, 2])


def test_soft_rank_haar_rotation_invariant():
    rng = np.random.default_rng(4)
    H = with_singular_values([3.0, 2.0, 0.5], 5, 6, 5)
    W = sample_orthogonal((), 5, rng)
    for tau in (0.0, 0.1, 0.5, 0.9):
        assert soft_rank(W @ H, tau) == soft_rank(H, tau)
    assert rank_lower_bound(W @ H) == pytest.approx(rank_lower_bound(H), rel=1e-12)


@pytest.mark.parametrize("tau", [-0.1, 1.0, 1.5, np.nan, "x", None])
def test_bad_tau_raises(tau):
    with pytest.raises(ValueError, match="tau"):
        soft_rank(np.eye(3), tau)


def test_bad_input_raises():
    with pytest.raises(ValueError, match="convention"):
        soft_rank(np.eye(3), 0.5, convention="spectral")
    bad = np.eye(3)
    bad[0, 1] = np.nan
    for f in (second_moment, rank_lower_bound, lambda H: soft_rank(H, 0.1), matrix_rank):
        with pytest.raises(ValueError, match="H"):
            f(bad)
        with pytest.raises(ValueError, match="H"):
            f(np.ones(3))
    with pytest.raises(ValueError, match="H"):
        rank_lower_bound(np.zeros((2, 3, 3)))
