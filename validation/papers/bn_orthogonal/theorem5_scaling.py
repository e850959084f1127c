"""bn_orthogonal.theorem5_phi0_scaling (finding): how E log||∇_{W_1}L|| depends on the input gap
φ0 at fixed width, against Theorem 5's bound C·d⁵(φ0³ + 1) (Meterez et al. 2024,
arXiv:2310.02012)."""
from __future__ import annotations

import math

import numpy as np

from depthcheck.kernels import simulate_chain
from depthcheck.validation.claims.stats import Family, mean_ci, ratio_ci
from depthcheck.validation.papers.bn_orthogonal._common import _chain_backend, _g, _input_rng


def phi0_input(d: int, phi0: float, rng: np.random.Generator) -> np.ndarray:
    """A d × d input with isometry gap exactly ``phi0`` and ``||X||_F = √d``: ``U diag(√λ) Vᵀ``
    with Haar U, V and eigenvalues ``λ_k ∝ exp(t z_k)``, z evenly spaced on [−1, 1], t solved by
    bisection (φ increases with t). ``phi0 = 0`` gives an orthogonal matrix."""
    z = np.linspace(-1.0, 1.0, d)

    def gap(t):
        lam = np.exp(t * z)
        return math.log(lam.mean()) - float(np.mean(np.log(lam)))

    lo, hi = 0.0, 1.0
    while gap(hi) < phi0:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if gap(mid) < phi0 else (lo, mid)
    lam = np.exp(hi * z) if phi0 > 0 else np.ones(d)
    lam *= d / lam.sum()
    U = np.linalg.qr(rng.standard_normal((d, d)))[0]
    V = np.linalg.qr(rng.standard_normal((d, d)))[0]
    return (U * np.sqrt(lam)) @ V.T


def _t5_simulate(cfg, rng, n_trials, backend):
    """For each width: log||∇_{W_l}L||_F at l = 1 and l = depth for every φ0 of the grid, on
    common random numbers (the same weights and labels for every φ0 of a trial)."""
    out = {}
    for d in cfg["widths"]:
        depth = cfg["depth_over_d"] * d
        seed = int(rng.integers(2**62))
        labels = np.arange(d) % cfg["n_out"]
        cols = []
        for j, phi0 in enumerate(cfg["phi0"]):
            X = phi0_input(d, phi0, _input_rng(cfg, d, j))
            o = simulate_chain(X, depth, trials=n_trials, rng=np.random.default_rng(seed),
                               weights="haar", norm="rownorm", gradients=True,
                               record_every=depth, record=("isometry_gap",), labels=labels,
                               n_out=cfg["n_out"], backend=_chain_backend(backend))
            col = 0 if cfg["layer"] == "first" else -1
            cols.append(o["log_grad_norm"][:, col])
        out[f"log_grad_{d}"] = np.stack(cols, axis=1)
    return out


def _t5_judge(cfg, pred, ev, alpha):
    grid = list(cfg["phi0"])
    lo_i, hi_i = grid.index(cfg["phi_lo"]), grid.index(cfg["phi_hi"])
    half = cfg["delta"] / 2.0
    k = len(cfg["widths"]) * (len(grid) + 2)
    fam = Family(alpha, k)
    summary = {}
    for d in cfg["widths"]:
        G = ev[f"log_grad_{d}"]
        c_min = 0.0
        means = []
        # Theorem 5: E log||∇|| <= C d⁵(φ0³ + 1) with C = cfg["C"]
        for j, phi0 in enumerate(grid):
            e = mean_ci(G[:, j], fam.level)
            means.append(e.estimate)
            bound = cfg["C"] * d**5 * (phi0**3 + 1.0)
            fam.add_upper(f"d = {d}, φ0 = {phi0:g}: E log||∇W_1|| <= C d⁵(φ0³+1)", e.estimate,
                          e.ci, bound)
            c_min = max(c_min, max(e.estimate, 0.0) / (d**5 * (phi0**3 + 1.0)))
        # the finding: the increase over the orthogonal input grows linearly in φ0
        D_lo = G[:, lo_i] - G[:, 0]
        D_hi = G[:, hi_i] - G[:, 0]
        slope = mean_ci(D_hi / cfg["phi_hi"], fam.level)
        fam.add_lower(f"d = {d}: growth per unit φ0, [E log||∇||(φ0={cfg['phi_hi']:g}) − "
                      f"E log||∇||(0)]/φ0 >= {cfg['min_slope']:g}", slope.estimate, slope.ci,
                      cfg["min_slope"])
        r = ratio_ci(D_hi, D_lo, fam.level)
        lr = math.log(cfg["phi_hi"] / cfg["phi_lo"])
        to_p = (lambda x: math.log(x) / lr if x > 0 else -math.inf)
        p_ci = (to_p(r.ci[0]) if math.isfinite(r.ci[0]) else -math.inf,
                to_p(r.ci[1]) if math.isfinite(r.ci[1]) else math.inf)
        p_est = to_p(r.estimate)
        p_ci = (max(p_ci[0], -1.7e308), min(p_ci[1], 1.7e308))
        fam.add_within(f"d = {d}: exponent p of the increase ∝ φ0^p over φ0 ∈ "
                       f"[{cfg['phi_lo']:g}, {cfg['phi_hi']:g}]", max(p_est, -1.7e308), p_ci,
                       1.0 - half, 1.0 + half)
        summary[str(d)] = {"mean_log_grad": dict(zip([str(p) for p in grid], means)),
                           "slope_per_phi0": slope.estimate, "exponent_p": p_est,
                           "smallest_C": c_min}
    what = (f"Theorem 5 (E log||∇_{{W_l}}L|| <= C d⁵(φ0³ + 1)) at l = "
            f"{'1' if cfg['layer'] == 'first' else 'L'} with C = {cfg['C']:g}, and the finding "
            f"that the increase of E log||∇|| over the orthogonal input grows linearly in φ0 "
            f"(exponent within 1 ± {half:g}, slope >= {cfg['min_slope']:g}), not like φ0³; "
            f"Haar chains of depth {cfg['depth_over_d']}·d with the paper's Bn, widths "
            f"{cfg['widths']}, inputs with φ0 ∈ {grid}, common random numbers across φ0")
    return fam.verdict(fam.summary(what, fmt=_g), prediction=1.0, extra={"widths": summary})


def t5_steeper_by_delta(cfg, ev):
    """Mutation transform: the truth grows like φ0^(p+δ): each trial's increase over the
    orthogonal input multiplied by (φ0/φ_lo)^δ (exactly calibrated, the claim's own numbers)."""
    out = dict(ev)
    grid = np.asarray(cfg["phi0"], dtype=float)
    fac = np.where(grid > 0, (np.maximum(grid, 1e-300) / cfg["phi_lo"]) ** cfg["delta"], 1.0)
    for d in cfg["widths"]:
        G = ev[f"log_grad_{d}"]
        out[f"log_grad_{d}"] = G[:, :1] + (G - G[:, :1]) * fac
    return out
