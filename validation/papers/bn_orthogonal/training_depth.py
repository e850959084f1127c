"""Meterez et al. 2024 (arXiv:2310.02012), Section 4 / Figure 4: SGD on linear BN MLPs with
Haar-orthogonal weights converges at a rate almost independent of depth.

Per trial, one network of every depth in ``cfg["depths"]`` (independent initialisations, the
trial's own minibatch stream) is trained by minibatch SGD; T(L) is the number of SGD steps until
the cross-entropy of a fixed evaluation batch first falls to ``cfg["threshold"]``. The judged
statistic is the slope b of log T on log L (one OLS slope per trial, t-interval over trials):
T ∝ L^b, so b = 0 is depth independence and b = δ means δ more e-folds of iterations per
e-fold of depth.
"""
from __future__ import annotations


import numpy as np

from depthcheck.validation.claims.stats import judge_upper, mean_ci
from depthcheck.validation.papers.bn_orthogonal._training import (digits_train, first_crossing,
                                                                  init_weights, sgd)


def _iters(cfg, rng, n_trials, depth):
    X, y = digits_train(cfg["split_seed"])
    p = X.shape[0]
    Ws = init_weights(rng, n_trials, p, cfg["d"], depth, cfg["n_out"], cfg["weights"],
                      gaussian_layers=[l for l in cfg.get("gaussian_layers", ())
                                       if l <= depth - 1])
    eval_idx = np.random.default_rng([cfg["split_seed"], 7]).choice(X.shape[1], cfg["n_eval"],
                                                                     replace=False)
    lr = cfg["lr"] * (depth / min(cfg["depths"])) ** (-float(cfg.get("lr_depth_exponent", 0.0)))
    _, steps, losses, diverged = sgd(Ws, X, y, rng, steps=cfg["steps"], lr=lr, batch=cfg["n"],
                                     norm=cfg["norm"], eval_idx=eval_idx,
                                     record_every=cfg["record_every"])
    final = np.where(diverged, losses[0], losses[-1])   # a diverged run made no progress
    return first_crossing(steps, losses, cfg["threshold"]), final, diverged


def _depth_simulate(cfg, rng, n_trials, backend="numpy"):
    """Iterations to the loss threshold, shape (n_trials, len(depths)), the final evaluation
    loss and whether the run diverged (1.0; then T is censored at the last step and the final
    loss is the initial one), same shape."""
    T = np.empty((n_trials, len(cfg["depths"])))
    F = np.empty_like(T)
    D = np.empty_like(T)
    for j, L in enumerate(cfg["depths"]):
        T[:, j], F[:, j], D[:, j] = _iters(cfg, rng, n_trials, int(L))
    return {"iters": T, "final_loss": F, "diverged": D}


def depth_slopes(cfg, ev):
    """Per-trial OLS slope of log T on log L."""
    x = np.log(np.asarray(cfg["depths"], dtype=float))
    xc = x - x.mean()
    Y = np.log(np.maximum(np.asarray(ev["iters"], dtype=float), 1.0))
    return (Y - Y.mean(axis=1, keepdims=True)) @ xc / float(xc @ xc)


def _depth_judge(cfg, pred, ev, alpha):
    """Upper bound b <= δ/2 (the iterations do not grow with depth by more than L^{δ/2}): PASS
    if the interval's upper end is below δ/2, FAIL if its lower end is above. A negative b
    (deeper nets reach the threshold in fewer steps at the same step size) passes and is
    reported."""
    delta = float(cfg["delta"])
    b = mean_ci(depth_slopes(cfg, ev), alpha)
    T = np.asarray(ev["iters"], dtype=float)
    censored = (T >= cfg["steps"]).mean(axis=0)
    div = np.asarray(ev.get("diverged", np.zeros_like(T)), dtype=float).mean(axis=0)
    ratio = float(np.exp(np.log(np.maximum(T[:, -1], 1)).mean()
                         - np.log(np.maximum(T[:, 0], 1)).mean()))
    detail = (f"{cfg['weights']} weights, norm {cfg['norm']!r}, d = {cfg['d']}, batch "
              f"{cfg['n']}, lr {cfg['lr']}: steps to eval loss {cfg['threshold']} at depths "
              f"{cfg['depths']} (geometric means "
              + ", ".join(f"{v:.0f}" for v in np.exp(np.log(np.maximum(T, 1)).mean(axis=0)))
              + f"; censored at {cfg['steps']} steps: "
              + ", ".join(f"{c:.0%}" for c in censored)
              + (", of which diverged: " + ", ".join(f"{v:.0%}" for v in div)
                 if div.any() else "")
              + f"); slope b of log T on log L = {b.estimate:.3g} [{b.ci[0]:.3g}, {b.ci[1]:.3g}]"
              f" against the upper bound δ/2 = {delta / 2:g}; T(L_max)/T(L_min) = {ratio:.3g}")
    return judge_upper(b, None, delta / 2, alpha=alpha, prediction=0.0, detail=detail,
                       extra={"mean_iters": T.mean(axis=0).tolist(),
                               "geo_mean_iters": np.exp(np.log(np.maximum(T, 1)).mean(
                                   axis=0)).tolist(),
                               "censored_fraction": censored.tolist(),
                               "diverged_fraction": div.tolist(),
                               "final_loss": np.asarray(ev["final_loss"]).mean(axis=0).tolist(),
                               "ratio_deep_shallow": ratio, "delta": delta,
                               "half_width": (b.ci[1] - b.ci[0]) / 2})
