"""Toy claims for the runner's tests (loaded with ``--module tests.validation.toyclaims``).

Ids starting with ``toy.`` behave; ``toybad.`` ones exercise error paths and are only ever
selected explicitly.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from depthcheck.validation.claims.claim import Claim, Mutation, Sensitivity
from depthcheck.validation.claims.stats import judge_within, mean_ci, slope_ci


# ----------------------------------------------------------- toy.mean: E X = 0 for X ~ N(mu, 1)

def _mean_predict(cfg):
    return 0.0


def _mean_simulate(cfg, rng, n, backend):
    return {"x": rng.normal(cfg["mu"], 1.0, size=n)}


def _mean_judge(cfg, pred, ev, alpha):
    est = mean_ci(ev["x"], alpha)
    return judge_within(est, None, pred - cfg["band"], pred + cfg["band"], alpha=alpha,
                        prediction=pred, extra={"sd": float(np.std(ev["x"], ddof=1))})


def _mean_figure(cfg, res, ctrl, outdir: Path):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.hist(res.evidence["x"], bins=40, alpha=0.6, label="claim")
    if ctrl is not None:
        ax.hist(ctrl.evidence["x"], bins=40, alpha=0.6, label="control")
    ax.axvline(res.prediction, color="k")
    ax.legend()
    path = outdir / "toy_mean.png"
    fig.savefig(path, dpi=60)
    return [path]


MEAN = Claim(
    id="toy.mean", title="The mean of N(0, 1) is 0", source="textbook, no theorem",
    statement="E X = 0 for X ~ N(0, 1)", assumptions="iid draws",
    quick={"mu": 0.0, "band": 0.15}, full={"band": 0.1},
    trials={"quick": 2000, "full": 4000}, chunk={"quick": 500, "full": 1000},
    predict=_mean_predict, simulate=_mean_simulate, judge=_mean_judge,
    control={"mu": 0.5}, control_description="draws from N(0.5, 1).", figure=_mean_figure,
    sensitivity=Sensitivity({"quick": 0.3, "full": 0.2}, "absolute error of the mean",
                            "twice the judged band."),
    mutations=(Mutation("mean_off_by_delta", "every draw shifted by delta = 2 band.",
                        transform=lambda cfg, ev: {"x": ev["x"] + 2 * cfg["band"]}),
               Mutation("wrong_law", "draws from N(2 band, 1) (simulated).",
                        overrides={"mu": 0.3})))


# ----------------------------------------------------------- toy.slope: y_t = 2 t + random walk

def _slope_simulate(cfg, rng, n, backend):
    t = np.arange(cfg["steps"], dtype=float)
    walk = np.cumsum(rng.normal(0, 1, size=(n, cfg["steps"])), axis=1)
    return {"y": cfg["rate"] * t + walk, "t": np.broadcast_to(t, (n, cfg["steps"]))}


def _slope_judge(cfg, pred, ev, alpha):
    fit = slope_ci(ev["t"][0], ev["y"], alpha)
    return judge_within(fit.slope, None, pred - 0.1, pred + 0.1, alpha=alpha, prediction=pred,
                        extra={"curve_slope": fit.curve_slope})


SLOPE = Claim(
    id="toy.slope", title="A drifting random walk grows at rate 2", source="textbook",
    statement="y_t = 2 t + S_t, S a random walk: slope 2", assumptions="Gaussian steps",
    quick={"steps": 50, "rate": 2.0}, full={"steps": 100},
    trials={"quick": 200, "full": 400}, chunk={"quick": 64, "full": 100},
    predict=lambda cfg: 2.0, simulate=_slope_simulate, judge=_slope_judge,
    control={"rate": 2.5}, control_description="a walk drifting at rate 2.5.",
    sensitivity=Sensitivity(0.2, "absolute error of the slope", "twice the judged band."),
    mutations=(Mutation("slope_off_by_delta", "the walk tilted by delta = 0.2 per step.",
                        transform=lambda cfg, ev: {"y": ev["y"] + 0.2 * ev["t"], "t": ev["t"]}),))


# ----------------------------------------------------------- toy.broken: its control cannot fail

BROKEN = Claim(
    id="toy.broken", title="A claim whose control is useless", source="none",
    statement="E X = 0", assumptions="none",
    quick={"mu": 0.0, "band": 0.5, "label": "claim"}, trials=400, chunk=100,
    predict=_mean_predict, simulate=_mean_simulate, judge=_mean_judge,
    control={"label": "control"}, control_description="changes nothing, so it passes too.")


# ----------------------------------------------------------- toybad.*: error paths

def _nan_simulate(cfg, rng, n, backend):
    x = rng.normal(cfg["mu"], 1.0, size=n)
    if cfg.get("poison", False):
        x[n // 2] = cfg["poison_value"]
    return {"x": x}


NAN = Claim(
    id="toybad.nan", title="Evidence with a NaN", source="none", statement="E X = 0",
    assumptions="none",
    quick={"mu": 0.0, "band": 2.0, "poison": True, "poison_value": float("nan")},
    full={"poison": False}, trials=100, chunk={"quick": 50, "full": 25},
    predict=_mean_predict, simulate=_nan_simulate, judge=_mean_judge,
    control={"mu": 3.0, "poison": False}, control_description="clean.")


def _inf_judge(cfg, pred, ev, alpha):
    x = ev["x"][np.isfinite(ev["x"])]
    return _mean_judge(cfg, pred, {"x": x}, alpha)


INF = Claim(
    id="toybad.inf_allowed", title="Evidence that may hold inf", source="none",
    statement="E X = 0", assumptions="none",
    quick={"mu": 0.0, "band": 2.0, "poison": True, "poison_value": float("inf")},
    full={"poison": False}, trials=200, chunk=50, allow_inf=("x",),
    predict=_mean_predict, simulate=_nan_simulate, judge=_inf_judge,
    control={"poison": False, "mu": 3.0}, control_description="shifted mean.")


def _raise_simulate(cfg, rng, n, backend):
    raise ArithmeticError("toy failure")


RAISES = Claim(
    id="toybad.raises", title="simulate raises", source="none", statement="-", assumptions="-",
    quick={}, trials=10,
    predict=_mean_predict, simulate=_raise_simulate, judge=_mean_judge,
    control={"mu": 1.0}, control_description="-")


# ----------------------------------------------------------- toyengine.echo: sees its backend

_CODES = {"numpy": 0, "numba": 1, "cuda": 2}


def _echo_simulate(cfg, rng, n, backend):
    return {"x": rng.normal(cfg["mu"], 1.0, size=n), "backend": np.full(n, _CODES[backend])}


ECHO = Claim(
    id="toyengine.echo", title="Records the backend it ran on", source="none",
    statement="E X = 0", assumptions="none", quick={"mu": 0.0, "band": 0.5}, trials=400,
    backends=("numba", "numpy"), aliases=("toyold.echo",),
    predict=_mean_predict, simulate=_echo_simulate, judge=_mean_judge,
    control={"mu": 3.0}, control_description="shifted mean.",
    sensitivity=Sensitivity(1.0, "absolute error of the mean", "twice the judged band."),
    mutations=(Mutation("shifted", "draws shifted by delta = 1.",
                        transform=lambda cfg, ev: {**ev, "x": ev["x"] + 1.0}),))


CLAIMS = [MEAN, SLOPE, BROKEN, NAN, INF, RAISES, ECHO]


# ----------------------------------------------------------- a toy benchmark module

def bench(quick: bool) -> list[dict]:
    import time
    a = np.random.default_rng(0).normal(size=(64, 64))
    t0 = time.perf_counter()
    a @ a
    ours = time.perf_counter() - t0
    return [{"workload": "64x64 matmul", "ours_s": ours, "baseline": "none", "baseline_s": None,
             "ratio": None, "gflops": 2 * 64 ** 3 / max(ours, 1e-9) / 1e9, "floor_s": None}]
