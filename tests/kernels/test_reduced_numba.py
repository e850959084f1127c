"""depthcheck.kernels.backends.numba.reduced: the fused numba reduced chain, forward and gradients.

Oracles: (1) a numpy re-implementation of one trial from the same Philox normals (numpy QR,
sign fix of Mezzadri 2007, explicit norm/activation, statistics from depthcheck.kernels.chain.statistics),
to rounding; (2) in law, the numpy reduced chain (depthcheck.kernels.chain.reduced) and the full d×d chain
(depthcheck.kernels.simulate_chain) by two-sample KS tests of the isometry gap at several layers
(family-wise level ALPHA split by Bonferroni), with a control that must be rejected (Gaussian
weights against Haar); (3) exact invariants of Haar chains without normalisation (HᵀH is
preserved, so the isometry gap and the scale are constant); (4) bad input; (5) gradients: in
law against the numpy reduced engine's conditional backward (KS of every layer's gradient
log-norm, d − n >= n, 0 < d − n < n and d = n), with a control that must be rejected (an
unconditional Wᵀ), and exact invariants (orthogonal linear chains, checkpoint independence).
"""
from __future__ import annotations

import numba
import numpy as np
from depthcheck.kernels.chain.errors import UnsupportedEngineError
import pytest
from hypothesis import given, settings, strategies as st
from scipy import stats

from depthcheck.kernels.chain.driver import simulate_chain
from depthcheck.kernels.chain.spec import ChainSpec
from depthcheck.kernels.chain.statistics import compute_statistic
from depthcheck.kernels.random.philox import philox4x32_10, philox_key
from depthcheck.kernels.chain.reduced import simulate_reduced_chain
from depthcheck.kernels.backends.numba.reduced import (ZB, reduced_normals,
                                                       simulate_reduced_chain_numba)

ALL = ("isometry_gap", "rank_lower_bound", "soft_rank", "row_norm_cv", "frobenius_M",
       "top_singular_values")
ALPHA = 1e-5


def _pos_diag_r(M):
    R = np.linalg.qr(M, mode="r")
    return R * np.where(np.diagonal(R) >= 0, 1.0, -1.0)[:, None]


def _reference_trial(X, key, b, depth, weights, std, norm, act, gains, residual, tau, n_sing):
    """One trial of the reduced chain in numpy from the kernel's Philox normals."""
    d, n = X.shape
    f = {"tanh": np.tanh, "relu": lambda x: np.maximum(x, 0.0)}[act]
    H = X.copy()
    out = {name: [compute_statistic(name, H[None], X[None], tau=tau, n_singular=n_sing)[0]]
           for name in ALL}
    for l in range(1, depth + 1):
        RH = _pos_diag_r(H)
        Z = reduced_normals(key, l, b, 0, d * n).reshape(n, d).T
        if weights == "haar":
            Q, R = np.linalg.qr(Z)
            WH = (Q * np.where(np.diagonal(R) >= 0, 1.0, -1.0)) @ RH
        else:
            WH = std * Z @ RH
        A = H + residual * WH if residual is not None else WH
        if norm == "rownorm":
            N = A / np.linalg.norm(A, axis=1, keepdims=True)
        else:                                                   # bn over the batch
            N = (A - A.mean(axis=1, keepdims=True)) / A.std(axis=1, keepdims=True)
        H = f(gains[l - 1] * N)
        for name in ALL:
            out[name].append(compute_statistic(name, H[None], A[None], tau=tau,
                                               n_singular=n_sing)[0])
    return {k: np.array(v) for k, v in out.items()}


@pytest.mark.parametrize("weights,std,norm,act,residual",
                         [("haar", None, "rownorm", "tanh", None),
                          ("haar", None, "rownorm", "tanh", 0.7),
                          ("gaussian", 0.4, "bn", "relu", None)])
def test_one_trial_matches_numpy_reference(weights, std, norm, act, residual):
    rng = np.random.default_rng(11)
    d, n, L, B, tau, k = 9, 4, 5, 3, 0.3, 3
    X = rng.standard_normal((d, n))
    gains = 1.0 + 0.2 * rng.random(L)
    out = simulate_reduced_chain_numba(X, L, trials=B, rng=np.random.default_rng(5),
                                       weights=weights, weight_std=std, norm=norm,
                                       activation=act, gains=gains, residual=residual,
                                       record=ALL, tau=tau, n_singular=k)
    key = philox_key(np.random.default_rng(5))
    assert np.array_equal(out["layers"], np.arange(L + 1))
    for b in range(B):
        ref = _reference_trial(X, key, b, L, weights, std if std else 1.0, norm, act, gains,
                               residual, tau, k)
        for name in ALL:
            if name == "soft_rank":
                assert np.array_equal(out[name][b], ref[name]), name
            else:
                np.testing.assert_allclose(out[name][b], ref[name], rtol=1e-9, atol=1e-13,
                                           err_msg=name)


def test_block_ziggurat_normals():
    """The reduced kernels' normals: (1) every candidate that passes the fast test equals the
    ziggurat transform of its Philox word, recomputed here in numpy from
    depthcheck.kernels.random.philox.philox4x32_10 and numpy's ziggurat tables (block layout:
    first half of a block from the words (c0<<32|c1), second half from (c2<<32|c3)); (2) the
    whole stream, rejections resolved from the side stream included, is N(0, 1): KS and the
    two-sided tail mass beyond the ziggurat's base r (where the tail sampler acts)."""
    from numba.np.random import _constants as c
    key, size = (12345, 678), 3 * ZB + 17
    z = reduced_normals(key, 4, 2, 1, size)
    j = np.arange(ZB // 2 * 4, dtype=np.uint64)
    full = lambda v: np.full(j.shape, v, dtype=np.uint64)
    a, b, cc, e = philox4x32_10(j, full(4), full(2), full(1), np.uint64(key[0]), np.uint64(key[1]))
    w = np.stack([(a << np.uint64(32)) | b, (cc << np.uint64(32)) | e])   # (2, counters)
    words = np.concatenate([w[:, s:s + ZB // 2].reshape(-1) for s in range(0, j.size, ZB // 2)])
    idx = (words & np.uint64(0xFF)).astype(np.intp)
    rabs = (words >> np.uint64(9)) & np.uint64(0x000FFFFFFFFFFFFF)
    sign = 1.0 - 2.0 * ((words >> np.uint64(8)) & np.uint64(1)).astype(float)
    x = rabs.astype(float) * np.asarray(c.wi_double)[idx] * sign
    fast = rabs < np.asarray(c.ki_double, dtype=np.uint64)[idx]
    fast = fast[:size]
    assert 0.95 < fast.mean() < 1.0
    np.testing.assert_array_equal(z[fast], x[:size][fast])
    big = reduced_normals((9, 10), 1, 0, 0, 400_000)
    assert stats.kstest(big, "norm").pvalue > ALPHA
    r = float(c.ziggurat_nor_r)
    tail = np.count_nonzero(np.abs(big) > r)
    assert stats.binomtest(tail, big.size, 2 * stats.norm.sf(r)).pvalue > ALPHA
    assert np.array_equal(reduced_normals((9, 10), 1, 0, 0, 1000), big[:1000])
    with pytest.raises(ValueError, match="method"):
        reduced_normals(key, 1, 0, 0, 4, method="mersenne")


def test_side_stream_words():
    """The words that resolve rejected candidates: in order, the two 64-bit words (c0<<32|c1),
    (c2<<32|c3) of Philox counters SIDE_COUNTER, SIDE_COUNTER + 1, ... (section comment of
    numba.reduced), as depthcheck.kernels.random.philox._refill lays them out; read across
    several refills of the side buffer."""
    from depthcheck.kernels.backends.numba import reduced as rd
    from depthcheck.kernels.random.philox import _ZBUF, _refill
    k = [np.uint64(v) for v in (12345, 678, 4, 2, 1)]
    sb = np.empty(_ZBUF, np.uint64)
    st = np.array([_ZBUF, 0], dtype=np.int64)
    got = np.array([rd._side_word(sb, st, *k) for _ in range(3 * _ZBUF + 5)], dtype=np.uint64)
    buf = np.empty(_ZBUF, np.uint64)
    want = []
    for r in range(4):
        _refill(buf, rd.SIDE_COUNTER + r * _ZBUF // 2, *k)
        want.append(buf.copy())
    np.testing.assert_array_equal(got, np.concatenate(want)[:got.size])


def test_record_every_and_batched_input():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((3, 8, 3))
    full = simulate_reduced_chain_numba(X, 6, trials=3, rng=np.random.default_rng(4))
    sub = simulate_reduced_chain_numba(X, 6, trials=3, rng=np.random.default_rng(4),
                                       record_every=3)
    assert np.array_equal(sub["layers"], [0, 3, 6])
    np.testing.assert_array_equal(sub["isometry_gap"], full["isometry_gap"][:, ::3])
    assert not np.allclose(full["isometry_gap"][0], full["isometry_gap"][1])


def test_haar_without_norm_preserves_gram():
    """norm="none", identity: H_l = W_l ⋯ W_1 X exactly orthogonal, so HᵀH (hence the
    isometry gap) and ‖H‖_F (log_scale) are constant; Gaussian weights change both."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((12, 5))
    out = simulate_reduced_chain_numba(X, 20, trials=4, rng=np.random.default_rng(1),
                                       norm="none", record=("isometry_gap",))
    np.testing.assert_allclose(out["isometry_gap"], out["isometry_gap"][0, 0], rtol=1e-10)
    np.testing.assert_allclose(out["log_scale"], np.log(np.linalg.norm(X)), rtol=1e-12)
    g = simulate_reduced_chain_numba(X, 20, trials=4, rng=np.random.default_rng(1),
                                     norm="none", weights="gaussian", record=("isometry_gap",))
    assert np.all(g["isometry_gap"][:, -1] > 2 * out["isometry_gap"][0, 0])


@settings(max_examples=80, deadline=None)
@given(n=st.integers(1, 9), extra=st.integers(0, 30), log_kappa=st.floats(0.0, 10.0),
       seed=st.integers(0, 2**32 - 1))
def test_rh_from_gram_certificate_is_sound(n, extra, log_kappa, seed):
    """``_rh_from_gram`` (R_H of the forward from the Cholesky of the Gram) accepts only Grams
    with κ <= RH_KAPPA_MAX (κ from H's singular values), and then its R equals H's
    positive-diagonal Householder R and has H's singular values to 1e-10 relative (an
    uncertified factor at κ(G) = 1e10 misses the smallest by up to ~1e-6, eps·κ); it accepts
    every Gram with κ <= 2
    (n·φ <= n log 2 < log(RH_KAPPA_MAX/n) − 1 for n <= 9) and leaves G as it is."""
    from depthcheck.kernels.backends.numba.blas import _gram
    from depthcheck.kernels.backends.numba.reduced import RH_KAPPA_MAX, _rh_from_gram
    rng = np.random.default_rng(seed)
    p = n + extra
    U, _ = np.linalg.qr(rng.standard_normal((p, n)))
    V, _ = np.linalg.qr(rng.standard_normal((n, n)))
    sv = 10.0 ** (-0.5 * log_kappa * rng.random(n))
    sv[0], sv[-1] = 1.0, 10.0 ** (-0.5 * log_kappa)
    H = np.ascontiguousarray((U * sv) @ V.T)
    s = np.linalg.svd(H, compute_uv=False)
    kappa = (s[0] / s[-1]) ** 2
    G = np.empty((n, n))
    iw, dw, cw = np.empty(8, np.int32), np.empty(2), np.empty(2, np.uint8)
    _gram(H, G, True, iw, dw, cw)
    G0 = G.copy()
    R = np.full((n, n), np.nan)
    ok = _rh_from_gram(G, R, iw, cw)
    assert np.array_equal(G, G0)                             # the record still needs it
    if ok:
        assert kappa <= RH_KAPPA_MAX * 1.001
        assert np.all(np.diagonal(R) > 0) and np.array_equal(np.triu(R), R)
        np.testing.assert_allclose(R, _pos_diag_r(H), rtol=0, atol=1e-12 * np.abs(R).max())
        # the small directions are where an uncertified factor goes wrong (~eps·κ relative)
        np.testing.assert_allclose(np.linalg.svd(R, compute_uv=False), s, rtol=1e-10)
    if kappa <= 2.0:
        assert ok


# ---------------------------------------------------------------- in law
LAYERS = (1, 3, 8)
N_KS = 2 * len(LAYERS) + 1          # comparisons with a null hypothesis that is true


def _gap(fn, weights, B, seed, **kw):
    X = np.random.default_rng(0).standard_normal((6, 3))
    return fn(X, 8, trials=B, rng=np.random.default_rng(seed), weights=weights,
              activation="tanh", norm="rownorm", record=("isometry_gap",),
              **kw)["isometry_gap"]


@pytest.mark.parametrize("weights", ["haar", "gaussian"])
def test_same_law_as_numpy_reduced_and_full_chain(weights):
    B = 3000
    mine = _gap(simulate_reduced_chain_numba, weights, B, 10)
    red = _gap(simulate_reduced_chain, weights, B, 20)
    full = _gap(simulate_chain, weights, B, 30)
    for l in LAYERS:
        for other in (red, full):
            p = stats.ks_2samp(mine[:, l], other[:, l]).pvalue
            assert p > ALPHA / N_KS, (weights, l, p)
    # control (must be rejected): Gaussian against Haar weights, same kernel, same size
    other = "gaussian" if weights == "haar" else "haar"
    ctrl = _gap(simulate_reduced_chain_numba, other, B, 40)
    assert stats.ks_2samp(mine[:, LAYERS[-1]], ctrl[:, LAYERS[-1]]).pvalue < ALPHA / N_KS


# ---------------------------------------------------------------- bad input
X0 = np.ones((6, 3)) + np.eye(6, 3)


@pytest.mark.parametrize("kw,word", [
    (dict(gradients=True, n_out=7), "n_out"),
    (dict(gradients=True, n_out=2, labels=[0, 1, 2]), "labels"),
    (dict(weights="uniform"), "weights"),
    (dict(normals="mersenne"), "normals"),
    (dict(method="full"), "method"),
    (dict(norm="layer"), "norm"),
    (dict(record=("nope",)), "record"),
    (dict(trials=0), "trials"),
    (dict(rng=42), "rng"),
    (dict(weight_std=0.5), "weight_std"),
])
def test_bad_input_raises_naming_argument(kw, word):
    args = dict(trials=2, rng=np.random.default_rng(0))
    args.update(kw)
    with pytest.raises(ValueError, match=word):
        simulate_reduced_chain_numba(X0, 3, **args)


def test_bad_X_and_depth():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="X"):
        simulate_reduced_chain_numba(np.ones((3, 5)), 2, trials=2, rng=rng)     # n > d
    bad = X0.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="X"):
        simulate_reduced_chain_numba(bad, 2, trials=2, rng=rng)
    with pytest.raises(ValueError, match="depth"):
        simulate_reduced_chain_numba(X0, 0, trials=2, rng=rng)


# ---------------------------------------------------------------- backend "reduced_numba"
def test_backend_routes_forward_and_gradients_to_the_kernel():
    from depthcheck.kernels.random.philox import key_from_root
    from depthcheck.kernels.backends.numba.reduced import run_reduced_numba
    X = np.random.default_rng(3).standard_normal((9, 3))
    rec = ("isometry_gap", "rank_lower_bound")
    root = tuple(int(v) for v in np.random.default_rng(5).integers(0, 2**63 - 1, size=2,
                                                                     dtype=np.int64))
    for grads in (False, True):
        # exactly the kernel on the key derived from the driver's root (drawn first)
        got = simulate_chain(X, 4, trials=3, rng=np.random.default_rng(5), record=rec,
                             backend="reduced_numba", gradients=grads, n_out=3,
                             labels=[0, 2, 1] if grads else None)
        spec = ChainSpec.from_arguments(X, 4, trials=3, rng=np.random.default_rng(0), weights='haar', norm='rownorm', activation='identity', order='norm_act', gains=None, gain_exponent=None, residual=None, weight_std=None, record_every=1, record=rec, tau=0.5, gradients=grads, labels=None, n_out=3, checkpoint_every=None, method='full', backend='numpy', n_singular=10, progress=False)
        want = run_reduced_numba(spec, X, key_from_root(root), record=rec, record_every=1,
                                 tau=0.5, n_singular=10, gradients=grads,
                                 labels=np.array([0, 2, 1]))
        assert set(got) == set(want) and (("log_grad_norm" in got) is grads)
        for k in want:
            np.testing.assert_array_equal(got[k], want[k])
    # what the kernel cannot run is refused by name, never run by another engine
    with pytest.raises(UnsupportedEngineError, match="weights='uniform'"):
        simulate_chain(X, 4, trials=3, rng=np.random.default_rng(6), weights="uniform",
                       gradients=True, n_out=3, method="reduced", backend="numba")


# ---------------------------------------------------------------- gradients
GRAD_SHAPES = [(6, 3), (5, 3), (4, 4), (7, 2)]     # d − n >= n, 0 < d − n < n, d = n, n << d


def _log_grad(fn, X, weights, B, seed, **kw):
    kw = dict(dict(activation="tanh", norm="rownorm"), **kw)
    return fn(X, 6, trials=B, rng=np.random.default_rng(seed), weights=weights,
              record=("isometry_gap",), gradients=True, n_out=2,
              labels=np.arange(X.shape[1]) % 2, **kw)


@pytest.mark.parametrize("shape", GRAD_SHAPES)
def test_gradients_same_law_as_numpy_reduced(shape):
    """log‖∂loss/∂W_l‖_F of every gradient layer: two-sample KS against the numpy reduced
    engine (the conditional Wᵀ of depthcheck.kernels.chain.reduced), Haar and Gaussian weights
    (Bonferroni over layers, weights and shapes); control (must be rejected): the numpy engine
    with an UNconditional Wᵀ (a fresh Haar matrix, independent of the forward pass), the
    plausible bug the conditional backward exists to avoid."""
    X = np.random.default_rng(0).standard_normal(shape)
    B, tests = 3000, 2 * 6 * len(GRAD_SHAPES) + 1
    for weights in ("haar", "gaussian"):
        mine = _log_grad(simulate_reduced_chain_numba, X, weights, B, 1)["log_grad_norm"]
        ref = _log_grad(simulate_reduced_chain, X, weights, B, 2)["log_grad_norm"]
        for j in range(mine.shape[1]):
            p = stats.ks_2samp(mine[:, j], ref[:, j]).pvalue
            assert p > ALPHA / tests, (weights, j, p)
    if shape != (6, 3):
        return
    from depthcheck.kernels.chain import reduced as numpy_reduced

    def unconditional(layer, delta, weights, std):
        G = layer.gen.standard_normal(delta.shape[:1] + (delta.shape[1],) * 2)
        Q, R = np.linalg.qr(G)
        Q = Q * np.where(np.diagonal(R, axis1=-2, axis2=-1) >= 0, 1.0, -1.0)[..., None, :]
        return np.swapaxes(Q, -1, -2) @ delta

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(numpy_reduced, "conditional_transpose", unconditional)
        ctrl = _log_grad(simulate_reduced_chain, X, "haar", B, 3)["log_grad_norm"]
    mine = _log_grad(simulate_reduced_chain_numba, X, "haar", B, 1)["log_grad_norm"]
    assert stats.ks_2samp(mine[:, 0], ctrl[:, 0]).pvalue < ALPHA / tests


@pytest.mark.parametrize("shape", GRAD_SHAPES)
def test_gradients_exact_invariants(shape):
    """(1) norm-free linear Haar chains are orthogonal: δ_lᵀδ_l and H_lᵀH_l are preserved, so
    ‖∂loss/∂W_l‖_F = ‖δ_l H_{l-1}ᵀ‖_F is the same at every layer (to rounding) — a conditional Wᵀ
    that does not preserve the Gram of the signal breaks it; (2) the statistics with gradients
    are the forward kernel's, bit for bit; (3) the gradients do not depend on checkpoint_every
    (the segments are recomputed exactly), and differ between trials."""
    X = np.random.default_rng(4).standard_normal(shape)
    lin = _log_grad(simulate_reduced_chain_numba, X, "haar", 5, 7, norm="none",
                    activation="identity")["log_grad_norm"]
    np.testing.assert_allclose(lin, lin[:, :1] + 0 * lin, rtol=0, atol=1e-10)
    a = _log_grad(simulate_reduced_chain_numba, X, "gaussian", 4, 8, residual=0.5)
    fwd = simulate_reduced_chain_numba(X, 6, trials=4, rng=np.random.default_rng(8),
                                       weights="gaussian", activation="tanh", norm="rownorm",
                                       record=("isometry_gap",), residual=0.5)
    np.testing.assert_array_equal(a["isometry_gap"], fwd["isometry_gap"])
    for kc in (1, 4, 6):
        b = _log_grad(simulate_reduced_chain_numba, X, "gaussian", 4, 8, residual=0.5,
                      checkpoint_every=kc)
        np.testing.assert_array_equal(a["log_grad_norm"], b["log_grad_norm"])
    assert np.all(np.isfinite(a["log_grad_norm"]))
    assert not np.allclose(a["log_grad_norm"][0], a["log_grad_norm"][1])


@pytest.mark.parametrize("weights,kw", [("haar", {}), ("gaussian", {"residual": 0.5}),
                                        ("haar", {"norm": "bn", "activation": "relu"})])
def test_z_tape_changes_nothing(monkeypatch, weights, kw):
    """The gradient kernel keeps every layer's normals from the forward pass when they fit
    ZTAPE_MAX_BYTES (instead of drawing them again in each recomputed segment): a pure time /
    memory trade, so the gradients must be the same bit for bit with the tape switched off."""
    from depthcheck.kernels.backends.numba import reduced as rd
    X = np.random.default_rng(6).standard_normal((10, 4))
    assert rd._tape_rows(6, 10, 4) == 6
    taped = _log_grad(simulate_reduced_chain_numba, X, weights, 3, 9, checkpoint_every=2, **kw)
    monkeypatch.setattr(rd, "ZTAPE_MAX_BYTES", 0)
    assert rd._tape_rows(6, 10, 4) == 1
    redrawn = _log_grad(simulate_reduced_chain_numba, X, weights, 3, 9, checkpoint_every=2,
                        **kw)
    assert np.all(np.isfinite(taped["log_grad_norm"]))
    np.testing.assert_array_equal(taped["log_grad_norm"], redrawn["log_grad_norm"])
    np.testing.assert_array_equal(taped["isometry_gap"], redrawn["isometry_gap"])


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 numba threads")
@pytest.mark.parametrize("tape", [True, False])
def test_gradients_independent_of_threads(monkeypatch, tape):
    """Each thread keeps one Z tape for all its trials (trials t, t + T, ... of thread t): the
    gradients must not depend on the thread count T, so no trial reads another's tape. 5 trials
    (an odd split); with and without the tape."""
    from depthcheck.kernels.backends.numba import reduced as rd
    if not tape:
        monkeypatch.setattr(rd, "ZTAPE_MAX_BYTES", 0)
    X = np.random.default_rng(6).standard_normal((12, 4))
    before = numba.get_num_threads()
    try:
        out = {}
        for t in (1, 2):
            numba.set_num_threads(t)
            out[t] = _log_grad(simulate_reduced_chain_numba, X, "haar", 5, 21,
                               checkpoint_every=2)
    finally:
        numba.set_num_threads(before)
    assert np.all(np.isfinite(out[1]["log_grad_norm"]))
    np.testing.assert_array_equal(out[1]["log_grad_norm"], out[2]["log_grad_norm"])
    np.testing.assert_array_equal(out[1]["isometry_gap"], out[2]["isometry_gap"])
