"""bn_orthogonal.isometry_plateau_n_lt_d: for n < d the isometry gap plateaus (a finding outside
Theorem 1)."""
from __future__ import annotations

import numpy as np

from depthcheck.validation.claims.stats import decide_lower, decide_within, mean_ci, slope_ci
from depthcheck.validation.papers.bn_orthogonal._common import _BIG, _chain_backend, _input_rng, _part, fig1_input, phi_floor
from depthcheck.kernels import simulate_chain
from depthcheck.validation.claims.stats import Family
from depthcheck.validation.papers.bn_orthogonal._common import _g


def _plateau_n(cfg):
    return int(round(cfg["d"] * cfg["n_over_d"]))


def _plateau_layers(cfg):
    return np.arange(0, cfg["depth"] + 1, cfg["record_every"])


def _plateau_simulate(cfg, rng, n_trials, backend):
    d, n = cfg["d"], _plateau_n(cfg)
    X0 = fig1_input(d, n, cfg["f"], _input_rng(cfg, d, n))
    o = simulate_chain(X0, cfg["depth"], trials=n_trials, rng=rng, weights="haar",
                       norm="rownorm", record=("isometry_gap",), record_every=cfg["record_every"],
                       backend=_chain_backend(backend))
    return {"phi": o["isometry_gap"]}


def _plateau_decays_at_delta(cfg, ev):
    """Mutation transform: φ_l · e^{−δ (l − window_start)} for l >= window_start, δ = 2·band
    (the claim's sensitivity): a chain that keeps decaying slowly instead of plateauing."""
    layers = _plateau_layers(cfg)
    t = np.maximum(layers - cfg["window_start"], 0)
    return {"phi": ev["phi"] * np.exp(-2.0 * cfg["band"] * t)}


def _plateau_judge(cfg, pred, ev, alpha):
    layers = _plateau_layers(cfg)
    P = ev["phi"]
    w = layers >= cfg["window_start"]
    n = _plateau_n(cfg)
    floor = phi_floor(n)
    late = np.where(np.isfinite(P[:, w]), P[:, w], floor).mean(axis=1)  # per-chain time average
    est = mean_ci(late, alpha / 2)
    fam = Family(alpha, 2)
    fam.add(**_part(f"late mean φ (layers >= {cfg['window_start']})",
                    decide_lower(est.ci, cfg["threshold"]), est.estimate, est.ci,
                    cfg["threshold"], est.ci[0] / cfg["threshold"] - 1.0))
    logP = np.log(np.clip(P[:, w], 1e-300, _BIG))
    fit = slope_ci(layers[w], logP, alpha / 2)
    b = cfg["band"]
    fam.add(**_part("slope of log φ per layer in the window",
                    decide_within(fit.slope.ci, -b, b), fit.slope.estimate, fit.slope.ci, 0.0,
                    b - max(abs(fit.slope.ci[0]), abs(fit.slope.ci[1]))))
    what = (f"d = {cfg['d']}, n = {n} (n {'<' if n < cfg['d'] else '='} d): claim "
            f"φ does not decay to 0 but plateaus — late mean φ >= {cfg['threshold']} and slope of "
            f"log φ within ±{b}/layer. THIS IS OUTSIDE THEOREM 1, which assumes n = d; a finding "
            f"of this library, not a statement of the paper")
    return fam.verdict(fam.summary(what, fmt=_g), prediction=cfg["threshold"],
                   extra={"late_mean_phi": est.estimate, "slope_log_phi": fit.slope.estimate,
                          "mean_phi_curve": np.where(np.isfinite(P), P, np.nan).mean(0).tolist()})
