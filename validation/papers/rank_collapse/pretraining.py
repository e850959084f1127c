"""rank_collapse.rank_pretraining: Section 4 / Algorithm 1 (App. G) and Figs. 4, 6, 11, 12 of
Daneshmand et al. 2020 (arXiv:2003.01652), MLP part, on scikit-learn's digits — layer-wise
pre-training that maximises the rank lower bound r(H_l) (eq. (4)) of a deep vanilla ReLU MLP,
against the same net without pre-training (and, reported, a BN net): r(H) and the training loss
over SGD."""
from __future__ import annotations

import numpy as np

from depthcheck.validation.claims.stats import Family, mean_ci
from depthcheck.validation.papers.rank_collapse._training import digits_trials, glorot_normal_init, pretrain_rank, pytorch_init, relu_spec, train_best_lr


def simulate(cfg, rng, n_trials, backend):
    """Evidence per arm a ∈ cfg["arms"] ("plain", "pretrained", "bn"): loss_<a> (B, R) and
    rank_<a> (B, R), the full training loss and r(H_{L−1}) at steps 0, eval_every, ..., steps,
    at the step size of the arm's grid with the lowest mean final loss (chosen per arm; the grid
    is ``lr_grid_<arm>`` where given, else ``lr_grid``). Each arm draws its own initial weights
    from ``rng``. ``init`` "glorot_normal" draws the vanilla arms' weights as the paper's Fig. 6
    code does (the BN arm keeps PyTorch's initialisation)."""
    data = digits_trials(rng, n_trials)
    sgd_seed = int(rng.integers(2**63))
    ev = {}
    for arm in cfg["arms"]:
        spec = relu_spec(cfg["width"], cfg["depth"], "bn" if arm == "bn" else "none")
        vanilla_glorot = arm != "bn" and cfg.get("init", "pytorch") == "glorot_normal"
        P = (glorot_normal_init if vanilla_glorot else pytorch_init)(spec, rng, n_trials)
        if arm == "pretrained" and cfg["pre_iters"] > 0:
            P = pretrain_rank(P, spec, data[0], rng, iters=cfg["pre_iters"], lr=cfg["pre_lr"],
                              batch_size=cfg["batch_size"], every=cfg["pre_every"])
        grid = cfg.get(f"lr_grid_{arm}", cfg["lr_grid"])
        out = train_best_lr(spec, P, data, lr_grid=grid, steps=cfg["steps"],
                            batch_size=cfg["batch_size"], sgd_seed=sgd_seed,
                            eval_every=cfg["eval_every"], record_rank=True,
                            rank_cols=cfg["rank_cols"])
        g = int(np.argmin(out["train_loss"][:, :, -1].mean(axis=1)))
        ev[f"loss_{arm}"] = out["train_loss"][g]
        ev[f"rank_{arm}"] = out["rank"][g]
        ev[f"lr_{arm}"] = np.full(n_trials, float(grid[g]))
    return ev


def _tail(x, cfg):
    """Per-trial mean of the last ``cfg["tail"]`` evaluations (default 1: the final one)."""
    t = int(cfg.get("tail", 1))
    if not 1 <= t <= x.shape[-1]:
        raise ValueError(f"cfg['tail'] must lie in [1, {x.shape[-1]}], got {t}")
    return x[:, -t:].mean(axis=-1)


def judge(cfg, pred, ev, alpha):
    delta = cfg["delta"]
    fam = Family(alpha, 3)
    lvl = fam.level
    t = int(cfg.get("tail", 1))
    when = (f"after {cfg['steps']} steps" if t == 1 else
            f"mean over steps {cfg['steps'] - (t - 1) * cfg['eval_every']}..{cfg['steps']}")
    e1 = mean_ci(ev["rank_pretrained"][:, 0] - ev["rank_plain"][:, 0], lvl)
    fam.add_lower("r(H) at init: pre-trained minus plain", e1.estimate, e1.ci,
                  cfg["min_rank_gain"])
    e2 = mean_ci(_tail(ev["loss_plain"], cfg) - _tail(ev["loss_pretrained"], cfg), lvl)
    fam.add_lower(f"training loss {when}: plain minus pre-trained (nats)",
                  e2.estimate, e2.ci, delta / 2)
    e3 = mean_ci(_tail(ev["rank_pretrained"], cfg) - _tail(ev["rank_plain"], cfg), lvl)
    fam.add_lower(f"r(H) {when}: pre-trained minus plain", e3.estimate,
                  e3.ci, cfg["min_rank_kept"])
    curves = {k: np.mean(v, axis=0).round(4).tolist() for k, v in ev.items()
              if k.startswith(("loss_", "rank_"))}
    lrs = {k[3:]: float(v[0]) for k, v in ev.items() if k.startswith("lr_")}
    note = ""
    if "loss_bn" in ev:
        d = _tail(ev["loss_bn"], cfg) - _tail(ev["loss_pretrained"], cfg)
        note = (f" Reported, not judged (the paper's 'pre-training outperforms BN'): training "
                f"loss ({when}) BN minus pre-trained {d.mean():+.3f} (sd {d.std(ddof=1):.3f}).")
    detail = fam.summary(
        f"depth {cfg['depth']}, width {cfg['width']} ReLU MLPs on digits, Algorithm 1 with "
        f"{cfg['pre_iters']} steps of size {cfg['pre_lr']} per layer; SGD step sizes chosen "
        f"per arm {lrs}; mean curves (steps 0..{cfg['steps']} every {cfg['eval_every']}): "
        + "; ".join(f"{k} {v}" for k, v in curves.items())) + note
    return fam.verdict(detail, extra={"curves": curves, "lr": lrs})


def pretraining_gives_no_gain(cfg, ev):
    """Mutation (evidence transform, calibrated): the pre-trained arm's training losses replaced
    by the plain arm's plus the measured trial-to-trial spread of the difference (pre-training
    that does not speed SGD up: the truth δ/2 below the bound)."""
    out = dict(ev)
    diff = _tail(ev["loss_plain"], cfg) - _tail(ev["loss_pretrained"], cfg)
    out["loss_pretrained"] = ev["loss_pretrained"] + np.mean(diff)
    return out
