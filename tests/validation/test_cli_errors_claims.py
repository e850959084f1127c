"""Toy claims for tests/validation/test_cli_errors.py (``--module
tests.validation.test_cli_errors_claims``); no tests here.

``clitoy.fails`` is a well-powered claim whose verdict is FAIL (status OK): the case ``--strict``
gates. ``clitoy.sleepy`` (30 s) and ``clitoy.nap`` (3 s) sleep ``cfg["sleep"]`` seconds per task, to hold pool and Dask workers
busy while a test kills the main process or the workers.
"""
from __future__ import annotations

import time

import numpy as np

from depthcheck.validation.claims.claim import Claim, Mutation, Sensitivity
from depthcheck.validation.claims.stats import judge_within, mean_ci


def _simulate(cfg, rng, n, backend):
    if cfg.get("sleep"):
        time.sleep(cfg["sleep"])
    return {"x": rng.normal(cfg["mu"], 1.0, size=n)}


def _judge(cfg, pred, ev, alpha):
    est = mean_ci(ev["x"], alpha)
    return judge_within(est, None, pred - cfg["band"], pred + cfg["band"], alpha=alpha,
                        prediction=pred)


_POWER = dict(
    sensitivity=Sensitivity(1.0, "absolute error of the mean", "twice the judged band."),
    mutations=(Mutation("shifted", "draws shifted by delta = 1.",
                        transform=lambda cfg, ev: {"x": ev["x"] + 1.0}),))

FAILS = Claim(
    id="clitoy.fails", title="A false statement: the mean of N(1, 1) is 0", source="none",
    statement="E X = 0 for X ~ N(1, 1) (false)", assumptions="iid draws",
    quick={"mu": 1.0, "band": 0.5}, trials=400, chunk=100,
    predict=lambda cfg: 0.0, simulate=_simulate, judge=_judge,
    control={"mu": 3.0}, control_description="draws from N(3, 1).", **_POWER)

SLEEPY = Claim(
    id="clitoy.sleepy", title="The mean of N(0, 1) is 0, slowly", source="none",
    statement="E X = 0 for X ~ N(0, 1)", assumptions="iid draws",
    quick={"mu": 0.0, "band": 0.5, "sleep": 30.0}, trials=400, chunk=100,
    predict=lambda cfg: 0.0, simulate=_simulate, judge=_judge,
    control={"mu": 3.0}, control_description="draws from N(3, 1).", **_POWER)

NAP = Claim(
    id="clitoy.nap", title="The mean of N(0, 1) is 0, after a nap", source="none",
    statement="E X = 0 for X ~ N(0, 1)", assumptions="iid draws",
    quick={"mu": 0.0, "band": 0.5, "sleep": 3.0}, trials=400, chunk=100,
    predict=lambda cfg: 0.0, simulate=_simulate, judge=_judge,
    control={"mu": 3.0}, control_description="draws from N(3, 1).", **_POWER)

CLAIMS = [FAILS, SLEEPY, NAP]
