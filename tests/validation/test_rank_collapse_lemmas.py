"""Tiny runs of the claims of validation/papers/rank_collapse/claims_lemmas.py."""
import math

import numpy as np
import pytest
from scipy import stats as sps

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
    mine = [c.id for c in cl.CLAIMS]
    assert all(isinstance(c, Claim) for c in cl.CLAIMS)
    assert len(set(mine)) == len(mine) and all(i.startswith("rank_collapse.") for i in mine)
    # the paper's registry holds these claims too, merged: each exactly once (no clash with an
    # older claim of the same id)
    merged = [c.id for c in EXISTING]
    assert all(merged.count(i) == 1 for i in mine)
    assert cl.NOT_CHECKABLE and all(isinstance(n, NotCheckable) for n in cl.NOT_CHECKABLE)
    for n in cl.NOT_CHECKABLE:                   # the analogues named exist and are not it
        assert n.id not in merged and n.instead and set(n.instead) <= set(merged)


# Independent re-computation of the judges' statistics (scipy's t quantile, the Fieller set
# written out from its definition {R : |ā − R b̄| <= t·se(ā − R b̄)}) and decisions.

def _t(level, n):
    return float(sps.t.ppf(1.0 - level / 2.0, n - 1))


def _mean_interval(x, level):
    x = np.asarray(x, dtype=float)
    h = _t(level, x.size) * x.std(ddof=1) / math.sqrt(x.size)
    return x.mean(), (x.mean() - h, x.mean() + h)


def _fieller(a, b, level):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    n = a.size
    t2 = _t(level, n) ** 2
    C = np.cov(np.vstack([a, b]), ddof=1) / n        # covariance of the two means
    ma, mb = a.mean(), b.mean()
    # |ma − R mb|² <= t² (C_aa − 2R C_ab + R² C_bb): a quadratic in R, A R² − 2B R + C0 <= 0
    A, B, C0 = mb * mb - t2 * C[1, 1], ma * mb - t2 * C[0, 1], ma * ma - t2 * C[0, 0]
    if A <= 0 or B * B - A * C0 < 0:
        return ma / mb, (-math.inf, math.inf)
    r = math.sqrt(B * B - A * C0)
    return ma / mb, ((B - r) / A, (B + r) / A)


def _decide(kind, ci, bound):
    lo, hi = ci
    if kind == "lower":
        return "PASS" if lo >= bound[0] else "FAIL" if hi < bound[0] else "INCONCLUSIVE"
    if bound[0] <= lo and hi <= bound[1]:
        return "PASS"
    return "FAIL" if hi < bound[0] or lo > bound[1] else "INCONCLUSIVE"


def _check_parts(v, expected, level):
    """``expected``: name prefix -> (statistic, ci, kind, bound) computed here; the verdict's
    parts must match them and its decision must be their conjunction."""
    assert v.extra["level"] == pytest.approx(level, rel=1e-12)
    parts = v.extra["parts"]
    assert len(parts) == len(expected) == v.extra["comparisons"]
    decisions = []
    for prefix, (stat, ci, kind, bound) in expected.items():
        (p,) = [p for p in parts if p["name"].startswith(prefix)]
        assert p["kind"] == kind and p["bound"] == pytest.approx(bound)
        assert p["statistic"] == pytest.approx(stat, rel=1e-9, abs=1e-12)
        got = [float(x) for x in p["ci"]]                  # json_safe writes ±inf as strings
        assert got == pytest.approx(list(ci), rel=1e-7, abs=1e-12)
        dec = _decide(kind, ci, bound)
        assert p["decision"] == dec, p["name"]
        decisions.append(dec)
    want = "FAIL" if "FAIL" in decisions else "PASS" if set(decisions) == {"PASS"} else \
        "INCONCLUSIVE"
    assert v.verdict == want
    return decisions


_U3_TINY = [{"d": 3, "gamma": "inf", "depth": 30}, {"d": 3, "gamma": 0.5, "depth": 40}]


def _u3_expected(ev, level, half):
    out = {}
    for tag, g in (("d3_ginf", "∞"), ("d3_g0.5", "0.5")):
        m, ci = _mean_interval(ev[f"gap_{tag}"], level)
        out[f"QR gap μ̂1 − μ̂2 at d=3, γ={g}"] = (m, ci, "lower", [0.0])
        r, rci = _fieller(-ev[f"slope_{tag}"], ev[f"gap_{tag}"], level)
        out[f"−slope of log(σ2/σ1) / (μ̂1 − μ̂2) at d=3, γ={g}"] = (
            r, rci, "within", [1 - half, 1 + half])
    return out


def test_uniform_collapse_tiny():
    c = cl.CLAIM_UNIFORM_COLLAPSE
    cfg = _tiny(c, qr_depth=200, batch=2, configs=_U3_TINY)
    n = 16
    ev, v = _run(c, cfg, n=n)
    # the evidence layout, exactly: five keys per configuration, trials leading
    tags = ("d3_ginf", "d3_g0.5")
    assert set(ev) == {f"{k}_{t}" for k in ("gap", "mu", "slope", "curve", "floor")
                       for t in tags}
    for t, depth in zip(tags, (30, 40)):
        kept = depth - int(cfg["burn_frac"] * depth)               # layers after the burn-in
        assert ev[f"gap_{t}"].shape == ev[f"slope_{t}"].shape == ev[f"floor_{t}"].shape == (n,)
        assert ev[f"mu_{t}"].shape == (n, 3) and ev[f"curve_{t}"].shape == (n, kept)
        mu = ev[f"mu_{t}"]
        assert np.all(np.diff(mu, axis=1) <= 0)                    # μ1 >= μ2 >= μ3
        assert np.array_equal(ev[f"gap_{t}"], mu[:, 0] - mu[:, 1])
        assert np.all(ev[f"gap_{t}"] > 0) and np.all(ev[f"slope_{t}"] < 0)
        assert np.all(ev[f"floor_{t}"] == ev[f"floor_{t}"][0])     # one global minimum
        assert ev[f"floor_{t}"][0] <= ev[f"curve_{t}"].min()
        # the slope of the mean curve is the mean of the per-chain slopes (OLS is linear)
        x = np.arange(kept, dtype=float)
        fit = np.polyfit(x, ev[f"curve_{t}"].T, 1)[0]
        assert np.allclose(fit, ev[f"slope_{t}"], rtol=1e-9, atol=1e-12)
    level = 1e-5 / 4
    _check_parts(v, _u3_expected(ev, level, cfg["delta"] / 2), level)
    # the vanilla chain collapses at its gap: no part may FAIL (a false FAIL at α = 1e-5 is
    # improbable; a wrong rate or sign FAILs); the BN chain (the control) is determined: FAIL
    assert v.verdict != "FAIL"
    cc = {**cfg, **c.control}
    evc, vc = _run(c, cc, n=n)
    dec = _check_parts(vc, _u3_expected(evc, level, cfg["delta"] / 2), level)
    assert vc.verdict == "FAIL" and dec[1] == dec[3] == "FAIL"
    t = cl._u3_rate_off(cfg, ev)
    assert np.allclose(t["slope_d3_ginf"], ev["slope_d3_ginf"] * (1 + cfg["delta"]))
    assert all(np.array_equal(t[k], ev[k]) for k in ev if not k.startswith("slope_"))


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
    # statistics, intervals and decisions recomputed here from the evidence
    level = 1e-5 / 4
    band = c.predict(cfg)["band"]
    floor = c.predict(cfg)["log_ratio_floor"]
    assert band == [-cfg["delta"] / 2, cfg["delta"] / 2] and floor == pytest.approx(math.log(1e-8))
    exp = {}
    for tag, d, g in (("d4_ginf", 4, "∞"), ("d3_g0.5", 3, "0.5")):
        curve = ev[f"curve_{tag}"]
        assert np.allclose(ev[f"level_{tag}"], curve.mean(axis=1))
        assert np.all(ev[f"minlog_{tag}"] <= curve.min(axis=1))
        exp[f"collapse rate of the chain / vanilla gap, −slope(log σ2/σ1)/(μ̂1 − μ̂2), "
            f"at d={d}, γ={g}"] = (*_fieller(-ev[f"slope_{tag}"], ev[f"gap_{tag}"], level),
                                   "within", band)
        exp[f"stationary mean log(σ2/σ1) at d={d}, γ={g}"] = (
            *_mean_interval(ev[f"level_{tag}"], level), "lower", [floor])
    dec = _check_parts(v, exp, level)
    assert dec[1] == dec[3] == "PASS"      # log(σ2/σ1) ≈ −1 is far above log 1e-8 even at n = 4
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
