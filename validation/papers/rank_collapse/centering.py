"""rank_collapse.centering_redundant: E_ν[M_ij] = 0 off the diagonal, centring is redundant (Lemma
4)."""
from __future__ import annotations

import numpy as np

from depthcheck.kernels.chain.rank import gaussian_input, rank_chain
from depthcheck.validation.claims.stats import mean_ci, ratio_ci
from depthcheck.validation.papers.rank_collapse._common import _gamma
from depthcheck.validation.claims.stats import Family
from depthcheck.validation.papers.rank_collapse._common import _detail


def _positive_input(d, n, trials, rng):
    """An input far from the invariant law's sign symmetry: all entries >= 1, so M_ij ≈ 0.8."""
    return np.abs(gaussian_input(d, n, trials, rng)) + 1.0


def _c5_simulate(cfg, rng, n_trials, backend):
    ev = {}
    # evidence keys: "raw" = Daneshmand et al.'s Bn (no mean subtraction), "centred" = BN
    for key, norm in (("raw", "bn_nomean"), ("centred", "bn")):
        od, r = [], []
        for d in cfg["widths"]:
            X = _positive_input(d, d, n_trials, rng)
            out = rank_chain(X, cfg["depth"], rng=rng, gamma=_gamma(cfg["gamma"]),
                             weights=cfg["weights"],
                             weight_mean=float(cfg.get("weight_mean", 0.0)),
                             norm=norm, activation="identity",
                             record_every=cfg["record_every"],
                             record=("rank_lower_bound", "offdiag"), backend=backend)
            keep = out["layers"] > cfg["burn_in"]
            od.append(out["offdiag"][:, keep].mean(1))
            r.append(out["rank_lower_bound"][:, keep].mean(1))
            ev[f"offdiag_traj_{key}_d{d}"] = out["offdiag"]
        ev[f"offdiag_{key}"] = np.stack(od, 1)
        ev[f"r_{key}"] = np.stack(r, 1)
    return ev


def _c5_predict(cfg):
    return {"offdiag_mean": 0.0, "r_ratio_centred_over_raw": 1.0}


def _c5_judge(cfg, pred, ev, alpha):
    K = 2 * len(cfg["widths"])
    a = alpha / K
    band = cfg["offdiag_band"]
    lo, hi = cfg["ratio_band"]
    fam = Family(alpha, K)
    for j, d in enumerate(cfg["widths"]):
        e = mean_ci(ev["offdiag_raw"][:, j], a)
        fam.add_within(f"E_ν mean_{{i≠j}} M_ij (no centring, positive input) at d={d}",
                       e.estimate, e.ci, -band, band)
    for j, d in enumerate(cfg["widths"]):
        e = ratio_ci(ev["r_centred"][:, j], ev["r_raw"][:, j], a)
        fam.add_within(f"E r(centred BN) / E r(BN) at d={d}", e.estimate, e.ci, lo, hi)
    extra = {"widths": cfg["widths"], "offdiag_raw": ev["offdiag_raw"].mean(0).tolist(),
             "offdiag_centred": ev["offdiag_centred"].mean(0).tolist(),
             "r_raw": ev["r_raw"].mean(0).tolist(), "r_centred": ev["r_centred"].mean(0).tolist()}
    note = ("start: every input entry >= 1 (mean off-diagonal correlation ≈ 0.8), so a mean of "
            "zero after the burn-in means the chain forgot its asymmetric start (Lemma 4 needs "
            "a unique invariant law)")
    return fam.verdict(_detail(fam, note), prediction=0.0, tiebreak="order",
                       extra=extra)
