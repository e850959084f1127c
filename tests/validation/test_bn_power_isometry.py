"""Power of the isometry / Weingarten claims of Meterez et al. 2024 (arXiv:2310.02012): the exact
statements come out EXACT with data-side controls VIOLATED, every statistical claim's mutation
FAILs, and the judges of the Theorem 1 statements FAIL on synthetic data off by their δ."""
import math

import numpy as np
import pytest

from depthcheck.theory import bn_orthogonal as th
from depthcheck.validation.papers import bn_orthogonal as B
from depthcheck.validation.papers.bn_orthogonal import haar_moments as BH, isometry_decay as BD
from depthcheck.validation.run import runner

CLAIMS = {c.id: c for c in B.CLAIMS}
EXACT = ["bn_orthogonal.bn_never_decreases_isometry", "bn_orthogonal.bn_isometry_n_lt_d_finding",
         "bn_orthogonal.bn_jacobian_bounds", "bn_orthogonal.one_step_orthogonal_identity"]
POWERED = ["bn_orthogonal.haar_sampler_moments", "bn_orthogonal.one_step_rate",
           "bn_orthogonal.isometry_plateau_n_lt_d"]


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    res = runner.run(EXACT + POWERED, out=tmp_path_factory.mktemp("bnpow"), progress=False,
                     figures=False)
    return {r["id"]: r for r in res.records if not r["control"]}, \
        {r["id"]: r for r in res.records if r["control"]}


@pytest.mark.parametrize("cid", EXACT)
def test_exact_statements_hold_and_their_data_side_controls_are_violated(cid, quick):
    rec, ctl = quick
    assert CLAIMS[cid].kind == "exact" and CLAIMS[cid].sensitivity is None
    assert rec[cid]["status"] == "OK" and rec[cid]["verdict"] == "PASS"
    assert ctl[cid]["verdict"] == "FAIL"
    # the control changes the data (inputs, weights or the VJP), never a prediction-side key
    assert set(CLAIMS[cid].control) <= {"n_over_d", "shapes", "weights", "vjp"}


@pytest.mark.parametrize("cid", POWERED)
def test_statistical_claims_show_their_power(cid, quick):
    rec, _ = quick
    r = rec[cid]
    assert r["status"] == "OK" and r["verdict"] == "PASS", r["detail"][:400]
    assert r["ci"][0] < r["ci"][1] and r["delta"] is not None
    assert r["mutations"] and all(m["verdict"] == "FAIL" for m in r["mutations"])


def test_haar_claim_has_one_failing_mutation_per_engine_path(quick):
    rec, ctl = quick
    names = {m["name"]: m["verdict"] for m in rec["bn_orthogonal.haar_sampler_moments"]["mutations"]}
    assert names == {f"no_sign_fix_{p}": "FAIL" for p in BH.HAAR_PATHS}
    assert ctl["bn_orthogonal.haar_sampler_moments"]["verdict"] == "FAIL"


def test_haar_draws_of_each_path_are_orthogonal_and_the_sign_drop_biases_w11():
    rng = np.random.default_rng(0)
    for path in BH.HAAR_PATHS:
        W = BH._draw(path, 400, 4, rng, False)
        np.testing.assert_allclose(W @ np.swapaxes(W, -1, -2), np.broadcast_to(np.eye(4), W.shape),
                                   atol=1e-12)
        bad = BH._draw(path, 400, 4, rng, True)
        np.testing.assert_allclose(bad @ np.swapaxes(bad, -1, -2),
                                   np.broadcast_to(np.eye(4), W.shape), atol=1e-12)
        assert np.all(bad[:, 0, 0] <= 0), path          # LAPACK's convention without the fix
        assert abs(W[:, 0, 0].mean()) < 0.15 < abs(bad[:, 0, 0].mean()), path


# ----------------------------------------------------------- Theorem 1 judges, synthetic data
def _synthetic_chains(cfg, pred, rng, rate_factor=1.0, n=60, noise=0.02):
    """Chains with E φ_l = φ0 e^{-r l} (r the derived rate times ``rate_factor``)."""
    ev = {}
    for d in BD._decay_widths(cfg):
        p = pred[str(d)]
        layers = BD._decay_layers(cfg, d, p["phi0"])
        steps = rng.normal(0.0, noise, (n, layers.size))
        steps[:, 0] = 0.0
        logc = -rate_factor * p["rate"] * np.diff(layers, prepend=0)
        # multiplicative noise with mean 1 per step: E φ_l decays exactly at the given rate
        ev[f"phi_{d}"] = p["phi0"] * np.exp(np.cumsum(logc + steps - noise**2 / 2 * (layers > 0),
                                                      axis=1))
    return ev


def _rate_cfg():
    return dict(CLAIMS["bn_orthogonal.isometry_decay"].config("quick"), widths=[8, 12],
                phi_end=1e-10, record_every=1)


def test_rate_judge_passes_at_the_derived_rate_and_its_mutation_fails():
    claim = CLAIMS["bn_orthogonal.isometry_decay"]
    cfg = _rate_cfg()
    pred = claim.predict(cfg)
    ev = _synthetic_chains(cfg, pred, np.random.default_rng(1))
    assert claim.judge(cfg, pred, ev, 1e-5).verdict == "PASS"
    mutated = claim.mutation("rate_off_by_delta").transform(cfg, ev)
    v = claim.judge(cfg, pred, mutated, 1e-5)
    assert v.verdict == "FAIL" and v.statistic == pytest.approx(1 + cfg["delta"], abs=0.01)
    # a truth off by δ/4 stays inside the band (the band is ±δ/2, not wider or narrower)
    near = _synthetic_chains(cfg, pred, np.random.default_rng(1), rate_factor=1 + cfg["delta"] / 4,
                             noise=0.005)
    assert claim.judge(cfg, pred, near, 1e-5).verdict == "PASS"


def test_rate_judge_fails_on_infinite_gaps():
    claim = CLAIMS["bn_orthogonal.isometry_decay"]
    cfg = _rate_cfg()
    pred = claim.predict(cfg)
    ev = _synthetic_chains(cfg, pred, np.random.default_rng(2))
    ev["phi_8"][:, 5:] = np.inf
    assert claim.judge(cfg, pred, ev, 1e-5).verdict == "FAIL"


def test_uniform_C_passes_for_a_decay_length_d_and_fails_for_d_to_the_2_plus_delta():
    claim = CLAIMS["bn_orthogonal.isometry_uniform_C"]
    cfg = dict(claim.config("quick"), widths=[8, 16, 32], phi_end=1e-8)
    pred = claim.predict(cfg)
    ev = _synthetic_chains(cfg, pred, np.random.default_rng(3))
    v = claim.judge(cfg, pred, ev, 1e-5)
    assert v.verdict == "PASS"
    # for E φ_l = φ0 e^{-rl}, C_min = max_l (l−1)/(d²(1+dφ0) r l), reached at the last layer L
    for d in (8, 16, 32):
        p = pred[str(d)]
        L = p["depth"]
        want = (L - 1) / (p["rate"] * L * d**2 * (1 + d * p["phi0"]))
        assert v.extra["C_min"][str(d)][0] == pytest.approx(want, rel=0.03)
    mutated = claim.mutation("decay_length_d_2_plus_delta").transform(cfg, ev)
    assert claim.judge(cfg, pred, mutated, 1e-5).verdict == "FAIL"


def test_small_gap_contraction_matches_the_rate_and_the_second_moment():
    for d in (2, 5, 16, 100):
        c = float(th.small_gap_contraction(d))
        assert c == pytest.approx(math.exp(-float(th.small_gap_decay_rate(d))), rel=1e-14)
        # step 3 of the derivation: E(1/d)Σa² − 1 over 2φ ≈ 2/(d+2) for λ near 1
        lam = 1 + 1e-4 * np.cos(np.arange(d))
        lam *= d / lam.sum()
        excess = float(th.theorem3_second_moment(lam)) - 1.0
        phi = float(np.log(lam.mean()) - np.mean(np.log(lam)))
        assert excess / 2 / phi == pytest.approx(1 - c, rel=1e-3)
    with pytest.raises(ValueError, match="d must be"):
        th.small_gap_contraction(0)
