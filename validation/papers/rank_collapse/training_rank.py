"""rank_collapse.depth_rank_accuracy: Fig. 1 of Daneshmand et al. 2020 (arXiv:2003.01652) on
scikit-learn's digits — the rank of the last hidden layer after PyTorch's initialisation and the
training accuracy after SGD (best step size of a grid per arm and depth) against depth, ReLU MLPs
with and without BN."""
from __future__ import annotations

import numpy as np

from depthcheck.theory.rank import matrix_rank, rank_lower_bound
from depthcheck.validation.claims.stats import Family, mean_ci
from depthcheck.validation.papers.rank_collapse._training import digits_trials, last_hidden, pytorch_init, relu_spec, train_best_lr

ARM_NAMES = {"none": "vanilla", "bn": "BN"}


def simulate(cfg, rng, n_trials, backend):
    """Evidence: r_init (B, A, D) = r(H_{L−1}) after initialisation on ``rank_cols`` training
    columns, rank_init (B, A, D) its numerical rank, acc (B, A, D, G) the training accuracy after
    ``steps`` SGD steps (``optimizer`` "adam": Adam) at each step size of ``lr_grid`` (A arms,
    D depths, G step sizes)."""
    data = digits_trials(rng, n_trials)
    sgd_seed = int(rng.integers(2**63))
    arms, depths, grid = cfg["arms"], cfg["depths"], cfg["lr_grid"]
    r = np.zeros((n_trials, len(arms), len(depths)))
    rk = np.zeros_like(r)
    acc = np.zeros((n_trials, len(arms), len(depths), len(grid)))
    cols = data[0][..., :cfg["rank_cols"]]
    for a, norm in enumerate(arms):
        for j, depth in enumerate(depths):
            spec = relu_spec(cfg["width"], depth, norm)
            P = pytorch_init(spec, rng, n_trials)
            H = last_hidden(P, cols, spec)
            r[:, a, j] = rank_lower_bound(H)
            rk[:, a, j] = matrix_rank(H / np.linalg.norm(H, axis=(-2, -1), keepdims=True))
            out = train_best_lr(spec, P, data, lr_grid=grid, steps=cfg["steps"],
                                batch_size=cfg["batch_size"], sgd_seed=sgd_seed,
                                optimizer=cfg.get("optimizer", "sgd"))
            acc[:, a, j, :] = out["train_acc"].T
    return {"r_init": r, "rank_init": rk, "acc": acc}


def best_accuracy(ev):
    """(B, A, D) accuracies at the step size with the best mean over trials, per arm and depth
    (the paper's grid search), and the chosen indices (A, D)."""
    acc = ev["acc"]
    best = np.argmax(acc.mean(axis=0), axis=-1)
    chosen = np.take_along_axis(acc, best[None, :, :, None], axis=-1)[..., 0]
    return chosen, best


def judge(cfg, pred, ev, alpha):
    acc, best = best_accuracy(ev)
    r = ev["r_init"]
    arms = cfg["arms"]
    van, bn = 0, 1  # arms = [vanilla, normalised] ("none" twice in the control)
    d_lo, d_hi = cfg["depths"][0], cfg["depths"][-1]
    delta = cfg["delta"]
    fam = Family(alpha, 4)
    lvl = fam.level
    e1 = mean_ci(acc[:, van, -1], lvl)
    fam.add_upper(f"vanilla training accuracy at depth {d_hi} (chance 0.1)", e1.estimate,
                  e1.ci, cfg["chance"] + delta / 2)
    e2 = mean_ci(acc[:, bn, 0] - acc[:, bn, -1], lvl)
    fam.add_upper(f"{ARM_NAMES.get(arms[bn], arms[bn])} accuracy drop from depth {d_lo} to "
                  f"{d_hi}", e2.estimate, e2.ci, delta / 2)
    e3 = mean_ci(r[:, van, -1], lvl)
    fam.add_upper(f"vanilla r(H) at depth {d_hi} (rank one: 1)", e3.estimate, e3.ci,
                  1.0 + cfg["rank_band"])
    e4 = mean_ci(r[:, bn, -1] - r[:, van, -1], lvl)
    fam.add_lower(f"r(H) of {ARM_NAMES.get(arms[bn], arms[bn])} minus vanilla at depth {d_hi}",
                  e4.estimate, e4.ci, cfg["min_rank_gap"])
    table = {}
    for a, norm in enumerate(arms):
        for j, depth in enumerate(cfg["depths"]):
            table[f"{ARM_NAMES.get(norm, norm)} L={depth}"] = {
                "r_init": float(r[:, a, j].mean()),
                "numerical_rank_init": float(ev["rank_init"][:, a, j].mean()),
                "train_acc": float(acc[:, a, j].mean()),
                "best_lr": float(cfg["lr_grid"][best[a, j]])}
    detail = fam.summary(
        f"ReLU MLPs of width {cfg['width']} on digits, PyTorch init, {cfg['steps']} "
        f"{cfg.get('optimizer', 'sgd').upper()} steps "
        f"(batch {cfg['batch_size']}, best step size of {cfg['lr_grid']} per arm and depth): "
        + "; ".join(f"{k}: r {v['r_init']:.2f}, acc {v['train_acc']:.3f}"
                    for k, v in table.items()))
    return fam.verdict(detail, extra={"per_arm_depth": table})


def vanilla_learns_by(delta_factor: float = 1.0):
    """Mutation (evidence transform, calibrated): the deep vanilla nets' accuracies raised by
    δ at every step size (a world where depth does not stop vanilla SGD)."""
    def transform(cfg, ev):
        out = dict(ev)
        acc = ev["acc"].copy()
        acc[:, 0, -1, :] += delta_factor * cfg["delta"]
        out["acc"] = acc
        return out
    return transform


def bn_drops_by(delta_factor: float = 1.0):
    """Mutation (evidence transform, calibrated): the deepest BN nets' accuracies lowered by δ
    at every step size (BN's accuracy falling with depth)."""
    def transform(cfg, ev):
        out = dict(ev)
        acc = ev["acc"].copy()
        acc[:, 1, -1, :] -= delta_factor * cfg["delta"]
        out["acc"] = acc
        return out
    return transform
