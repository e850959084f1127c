"""Tests for depthcheck.theory.lcw: activation shift, variance gains and activation moments, against Monte
Carlo with tolerances of 5 standard errors (estimated from the samples themselves), and the
closed forms against independent quadrature (scipy.integrate.quad)."""
import math

import numpy as np
import pytest
from scipy import integrate
from scipy.special import expit

from depthcheck.theory.lcw import (activation_moments, activation_shift, angle_to_ones, backward_gain_lcw, backward_gain_standard, forward_gain_lcw, forward_gain_standard, init_variance, preactivation_variance, variance_preserving_gain, zero_sum_basis)


def _within_5se(samples, expected):
    samples = np.asarray(samples, dtype=float)
    se = samples.std(ddof=1) / math.sqrt(samples.size)
    assert abs(samples.mean() - expected) < 5 * se, (samples.mean(), expected, se)


def test_shift_forms_agree_and_vanish_on_lcw():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((7, 30))
    gamma = 0.37
    theta = angle_to_ones(W)
    np.testing.assert_allclose(activation_shift(W, gamma),
                               gamma * math.sqrt(30) * np.linalg.norm(W, axis=1) * np.cos(theta),
                               rtol=1e-12)
    B = zero_sum_basis(30)
    np.testing.assert_allclose(activation_shift(rng.standard_normal((5, 29)) @ B.T, gamma), 0.0,
                               atol=1e-13)
    np.testing.assert_allclose(angle_to_ones(np.ones((1, 4))), [0.0], atol=1e-7)


def test_shift_monte_carlo_any_law_with_mean_gamma():
    # E[w·a] = γ Σ w for correlated, non-Gaussian a with E a = γ 1 (no independence needed)
    rng = np.random.default_rng(1)
    m, N, gamma = 12, 200_000, 0.8
    w = rng.standard_normal(m)
    L = rng.standard_normal((m, m)) / math.sqrt(m)
    a = gamma + L @ (rng.exponential(1.0, size=(m, N)) - 1.0)
    _within_5se(w @ a, activation_shift(w, gamma))


@pytest.mark.parametrize("act", ["sigmoid", "relu", "tanh", "identity"])
@pytest.mark.parametrize("s", [0.5, 1.0, 3.0])
def test_activation_moments_against_quadrature(act, s):
    f = {"sigmoid": expit, "relu": lambda x: max(x, 0.0), "tanh": math.tanh,
         "identity": lambda x: x}[act]
    pdf = lambda x: math.exp(-x * x / (2 * s * s)) / (s * math.sqrt(2 * math.pi))  # noqa: E731
    m1 = integrate.quad(lambda x: f(x) * pdf(x), -np.inf, np.inf, epsabs=1e-13)[0]
    m2 = integrate.quad(lambda x: f(x) ** 2 * pdf(x), -np.inf, np.inf, epsabs=1e-13)[0]
    gamma, var = activation_moments(act, s)
    assert abs(gamma - m1) < 1e-9 and abs(var - (m2 - m1 * m1)) < 1e-9


def test_activation_moments_research_numbers():
    # research C.3 quotes σ_γ² = 0.0434 for sigmoid(N(0,1)) [its MC value], γ²/σ_γ² = 1/(π−1)
    g, v = activation_moments("sigmoid", 1.0)
    assert g == 0.5 and abs(v - 0.0434) < 1e-3
    g, v = activation_moments("relu", 2.0)
    assert math.isclose(g * g / v, 1 / (math.pi - 1), rel_tol=1e-12)


@pytest.mark.parametrize("act", ["sigmoid", "relu"])
def test_standard_gains_monte_carlo(act):
    rng = np.random.default_rng(2)
    m, n, N, T = 40, 30, 50, 400
    s_w2 = 1.3 / m
    gamma, s2 = activation_moments(act, 1.0)
    fwd, bwd = [], []
    for _ in range(T):
        W = math.sqrt(s_w2) * rng.standard_normal((n, m))
        A = (expit if act == "sigmoid" else lambda x: np.maximum(x, 0))(
            rng.standard_normal((m, N)))
        fwd.append(np.mean((W @ A) ** 2) / s2)
        bwd.append(np.mean((W.T @ rng.standard_normal((n, N))) ** 2))
    _within_5se(fwd, forward_gain_standard(m, s_w2, gamma, s2))
    _within_5se(bwd, backward_gain_standard(n, s_w2))


@pytest.mark.parametrize("act", ["sigmoid", "relu"])
def test_lcw_gains_monte_carlo(act):
    rng = np.random.default_rng(3)
    m, n, N, T = 40, 30, 50, 400
    s_v2 = 0.9 / (m - 1)
    B = zero_sum_basis(m)
    gamma, s2 = activation_moments(act, 1.0)
    fwd, bwd = [], []
    for _ in range(T):
        W = math.sqrt(s_v2) * rng.standard_normal((n, m - 1)) @ B.T
        A = (expit if act == "sigmoid" else lambda x: np.maximum(x, 0))(
            rng.standard_normal((m, N)))
        fwd.append(np.mean((W @ A) ** 2) / s2)
        bwd.append(np.mean((W.T @ rng.standard_normal((n, N))) ** 2))
    _within_5se(fwd, forward_gain_lcw(m, s_v2))
    _within_5se(bwd, backward_gain_lcw(n, m, s_v2))
    # and the standard forward gain is clearly larger than the LCW one here (shift term)
    assert forward_gain_standard(m, s_v2, gamma, s2) > 1.4 * forward_gain_lcw(m, s_v2)


def test_per_neuron_variance_monte_carlo():
    rng = np.random.default_rng(4)
    m, N = 15, 100_000
    w = rng.standard_normal(m)
    _, s2 = activation_moments("sigmoid", 2.0)
    z = w @ expit(2.0 * rng.standard_normal((m, N)))
    # variance of the sample variance: crude 5-s.e. bound via (μ4 − σ⁴)/N
    zc = z - z.mean()
    se = math.sqrt((np.mean(zc ** 4) - np.mean(zc ** 2) ** 2) / N)
    assert abs(zc.var() - preactivation_variance(w, s2)) < 5 * se


def test_square_lcw_layer_is_symmetric():
    for m in (2, 10, 333):
        assert math.isclose(forward_gain_lcw(m, 0.7), backward_gain_lcw(m, m, 0.7), rel_tol=1e-14)


def test_init_variances_and_gains():
    assert init_variance("standard", 64, 4.0) == 16 / 64
    assert init_variance("lcw", 64, 4.0) == 16 / 63
    assert variance_preserving_gain("sigmoid") == 4.0
    assert math.isclose(variance_preserving_gain("relu"), math.sqrt(2))
    # LCW forward gain with the sigmoid gain times σ'(0)² = 1/16 is exactly 1
    assert math.isclose(forward_gain_lcw(64, init_variance("lcw", 64, 4.0)) / 16, 1.0)


@pytest.mark.parametrize("bad, match", [
    (lambda: zero_sum_basis(1), "m"),
    (lambda: activation_shift(np.ones(3), float("nan")), "gamma"),
    (lambda: angle_to_ones(np.zeros((2, 3))), "zero weight vector"),
    (lambda: forward_gain_standard(10, 0.1, 0.5, 0.0), "sigma_gamma2"),
    (lambda: forward_gain_lcw(1, 0.1), "m must be > 1"),
    (lambda: activation_moments("swish", 1.0), "activation"),
    (lambda: activation_moments("sigmoid", -1.0), "s must"),
    (lambda: init_variance("haar", 4), "weights"),
    (lambda: preactivation_variance(np.array([np.inf]), 1.0), "W contains inf"),
])
def test_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        bad()
