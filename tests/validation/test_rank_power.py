"""Power of the Daneshmand et al. 2020 (arXiv:2003.01652) claims, cheaply: the numerical-rank
statistic is numpy's matrix_rank of H, each mutation realises the departure it claims (by the
amount it claims), the replaced controls change the data and not the prediction, and the kinds
of statement are declared as the runner expects. The quick-suite run that every mutation FAILs
is tests/validation/test_suite_power.py."""
import json
import math

import numpy as np
import pytest

from depthcheck.kernels.chain.rank import gaussian_input, rank_chain
from depthcheck.theory import lyapunov as lyap
from depthcheck.validation.claims.claim import Claim
from depthcheck.validation.claims.stats import ALPHA
from depthcheck.validation.papers.rank_collapse import claims as rk
from depthcheck.validation.papers.rank_collapse.input_degeneracy import _c7_simulate, _digits
from depthcheck.validation.papers.rank_collapse.lemma1_bounds import _c2_judge
from depthcheck.validation.papers.rank_collapse.lemma7_drift import _c3_predict, _c3_simulate
from depthcheck.validation.papers.rank_collapse.lyapunov import _c6_simulate
from depthcheck.validation.papers.rank_collapse.regularity import _c4_beta_above_threshold
from depthcheck.validation.papers.rank_collapse.sqrt_width import _local_exponent


# --------------------------------------------------------------- the numerical-rank statistic
def test_rank_of_an_exact_rank_three_batch_is_three():
    """H = W X with rank X = 3 exactly: counting eigenvalues of M above λ_1 (32 eps)² reported
    ~6–18 here (rounding noise of M's eigenvalues); the statistic must say 3."""
    rng = np.random.default_rng(0)
    d = 32
    X = rng.standard_normal((8, d, 3)) @ rng.standard_normal((8, 3, d))
    out = rank_chain(X, 1, rng=rng, norm="none", record=("rank",))
    assert np.all(out["rank"] == 3), out["rank"]


def test_rank_matches_numpy_on_a_collapsed_vanilla_chain():
    """Deep vanilla chain (numerically rank deficient): the statistic equals
    numpy.linalg.matrix_rank of the same H, rebuilt here with the same random numbers."""
    d, B, depth = 16, 6, 150
    X = gaussian_input(d, d, B, np.random.default_rng(1))
    out = rank_chain(X, depth, rng=np.random.default_rng(2), norm="none", record_every=depth,
                     record=("rank",))
    rng, H = np.random.default_rng(2), X.copy()
    for _ in range(depth):
        H = rng.standard_normal((B, d, d)) @ H
        H = H * (d / np.sqrt(np.einsum("bij,bij->b", H, H)))[:, None, None]
    want = np.linalg.matrix_rank(H)
    assert np.all(want < d)                       # the case the former statistic got wrong
    np.testing.assert_array_equal(out["rank"][:, 0], want)


def test_weight_mean_shifts_the_law_and_is_checked():
    rng = np.random.default_rng(3)
    X = gaussian_input(4, 4, 1, rng)
    with pytest.raises(ValueError, match="weight_mean"):
        rank_chain(X, 2, rng=rng, weight_mean=float("nan"))
    # with weight_mean = 0 the chain is the one without the keyword (same random numbers)
    a = rank_chain(X, 5, rng=np.random.default_rng(4), weights="uniform", gamma=0.1)
    b = rank_chain(X, 5, rng=np.random.default_rng(4), weights="uniform", gamma=0.1,
                   weight_mean=0.0)
    np.testing.assert_array_equal(a["rank_lower_bound"], b["rank_lower_bound"])
    c = rank_chain(X, 5, rng=np.random.default_rng(4), weights="uniform", gamma=0.1,
                   weight_mean=0.3)
    assert not np.array_equal(a["rank_lower_bound"], c["rank_lower_bound"])


# ------------------------------------------------------------------- kinds, δ and mutations
def test_kinds_sensitivities_and_mutations_are_declared():
    by = {c.id: c for c in rk.CLAIMS}
    exact = [c for c in by.values() if c.kind == "exact"]
    assert {c.id for c in exact} >= {"rank_collapse.lemma1_bounds"}
    for c in exact:
        assert c.sensitivity is None and not c.mutations, c.id
    for c in by.values():
        if c.kind == "exact":
            continue
        assert c.kind in ("statistical", "finding"), c.id
        assert c.sensitivity is not None and c.mutations, c.id
        for mode in ("quick", "full"):
            assert c.sensitivity.at(mode) > 0


@pytest.mark.parametrize("cid", ["rank_collapse.vanilla_lyapunov",
                                 "rank_collapse.input_degeneracy"])
def test_replaced_controls_change_the_data_not_the_prediction(cid):
    claim: Claim = next(c for c in rk.CLAIMS if c.id == cid)
    cfg, ctrl = claim.config("quick"), claim.config("quick", control=True)
    pred, cpred = claim.predict(cfg), claim.predict(ctrl)
    # the control's prediction is the claim's (restricted to what the control runs)
    if cid.endswith("vanilla_lyapunov"):
        assert cpred["exponents"] == pred["exponents"]
        assert ctrl["weights"] != cfg["weights"]
    else:
        assert cpred == pred and ctrl["replace"] is True


def test_lyapunov_variance_mutation_shifts_every_exponent_by_delta_exactly():
    cfg = {"lyap_dims": [2, 3], "lyap_depth": 60, "lyap_burn_in": 5, "band": 0.03,
           "ratio_dims": [], "ratio_log_target": 15.0, "ratio_batch": 2, "ratio_every": 2,
           "residual": [], "residual_qr_depth": 20, "weights": "gaussian", "weight_scale": 1.0}
    ev = _c6_simulate(cfg, np.random.default_rng(5), 3, "numpy")
    mut = _c6_simulate({**cfg, "variance_off_by_delta": True}, np.random.default_rng(5), 3,
                       "numpy")
    for d in cfg["lyap_dims"]:
        np.testing.assert_allclose(mut[f"mu_d{d}"] - ev[f"mu_d{d}"], 2 * cfg["band"],
                                   atol=1e-12)
    # the control's law (U[−√3, √3]) moves the d = 2 spectrum well outside the quick band
    uni = _c6_simulate({**cfg, "weights": "uniform", "lyap_dims": [2], "lyap_depth": 3000},
                       np.random.default_rng(6), 8, "numpy")
    gap = uni["mu_d2"].mean(0) - lyap.lyapunov_exponents_ginibre(2)
    assert gap[1] > 0.1, gap


def test_lemma7_variance_mutation_gives_ratio_one_plus_delta():
    cfg = {"draws": 2000, "gamma": 0.01, "band": 0.05, "laws": ["gaussian"],
           "weight_scale": 1.0, "matrix_seed": 2020,
           "cases": [{"kind": "gaussian", "d": 6, "n": 12}]}
    coef = _c3_predict(cfg)["coefficients"][0]
    base = _c3_simulate(cfg, np.random.default_rng(7), 4, "numpy")["drift_over_gamma2"]
    mut = _c3_simulate({**cfg, "variance_off_by_delta": True}, np.random.default_rng(7), 4,
                       "numpy")["drift_over_gamma2"]
    # common random numbers: the ratio of the two runs is (1 + δ) up to O(γ)
    np.testing.assert_allclose(mut.mean() / base.mean(), 1 + 2 * cfg["band"], rtol=0.01)
    assert abs(base.mean() / coef - 1) < 0.05


def test_regularity_beta_transform_puts_beta_at_threshold_plus_a_hundredth():
    cfg = {"widths": [8, 16, 32], "beta_min_d": 10, "beta_threshold": 0.9}
    rng = np.random.default_rng(8)
    ev = {"g1": rng.uniform(0.8, 0.9, (10, 3)), "g2": np.ones((10, 3))}
    out = _c4_beta_above_threshold(cfg, ev)
    assert out["g1"][:, 1].mean() / out["g2"][:, 1].mean() == pytest.approx(0.91)
    np.testing.assert_allclose(out["g1"] / ev["g1"], (out["g1"] / ev["g1"])[0, 0])


def test_digits_off_by_one_and_with_replacement_rates():
    n_img = _digits().shape[1]
    cfg = {"sizes": [8, 48], "min_full_rank_fraction": 0.95, "delta": 0.1}
    T = 1500
    mut = _c7_simulate({**cfg, "off_by_one": True}, np.random.default_rng(9), T, "numpy")
    p = np.mean(mut["rank"] == np.asarray(cfg["sizes"]), axis=0)
    se = math.sqrt(0.85 * 0.15 / T)
    assert np.all(np.abs(p - 0.85) < 4 * se), p
    ctrl = _c7_simulate({**cfg, "replace": True}, np.random.default_rng(10), T, "numpy")
    p48 = np.mean(ctrl["rank"][:, 1] == 48)
    # birthday bound: no repeated image with probability Π_{k<48} (1 − k/1797) ≈ 0.53
    # (a batch of 48 distinct digits is full rank: see the claim's PASS)
    q = float(np.prod(1 - np.arange(48) / n_img))
    assert abs(p48 - q) < 4 * math.sqrt(q * (1 - q) / T), (p48, q)


# ------------------------------------------------------------------------- judges and words
def test_lemma1_exact_verdict_is_the_worst_margin():
    cfg = rk.CLAIM_LEMMA1.config("quick")
    k = 2 + 2 * len(cfg["taus"])
    m = np.full((3, k), 0.5)
    m[1, 2] = -1e-12                             # rounding: still EXACT
    v = _c2_judge(cfg, None, {"margins": m}, ALPHA)
    assert v.verdict == "PASS" and v.statistic == -1e-12 and v.ci == (-1e-12, -1e-12)
    m[2, 4] = -1e-3                               # a real violation
    v = _c2_judge(cfg, None, {"margins": m}, ALPHA)
    assert v.verdict == "FAIL" and v.statistic == -1e-3 and "1 violations" in v.detail


def test_sqrt_width_reports_the_simple_theorem14_bound_without_judging_it():
    claim = rk.CLAIM_SQRT_WIDTH
    cfg = claim.config("quick")
    cfg["configs"] = [{"gamma": 0.1, "weights": "uniform", "activation": "linear",
                       "widths": [8, 16, 32], "burn_in": 1, "depth": 2},
                      {"gamma": "inf", "weights": "uniform", "activation": "relu",
                       "center": True, "widths": [8, 16, 32], "burn_in": 1, "depth": 2}]
    rng = np.random.default_rng(11)
    ds = np.array([8, 16, 32], float)
    ev = {}
    # linear: r ∝ √d; post-ReLU: r saturating, rank_τ ∝ d^0.77 (as measured)
    for i, (r, sr) in enumerate(((0.9 * np.sqrt(ds), 1.2 * np.sqrt(ds)),
                                 (np.array([2.9, 4.1, 4.3]), 0.5 * ds ** 0.77))):
        noise = np.exp(0.01 * rng.standard_normal((20, 3)))
        x = r * noise
        ev.update({f"c{i}_r": x, f"c{i}_soft_rank": sr * noise, f"c{i}_frob2": ds**2 / x,
                   f"c{i}_g1": np.full((20, 3), 0.9), f"c{i}_g2": np.ones((20, 3))})
    v = claim.judge(cfg, claim.predict(cfg), ev, ALPHA)
    names = [p["name"] for p in v.extra["parts"]]
    assert not any("2(1-τ)²" in n for n in names) and v.verdict == "PASS"
    lin = v.extra["per_config"]["γ=0.1 uniform linear"]
    assert len(lin["theorem14_simple_margin_soft_rank"]) == 3
    assert "small-width number" in v.detail and "local exponent" in v.detail
    json.dumps(v.extra)


def test_local_exponent_sees_saturation():
    assert _local_exponent([8, 16], [2.0, 2.0 * 2 ** 0.5]) == pytest.approx(0.5)
    # the post-ReLU means of independent runs (d = 64 -> 128 -> 256) stop growing
    assert _local_exponent([64, 128, 256], [6.4, 6.8, 5.9]) < 0
