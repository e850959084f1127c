"""Tests for depthcheck.theory.linear_nets: balance invariants and Saxe et al.'s mode dynamics.

Independent references: scipy.integrate.solve_ivp / quad on the ODEs written out here, hand-coded
linear-net gradients, and Monte Carlo with 5-sigma tolerances.
"""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st
from scipy import integrate

from depthcheck.theory import linear_nets as ln


# ----------------------------------------------------------------------------- helpers
def chain(Ws):
    P = np.eye(Ws[0].shape[1])
    for W in Ws:
        P = W @ P
    return P


def linear_net_grads(Ws, X, Y):
    """Gradients of L = ½||W_N⋯W_1 X − Y||_F² / n, written out from seed 003 eq. (5)."""
    n = X.shape[1]
    R = (chain(Ws) @ X - Y) / n
    gradE = R @ X.T  # ∇L¹(W_e)
    grads = []
    for j in range(len(Ws)):
        left = chain(Ws[j + 1:]) if j + 1 < len(Ws) else np.eye(Ws[-1].shape[0])
        right = chain(Ws[:j]) if j > 0 else np.eye(Ws[0].shape[1])
        grads.append(left.T @ gradE @ right.T)
    return grads


def random_net(rng, widths, scale=0.7):
    return [scale * rng.standard_normal((widths[i + 1], widths[i])) / math.sqrt(widths[i])
            for i in range(len(widths) - 1)]


widths_st = st.lists(st.integers(1, 5), min_size=3, max_size=5)


# ----------------------------------------------------------------------------- balance
@given(widths_st, st.floats(1e-3, 0.5), st.floats(0.0, 0.3), st.integers(0, 2 ** 32 - 1))
def test_gd_balance_step_is_exact(widths, eta, lam, seed):
    rng = np.random.default_rng(seed)
    Ws = random_net(rng, widths)
    X = rng.standard_normal((widths[0], 6))
    Y = rng.standard_normal((widths[-1], 6))
    G = linear_net_grads(Ws, X, Y)
    new = [(1 - eta * lam) * W - eta * g for W, g in zip(Ws, G)]
    for j in range(len(Ws) - 1):
        D0 = ln.balance_matrix(Ws[j], Ws[j + 1])
        D1 = new[j + 1].T @ new[j + 1] - new[j] @ new[j].T  # by definition
        pred = ln.gd_balance_step(D0, G[j], G[j + 1], eta, weight_decay=lam)
        scale = 1 + max(np.abs(D1).max(), np.abs(D0).max())
        np.testing.assert_allclose(pred, D1, rtol=0, atol=1e-12 * scale)


@given(widths_st, st.floats(1e-3, 0.3), st.floats(0.0, 2.0), st.integers(0, 2 ** 32 - 1))
def test_per_layer_lr_expansion(widths, eta, ratio, seed):
    """The exact step equals D − (η_{j+1} − η_j) S_j + η_{j+1}²G'ᵀG' − η_j²GGᵀ for linear nets."""
    rng = np.random.default_rng(seed)
    Ws = random_net(rng, widths)
    X, Y = rng.standard_normal((widths[0], 5)), rng.standard_normal((widths[-1], 5))
    G = linear_net_grads(Ws, X, Y)
    W, V, g, gn = Ws[0], Ws[1], G[0], G[1]
    e, en = eta, eta * ratio
    S = V.T @ gn + gn.T @ V
    expanded = ln.balance_matrix(W, V) - (en - e) * S + en ** 2 * gn.T @ gn - e ** 2 * g @ g.T
    np.testing.assert_allclose(ln.per_layer_lr_balance_step(W, V, g, gn, e, en), expanded,
                               atol=1e-12 * (1 + np.abs(expanded).max()))
    # the identity behind Theorem 1 (eq. (7)): W_{j+1}ᵀ G_{j+1} = G_j W_jᵀ
    np.testing.assert_allclose(V.T @ gn, g @ W.T, atol=1e-13 * (1 + np.abs(g).max()))


def _flow(Ws0, X, Y, T, lam=0.0, eta=1.0):
    shapes = [W.shape for W in Ws0]
    sizes = [W.size for W in Ws0]

    def unpack(z):
        out, k = [], 0
        for sh, sz in zip(shapes, sizes):
            out.append(z[k:k + sz].reshape(sh))
            k += sz
        return out

    def rhs(t, z):
        Ws = unpack(z)
        G = linear_net_grads(Ws, X, Y)
        return np.concatenate([(-eta * lam * W - eta * g).ravel() for W, g in zip(Ws, G)])
    z0 = np.concatenate([W.ravel() for W in Ws0])
    sol = integrate.solve_ivp(rhs, (0, T), z0, method="DOP853", rtol=1e-11, atol=1e-12)
    assert sol.success
    return unpack(sol.y[:, -1])


@pytest.mark.parametrize("lam", [0.0, 0.2])
def test_gradient_flow_balance_invariant_and_weight_decay(lam):
    rng = np.random.default_rng(11)
    widths = [4, 3, 5, 2]
    Ws0 = random_net(rng, widths, scale=1.0)
    X, Y = rng.standard_normal((4, 8)), 2 * rng.standard_normal((2, 8))
    T = 3.0
    WsT = _flow(Ws0, X, Y, T, lam=lam, eta=1.0)
    for j in range(2):
        C = ln.balance_matrix(Ws0[j], Ws0[j + 1])
        DT = ln.balance_matrix(WsT[j], WsT[j + 1])
        np.testing.assert_allclose(DT, ln.balance_decay_weight_decay(C, T, 1.0, lam), atol=1e-8)
        # the weights did move (the test could fail)
        assert np.abs(WsT[j] - Ws0[j]).max() > 0.05
        # Lemma 2 in its sharp form
        gap = abs(np.linalg.norm(WsT[j + 1]) - np.linalg.norm(WsT[j]))
        if lam == 0.0:
            assert gap <= ln.frobenius_gap_bound(np.trace(C)) + 1e-9


def test_glorot_balance_trace_mean_monte_carlo():
    rng = np.random.default_rng(12)
    widths = [10, 8, 6, 3]
    M = 20000
    samples = []
    for _ in range(2):
        Ws = [rng.standard_normal((M // 2, widths[i + 1], widths[i]))
              * math.sqrt(2.0 / (widths[i] + widths[i + 1])) for i in range(3)]
        f = np.stack([np.sum(W ** 2, axis=(1, 2)) for W in Ws], -1)
        samples.append(f[:, 1:] - f[:, :-1])
    s = np.concatenate(samples)
    se = s.std(axis=0, ddof=1) / math.sqrt(M)
    pred = ln.glorot_balance_trace_mean(widths)
    assert np.all(np.abs(s.mean(axis=0) - pred) < 5 * se)
    # zero iff d_{j+1} = d_{j-1}
    np.testing.assert_allclose(ln.glorot_balance_trace_mean([4, 7, 4]), [0.0], atol=1e-15)


def test_decoupled_mode_invariant_and_ratio():
    """Seed 003 eq. (13) integrated for three unequal layer strengths: a_{j+1}² − a_j² stays c
    and the ratio obeys Cor. 2.4's √(1 + c/a_j²)."""
    s = 4.0
    a0 = np.array([0.3, 0.5, 0.2])

    def rhs(t, a):
        p = np.prod(a)
        return np.array([(s - p) * p / a[j] for j in range(3)])
    sol = integrate.solve_ivp(rhs, (0, 20), a0, method="DOP853", rtol=1e-12, atol=1e-14,
                              dense_output=True)
    a = sol.sol(np.linspace(0, 20, 50))
    c = a0[1:] ** 2 - a0[:-1] ** 2
    np.testing.assert_allclose(a[1:] ** 2 - a[:-1] ** 2, c[:, None] * np.ones((1, 50)), atol=1e-9)
    np.testing.assert_allclose(a[1:] / a[:-1], ln.mode_ratio(c[:, None], a[:-1]), rtol=1e-9)
    assert abs(np.prod(a[:, -1]) - s) < 1e-6  # converged, so the check covered the whole path


# ----------------------------------------------------------------------------- Saxe
@pytest.mark.parametrize("n_layers", [2, 3, 4, 5, 10])
def test_saxe_trajectory_solves_its_ode(n_layers):
    """Compare with solve_ivp on τ du/dt = (N_l − 1) u^{2 − 2/(N_l−1)} (s − u), written here."""
    s, u0, tau = np.array([3.0, 1.5]), np.array([1e-2, 0.2]), 0.7
    N = n_layers - 1
    t = np.linspace(0, 12, 40)

    def rhs(_, u):
        return N * np.abs(u) ** (2 - 2 / N) * (s - u) / tau
    ref = integrate.solve_ivp(rhs, (0, 12), u0, method="LSODA", t_eval=t, rtol=1e-11,
                              atol=1e-13).y
    got = ln.saxe_trajectory(t, s, u0, n_layers, tau=tau)
    assert got.shape == (2, 40)
    np.testing.assert_allclose(got, ref, rtol=1e-7, atol=1e-10)
    # and the rhs helper is the same ODE
    np.testing.assert_allclose(ln.saxe_mode_rhs(got[:, 5], s, n_layers, tau), rhs(0, got[:, 5]))


def test_two_layer_closed_form_formula():
    s, u0, tau = 2.0, 0.01, 1.3
    t = np.array([0.0, 0.5, 2.0, 10.0])
    e = np.exp(2 * s * t / tau)
    np.testing.assert_allclose(ln.saxe_two_layer(t, s, u0, tau), s * e / (e - 1 + s / u0),
                               rtol=1e-14)
    # no overflow for huge times
    assert ln.saxe_two_layer(np.array([1e5]), s, u0, tau)[0] == pytest.approx(s)


@pytest.mark.parametrize("n_layers", [2, 3, 4, 5, 10, 50])
def test_time_to_learn_matches_trajectory_and_quadrature(n_layers):
    s, u0, uf, tau = 3.0, 1e-3, 2.7, 2.0
    t = ln.saxe_time_to_learn(u0, uf, s, n_layers, tau)
    N = n_layers - 1
    ref, _ = integrate.quad(lambda u: 1.0 / (u ** (2 - 2 / N) * (s - u)), u0, uf, limit=500,
                            epsrel=1e-11, points=[u0 * 10, 0.1, 1.0])
    assert t == pytest.approx(tau / N * ref, rel=1e-8)
    assert ln.saxe_trajectory(np.array([0.0, t]), s, u0, n_layers, tau)[-1] == \
        pytest.approx(uf, rel=1e-7)


def test_deep_approximation_is_the_u_squared_integral():
    s, u0, uf = 3.0, 1e-3, 2.7
    ref, _ = integrate.quad(lambda u: 1.0 / (u ** 2 * (s - u)), u0, uf, epsrel=1e-12, limit=500,
                            points=[1e-2, 0.1])
    for n_layers in (5, 50):
        assert ln.saxe_time_to_learn_deep_approx(u0, uf, s, n_layers) == \
            pytest.approx(ref / (n_layers - 1), rel=1e-9)
    # research-file numbers (rank_lnn_lcw.md §B.7): exact 5.3683 vs approximation 6.82 at N_l = 50
    assert ln.saxe_time_to_learn(u0, uf, s, 50) == pytest.approx(5.3683, abs=1e-4)
    assert ln.saxe_time_to_learn_deep_approx(u0, uf, s, 50) == pytest.approx(6.8233, abs=1e-3)


@pytest.mark.parametrize("n_layers", [2, 3, 5])
def test_gd_recursion_converges_at_first_order(n_layers):
    s, u0, T = 2.0, 0.05, 6.0
    errs = []
    for h in (0.02, 0.01, 0.005):
        K = int(round(T / h))
        gd = ln.saxe_gd_trajectory(K, s, u0, n_layers, h)
        ode = ln.saxe_trajectory(np.arange(K + 1) * h, s, u0, n_layers)
        errs.append(np.abs(gd - ode).max())
    rates = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert np.all(np.abs(rates - 1) < 0.1), rates


def test_bad_input_raises():
    with pytest.raises(ValueError, match="n_layers"):
        ln.saxe_time_to_learn(0.1, 0.5, 1.0, 1)
    with pytest.raises(ValueError, match="u0"):
        ln.saxe_trajectory(np.array([0.0, 1.0]), 1.0, -0.1, 3)
    with pytest.raises(ValueError, match="u0 < uf < s"):
        ln.saxe_time_to_learn(0.5, 0.4, 1.0, 3)
    with pytest.raises(ValueError, match="t must"):
        ln.saxe_trajectory(np.array([1.0, 0.0]), 1.0, 0.1, 4)
    with pytest.raises(ValueError, match="W_next"):
        ln.balance_matrix(np.ones((3, 2)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="eta"):
        ln.gd_balance_step(np.eye(2), np.ones((2, 2)), np.ones((2, 2)), -1.0)
    with pytest.raises(ValueError, match="widths"):
        ln.glorot_balance_trace_mean([3, 0, 2])
    with pytest.raises(ValueError, match="W"):
        ln.balance_matrix(np.array([[np.nan]]), np.ones((1, 1)))
