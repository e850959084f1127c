"""linear_nets.balance_invariant: GD drift of the layer balance at fixed training time is O(η)."""
from __future__ import annotations

import numpy as np

from depthcheck.kernels.nn.training import balance_matrices, frobenius_norms, train
from depthcheck.validation.claims.claim import Verdict
from depthcheck.validation.claims.stats import judge_within, slope_ci
from depthcheck.validation.papers.linear_nets._common import _fmt, glorot_init, layer_lr_scale, linear_net_loss, mixture_problem


def _balance_simulate(cfg, rng, n_trials, backend):
    widths = cfg["widths"]
    X, Y = mixture_problem(rng, n_trials, per_cluster=cfg["per_cluster"], d_in=widths[0],
                           d_out=widths[-1])
    f = linear_net_loss(X, Y)
    W0 = glorot_init(rng, n_trials, widths)
    scale = layer_lr_scale(cfg["layer_lr"], len(W0))
    # weight_decay λ > 0 (a mutation: an optimiser default left on): dD_l/dt = −2λD_l under the
    # flow, so the balance decays by the relative amount 1 − e^{−2λT}, independently of η
    wd = cfg["weight_decay"]
    drift, rel, loss_T = [], [], []
    for eta in cfg["etas"]:
        K = int(round(cfg["T"] / eta))
        res = train(W0, f, steps=K, lr=eta, lr_scale=scale, weight_decay=wd, record_every=K,
                    record={"D": balance_matrices, "F": frobenius_norms})
        D, F = res.history["D"], res.history["F"]
        d = np.linalg.norm(D[-1] - D[0], axis=(-2, -1)).sum(axis=-1)  # Σ_l ||ΔD_l||_F
        drift.append(d)
        rel.append(d / np.linalg.norm(D[0], axis=(-2, -1)).sum(axis=-1))  # relative to Σ||C_l||
        loss_T.append(res.history["loss"][-1])
    return {"drift": np.stack(drift, -1), "rel_drift": np.stack(rel, -1),
            "loss_T": np.stack(loss_T, -1),
            "loss_0": f(W0, None)[0]}


def _balance_judge(cfg, pred, ev, alpha):
    x = np.log(np.asarray(cfg["etas"]))
    fit = slope_ci(x, np.log(ev["drift"]), alpha)
    rel = ev["rel_drift"][:, -1]
    v = judge_within(fit.slope, None, *cfg["band"], alpha=alpha, prediction=pred)
    detail = (f"drift Σ_l||D_l(T) − D_l(0)||_F ∝ η^{_fmt(fit.slope.estimate)} (CI "
              f"[{_fmt(fit.slope.ci[0])}, {_fmt(fit.slope.ci[1])}], band {cfg['band']}); at "
              f"η = {cfg['etas'][-1]} the drift is {_fmt(np.mean(rel))} of Σ_l||C_l||_F "
              f"(mean over {len(rel)} trials), loss {_fmt(ev['loss_0'].mean())} → "
              f"{_fmt(ev['loss_T'][:, -1].mean())}; layer_lr={cfg['layer_lr']}, "
              f"weight_decay={cfg['weight_decay']}")
    return Verdict(v.verdict, v.statistic, v.ci, pred, alpha, detail,
                   dict(v.extra, drift_mean=ev["drift"].mean(0).tolist(), etas=cfg["etas"],
                        rel_drift_smallest_eta=float(np.mean(rel))))
