"""Tests of the Daneshmand et al. 2020 (arXiv:2003.01652) claims on BN's initialisation and on
pre-training against BN: the asymmetric initialisation, the rank collapse it causes in a BN
layer (computed independently of the library's forward pass), the judges, and each claim's
simulate on a tiny configuration."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from depthcheck.kernels.nn.mlp import mlp_forward
from depthcheck.validation.papers.rank_collapse import bn_init as bi
from depthcheck.validation.papers.rank_collapse import claims_bn_init as cb
from depthcheck.validation.papers.rank_collapse._training import pytorch_init, relu_spec

TINY = {"width": 4, "depth": 2, "steps": 4, "eval_every": 2, "tail": 2, "batch_size": 16,
        "lr_grid": [0.1, 0.3], "rank_cols": 16, "pre_iters": 2, "pre_lr": 0.1,
        "pre_every": 1, "delta": 1.0, "min_rank_gap": 1.0}


@settings(max_examples=25, deadline=None)
@given(width=st.integers(2, 9), depth=st.integers(1, 3), shift=st.floats(-2, 2),
       seed=st.integers(0, 2**32 - 1))
def test_asymmetric_init_support_and_other_parameters(width, depth, shift, seed):
    spec = relu_spec(width, depth, "bn")
    P = bi.asymmetric_init(spec, np.random.default_rng(seed), 2, shift=shift)
    Q = pytorch_init(spec, np.random.default_rng(seed), 2)
    for (name, l), p, q in zip(spec.layout, P, Q):
        a = 1.0 / math.sqrt(spec.widths[l])
        if name == "W":
            # 2|w| − (1 − shift)·a with w ~ U[−a, a], from the same draws as PyTorch's init
            np.testing.assert_allclose(p, 2 * np.abs(q) - (1 - shift) * a, rtol=0, atol=1e-15)
            assert np.all(p >= (shift - 1) * a - 1e-15) and np.all(p <= (shift + 1) * a + 1e-15)
        else:
            np.testing.assert_array_equal(p, q)


def test_asymmetric_init_moments():
    """U[0, 2a]: mean a, variance a²/3 (the variance of PyTorch's U[−a, a]); shift 0: mean 0."""
    spec = relu_spec(400, 1, "bn", d_in=100)
    a = 1.0 / math.sqrt(100)
    W = bi.asymmetric_init(spec, np.random.default_rng(0), 4)[0]
    assert abs(W.mean() - a) < 0.01 * a
    assert abs(W.var() - a * a / 3) < 0.02 * a * a / 3
    W0 = bi.asymmetric_init(spec, np.random.default_rng(0), 4, shift=0.0)[0]
    assert abs(W0.mean()) < 0.01 * a
    assert abs(W0.var() - a * a / 3) < 0.02 * a * a / 3
    with pytest.raises(ValueError, match="shift"):
        bi.asymmetric_init(spec, np.random.default_rng(0), 1, shift=float("nan"))


def _r(H):
    M = H @ H.T / H.shape[1]
    return np.trace(M) ** 2 / np.sum(M * M)


def test_asymmetric_weights_collapse_bn_layers():
    """BN-ReLU layers written out in numpy. With W = a + U, U ~ U[−a, a] (i.e. W ~ U[0, 2a]) and
    an input of i.i.d. units, the pre-activations of two units have covariance ≈ m a² var(h)
    and variances ≈ m (a² + a²/3) var(h) across samples: correlation 3/4 after one layer; the
    common component then compounds, so after three layers the units are identical up to
    rounding after BN (r(H) → 1). With W ~ U[−a, a] the correlation is ≈ 0."""
    rng = np.random.default_rng(3)
    m, n = 128, 256
    Hin = np.maximum(rng.standard_normal((m, n)), 0.0)
    a = 1 / math.sqrt(m)
    corr, r = {}, {}
    for name in ("asym", "std"):
        H, corr[name] = Hin, []
        for _ in range(3):
            W = rng.uniform(0, 2 * a, (m, m)) if name == "asym" else rng.uniform(-a, a, (m, m))
            Z = W @ H
            Z = (Z - Z.mean(1, keepdims=True)) / Z.std(1, keepdims=True)
            H = np.maximum(Z, 0)
            corr[name].append(np.corrcoef(Z)[np.triu_indices(m, 1)].mean())
        r[name] = _r(H)
    assert abs(corr["asym"][0] - 0.75) < 0.08
    assert corr["asym"][2] > 0.99 and r["asym"] < 1.01
    assert max(abs(c) for c in corr["std"]) < 0.05 and r["std"] > 5


def test_library_forward_agrees_on_the_collapse():
    """The same contrast through the library's BN MLP (depth 8, width 32) at initialisation."""
    spec = relu_spec(32, 8, "bn")
    rng = np.random.default_rng(1)
    X = rng.standard_normal((4, 64, 128))
    r = {}
    for name, P in (("asym", bi.asymmetric_init(spec, rng, 4)),
                    ("std", pytorch_init(spec, rng, 4))):
        H = mlp_forward(P, X, spec).hidden[-1]
        r[name] = np.array([_r(h) for h in H])
    assert np.all(r["asym"] < 1.05) and np.all(r["std"] > 3)


def test_tail():
    x = np.arange(12.0).reshape(3, 4)
    np.testing.assert_allclose(bi.tail(x, {"tail": 2}), [2.5, 6.5, 10.5])
    np.testing.assert_allclose(bi.tail(x, {}), [3, 7, 11])
    with pytest.raises(ValueError, match="tail"):
        bi.tail(x, {"tail": 5})


@pytest.mark.parametrize("arms", [["bn", "bn_asym"], ["bn", "pretrained"], ["plain", "bn"]])
def test_simulate_tiny(arms):
    cfg = dict(TINY, arms=arms, lr_grid_bn=[0.3])
    ev = bi.simulate(cfg, np.random.default_rng(0), 2, "numpy")
    for k in ("loss_ref", "loss_test", "rank_ref", "rank_test"):
        assert ev[k].shape == (2, 3) and np.all(np.isfinite(ev[k]))
    assert np.all(ev["rank_ref"] >= 1 - 1e-12) and np.all(ev["rank_test"] >= 1 - 1e-12)
    for slot, arm in zip(("ref", "test"), arms):
        grid = cfg.get(f"lr_grid_{arm}", cfg["lr_grid"])
        assert ev[f"lr_{slot}"].shape == (2,) and ev[f"lr_{slot}"][0] in grid


def test_simulate_rejects_bad_arms():
    with pytest.raises(ValueError, match="arms"):
        bi.simulate(dict(TINY, arms=["bn"]), np.random.default_rng(0), 2, "numpy")
    with pytest.raises(ValueError, match="arms"):
        bi.simulate(dict(TINY, arms=["bn", "ln"]), np.random.default_rng(0), 2, "numpy")


def _evidence(rng, gap_loss, gap_rank, B=20, R=3):
    loss_ref = 0.5 + 0.1 * rng.standard_normal((B, R))
    rank_ref = 6 + 0.3 * rng.standard_normal((B, R))
    return {"loss_ref": loss_ref, "loss_test": loss_ref + gap_loss + 0.1 * rng.standard_normal((B, R)),
            "rank_ref": rank_ref, "rank_test": rank_ref - gap_rank + 0.1 * rng.standard_normal((B, R)),
            "lr_ref": np.full(B, 0.3), "lr_test": np.full(B, 0.3)}


@pytest.mark.parametrize("gap_loss,gap_rank,verdict",
                         [(1.8, 4.0, "PASS"), (0.0, 4.0, "FAIL"), (1.8, 0.0, "FAIL")])
def test_breaking_judge(gap_loss, gap_rank, verdict):
    cfg = dict(TINY, arms=["bn", "bn_asym"])
    ev = _evidence(np.random.default_rng(5), gap_loss, gap_rank)
    assert bi.breaking_judge(cfg, 0.0, ev, 1e-5).verdict == verdict


def test_versus_judge_and_mutation():
    cfg = dict(TINY, arms=["bn", "pretrained"])
    ev = _evidence(np.random.default_rng(6), 1.3, 0.0)
    assert bi.versus_judge(cfg, 0.0, ev, 1e-5).verdict == "PASS"
    mut = bi.bn_no_better(cfg, ev)
    d = bi.tail(mut["loss_test"], cfg) - bi.tail(mut["loss_ref"], cfg)
    assert abs(d.mean()) < 1e-12
    assert bi.versus_judge(cfg, 0.0, mut, 1e-5).verdict == "FAIL"
    assert ev["loss_ref"] is not mut["loss_ref"]


def test_claims_declared():
    ids = [c.id for c in cb.CLAIMS]
    assert ids == ["rank_collapse.breaking_bn_mlp", "rank_collapse.pretraining_vs_bn"]
    assert cb.CLAIMS[1].kind == "finding" and cb.CLAIMS[0].kind == "statistical"
    for c in cb.CLAIMS:
        assert c.sensitivity is not None and c.mutations and c.control


def test_figure_draws(tmp_path):
    from depthcheck.validation.claims.claim import ClaimResult
    c = cb.BREAKING_BN
    cfg = dict(c.config("quick"), **{k: v for k, v in TINY.items() if k in c.config("quick")})
    ev = _evidence(np.random.default_rng(7), 1.8, 4.0, B=4, R=3)
    v = c.judge(cfg, 0.0, ev, 1e-5)
    paths = c.figure(cfg, ClaimResult(c.id, False, cfg, 0.0, ev, v, 4), None, tmp_path)
    assert paths and all(p.is_file() for p in paths)
