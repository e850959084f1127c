"""Lyapunov spectrum of Ginibre products (rank_lnn_lcw.md §D; seed 002 Lemma 3 quantified).

Every expected value here is computed independently of depthcheck.theory.lyapunov: numerical integration
of E log|a| for one entry, a hand-written QR (Benettin) iteration, or Monte Carlo of log|det A|.
"""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate

from depthcheck.theory.lyapunov import (collapse_rate, log_abs_det_mean, lyapunov_exponents_ginibre, lyapunov_gap, singular_value_ratio)

EULER_GAMMA = 0.5772156649015329


def _elog_abs_normal():
    """E log|x|, x ~ N(0, 1), by quadrature (two halves to handle the log singularity)."""
    f = lambda x: math.log(x) * math.exp(-x * x / 2) * math.sqrt(2 / math.pi)
    return integrate.quad(f, 0, 1)[0] + integrate.quad(f, 1, np.inf)[0]


def _elog_abs_complex():
    """E log|z|, z standard complex Gaussian (|z|² ~ Exp(1)), by quadrature."""
    f = lambda t: 0.5 * math.log(t) * math.exp(-t)
    return integrate.quad(f, 0, 1)[0] + integrate.quad(f, 1, np.inf)[0]


def test_d1_real_is_e_log_abs_normal():
    mu = lyapunov_exponents_ginibre(1)
    assert mu.shape == (1,)
    assert mu[0] == pytest.approx(_elog_abs_normal(), abs=1e-10)
    assert mu[0] == pytest.approx(-(EULER_GAMMA + math.log(2)) / 2, abs=1e-12)


def test_d1_complex_is_e_log_abs_complex():
    mu = lyapunov_exponents_ginibre(1, complex=True)
    assert mu[0] == pytest.approx(_elog_abs_complex(), abs=1e-10)
    assert mu[0] == pytest.approx(-EULER_GAMMA / 2, abs=1e-12)


@given(st.integers(1, 60), st.floats(0.01, 100.0), st.booleans())
def test_sigma_shifts_by_log_sigma_and_spectrum_decreases(d, sigma, cx):
    base = lyapunov_exponents_ginibre(d, 1.0, cx)
    np.testing.assert_allclose(lyapunov_exponents_ginibre(d, sigma, cx), base + math.log(sigma),
                               rtol=0, atol=1e-12)
    assert np.all(np.diff(base) < 0)


@given(st.integers(1, 40), st.booleans())
def test_sum_equals_expected_log_det(d, cx):
    assert lyapunov_exponents_ginibre(d, 1.0, cx).sum() == pytest.approx(
        log_abs_det_mean(d, 1.0, cx), abs=1e-9)


@pytest.mark.parametrize("d,cx", [(3, False), (2, True)])
def test_expected_log_det_monte_carlo(d, cx):
    rng = np.random.default_rng(11)
    n = 200_000
    if cx:
        A = (rng.standard_normal((n, d, d)) + 1j * rng.standard_normal((n, d, d))) / math.sqrt(2)
    else:
        A = rng.standard_normal((n, d, d))
    x = np.log(np.abs(np.linalg.det(A)))
    assert abs(x.mean() - log_abs_det_mean(d, 1.0, cx)) < 5 * x.std() / math.sqrt(n)


def _qr_exponents(d, steps, chains, rng, cx=False):
    """Independent Benettin iteration (numpy QR, |diag R|), averaged over chains."""
    Q = np.broadcast_to(np.eye(d), (chains, d, d)).astype(complex if cx else float)
    acc = np.zeros((chains, d))
    for _ in range(steps):
        if cx:
            A = (rng.standard_normal((chains, d, d))
                 + 1j * rng.standard_normal((chains, d, d))) / math.sqrt(2)
        else:
            A = rng.standard_normal((chains, d, d))
        Q, R = np.linalg.qr(A @ Q)
        acc += np.log(np.abs(np.diagonal(R, axis1=-2, axis2=-1)))
    return acc / steps


@pytest.mark.parametrize("cx", [False, True])
def test_d2_against_long_qr_simulation(cx):
    # 64 chains x 3000 steps; per-chain sd of the mean log|R_kk| <= 1.2/sqrt(3000), so the
    # tolerance 5 se ~ 0.014 is far below the real/complex difference (>= 0.15).
    est = _qr_exponents(2, 3000, 64, np.random.default_rng(5), cx)
    mu = lyapunov_exponents_ginibre(2, complex=cx)
    se = est.std(0, ddof=1) / math.sqrt(est.shape[0])
    assert np.all(np.abs(est.mean(0) - mu) < 5 * se + 2e-3)   # + O(1/steps) initial-frame bias
    wrong = lyapunov_exponents_ginibre(2, complex=not cx)
    assert np.any(np.abs(est.mean(0) - wrong) > 10 * se)


def test_gap_asymptotics_and_rates():
    for d in (100, 10_000):
        assert 2 * d * lyapunov_gap(d) == pytest.approx(1.0, rel=5.0 / d)
    # μ2 − μ1 = −½[ψ(2) − ψ(3/2)] with tabulated ψ(2) = 1 − γ_E, ψ(3/2) = 2 − γ_E − 2 log 2
    assert collapse_rate(4) == pytest.approx(-0.5 * (2 * math.log(2) - 1), abs=1e-12)
    L = np.array([0.0, 10.0, 100.0])
    s = singular_value_ratio(L, 8)
    assert s[0] == 1.0 and np.all(np.diff(s) < 0)
    assert lyapunov_gap(5, 5) > lyapunov_gap(5, 2) > 0


@pytest.mark.parametrize("kwargs,match", [
    ({"d": 0}, "d"), ({"d": 3, "sigma": 0.0}, "sigma"), ({"d": 3, "sigma": -1.0}, "sigma"),
    ({"d": 3, "complex": "yes"}, "complex"), ({"d": 2.5}, "d")])
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        lyapunov_exponents_ginibre(**kwargs)


def test_bad_gap_input():
    with pytest.raises(ValueError, match="k"):
        lyapunov_gap(3, 4)
    with pytest.raises(ValueError, match="d"):
        lyapunov_gap(1)
    with pytest.raises(ValueError, match="L"):
        singular_value_ratio(-1.0, 3)
