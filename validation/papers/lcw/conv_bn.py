"""lcw.conv_bn_training: a small ReLU conv net with BN on digits, LCW kernels + BN vs standard
kernels + BN, same optimiser, data and minibatches (Kutsuna 2020, arXiv:2403.13833, Sec. 6.2
analogue; ``docs/derivations/lcw_conv.md`` §6).

Per trial: ``ρ = log(Ā_LCW+BN / Ā_BN)``, Ā the mean over the steps 0..S of the minibatch training
cross-entropy (paired: shared minibatches, coupled initialisation as in ``conv_train``), and the
final test accuracies of both arms (BN in training mode on the whole held-out split, as in
``deep_sigmoid``: the engine keeps no running averages). ρ < 0: LCW + BN trains faster.
"""
from __future__ import annotations

import numpy as np

from depthcheck.kernels.data import load_digits_data
from depthcheck.kernels.nn.training import accuracy, train
from depthcheck.validation.claims.stats import judge_within, mean_ci
from depthcheck.validation.papers.lcw._conv import (ConvSpec, convnet_forward, init_convnet,
                                                    make_conv_loss_and_grad)
from depthcheck.validation.papers.lcw.conv_train import coupled_lcw_params


def _split_images(cfg, rng, n_trials):
    """Per-trial splits: train images ``(T, n, 1, 8, 8)`` in [0, 1] and labels, test likewise.
    ``cfg["data"]`` "digits" or "mean_coded" (class only in the common brightness, as in
    ``conv_train.conv_images``)."""
    parts = [load_digits_data(rng, test_fraction=cfg["test_fraction"], standardise="unit",
                              classes=cfg.get("classes")) for _ in range(n_trials)]
    out = []
    for Xk, yk in (("X_train", "y_train"), ("X_test", "y_test")):
        y = np.stack([getattr(p, yk) for p in parts])
        X = np.stack([getattr(p, Xk).T for p in parts]).reshape(n_trials, y.shape[1], 1, 8, 8)
        data = cfg.get("data", "digits")
        if data == "mean_coded":
            k = int(y.max()) + 1
            X = (y / (k - 1))[:, :, None, None, None] + cfg["noise_sd"] * rng.standard_normal(
                X.shape)
        elif data != "digits":
            raise ValueError(f"data must be 'digits' or 'mean_coded', got {data!r}")
        out += [X, y]
    return out


def conv_bn_simulate(cfg, rng, n_trials, backend):
    Xtr, ytr, Xte, yte = _split_images(cfg, rng, n_trials)
    sgd_seed = int(rng.integers(2**63))
    convs = tuple(cfg["convs"])
    std = ConvSpec(convs=convs, k=cfg["k"], weights="standard", bn=True)
    lcw = ConvSpec(convs=convs, k=cfg["k"], weights="lcw", bn=True)
    P_std = init_convnet(std, rng, n_trials, gain=cfg["gain"])
    P_lcw = coupled_lcw_params(P_std, len(convs), stride=std.stride)
    ev = {}
    for name, spec, P, scale in (("lcw", lcw, P_lcw, cfg.get("lcw_lr_scale", 1.0)),
                                 ("standard", std, P_std, 1.0)):
        res = train(P, make_conv_loss_and_grad(spec, Xtr, ytr), steps=cfg["steps"],
                    lr=cfg["lr"] * scale, momentum=cfg["momentum"],
                    rng=np.random.default_rng(sgd_seed), n_samples=ytr.shape[1],
                    batch_size=cfg["batch_size"], record_every=1)
        ev[f"loss_{name}"] = np.asarray(res.history["loss"]).T  # (T, steps + 1)
        ev[f"acc_{name}"] = accuracy(convnet_forward(res.params, Xte, spec), yte)
    ev["rho"] = np.log(ev["loss_lcw"].mean(axis=1) / ev["loss_standard"].mean(axis=1))
    ev["acc_diff"] = ev["acc_lcw"] - ev["acc_standard"]
    return ev


def conv_bn_judge(cfg, pred, ev, alpha):
    """Equivalence ``−band ≤ E ρ ≤ band``; the paired test-accuracy difference is reported."""
    r = mean_ci(ev["rho"], alpha)
    a = mean_ci(ev["acc_diff"], alpha)
    half = cfg["band"]
    detail = (f"ReLU conv net 1 → {' → '.join(map(str, cfg['convs']))} channels ({cfg['k']}×"
              f"{cfg['k']}, valid, BN per channel) → 10, data {cfg.get('data', 'digits')}, SGD lr "
              f"{cfg['lr']:g}, momentum {cfg['momentum']:g}, batch {cfg['batch_size']}, "
              f"{cfg['steps']} steps, {ev['rho'].size} paired trials: mean minibatch training "
              f"loss over the run LCW+BN {ev['loss_lcw'].mean():.3f}, BN "
              f"{ev['loss_standard'].mean():.3f}; ρ = {r.estimate:+.4f} [{r.ci[0]:+.4f}, "
              f"{r.ci[1]:+.4f}], equivalence band ±{half:g} (±δ/2); a PASS means no speed-up or "
              f"slow-down of a factor e^{half:g} or more was detected, not 'no difference'. "
              f"Reported, not judged: final test accuracy LCW+BN {ev['acc_lcw'].mean():.4f}, BN "
              f"{ev['acc_standard'].mean():.4f}, paired difference {a.estimate:+.4f} "
              f"[{a.ci[0]:+.4f}, {a.ci[1]:+.4f}] (the paper's 'better generalisation' would be "
              f"> 0).")
    return judge_within(r, None, -half, half, alpha=alpha, prediction=0.0, detail=detail, extra={
        "acc_diff": [a.estimate, *a.ci],
        "final_loss_lcw": float(ev["loss_lcw"][:, -1].mean()),
        "final_loss_standard": float(ev["loss_standard"][:, -1].mean()),
        "acc_lcw": float(ev["acc_lcw"].mean()), "acc_standard": float(ev["acc_standard"].mean())})
