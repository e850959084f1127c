"""End-to-end tests of the seed-000 claims (depthcheck.validation.papers.lcw) at tiny configurations: every claim
comes out as expected and its negative control FAILs through the same code path; the figures
are drawn; one claim runs through the real runner."""
import json

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from depthcheck.validation.papers import lcw as V  # noqa: E402
from depthcheck.validation.papers.lcw import activation_shift as VS, claims as VK, deep_sigmoid as VD  # noqa: E402
from depthcheck.validation.run import runner  # noqa: E402
from depthcheck.validation.claims.claim import ClaimResult  # noqa: E402
from depthcheck.validation.claims.stats import ALPHA  # noqa: E402

# Tiny versions of the quick configurations (same code, smaller sizes, wider bands where the
# sampling error grows). Expected claim verdicts: PASS except the LCW+BN accuracy comparison,
# whose effect is not detectable at this size (INCONCLUSIVE).
TINY = {
    "lcw.activation_shift": (dict(m=100, n=100, samples=200, trials=24, band=[0.6, 1.4]),
                                 "PASS"),
    "lcw.lcw_no_shift": (dict(m=100, n=100, samples=200, trials=24, band=[0.6, 1.4]), "PASS"),
    "lcw.variance_gains": (dict(m=64, n=64, samples=32, trials=24, band=[0.7, 1.3]), "PASS"),
    "lcw.deep_sigmoid_gradients": (dict(depth=12, width=16, steps=10, eval_every=5,
                                            trials=12), "PASS"),
    "lcw.deep_sigmoid_speed": (dict(depth=12, width=24, steps=80, eval_every=10, trials=12,
                                        target_loss=1.8, min_advantage=0.1), "PASS"),
    "lcw.lcw_bn_accuracy": (dict(depth=12, width=16, steps=60, eval_every=30, trials=8),
                                "INCONCLUSIVE"),
}


def _run(claim, control, seed=123):
    over, _ = TINY[claim.id]
    if control:  # the tiny sizes never undo what the control sets (e.g. its depth)
        over = {k: v for k, v in over.items() if k not in claim.control}
    cfg = dict(claim.config("quick", control), **over)
    cfg.setdefault("trials", claim.n_trials("quick"))
    ev = claim.simulate(cfg, np.random.default_rng(seed), cfg["trials"], "numpy")
    for k, a in ev.items():
        assert a.shape[0] == cfg["trials"] and np.all(np.isfinite(a)), k
    pred = claim.predict(cfg)
    json.dumps(pred)
    v = claim.judge(cfg, pred, ev, ALPHA)
    return ClaimResult(claim.id, control, cfg, pred, ev, v, cfg["trials"])


def test_claim_list():
    ids = [c.id for c in V.CLAIMS]
    # the claims of claims_relu_conv have their own tests (tests/validation/test_lcw_relu_conv.py)
    assert ids[:len(TINY)] == list(TINY) and all(i.startswith("lcw.") for i in ids)
    for c in V.CLAIMS:
        assert "arXiv:2403.13833" in c.source
        assert c.n_trials("quick") >= 8 and c.control


@pytest.mark.parametrize("claim", [c for c in V.CLAIMS if c.id in TINY], ids=lambda c: c.id)
def test_claim_and_control_at_tiny_size(claim, tmp_path):
    res = _run(claim, False)
    ctrl = _run(claim, True)
    assert res.verdict.verdict == TINY[claim.id][1], res.verdict.detail
    assert ctrl.verdict.verdict == "FAIL", ctrl.verdict.detail
    paths = claim.figure(res.config, res, ctrl, tmp_path)
    assert paths and all(p.exists() and p.stat().st_size > 1000 for p in paths)
    # the figure also copes with a missing control result
    claim.figure(res.config, res, None, tmp_path)


def test_shift_statistic_is_calibrated_per_neuron():
    # under the claim the standardised errors have mean ~0 and E z² = 1 neuron by neuron
    claim = VK.ACTIVATION_SHIFT
    res = _run(claim, False, seed=7)
    z, _ = VS._shift_z(res.config, res.prediction, res.evidence, 0, "sigmoid")
    per_trial = z.mean(axis=1)  # iid over trials, mean 0
    assert abs(per_trial.mean()) < 5 * per_trial.std(ddof=1) / np.sqrt(per_trial.size)
    q = np.mean(z * z, axis=1)  # iid over trials, mean 1
    assert abs(q.mean() - 1) < 5 * q.std(ddof=1) / np.sqrt(q.size)


def test_controls_are_data_side():
    # the replaced controls change the data (and, for speed, the depth at which the standard
    # arm can train), never the arms or the judged statement
    assert VK.DEEP_SPEED.control == {"data": "mean_coded", "depth": 2}
    assert VK.LCW_BN_ACCURACY.control == {"data": "mean_coded"}


def test_speed_statistic_censoring():
    loss = np.array([[2.0, 1.5, 0.9], [2.0, 2.0, 2.0]])
    steps = np.array([0.0, 10.0, 20.0])
    np.testing.assert_array_equal(VD._steps_to(loss, steps, 1.0, 30.0), [20.0, 30.0])


def test_through_the_runner(tmp_path):
    out = tmp_path / "run"
    r = runner.run(["lcw.variance_gains"], modules=["depthcheck.validation.papers.lcw"], out=out,
                   progress=False, figures=False)
    recs = {(x["id"], x["control"]): x for x in r.records}
    assert recs[("lcw.variance_gains", False)]["verdict"] == "PASS"
    assert recs[("lcw.variance_gains", True)]["verdict"] == "FAIL"
