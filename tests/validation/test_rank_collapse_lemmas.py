"""Tiny runs of the claims of validation/papers/rank_collapse/claims_lemmas.py."""
import math

import numpy as np
import pytest

from depthcheck.validation.claims.claim import Claim, NotCheckable
from depthcheck.validation.papers.rank_collapse import claims_lemmas as cl
from depthcheck.validation.papers.rank_collapse.claims import CLAIMS as EXISTING


def _tiny(claim, **over):
    return {**claim.config("quick", control=False), **over}


def _run(claim, cfg, n=4, seed=0):
    ev = claim.simulate(cfg, np.random.default_rng(seed), n, "numpy")
    for k, v in ev.items():
        assert np.asarray(v).shape[0] == n, k
        assert np.all(np.isfinite(v)), k
    return ev, claim.judge(cfg, claim.predict(cfg), ev, 1e-5)


def test_ids_are_new_and_records_valid():
    mine = {c.id for c in cl.CLAIMS}
    old = {c.id for c in EXISTING} - mine      # the registry holds these claims too, merged
    for c in cl.CLAIMS:
        assert isinstance(c, Claim) and c.id not in old
    assert all(isinstance(n, NotCheckable) for n in cl.NOT_CHECKABLE)


def test_uniform_collapse_tiny():
    c = cl.CLAIM_UNIFORM_COLLAPSE
    cfg = _tiny(c, qr_depth=200, batch=2,
                configs=[{"d": 3, "gamma": "inf", "depth": 30}, {"d": 3, "gamma": 0.5, "depth": 40}])
    ev, v = _run(c, cfg)
    assert ev["slope_d3_ginf"].shape == (4,) and np.all(ev["slope_d3_ginf"] < 0)
    assert np.all(ev["gap_d3_ginf"] > 0)
    assert v.verdict in ("PASS", "INCONCLUSIVE", "FAIL")
    t = cl._u3_rate_off(cfg, ev)
    assert np.allclose(t["slope_d3_ginf"], ev["slope_d3_ginf"] * (1 + cfg["delta"]))


def test_uniform_collapse_bn_chain_does_not_collapse():
    c = cl.CLAIM_UNIFORM_COLLAPSE
    cfg = _tiny(c, qr_depth=200, batch=4, norm="bn_nomean",
                configs=[{"d": 4, "gamma": "inf", "depth": 60}])
    ev, _ = _run(c, cfg)
    assert abs(ev["slope_d4_ginf"].mean()) < 0.3 * ev["gap_d4_ginf"].mean()


def test_cor15_tiny_and_control_collapses():
    c = cl.CLAIM_COR15
    cfg = _tiny(c, widths=[4], depth=40, layers=[1, 10, 40], batch=1)
    ev, v = _run(c, cfg)
    assert ev["r_d4"].shape == (4, 3)
    assert np.all((ev["inc_soft_d4"] >= 0) & (ev["inc_soft_d4"] <= 1))
    ev2, v2 = _run(c, {**cfg, "weights": "uniform_pos"})
    assert ev2["r_d4"][:, -1].max() < 1.01     # rank one: r = 1
    assert v2.verdict == "FAIL"


def test_cor15_refuses_layers_outside_depth():
    c = cl.CLAIM_COR15
    with pytest.raises(ValueError, match="layers"):
        c.simulate(_tiny(c, widths=[4], depth=10, layers=[0, 5]), np.random.default_rng(0),
                   2, "numpy")


def test_lemma6_exact_and_control_violated():
    c = cl.CLAIM_LEMMA6
    cfg = _tiny(c, widths=[4], cases=3, path_depth=5)
    _, v = _run(c, cfg, n=2)
    assert v.verdict == "PASS"
    _, v2 = _run(c, {**cfg, "freeze_factor": 1.05}, n=2)
    assert v2.verdict == "FAIL"


def test_example12_exact_and_control_violated():
    c = cl.CLAIM_EXAMPLE12
    cfg = _tiny(c, cases=2, d_range=[2, 12], d_check=1000)
    _, v = _run(c, cfg, n=2)
    assert v.verdict == "PASS"
    _, v2 = _run(c, {**cfg, "c_fixed": 0.95}, n=2)
    assert v2.verdict == "FAIL"


# --------------------------------------------------------------------------------------------
# Lemma 5 and the figures (validation/papers/rank_collapse/lemma5_rank.py, figures_lemmas.py)

from depthcheck.kernels.chain.rank import gaussian_input, rank_chain  # noqa: E402
from depthcheck.validation.claims.claim import ClaimResult  # noqa: E402
from depthcheck.validation.papers.rank_collapse import lemma5_rank as l5  # noqa: E402


def _l5_tiny(**over):
    return _tiny(cl.CLAIM_LEMMA5, qr_depth=120, qr_burn_in=10, batch=2, depth=40, burn_in=10,
                 configs=[{"d": 4, "gamma": "inf"}, {"d": 3, "gamma": 0.5, "depth": 30}], **over)


def test_lemma5_tiny_shapes_and_mutations():
    c = cl.CLAIM_LEMMA5
    cfg = _l5_tiny()
    ev, v = _run(c, cfg)
    assert ev["curve_d4_ginf"].shape == (4, 30) and ev["curve_d3_g0.5"].shape == (4, 20)
    assert np.all(ev["gap_d4_ginf"] > 0) and np.all(ev["minrank_d3_g0.5"] >= 2)
    assert v.verdict in ("PASS", "INCONCLUSIVE", "FAIL")
    t = l5._l5_drift(cfg, ev)
    assert np.allclose(t["slope_d4_ginf"], ev["slope_d4_ginf"] - cfg["delta"] * ev["gap_d4_ginf"])
    # the eps mutation path runs and keeps the evidence layout
    ev2, _ = _run(c, {**cfg, "bn_eps": 1.25})
    assert ev2.keys() == ev.keys()
    # the control collapses: log(σ2/σ1) reaches the float64 floor
    ev3, v3 = _run(c, {**cfg, "weights": "uniform_pos", "depth": 60, "burn_in": 30,
                       "configs": [{"d": 4, "gamma": "inf"}]})
    assert ev3["level_d4_ginf"].max() < l5.LOG_RANK2 and v3.verdict == "FAIL"


def test_eps_chain_at_eps_zero_is_the_kernel_bn_chain():
    """ε = 0 draws the same weights in the same order as rank_chain: identical log(σ2/σ1)."""
    X = gaussian_input(4, 5, 3, np.random.default_rng(1))
    for g in (math.inf, 0.3):
        y = l5._eps_chain_log_ratio(X, 12, 4, np.random.default_rng(7), g, 0.0)
        out = rank_chain(X, 12, rng=np.random.default_rng(7), gamma=g, weights="uniform",
                         norm="bn_nomean", burn_in=4, record=("log_sv",), top_k=2)
        assert y.shape == (3, 8)
        assert np.allclose(y, out["log_sv"][..., 0], rtol=1e-10, atol=1e-10)


def test_eps_chain_large_eps_is_the_vanilla_chain():
    """ε >> row variance: Bn is a near-constant rescaling, so log(σ2/σ1) equals the vanilla
    chain's (scale invariant) up to O(var/ε)."""
    X = gaussian_input(3, 4, 2, np.random.default_rng(2))
    y = l5._eps_chain_log_ratio(X, 6, 0, np.random.default_rng(3), math.inf, 1e12)
    out = rank_chain(X, 6, rng=np.random.default_rng(3), weights="uniform", norm="none",
                     record=("log_sv",), top_k=2)
    assert np.allclose(y, out["log_sv"][..., 0], atol=1e-6)


def test_eps_chain_refuses_negative_eps_and_ols_slope_is_exact():
    with pytest.raises(ValueError, match="eps"):
        l5._eps_chain_log_ratio(np.ones((1, 2, 2)), 3, 0, np.random.default_rng(0), 1.0, -1.0)
    rng = np.random.default_rng(0)
    y = rng.standard_normal((5, 17))
    expect = [np.polyfit(np.arange(17), row, 1)[0] for row in y]
    assert np.allclose(l5._ols_slopes(y), expect)


def test_lemma5_refuses_bad_burn_in():
    with pytest.raises(ValueError, match="burn_in"):
        l5._l5_configs({"depth": 10, "burn_in": 9, "configs": [{"d": 3, "gamma": 1.0}]})


@pytest.mark.parametrize("name", ["uniform", "cor15", "lemma5"])
def test_figures_draw(tmp_path, name):
    c, cfg = {"uniform": (cl.CLAIM_UNIFORM_COLLAPSE, _tiny(
        cl.CLAIM_UNIFORM_COLLAPSE, qr_depth=100, batch=2,
        configs=[{"d": 3, "gamma": "inf", "depth": 20}])),
        "cor15": (cl.CLAIM_COR15, _tiny(cl.CLAIM_COR15, widths=[4], depth=20,
                                         layers=[1, 5, 20], batch=1)),
        "lemma5": (cl.CLAIM_LEMMA5, _l5_tiny())}[name]
    res = []
    for ctrl in (False, True):
        cc = {**cfg, **c.control} if ctrl else cfg
        if name == "lemma5" and ctrl:
            cc = {**cc, "depth": 60, "burn_in": 30, "configs": [{"d": 4, "gamma": "inf"}]}
        ev, v = _run(c, cc, n=3)
        res.append(ClaimResult(c.id, ctrl, cc, c.predict(cc), ev, v, 3))
    paths = c.figure(cfg, res[0], res[1], tmp_path)
    assert paths and all(p.is_file() and p.with_suffix(".pdf").is_file() for p in paths)
    assert c.figure(cfg, res[0], None, tmp_path)
