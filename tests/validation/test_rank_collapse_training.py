"""Tests of the Daneshmand et al. 2020 (arXiv:2003.01652) training claims: the hand-written
gradient of the rank pre-training objective, PyTorch's initialisation, and every claim's
simulate on a tiny configuration."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from depthcheck.theory.rank import rank_lower_bound
from depthcheck.validation.papers.rank_collapse import claims_bn_init as bn_init
from depthcheck.validation.papers.rank_collapse import claims_training as ct
from depthcheck.validation.papers.rank_collapse import gradient_collapse as gc
from depthcheck.validation.papers.rank_collapse._training import (
    pretrain_rank, pytorch_init, rank_objective, rank_objective_grad, rank_pretrain_grad,
    relu_spec)


def test_rank_objective_is_inverse_of_r():
    H = np.random.default_rng(0).standard_normal((3, 6, 9))
    np.testing.assert_allclose(rank_objective(H), 1.0 / rank_lower_bound(H), rtol=1e-12)


def test_rank_objective_grad_finite_differences():
    rng = np.random.default_rng(1)
    H = rng.standard_normal((5, 7))
    f, G = rank_objective_grad(H)
    eps = 1e-6
    for (i, j) in [(0, 0), (2, 3), (4, 6)]:
        E = np.zeros_like(H)
        E[i, j] = eps
        fd = (rank_objective(H + E) - rank_objective(H - E)) / (2 * eps)
        assert abs(fd - G[i, j]) < 1e-7


def test_pretrain_grad_finite_differences():
    rng = np.random.default_rng(2)
    spec = relu_spec(6, 3)
    P = pytorch_init(spec, rng, trials=2)
    Ws, bs = P[0::2], P[1::2]
    X = rng.standard_normal((2, 64, 10))
    layer = 3
    f, gW, gb = rank_pretrain_grad(Ws, bs, X, layer)
    eps = 1e-6

    def obj(Ws2, bs2):
        H = X
        for l in range(layer):
            H = np.maximum(Ws2[l] @ H + bs2[l], 0.0)
        return rank_objective(H)

    for l, (i, j) in [(0, (1, 5)), (1, (2, 3)), (2, (0, 4))]:
        Wp = [w.copy() for w in Ws]
        Wm = [w.copy() for w in Ws]
        Wp[l][:, i, j] += eps
        Wm[l][:, i, j] -= eps
        fd = (obj(Wp, bs) - obj(Wm, bs)) / (2 * eps)
        np.testing.assert_allclose(fd, gW[l][:, i, j], atol=1e-6)
    bp = [b.copy() for b in bs]
    bp[1][:, 2, 0] += eps
    bm = [b.copy() for b in bs]
    bm[1][:, 2, 0] -= eps
    np.testing.assert_allclose((obj(Ws, bp) - obj(Ws, bm)) / (2 * eps), gb[1][:, 2, 0],
                               atol=1e-6)


def test_pretraining_raises_the_rank_bound():
    rng = np.random.default_rng(3)
    spec = relu_spec(16, 6)
    P = pytorch_init(spec, rng, trials=3)
    X = rng.standard_normal((3, 64, 80))

    def r_last(Q):
        H = X
        for W, b in zip(Q[0:-2:2], Q[1:-2:2]):
            H = np.maximum(W @ H + b, 0.0)
        return rank_lower_bound(H)

    P2 = pretrain_rank(P, spec, X, rng, iters=25, lr=0.1, batch_size=40)
    assert np.all(r_last(P2) > r_last(P) + 0.2)
    assert np.mean(r_last(P2) - r_last(P)) > 0.5
    np.testing.assert_array_equal(P2[-2], P[-2])          # the output layer is untouched


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 5), st.integers(2, 9), st.integers(0, 2**32 - 1))
def test_pytorch_init_bounds(depth, width, seed):
    spec = relu_spec(width, depth, "bn")
    P = pytorch_init(spec, np.random.default_rng(seed), trials=2)
    for (name, l), p in zip(spec.layout, P):
        if name in ("W", "b"):
            assert np.all(np.abs(p) <= 1 / np.sqrt(spec.widths[l]))
        elif name == "g":
            assert np.all(p == 1)
    Pa = pytorch_init(spec, np.random.default_rng(seed), trials=2, asymmetric=True)
    assert np.all(Pa[0] >= 0)


def test_pytorch_init_rejects_bad_trials():
    with pytest.raises(ValueError, match="trials"):
        pytorch_init(relu_spec(4, 2), np.random.default_rng(0), trials=0)


def test_alignment_of_rank_one_representation_is_one():
    """Independent check of Prop. 19: a network whose last hidden layer is constant across
    samples (all biases, zero weights) has alignment exactly 1."""
    spec = relu_spec(5, 2)
    rng = np.random.default_rng(4)
    P = pytorch_init(spec, rng, trials=2)
    P[2] = np.zeros_like(P[2])                               # W_2 = 0: h_i = relu(b_2)
    P[3] = np.abs(P[3]) + 0.1
    X = rng.standard_normal((2, 64, 12))
    y = rng.integers(0, 10, (2, 12))
    np.testing.assert_allclose(gc.alignment(P, X, y, spec), 1.0, atol=1e-12)


_TINY = {
    "rank_collapse.depth_rank_accuracy": {"width": 4, "depths": [1, 2], "steps": 2,
                                          "lr_grid": [0.1]},
    "rank_collapse.prop19_gradient_alignment": {"width": 4, "depth": 2, "n": 5},
    "rank_collapse.gradient_alignment_mlp": {"width": 4, "depth_vanilla": 2, "depth": 2,
                                             "n": 6, "steps": 2},
    "rank_collapse.rank_pretraining": {"width": 4, "depth": 2, "pre_iters": 2, "steps": 4,
                                       "eval_every": 2},
}


@pytest.mark.parametrize("claim", ct.CLAIMS, ids=lambda c: c.id)
def test_simulate_tiny(claim):
    cfg = dict(claim.quick, **_TINY[claim.id])
    ev = claim.simulate(cfg, np.random.default_rng(0), 2, "numpy")
    assert ev
    for k, v in ev.items():
        assert v.shape[0] == 2, k
        assert np.all(np.isfinite(v)), k
    ev2 = claim.simulate(cfg, np.random.default_rng(0), 2, "numpy")
    for k in ev:
        np.testing.assert_array_equal(ev[k], ev2[k])


def test_prop19_exact_and_control():
    cfg = dict(ct.PROP19.quick, **_TINY["rank_collapse.prop19_gradient_alignment"])
    ev = gc.prop19_simulate(cfg, np.random.default_rng(5), 3, "numpy")
    assert ev["misalignment"].max() < 1e-9 and ev["identity_error"].max() < 1e-9
    assert gc.prop19_judge(cfg, 0.0, ev, 1e-5).verdict == "PASS"
    cfg_c = dict(cfg, rank_one=False)
    ev_c = gc.prop19_simulate(cfg_c, np.random.default_rng(5), 3, "numpy")
    assert ev_c["misalignment"].max() > 1e-3
    assert gc.prop19_judge(cfg_c, 0.0, ev_c, 1e-5).verdict == "FAIL"


def test_not_checkable_names_existing_claims():
    ids = ({c.id for c in ct.CLAIMS} | {"rank_collapse.centering_redundant"}
           | {c.id for c in bn_init.CLAIMS})
    for nc in ct.NOT_CHECKABLE:
        assert set(nc.instead) <= ids


def test_train_adam_matches_hand_computed_steps():
    """Two Adam steps on f(p) = Σ a p² (full batch), against the update written out by hand."""
    from depthcheck.validation.papers.rank_collapse._training import train_adam
    a = np.array([1.0, 3.0, 0.5])
    f = lambda P, idx: (np.sum(a * P[0] ** 2), [2 * a * P[0]])   # noqa: E731
    p = np.array([1.0, -2.0, 0.3])
    res = train_adam([p], f, steps=2, lr=0.1, rng=np.random.default_rng(0), n_samples=3,
                     batch_size=3)
    q, m, v = p.copy(), np.zeros(3), np.zeros(3)
    for t in (1, 2):
        g = 2 * a * q
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        q = q - 0.1 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
    np.testing.assert_allclose(res.params[0], q, rtol=1e-12)
    one = train_adam([p], f, steps=1, lr=0.1, rng=np.random.default_rng(0), n_samples=3,
                     batch_size=3)
    np.testing.assert_allclose(one.params[0], p - 0.1 * np.sign(p), rtol=1e-6)  # |step 1| = lr
    with pytest.raises(ValueError, match="batch_size"):
        train_adam([p], f, steps=1, lr=0.1, rng=np.random.default_rng(0), n_samples=3,
                   batch_size=4)


def test_glorot_normal_init_variance():
    from depthcheck.validation.papers.rank_collapse._training import glorot_normal_init
    spec = relu_spec(100, 2)
    P = glorot_normal_init(spec, np.random.default_rng(6), trials=20)
    for (name, l), p in zip(spec.layout, P):
        if name == "W":
            var = 2.0 / (spec.widths[l] + spec.widths[l + 1])
            assert abs(p.var() / var - 1) < 0.05
        else:
            assert np.all(np.abs(p) <= 1 / np.sqrt(spec.widths[l]))


def test_pretraining_judge_tail_mean_and_mutation():
    """Statements (2)-(3) on the mean of the last ``tail`` evaluations, computed here by hand
    on constructed evidence; the no-speed-up mutation then FAILs and a bad tail raises."""
    from depthcheck.validation.papers.rank_collapse import pretraining as pt
    rng = np.random.default_rng(7)
    B = 40
    ev = {"loss_plain": np.full((B, 5), 2.3) + 1e-3 * rng.standard_normal((B, 5)),
          "rank_plain": np.ones((B, 5)) + 1e-3 * rng.standard_normal((B, 5)),
          "loss_pretrained": np.tile([2.3, 2.0, 4.0, 0.9, 1.1], (B, 1))
          + 0.05 * rng.standard_normal((B, 5)),
          "rank_pretrained": np.tile([4.0, 2.0, 2.0, 2.0, 2.0], (B, 1))
          + 0.05 * rng.standard_normal((B, 5)),
          "lr_plain": np.full(B, 0.1), "lr_pretrained": np.full(B, 0.1)}
    cfg = {"delta": 1.0, "min_rank_gain": 1.0, "min_rank_kept": 0.25, "steps": 80,
           "eval_every": 20, "tail": 2, "pre_iters": 1, "pre_lr": 0.1, "depth": 3, "width": 4}
    v = pt.judge(cfg, 0.0, ev, 1e-5)
    assert v.verdict == "PASS"
    loss_part = [p for p in v.extra["parts"] if "loss" in p["name"]][0]
    want = np.mean(ev["loss_plain"][:, -2:].mean(1) - ev["loss_pretrained"][:, -2:].mean(1))
    assert abs(loss_part["statistic"] - want) < 1e-12
    assert "60..80" in loss_part["name"]
    # tail 3 takes in the step-40 spike (loss 4.0): mean gain 0.3 < δ/2, FAIL
    assert pt.judge(dict(cfg, tail=3), 0.0, ev, 1e-5).verdict == "FAIL"
    mutated = pt.pretraining_gives_no_gain(cfg, ev)
    assert pt.judge(cfg, 0.0, mutated, 1e-5).verdict == "FAIL"
    with pytest.raises(ValueError, match="tail"):
        pt.judge(dict(cfg, tail=6), 0.0, ev, 1e-5)


def test_pretraining_per_arm_step_sizes():
    from depthcheck.validation.papers.rank_collapse import pretraining as pt
    cfg = dict(ct.RANK_PRETRAINING.quick, **_TINY["rank_collapse.rank_pretraining"],
               arms=["plain", "pretrained", "bn"], lr_grid=[0.05], lr_grid_bn=[0.01, 0.02])
    ev = pt.simulate(cfg, np.random.default_rng(1), 2, "numpy")
    assert set(ev["lr_plain"]) == {0.05} and set(ev["lr_pretrained"]) == {0.05}
    assert set(ev["lr_bn"]) <= {0.01, 0.02}
