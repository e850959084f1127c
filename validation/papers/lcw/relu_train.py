"""lcw.relu_mlp_training: a deep ReLU MLP on digits trained with LCW and with standard weights,
same optimiser, data and minibatches, at two a-priori learning rates (Kutsuna 2020,
arXiv:2403.13833, Secs. 4 and 6.1 read for ReLU; ``docs/derivations/lcw_conv.md`` §5-6).

Per trial and learning rate: ``ρ = log(Ā_LCW / Ā_standard)``, Ā the mean over the steps 0..S of
the minibatch training cross-entropy (paired: shared minibatches and coupled initialisation,
``V = B_mᵀ W √(m/(m − 1))`` for every layer, the zero-sum projection of the standard draw, which
has exactly the LCW law; ``conv_train`` module docstring). ρ < 0: LCW trains faster.
"""
from __future__ import annotations

import math

import numpy as np

from depthcheck.kernels.data import load_digits_data
from depthcheck.kernels.nn.lcw import basis_apply_transpose
from depthcheck.kernels.nn.mlp import MLPSpec, init_mlp, make_loss_and_grad
from depthcheck.kernels.nn.training import train
from depthcheck.validation.claims.stats import Family, mean_ci


def coupled_lcw_mlp(params, spec: MLPSpec):
    """LCW parameters of an all-LCW copy of ``spec`` from standard ones: every weight matrix W
    ``(.., d_out, m)`` becomes ``V = B_mᵀ W √(m/(m − 1))`` (row-wise), the rest is copied."""
    widx = set(spec.weight_index())
    out = []
    for i, p in enumerate(params):
        if i in widx:
            m = p.shape[-1]
            out.append(basis_apply_transpose(p) * math.sqrt(m / (m - 1)))
        else:
            out.append(np.array(p, copy=True))
    return out


def relu_train_simulate(cfg, rng, n_trials, backend):
    parts = [load_digits_data(rng, test_fraction=cfg["test_fraction"],
                              standardise=cfg["standardise"]) for _ in range(n_trials)]
    X = np.stack([p.X_train for p in parts])
    y = np.stack([p.y_train for p in parts])
    widths = (X.shape[1],) + (cfg["width"],) * cfg["depth"] + (10,)
    std = MLPSpec(widths, cfg["activation"], "xent", "standard", True)
    lcw = MLPSpec(widths, cfg["activation"], "xent", "lcw", True)
    P_std = init_mlp(std, rng, trials=n_trials, gain=cfg["gain"])
    P_lcw = coupled_lcw_mlp(P_std, std)
    ev = {}
    for j, lr in enumerate(cfg["lrs"]):
        sgd_seed = int(rng.integers(2**63))
        areas = {}
        for name, spec, P, scale in (("lcw", lcw, P_lcw, cfg.get("lcw_lr_scale", 1.0)),
                                     ("standard", std, P_std, 1.0)):
            res = train([p.copy() for p in P], make_loss_and_grad(spec, X, y),
                        steps=cfg["steps"], lr=lr * scale, momentum=cfg["momentum"],
                        rng=np.random.default_rng(sgd_seed), n_samples=y.shape[1],
                        batch_size=cfg["batch_size"], record_every=1)
            loss = np.asarray(res.history["loss"]).T  # (T, steps + 1)
            areas[name] = loss.mean(axis=1)
            ev[f"final_{name}_{j}"] = loss[:, -1]
        ev[f"rho_{j}"] = np.log(areas["lcw"] / areas["standard"])
    return ev


def relu_train_judge(cfg, pred, ev, alpha):
    """Family over the learning rates, each at level α/k: ``E ρ ≥ 0`` (LCW slower) for the lrs
    marked "slower" in ``cfg["expect"]``, ``E ρ ≤ 0`` (LCW faster) for those marked "faster"."""
    lrs, expect = cfg["lrs"], cfg["expect"]
    if len(expect) != len(lrs) or any(e not in ("slower", "faster") for e in expect):
        raise ValueError(f"expect must give 'slower' or 'faster' for each of the {len(lrs)} lrs, "
                         f"got {expect!r}")
    fam = Family(alpha, len(lrs))
    rows = []
    for j, (lr, e_) in enumerate(zip(lrs, expect)):
        e = mean_ci(ev[f"rho_{j}"], fam.level)
        if e_ == "slower":
            fam.add_lower(f"lr {lr:g}: LCW slower (ρ ≥ 0)", e.estimate, e.ci, 0.0)
        else:
            fam.add_upper(f"lr {lr:g}: LCW faster (ρ ≤ 0)", e.estimate, e.ci, 0.0)
        rows.append(f"lr {lr:g}: ρ = {e.estimate:+.4f} [{e.ci[0]:+.4f}, {e.ci[1]:+.4f}] (final "
                    f"minibatch loss LCW {ev[f'final_lcw_{j}'].mean():.3f}, standard "
                    f"{ev[f'final_standard_{j}'].mean():.3f})")
    detail = (f"{cfg['activation']} MLP 64 → {cfg['width']} × {cfg['depth']} → 10, gain "
              f"{cfg['gain']:.3g}, SGD momentum {cfg['momentum']:g}, batch {cfg['batch_size']}, "
              f"{cfg['steps']} steps, {ev['rho_0'].size} paired trials; " + "; ".join(rows)
              + ". " + fam.summary("sign of ρ = log(Ā_LCW/Ā_standard) per learning rate"))
    return fam.verdict(detail, prediction=0.0)
