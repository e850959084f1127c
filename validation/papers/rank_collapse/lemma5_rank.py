"""rank_collapse.lemma5_no_collapse: the BN chain keeps rank >= 2 at every layer — it has no drift
towards rank one (Daneshmand et al. 2020, arXiv:2003.01652, Lemma 5, Appendix D).

Lemma 5: with i.i.d. zero-mean, unit-variance weights of bounded support and a unique invariant
distribution ν, rank(H_l) >= 2 almost surely for every l; its proof (Lemmas 4 and 6 and Birkhoff's
ergodic theorem) shows that ν puts no mass on rank-one states. In exact arithmetic rank H_l = d
for every finite l (W_l is invertible almost surely), so the checkable content is the
stationary one: along one chain H_l/‖H_l‖ does not approach the rank-one set, i.e. the per-layer
drift of log(σ2/σ1)(H_l) after the transient is zero, whereas a vanilla chain (Lemma 3) drifts at
−(μ1 − μ2), the Lyapunov gap of its products (claim ``rank_collapse.vanilla_uniform_collapse``).

Judged per configuration (d, γ): the collapse rate of BN chains in units of the vanilla gap,
ρ = −slope / (μ̂1 − μ̂2), lies in [−δ/2, δ/2]. Reported: the stationary mean of log(σ2/σ1), its
minimum over every recorded layer and chain, and the smallest numerical rank seen (>= 2 is
Lemma 5 read literally).

The mutation ``bn_eps`` runs Bn with a stabiliser ε inside the square root,
A/√(diag(A Aᵀ)/n + ε), through :func:`_eps_chain_log_ratio` (the kernel's Bn has no ε).
"""
from __future__ import annotations

import math

import numpy as np

from depthcheck.kernels.chain.rank import gaussian_input, lyapunov_qr, rank_chain, sample_weights
from depthcheck.validation.claims.stats import Family, mean_ci, ratio_ci
from depthcheck.validation.papers.rank_collapse._common import _detail, _gamma, _gname

#: log(σ2/σ1) is floored here: below float64's relative resolution σ2 is rounding noise
LOG_FLOOR = math.log(np.finfo(float).eps)
#: judged floor of the stationary mean of log(σ2/σ1): σ2/σ1 above 1e-8 (half of float64's digits,
#: the usual rank tolerance for computed data) means numerically rank >= 2
LOG_RANK2 = math.log(1e-8)


def _tag(c) -> str:
    g = _gamma(c["gamma"])
    return f"d{c['d']}_g{'inf' if g == math.inf else f'{g:g}'}"


def _l5_configs(cfg):
    """The configurations with the global ``depth`` / ``burn_in`` as defaults."""
    out = []
    for c in cfg["configs"]:
        depth, burn = int(c.get("depth", cfg["depth"])), int(c.get("burn_in", cfg["burn_in"]))
        if not 0 <= burn < depth - 2:
            raise ValueError(f"burn_in must lie in [0, depth − 2) for configuration {c}, got "
                             f"burn_in={burn}, depth={depth}")
        out.append({**c, "depth": depth, "burn_in": burn})
    return out


def _ols_slopes(y):
    """Per-row OLS slope of y[..., l] on l (unit spacing)."""
    x = np.arange(y.shape[-1], dtype=float)
    xc = x - x.mean()
    return (y - y.mean(axis=-1, keepdims=True)) @ xc / (xc @ xc)


def _eps_chain_log_ratio(X, depth, burn_in, rng, gamma, eps, law="uniform"):
    """log(σ2/σ1)(H_l), l = burn_in + 1 .. depth, of the chain H_l = A_l/√(diag(A_l A_lᵀ)/n + ε)
    with A_l = H_{l−1} + γ W_l H_{l−1} (γ = inf: W_l H_{l−1}); ε = 0 is the BN chain (1).

    Draws W_l as ``rank_chain`` does (one (B, d, d) block per layer from ``sample_weights``).
    Returns shape (B, depth − burn_in). Raises ValueError for ε < 0 or a non-finite state.
    """
    eps = float(eps)
    if not (math.isfinite(eps) and eps >= 0.0):
        raise ValueError(f"eps must be finite and >= 0, got {eps!r}")
    H = np.array(X, dtype=float)
    B, d, n = H.shape
    ys = []
    for l in range(1, depth + 1):
        A = sample_weights(rng, (B,), d, law) @ H
        if math.isfinite(gamma):
            A = H + gamma * A
        H = A / np.sqrt(np.einsum("bij,bij->bi", A, A)[..., None] / n + eps)
        if not np.all(np.isfinite(H)):
            raise ValueError(f"eps chain: non-finite state at layer {l}")
        if l > burn_in:
            s = np.linalg.svd(H, compute_uv=False)
            with np.errstate(divide="ignore"):
                ys.append(np.log(s[:, 1]) - np.log(s[:, 0]))
    return np.maximum(np.stack(ys, axis=1), LOG_FLOOR)


def _l5_predict(cfg):
    return {"collapse_rate_over_gap": 0.0, "band": [-cfg["delta"] / 2, cfg["delta"] / 2],
            "min_numerical_rank_at_least": 2, "log_ratio_floor": LOG_RANK2}


def _l5_simulate(cfg, rng, n_trials, backend):
    """Per configuration: ``gap_<tag>`` (QR μ̂1 − μ̂2 of the vanilla products, per trial),
    ``slope_<tag>`` (per-trial mean over ``batch`` chains of the OLS slope of log(σ2/σ1)(H_l) on
    l > burn_in), ``level_<tag>`` (its mean), ``minlog_<tag>`` (its minimum) and
    ``minrank_<tag>`` (the smallest numerical rank of H_l, l > burn_in) per trial, and
    ``curve_<tag>`` (the per-trial mean curve, for the figure).

    Overrides: ``norm`` / ``weights`` (the control), ``bn_eps`` > 0 (mutation: Bn with a
    stabiliser ε, run by :func:`_eps_chain_log_ratio`; no numerical rank is then recorded and
    ``minrank`` is d)."""
    law, nb = cfg["weights"], cfg["batch"]
    eps = float(cfg.get("bn_eps", 0.0))
    ev = {}
    for c in _l5_configs(cfg):
        tag, d, g = _tag(c), c["d"], _gamma(c["gamma"])
        mu = lyapunov_qr(d, cfg["qr_depth"], trials=n_trials, rng=rng, gamma=g,
                         weights="uniform", burn_in=cfg["qr_burn_in"])
        X = gaussian_input(d, d, n_trials * nb, rng)
        if eps > 0.0:
            y = _eps_chain_log_ratio(X, c["depth"], c["burn_in"], rng, g, eps, law)
            rank = np.full(y.shape, d)
        else:
            out = rank_chain(X, c["depth"], rng=rng, gamma=g, weights=law, norm=cfg["norm"],
                             activation="identity", burn_in=c["burn_in"], record_every=1,
                             record=("log_sv", "rank"), top_k=2)
            y = np.maximum(out["log_sv"][..., 0], LOG_FLOOR)
            rank = out["rank"]
        y = y.reshape(n_trials, nb, -1)
        ev[f"gap_{tag}"] = mu[:, 0] - mu[:, 1]
        ev[f"slope_{tag}"] = _ols_slopes(y).mean(axis=1)
        ev[f"level_{tag}"] = y.mean(axis=(1, 2))
        ev[f"minlog_{tag}"] = y.min(axis=(1, 2))
        ev[f"minrank_{tag}"] = rank.reshape(n_trials, -1).min(axis=1).astype(float)
        ev[f"curve_{tag}"] = y.mean(axis=1)
    return ev


def _l5_drift(cfg, ev):
    """Mutation transform (false theory 'Bn only slows the collapse'): every chain drifts
    towards rank one at δ times the vanilla rate, slope − δ (μ̂1 − μ̂2)."""
    out = dict(ev)
    for c in cfg["configs"]:
        t = _tag(c)
        out[f"slope_{t}"] = ev[f"slope_{t}"] - cfg["delta"] * ev[f"gap_{t}"]
    return out


def _l5_judge(cfg, pred, ev, alpha):
    confs = _l5_configs(cfg)
    fam = Family(alpha, 2 * len(confs))
    lo, hi = pred["band"]
    table = {}
    for c in confs:
        tag = _tag(c)
        gap = ev[f"gap_{tag}"]
        r = ratio_ci(-ev[f"slope_{tag}"], gap, fam.level)
        fam.add_within(f"collapse rate of the chain / vanilla gap, −slope(log σ2/σ1)/(μ̂1 − μ̂2), "
                       f"at d={c['d']}, γ={_gname(c['gamma'])}", r.estimate, r.ci, lo, hi)
        lev = mean_ci(ev[f"level_{tag}"], fam.level)
        fam.add_lower(f"stationary mean log(σ2/σ1) at d={c['d']}, γ={_gname(c['gamma'])} "
                      f"(numerically rank >= 2: above log 1e-8)", lev.estimate, lev.ci,
                      pred["log_ratio_floor"])
        table[tag] = {
            "rate_over_gap": r.estimate, "qr_gap": float(gap.mean()),
            "slope_per_layer": float(ev[f"slope_{tag}"].mean()),
            "stationary_mean_log_ratio": lev.estimate,
            "min_log_ratio": float(ev[f"minlog_{tag}"].min()),
            "min_numerical_rank": int(ev[f"minrank_{tag}"].min()),
            "layers": [c["burn_in"] + 1, c["depth"]]}
    mr = min(v["min_numerical_rank"] for v in table.values())
    note = (f"Lemma 5 read literally (numerical rank of every recorded H_l >= 2): "
            f"{'holds' if mr >= 2 else 'VIOLATED'}, smallest rank seen {mr}")
    return fam.verdict(_detail(fam, note), prediction=0.0, tiebreak="order",
                       extra={"per_config": table})
