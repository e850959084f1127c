"""Seed 002 Appendix E: Lemma 7 drift, Prop. 8, regularity constant, Lemma 13, Theorem 14.

Expected values come from independent computations: eigenvalue identities, a brute-force Monte
Carlo of one BN step written here (not depthcheck.kernels.chain.rank), and the defining quadratic of
Lemma 13's bound.
"""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from depthcheck.theory import rank_markov as rm

seeds = st.integers(0, 2**32 - 1)


def bn_manifold(d, n, seed, collinear=0.0):
    """M(Bn(H)) for a Gaussian H (d×n), optionally pulled towards rank one."""
    rng = np.random.default_rng(seed)
    H = rng.standard_normal((d, n))
    if collinear:
        H = np.outer(np.ones(d), H[0]) + collinear * H
    H = H / np.sqrt(np.mean(H * H, axis=1, keepdims=True))
    return H @ H.T / n


def circulant(d, rho):
    i = np.arange(d)
    dist = np.minimum(np.abs(i[:, None] - i), d - np.abs(i[:, None] - i))
    return rho ** dist.astype(float)


def circulant_bn(d, seed):
    """M(H) for H whose rows are cyclic shifts of one random vector: PSD, unit diagonal after
    scaling, and every row of M a permutation of the first (equal row norms)."""
    v = np.random.default_rng(seed).standard_normal(d)
    H = np.stack([np.roll(v, i) for i in range(d)])
    H /= np.sqrt(np.mean(H * H, axis=1, keepdims=True))
    return H @ H.T / d


@given(st.integers(2, 9), st.integers(1, 12), seeds)
def test_moment_identities_against_eigenvalues(d, n, seed):
    M = bn_manifold(d, n, seed)
    lam = np.linalg.eigvalsh(M)
    assert rm.frobenius_sq(M) == pytest.approx(np.sum(lam**2), rel=1e-10)
    assert rm.trace_cube(M) == pytest.approx(np.sum(lam**3), rel=1e-9, abs=1e-9)
    M2 = M @ M
    assert rm.row_norm4_sum(M) == pytest.approx(np.sum(np.diag(M2) ** 2), rel=1e-10)


@given(st.integers(3, 16), st.floats(-0.9, 0.9), seeds)
def test_prop8_equals_lemma7_for_equal_row_norms(d, rho, seed):
    # Prop. 8 is an algebraic identity given equal row norms (no PSD needed) ...
    M = circulant(d, rho)   # symmetric, unit diagonal, every row a permutation of the first
    c7 = rm.lemma7_drift_coefficient(M)
    c8 = rm.prop8_drift_coefficient(np.linalg.eigvalsh(M))
    assert c8 == pytest.approx(c7, rel=1e-9, abs=1e-8 * d * d)
    # ... and holds on genuine BN outputs with equal row norms
    M = circulant_bn(d, seed)
    c7 = rm.lemma7_drift_coefficient(M)
    c8 = rm.prop8_drift_coefficient(np.linalg.eigvalsh(M))
    assert c8 == pytest.approx(c7, rel=1e-9, abs=1e-8 * d * d)


def test_prop8_rejects_wrong_trace_and_example9_sign():
    with pytest.raises(ValueError, match="eigenvalues"):
        rm.prop8_drift_coefficient([1.0, 2.0, 3.0])
    # Example 9: one dominant eigenvalue -> the drift is negative (‖M‖_F shrinks)
    d = 10
    lam = np.r_[d - 0.9, np.full(d - 1, 0.1)]
    assert rm.prop8_drift_coefficient(lam) < 0
    # M = I (orthogonal rows): Σ‖M_i‖⁴ = tr M³ = d, so c = 2(d² − d)
    assert rm.lemma7_drift_coefficient(np.eye(d)) == pytest.approx(2 * (d * d - d))


def _one_step_frobenius(M, W, gamma):
    T = np.eye(M.shape[0]) + gamma * W
    Mt = T @ M @ T.swapaxes(-1, -2)
    dg = np.sqrt(np.diagonal(Mt, axis1=-2, axis2=-1))
    C = Mt / dg[..., :, None] / dg[..., None, :]
    return np.sum(C * C, axis=(-2, -1))


@pytest.mark.parametrize("law,collinear", [("gaussian", 0.0), ("uniform", 0.0),
                                           ("gaussian", 0.4)])
def test_lemma7_against_brute_force_monte_carlo(law, collinear):
    M = bn_manifold(5, 9, 3, collinear)
    rng = np.random.default_rng(7)
    gamma, n = 0.005, 60_000
    if law == "gaussian":
        W = rng.standard_normal((n, 5, 5))
    else:
        W = rng.uniform(-math.sqrt(3), math.sqrt(3), (n, 5, 5))
    f0 = np.sum(M * M)
    x = (0.5 * (_one_step_frobenius(M, W, gamma) + _one_step_frobenius(M, -W, gamma)) - f0)
    x /= gamma**2
    c = rm.lemma7_drift_coefficient(M)
    se = x.std() / math.sqrt(n)
    assert abs(x.mean() - c) < 5 * se + 1e-3 * abs(c)
    # failable: dropping the 4Σ‖M_i‖⁴ − 4 tr M³ term is detected
    wrong = 2 * (25 - rm.frobenius_sq(M))
    assert abs(x.mean() - wrong) > 10 * se


def test_manifold_validation():
    with pytest.raises(ValueError, match="unit diagonal"):
        rm.lemma7_drift_coefficient(2 * np.eye(3))
    with pytest.raises(ValueError, match="square"):
        rm.lemma7_drift_coefficient(np.ones((3, 4)))
    A = np.eye(3)
    A[0, 1] = 0.5
    with pytest.raises(ValueError, match="symmetric"):
        rm.lemma7_drift_coefficient(A)
    with pytest.raises(ValueError, match="gamma"):
        rm.lemma7_drift(np.eye(3), math.inf)


@given(st.integers(2, 12), st.integers(1, 5), seeds)
def test_regularity_constant_at_most_one_with_equal_row_norms(d, k, seed):
    # PSD samples with equal row norms: (Σλ²)² <= d Σλ³ gives β <= 1 (Def. 3, Example 11)
    rng = np.random.default_rng(seed)
    Ms = []
    for _ in range(k):
        P = np.eye(d)[rng.permutation(d)]
        Ms.append(P @ circulant_bn(d, int(rng.integers(2**32))) @ P.T)
    assert rm.regularity_constant(np.stack(Ms)) <= 1 + 1e-12


def test_regularity_constant_equality_cases():
    d = 6
    assert rm.regularity_constant(np.eye(d)[None]) == pytest.approx(1.0)
    assert rm.regularity_constant(np.ones((1, d, d))) == pytest.approx(1.0)   # rank one
    assert rm.regularity_constant(circulant(d, 0.5)[None]) < 0.99
    with pytest.raises(ValueError, match="stack"):
        rm.regularity_constant(np.eye(3))


def test_ergodic_estimator_is_running_ratio():
    rng = np.random.default_rng(0)
    g1, g2 = rng.uniform(1, 2, (3, 50)), rng.uniform(2, 3, (3, 50))
    run = rm.regularity_constant_ergodic(g1, g2)
    assert run.shape == (3, 50)
    np.testing.assert_allclose(run[:, -1], g1.sum(1) / g2.sum(1), rtol=1e-13)
    np.testing.assert_allclose(run[:, 0], g1[:, 0] / g2[:, 0], rtol=1e-13)
    with pytest.raises(ValueError, match="same shape"):
        rm.regularity_constant_ergodic(g1, g2[:, :10])


@given(st.integers(1, 512), st.floats(0.0, 0.999))
def test_lemma13_bounds(d, beta):
    sharp = rm.lemma13_frobenius_bound(d, beta, "sharp")
    simple = rm.lemma13_frobenius_bound(d, beta, "simple")
    e = 1 - beta
    # the sharp bound is the positive root of 4(1−β)x²/d + x − d² = 0
    assert 4 * e * sharp**2 / d + sharp - d * d == pytest.approx(0.0, abs=1e-7 * d * d)
    assert sharp <= simple * (1 + 1e-12)
    assert sharp <= d * d * (1 + 1e-12)
    # Theorem 14 (τ = 0): sharp rank bound = d² / Lemma-13 sharp bound (Jensen step)
    assert rm.theorem14_rank_bound(d, beta, 0.0, "sharp") == pytest.approx(d * d / sharp,
                                                                         rel=1e-10)
    assert rm.theorem14_rank_bound(d, beta, 0.0, "simple") <= \
        rm.theorem14_rank_bound(d, beta, 0.0, "sharp") * (1 + 1e-12)


def test_theorem14_values_and_validation():
    assert rm.theorem14_rank_bound(16, 0.75, 0.5) == pytest.approx(2 * 0.25 * math.sqrt(4.0))
    assert rm.lemma13_frobenius_bound(8, 1.0) == pytest.approx(64.0)
    with pytest.raises(ValueError, match="beta"):
        rm.lemma13_frobenius_bound(8, 1.0, "simple")
    with pytest.raises(ValueError, match="beta"):
        rm.theorem14_rank_bound(8, 1.2)
    with pytest.raises(ValueError, match="tau"):
        rm.theorem14_rank_bound(8, 0.5, 1.0)
    with pytest.raises(ValueError, match="form"):
        rm.lemma13_frobenius_bound(8, 0.5, "loose")


def test_stationarity_residual_and_lemma1_bound():
    # residual of the invariance identity E‖M‖² = d² − 4(1 − β) E tr M³
    d, g2, beta = 10, 300.0, 0.9
    F = d * d - 4 * (1 - beta) * g2
    assert rm.stationarity_residual(d, F, beta * g2, g2) == pytest.approx(0.0, abs=1e-12)
    assert rm.stationarity_residual(d, F - 10, beta * g2, g2) == pytest.approx(0.1)
    np.testing.assert_allclose(rm.lemma1_soft_rank_bound([4.0, 8.0], 0.5), [1.0, 2.0])
    with pytest.raises(ValueError, match="tau"):
        rm.lemma1_soft_rank_bound(3.0, -0.1)
