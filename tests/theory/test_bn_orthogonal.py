"""Tests of depthcheck.theory.bn_orthogonal (seed 001 predictions and bounds)."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from depthcheck.theory import bn_orthogonal as bo


def _haar(rng, B, d):
    # Independent reference sampler (QR with sign fix), so these tests do not depend on kernels.
    Q, R = np.linalg.qr(rng.standard_normal((B, d, d)))
    return Q * np.sign(np.diagonal(R, axis1=1, axis2=2))[:, None, :]


def _unit_rows(rng, d, n, spread):
    X = rng.standard_normal((d, n)) * np.exp(spread * rng.standard_normal(n))[None, :]
    return X / np.linalg.norm(X, axis=1, keepdims=True)


@pytest.mark.parametrize("d,spread", [(4, 1.0), (6, 0.5), (8, 0.0)])
def test_theorem3_second_moment_matches_monte_carlo(d, spread):
    rng = np.random.default_rng(d)
    X = _unit_rows(rng, d, d, spread)
    lam = np.linalg.eigvalsh(X @ X.T)
    pred = bo.theorem3_second_moment(lam)
    W = _haar(rng, 40000, d)
    a = np.sum((W @ X) ** 2, axis=2)               # squared row norms, (B, d)
    m2 = np.mean(a**2, axis=1)
    se = m2.std(ddof=1) / np.sqrt(m2.size)
    assert abs(m2.mean() - pred) < 5 * se + 1e-12
    # The Gaussian-weight analogue differs: (d² + 2Σλ²)/d² (checks the test has power).
    G = rng.standard_normal((40000, d, d)) / np.sqrt(d)
    ag = np.sum((G @ X) ** 2, axis=2)
    m2g = np.mean(ag**2, axis=1)
    if spread > 0:
        assert abs(m2g.mean() - pred) > 5 * m2g.std(ddof=1) / np.sqrt(m2g.size)


def test_theorem3_second_moment_closed_forms():
    lam = np.ones(5)
    assert bo.theorem3_second_moment(lam) == pytest.approx(1.0, abs=1e-15)
    lam = np.array([5.0, 0, 0, 0, 0])  # rank one: a_i = 5 O_i1², E Σ a² /d = 25·3/(5·7)
    assert bo.theorem3_second_moment(lam) == pytest.approx(25 * 3 / 35)


@pytest.mark.parametrize("d", [4, 8])
def test_theorem3_lower_bound_holds_and_is_tight_for_orthogonal(d):
    rng = np.random.default_rng(10 + d)
    X = _unit_rows(rng, d, d, 0.8)
    lam = np.linalg.eigvalsh(X @ X.T)
    W = _haar(rng, 20000, d)
    a = np.sum((W @ X) ** 2, axis=2)
    ratio = 1.0 / np.exp(np.mean(np.log(a), axis=1))  # I(Bn(WX))/I(X) = AM(a)/GM(a), AM = 1
    lb = bo.theorem3_ratio_lower_bound(lam)
    se = ratio.std(ddof=1) / np.sqrt(ratio.size)
    assert ratio.mean() > lb - 5 * se
    assert lb > 1.0  # strict for a non-orthogonal X
    Q = _haar(rng, 1, d)[0]
    assert bo.theorem3_ratio_lower_bound(np.linalg.eigvalsh(Q @ Q.T)) == pytest.approx(1.0, abs=1e-12)


def test_theorem3_rejects_bad_eigenvalues():
    with pytest.raises(ValueError, match="eigenvalues"):
        bo.theorem3_second_moment([1.0, 2.0, 3.0])   # trace != d
    with pytest.raises(ValueError, match="eigenvalues"):
        bo.theorem3_second_moment([np.nan, 1.0])


@given(st.integers(2, 7), st.integers(0, 10_000))
def test_rownorm_jacobian_spectrum_matches_finite_differences(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n) * rng.uniform(0.1, 10)
    f = lambda v: v / np.linalg.norm(v)
    h = 1e-6 * np.linalg.norm(x)
    J = np.column_stack([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(n)])
    ev = np.sort(np.linalg.eigvalsh((J + J.T) / 2))
    np.testing.assert_allclose(ev, bo.rownorm_jacobian_spectrum(x), atol=1e-6 / np.linalg.norm(x) + 1e-8)


@given(st.integers(2, 6), st.integers(0, 10_000))
def test_jacobian_opnorm_bound(d, seed):
    rng = np.random.default_rng(seed)
    X = _unit_rows(rng, d, d + 2, 1.0)
    W = _haar(rng, 1, d)[0]
    H = W @ X
    opnorm = max(1.0 / np.linalg.norm(H, axis=1))  # block-diagonal Jacobian, Lemma C.8
    assert opnorm <= bo.rownorm_jacobian_opnorm_bound(X) * (1 + 1e-10)


@given(st.integers(2, 8), st.integers(0, 10_000), st.floats(0.0, 3.0))
def test_lambda_min_lower_bound(d, seed, spread):
    rng = np.random.default_rng(seed)
    lam = np.exp(spread * rng.standard_normal(d))
    lam *= d / lam.sum()
    phi = -np.mean(np.log(lam))   # isometry gap of a trace-d Gram matrix (mean eigenvalue 1)
    assert lam.min() >= bo.lambda_min_lower_bound(phi, d) * (1 - 1e-12)


def test_theorem1_k_and_smallest_C():
    assert bo.theorem1_k(10, 0.1, C=0.5) == pytest.approx(0.5 * 100 * 2.0)
    layers = np.arange(0, 50)
    phi0, d = 1e-3, 20
    mean_phi = phi0 * np.exp(-layers / 7.0)
    C = bo.theorem1_smallest_C(layers, mean_phi, d, phi0)
    bound = bo.theorem1_bound(layers, d, phi0, C)
    assert np.all(mean_phi[1:] <= bound[1:] * (1 + 1e-12))
    # and any smaller C violates the bound somewhere
    assert np.any(mean_phi[1:] > bo.theorem1_bound(layers, d, phi0, 0.99 * C)[1:])
    with pytest.raises(ValueError, match="phi0"):
        bo.theorem1_k(10, np.inf)
