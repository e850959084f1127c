"""The power of the Kutsuna 2020 (arXiv:2403.13833) claims: every data-side mutation moves the
evidence by the declared δ (or removes the claimed effect), the new controls' data do what they
say, and the sequential statement of lcw.lcw_bn_accuracy decides. Tiny sizes, seconds."""
import numpy as np
import pytest

from depthcheck.kernels.nn.lcw import basis_apply
from depthcheck.validation.claims import sequential as S
from depthcheck.validation.claims.stats import ALPHA
from depthcheck.validation.papers.lcw import CLAIMS, activation_shift as VS, claims as VK
from depthcheck.validation.papers.lcw import deep_sigmoid as VD, variance_gains as VG


def _z2(claim, cfg, ev):
    pred = claim.predict(cfg)
    return [np.mean(VS._shift_z(cfg, pred, ev, a, act)[0] ** 2)
            for a, act in enumerate(cfg["activations"])]


def test_every_statistical_claim_declares_delta_and_a_mutation():
    for c in CLAIMS:
        assert c.kind in ("statistical", "finding") and c.sensitivity is not None, c.id
        assert c.mutations, c.id
        assert c.sensitivity.at("quick") > 0 and c.sensitivity.at("full") > 0


@pytest.mark.parametrize("claim,key", [(VK.ACTIVATION_SHIFT, "gamma_error_deltas"),
                                       (VK.LCW_NO_SHIFT, "constraint_leak_deltas")])
def test_shift_mutations_raise_ez2_by_delta(claim, key):
    # E z² = 1 under the claim and 1 + δ under the mutation; 400 neurons x 12 trials estimate
    # it to ~±0.04, so a mis-calibrated mutation (or none) is caught
    cfg = dict(claim.config("quick"), m=200, n=200)
    delta = VS.shift_delta(cfg)
    base = _z2(claim, cfg, claim.simulate(cfg, np.random.default_rng(5), 12, "numpy"))
    mut = _z2(claim, cfg, claim.simulate(dict(cfg, **{key: 1.0}), np.random.default_rng(5), 12,
                                         "numpy"))
    for b, m in zip(base, mut):
        assert abs(b - 1.0) < 0.1
        assert abs((m - b) - delta) < 0.1, (b, m, delta)


def test_leak_breaks_the_zero_sum_constraint_only_in_the_mutation():
    cfg = dict(VK.LCW_NO_SHIFT.config("quick"), m=50, n=40, samples=20)
    ev = VK.LCW_NO_SHIFT.simulate(cfg, np.random.default_rng(1), 3, "numpy")
    assert np.max(np.abs(ev["sum_w"])) < 1e-12
    ev = VK.LCW_NO_SHIFT.simulate(dict(cfg, constraint_leak_deltas=1.0),
                                  np.random.default_rng(1), 3, "numpy")
    assert np.max(np.abs(ev["sum_w"])) > 1e-4


def test_variance_mutation_scales_every_gain_by_one_plus_delta():
    c = VK.VARIANCE_GAINS
    cfg = dict(c.config("quick"), m=32, n=32, samples=8)
    a = c.simulate(cfg, np.random.default_rng(3), 2, "numpy")
    b = c.simulate(dict(cfg, variance_error_deltas=1.0), np.random.default_rng(3), 2, "numpy")
    for k in a:
        np.testing.assert_allclose(b[k] / a[k], 1.0 + VG.gain_delta(cfg), rtol=1e-12)


def test_gradient_tilt_moves_the_slope_by_bound_plus_delta():
    rng = np.random.default_rng(0)
    cfg = {"depth": 12, "max_slope": 0.05}
    ev = {"grad_log10": rng.normal(size=(6, 3, 13))}
    out = VD.gradients_vanish_by(0.05)(cfg, ev)
    x, Y0 = VD._grad_slope_inputs(cfg, ev)
    _, Y1 = VD._grad_slope_inputs(cfg, out)
    s0 = np.polyfit(x, Y0.mean(axis=0), 1)[0]
    s1 = np.polyfit(x, Y1.mean(axis=0), 1)[0]
    assert s1 - s0 == pytest.approx(0.1, abs=1e-12)


def test_accuracy_mutation_sets_the_mean_difference_to_minus_delta():
    rng = np.random.default_rng(0)
    a0, a1 = rng.uniform(0.8, 0.95, (2, 7, 3))
    ev = {"test_acc_0": a0, "test_acc_1": a1, "acc_diff": a0[:, -1] - a1[:, -1]}
    out = VD.acc_worse_by_delta({"delta": 0.01}, ev)
    assert np.mean(out["acc_diff"]) == pytest.approx(-0.01, abs=1e-12)
    np.testing.assert_allclose(out["test_acc_0"][:, -1] - out["test_acc_1"][:, -1],
                               out["acc_diff"], atol=1e-15)
    assert np.std(out["acc_diff"]) == pytest.approx(np.std(ev["acc_diff"]), rel=1e-12)


def test_mean_coded_inputs_are_invisible_to_lcw_weights():
    # the controls' data: w·x depends on the class only through Σ_j w_j, which LCW makes 0
    rng = np.random.default_rng(2)
    y = np.arange(10).repeat(5)
    X = VD._mean_coded(rng, y, 64)
    W = basis_apply(rng.standard_normal((8, 63)))
    noise = X - VD.MEAN_CODE_CONTRAST * (y - 4.5) / 4.5
    np.testing.assert_allclose(W @ X, W @ noise, atol=1e-12)
    Ws = rng.standard_normal((8, 64))
    assert np.max(np.abs(Ws @ X - Ws @ noise)) > 1.0


def test_unknown_data_is_refused():
    cfg = dict(VK.DEEP_SPEED.config("quick"), data="cifar")
    with pytest.raises(ValueError, match="data"):
        VD._digits_trials(np.random.default_rng(0), 1, cfg)


def test_speed_advantage_and_minimum_effect_judge():
    steps = np.arange(0, 60, 20, dtype=float)
    ev = {"step": np.tile(steps, (4, 1)),
          "train_loss_0": np.array([[2.3, 1.0, 0.5]] * 4) + 0.01 * np.arange(4)[:, None],
          "train_loss_1": np.full((4, 3), 2.3)}
    np.testing.assert_allclose(VD.speed_advantage(ev), (0.0 + 1.3 + 1.8) / 3 - 0.01 * np.arange(4))
    cfg = {"steps": 40, "eval_every": 20, "target_loss": 1.0, "min_advantage": 0.2,
           "arms": [{"weights": "lcw", "norm": "none"}, {"weights": "standard", "norm": "none"}]}
    assert VD._speed_judge(cfg, 0.2, ev, ALPHA).verdict == "PASS"
    same = dict(ev, train_loss_0=ev["train_loss_1"] + 0.001 * np.arange(4)[:, None])
    assert VD._speed_judge(cfg, 0.2, same, ALPHA).verdict == "FAIL"   # no speed-up < δ/2


def test_accuracy_inconclusive_is_worded_as_power():
    rng = np.random.default_rng(1)
    a = rng.uniform(0.85, 0.95, (8, 2))
    b = a + rng.normal(0, 0.01, (8, 2))
    ev = {"test_acc_0": a, "test_acc_1": b, "acc_diff": a[:, -1] - b[:, -1]}
    cfg = {"steps": 10, "delta": 0.2, "arms": [VK._LCW_BN, VK._STD_BN]}
    v = VD._acc_judge(cfg, 0.0, ev, ALPHA)
    assert v.verdict == "INCONCLUSIVE" and "not resolved at this power" in v.detail.lower()
    assert "no difference" not in v.detail.replace("'no difference'", "")


@pytest.mark.parametrize("mu,expected", [(0.05, "PASS"), (-0.05, "FAIL")])
def test_accuracy_sequential_statement_decides(mu, expected):
    c = VK.LCW_BN_ACCURACY
    cfg = c.config("full")
    stmt = c.sequential.statement(cfg, c.predict(cfg))
    # the betting CS on [-1, 1] at α = 1e-5 decides a difference of 0.05 (sd 0.03) in ~500
    x = np.clip(np.random.default_rng(4).normal(mu, 0.03, 1000), -1, 1)
    d = S.sequential_decision(x, stmt, S.BettingCS(ALPHA, c.sequential.support))
    assert d.decision == expected and d.decided_at < 1000
    assert S.sequential_decision(x[:50], stmt, S.BettingCS(ALPHA, (-1.0, 1.0))).decision \
        == "INCONCLUSIVE"


def test_full_trials_resolve_delta_at_the_measured_spread():
    # the plan behind trials["full"]: a t-interval at the measured sd of the paired
    # differences (~0.03 at the quick size) has half-width <= δ_full = 0.05
    from scipy import stats as st
    c = VK.LCW_BN_ACCURACY
    n = c.n_trials("full")
    hw = st.t.ppf(1 - ALPHA / 2, n - 1) * 0.03 / np.sqrt(n)
    assert hw <= c.sensitivity.at("full") * 1.1
