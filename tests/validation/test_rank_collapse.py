"""Seed-002 claims end to end at tiny configurations: simulate -> judge gives a Verdict, the
claims do not FAIL, every negative control FAILs, and the figures are drawn."""
import json

import numpy as np
import pytest

from depthcheck.validation.papers import rank_collapse as rc
from depthcheck.validation.papers.rank_collapse import claims as rk
from depthcheck.validation.claims.claim import Claim, ClaimResult, Verdict
from depthcheck.validation.run.registry import load_module
from depthcheck.validation.claims.stats import ALPHA

TINY = {
    "rank_collapse.bn_rank_sqrt_width": {
        "trials": 8, "record_every": 4,
        "configs": [{"gamma": "inf", "weights": "gaussian", "activation": "linear",
                     "widths": [8, 16], "burn_in": 150, "depth": 250},
                    {"gamma": "inf", "weights": "uniform", "activation": "relu", "center": True,
                     "widths": [8, 16, 32], "burn_in": 20, "depth": 60}],
        "fig2": {"d": 16, "depth": 40, "every": 10, "weights": "uniform"}},
    "rank_collapse.lemma1_bounds": {"trials": 4, "widths": [6, 16], "depth": 20,
                              "adversarial_per_width": 2},
    "rank_collapse.lemma7_drift": {"trials": 10, "draws": 400},
    "rank_collapse.regularity_constant": {"trials": 8, "widths": [8, 16, 32], "burn_in": 150,
                                    "depth": 400, "n_blocks": 5,
                                    "fig3b": {"d": 12, "depth": 10, "gamma": 1.0, "eps": 1e-5,
                                              "top_k": 4}},
    "rank_collapse.centering_redundant": {"trials": 8, "widths": [16], "burn_in": 200, "depth": 400,
                                    "offdiag_band": 0.05, "ratio_band": [0.9, 1.1]},
    "rank_collapse.vanilla_lyapunov": {"trials": 12, "lyap_dims": [2, 3], "lyap_depth": 3000,
                                 "band": 0.05, "ratio_dims": [4], "ratio_batch": 20,
                                 "ratio_band": [0.7, 1.3],
                                 "residual": [{"d": 3, "gamma": 0.5, "depth": 60}],
                                 "residual_qr_depth": 300},
    "rank_collapse.input_degeneracy": {"trials": 40, "sizes": [8, 48, 64], "judged_sizes": [8, 48],
                                 "min_full_rank_fraction": 0.9},
}


def tiny_config(claim: Claim, control: bool) -> dict:
    cfg = claim.config("quick", control)
    cfg.update(TINY[claim.id])
    cfg.setdefault("trials", claim.n_trials("quick"))
    if control:
        cfg.update(claim.control)
    return json.loads(json.dumps(cfg))


def run_tiny(claim: Claim, control: bool, seed: int = 2024):
    cfg = tiny_config(claim, control)
    rng = np.random.default_rng(seed + int(control))
    pred = claim.predict(cfg)
    json.dumps(pred)                                    # predictions must be JSON-able
    ev = claim.simulate(cfg, rng, cfg["trials"], "numpy")
    for k, v in ev.items():
        assert v.shape[0] == cfg["trials"], k
        assert np.all(np.isfinite(v)), k
    v = claim.judge(cfg, pred, ev, ALPHA)
    return cfg, pred, ev, v


def test_module_registers_and_ids():
    claims = load_module("depthcheck.validation.papers.rank_collapse")
    ids = [c.id for c in claims]
    assert len(ids) == len(set(ids)) >= 7
    assert all(i.startswith("rank_collapse.") for i in ids)
    # the claims of claims_lemmas / claims_training have their own tests
    assert set(TINY) <= set(ids)
    for c in claims:
        for mode in ("quick", "full"):
            assert c.n_trials(mode) >= 1
        if c.id in TINY:       # the claims of the first release keep their former ids
            assert c.aliases == (c.seed_key,) and c.seed_key.startswith("seed002.")


@pytest.fixture(scope="module")
def tiny_results():
    out = {}
    for c in rc.CLAIMS:
        if c.id in TINY:     # the claims of claims_lemmas / claims_training: their own tests
            out[c.id] = (run_tiny(c, False), run_tiny(c, True))
    return out


@pytest.mark.parametrize("cid", list(TINY))
def test_claim_runs_and_control_fails(cid, tiny_results):
    (cfg, pred, ev, v), (ccfg, cpred, cev, cv) = tiny_results[cid]
    assert isinstance(v, Verdict) and isinstance(cv, Verdict)
    assert v.verdict != "FAIL", v.detail
    assert cv.verdict == "FAIL", cv.detail
    assert v.extra["statements"] == 1 and v.extra["level"] == ALPHA / v.extra["comparisons"]
    assert 1 <= len(v.extra["parts"]) <= v.extra["comparisons"]
    assert v.extra["decisive"] in {p["name"] for p in v.extra["parts"]}


def test_figures_are_drawn(tiny_results, tmp_path):
    drawn = []
    for c in rc.CLAIMS:
        if c.figure is None or c.id not in TINY:
            continue
        (cfg, pred, ev, v), (ccfg, cpred, cev, cv) = tiny_results[c.id]
        res = ClaimResult(c.id, False, cfg, pred, ev, v, cfg["trials"])
        ctrl = ClaimResult(c.id, True, ccfg, cpred, cev, cv, ccfg["trials"])
        paths = c.figure(cfg, res, ctrl, tmp_path)
        assert paths and all(p.exists() and p.stat().st_size > 1000 for p in paths)
        drawn += [p.name for p in paths]
    for name in ("fig2_rank_vs_depth", "fig3a_rank_vs_width", "fig3b_top_eigenvalues",
                 "fig8_regularity_constant", "fig9_frobenius_vs_d32", "lyapunov_spectrum"):
        assert any(n.startswith("rank_collapse.") and n.endswith(f".{name}.png") for n in drawn)


def test_family_detail_names_the_decisive_statement():
    from depthcheck.validation.claims.stats import Family
    from depthcheck.validation.papers.rank_collapse._common import _detail
    fam = Family(ALPHA, 3)
    fam.add_lower("p", 1.0, (0.9, 1.1), 0.5)
    fam.add_within("i", 1.0, (0.9, 1.1), 0.95, 1.5)
    fam.add_upper("f", 2.0, (1.9, 2.1), 0.5)
    v = fam.verdict(_detail(fam, "note"), prediction=0.5, tiebreak="order")
    assert v.verdict == "FAIL" and v.statistic == 2.0 and v.prediction == 0.5
    assert v.detail.startswith("1/3 statements PASS (each at level 1 − alpha/3); decisive: f: 2 ")
    assert "also i: 1 CI [0.9, 1.1] in [0.95, 1.5] -> INCONCLUSIVE" in v.detail
    assert v.detail.endswith(". note")


def test_sqrt_width_judge_detects_a_slow_exponent():
    """Judge on synthetic evidence: r ∝ d^0.3 must FAIL, r ∝ d^0.55 must PASS."""
    claim = rk.CLAIM_SQRT_WIDTH
    cfg = claim.config("quick")
    cfg["configs"] = [{"gamma": 0.1, "weights": "uniform", "activation": "linear",
                       "widths": [8, 16, 32, 64], "burn_in": 1, "depth": 2}]
    rng = np.random.default_rng(0)
    ds = np.array([8, 16, 32, 64], float)
    for expo, want in ((0.3, "FAIL"), (0.55, "PASS")):
        r = 0.9 * ds ** expo * np.exp(0.01 * rng.standard_normal((40, 4)))
        ev = {"c0_r": r, "c0_soft_rank": 1.3 * r, "c0_frob2": ds**2 / r,
              "c0_g1": np.full((40, 4), 0.95), "c0_g2": np.ones((40, 4))}
        v = claim.judge(cfg, claim.predict(cfg), ev, ALPHA)
        assert v.verdict == want, v.detail
