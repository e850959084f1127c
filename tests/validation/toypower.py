"""Toy claims for the power rules of the runner (kinds, sensitivity, data-side mutations)."""
from __future__ import annotations

import numpy as np

from depthcheck.validation.claims.claim import Claim, Mutation, Sensitivity
from depthcheck.validation.claims.stats import judge_all_hold, judge_within, mean_ci


def _simulate(cfg, rng, n, backend):
    return {"x": rng.normal(cfg["mu"], 1.0, size=n)}


def _judge(cfg, pred, ev, alpha):
    est = mean_ci(ev["x"], alpha)
    return judge_within(est, None, pred - cfg["band"], pred + cfg["band"], alpha=alpha,
                        prediction=pred)


_BASE = dict(title="mean of N(0, 1)", source="textbook", statement="E X = 0",
             assumptions="iid", trials=2000, chunk=500, predict=lambda cfg: 0.0,
             simulate=_simulate, judge=_judge, control={"mu": 1.0},
             control_description="N(1, 1) draws.",
             sensitivity=Sensitivity(0.3, "absolute error of the mean", "twice the band."))
_Q = {"mu": 0.0, "band": 0.15}


def _shift(size):
    return lambda cfg, ev: {"x": ev["x"] + size}


POWERED = Claim(id="power.powered", quick=dict(_Q), **_BASE,
                mutations=(Mutation("off_by_delta", "shifted by delta", transform=_shift(0.3)),
                           Mutation("simulated_off", "drawn at mean delta",
                                    overrides={"mu": 0.3})))
NO_MUTATION = Claim(id="power.none", quick=dict(_Q), **_BASE)
TOO_SMALL = Claim(id="power.too_small", quick=dict(_Q), **_BASE,
                  mutations=(Mutation("tiny", "shifted by 0.01", transform=_shift(0.01)),))
# a "mutation" that only touches a prediction-side key: it reaches simulate alone, so it
# changes nothing and cannot fake power
PREDICTION_SIDE = Claim(id="power.prediction_side", quick=dict(_Q), **_BASE,
                        mutations=(Mutation("band", "a huge band", overrides={"band": 100.0}),))
# common random numbers: a mutation whose override simulate ignores reproduces the claim
NOOP = Claim(id="power.noop", quick={**_Q, "label": "claim"}, **_BASE,
             mutations=(Mutation("noop", "changes a label only",
                                 overrides={"label": "mutated"}),))


def _constant(cfg, rng, n, backend):
    return {"x": np.full(n, cfg["mu"])}


def _margin_judge(cfg, pred, ev, alpha):
    return judge_all_hold(-np.abs(ev["x"]), tol=1e-12, alpha=alpha)


_DET = dict(title="a deterministic identity", source="algebra", statement="x = 0",
            assumptions="none", quick={"mu": 0.0}, trials=8, chunk=2,
            predict=lambda cfg: 0.0, simulate=_constant, judge=_margin_judge,
            control={"mu": 1.0}, control_description="x = 1.")
MISDECLARED = Claim(id="power.misdeclared", **_DET, sensitivity=Sensitivity(
    0.1, "error", "none."), mutations=(Mutation("m", "m", transform=_shift(1.0)),))
EXACT = Claim(id="power.exact", kind="exact", **_DET)

CLAIMS = [POWERED, NO_MUTATION, TOO_SMALL, PREDICTION_SIDE, NOOP, MISDECLARED, EXACT]


# ----------------------------------------------------------- sequential: decided by more chunks
def _diff_simulate(cfg, rng, n, backend):
    # a per-trial difference of two accuracies, in [-1, 1]
    return {"diff": np.clip(rng.normal(cfg["mu"], 0.3, size=n), -1.0, 1.0)}


def _diff_judge(cfg, pred, ev, alpha):
    return judge_within(mean_ci(ev["diff"], alpha), None, pred - cfg["band"],
                        pred + cfg["band"], alpha=alpha, prediction=pred)


from depthcheck.validation.claims.claim import Sequential  # noqa: E402
from depthcheck.validation.claims.sequential import Statement  # noqa: E402

SEQUENTIAL = Claim(
    id="seq.diff", title="no accuracy difference beyond 0.1", source="toy",
    statement="|E diff| <= 0.1", assumptions="iid", quick={"mu": 0.0, "band": 0.1}, trials=40,
    chunk=10, predict=lambda cfg: 0.0, simulate=_diff_simulate, judge=_diff_judge,
    control={"mu": 0.5}, control_description="a real difference of 0.5.",
    sensitivity=Sensitivity(0.2, "accuracy difference", "twice the band."),
    mutations=(Mutation("shifted", "differences shifted by 0.2",
                        transform=lambda cfg, ev: {"diff": np.clip(ev["diff"] + 0.2, -1, 1)}),),
    sequential=Sequential("diff", lambda cfg, pred: Statement.band(pred, cfg["band"]),
                          support=(-1.0, 1.0)))
CLAIMS.append(SEQUENTIAL)
