"""Tests of depthcheck.theory.bn_lemmas against independent computations."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from depthcheck.theory import bn_lemmas as tl


def _phi(lam):
    lam = np.asarray(lam, float)
    # log AM − mean log cancels: for nearly equal eigenvalues rounding makes it slightly
    # negative (about d·eps), which the theory functions rightly refuse
    return max(math.log(lam.mean()) - float(np.mean(np.log(lam))), 0.0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(1e-3, 50.0), min_size=2, max_size=12))
def test_b1_interval_and_spectral_step_hold(raw):
    lam = np.asarray(raw) * len(raw) / sum(raw)
    d = len(raw)
    phi = _phi(lam)
    lo, hi = tl.lemma_b1_eigenvalue_interval(phi, d)
    assert lam.min() >= lo - 1e-9 and lam.max() <= hi * (1 + 1e-9)
    # φ = log AM − mean log cancels: its absolute rounding is ~d·eps, so near isometry (S ~ eps)
    # the comparison needs an absolute tolerance as well
    assert np.sum((lam - 1) ** 2) >= tl.spectral_deviation_lower_bound(phi, d) * (1 - 1e-9) - 1e-12


def test_b1_interval_is_nearly_tight_for_large_d():
    # one eigenvalue at 1 + x, the rest at 1 - x/(d-1): as d grows dφ -> h(x)
    d, x = 10_000, 0.5
    lam = np.full(d, 1 - x / (d - 1))
    lam[0] = 1 + x
    lo, hi = tl.lemma_b1_eigenvalue_interval(_phi(lam), d)
    assert hi - lam[0] < 0.6 and lam[0] <= hi


def test_corollary4_bound_matches_direct_formula():
    lam = np.array([3.0, 0.5, 0.5, 0.0])
    d = 4
    delta = 2 * sum((l - 1) ** 2 for l in lam) / (d * (d + 2))
    g = -2 * math.log(1 - delta / (2 * (1 + 2) ** 2))
    assert tl.corollary4_decrease_bound(lam) == pytest.approx(g, rel=1e-14)
    assert tl.corollary4_decrease_bound(lam) >= delta / 9


def test_corollary4_holds_in_expectation_small_monte_carlo():
    rng = np.random.default_rng(0)
    d = 6
    X = rng.standard_normal((d, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    lam = np.linalg.eigvalsh(X @ X.T)
    from depthcheck.kernels.random.haar import sample_orthogonal
    W = sample_orthogonal((4000,), d, rng)
    Y = W @ X
    a = np.sum(Y * Y, axis=-1)
    dec = -np.mean(np.log(a), axis=-1)                    # φ(X) − φ(Bn(WX)) (Lemma A.1)
    assert dec.mean() - 5 * dec.std() / math.sqrt(dec.size) >= tl.corollary4_decrease_bound(lam)


def test_b2_regimes_and_contraction():
    d = 9
    c = (d + 2) * (1 + 3) ** 2
    assert tl.lemma_b2_decrease_bound(0.001, d) == pytest.approx(2 * d * 0.001 / (d * c))
    assert tl.lemma_b2_decrease_bound(5.0, d) == pytest.approx(0.5 / (d * c))
    assert tl.lemma_b2_contraction(d) == pytest.approx(1 - 2 / c)


def test_c5_c6_values():
    d = 4
    b = tl.lemma_b2_decrease_bound(1 / 16, d)
    assert tl.lemma_c5_hitting_time_bound(2.0, d) == pytest.approx((2 - 1 / 16) / b)
    assert tl.lemma_c6_tail_sum_bound(d) == pytest.approx((1 / 16) / (1 - tl.lemma_b2_contraction(d)))


def test_a3_rotation_gives_vt():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((3, 5, 5))
    W, Vt = tl.corollary_a3_rotation(X)
    Y = W @ X
    Y /= np.linalg.norm(Y, axis=-1, keepdims=True)
    assert np.allclose(Y, Vt, atol=1e-10)
    assert np.allclose(W @ np.swapaxes(W, -1, -2), np.eye(5), atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 6), st.integers(2, 6), st.integers(0, 2**31))
def test_xent_gradient_bound(k, n, seed):
    rng = np.random.default_rng(seed)
    Z = 10 * rng.standard_normal((k, n))
    y = rng.integers(0, k, n)
    P = np.exp(Z - Z.max(0))
    P /= P.sum(0)
    G = (P - np.eye(k)[:, y]) / n
    assert np.linalg.norm(G) <= tl.xent_logit_gradient_bound(n) + 1e-12


def test_bad_input_raises():
    with pytest.raises(ValueError, match="phi"):
        tl.lemma_b1_eigenvalue_interval(-1.0, 3)
    with pytest.raises(ValueError, match="X"):
        tl.corollary_a3_rotation(np.ones((2, 3)))
    with pytest.raises(ValueError, match="eigenvalues"):
        tl.corollary4_decrease_bound([-1.0, 2.0])
    with pytest.raises(ValueError, match="phi_c"):
        tl.lemma_c6_tail_sum_bound(4, phi_c=1.0)
    with pytest.raises(ValueError, match="target_norm"):
        tl.mse_logit_gradient_bound(2, 2, 2, -1.0)


@pytest.mark.parametrize("d", [1, 4, 9, 64])
def test_c7_markov_step_values(d):
    k = (d + 2) * (1 + math.sqrt(d)) ** 2 / 2
    q, p, f = tl.lemma_c7_markov_failure_bound(d)
    assert q == pytest.approx(1 - 1 / (2 * k), rel=1e-14)
    assert p == pytest.approx((2 * k - 2) / (2 * k - 1), rel=1e-14)
    assert f == pytest.approx(1 - 1 / (2 * k * (2 * k - 1)), rel=1e-12)
    # the route through Markov gives a weaker tail bound than C.6's direct contraction
    assert (1 / (4 * d)) / (1 - f) > tl.lemma_c6_tail_sum_bound(d)


def test_c7_markov_bound_on_a_two_point_law():
    # Markov's inequality is tight for a two-point law: φ' ∈ {0, qφ·(1+ε)} with E φ' = ρφ
    d = 4
    rho = tl.lemma_b2_contraction(d)
    q, p, _ = tl.lemma_c7_markov_failure_bound(d)
    x = q * 1.000001                       # a failure value just above qφ (φ = 1)
    prob = rho / x                         # P(φ' = x) so that E φ' = ρ
    assert prob <= p and prob == pytest.approx(p, rel=1e-5)


def test_c7_bad_input_raises():
    with pytest.raises(ValueError, match="d"):
        tl.lemma_c7_markov_failure_bound(0)
