"""rank_collapse.vanilla_lyapunov: vanilla linear nets collapse at the Lyapunov rate μ2 − μ1 (Lemma
3)."""
from __future__ import annotations

import math

import numpy as np

from depthcheck.kernels.chain.rank import gaussian_input, lyapunov_qr, rank_chain
from depthcheck.theory import lyapunov as lyap
from depthcheck.validation.claims.stats import mean_ci
from depthcheck.validation.papers.rank_collapse._common import _g
from depthcheck.validation.claims.stats import Family
from depthcheck.validation.papers.rank_collapse._common import _detail


def _ratio_depth(cfg, d):
    return int(math.ceil(cfg["ratio_log_target"] / lyap.lyapunov_gap(d)))


def _c6_predict(cfg):
    return {"exponents": {str(d): lyap.lyapunov_exponents_ginibre(d, 1.0, False).tolist()
                          for d in cfg["lyap_dims"]},
            "collapse_rate": {str(d): lyap.collapse_rate(d, 2, False) for d in cfg["ratio_dims"]},
            "formula": "real Ginibre (Newman 1986), unit-variance Gaussian entries"}


def _c6_law(cfg):
    """(weights, scale) that ``simulate`` draws: the configured law, and for the mutation
    "variance_off_by_delta" Gaussian entries of standard deviation e^δ (δ = 2 × band), which
    shifts every Lyapunov exponent by exactly δ (log σ) and leaves the gaps unchanged."""
    scale = float(cfg["weight_scale"])
    if cfg.get("variance_off_by_delta", False):
        scale *= math.exp(2.0 * cfg["band"])
    return cfg["weights"], scale


def _ratio_slopes(X_trials, depth, rng, gamma, batch, every, weights="gaussian", scale=1.0,
                  backend="numpy"):
    """Per-trial mean OLS slope of log(σ2/σ1)(H_l) on l for ``batch`` chains per trial."""
    B, d, n = X_trials.shape
    out = rank_chain(X_trials, depth, rng=rng, gamma=gamma, weights=weights,
                     weight_scale=scale, norm="none", activation="identity",
                     record_every=every, record=("log_sv",), top_k=2, backend=backend)
    y = out["log_sv"][..., 0]
    x = out["layers"].astype(float)
    xc = x - x.mean()
    s = (y - y.mean(axis=1, keepdims=True)) @ xc / (xc @ xc)
    return s.reshape(B // batch, batch).mean(axis=1), y.reshape(B // batch, batch, -1).mean(1)


def _c6_simulate(cfg, rng, n_trials, backend):
    ev = {}
    law, sc = _c6_law(cfg)
    for d in cfg["lyap_dims"]:
        ev[f"mu_d{d}"] = lyapunov_qr(d, cfg["lyap_depth"], trials=n_trials, rng=rng,
                                     weights=law, sigma=sc, burn_in=cfg["lyap_burn_in"],
                                     backend=backend)
    nb = cfg["ratio_batch"]
    for d in cfg["ratio_dims"]:
        X = gaussian_input(d, d, n_trials * nb, rng)
        s, curve = _ratio_slopes(X, _ratio_depth(cfg, d), rng, math.inf, nb, cfg["ratio_every"],
                                 law, sc, backend)
        ev[f"ratio_slope_d{d}"] = s
        ev[f"ratio_curve_d{d}"] = curve
    for c in cfg["residual"]:
        tag = f"d{c['d']}_g{c['gamma']}"
        X = gaussian_input(c["d"], c["d"], n_trials * nb, rng)
        s, curve = _ratio_slopes(X, c["depth"], rng, float(c["gamma"]), nb, cfg["ratio_every"],
                                 law, sc, backend)
        ev[f"res_slope_{tag}"] = s
        ev[f"res_curve_{tag}"] = curve
        mu = lyapunov_qr(c["d"], cfg["residual_qr_depth"], trials=n_trials, rng=rng,
                         gamma=float(c["gamma"]), weights=law, sigma=sc,
                         burn_in=cfg["lyap_burn_in"], backend=backend)
        ev[f"res_qr_gap_{tag}"] = mu[:, 1] - mu[:, 0]
    return ev


def _c6_judge(cfg, pred, ev, alpha):
    n_exp = sum(cfg["lyap_dims"])
    K = n_exp + len(cfg["ratio_dims"]) + len(cfg["residual"])
    a = alpha / K
    band = cfg["band"]
    fam = Family(alpha, K)
    dev = {}
    for d in cfg["lyap_dims"]:
        mu = np.asarray(pred["exponents"][str(d)])
        x = ev[f"mu_d{d}"]
        dev[str(d)] = (x.mean(0) - mu).tolist()
        for k in range(d):
            e = mean_ci(x[:, k] - mu[k], a)
            fam.add_within(f"μ̂_{k + 1} − μ_{k + 1} at d={d} (μ = {_g(mu[k])})",
                           e.estimate, e.ci, -band, band)
    lo, hi = cfg["ratio_band"]
    rates = {}
    for d in cfg["ratio_dims"]:
        rate = pred["collapse_rate"][str(d)]
        e = mean_ci(ev[f"ratio_slope_d{d}"] / rate, a)
        rates[str(d)] = [float(ev[f"ratio_slope_d{d}"].mean()), rate]
        fam.add_within(f"slope of log(σ2/σ1) / (μ2 − μ1) at d={d} (μ2 − μ1 = {_g(rate)})",
                       e.estimate, e.ci, lo, hi)
    res = {}
    for c in cfg["residual"]:
        tag = f"d{c['d']}_g{c['gamma']}"
        e = mean_ci(ev[f"res_slope_{tag}"], a)
        res[tag] = {"slope_log_ratio": e.estimate,
                    "qr_gap_mu2_minus_mu1": float(ev[f"res_qr_gap_{tag}"].mean())}
        fam.add_upper(f"slope of log(σ2/σ1) for I + γW, d={c['d']}, γ={c['gamma']} "
                      f"(collapse)", e.estimate, e.ci, 0.0)
    note = (f"exponent band ±{band}; ratio measured while σ2/σ1 >= ~e^-{cfg['ratio_log_target']:g}"
            f" on average (float64 cannot resolve smaller ratios); residual rates have no closed "
            f"form: reported with the QR estimate of μ2 − μ1 in extra; formula: {pred['formula']}")
    return fam.verdict(_detail(fam, note), prediction=0.0, tiebreak="order",
                       extra={"exponent_deviation": dev,
                              "ratio_rate_measured_vs_pred": rates, "residual": res})
