"""Tests of the training claims of Meterez et al. 2024 (depthcheck.validation.papers.bn_orthogonal.
claims_training): every claim's simulate → judge path at tiny configurations (shapes, finiteness),
the helpers (_training, training_depth, weight_orthogonality, explosion_rate) against independent
computations, and a finite-difference check of the per-layer gradient norms the rate claims use.
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from depthcheck.kernels.nn.network import forward_backward
from depthcheck.kernels.random.haar import sample_orthogonal
from depthcheck.validation.claims.claim import Claim, NotCheckable, Verdict
from depthcheck.validation.papers.bn_orthogonal import _training as T
from depthcheck.validation.papers.bn_orthogonal import claims_training as CT
from depthcheck.validation.papers.bn_orthogonal import explosion_rate as ER
from depthcheck.validation.papers.bn_orthogonal import training_depth as TD
from depthcheck.validation.papers.bn_orthogonal import weight_orthogonality as WO
from depthcheck.validation.run import registry

CLAIMS = {c.id: c for c in CT.CLAIMS}

# Tiny configurations: the claims' own code paths, seconds in total.
TINY = {
    "bn_orthogonal.training_depth_independent": {"d": 10, "n": 8, "depths": [2, 4], "steps": 6,
                                                 "record_every": 2, "n_eval": 16},
    "bn_orthogonal.gradients_stable_during_training": {"d": 12, "n": 12, "depth": 6,
                                                       "checkpoints": [0, 2, 4],
                                                       "judged": [1, 2], "window": [2, 5]},
    "bn_orthogonal.middle_layers_stay_orthogonal": {"d": 10, "n": 8, "depth": 5, "steps": 4},
    "bn_orthogonal.middle_layers_no_rotation_bias": {"d": 10, "n": 8, "depth": 5, "steps": 4},
    "bn_orthogonal.explosion_rate_gain": {"d": 10, "n": 10, "depth": 12, "window": [3, 10]},
    "bn_orthogonal.explosion_rate_gain_exponent": {"d": 10, "n": 10, "depth": 12,
                                                   "window": [3, 10]},
}


def test_claims_are_well_formed_and_new():
    assert list(CLAIMS) == list(TINY)
    # registered once each (the registry raises on an id defined twice), in this module's order
    registered = [c.id for c in registry.all_claims() if c.id in CLAIMS]
    assert registered == list(CLAIMS)
    for c in CT.CLAIMS:
        assert isinstance(c, Claim)
        assert c.kind in ("statistical", "finding")
        assert c.sensitivity is not None and c.mutations
        assert "arXiv:2310.02012" in c.source
    assert all(isinstance(n, NotCheckable) for n in CT.NOT_CHECKABLE)
    assert all(i in CLAIMS for n in CT.NOT_CHECKABLE for i in n.instead)


@pytest.mark.parametrize("cid", list(TINY))
@pytest.mark.parametrize("variant", ["claim", "control", "mutations"])
def test_simulate_and_judge_on_tiny_configs(cid, variant):
    c = CLAIMS[cid]
    base = c.config("quick", control=(variant == "control"))
    cfgs = [dict(base, **TINY[cid])]
    if variant == "mutations":
        cfgs = [dict(base, **TINY[cid], **m.overrides) for m in c.mutations if m.overrides]
    for k, cfg in enumerate(cfgs):
        ev = c.simulate(cfg, np.random.default_rng(k), 3, "numpy")
        assert ev and all(np.asarray(v).shape[0] == 3 for v in ev.values())
        assert all(np.all(np.isfinite(v)) for v in ev.values()), cid
        judged = dict(c.config("quick"), **TINY[cid])
        v = c.judge(judged, c.predict(judged), ev, 1e-3)
        assert isinstance(v, Verdict)
        for m in c.mutations:
            if m.transform is not None:
                ev2 = m.transform(judged, ev)
                assert set(ev2) == set(ev)


# ------------------------------------------------------------------------------ _training
def test_init_weights_shapes_orthogonality_and_gaussian_layers():
    Ws = T.init_weights(np.random.default_rng(1), 3, 7, 5, 4, 2, gaussian_layers=[2])
    assert [W.shape for W in Ws] == [(3, 5, 7), (3, 5, 5), (3, 5, 5), (3, 5, 5), (3, 2, 5)]
    eye = np.eye(5)
    assert np.allclose(Ws[0] @ np.swapaxes(Ws[0], -1, -2), eye)        # orthonormal rows
    assert np.allclose(Ws[1] @ np.swapaxes(Ws[1], -1, -2), eye)
    assert not np.allclose(Ws[2] @ np.swapaxes(Ws[2], -1, -2), eye)    # the Gaussian layer
    assert np.allclose(Ws[-1] @ np.swapaxes(Ws[-1], -1, -2), np.eye(2))
    # fc_0 wider than the input: orthonormal columns
    W0 = T.init_weights(np.random.default_rng(2), 2, 3, 5, 2, 2)[0]
    assert np.allclose(np.swapaxes(W0, -1, -2) @ W0, np.eye(3))
    with pytest.raises(ValueError, match="gaussian_layers"):
        T.init_weights(np.random.default_rng(0), 1, 4, 4, 3, 2, gaussian_layers=[3])
    with pytest.raises(ValueError, match="weights"):
        T.init_weights(np.random.default_rng(0), 1, 4, 4, 3, 2, weights="uniform")
    with pytest.raises(ValueError, match="n_out"):
        T.init_weights(np.random.default_rng(0), 1, 4, 4, 3, 6)


def test_first_crossing_by_hand():
    steps = np.array([0.0, 10.0, 20.0, 30.0])
    losses = np.array([[3.0, 0.5, 8.0], [2.0, 0.4, 8.0], [1.0, 0.3, 8.0], [0.5, 0.2, 8.0]])
    got = T.first_crossing(steps, losses, 1.5)
    # trial 0: log-linear between (10, 2) and (20, 1): 10 + 10·log(2/1.5)/log(2)
    assert got[0] == pytest.approx(10 + 10 * math.log(2 / 1.5) / math.log(2), rel=1e-12)
    assert got[1] == 0.0                       # already below at step 0
    assert got[2] == 30.0                      # never: censored at the last step


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 6), st.integers(0, 2**31 - 1), st.floats(0.1, 10.0))
def test_weight_gap_is_rotation_and_scale_invariant(d, seed, c):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((d, d))
    Q = sample_orthogonal((), d, rng)
    g = T.weight_isometry_gap(W)
    assert T.weight_isometry_gap(c * Q @ W) == pytest.approx(g, rel=1e-8, abs=1e-10)
    assert T.weight_isometry_gap(Q) == pytest.approx(0.0, abs=1e-10)
    lam = np.linalg.svd(W, compute_uv=False) ** 2          # independent: singular values
    assert g == pytest.approx(math.log(lam.mean()) - np.log(lam).mean(), rel=1e-8, abs=1e-10)


def test_weight_gap_of_rank_deficient_matrix_is_inf():
    assert T.weight_isometry_gap(np.array([[1.0, 0.0], [0.0, 0.0]])) == math.inf


def test_sgd_one_step_uses_per_trial_minibatches_and_per_layer_rates():
    X, y = T.digits_train(0)
    rng = np.random.default_rng(3)
    Ws = T.init_weights(rng, 2, X.shape[0], 10, 3, 10)
    lr = np.array([0.1, 0.2, 0.3, 0.4])
    r1, r2 = np.random.default_rng(9), np.random.default_rng(9)
    W1, _, _, dead = T.sgd(Ws, X, y, r1, steps=1, lr=lr, batch=5, norm="bn_nomean")
    assert not dead.any()
    idx = np.argpartition(r2.random((2, X.shape[1])), 4, axis=1)[:, :5]
    assert len(set(idx[0])) == 5 and set(idx[0]) != set(idx[1])
    for b in range(2):
        _, g = forward_backward(X[:, idx[b]], [W[b] for W in Ws], y[idx[b]], norm="bn_nomean",
                                activation="identity", loss="xent")
        for i in range(4):
            assert np.allclose(W1[i][b], Ws[i][b] - lr[i] * g[i], atol=1e-12)
    with pytest.raises(ValueError, match="lr"):
        T.sgd(Ws, X, y, r1, steps=1, lr=-1.0, batch=5, norm="bn_nomean")


def test_remove_symmetric_part_leaves_a_skew_direction():
    rng = np.random.default_rng(6)
    W = sample_orthogonal((3,), 5, rng)
    G = rng.standard_normal((3, 5, 5))
    for keep in (0.0, 0.5, 1.0):
        A = np.swapaxes(W, -1, -2) @ T.remove_symmetric_part(W, G, keep)
        A0 = np.swapaxes(W, -1, -2) @ G
        assert np.allclose(A + np.swapaxes(A, -1, -2), keep * (A0 + np.swapaxes(A0, -1, -2)))
        assert np.allclose(A - np.swapaxes(A, -1, -2), A0 - np.swapaxes(A0, -1, -2))
    with pytest.raises(ValueError, match="keep"):
        T.remove_symmetric_part(W, G, 1.5)
    # a small rotation step keeps W orthogonal to second order: gap ~ η⁴, not η²
    W1 = W - 1e-3 * T.remove_symmetric_part(W, G, 0.0)
    W2 = W - 1e-3 * G
    assert np.all(T.weight_isometry_gap(W1) < 1e-3 * T.weight_isometry_gap(W2))


def test_sgd_freezes_a_diverging_trial_and_keeps_the_others():
    X, y = T.digits_train(0)
    rng = np.random.default_rng(8)
    Ws = T.init_weights(rng, 2, X.shape[0], 10, 30, 10, weights="gaussian")
    Ws = [W.copy() for W in Ws]
    for W in Ws[1:-1]:
        W[1] *= 30.0                  # trial 1 overflows float64 in its forward pass
    _, steps, losses, dead = T.sgd(Ws, X, y, np.random.default_rng(1), steps=3, lr=1e-3,
                                   batch=8, norm="none", eval_idx=np.arange(20))
    assert dead.tolist() == [False, True]
    # trial 1 dies at its first training step (its step-0 evaluation may still be finite)
    assert np.all(np.isinf(losses[1:, 1])) and np.all(np.isfinite(losses[:, 0]))
    ref = T.sgd([W[:1] for W in Ws], X, y, np.random.default_rng(1), steps=3, lr=1e-3,
                batch=8, norm="none", eval_idx=np.arange(20))
    # the surviving trial is not affected by its neighbour (its own minibatch stream differs
    # from a one-trial run's, so compare the losses' finiteness and the first record only)
    assert losses[0, 0] == pytest.approx(ref[2][0, 0], rel=1e-12)


# ----------------------------------------------------------------------- training_depth
def test_depth_slopes_recover_a_power_law():
    cfg = {"depths": [4, 8, 16, 32]}
    L = np.array(cfg["depths"], dtype=float)
    ev = {"iters": np.stack([30 * L ** 0.7, 5 * L ** -0.2])}
    assert np.allclose(TD.depth_slopes(cfg, ev), [0.7, -0.2])


# ----------------------------------------------------------------- weight_orthogonality
def test_middle_layers_and_log_ratio():
    assert WO.middle_layers(4) == [1, 2, 3]
    assert WO.middle_layers(8) == [2, 3, 4, 5, 6]
    cfg = {"depth": 4}
    gaps = np.array([[0.4, 0.1, 0.1, 0.1, 0.2]])
    assert WO.log_ratio(cfg, gaps)[0] == pytest.approx(math.log(0.1 / 0.3))


# ---------------------------------------------------------------------- explosion_rate
@settings(max_examples=25, deadline=None)
@given(st.floats(-2, 2), st.floats(-5, 5), st.integers(0, 5), st.integers(3, 12))
def test_window_rate_of_a_line(slope, c, w0, span):
    x = np.arange(w0 + span + 3, dtype=float)
    G = (c - slope * x)[None, :]
    assert ER.window_rate(G, w0, w0 + span)[0] == pytest.approx(slope, abs=1e-9)


def test_local_gain_prediction_against_a_direct_fit():
    cfg = {"depth": 40, "window": [5, 30]}
    for r in (0.0, 0.25, 0.4):
        a2 = (np.arange(40) + 1.0) ** (-2 * r)
        curve = np.array([a2[l:].sum() for l in range(40)])
        slope = np.polyfit(np.arange(5, 31), curve[5:31], 1)[0]
        assert ER.local_gain_prediction(cfg, r) == pytest.approx(-slope, rel=1e-10)
    assert ER.local_gain_prediction(cfg, 0.0) == pytest.approx(1.0)


def test_rate_judge_recovers_the_exponent_of_a_synthetic_power_law():
    rng = np.random.default_rng(0)
    cfg = {"alphas": [0.5, 1.0], "activations": ["tanh"], "delta": 1.0, "norm": "bn_nomean",
           "d": 8, "depth": 10, "window": [2, 8]}
    base = 0.1 * (1 + 0.02 * rng.standard_normal((200, 1)))
    R = base * np.array([0.5, 1.0]) ** 2
    v = ER._rate_judge(cfg, 2.0, {"rate_0": R}, 1e-5)
    assert v.verdict == "PASS" and v.statistic == pytest.approx(2.0, abs=1e-9)
    v = ER._rate_judge(cfg, 2.0, ER.one_more_power(cfg, {"rate_0": R}), 1e-5)
    assert v.verdict == "FAIL" and v.statistic == pytest.approx(3.0, abs=1e-9)


def test_layer_log_grads_against_finite_differences():
    rng = np.random.default_rng(4)
    B, d, n, L = 2, 5, 5, 4
    X = rng.standard_normal((6, n))
    Ws = T.init_weights(rng, B, 6, d, L, 3)
    labels = rng.integers(0, 3, n)
    gains = np.array([1.0, 0.7, 0.5, 0.4])
    lg = ER.layer_log_grads(X, Ws, labels, gains=gains, activation="tanh", norm="bn_nomean")
    assert lg.shape == (B, L)
    h = 1e-6
    for l in (1, 2):
        fd = np.zeros((d, d))
        for i in range(d):
            for j in range(d):
                E = np.zeros((B, d, d))
                E[:, i, j] = h
                up = [W + E if k == l else W for k, W in enumerate(Ws)]
                dn = [W - E if k == l else W for k, W in enumerate(Ws)]
                lu, _ = forward_backward(X, up, np.broadcast_to(labels, (B, n)), norm="bn_nomean",
                                         activation="tanh", loss="xent", gains=gains)
                ld, _ = forward_backward(X, dn, np.broadcast_to(labels, (B, n)), norm="bn_nomean",
                                         activation="tanh", loss="xent", gains=gains)
                fd[i, j] = (lu[0] - ld[0]) / (2 * h)
        assert lg[0, l] == pytest.approx(math.log(np.linalg.norm(fd)), abs=1e-6)
