"""bn_orthogonal.one_step_rate: one Bn step increases isometry in expectation (Theorem 3)."""
from __future__ import annotations

import math

import numpy as np

from depthcheck.kernels.random.haar import sample_orthogonal
from depthcheck.theory import bn_orthogonal as th
from depthcheck.theory.isometry import isometry_gap, row_normalize
from depthcheck.validation.claims.stats import decide_lower, decide_within, mean_ci
from depthcheck.validation.papers.bn_orthogonal._common import _input_rng, _part, fig1_input
from depthcheck.validation.claims.stats import Family
from depthcheck.validation.papers.bn_orthogonal._common import _g


_T3_INPUTS = ("bn_gaussian", "fig1", "correlated")


def _t3_inputs(cfg):
    """The fixed unit-row-norm inputs X (d × d) of the Theorem 3 check, plus an orthogonal one."""
    d = cfg["d"]
    r = _input_rng(cfg, d)
    X = {"bn_gaussian": row_normalize(r.standard_normal((d, d))),
         "fig1": row_normalize(fig1_input(d, d, 0.005, r)),
         "correlated": row_normalize(fig1_input(d, d, 0.5, r))}
    Q = sample_orthogonal((), d, r)
    return X, Q


def _t3_predict(cfg):
    X, _ = _t3_inputs(cfg)
    out = {}
    for name in _T3_INPUTS:
        lam = np.linalg.eigvalsh(X[name] @ X[name].T)
        lam = lam * (cfg["d"] / lam.sum())
        out[name] = {"second_moment": float(th.theorem3_second_moment(lam)),
                     "second_moment_gaussian": float(th.theorem3_second_moment_gaussian(lam)),
                     "ratio_lower_bound": float(th.theorem3_ratio_lower_bound(lam)),
                     "phi": float(isometry_gap(X[name]))}
    return out


def _t3_weights(cfg, rng, B):
    d = cfg["d"]
    if cfg["weights"] == "haar":
        return sample_orthogonal((B,), d, rng)
    return rng.standard_normal((B, d, d)) / math.sqrt(d)


def _t3_simulate(cfg, rng, n_trials, backend):
    X, Q = _t3_inputs(cfg)
    W = _t3_weights(cfg, rng, n_trials)
    ev = {}
    for name in _T3_INPUTS:
        WX = W @ X[name]
        a = np.sum(WX * WX, axis=-1)
        ev[f"m2_{name}"] = np.mean(a * a, axis=-1)
        ev[f"ratio_{name}"] = np.exp(isometry_gap(X[name]) - isometry_gap(row_normalize(WX)))
    ev["ratio_orthogonal"] = np.exp(isometry_gap(Q) - isometry_gap(row_normalize(W @ Q)))
    return ev


def _t3_judge(cfg, pred, ev, alpha):
    k = 2 * len(_T3_INPUTS) + 1
    band = cfg["band"]
    fam = Family(alpha, k)
    for name in _T3_INPUTS:
        p = pred[name]
        e = mean_ci(ev[f"m2_{name}"], alpha / k)
        rel = (e.estimate / p["second_moment"], (e.ci[0] / p["second_moment"],
                                                 e.ci[1] / p["second_moment"]))
        fam.add(**_part(f"{name}: E(1/d)Σa² / exact", decide_within(rel[1], 1 - band, 1 + band),
                        rel[0], rel[1], 1.0, band - max(abs(rel[1][0] - 1), abs(rel[1][1] - 1))))
        r = mean_ci(ev[f"ratio_{name}"], alpha / k)
        fam.add(**_part(f"{name}: E I(Bn(WX))/I(X) vs lower bound",
                        decide_lower(r.ci, p["ratio_lower_bound"]), r.estimate, r.ci,
                        p["ratio_lower_bound"], r.ci[0] - p["ratio_lower_bound"]))
    dev = float(np.max(np.abs(ev["ratio_orthogonal"] - 1.0)))
    fam.add(**_part("orthogonal X: max |ratio − 1| (equality case)",
                    "PASS" if dev <= cfg["tol"] else "FAIL", dev, (dev, dev), 0.0,
                    cfg["tol"] - dev))
    summary = {name: {"mean_ratio": float(np.mean(ev[f"ratio_{name}"])),
                      "mean_second_moment": float(np.mean(ev[f"m2_{name}"])), **pred[name]}
               for name in _T3_INPUTS}
    what = (f"Theorem 3 with {cfg['weights']} W (d = n = {cfg['d']}): exact Haar second moment "
            f"E[(1/d)Σa_i²] = (d² + 2Σλ²)/(d(d+2)) within ±{band:.0%}, Monte Carlo ratio "
            f"E I(Bn(WX))/I(X) >= our derived lower bound 1/(1 − δ/(2(1+√d)²))², δ = "
            f"2Σ(λ−1)²/(d(d+2)), and ratio ≡ 1 for orthogonal X (tolerance {cfg['tol']})")
    return fam.verdict(fam.summary(what, fmt=_g), extra={"inputs": summary})
