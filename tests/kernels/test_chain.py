"""Tests for depthcheck.kernels.simulate_chain (deep Monte Carlo chains, log-scale backprop).

Oracles: an explicit forward pass written here with the stored weights (``chain_weights``),
``theory``'s statistics, and ``depthcheck.kernels.forward_backward`` (an independent full-storage
backprop) for the gradients; theory for the qualitative depth behaviour (seed 001 Lemma A.1 /
Lemma 2 / Theorem 1, the Gaussian Lyapunov exponent of rank_lnn_lcw.md §D).
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.special import digamma

from depthcheck.kernels import forward_backward, simulate_chain
from depthcheck.kernels.nn.activations import activation_forward
from depthcheck.kernels.chain.driver import ChainBreakdownError, chain_weights
from depthcheck.kernels.backends.numpy import householder_matrix
from depthcheck.kernels.random.haar import apply_householder_haar, haar_householder_vectors
from depthcheck.kernels.nn.norms import norm_forward
from depthcheck.theory.isometry import isometry_gap
from depthcheck.theory.rank import rank_lower_bound, soft_rank

ALL_STATS = ("isometry_gap", "rank_lower_bound", "soft_rank", "row_norm_cv", "frobenius_M",
             "top_singular_values")

# (weights, norm, activation, order, residual, gain_exponent, weight_std)
CONFIGS = [
    ("haar", "rownorm", "identity", "norm_act", None, None, None),      # seed 001 eq. (3)
    ("haar", "bn", "tanh", "act_norm", None, 0.4, None),
    ("gaussian", "bn_nomean", "identity", "norm_act", 0.3, None, 1.0),  # seed 002 eq. (1)
    ("uniform", "bn", "sin", "norm_act", None, 0.4, None),
    ("gaussian", "none", "identity", "norm_act", None, None, 1.0),      # rescaled vanilla chain
    ("uniform", "none", "leaky_relu", "act_norm", 0.5, None, None),     # rescaled, residual
    ("gaussian", "none", "tanh", "norm_act", None, 0.2, 2.0),           # unrescaled vanilla
    ("haar", "rownorm", "sigmoid", "act_norm", 0.7, None, None),
]


def _kw(cfg):
    weights, norm, act, order, res, r, std = cfg
    return dict(weights=weights, norm=norm, activation=act, order=order, residual=res,
                gain_exponent=r, weight_std=std)


def _explicit_forward(X, Ws, norm, activation, order, residual, gain_exponent):
    """Layer by layer with stored weights: returns [H_0..H_L] and the normalisation inputs."""
    H = X
    Hs, pres = [X], [X]
    for l, W in enumerate(Ws, start=1):
        A = W @ H
        if residual is not None:
            A = H + residual * A
        g = 1.0 if gain_exponent is None else l ** (-gain_exponent)
        if order == "norm_act":
            N, _ = norm_forward(norm, A)
            H, pre = activation_forward(activation, g * N), A
        else:
            pre = activation_forward(activation, g * A)
            H, _ = norm_forward(norm, pre)
        Hs.append(H)
        pres.append(pre)
    return Hs, pres


def _expected_stats(H, pre, tau, rescaled):
    d, n = H.shape[-2:]
    fro = np.sqrt(np.sum(H * H, axis=(-2, -1)))
    Hr = H / fro[:, None, None] if rescaled else H
    b = np.linalg.norm(pre, axis=-1)
    M = Hr @ np.swapaxes(Hr, -1, -2) / n
    return {
        "isometry_gap": isometry_gap(H),
        "rank_lower_bound": rank_lower_bound(H),
        "soft_rank": soft_rank(H * (np.sqrt(d * n) / fro)[:, None, None], tau),
        "row_norm_cv": b.std(axis=-1) / b.mean(axis=-1),
        "frobenius_M": np.sum(M * M, axis=(-2, -1)),
        "top_singular_values": np.linalg.svd(Hr, compute_uv=False)[..., :3],
        "log_scale": np.log(fro),
    }


# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cfg", CONFIGS)
@pytest.mark.parametrize("batched_X", [False, True])
def test_statistics_match_explicit_forward(cfg, batched_X):
    d = n = 4
    B, L = 3, 5
    # well-conditioned input: vanilla chains lose rank fast at d = 4, and rounding differences
    # (rescaled chain vs. oracle) grow like cond(HᵀH) in log det
    X = np.eye(d) + 0.3 * np.random.default_rng(10).standard_normal((B, d, n) if batched_X
                                                                      else (d, n))
    kw = _kw(cfg)
    out = simulate_chain(X, L, trials=B, rng=np.random.default_rng(1), record=ALL_STATS,
                         tau=0.3, n_singular=3, **kw)
    w = chain_weights(d, n, L, trials=B, rng=np.random.default_rng(1), weights=kw["weights"],
                      weight_std=kw["weight_std"], n_out=2)
    Xb = np.broadcast_to(X, (B, d, n))
    Hs, pres = _explicit_forward(Xb, w["hidden"], kw["norm"], kw["activation"], kw["order"],
                                 kw["residual"], kw["gain_exponent"])
    rescaled = kw["norm"] == "none" and kw["activation"] in ("identity", "relu", "leaky_relu")
    np.testing.assert_array_equal(out["layers"], np.arange(L + 1))
    for l in range(L + 1):
        exp = _expected_stats(Hs[l], pres[l], 0.3, rescaled)
        for name in ALL_STATS:
            np.testing.assert_allclose(out[name][:, l], exp[name], rtol=1e-8, atol=1e-12,
                                       err_msg=f"{name} at layer {l}")
        if kw["norm"] == "none":
            np.testing.assert_allclose(out["log_scale"][:, l], exp["log_scale"], rtol=0,
                                       atol=1e-9)
        else:
            assert "log_scale" not in out


def test_soft_rank_is_seed002_rank_on_the_bn_manifold():
    """For bn_nomean + identity (rows of norm √n, tr M = d) no rescaling happens: the recorded
    soft rank is depthcheck.theory.soft_rank of H itself (seed 002 eq. (3))."""
    d = n = 6
    X = np.random.default_rng(0).standard_normal((d, n))
    out = simulate_chain(X, 3, trials=2, rng=np.random.default_rng(2), weights="uniform",
                         weight_std=1.0, residual=0.5, norm="bn_nomean", record=("soft_rank",),
                         tau=0.5)
    w = chain_weights(d, n, 3, trials=2, rng=np.random.default_rng(2), weights="uniform",
                      weight_std=1.0, n_out=2)
    Hs, _ = _explicit_forward(np.broadcast_to(X, (2, d, n)), w["hidden"], "bn_nomean",
                              "identity", "norm_act", 0.5, None)
    np.testing.assert_array_equal(out["soft_rank"][:, 3], soft_rank(Hs[3], 0.5))


# ---------------------------------------------------------------------------------------------
GRAD_CONFIGS = CONFIGS + [
    ("gaussian", "bn", "relu", "norm_act", None, None, None),
    ("haar", "bn_nomean", "leaky_relu", "act_norm", 0.2, 0.3, None),
]


@pytest.mark.parametrize("cfg", GRAD_CONFIGS)
def test_log_grad_norm_matches_forward_backward(cfg):
    """log‖∂loss/∂W_l‖_F equals the independent full-storage backprop (same weights, same
    Haar semi-orthogonal readout and labels, cross-entropy) to 1e-8."""
    d = n = 4
    B, L = 3, 6
    X = np.random.default_rng(20).standard_normal((d, n))
    kw = _kw(cfg)
    out = simulate_chain(X, L, trials=B, rng=np.random.default_rng(7), gradients=True, n_out=3,
                         record_every=1, checkpoint_every=4, record=(), **kw)
    w = chain_weights(d, n, L, trials=B, rng=np.random.default_rng(7), weights=kw["weights"],
                      weight_std=kw["weight_std"], n_out=3)
    np.testing.assert_array_equal(out["labels"], w["labels"])
    R = w["readout"]
    np.testing.assert_allclose(R @ np.swapaxes(R, -1, -2), np.broadcast_to(np.eye(3), (B, 3, 3)),
                               atol=1e-12)
    kw.pop("weights"), kw.pop("weight_std")
    _, grads = forward_backward(X, w["hidden"] + [R], w["labels"], loss="xent", **kw)
    ref = np.log(np.stack([np.linalg.norm(g, axis=(-2, -1)) for g in grads[:-1]], axis=1))
    np.testing.assert_array_equal(out["grad_layers"], np.arange(1, L + 1))
    np.testing.assert_allclose(out["log_grad_norm"], ref, rtol=0, atol=1e-8)


def test_log_grad_norm_given_labels_and_record_every():
    d, n, L = 5, 4, 9
    X = np.random.default_rng(3).standard_normal((d, n))
    labels = np.array([0, 1, 1, 0])
    out = simulate_chain(X, L, trials=2, rng=np.random.default_rng(4), gradients=True, n_out=2,
                         labels=labels, record_every=4, weights="gaussian", norm="bn")
    np.testing.assert_array_equal(out["layers"], [0, 4, 8])
    np.testing.assert_array_equal(out["grad_layers"], [1, 4, 8])
    assert out["log_grad_norm"].shape == (2, 3) and out["isometry_gap"].shape == (2, 3)
    w = chain_weights(d, n, L, trials=2, rng=np.random.default_rng(4), weights="gaussian",
                      n_out=2, labels=labels)
    _, grads = forward_backward(X, w["hidden"] + [w["readout"]], labels, norm="bn",
                                activation="identity", loss="xent")
    ref = np.log(np.stack([np.linalg.norm(grads[l - 1], axis=(-2, -1)) for l in (1, 4, 8)], 1))
    np.testing.assert_allclose(out["log_grad_norm"], ref, atol=1e-8)


def test_checkpoint_every_does_not_change_gradients():
    X = np.random.default_rng(5).standard_normal((6, 6))
    kw = dict(trials=3, weights="haar", norm="bn", activation="tanh", gradients=True, n_out=4,
              record_every=3)
    runs = [simulate_chain(X, 40, rng=np.random.default_rng(8), checkpoint_every=k, **kw)
            for k in (1, 3, 7, None, 100)]
    for r in runs[1:]:
        np.testing.assert_allclose(r["log_grad_norm"], runs[0]["log_grad_norm"], rtol=0,
                                   atol=1e-12)
        np.testing.assert_array_equal(r["isometry_gap"], runs[0]["isometry_gap"])


def test_same_seed_identical_and_gradients_flag_keeps_statistics():
    X = np.random.default_rng(6).standard_normal((8, 8))
    kw = dict(trials=4, weights="haar", norm="rownorm", record=ALL_STATS, record_every=2)
    a = simulate_chain(X, 30, rng=np.random.default_rng(9), **kw)
    b = simulate_chain(X, 30, rng=np.random.default_rng(9), **kw)
    c = simulate_chain(X, 30, rng=np.random.default_rng(10), **kw)
    g = simulate_chain(X, 30, rng=np.random.default_rng(9), gradients=True, n_out=4, **kw)
    for name in ALL_STATS:
        np.testing.assert_array_equal(a[name], b[name])
        np.testing.assert_allclose(g[name], a[name], rtol=1e-8, atol=1e-12)
    assert not np.allclose(a["isometry_gap"][:, 1:], c["isometry_gap"][:, 1:])
    g2 = simulate_chain(X, 30, rng=np.random.default_rng(9), gradients=True, n_out=4, **kw)
    np.testing.assert_array_equal(g["log_grad_norm"], g2["log_grad_norm"])


def test_matrix_free_haar_path_equals_explicit_weights():
    """d >= 64, n <= d/4 uses the matrix-free Householder action; it must apply the same W_l as
    the explicit (orgqr) matrices: statistics agree with the gradients=True run to rounding."""
    d, n = 64, 4
    X = np.random.default_rng(11).standard_normal((d, n))
    kw = dict(trials=2, weights="haar", norm="rownorm", record=ALL_STATS)
    a = simulate_chain(X, 6, rng=np.random.default_rng(12), **kw)
    g = simulate_chain(X, 6, rng=np.random.default_rng(12), gradients=True, n_out=2, **kw)
    for name in ALL_STATS:
        np.testing.assert_allclose(a[name], g[name], rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("d", [1, 2, 7])
def test_householder_matrix_is_the_applied_haar_matrix(d):
    V = haar_householder_vectors((5,), d, np.random.default_rng(d))
    W = householder_matrix(V)
    np.testing.assert_allclose(W, apply_householder_haar(V, np.broadcast_to(np.eye(d), (5, d, d))),
                               atol=1e-13)
    np.testing.assert_allclose(W @ np.swapaxes(W, -1, -2), np.broadcast_to(np.eye(d), (5, d, d)),
                               atol=1e-13)


# ---------------------------------------------------------------------------------------------
def test_lemma_A1_per_layer_decrease_of_isometry_gap():
    """Haar + rownorm, n = d: φ(W H) = φ(H) and Lemma A.1 give, for every trial and layer,
    φ_{l-1} - φ_l >= log(1 + CV_l²) >= 0 with CV_l the recorded row_norm_cv of W_l H_{l-1}
    (bn_orthogonal.md §2.3-2.4). A chain that forgot the norm or mis-aligned the records fails."""
    d = n = 6
    X = np.random.default_rng(13).standard_normal((d, n))
    out = simulate_chain(X, 25, trials=8, rng=np.random.default_rng(14),
                         record=("isometry_gap", "row_norm_cv"))
    phi, cv = out["isometry_gap"], out["row_norm_cv"]
    drop = phi[:, :-1] - phi[:, 1:]
    assert np.all(drop >= np.log1p(cv[:, 1:] ** 2) - 1e-10)
    assert np.all(cv[:, 1:] > 0)


def test_theorem1_isometry_gap_decays_haar_but_not_gaussian_vanilla():
    """Seed 001 Theorem 1 (n = d): E φ(X_l) decreases to 0 for Haar + rownorm; negative
    control: a Gaussian chain without BN collapses in rank (φ grows, rank_lnn_lcw.md §D)."""
    d = n = 8
    X = np.random.default_rng(15).standard_normal((d, n))
    out = simulate_chain(X, 80, trials=12, rng=np.random.default_rng(16), record_every=10,
                         record=("isometry_gap",))
    m = out["isometry_gap"].mean(axis=0)
    assert np.all(np.diff(m) < 0)
    assert m[-1] < 1e-3 * m[0]
    van = simulate_chain(X, 80, trials=12, rng=np.random.default_rng(16), weights="gaussian",
                         norm="none", record_every=10, record=("isometry_gap",))
    assert np.mean(van["isometry_gap"][:, -1]) > 3 * m[0]


def test_deep_vanilla_gaussian_log_scale_no_overflow_and_lyapunov_rate():
    """Depth 2000, Gaussian N(0,1) weights, no BN: ‖H_L‖ ~ e^{1100} would overflow without the
    rescaling. log_scale grows at the top Lyapunov exponent μ_1 = ½(log 2 + ψ(d/2)) (Gaussian
    products, rank_lnn_lcw.md §D), and the weight gradients explode linearly in depth."""
    d, n, L, B = 4, 16, 2000, 6
    X = np.random.default_rng(17).standard_normal((d, n))
    kw = dict(trials=B, weights="gaussian", weight_std=1.0, norm="none", gradients=True,
              n_out=4, record_every=100, record=("rank_lower_bound",))
    out = simulate_chain(X, L, rng=np.random.default_rng(18), **kw)
    for v in out.values():
        assert np.all(np.isfinite(v))
    mu1 = 0.5 * (np.log(2.0) + digamma(d / 2))
    rate = (out["log_scale"][:, -1] - out["log_scale"][:, 0]) / L
    se = rate.std(ddof=1) / np.sqrt(B)
    assert abs(rate.mean() - mu1) < 5 * se + 5.0 / L   # 5 sigma + O(1/L) start-up bias
    assert out["rank_lower_bound"][:, -1].max() < 1 + 1e-6    # rank-one collapse (Lemma 3)
    # explosion: log‖∇W_1‖ ≈ μ_1 L (forward and backward products both grow at rate μ_1)
    g = out["log_grad_norm"]
    assert np.all(g[:, 0] / L > 0.01)
    short = simulate_chain(X, 500, rng=np.random.default_rng(18), **kw)
    slope = (g[:, 0] - short["log_grad_norm"][:, 0]) / 1500
    assert np.all(slope > 0.01)


def test_deep_haar_rownorm_gradients_bounded():
    """Seed 001 Theorem 5: with Haar weights and rownorm the gradient log-norms stay bounded
    in depth (flat across layers and between depths 500 and 2000)."""
    d = n = 4
    X = np.random.default_rng(19).standard_normal((d, n))
    kw = dict(trials=4, gradients=True, n_out=2, record_every=100, record=("isometry_gap",))
    out = simulate_chain(X, 2000, rng=np.random.default_rng(21), **kw)
    g = out["log_grad_norm"]
    assert np.all(np.isfinite(g)) and np.all(np.abs(g) < 10)
    slope = np.polyfit(out["grad_layers"], g.mean(axis=0), 1)[0]
    assert abs(slope) < 0.002
    short = simulate_chain(X, 500, rng=np.random.default_rng(21), **kw)
    assert np.all(np.abs(g[:, 0] - short["log_grad_norm"][:, 0]) / 1500 < 0.002)


# ---------------------------------------------------------------------------------------------
def test_degenerate_chain_raises_naming_the_layer():
    with pytest.raises(ChainBreakdownError, match="layer 0"):
        simulate_chain(np.zeros((3, 3)), 2, trials=1, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="X"):
        simulate_chain(np.zeros((3, 3)), 2, trials=1, rng=np.random.default_rng(0), norm="none")
    # a single sample: bn's batch variance is zero at layer 1
    with pytest.raises(ChainBreakdownError, match="layer 1"):
        simulate_chain(np.ones((3, 1)), 2, trials=1, rng=np.random.default_rng(0), norm="bn",
                       record=())


def test_rank_deficient_isometry_gap_is_inf_not_error():
    X = np.random.default_rng(1).standard_normal((3, 5))   # n > d: φ = inf by definition
    out = simulate_chain(X, 3, trials=2, rng=np.random.default_rng(2))
    assert np.all(out["isometry_gap"] == np.inf)
    assert np.all(np.isfinite(out["rank_lower_bound"]))


def test_progress_and_output_shapes():
    X = np.random.default_rng(1).standard_normal((5, 5))
    out = simulate_chain(X, 7, trials=2, rng=np.random.default_rng(2), record_every=3,
                         record="top_singular_values", n_singular=2, progress=True,
                         gradients=True, n_out=2)
    assert set(out) == {"layers", "top_singular_values", "grad_layers", "log_grad_norm", "labels"}
    assert out["top_singular_values"].shape == (2, 3, 2)
    np.testing.assert_array_equal(out["grad_layers"], [1, 3, 6])


X4 = np.random.default_rng(0).standard_normal((4, 4))


@pytest.mark.parametrize("kwargs, name", [
    (dict(X=np.zeros(4)), "X"),
    (dict(X=np.full((4, 4), np.nan)), "X"),
    (dict(X=np.zeros((3, 4, 4))), "X"),              # batched X with trials=2
    (dict(depth=0), "depth"),
    (dict(depth=2.5), "depth"),
    (dict(trials=0), "trials"),
    (dict(rng=np.random.RandomState(0)), "rng"),
    (dict(rng=0), "rng"),
    (dict(weights="orthogonal"), "weights"),
    (dict(norm="layernorm"), "norm"),
    (dict(activation="gelu"), "activation"),
    (dict(order="act_act"), "order"),
    (dict(gains=[1.0, 2.0]), "gains"),
    (dict(gains=[1.0, 1.0, np.inf]), "gains"),
    (dict(gains=[1.0, 1.0, 1.0], gain_exponent=0.5), "gain"),
    (dict(gain_exponent=np.nan), "gain_exponent"),
    (dict(residual=np.inf), "residual"),
    (dict(residual=0.0), "residual"),
    (dict(weight_std=0.5), "weight_std"),             # with haar
    (dict(weights="gaussian", weight_std=-1.0), "weight_std"),
    (dict(record_every=0), "record_every"),
    (dict(record=("isometry_gap", "entropy")), "record"),
    (dict(tau=1.0), "tau"),
    (dict(tau=-0.1), "tau"),
    (dict(gradients=True, n_out=5), "n_out"),        # n_out > d
    (dict(gradients=True, n_out=2, labels=[0, 1, 2, 0]), "labels"),
    (dict(gradients=True, n_out=2, labels=[0, 1, -1, 0]), "labels"),
    (dict(gradients=True, n_out=2, labels=[0, 1, 1]), "labels"),
    (dict(gradients=True, n_out=2, labels=[0.0, 1.0, 1.0, 0.0]), "labels"),
    (dict(gradients="yes"), "gradients"),
    (dict(checkpoint_every=0), "checkpoint_every"),
    (dict(backend="no_such_backend"), "backend"),
    (dict(n_singular=0), "n_singular"),
])
def test_bad_input_raises_value_error_naming_argument(kwargs, name):
    args = dict(X=X4, depth=3, trials=2, rng=np.random.default_rng(0))
    args.update(kwargs)
    X, depth = args.pop("X"), args.pop("depth")
    with pytest.raises(ValueError, match=name):
        simulate_chain(X, depth, **args)
