"""Tests of bn_orthogonal.gradients_stable_during_training (Meterez et al. 2024, arXiv:2310.02012,
Sec. 4 / Fig. 4; depthcheck.validation.papers.bn_orthogonal.training_gradients): the evaluation
batches, the per-layer log-gradient profile against per-trial and finite-difference computations,
the slope and its mutation against exact constructions, and the judge's decisions on synthetic
evidence."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from depthcheck.kernels.nn.network import forward_backward
from depthcheck.validation.claims.stats import ALPHA
from depthcheck.validation.papers.bn_orthogonal import _training as T
from depthcheck.validation.papers.bn_orthogonal import claims_training as CT
from depthcheck.validation.papers.bn_orthogonal import training_gradients as TG

CLAIM = next(c for c in CT.CLAIMS if c.id == "bn_orthogonal.gradients_stable_during_training")


def test_eval_indices_distinct_and_repeated():
    idx = TG.eval_indices(np.random.default_rng(0), 5, 8, 30)
    assert idx.shape == (5, 8)
    assert all(len(set(r)) == 8 for r in idx) and idx.max() < 30
    rep = TG.eval_indices(np.random.default_rng(0), 5, 8, 30, repeat=4)
    assert all(len(set(r)) == 2 for r in rep)
    assert np.all(rep[:, :2] == rep[:, 6:])
    with pytest.raises(ValueError, match="repeat"):
        TG.eval_indices(np.random.default_rng(0), 2, 8, 30, repeat=3)
    with pytest.raises(ValueError, match="exceeds"):
        TG.eval_indices(np.random.default_rng(0), 2, 8, 4)


def test_profile_matches_single_trials_and_finite_differences():
    rng = np.random.default_rng(3)
    Ws = T.init_weights(rng, 2, 6, 5, 4, 3)
    Xe = rng.standard_normal((2, 6, 5))
    ye = rng.integers(0, 3, (2, 5))
    G, loss = TG.layer_log_grad_profile(Xe, Ws, ye, norm="bn_nomean")
    assert G.shape == (2, 4) and loss.shape == (2,)
    for b in range(2):
        Wb = [W[b] for W in Ws]
        lb, gb = forward_backward(Xe[b], Wb, ye[b], norm="bn_nomean", activation="identity",
                                  loss="xent")
        assert math.isclose(float(lb), float(loss[b]), rel_tol=1e-12)
        np.testing.assert_allclose(G[b], [np.log(np.linalg.norm(g)) for g in gb[:-1]],
                                   rtol=1e-12)
        # the norm of layer 2's gradient from central finite differences of the loss
        h, l = 1e-6, 2
        fd = np.zeros_like(Wb[l])
        for i in range(fd.shape[0]):
            for j in range(fd.shape[1]):
                E = np.zeros_like(Wb[l])
                E[i, j] = h
                up = forward_backward(Xe[b], [W + E if k == l else W for k, W in enumerate(Wb)],
                                      ye[b], norm="bn_nomean", activation="identity",
                                      loss="xent")[0]
                dn = forward_backward(Xe[b], [W - E if k == l else W for k, W in enumerate(Wb)],
                                      ye[b], norm="bn_nomean", activation="identity",
                                      loss="xent")[0]
                fd[i, j] = (up - dn) / (2 * h)
        assert abs(math.log(np.linalg.norm(fd)) - G[b, l]) < 1e-6


@settings(max_examples=25, deadline=None)
@given(a=st.floats(-0.2, 0.2), c=st.floats(-3, 3), delta=st.floats(0.001, 0.1))
def test_slopes_exact_on_linear_profiles_and_mutation_adds_delta(a, c, delta):
    L = 12
    cfg = {"depth": L, "window": [3, 10], "checkpoints": [0, 5], "delta": delta}
    l = np.arange(L, dtype=float)
    prof = c + a * (L - l)                                   # grows by a per layer to the input
    ev = {"log_grad": np.broadcast_to(prof, (3, 2, L)).copy(), "loss": np.ones((3, 2))}
    A = TG.checkpoint_slopes(cfg, ev)
    np.testing.assert_allclose(A, a, atol=1e-9)
    A2 = TG.checkpoint_slopes(cfg, TG.growth_per_layer(cfg, ev))
    np.testing.assert_allclose(A2, a + delta, atol=1e-9)


def test_window_validation():
    with pytest.raises(ValueError, match="window"):
        TG.checkpoint_slopes({"depth": 6, "window": [2, 6]}, {"log_grad": np.zeros((2, 1, 6))})


def _synthetic(rng, trials, L, slope, sd=0.002):
    l = np.arange(L, dtype=float)
    G = slope * (L - l)[None, None, :] + rng.standard_normal((trials, 3, L)) * sd
    return {"log_grad": G, "loss": np.ones((trials, 3))}


def test_judge_passes_flat_fails_growth_and_mutation():
    cfg = dict(CLAIM.config("quick"), depth=20, window=[4, 18], checkpoints=[0, 5, 10],
               judged=[1, 2])
    rng = np.random.default_rng(1)
    flat = _synthetic(rng, 40, 20, 0.0)
    assert CLAIM.judge(cfg, 0.0, flat, ALPHA).verdict == "PASS"
    assert CLAIM.judge(cfg, 0.0, _synthetic(rng, 40, 20, cfg["delta"]), ALPHA).verdict == "FAIL"
    mutated = CLAIM.mutations[0].transform(cfg, flat)
    assert CLAIM.judge(cfg, 0.0, mutated, ALPHA).verdict == "FAIL"
    # growth at initialisation only (checkpoint 0 is not judged) does not count
    init_only = {k: np.array(v) for k, v in flat.items()}
    init_only["log_grad"][:, 0] += cfg["delta"] * (20 - np.arange(20.0))
    assert CLAIM.judge(cfg, 0.0, init_only, ALPHA).verdict == "PASS"
    # one judged checkpoint growing is enough to fail (the max over training)
    late = {k: np.array(v) for k, v in flat.items()}
    late["log_grad"][:, 2] += cfg["delta"] * (20 - np.arange(20.0))
    assert CLAIM.judge(cfg, 0.0, late, ALPHA).verdict == "FAIL"


def test_simulate_degenerate_batch_grows():
    cfg = dict(CLAIM.config("quick"), d=12, n=12, depth=24, window=[6, 22], checkpoints=[0, 3],
               judged=[1])
    ev = CLAIM.simulate(cfg, np.random.default_rng(0), 6, "numpy")
    ev2 = CLAIM.simulate(dict(cfg, eval_repeat=4), np.random.default_rng(0), 6, "numpy")
    assert ev["log_grad"].shape == (6, 2, 24) and np.all(np.isfinite(ev["log_grad"]))
    a = TG.checkpoint_slopes(cfg, ev).mean()
    a2 = TG.checkpoint_slopes(cfg, ev2).mean()
    assert a2 > a + 0.01
