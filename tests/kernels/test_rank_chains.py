"""The chains of Daneshmand et al. 2020 (arXiv:2003.01652; depthcheck.kernels.chain.rank) against
hand-written references, theory and the chain engine (depthcheck.kernels.simulate_chain)."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scipy.stats import ks_2samp

from depthcheck.kernels import simulate_chain
from depthcheck.kernels.chain import rank as rank_module
from depthcheck.kernels.chain.rank import (covariance_chain, gaussian_input, lyapunov_qr,
                                           normalise, one_step_drift, rank_chain, sample_weights)
from depthcheck.kernels.chain.statistics import STATISTICS as ENGINE_STATISTICS
from depthcheck.kernels.nn.activations import ACTIVATIONS as ENGINE_ACTIVATIONS
from depthcheck.kernels.nn.norms import NORMS as ENGINE_NORMS
from depthcheck.theory import lyapunov as lyap
from depthcheck.theory import rank_markov as rm
from depthcheck.theory.rank import matrix_rank, rank_lower_bound, soft_rank

seeds = st.integers(0, 2**32 - 1)


def test_normalise_rows_and_centring():
    H = np.random.default_rng(0).standard_normal((3, 5, 7)) + 2.0
    Y = normalise(H, "bn_nomean")
    np.testing.assert_allclose(np.sum(Y * Y, axis=-1), 7.0, rtol=1e-13)
    R = Y / H
    np.testing.assert_allclose(R, np.broadcast_to(R[..., :1], R.shape), rtol=1e-12)  # row scaling
    Yc = normalise(H, "bn")
    np.testing.assert_allclose(Yc.mean(-1), 0.0, atol=1e-13)
    np.testing.assert_allclose(np.sum(Yc * Yc, axis=-1), 7.0, rtol=1e-13)
    # the engine's BN (training mode, biased std, no eps): (x − mean)/std per row
    C = H - H.mean(-1, keepdims=True)
    np.testing.assert_allclose(Yc, C / C.std(-1, keepdims=True), rtol=1e-12)
    Yr = normalise(H, "rownorm")
    np.testing.assert_allclose(np.sum(Yr * Yr, axis=-1), 1.0, rtol=1e-13)
    np.testing.assert_allclose(Yr * math.sqrt(7), Y, rtol=1e-12)
    Z = H.copy()
    Z[1, 2] = 0.0
    with pytest.raises(ValueError, match="row 2"):
        normalise(Z, "bn_nomean")
    Z = H.copy()
    Z[1, 3] = 5.0                       # a constant row: zero after centring
    with pytest.raises(ValueError, match="row 3"):
        normalise(Z, "bn")
    with pytest.raises(ValueError, match="norm"):
        normalise(H, "none")


def test_weight_laws_moments():
    rng = np.random.default_rng(1)
    for law, mean in (("gaussian", 0.0), ("uniform", 0.0), ("uniform_pos", math.sqrt(3))):
        W = sample_weights(rng, 20, 100, law)
        assert W.shape == (20, 100, 100)
        se = 1 / math.sqrt(W.size)
        assert abs(W.mean() - mean) < 5 * se * 2
        assert abs(W.var() - 1.0) < 5 * se * 2
    assert np.max(np.abs(sample_weights(rng, 5, 10, "uniform"))) <= math.sqrt(3)


def _reference_chain(X, depth, rng, gamma, law, norm="bn_nomean", relu=False):
    """Plain per-trial loop of H <- act(norm(H + γWH)) with the same random stream."""
    H = X.copy()
    states = []
    for _ in range(depth):
        if law == "gaussian":
            W = rng.standard_normal((X.shape[0],) + (X.shape[1],) * 2)
        else:
            W = rng.uniform(-math.sqrt(3), math.sqrt(3), (X.shape[0],) + (X.shape[1],) * 2)
        new = []
        for b in range(X.shape[0]):
            A = W[b] @ H[b] if math.isinf(gamma) else H[b] + gamma * W[b] @ H[b]
            if norm == "bn":
                A = A - A.mean(axis=1, keepdims=True)
            if norm in ("bn", "bn_nomean"):
                A = A / np.sqrt(np.mean(A * A, axis=1, keepdims=True))
            elif norm == "rownorm":
                A = A / np.sqrt(np.sum(A * A, axis=1, keepdims=True))
            if relu:
                A = np.maximum(A, 0)
            if norm == "none":          # vanilla chain, rescaled by a scalar to ‖H‖_F² = d n
                A = A * np.sqrt(A.size / np.sum(A * A))
            new.append(A)
        H = np.stack(new)
        states.append(H)
    return states


@pytest.mark.parametrize("gamma,law,norm,relu", [(math.inf, "gaussian", "bn_nomean", False),
                                                 (0.3, "uniform", "bn_nomean", False),
                                                 (math.inf, "uniform", "bn", True),
                                                 (0.3, "gaussian", "rownorm", False),
                                                 (0.3, "uniform", "none", True)])
def test_rank_chain_matches_reference_and_theory(gamma, law, norm, relu):
    d, n, B, depth, tau = 6, 9, 3, 5, 0.4
    X = gaussian_input(d, n, B, np.random.default_rng(2))
    out = rank_chain(X, depth, rng=np.random.default_rng(3), gamma=gamma, weights=law,
                     norm=norm, activation="relu" if relu else "identity", record_every=1,
                     tau=tau, top_k=4,
                     record=("rank_lower_bound", "frobenius_M", "g1", "g2", "offdiag",
                             "soft_rank_unscaled", "soft_rank_singular_unscaled", "rank",
                             "top_eigs", "log_sv"))
    ref = _reference_chain(X, depth, np.random.default_rng(3), gamma, law, norm, relu)
    np.testing.assert_array_equal(out["layers"], np.arange(1, depth + 1))
    for i, H in enumerate(ref):
        M = H @ H.swapaxes(-1, -2) / n
        np.testing.assert_allclose(out["rank_lower_bound"][:, i], rank_lower_bound(H), rtol=1e-10)
        np.testing.assert_allclose(out["frobenius_M"][:, i], rm.frobenius_sq(M), rtol=1e-10)
        np.testing.assert_allclose(out["g1"][:, i], rm.row_norm4_sum(M), rtol=1e-10)
        np.testing.assert_allclose(out["g2"][:, i], rm.trace_cube(M), rtol=1e-9)
        np.testing.assert_array_equal(out["soft_rank_unscaled"][:, i], soft_rank(H, tau, "eigen"))
        np.testing.assert_array_equal(out["soft_rank_singular_unscaled"][:, i],
                                      soft_rank(H, tau, "singular"))
        np.testing.assert_array_equal(out["rank"][:, i], matrix_rank(H))
        lam = np.sort(np.linalg.eigvalsh(M), axis=-1)[:, ::-1]
        np.testing.assert_allclose(out["top_eigs"][:, i], lam[:, :4], rtol=1e-9, atol=1e-12)
        s = np.linalg.svd(H, compute_uv=False)
        np.testing.assert_allclose(out["log_sv"][:, i], np.log(s[:, 1:4] / s[:, :1]), rtol=1e-9)
        C = M / np.sqrt(np.einsum("bii->bi", M)[:, :, None] * np.einsum("bii->bi", M)[:, None])
        np.testing.assert_allclose(out["offdiag"][:, i], (C.sum((1, 2)) - d) / (d * (d - 1)),
                                   rtol=1e-10, atol=1e-14)


@given(st.integers(2, 10), st.integers(1, 12), st.sampled_from([0.05, 1.0, math.inf]),
       st.sampled_from(["gaussian", "uniform"]), st.sampled_from([0.0, 0.3, 0.5, 0.9]), seeds)
def test_lemma1_holds_at_every_layer(d, n, gamma, law, tau, seed):
    """Lemma 1 as a property of BN chains: rank >= r, rank_τ >= (1−τ)² r (both conventions)."""
    rng = np.random.default_rng(seed)
    out = rank_chain(gaussian_input(d, n, 2, rng), 15, rng=rng, gamma=gamma, weights=law,
                     norm="bn_nomean", tau=tau,
                     record=("rank_lower_bound", "rank", "soft_rank_unscaled",
                             "soft_rank_singular_unscaled"))
    r = out["rank_lower_bound"]
    assert np.all(out["rank"] >= r - 1e-9 * d)
    assert np.all(out["soft_rank_unscaled"] >= rm.lemma1_soft_rank_bound(r, tau) - 1e-9 * d)
    assert np.all(out["soft_rank_singular_unscaled"] >= out["soft_rank_unscaled"])


def test_lemma1_fails_without_the_sqrt_n_scaling():
    # rows of unit norm (tr M = 1): the soft-rank bound of Lemma 1 (part 2) must break
    rng = np.random.default_rng(4)
    out = rank_chain(gaussian_input(32, 32, 4, rng), 30, rng=rng, norm="rownorm",
                     record=("rank_lower_bound", "soft_rank_unscaled"))
    assert np.any(out["soft_rank_unscaled"]
                  < rm.lemma1_soft_rank_bound(out["rank_lower_bound"], 0.5))


def test_covariance_chain_matches_m_recursion():
    d, gamma = 5, 0.2
    rng = np.random.default_rng(5)
    A = rng.standard_normal((d, d + 2))
    M0 = A @ A.T / (d + 2)
    M0 = M0 / np.sqrt(np.outer(np.diag(M0), np.diag(M0)))
    out = covariance_chain(M0, 4, rng=np.random.default_rng(6), gamma=gamma,
                           record=("frobenius_M", "top_eigs"), top_k=d)
    ref_rng = np.random.default_rng(6)
    M = M0
    for i in range(4):
        T = np.eye(d) + gamma * ref_rng.standard_normal((1, d, d))[0]
        Mt = T @ M @ T.T
        D = np.diag(1 / np.sqrt(np.diag(Mt)))
        M = D @ Mt @ D
        assert out["frobenius_M"][0, i] == pytest.approx(np.sum(M * M), rel=1e-10)
        np.testing.assert_allclose(out["top_eigs"][0, i], np.linalg.eigvalsh(M)[::-1],
                                   rtol=1e-8, atol=1e-12)
    with pytest.raises(ValueError, match="M0"):
        covariance_chain(-np.eye(3), 2, rng=rng)


def test_bn_chain_stationary_statistics_are_plausible():
    # Loose sanity on the stationary law: r(H) of order √d (Daneshmand et al. 2020, Theorem 2,
    # Fig. 3a) and the regularity ratio β = E g1 / E g2 < 1 (Lemma 10, Fig. 8); the windows
    # are wide (d = 16, 8 chains) but exclude a collapsed (r ≈ 1) or unnormalised chain
    rng = np.random.default_rng(7)
    out = rank_chain(gaussian_input(16, 16, 8, rng), 300, rng=rng, burn_in=100, record_every=5,
                     record=("rank_lower_bound", "g1", "g2"), weights="uniform")
    ratio = out["rank_lower_bound"].mean() / 4.0
    assert 0.7 < ratio < 1.0
    assert 0.8 < out["g1"].mean() / out["g2"].mean() < 0.95


def test_vanilla_chain_collapses_at_lyapunov_rate():
    d, L = 4, 60
    rng = np.random.default_rng(8)
    out = rank_chain(gaussian_input(d, d, 600, rng), L, rng=rng, norm="none",
                     activation="identity", record=("log_sv",), top_k=2)
    y = out["log_sv"][..., 0]
    x = out["layers"] - out["layers"].mean()
    slopes = (y - y.mean(1, keepdims=True)) @ x / (x @ x)
    se = slopes.std(ddof=1) / math.sqrt(slopes.size)
    assert abs(slopes.mean() - lyap.collapse_rate(d)) < 5 * se
    assert abs(slopes.mean() - lyap.collapse_rate(d, complex=True)) > 5 * se   # failable


@pytest.mark.parametrize("d,cx", [(1, False), (3, False), (2, True)])
def test_lyapunov_qr_against_formula(d, cx):
    est = lyapunov_qr(d, 2000, trials=48, rng=np.random.default_rng(9), burn_in=20, complex=cx)
    se = est.std(0, ddof=1) / math.sqrt(est.shape[0])
    mu = lyap.lyapunov_exponents_ginibre(d, complex=cx)
    assert np.all(np.abs(est.mean(0) - mu) < 5 * se)


def test_lyapunov_qr_sigma_and_residual():
    est = lyapunov_qr(2, 1000, trials=32, rng=np.random.default_rng(10), sigma=2.0)
    se = est.std(0, ddof=1) / math.sqrt(32)
    assert np.all(np.abs(est.mean(0) - lyap.lyapunov_exponents_ginibre(2, 2.0)) < 5 * se)
    # I + γW: the exponents are no longer Newman's, but the top gap stays positive (collapse)
    res = lyapunov_qr(3, 1000, trials=16, rng=np.random.default_rng(11), gamma=0.5)
    assert np.all(res[:, 0] > res[:, 1])


def test_one_step_drift_matches_lemma7():
    rng = np.random.default_rng(12)
    H = normalise(rng.standard_normal((5, 8)), "bn_nomean")
    M = H @ H.T / 8
    c = rm.lemma7_drift_coefficient(M)
    for law in ("gaussian", "uniform"):
        x = one_step_drift(M, 0.005, draws=40_000, rng=rng, weights=law) / 0.005**2
        assert abs(x.mean() - c) < 5 * x.std() / math.sqrt(x.size) + 1e-3 * abs(c)
    plain = one_step_drift(M, 0.005, draws=40_000, rng=rng, antithetic=False) / 0.005**2
    assert plain.std() > 10 * x.std()           # the antithetic pair removes the O(γ) noise
    both = one_step_drift(np.stack([M, M]), 0.01, draws=10, rng=rng)
    assert both.shape == (10, 2)
    with pytest.raises(ValueError, match="symmetric"):
        one_step_drift(M, 0.01, draws=10, rng=rng, weights="uniform_pos")
    with pytest.raises(ValueError, match="gamma"):
        one_step_drift(M, math.inf, draws=10, rng=rng)


@pytest.mark.parametrize("kwargs,match", [
    ({"gamma": 0.0}, "gamma"), ({"gamma": -1.0}, "gamma"), ({"weights": "laplace"}, "weights"),
    ({"norm": "layer"}, "norm"), ({"activation": "tanh"}, "activation"),
    ({"activation": "swish"}, "activation"),
    ({"burn_in": 5}, "burn_in"), ({"tau": 1.0}, "tau"), ({"record": ("rank2",)}, "record"),
    ({"record": "rank"}, "record"), ({"trials": 3}, "trials"), ({"rng": 0}, "rng")])
def test_rank_chain_bad_input(kwargs, match):
    X = np.ones((2, 3, 3)) + np.eye(3)
    args = dict(rng=np.random.default_rng(0))
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        rank_chain(X, 5, **args)


def test_rank_chain_dead_input_raises():
    with pytest.raises(ValueError, match="layer 1"):
        rank_chain(np.zeros((3, 4)), 2, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="X"):
        rank_chain(np.full((3, 4), np.nan), 2, rng=np.random.default_rng(0))


# --- the chain engine's vocabulary -------------------------------------------------------------

def test_names_are_the_chain_engines():
    assert rank_module.NORMS == ENGINE_NORMS
    assert set(rank_module.ACTIVATIONS) <= set(ENGINE_ACTIVATIONS)
    shared = set(rank_module.STATISTICS) & set(ENGINE_STATISTICS)
    # only the statistics that are the same quantity share a name with the engine's
    assert shared == {"rank_lower_bound", "frobenius_M"}


@pytest.mark.parametrize("kwargs,new", [
    ({"activation": "linear"}, "'identity'"),
    ({"record": ("r",)}, "'rank_lower_bound'"),
    ({"record": ("frobenius_M", "frob2")}, "'frobenius_M'"),
    ({"record": ("soft_rank",)}, "'soft_rank_unscaled'"),
    ({"record": ("soft_rank_singular",)}, "'soft_rank_singular_unscaled'"),
    ({"activation": "tanh"}, "does not implement")])
def test_former_spellings_are_refused_with_the_new_one(kwargs, new):
    X = gaussian_input(3, 4, 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match=new):
        rank_chain(X, 2, rng=np.random.default_rng(0), **kwargs)


@pytest.mark.parametrize("center", [True, False])
def test_center_keyword_is_refused_explaining_bn_and_bn_nomean(center):
    X = gaussian_input(3, 4, 2, np.random.default_rng(0))
    with pytest.raises(TypeError, match="norm='bn_nomean'") as err:
        rank_chain(X, 2, rng=np.random.default_rng(0), norm="bn", center=center)
    assert "norm='bn' subtracts each row's batch mean" in str(err.value)
    with pytest.raises(TypeError, match="unexpected keyword"):
        rank_chain(X, 2, rng=np.random.default_rng(0), centre=True)
    with pytest.raises(TypeError, match=r"normalise\(H, 'bn_nomean'\)"):
        rank_module.bn(X)


def test_default_norm_is_the_uncentred_bn_and_bn_centres():
    """The default stays Daneshmand et al.'s Bn (what the former default norm="bn" meant), and
    norm="bn" now centres: on a positive input the two chains differ."""
    X = np.abs(gaussian_input(5, 6, 3, np.random.default_rng(0))) + 1.0
    rec = ("rank_lower_bound", "offdiag")
    dflt = rank_chain(X, 3, rng=np.random.default_rng(1), record=rec)
    nomean = rank_chain(X, 3, rng=np.random.default_rng(1), norm="bn_nomean", record=rec)
    centred = rank_chain(X, 3, rng=np.random.default_rng(1), norm="bn", record=rec)
    for k in rec:
        np.testing.assert_array_equal(dflt[k], nomean[k])
    assert not np.allclose(centred["offdiag"], nomean["offdiag"])


def test_bn_chain_agrees_in_law_with_the_chain_engine():
    """rank_chain(norm="bn_nomean", activation="identity", gamma=inf) and simulate_chain with
    N(0, 1) weights, norm="bn_nomean", activation="identity", no residual are the same model
    (H_l = Bn(W_l H_{l-1})): two-sample KS on r(H_L) accepts at level 1e-3, and rejects a
    different model (residual γ = 0.5) at the same level (power: the test can fail)."""
    d = n = 8
    L, B, level = 3, 20_000, 1e-3
    X = gaussian_input(d, n, 1, np.random.default_rng(1))[0]
    ours = rank_chain(X, L, rng=np.random.default_rng(2), trials=B, gamma=math.inf,
                      weights="gaussian", norm="bn_nomean", activation="identity",
                      record=("rank_lower_bound",))
    engine = simulate_chain(X, L, trials=B, rng=np.random.default_rng(3), weights="gaussian",
                            weight_std=1.0, norm="bn_nomean", activation="identity",
                            record=("rank_lower_bound",))
    assert ours["layers"][-1] == engine["layers"][-1] == L
    r_engine = engine["rank_lower_bound"][:, -1]
    assert ks_2samp(ours["rank_lower_bound"][:, -1], r_engine).pvalue > level
    residual = rank_chain(X, L, rng=np.random.default_rng(4), trials=B, gamma=0.5,
                          norm="bn_nomean", activation="identity", record=("rank_lower_bound",))
    assert ks_2samp(residual["rank_lower_bound"][:, -1], r_engine).pvalue < level
