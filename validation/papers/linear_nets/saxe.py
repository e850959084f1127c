"""linear_nets.saxe_dynamics: Saxe et al.'s closed-form mode dynamics for N_l = 2, 3, 5, 10."""
from __future__ import annotations

import math

import numpy as np

from depthcheck.kernels.nn.network import forward_backward
from depthcheck.kernels.nn.training import train
from depthcheck.kernels.random.haar import sample_orthogonal
from depthcheck.theory import linear_nets as ln
from depthcheck.validation.claims.claim import Verdict
from depthcheck.validation.claims.stats import judge_within, slope_ci
from depthcheck.validation.papers.linear_nets._common import _fmt, _frames, decoupled_init


def _saxe_simulate(cfg, rng, n_trials, backend):
    B, d, depths = n_trials, cfg["width"], cfg["depths"]
    T, hs, frac = cfg["T"], cfg["hs"], cfg["u0_frac"]
    s = np.sort(rng.uniform(*cfg["s_range"], size=(B, d)), axis=-1)[:, ::-1]
    u0 = frac * s
    grid = np.linspace(0.0, T, cfg["n_grid"])
    err = np.zeros((B, len(depths), len(hs)))
    t_gd = np.zeros((B, len(depths)))
    t_th = np.zeros((B, len(depths)))
    traj = np.zeros((B, len(depths), len(grid), d))
    traj_th = np.zeros((B, len(depths), len(grid), d))
    for i, N_l in enumerate(depths):
        N = N_l - 1
        widths = [d] * (N + 1)
        frames = _frames(rng, B, widths)
        a0 = np.repeat((u0 ** (1.0 / N))[:, None, :], N, axis=1)
        if cfg["init"] == "unbalanced" and N > 1:
            # z clipped to ±2, then centred so Π a_l = u0: the sharpness near convergence,
            # u²Σ_l a_l^{−2}, is at most ≈ 1.95× the balanced N u^{2−2/N} (σ = 0.3), so h·λ < 2
            # for h ≤ 0.02, s ≤ 2, N ≤ 9 and GD cannot diverge
            z = np.clip(rng.standard_normal((B, N, d)), -2.0, 2.0)
            z -= z.mean(axis=1, keepdims=True)
            a0 = a0 * np.exp(cfg["unbalance"] * z)
        W0 = decoupled_init(frames, a0)
        U, V = frames[-1], frames[0]
        Syx = (U * s[:, None, :]) @ np.swapaxes(V, -1, -2)
        Q = sample_orthogonal((B,), d, rng)
        X = math.sqrt(d) * Q  # whitened: XXᵀ/n = I with n = d samples
        Y = Syx @ X

        def f(P, idx, X=X, Y=Y):
            return forward_backward(X, P, Y, norm="none", activation="identity", loss="mse")

        def modes(P, loss, grads, U=U, V=V):
            M = P[0]
            for W in P[1:]:
                M = W @ M
            return np.diagonal(np.swapaxes(U, -1, -2) @ M @ V, axis1=-2, axis2=-1)
        for j, h in enumerate(hs):
            K = int(round(T / h))
            eta = h * d / 2.0  # engine mse: gradient (2/d_out)(W_e − Σ_yx), so h = 2η/d_out
            res = train(W0, f, steps=K, lr=eta, record={"u": modes}, record_every=1)
            u = res.history["u"]  # (K+1, B, d)
            th = ln.saxe_trajectory(np.arange(K + 1) * h, s, u0, N_l)  # (B, d, K+1)
            err[:, i, j] = (np.abs(u - np.moveaxis(th, -1, 0)) / s).max(axis=(0, 2))
            if j == len(hs) - 1:
                # time for the slowest mode to reach 90 % of s (linear interpolation)
                us, ss = u[:, :, -1], s[:, -1]
                for b in range(B):
                    k = int(np.argmax(us[:, b] >= 0.9 * ss[b]))
                    if us[k, b] < 0.9 * ss[b]:
                        raise ValueError(f"mode did not reach 0.9 s within T={T} (N_l={N_l}); "
                                         f"increase T")
                    frac_k = (0.9 * ss[b] - us[k - 1, b]) / (us[k, b] - us[k - 1, b])
                    t_gd[b, i] = (k - 1 + frac_k) * h
                    t_th[b, i] = ln.saxe_time_to_learn(u0[b, -1], 0.9 * ss[b], ss[b], N_l)
                idx = np.round(grid / h).astype(int)
                traj[:, i] = np.moveaxis(u[idx] / s, 0, 1)
                traj_th[:, i] = np.moveaxis(th[..., idx] / s[..., None], -1, 1)
    return {"err": err, "t_learn_gd": t_gd, "t_learn_theory": t_th, "s": s,
            "traj": traj, "traj_theory": traj_th,
            "grid": np.broadcast_to(grid, (B, len(grid))).copy()}


def _saxe_judge(cfg, pred, ev, alpha):
    x = np.log(np.asarray(cfg["hs"]))
    lo, hi = cfg["band"]
    verdicts, fits = [], []
    for i, N_l in enumerate(cfg["depths"]):
        fit = slope_ci(x, np.log(ev["err"][:, i, :]), alpha)
        fits.append(fit)
        verdicts.append(judge_within(fit.slope, None, lo, hi, alpha=alpha).verdict)
    worst = int(np.argmax([abs(f.slope.estimate - 1.0) for f in fits]))
    if "FAIL" in verdicts:
        verdict = "FAIL"
        worst = verdicts.index("FAIL") if verdicts[worst] != "FAIL" else worst
    elif all(v == "PASS" for v in verdicts):
        verdict = "PASS"
    else:
        verdict = "INCONCLUSIVE"
    f = fits[worst]
    rel_t = np.abs(ev["t_learn_gd"] - ev["t_learn_theory"]) / ev["t_learn_theory"]
    per_depth = {str(N_l): {"slope": fits[i].slope.estimate, "ci": list(fits[i].slope.ci),
                            "verdict": verdicts[i],
                            "max_err_smallest_h": float(ev["err"][:, i, -1].max()),
                            "t_learn_gd_mean": float(ev["t_learn_gd"][:, i].mean()),
                            "t_learn_theory_mean": float(ev["t_learn_theory"][:, i].mean()),
                            "t_learn_rel_err_max": float(rel_t[:, i].max())}
                 for i, N_l in enumerate(cfg["depths"])}
    detail = (f"error exponent of max_t |u_GD − u_theory|/s vs h per depth N_l "
              + ", ".join(f"{N_l}: {_fmt(fits[i].slope.estimate)} ({verdicts[i]})"
                          for i, N_l in enumerate(cfg["depths"]))
              + f" (band [{lo}, {hi}]); worst-case error at h = {cfg['hs'][-1]}: "
              f"{_fmt(ev['err'][:, :, -1].max())}·s; time to learn 0.9 s (slowest mode) GD vs "
              f"theory: " + ", ".join(f"{N_l}: {_fmt(ev['t_learn_gd'][:, i].mean())} vs "
                                      f"{_fmt(ev['t_learn_theory'][:, i].mean())}"
                                      for i, N_l in enumerate(cfg["depths"]))
              + f" τ; init={cfg['init']}")
    return Verdict(verdict, f.slope.estimate, f.slope.ci, 1.0, alpha, detail,
                   {"band": [lo, hi], "worst_depth": cfg["depths"][worst], "per_depth": per_depth})
