import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import integrate

from depthcheck.kernels.nn.mlp import MLPSpec, make_loss_and_grad

from depthcheck.validation.papers.linear_nets import claims_convergence as cc
from depthcheck.validation.papers.linear_nets.convergence_time import (
    balanced_norm_init, bound_transition, flow_gradients, flow_step)
from depthcheck.validation.papers.linear_nets.relu_growth import (
    balanced_output_gain, rate_ratios)


def test_flow_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    W = [rng.standard_normal((1, 4, 3)), rng.standard_normal((1, 2, 4))]
    S = rng.standard_normal((1, 2, 3))

    def loss(W):
        return 0.5 * np.sum((S - W[1] @ W[0]) ** 2)
    G, _ = flow_gradients(W, S)
    eps = 1e-6
    for j in range(2):
        for idx in [(0, 0, 0), (0, 1, 2)]:
            Wp = [w.copy() for w in W]
            Wm = [w.copy() for w in W]
            Wp[j][idx] += eps
            Wm[j][idx] -= eps
            fd = (loss(Wp) - loss(Wm)) / (2 * eps)
            assert abs(-G[j][idx] - fd) < 1e-6


def test_simulate_shapes_tiny():
    for claim in cc.CLAIMS:
        cfg = claim.config("quick")
        if claim.id.endswith("theorem3_max_rate"):
            cfg["depths"] = [2, 3]
        elif claim.id.endswith("glorot_gap"):
            cfg["inits"] = 50
        elif claim.id.endswith("relu_rate_ratio"):
            cfg.update(widths=[64, 8, 8, 10], n_samples=40, T=1.0, eta=0.1)
        ev = claim.simulate(cfg, np.random.default_rng(1), 3, "numpy")
        for k, v in ev.items():
            assert v.shape[0] == 3 and np.all(np.isfinite(v)), k


def test_homogeneity_identity_on_relu_net():
    # <W_l, dL/dW_l> is the same for every layer of a bias-free ReLU net (the basis of
    # relu_rate_ratio), computed from the library's gradient, checked against finite differences
    rng = np.random.default_rng(3)
    widths = (6, 5, 4, 3)
    spec = MLPSpec(widths, activation="relu", loss="xent", bias=False)
    X = rng.standard_normal((6, 20))
    y = rng.integers(0, 3, 20)
    f = make_loss_and_grad(spec, X, y)
    P = [rng.standard_normal((b, a)) / math.sqrt(a) for a, b in zip(widths[:-1], widths[1:])]
    loss, G = f(P)
    inner = [float(np.sum(p * g)) for p, g in zip(P, G)]
    assert np.allclose(inner, inner[0], rtol=1e-9, atol=1e-12)
    eps = 1e-6  # d/dε L(W_l(1+ε)) at 0 = <W_l, dL/dW_l>
    for l in range(3):
        Pp = [p * (1 + eps) if i == l else p for i, p in enumerate(P)]
        Pm = [p * (1 - eps) if i == l else p for i, p in enumerate(P)]
        fd = (float(f(Pp)[0]) - float(f(Pm)[0])) / (2 * eps)
        assert abs(fd - inner[l]) < 1e-6


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0.5, 5.0), min_size=3, max_size=3), st.floats(0.01, 3.0))
def test_rate_ratios_equal_squared_growth(w0, g):
    # equal squared growth g: the measured ratio equals the predicted one exactly
    wa = np.array(w0)
    wb = np.sqrt(wa ** 2 + g)
    rho, pred = rate_ratios(wa, wb)
    assert np.allclose(rho, pred, atol=1e-10)
    # ...and a layer whose squared norm grows 1.1 times faster shifts its ratio by log 1.1
    wb2 = wb.copy()
    wb2[-1] = math.sqrt(wa[-1] ** 2 + 1.1 * g)
    rho2, pred2 = rate_ratios(wa, wb2)
    assert math.isclose(rho2[-1] - pred2[-1], math.log(1.1), abs_tol=1e-9)
    assert np.allclose(rho2[:-1], pred2[:-1], atol=1e-10)


def test_rate_ratios_bad_input():
    with pytest.raises(ValueError, match="w_b"):
        rate_ratios([1.0, 2.0], [1.5, 1.9])
    with pytest.raises(ValueError, match="w_a"):
        rate_ratios([1.0, 2.0], [1.5, 2.5, 3.0])


def test_balanced_output_gain_matches_expected_norm():
    rng = np.random.default_rng(0)
    g = balanced_output_gain([64, 32, 10])
    W = g / math.sqrt(32) * rng.standard_normal((4000, 10, 32))
    assert abs(np.mean(np.sum(W ** 2, axis=(1, 2))) / (2 * 32) - 1) < 0.01


def test_bound_transition_against_quadrature_and_logistic():
    # N = 2: du/dt = K (s − u) u is logistic, t_x = log(x(s−u0)/(u0(1−x)))/(K s)
    s, u0, c = 1.5, 0.01, 0.2
    K = 2 * (1 + c)
    t_lo, t_hi, frac = bound_transition(u0, s, 2, c)
    t = [math.log(x * (s - u0) / (u0 * (1 - x))) / (K * s) for x in (0.1, 0.9)]
    assert math.isclose(t_lo, t[0], rel_tol=1e-8) and math.isclose(t_hi, t[1], rel_tol=1e-8)
    K4 = 4 * (1 + c) ** 1.5
    q, _ = integrate.quad(lambda u: 1 / (K4 * (s - u) * u ** 1.5), u0, 0.9 * s, epsrel=1e-10)
    assert math.isclose(bound_transition(u0, s, 4, c)[1], q, rel_tol=1e-7)
    with pytest.raises(ValueError, match="u0"):
        bound_transition(0.2, 1.0, 3, 0.0)


def test_balanced_norm_init_is_balanced_with_product_target():
    rng = np.random.default_rng(4)
    target = np.array([0.3, 2.0, 7.5])
    W = balanced_norm_init(rng, 3, [10, 8, 8, 8, 3], target)
    w = np.stack([np.linalg.norm(x, axis=(-2, -1)) for x in W], -1)
    assert np.allclose(w, w[:, :1])
    assert np.allclose(w.prod(-1), target)
    with pytest.raises(ValueError, match="target"):
        balanced_norm_init(rng, 3, [4, 3, 2], np.array([1.0, -1.0, 1.0]))


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 6), st.integers(0, 10_000))
def test_flow_preserves_squared_norm_differences(N, seed):
    # d||W_j||²/dt = 2<W_j, G_j> = 2<Σ_yx − W_e, W_e> for every layer (the invariant behind
    # "balanced in norm stays balanced"), computed independently from W_e and S
    rng = np.random.default_rng(seed)
    widths = [5] + [4] * (N - 1) + [3]
    W = [rng.standard_normal((2, b, a)) / math.sqrt(a) for a, b in zip(widths[:-1], widths[1:])]
    S = rng.standard_normal((2, 3, 5))
    G, We = flow_gradients(W, S)
    ref = np.einsum("bij,bij->b", S - We, We)
    for x, g in zip(W, G):
        assert np.allclose(np.einsum("bij,bij->b", x, g), ref, rtol=1e-9, atol=1e-12)


def test_flow_step_caps_relative_change():
    rng = np.random.default_rng(5)
    W = [rng.standard_normal((4, 3, 3)) for _ in range(2)]
    G = [rng.standard_normal((4, 3, 3)) * np.array([1e-6, 1e-3, 1.0, 10.0])[:, None, None]
         for _ in range(2)]
    step = flow_step(W, G, 0.5, 0.01)
    rel = np.max([np.linalg.norm(step[:, None, None] * g, axis=(-2, -1))
                  / np.linalg.norm(x, axis=(-2, -1)) for x, g in zip(W, G)], 0)
    assert np.all(step <= 0.5) and np.all(rel <= 0.01 + 1e-12)
    assert step[0] == 0.5 and np.isclose(rel[3], 0.01)  # capped by h, resp. by eps
    assert np.all(flow_step(W, G, 0.5, 0.0) == 0.5)


def test_t3_adaptive_path_matches_fixed_step():
    # the plateau's long steps do not change the crossing time or q beyond Euler error
    cfg = cc.CLAIM_T3_RATE.config("quick")
    ev = {}
    for eps in (0.0, 0.003):
        c = dict(cfg, depths=[4], eps=eps)
        ev[eps] = cc.CLAIM_T3_RATE.simulate(c, np.random.default_rng(2), 4, "numpy")
    assert np.allclose(ev[0.0]["t_cross"], ev[0.003]["t_cross"], rtol=0.05)
    assert np.allclose(ev[0.0]["q"], ev[0.003]["q"], atol=0.1)


def test_t3_aligned_balanced_mode_obeys_bound():
    # one aligned balanced mode (jitter 0): <R, W_e> = (s − u)u exactly, so (du/dt)/F <= 1 up
    # to Euler error; the statistic must not report an excess there
    cfg = dict(cc.CLAIM_T3_RATE.config("quick"), depths=[2, 5], init="rank1", jitter=0.0)
    ev = cc.CLAIM_T3_RATE.simulate(cfg, np.random.default_rng(3), 4, "numpy")
    assert np.all(ev["q"] < 0.02)
