"""linear_nets.glorot_gap (a finding): under Glorot initialisation the expected squared-norm gap
E||W_{l+1}||_F² − E||W_l||_F² = tr C_l is not zero when d_{l+1} ≠ d_{l−1} (Basu et al. 2019,
arXiv:1904.10689, Corollary 2.3 says C ≈ 0); the exact moments are
:func:`depthcheck.theory.convergence_time.glorot_gap_moments`.

Each trial draws ``inits`` independent initialisations per distribution (normal, uniform) and
returns the mean gaps; the judge compares them, relative to the exact mean gap, with 0.
"""
from __future__ import annotations

import math

import numpy as np

from depthcheck.theory import convergence_time as ct
from depthcheck.validation.claims.stats import Family, mean_ci
from depthcheck.validation.papers.linear_nets._common import _fmt

DISTS = ("normal", "uniform")


def glorot_sample(rng, n, fan_in, fan_out, dist, gain=1.0):
    """n Glorot matrices (n, fan_out, fan_in): normal N(0, σ²) or uniform on [−a, a], a² = 3σ²,
    σ² = gain²·2/(fan_in + fan_out) (Glorot & Bengio 2010)."""
    sd = gain * math.sqrt(2.0 / (fan_in + fan_out))
    if dist == "normal":
        return sd * rng.standard_normal((n, fan_out, fan_in))
    a = math.sqrt(3.0) * sd
    return rng.uniform(-a, a, size=(n, fan_out, fan_in))


def _gap_simulate(cfg, rng, n_trials, backend):
    w, M = cfg["widths"], cfg["inits"]
    out = {}
    for dist in DISTS:
        g = np.empty((n_trials, len(w) - 2))
        for b in range(n_trials):
            sq = np.stack([np.sum(glorot_sample(rng, M, w[i], w[i + 1], dist, cfg["gain"]) ** 2,
                                  axis=(-2, -1)) for i in range(len(w) - 1)], -1)
            g[b] = np.diff(sq, axis=-1).mean(0)
        out[f"gap_{dist}"] = g
    return out


def _gap_judge(cfg, pred, ev, alpha):
    w = cfg["widths"]
    k = len(DISTS) * (len(w) - 2)
    fam = Family(alpha, k)
    lo, hi = -cfg["delta"] / 2, cfg["delta"] / 2
    rel = {}
    for dist in DISTS:
        m, v = ct.glorot_gap_moments(w, dist)
        if np.any(m == 0):
            raise ValueError("widths must give non-zero expected gaps (d_{l+1} != d_{l-1})")
        r = ev[f"gap_{dist}"] / m - 1.0
        rel[dist] = r.mean(0).tolist()
        for l in range(len(w) - 2):
            est = mean_ci(r[:, l], fam.level)
            fam.add_within(f"{dist} l={l + 1}", est.estimate, est.ci, lo, hi)
    mn, _ = ct.glorot_gap_moments(w, "normal")
    sq = np.array([ct.glorot_sq_norm_moments(w[i], w[i + 1])[0] for i in range(len(w) - 1)])
    sdn = np.sqrt(ct.glorot_gap_moments(w, "normal")[1])
    sdu = np.sqrt(ct.glorot_gap_moments(w, "uniform")[1])
    detail = fam.summary("relative error of the mean gap ||W_(l+1)||² − ||W_l||² against the "
                         f"exact E tr C_l, widths {w}", fmt=_fmt)
    detail += (f" Finding vs Cor. 2.3 (C ≈ 0): E tr C_l = {[_fmt(x) for x in mn]}, i.e. "
               f"{[_fmt(x) for x in mn / sq[1:]]} of E||W_(l+1)||², zero only when "
               f"d_(l+1) = d_(l-1); one initialisation's gap fluctuates by sd "
               f"{[_fmt(x) for x in sdn]} (normal) / {[_fmt(x) for x in sdu]} (uniform), "
               f"O(1) whatever the widths, so tr C_l ≈ 0 holds only relative to the norms of "
               f"wide layers with d_(l+1) = d_(l-1). gain={cfg['gain']}")
    return fam.verdict(detail, extra={"rel_err": rel, "gap_mean_exact": mn.tolist()})
