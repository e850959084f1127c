"""depthcheck.kernels.chain.reduced: the O(d n²) chain against the full d×d simulation, in distribution.

Oracles: the full chain ``depthcheck.kernels.simulate_chain`` (explicit d×d weights), explicit Haar /
Gaussian matrices for one layer, and exact second moments of W H for a fixed H
(E[(WH)_ij (WH)_kl] = δ_ik (HᵀH)_jl / d for Haar W, σ² δ_ik (HᵀH)_jl for i.i.d. N(0, σ²)).
Two-sample KS tests use fixed seeds; the family-wise level is ALPHA = 1e-3, split by
Bonferroni over the tests of each function. Each check is shown to reject a deliberately wrong
variant (forgotten sign fix, Wᵀ restricted to the known span, complement mapped by the
identity instead of a Haar isometry, Gaussian complement noise dropped).
"""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from scipy import stats

import depthcheck.kernels.chain.reduced as red
from depthcheck.kernels.chain.driver import simulate_chain
from depthcheck.kernels.random.haar import sample_orthogonal
from depthcheck.kernels.chain.reduced import (ReducedChainBackend, conditional_transpose, reduced_linear, simulate_reduced_chain)

ALPHA = 1e-3
Z_MAX = 5.0


def _T(a):
    return np.swapaxes(a, -1, -2)


def _ks(a, b):
    return stats.ks_2samp(a, b).pvalue


# ---------------------------------------------------------------- one layer, forward
def _second_moment_z(Z, H, scale):
    """z-scores of E[Z_ij Z_kl] = scale·δ_ik (HᵀH)_jl for a few index pairs."""
    G = H.T @ H
    out = {}
    for (i, j, k, l) in [(0, 0, 0, 0), (0, 0, 0, 1), (1, 2, 1, 0), (0, 1, 2, 1), (3, 2, 3, 2)]:
        x = Z[:, i, j] * Z[:, k, l]
        mean = scale * G[j, l] * (i == k)
        out[(i, j, k, l)] = (x.mean() - mean) / np.sqrt(x.var(ddof=1) / x.size)
    return out


@pytest.mark.parametrize("weights,std,d", [("haar", 1.0, 5), ("haar", 1.0, 7),
                                           ("gaussian", 0.7, 5)])
def test_reduced_linear_second_moments_and_sign_symmetry(weights, std, d):
    rng = np.random.default_rng(1)
    n, N = 3, 40_000
    H = rng.standard_normal((d, n))
    Z, _ = reduced_linear(np.broadcast_to(H, (N, d, n)).copy(), rng, weights, std)
    scale = 1.0 / d if weights == "haar" else std**2
    assert all(abs(z) < Z_MAX for z in _second_moment_z(Z, H, scale).values())
    pos = int(np.sum(Z[:, 0, 0] > 0))
    assert stats.binomtest(pos, N, 0.5).pvalue > 5.7e-7


def test_reduced_linear_without_sign_fix_is_rejected(monkeypatch):
    monkeypatch.setattr(red, "_sign_fixed_q", lambda G: np.linalg.qr(G)[0])
    rng = np.random.default_rng(1)
    d, n, N = 5, 3, 40_000
    H = rng.standard_normal((d, n))
    Z, _ = reduced_linear(np.broadcast_to(H, (N, d, n)).copy(), rng, "haar", 1.0)
    pos = int(np.sum(Z[:, 0, 0] > 0))
    assert stats.binomtest(pos, N, 0.5).pvalue < 1e-12          # sign(Z_00) is deterministic


def test_reduced_linear_matches_explicit_haar_in_distribution():
    rng = np.random.default_rng(2)
    d, n, N = 6, 2, 20_000
    H = rng.standard_normal((d, n))
    Z, _ = reduced_linear(np.broadcast_to(H, (N, d, n)).copy(), rng, "haar", 1.0)
    Zf = sample_orthogonal(N, d, rng) @ H
    for (i, j) in [(0, 0), (5, 1), (2, 1)]:
        assert _ks(Z[:, i, j], Zf[:, i, j]) > ALPHA / 3


# ---------------------------------------------------------------- one layer, backward
def _delta(Z, E):
    """A fixed nonlinear function of the forward output (what a backward signal is)."""
    return np.tanh(2.0 * Z) + E


@pytest.mark.parametrize("d,n", [(7, 3), (5, 3), (4, 2)])      # n < d-n, n > d-n, n = d-n
def test_conditional_transpose_exact_identities(d, n):
    rng = np.random.default_rng(d * 10 + n)
    H = rng.standard_normal((3, d, n))
    Z, layer = reduced_linear(H, rng, "haar", 1.0)
    QH, QZ = layer.QH, layer.draw
    M = rng.standard_normal((3, n, 4))[..., :n]
    # W maps Q_H to Q_Z, so Wᵀ Q_Z M = Q_H M exactly (no randomness needed)
    np.testing.assert_allclose(conditional_transpose(layer, QZ @ M, "haar", 1.0), QH @ M,
                               atol=1e-12)
    delta = _delta(Z, rng.standard_normal((d, n)))
    y = conditional_transpose(layer, delta, "haar", 1.0)
    # Wᵀ is orthogonal: the Gram of the signal is preserved
    np.testing.assert_allclose(_T(y) @ y, _T(delta) @ delta, atol=1e-11)
    # its span(Q_H) component is the known Q_H Q_Zᵀ δ
    np.testing.assert_allclose(_T(QH) @ y, _T(QZ) @ delta, atol=1e-11)


def _one_layer(d, n, N, weights, std, rng, full):
    H = np.broadcast_to(np.random.default_rng(99).standard_normal((d, n)), (N, d, n)).copy()
    E = np.random.default_rng(98).standard_normal((d, n))
    if full:
        W = (sample_orthogonal(N, d, rng) if weights == "haar"
             else std * rng.standard_normal((N, d, d)))
        Z = W @ H
        y = _T(W) @ _delta(Z, E)
    else:
        Z, layer = reduced_linear(H, rng, weights, std)
        y = red.conditional_transpose(layer, _delta(Z, E), weights, std)   # patchable
    QH = np.linalg.qr(H[0])[0]
    proj = np.sum((QH.T @ y) ** 2, axis=(-2, -1))              # ‖P_H Wᵀδ‖²
    perp = np.sum(y * y, axis=(-2, -1)) - proj                 # ‖P_H⊥ Wᵀδ‖²
    return {"y00": y[:, 0, 0], "y_last": y[:, -1, -1], "proj": proj, "perp": perp,
            "z00": Z[:, 0, 0]}


CASES_1L = [(8, 3, "haar", 1.0), (5, 3, "haar", 1.0), (6, 2, "gaussian", 0.5)]


@pytest.mark.parametrize("d,n,weights,std", CASES_1L)
def test_one_layer_forward_backward_joint_law_matches_full(d, n, weights, std):
    N = 6000
    a = _one_layer(d, n, N, weights, std, np.random.default_rng(10 + d), full=True)
    b = _one_layer(d, n, N, weights, std, np.random.default_rng(20 + d), full=False)
    ps = {k: _ks(a[k], b[k]) for k in a}
    assert min(ps.values()) > ALPHA / (len(ps) * len(CASES_1L)), ps


def _identity_complement(layer, delta, weights, std):
    """WRONG: maps the complement part by the identity instead of a Haar isometry."""
    QH, QZ = layer.QH, layer.draw
    coef = _T(QZ) @ delta
    return QH @ coef + (delta - QZ @ coef)


def _gaussian_without_noise(layer, delta, weights, std):
    """WRONG: keeps only the known part σ Q_H Gᵀ δ of Wᵀ δ."""
    return std * (layer.QH @ (_T(layer.draw) @ delta))


@pytest.mark.parametrize("d,n,weights,std,wrong", [
    (8, 3, "haar", 1.0, _identity_complement),
    (6, 2, "gaussian", 0.5, _gaussian_without_noise),
])
def test_one_layer_check_rejects_wrong_transposes(monkeypatch, d, n, weights, std, wrong):
    N = 6000
    a = _one_layer(d, n, N, weights, std, np.random.default_rng(10 + d), full=True)
    monkeypatch.setattr(red, "conditional_transpose", wrong)
    b = _one_layer(d, n, N, weights, std, np.random.default_rng(20 + d), full=False)
    ps = {k: _ks(a[k], b[k]) for k in a}
    assert min(ps.values()) < 1e-8, ps


# ---------------------------------------------------------------- whole chains
CHAIN_CASES = [
    # d, n, depth, weights, kwargs
    (16, 4, 6, "haar", dict(norm="rownorm", activation="identity")),        # seed 001
    (10, 7, 4, "haar", dict(norm="bn_nomean", activation="tanh")),          # 2n > d path
    (12, 6, 4, "haar", dict(norm="bn", activation="sin", residual=0.5)),    # 2n = d
    (16, 4, 5, "gaussian", dict(norm="bn", activation="tanh", gain_exponent=0.3)),
]
TRIALS = 1500


def _chains(d, n, depth, weights, kw, trials, seed):
    X = np.random.default_rng(seed).standard_normal((d, n))
    labels = np.arange(n) % 3                  # shared: the gradient law is conditional on them
    common = dict(trials=trials, weights=weights, gradients=True, n_out=3, labels=labels,
                  record=("isometry_gap", "rank_lower_bound"), **kw)
    full = simulate_chain(X, depth, rng=np.random.default_rng(seed + 1), **common)
    fast = simulate_reduced_chain(X, depth, rng=np.random.default_rng(seed + 2), **common)
    return full, fast


def _chain_pvalues(full, fast):
    ps = {}
    for j in range(1, full["isometry_gap"].shape[1]):
        ps[("gap", j)] = _ks(full["isometry_gap"][:, j], fast["isometry_gap"][:, j])
    for j in range(full["log_grad_norm"].shape[1]):
        ps[("grad", j)] = _ks(full["log_grad_norm"][:, j], fast["log_grad_norm"][:, j])
    return ps


def test_reduced_chain_matches_full_chain_in_distribution():
    n_tests = sum(2 * depth for (_, _, depth, _, _) in CHAIN_CASES)
    for (d, n, depth, weights, kw) in CHAIN_CASES:
        full, fast = _chains(d, n, depth, weights, kw, TRIALS, seed=d * 100 + n)
        ps = _chain_pvalues(full, fast)
        assert min(ps.values()) > ALPHA / n_tests, (d, n, weights, ps)
        assert full.keys() == fast.keys()
        for k in full:
            assert full[k].shape == fast[k].shape


def test_chain_check_rejects_identity_complement(monkeypatch):
    monkeypatch.setattr(red, "conditional_transpose", _identity_complement)
    d, n, depth, weights, kw = CHAIN_CASES[0]
    full, fast = _chains(d, n, depth, weights, kw, 2000, seed=d * 100 + n)
    ps = _chain_pvalues(full, fast)
    assert min(ps.values()) < 1e-7, ps


# ---------------------------------------------------------------- conventions
def test_gradients_do_not_depend_on_checkpointing_and_seed_reproduces():
    X = np.random.default_rng(3).standard_normal((9, 3))
    kw = dict(trials=5, gradients=True, n_out=2, norm="bn", activation="tanh", record_every=2)
    a = simulate_reduced_chain(X, 7, rng=np.random.default_rng(4), checkpoint_every=1, **kw)
    b = simulate_reduced_chain(X, 7, rng=np.random.default_rng(4), checkpoint_every=5, **kw)
    c = simulate_reduced_chain(X, 7, rng=np.random.default_rng(4), **kw)
    for k in a:
        np.testing.assert_allclose(a[k], b[k], atol=1e-12)
        np.testing.assert_array_equal(b[k] if k != "log_grad_norm" else b[k], b[k])
        np.testing.assert_allclose(a[k], c[k], atol=1e-12)
    assert list(a["grad_layers"]) == [1, 2, 4, 6]
    no_grad = simulate_reduced_chain(X, 7, rng=np.random.default_rng(4),
                                     **{**kw, "gradients": False})
    np.testing.assert_allclose(no_grad["isometry_gap"], a["isometry_gap"], atol=1e-12)


def test_backend_object_runs_the_same_chain():
    X = np.random.default_rng(5).standard_normal((8, 3))
    out = simulate_reduced_chain(X, 4, trials=3, rng=np.random.default_rng(6), gradients=True,
                                 n_out=2)
    from depthcheck.kernels.chain.spec import ChainSpec
    rng = np.random.default_rng(6)
    spec = ChainSpec.from_arguments(X, 4, trials=3, rng=rng, gradients=True, n_out=2)
    Xv, record, k_c, tau = spec.X, spec.record, spec.checkpoint_every, spec.tau
    root = tuple(int(v) for v in rng.integers(0, 2**63 - 1, size=2, dtype=np.int64))
    labels = rng.integers(0, 2, size=3)
    be = ReducedChainBackend()
    assert be.fused(spec, record, True)
    got = be.run_fused(spec, Xv, root, record=record, record_every=1, tau=tau, n_singular=10,
                       gradients=True, labels=labels, checkpoint_every=k_c)
    for k in out:
        np.testing.assert_allclose(got[k], out[k], atol=1e-12)


def test_memory_is_order_d_n_not_d_squared():
    d, n, B = 2048, 4, 2
    X = np.random.default_rng(7).standard_normal((d, n))
    tracemalloc.start()
    try:
        simulate_reduced_chain(X, 3, trials=B, rng=np.random.default_rng(8), gradients=True,
                               n_out=2)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 0.25 * B * d * d * 8          # one d×d stack would already exceed this


@pytest.mark.parametrize("kwargs,name", [
    (dict(weights="uniform"), "weights"),
    (dict(X=np.ones((3, 5))), "X"),
    (dict(norm="batch"), "norm"),
    (dict(trials=0), "trials"),
    (dict(rng=3), "rng"),
])
def test_bad_input_raises_value_error_naming_argument(kwargs, name):
    args = dict(X=np.random.default_rng(0).standard_normal((6, 3)), depth=2, trials=2,
                rng=np.random.default_rng(1))
    args.update(kwargs)
    X, depth = args.pop("X"), args.pop("depth")
    with pytest.raises(ValueError, match=name):
        simulate_reduced_chain(X, depth, **args)
