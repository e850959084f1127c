"""rank_collapse.vanilla_uniform_collapse: vanilla linear chains with U[−√3, √3] weights collapse to
rank one at the rate of their Lyapunov gap (Daneshmand et al. 2020, arXiv:2003.01652, Lemma 3(b)).

Two independent measurements per configuration (d, γ): the QR (Benettin) estimate of the gap
μ1 − μ2 of the products (I + γW_L)⋯(I + γW_1) (W_L⋯W_1 for γ = ∞), and the per-layer slope of
log(σ2/σ1) of vanilla chains H_l = (I + γW_l)H_{l−1} started from Gaussian inputs. Lemma 3(b)
says every limit point of H_l/‖H_l‖ is rank one; quantified, σ2/σ1 decays like
exp(−l(μ1 − μ2)) with μ1 − μ2 > 0. No closed form of the uniform spectrum is used: Newman's
Gaussian formula does not apply to uniform entries at small d (reported in ``extra``).
"""
from __future__ import annotations

import math

import numpy as np

from depthcheck.kernels.chain.rank import gaussian_input, lyapunov_qr, rank_chain
from depthcheck.theory import lyapunov as lyap
from depthcheck.validation.claims.stats import Family, mean_ci, ratio_ci
from depthcheck.validation.papers.rank_collapse._common import _detail, _g, _gamma, _gname


def _tag(c) -> str:
    g = _gamma(c["gamma"])
    return f"d{c['d']}_g{'inf' if g == math.inf else f'{g:g}'}"


def _u3_predict(cfg):
    return {"rate_over_gap": 1.0, "gap_lower_bound": 0.0,
            "gaussian_gap": {_tag(c): lyap.lyapunov_gap(c["d"]) for c in cfg["configs"]
                             if _gamma(c["gamma"]) == math.inf}}


def _chain_slopes(X, depth, burn_in, rng, gamma, law, scale, norm, batch):
    """Per-trial mean OLS slope of log(σ2/σ1)(H_l) on l (l > burn_in) over ``batch`` chains."""
    out = rank_chain(X, depth, rng=rng, gamma=gamma, weights=law, weight_scale=scale,
                     norm=norm, activation="identity", burn_in=burn_in, record_every=1,
                     record=("log_sv",), top_k=2)
    y = out["log_sv"][..., 0]
    if not np.all(np.isfinite(y)):
        raise ValueError("log(σ2/σ1) reached -inf: the configured depth runs past float64 "
                         "resolution; lower 'depth' of this configuration")
    x = out["layers"].astype(float)
    xc = x - x.mean()
    s = (y - y.mean(axis=1, keepdims=True)) @ xc / (xc @ xc)
    B = X.shape[0]
    return s.reshape(B // batch, batch).mean(axis=1), y.reshape(B // batch, batch, -1).mean(1), \
        float(y.min())


def _u3_simulate(cfg, rng, n_trials, backend):
    """Evidence per configuration: ``gap_<tag>`` (QR μ̂1 − μ̂2 per trial), ``slope_<tag>``
    (per-trial mean slope of log(σ2/σ1) over ``batch`` chains), ``curve_<tag>`` (mean curve) and
    ``floor_<tag>`` (smallest log ratio seen, to show float64 was not exhausted).

    Overrides used by the control and the mutation: ``norm`` ("none": the vanilla chain (6);
    "bn_nomean": the BN chain (1)) and ``chain_weight_scale`` (the chain's sampler only)."""
    ev = {}
    law = cfg["weights"]
    nb = cfg["batch"]
    for c in cfg["configs"]:
        tag, d, g = _tag(c), c["d"], _gamma(c["gamma"])
        mu = lyapunov_qr(d, cfg["qr_depth"], trials=n_trials, rng=rng, gamma=g, weights=law,
                         burn_in=cfg["qr_burn_in"])
        ev[f"gap_{tag}"] = mu[:, 0] - mu[:, 1]
        ev[f"mu_{tag}"] = mu
        X = gaussian_input(d, d, n_trials * nb, rng)
        burn = int(cfg["burn_frac"] * c["depth"])
        s, curve, floor = _chain_slopes(X, c["depth"], burn, rng, g, law,
                                        cfg.get("chain_weight_scale", 1.0), cfg["norm"], nb)
        ev[f"slope_{tag}"] = s
        ev[f"curve_{tag}"] = curve
        ev[f"floor_{tag}"] = np.full(n_trials, floor)
    return ev


def _u3_rate_off(cfg, ev):
    """Mutation transform: every chain collapses δ faster than its Lyapunov gap (a false theory
    'the rate is (1 + δ)(μ1 − μ2)'), i.e. slopes × (1 + δ)."""
    out = dict(ev)
    for c in cfg["configs"]:
        out[f"slope_{_tag(c)}"] = ev[f"slope_{_tag(c)}"] * (1.0 + cfg["delta"])
    return out


def _u3_judge(cfg, pred, ev, alpha):
    n = len(cfg["configs"])
    fam = Family(alpha, 2 * n)
    a = fam.level
    half = cfg["delta"] / 2.0
    table = {}
    for c in cfg["configs"]:
        tag = _tag(c)
        gap = ev[f"gap_{tag}"]
        e = mean_ci(gap, a)
        fam.add_lower(f"QR gap μ̂1 − μ̂2 at d={c['d']}, γ={_gname(c['gamma'])} (> 0: collapse)",
                      e.estimate, e.ci, pred["gap_lower_bound"])
        r = ratio_ci(-ev[f"slope_{tag}"], gap, a)
        fam.add_within(f"−slope of log(σ2/σ1) / (μ̂1 − μ̂2) at d={c['d']}, "
                       f"γ={_gname(c['gamma'])}", r.estimate, r.ci, 1.0 - half, 1.0 + half)
        row = {"qr_gap": e.estimate, "collapse_rate": float(-ev[f"slope_{tag}"].mean()),
               "rate_over_gap": r.estimate, "min_log_ratio": float(ev[f"floor_{tag}"].min()),
               "mu_hat": ev[f"mu_{tag}"].mean(0).tolist()}
        if tag in pred["gaussian_gap"]:
            row["newman_gaussian_gap"] = pred["gaussian_gap"][tag]
        table[tag] = row
    note = ("uniform U[−√3, √3] weights; the gap is measured, not predicted (no closed form for "
            "uniform entries; Newman's Gaussian gap is listed for comparison in extra)")
    return fam.verdict(_detail(fam, note), prediction=1.0, tiebreak="order",
                       extra={"per_config": table})
