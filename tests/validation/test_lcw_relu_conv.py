"""Tests of the LCW ReLU / conv claims (validation/papers/lcw/_conv.py, relu_lcw.py, conv_lcw.py,
claims_relu_conv.py)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from depthcheck.validation.papers.lcw import _conv
from depthcheck.validation.papers.lcw._conv import (ConvSpec, col2im, conv_preactivations, convnet_forward,
                                                    convnet_loss, convnet_loss_and_grad, im2col, init_convnet,
                                                    make_conv_loss_and_grad)
from depthcheck.validation.papers.lcw.claims_relu_conv import CLAIMS, NOT_CHECKABLE
from depthcheck.validation.papers.lcw.relu_lcw import shift_fraction


def _naive_conv(X, W, b, k):
    """Direct loops: Z[b, n, p, o] = Σ_{c,i,j} W[b, o, (c,i,j)] X[b, n, c, r+i, s+j] + b[b, o]."""
    B, n, c, h, w = X.shape
    oh, ow = h - k + 1, w - k + 1
    Wk = W.reshape(B, W.shape[1], c, k, k)
    Z = np.zeros((B, n, oh * ow, W.shape[1]))
    for r in range(oh):
        for s in range(ow):
            Z[:, :, r * ow + s, :] = np.einsum("bncij,bocij->bno", X[:, :, :, r:r + k, s:s + k],
                                               Wk) + b[:, None, :]
    return Z


def test_im2col_conv_matches_direct_loops():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2, 3, 2, 5, 6))
    W = rng.standard_normal((2, 4, 2 * 9))
    b = rng.standard_normal((2, 4))
    Z = im2col(X, 3) @ np.swapaxes(W, -1, -2)[:, None] + b[:, None, None, :]
    np.testing.assert_allclose(Z, _naive_conv(X, W, b, 3), atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(3, 6), st.integers(0, 2**32 - 1))
def test_col2im_is_the_adjoint_of_im2col(c, k, h, seed):
    """<im2col(X), G> = <X, col2im(G)> for all X, G."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((1, 2, c, h, h + 1))
    P = im2col(X, k)
    G = rng.standard_normal(P.shape)
    assert np.sum(P * G) == pytest.approx(np.sum(X * col2im(G, X.shape, k)), rel=1e-10, abs=1e-10)


@pytest.mark.parametrize("weights", ["standard", "lcw"])
def test_convnet_gradients_match_finite_differences(weights):
    rng = np.random.default_rng(1)
    spec = ConvSpec(side=6, channels=2, convs=(3, 4), k=3, weights=weights)
    P = [p + 0.1 * rng.standard_normal(p.shape) for p in init_convnet(spec, rng, 2)]
    X = rng.standard_normal((2, 5, 2, 6, 6))
    y = rng.integers(0, 10, (2, 5))
    _, G = convnet_loss_and_grad(P, X, y, spec)
    eps = 1e-6
    for i, p in enumerate(P):
        for _ in range(6):
            idx = tuple(int(rng.integers(0, s)) for s in p.shape)
            Pp = [q.copy() for q in P]
            Pm = [q.copy() for q in P]
            Pp[i][idx] += eps
            Pm[i][idx] -= eps
            fd = (convnet_loss(Pp, X, y, spec) - convnet_loss(Pm, X, y, spec))[idx[0]] / (2 * eps)
            assert G[i][idx] == pytest.approx(fd, abs=1e-7), (i, idx)


def test_lcw_kernels_sum_to_zero_and_kill_a_common_input_mean():
    """An LCW conv layer maps a constant image (every patch = γ 1_m) to its bias exactly."""
    rng = np.random.default_rng(2)
    spec = ConvSpec(side=5, channels=3, convs=(4,), k=3, weights="lcw")
    P = init_convnet(spec, rng, 2)
    W = _conv._kernels(P, spec)[0]
    np.testing.assert_allclose(W.sum(axis=-1), 0.0, atol=1e-12)
    Z = conv_preactivations(P, np.full((2, 1, 3, 5, 5), 0.7), spec)[0]
    np.testing.assert_allclose(Z, 0.0, atol=1e-12)


def test_minibatch_closure_and_validation():
    rng = np.random.default_rng(3)
    spec = ConvSpec(side=6, convs=(2,), k=3)
    P = init_convnet(spec, rng, 2)
    X = rng.standard_normal((2, 7, 1, 6, 6))
    y = rng.integers(0, 10, (2, 7))
    f = make_conv_loss_and_grad(spec, X, y)
    idx = np.array([0, 3, 5])
    np.testing.assert_allclose(f(P, idx)[0], convnet_loss(P, X[:, idx], y[:, idx], spec))
    assert convnet_forward(P, X, spec).shape == (2, 10, 7)
    with pytest.raises(ValueError, match="weights"):
        ConvSpec(weights="other")
    with pytest.raises(ValueError, match="X must"):
        convnet_loss(P, X[:, :, :, :5], y, spec)
    with pytest.raises(ValueError, match="y must"):
        convnet_loss(P, X, y + 10, spec)


def test_shift_fraction_exact_values():
    # two units, three samples: means 1 and 0, second moments (1+1+1)/3 = 1 and (4+0+4)/3
    Z = np.array([[[1.0, 1.0, 1.0], [2.0, 0.0, -2.0]]])
    assert shift_fraction(Z)[0] == pytest.approx(1.0 / (1.0 + 8.0 / 3.0))


def test_relu_layer_two_fraction_is_one_over_pi_for_gaussian_inputs():
    """Independent computation of §2 of docs/derivations/lcw_conv.md: a = relu(N(0, s_j²))."""
    rng = np.random.default_rng(4)
    m, n, N = 400, 400, 20000
    s = rng.uniform(0.5, 2.0, (m, 1))
    A = np.maximum(s * rng.standard_normal((m, N)), 0.0)
    W = rng.standard_normal((n, m)) / math.sqrt(m)
    assert shift_fraction((W @ A)[None])[0] == pytest.approx(1.0 / math.pi, abs=0.03)


@pytest.mark.parametrize("claim", [c for c in CLAIMS if c.id.endswith("_shift")], ids=lambda c: c.id)
def test_claims_simulate_tiny_config(claim):
    cfg = claim.config("quick")
    if claim.id == "lcw.relu_mlp_shift":
        cfg = dict(cfg, depth=3, width=16, samples=40)
    else:
        cfg = dict(cfg, convs=[3, 4], samples=30)
    ev = claim.simulate(cfg, np.random.default_rng(5), 3, "numpy")
    assert set(ev) == {"R_standard", "R_lcw"}
    n_layers = cfg.get("depth", len(cfg.get("convs", [])))
    for v in ev.values():
        assert v.shape == (3, n_layers) and np.all(np.isfinite(v)) and np.all(v >= 0)
    v = claim.judge(cfg, claim.predict(cfg), ev, 1e-3)
    assert v.verdict in ("PASS", "FAIL", "INCONCLUSIVE")


def test_claims_declare_power_and_not_checkable_records():
    for c in CLAIMS:
        assert c.kind in ("statistical", "finding") and c.sensitivity is not None and c.mutations
    assert NOT_CHECKABLE and all(set(n.instead) for n in NOT_CHECKABLE)


def test_coupled_lcw_params_are_the_zero_sum_projection_of_the_standard_draw():
    """B_m V = (I − 11ᵀ/m) W · √(m/(m − 1)), computed independently with an explicit projector."""
    from depthcheck.kernels.nn.lcw import basis_apply
    from depthcheck.validation.papers.lcw.conv_train import coupled_lcw_params
    rng = np.random.default_rng(6)
    spec = ConvSpec(convs=(5,), k=3)
    P = init_convnet(spec, rng, 3)
    Q = coupled_lcw_params(P, 1)
    m = P[0].shape[-1]
    proj = np.eye(m) - np.ones((m, m)) / m
    np.testing.assert_allclose(basis_apply(Q[0]), P[0] @ proj * math.sqrt(m / (m - 1)), atol=1e-12)
    for a, b in zip(P[1:], Q[1:]):
        np.testing.assert_array_equal(a, b)
        assert a is not b


def test_coupled_lcw_law_has_variance_g2_over_m_minus_1():
    """V = B_mᵀ G g/√(m−1) has i.i.d. coordinates of variance g²/(m − 1) (orthonormal rows)."""
    from depthcheck.validation.papers.lcw.conv_train import coupled_lcw_params
    rng = np.random.default_rng(7)
    m, g = 9, math.sqrt(2.0)
    W = g / math.sqrt(m) * rng.standard_normal((4000, 8, m))
    V = coupled_lcw_params([W, np.zeros(1)], 1)[0]
    C = np.cov(V.reshape(-1, m - 1).T)
    np.testing.assert_allclose(C, g * g / (m - 1) * np.eye(m - 1), atol=0.01)


def test_conv_training_simulate_tiny_config_and_mean_coded_images():
    from depthcheck.validation.papers.lcw.claims_relu_conv import CONV_TRAINING
    from depthcheck.validation.papers.lcw.conv_train import conv_images
    cfg = dict(CONV_TRAINING.config("quick"), convs=[2], steps=3)
    ev = CONV_TRAINING.simulate(cfg, np.random.default_rng(8), 2, "numpy")
    assert ev["loss_lcw"].shape == ev["loss_standard"].shape == (2, 4)
    assert ev["rho"].shape == (2,) and all(np.all(np.isfinite(v)) for v in ev.values())
    np.testing.assert_allclose(ev["rho"], np.log(ev["loss_lcw"].mean(1)
                                                 / ev["loss_standard"].mean(1)))
    v = CONV_TRAINING.judge(cfg, 0.0, ev, 1e-3)
    assert v.verdict in ("PASS", "FAIL", "INCONCLUSIVE")
    X, y = conv_images(dict(cfg, data="mean_coded", classes=[0, 1], noise_sd=0.0),
                       np.random.default_rng(9), 2)
    np.testing.assert_allclose(X, np.broadcast_to(y[:, :, None, None, None], X.shape))
    with pytest.raises(ValueError, match="data"):
        conv_images(dict(cfg, data="other"), np.random.default_rng(9), 1)


# ---- BN in the conv net (lcw.conv_bn_training), ReLU MLP training (lcw.relu_mlp_training)
@pytest.mark.parametrize("weights", ["standard", "lcw"])
def test_convnet_with_bn_gradients_match_finite_differences(weights):
    rng = np.random.default_rng(11)
    spec = ConvSpec(side=6, channels=2, convs=(3, 4), k=3, weights=weights, bn=True)
    P = [p + 0.3 * rng.standard_normal(p.shape) for p in init_convnet(spec, rng, 2)]
    assert len(P) == 3 * 2 + 2
    X = rng.standard_normal((2, 5, 2, 6, 6))
    y = rng.integers(0, 10, (2, 5))
    _, G = convnet_loss_and_grad(P, X, y, spec)
    eps = 1e-6
    for i, p in enumerate(P):
        for _ in range(6):
            idx = tuple(int(rng.integers(0, s)) for s in p.shape)
            Pp = [q.copy() for q in P]
            Pm = [q.copy() for q in P]
            Pp[i][idx] += eps
            Pm[i][idx] -= eps
            fd = (convnet_loss(Pp, X, y, spec) - convnet_loss(Pm, X, y, spec))[idx[0]] / (2 * eps)
            assert G[i][idx] == pytest.approx(fd, abs=1e-7), (i, idx)


def test_convnet_bn_normalises_each_channel_over_images_and_positions():
    """With gain g and shift β the ReLU input of channel o has mean β_o and biased sd |g_o| over
    (images, positions), whatever the kernel scale and bias (computed independently here)."""
    rng = np.random.default_rng(12)
    spec = ConvSpec(side=5, channels=1, convs=(3,), k=3, bn=True)
    P = init_convnet(spec, rng, 2)
    P[0] = 7.0 * P[0]
    P[1] = rng.standard_normal(P[1].shape)   # β
    P[2] = rng.uniform(0.5, 2.0, P[2].shape)  # g
    X = rng.uniform(0.0, 1.0, (2, 9, 1, 5, 5))
    Z = conv_preactivations(P, X, spec)[0]          # (B, n, P, C)
    raw = _naive_conv(X, P[0], np.zeros((2, 3)), 3)
    mu = raw.mean(axis=(1, 2), keepdims=True)
    sd = raw.std(axis=(1, 2), keepdims=True)
    expect = P[2][:, None, None, :] * (raw - mu) / sd + P[1][:, None, None, :]
    np.testing.assert_allclose(Z, expect, atol=1e-10)
    with pytest.raises(ValueError, match="params must hold 5"):
        convnet_loss(P[:-1], X, np.zeros((2, 9), dtype=int), spec)
    with pytest.raises(ValueError, match="bn"):
        ConvSpec(bn=1)


def test_coupled_lcw_params_with_bn_stride_projects_kernels_only():
    from depthcheck.kernels.nn.lcw import basis_apply
    from depthcheck.validation.papers.lcw.conv_train import coupled_lcw_params
    rng = np.random.default_rng(13)
    spec = ConvSpec(convs=(4, 5), k=3, bn=True)
    P = [p + rng.standard_normal(p.shape) for p in init_convnet(spec, rng, 2)]
    Q = coupled_lcw_params(P, 2, stride=3)
    for l in range(2):
        m = P[3 * l].shape[-1]
        proj = np.eye(m) - np.ones((m, m)) / m
        np.testing.assert_allclose(basis_apply(Q[3 * l]), P[3 * l] @ proj * math.sqrt(m / (m - 1)),
                                   atol=1e-12)
    for i in (1, 2, 4, 5, 6, 7):
        np.testing.assert_array_equal(P[i], Q[i])


def test_coupled_lcw_mlp_is_the_zero_sum_projection_layer_by_layer():
    from depthcheck.kernels.nn.lcw import basis_apply
    from depthcheck.kernels.nn.mlp import MLPSpec, init_mlp
    from depthcheck.validation.papers.lcw.relu_train import coupled_lcw_mlp
    rng = np.random.default_rng(14)
    spec = MLPSpec((6, 5, 4, 3), "relu", "xent", "standard", True)
    P = init_mlp(spec, rng, trials=2)
    Q = coupled_lcw_mlp(P, spec)
    widx = spec.weight_index()
    for i, p in enumerate(P):
        if i in widx:
            m = p.shape[-1]
            proj = np.eye(m) - np.ones((m, m)) / m
            assert Q[i].shape == p.shape[:-1] + (m - 1,)
            np.testing.assert_allclose(basis_apply(Q[i]), p @ proj * math.sqrt(m / (m - 1)),
                                       atol=1e-12)
        else:
            np.testing.assert_array_equal(p, Q[i])


def test_relu_mlp_training_simulate_tiny_config_and_judge():
    from depthcheck.validation.papers.lcw.claims_relu_conv import RELU_MLP_TRAINING
    cfg = dict(RELU_MLP_TRAINING.config("quick"), depth=2, width=8, steps=3)
    ev = RELU_MLP_TRAINING.simulate(cfg, np.random.default_rng(15), 3, "numpy")
    assert set(ev) == {"rho_0", "rho_1", "final_lcw_0", "final_standard_0", "final_lcw_1",
                       "final_standard_1"}
    assert all(v.shape == (3,) and np.all(np.isfinite(v)) for v in ev.values())
    v = RELU_MLP_TRAINING.judge(cfg, 0.0, ev, 1e-3)
    assert v.verdict in ("PASS", "FAIL", "INCONCLUSIVE") and v.extra["comparisons"] == 2
    # a clear sign pattern is judged as such; the reversed one FAILs
    good = dict(ev, rho_0=np.array([0.5, 0.51, 0.49]), rho_1=np.array([-0.5, -0.51, -0.49]))
    assert RELU_MLP_TRAINING.judge(cfg, 0.0, good, 1e-3).verdict == "PASS"
    bad = dict(good, rho_0=-good["rho_0"])
    assert RELU_MLP_TRAINING.judge(cfg, 0.0, bad, 1e-3).verdict == "FAIL"
    with pytest.raises(ValueError, match="expect"):
        RELU_MLP_TRAINING.judge(dict(cfg, expect=["slower"]), 0.0, ev, 1e-3)


def test_conv_bn_training_simulate_tiny_config():
    from depthcheck.validation.papers.lcw.claims_relu_conv import CONV_BN_TRAINING
    cfg = dict(CONV_BN_TRAINING.config("quick"), convs=[2], steps=3)
    ev = CONV_BN_TRAINING.simulate(cfg, np.random.default_rng(16), 2, "numpy")
    assert ev["loss_lcw"].shape == ev["loss_standard"].shape == (2, 4)
    for k in ("rho", "acc_lcw", "acc_standard", "acc_diff"):
        assert ev[k].shape == (2,)
    assert all(np.all(np.isfinite(v)) for v in ev.values())
    assert np.all((ev["acc_lcw"] >= 0) & (ev["acc_lcw"] <= 1))
    np.testing.assert_allclose(ev["acc_diff"], ev["acc_lcw"] - ev["acc_standard"])
    v = CONV_BN_TRAINING.judge(cfg, 0.0, ev, 1e-3)
    assert v.verdict in ("PASS", "FAIL", "INCONCLUSIVE")
