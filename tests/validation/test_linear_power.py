"""Power of the linear_nets claims (Basu, Mukherjee & Vasudevan 2019, arXiv:1904.10689): kinds,
δ, the mutations' code paths, and the Saxe family with its exact N_l = 2 part.

Cheap: synthetic evidence for the judges, small simulations for the code paths. That every
mutation FAILs at the quick configuration is tested by tests/validation/test_suite_power.py."""
import math

import numpy as np
import pytest

from depthcheck.validation.claims.stats import ALPHA, slope_ci
from depthcheck.validation.papers import linear_nets as V
from depthcheck.validation.papers.linear_nets import claims as LC

BY_ID = {c.id: c for c in V.CLAIMS}


def test_kinds_deltas_and_bands_follow_the_convention():
    kinds = {c.id.split(".")[1]: c.kind for c in V.CLAIMS}
    assert kinds == {"balance_invariant": "statistical", "equal_growth": "statistical",
                     "saxe_dynamics": "statistical", "relu_balance": "finding",
                     "theorem3_max_rate": "finding", "fig1_bound_sharpening": "exact",
                     "glorot_gap": "finding", "relu_rate_ratio": "finding",
                     "fig1_transition_sharpness": "statistical"}
    for cid in ("linear_nets.balance_invariant", "linear_nets.saxe_dynamics",
                "linear_nets.relu_balance"):
        c = BY_ID[cid]
        for mode in ("quick", "full"):
            lo, hi = c.config(mode)["band"]
            # an equality statement: band ±δ/2 around the predicted exponent 1
            assert math.isclose(hi - lo, c.sensitivity.at(mode))
            assert math.isclose((lo + hi) / 2, c.predict(c.config(mode)))
    g = BY_ID["linear_nets.equal_growth"]
    # δ of equal_growth: an imbalance twice the tolerance
    assert math.isclose(10 ** (g.predict(g.config("quick")) + g.sensitivity.at("quick")), 0.1)


@pytest.mark.parametrize("claim", [c for c in V.CLAIMS if c.kind != "exact"],
                         ids=lambda c: c.id)
def test_every_mutation_changes_a_key_that_simulate_reads(claim):
    """A mutation is data-side: each override names a key of the claim's own configuration
    (so simulate reads it) with a value different from the claim's."""
    assert claim.mutations
    for mode in ("quick", "full"):
        cfg = claim.config(mode)
        for m in claim.mutations:
            assert m.overrides and set(m.overrides) <= set(cfg), m.name
            assert any(cfg[k] != v for k, v in m.overrides.items()), m.name
            assert "band" not in m.overrides and "tolerance" not in m.overrides


def _saxe_evidence(depths, hs, slopes, B=6, seed=0):
    """Synthetic Saxe evidence: err(h) = c·h^slope per depth, c random per trial."""
    rng = np.random.default_rng(seed)
    h = np.asarray(hs)
    err = np.empty((B, len(depths), len(hs)))
    for i, N_l in enumerate(depths):
        c = 0.01 if N_l == 2 else rng.uniform(0.5, 2.0, size=(B, 1)) * 0.1
        noise = 0.0 if N_l == 2 else rng.normal(0.0, 0.002, size=(B, len(hs)))
        err[:, i] = c * h ** slopes[i] * np.exp(noise)
    t = np.full((B, len(depths)), 2.0)
    return {"err": err, "t_learn_gd": t, "t_learn_theory": t}


def _saxe_cfg(depths, hs=(0.02, 0.01, 0.005)):
    return dict(LC.CLAIM_SAXE.config("quick"), depths=list(depths), hs=list(hs))


def test_saxe_judge_is_one_family_over_the_statistical_depths():
    cfg = _saxe_cfg([2, 3, 5, 10])
    v = LC.CLAIM_SAXE.judge(cfg, 1.0, _saxe_evidence([2, 3, 5, 10], cfg["hs"],
                                                     [1.0, 1.0, 1.0, 1.0]), ALPHA)
    assert v.verdict == "PASS"
    assert v.extra["statements"] == 1 and v.extra["comparisons"] == 3
    assert math.isclose(v.extra["level"], ALPHA / 3)
    assert [p["name"] for p in v.extra["parts"]] == ["N_l = 3", "N_l = 5", "N_l = 10"]
    assert v.extra["per_depth"]["2"]["kind"] == "exact"
    assert v.extra["exact_parts"]["2"]["holds"] is True
    # the family's intervals are built at α/3: wider than at α
    ev = _saxe_evidence([2, 3, 5, 10], cfg["hs"], [1.0] * 4)
    at_alpha = slope_ci(np.log(cfg["hs"]), np.log(ev["err"][:, 1]), ALPHA).slope.ci
    part = v.extra["parts"][0]["ci"]
    assert part[1] - part[0] > at_alpha[1] - at_alpha[0]


def test_saxe_one_depth_off_by_delta_fails_the_family():
    cfg = _saxe_cfg([2, 3, 5, 10])
    slopes = [1.0, 1.0, 1.0 - LC.DELTA_SAXE, 1.0]
    v = LC.CLAIM_SAXE.judge(cfg, 1.0, _saxe_evidence([2, 3, 5, 10], cfg["hs"], slopes), ALPHA)
    assert v.verdict == "FAIL" and v.extra["decisive"] == "N_l = 5"
    assert math.isclose(v.statistic, 1.0 - LC.DELTA_SAXE, abs_tol=0.01)


def test_saxe_exact_part_violated_fails_the_claim_and_must_be_deterministic():
    cfg = _saxe_cfg([2, 3])
    v = LC.CLAIM_SAXE.judge(cfg, 1.0, _saxe_evidence([2, 3], cfg["hs"], [0.7, 1.0]), ALPHA)
    assert v.verdict == "FAIL"
    assert v.extra["per_depth"]["2"]["verdict"] == "VIOLATED"
    assert v.extra["parts"][0]["decision"] == "PASS"  # the statistical part alone passes
    ev = _saxe_evidence([2, 3], cfg["hs"], [1.0, 1.0])
    ev["err"][0, 0, 0] *= 1.01  # N_l = 2 no longer the same in every trial
    with pytest.raises(ValueError, match="declared exact"):
        LC.CLAIM_SAXE.judge(cfg, 1.0, ev, ALPHA)
    with pytest.raises(ValueError, match="N_l >= 3"):
        LC.CLAIM_SAXE.judge(_saxe_cfg([2]), 1.0, _saxe_evidence([2], cfg["hs"], [1.0]), ALPHA)


def test_saxe_time_scale_mutation_moves_the_data_not_the_theory():
    """lr_factor scales the GD step only: the trajectory error at N_l = 2 (a linear ODE, no
    randomness in u/s) leaves the O(h) law by the predicted amount."""
    c = LC.CLAIM_SAXE
    cfg = dict(c.config("quick"), depths=[2, 3], n_grid=5)
    ev0 = c.simulate(cfg, np.random.default_rng(5), 2, "numpy")
    ev1 = c.simulate(dict(cfg, lr_factor=1.01), np.random.default_rng(5), 2, "numpy")
    np.testing.assert_array_equal(ev0["s"], ev1["s"])  # common random numbers
    np.testing.assert_array_equal(ev0["t_learn_theory"], ev1["t_learn_theory"])
    # u/s for N_l = 2: Euler with step h(1+ε) on u' = s − u; closed form 1 − 0.95 e^{−t}
    h, T = cfg["hs"][-1], cfg["T"]
    k = np.arange(int(round(T / h)) + 1)
    err = np.abs((1 - 0.95 * (1 - h * 1.01) ** k) - (1 - 0.95 * np.exp(-k * h))).max()
    np.testing.assert_allclose(ev1["err"][:, 0, -1], err, rtol=1e-8)
    assert ev1["err"][0, 0, -1] > 3 * ev0["err"][0, 0, -1]


def test_balance_weight_decay_mutation_decays_the_balance_at_rate_2_lambda():
    """Under GD with coupled weight decay λ the balance decays as (1 − 2λη)^K → e^{−2λT} at
    first order; with a huge λ the drift is dominated by it, whatever η."""
    c = LC.CLAIM_BALANCE
    cfg = dict(c.config("quick"), widths=[4, 3, 2], per_cluster=20, T=0.5,
               etas=[0.01, 0.005], weight_decay=0.2)
    ev = c.simulate(cfg, np.random.default_rng(3), 3, "numpy")
    # relative drift ≈ 1 − e^{−2λT} = 0.18 (the gradient terms add O(η) only)
    np.testing.assert_allclose(ev["rel_drift"], 1 - math.exp(-0.2), rtol=0.03)
    base = c.simulate(dict(cfg, weight_decay=0.0), np.random.default_rng(3), 3, "numpy")
    assert np.all(base["rel_drift"] < 0.01)  # without it: the O(η) GD drift only
    v = c.judge(dict(c.config("quick"), etas=cfg["etas"]), 1.0, ev, 1e-3)
    assert v.verdict == "FAIL" and abs(v.statistic) < 0.2


def test_relu_bias_lr_trains_only_the_biases_slower():
    """bias_lr scales the biases' steps only: at bias_lr = 0 zero-initialised biases stay 0 and
    the net is the bias-free one (same weights' norms, to rounding)."""
    c = LC.CLAIM_RELU
    tiny = dict(widths=[64, 6, 6, 10], n_samples=40, T=0.2, etas=[0.05, 0.025], n_records=2)
    cfg = dict(c.config("quick"), **tiny)
    frozen = c.simulate(dict(cfg, bias=True, bias_lr=0.0), np.random.default_rng(4), 2, "numpy")
    assert np.all(frozen["Fb"] == 0.0)
    slow = c.simulate(dict(cfg, bias=True, bias_lr=0.2), np.random.default_rng(4), 2, "numpy")
    full = c.simulate(dict(cfg, bias=True, bias_lr=1.0), np.random.default_rng(4), 2, "numpy")
    b_slow, b_full = slow["Fb"][:, -1].sum(-1), full["Fb"][:, -1].sum(-1)
    assert np.all(b_slow > 0) and np.all(b_slow < 0.2 * b_full)
    free = c.simulate(cfg, np.random.default_rng(4), 2, "numpy")  # bias=False
    np.testing.assert_allclose(frozen["Fw"], free["Fw"], rtol=1e-10)
