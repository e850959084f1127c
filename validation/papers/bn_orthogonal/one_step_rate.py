"""bn_orthogonal.one_step_rate: one Bn step increases isometry in expectation (Theorem 3)."""
from __future__ import annotations

import math

import numpy as np

from depthcheck.kernels.random.haar import sample_orthogonal
from depthcheck.theory import bn_orthogonal as th
from depthcheck.theory.isometry import isometry_gap, row_normalize
from depthcheck.validation.claims.claim import Verdict
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
    # drawn after the others so that they stay what they were: a small-gap input, where the
    # one-step contraction is 1 − 2/(d+2) up to a relative O(φ^{1/2}) (φ ≈ 1e-5 at eps 1e-3)
    X["near_isometric"] = row_normalize(np.eye(d) + cfg["small_eps"] * r.standard_normal((d, d)))
    return X, Q


def _bn(H, power):
    """The paper's Bn, rows divided by their norm; ``power`` != 1 divides by ||h_i||^power
    instead (the mutation: a normalisation with the wrong exponent)."""
    if power == 1.0:
        return row_normalize(H)
    a = np.sum(H * H, axis=-1, keepdims=True)
    return H / a ** (power / 2.0)


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
    out["near_isometric"] = {"phi": float(isometry_gap(X["near_isometric"])),
                             "contraction": float(th.small_gap_contraction(cfg["d"]))}
    return out


def _t3_weights(cfg, rng, B):
    d = cfg["d"]
    if cfg["weights"] == "haar":
        return sample_orthogonal((B,), d, rng)
    return rng.standard_normal((B, d, d)) / math.sqrt(d)


def _t3_simulate(cfg, rng, n_trials, backend):
    X, Q = _t3_inputs(cfg)
    W = _t3_weights(cfg, rng, n_trials)
    # the mutation "off_by_delta": Bn divides by ||h||^p, p = 1 − √δ, which scales the
    # small-gap deficit 1 − E φ'/φ by 1 − (1 − p)² = 1 − δ (second order in log a)
    p = (1.0 - math.sqrt(cfg["delta"]) if cfg["bn_power"] == "off_by_delta"
         else float(cfg["bn_power"]))
    ev = {}
    for name in _T3_INPUTS:
        WX = W @ X[name]
        a = np.sum(WX * WX, axis=-1)
        ev[f"m2_{name}"] = np.mean(a * a, axis=-1)
        ev[f"ratio_{name}"] = np.exp(isometry_gap(X[name]) - isometry_gap(_bn(WX, p)))
    Xs = X["near_isometric"]
    ev["contraction_near_isometric"] = isometry_gap(_bn(W @ Xs, p)) / isometry_gap(Xs)
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
    # the small-gap contraction: deficit 1 − E φ'/φ relative to the derived 2/(d+2)
    c = pred["near_isometric"]["contraction"]
    e = mean_ci(ev["contraction_near_isometric"], alpha / k)
    rel = ((1.0 - e.estimate) / (1.0 - c), ((1.0 - e.ci[1]) / (1.0 - c), (1.0 - e.ci[0]) / (1.0 - c)))
    fam.add_within(f"near-isometric X (φ = {_g(pred['near_isometric']['phi'])}): "
                   f"(1 − E φ(Bn(WX))/φ(X)) / (2/(d+2))", rel[0], rel[1], 1 - band, 1 + band)
    summary = {name: {"mean_ratio": float(np.mean(ev[f"ratio_{name}"])),
                      "mean_second_moment": float(np.mean(ev[f"m2_{name}"])), **pred[name]}
               for name in _T3_INPUTS}
    summary["near_isometric"] = {"mean_contraction": e.estimate, **pred["near_isometric"]}
    what = (f"Theorem 3 with {cfg['weights']} W (d = n = {cfg['d']}): exact Haar second moment "
            f"E[(1/d)Σa_i²] = (d² + 2Σλ²)/(d(d+2)) within ±{band:.0%}, Monte Carlo ratio "
            f"E I(Bn(WX))/I(X) >= our derived lower bound 1/(1 − δ/(2(1+√d)²))², δ = "
            f"2Σ(λ−1)²/(d(d+2)), and at a small gap the contraction deficit 1 − E φ'/φ = "
            f"2/(d+2) (depthcheck.theory.bn_orthogonal.small_gap_contraction) within ±{band:.0%}"
            )
    return fam.verdict(fam.summary(what, fmt=_g), extra={"inputs": summary})


def _t3_identity_simulate(cfg, rng, n_trials, backend):
    X, Q = _t3_inputs(cfg)
    W = _t3_weights(cfg, rng, n_trials)
    return {"ratio_orthogonal": np.exp(isometry_gap(Q) - isometry_gap(row_normalize(W @ Q)))}


def _t3_identity_judge(cfg, pred, ev, alpha):
    dev = float(np.max(np.abs(ev["ratio_orthogonal"] - 1.0)))
    v = "PASS" if dev <= cfg["tol"] else "FAIL"
    return Verdict(v, dev, (dev, dev), 0.0, alpha,
                   f"orthogonal X, {cfg['weights']} W (d = n = {cfg['d']}, "
                   f"{ev['ratio_orthogonal'].size} draws): max |I(Bn(WX))/I(X) − 1| = {dev:.3g} "
                   f"(tolerance {cfg['tol']:g})", {"statements": 1, "comparisons": 1})
