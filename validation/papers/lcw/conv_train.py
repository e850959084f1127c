"""lcw.conv_training: a small ReLU conv net on digits trained with LCW kernels and with standard
kernels, same optimiser, data and minibatches (Kutsuna 2020, arXiv:2403.13833, Sec. 6.2
analogue, without BN; ``docs/derivations/lcw_conv.md`` §5).

Statistic per trial: ``ρ = log(Ā_LCW / Ā_standard)``, Ā the mean over the steps 0..S of the
minibatch training cross-entropy (the area under the training curve per step; the minibatches
are shared by both arms, so the ratio is paired). ρ < 0: LCW trains faster.

Coupled initialisation (common random numbers): the standard kernels are ``W = σ G`` with G
i.i.d. N(0, 1), σ² = g²/m; the LCW arm starts from the zero-sum projection of the same G,
``w = B_m B_mᵀ G · g/√(m − 1)``, i.e. ``V = B_mᵀ G · g/√(m − 1)``, which has exactly the LCW
law of ``_conv.init_convnet`` (i.i.d. N(0, g²/(m − 1)) coordinates); output layers identical.
"""
from __future__ import annotations

import math

import numpy as np

from depthcheck.kernels.data import load_digits_data
from depthcheck.kernels.nn.lcw import basis_apply_transpose
from depthcheck.kernels.nn.training import train
from depthcheck.validation.claims.stats import judge_within, mean_ci
from depthcheck.validation.papers.lcw._conv import ConvSpec, init_convnet, make_conv_loss_and_grad


def conv_images(cfg, rng, n_trials):
    """Per-trial training splits as images ``(T, n, 1, 8, 8)`` in [0, 1] and labels ``(T, n)``.

    ``cfg["data"]``: "digits" (the images), or "mean_coded" (the control): each image replaced
    by ``y/(K − 1) · 1 + noise_sd · N(0, I)``, its class only in the common brightness, which a
    zero-sum kernel cannot see (every valid patch is shifted alike)."""
    parts = [load_digits_data(rng, test_fraction=cfg["test_fraction"], standardise="unit",
                              classes=cfg.get("classes")) for _ in range(n_trials)]
    y = np.stack([p.y_train for p in parts])
    n = y.shape[1]
    X = np.stack([p.X_train.T for p in parts]).reshape(n_trials, n, 1, 8, 8)
    data = cfg.get("data", "digits")
    if data == "mean_coded":
        k = int(y.max()) + 1
        X = (y / (k - 1))[:, :, None, None, None] + cfg["noise_sd"] * rng.standard_normal(X.shape)
    elif data != "digits":
        raise ValueError(f"data must be 'digits' or 'mean_coded', got {data!r}")
    return X, y


def coupled_lcw_params(params, n_conv, stride=2):
    """LCW parameters from standard ones (module docstring): ``V = B_mᵀ W · √(m/(m − 1))`` for
    the ``n_conv`` conv kernels (every ``stride``-th entry: 2, or 3 for a net with BN), every
    other parameter copied."""
    out = []
    for i, p in enumerate(params):
        if i < stride * n_conv and i % stride == 0:
            m = p.shape[-1]
            out.append(basis_apply_transpose(p) * math.sqrt(m / (m - 1)))
        else:
            out.append(np.array(p, copy=True))
    return out


def conv_train_simulate(cfg, rng, n_trials, backend):
    X, y = conv_images(cfg, rng, n_trials)
    sgd_seed = int(rng.integers(2**63))
    convs = tuple(cfg["convs"])
    std = ConvSpec(convs=convs, k=cfg["k"], weights="standard")
    lcw = ConvSpec(convs=convs, k=cfg["k"], weights="lcw")
    P_std = init_convnet(std, rng, n_trials, gain=cfg["gain"])
    P_lcw = coupled_lcw_params(P_std, len(convs))
    ev = {}
    for name, spec, P, scale in (("lcw", lcw, P_lcw, cfg.get("lcw_lr_scale", 1.0)),
                                 ("standard", std, P_std, 1.0)):
        res = train(P, make_conv_loss_and_grad(spec, X, y), steps=cfg["steps"],
                    lr=cfg["lr"] * scale, momentum=cfg["momentum"],
                    rng=np.random.default_rng(sgd_seed), n_samples=y.shape[1],
                    batch_size=cfg["batch_size"], record_every=1)
        ev[f"loss_{name}"] = np.asarray(res.history["loss"]).T  # (T, steps + 1)
    ev["rho"] = np.log(ev["loss_lcw"].mean(axis=1) / ev["loss_standard"].mean(axis=1))
    return ev


def conv_train_judge(cfg, pred, ev, alpha):
    est = mean_ci(ev["rho"], alpha)
    half = cfg["band"]
    a_l, a_s = ev["loss_lcw"].mean(axis=1), ev["loss_standard"].mean(axis=1)
    detail = (f"ReLU conv net 1 → {' → '.join(map(str, cfg['convs']))} channels ({cfg['k']}×"
              f"{cfg['k']}, valid) → 10, data {cfg.get('data', 'digits')}, SGD lr {cfg['lr']:g}, "
              f"momentum {cfg['momentum']:g}, batch {cfg['batch_size']}, {cfg['steps']} steps: "
              f"mean minibatch training loss over the run LCW {a_l.mean():.3f}, standard "
              f"{a_s.mean():.3f}; paired log-ratio ρ = {est.estimate:+.4f} [{est.ci[0]:+.4f}, "
              f"{est.ci[1]:+.4f}] over {ev['rho'].size} trials; equivalence band ±{half:g} "
              f"(±δ/2). A PASS means no difference of δ/2 or more was detected, not 'no "
              f"difference'.")
    return judge_within(est, None, -half, half, alpha=alpha, prediction=0.0, detail=detail,
                        extra={"final_loss_lcw": float(ev["loss_lcw"][:, -1].mean()),
                               "final_loss_standard": float(ev["loss_standard"][:, -1].mean())})
