"""Directional gradient vanishing, Daneshmand et al. 2020 (arXiv:2003.01652), Proposition 19
(App. H) and the MLP analogue of Fig. 10.

* rank_collapse.prop19_gradient_alignment (exact): on networks built so that the last hidden
  representation is rank one (h_i = c_i v), the per-sample gradients of every neuron k of the
  classification layer, ∇_{w_k} ℓ_i = (∂ℓ_i/∂z_k) h_i, are collinear for all samples i, j with
  h_i, h_j ≠ 0: |cos(∇_{w_k} ℓ_i, ∇_{w_k} ℓ_j)| = 1 to rounding. The per-sample gradients come
  from the library's backward pass (``depthcheck.kernels.nn.mlp``) on one sample at a time.
* rank_collapse.gradient_alignment_mlp (statistical): at PyTorch's initialisation, deep vanilla
  ReLU MLPs on digits have per-sample last-layer gradients aligned (mean |cos| near 1), BN nets
  do not, and the alignment persists through SGD.
"""
from __future__ import annotations

import numpy as np

from depthcheck.kernels.data import image_batch
from depthcheck.kernels.nn.mlp import MLPSpec, init_mlp, mlp_forward, mlp_loss_and_grad
from depthcheck.kernels.nn.training import train
from depthcheck.kernels.nn.mlp import make_loss_and_grad
from depthcheck.validation.claims.stats import Family, judge_all_hold, mean_ci
from depthcheck.validation.papers.rank_collapse._training import digits_trials, pytorch_init, relu_spec


def _abs_cos_rows(G):
    """G: (n, c, w) per-sample gradients of the c output neurons. Returns (c, n, n) |cos| of
    neuron k's gradients between samples i and j."""
    Gk = np.moveaxis(G, 1, 0)                                    # (c, n, w)
    nrm = np.linalg.norm(Gk, axis=-1, keepdims=True)
    U = Gk / nrm
    return np.abs(U @ np.swapaxes(U, -1, -2))


# ------------------------------------------------------------------- Proposition 19 (exact)
def prop19_simulate(cfg, rng, n_trials, backend):
    """Per trial and activation: the largest 1 − |cos| over neurons and sample pairs (with
    h_i ≠ 0) of the per-sample classification-layer gradients, and the largest relative error of
    ∇_{w_k} ℓ_i = (∂ℓ_i/∂z_k) h_i. ``rank_one`` False (the control) keeps a full-rank last
    hidden layer."""
    d, n = cfg["width"], cfg["n"]
    mis = np.zeros((n_trials, len(cfg["activations"])))
    ident = np.zeros_like(mis)
    for t in range(n_trials):
        X = image_batch(n, rng, "digits")
        y = rng.integers(0, 10, n)
        for a, act in enumerate(cfg["activations"]):
            spec = MLPSpec((64,) + (d,) * cfg["depth"] + (10,), act, "xent", "standard", False)
            P = init_mlp(spec, rng)
            if cfg["rank_one"]:
                u = np.abs(rng.standard_normal((d, 1)))      # u >= 0: relu(u s) = relu(s) u
                v = rng.standard_normal((1, d)) / np.sqrt(d)
                s = v @ mlp_forward(P, X, spec).hidden[-2]    # (1, n): h_i = relu(s_i) u
                if np.sum(s > 0) < np.sum(s < 0):
                    v = -v                                    # keep most samples alive
                P[-2] = u @ v                                 # last hidden layer's weight
            H = mlp_forward(P, X, spec).hidden[-1]            # (d, n)
            keep = np.flatnonzero(np.linalg.norm(H, axis=0) > 0)
            G = np.stack([mlp_loss_and_grad(P, X, y, spec, idx=np.array([i]))[1][-1]
                          for i in keep])                     # (n', 10, d)
            Z = mlp_forward(P, X, spec, return_hidden=False)
            E = np.exp(Z - Z.max(axis=0))
            E = E / E.sum(axis=0)
            E[y, np.arange(n)] -= 1.0                         # ∂ℓ_i/∂z (softmax − one-hot)
            pred = np.einsum("ci,di->icd", E[:, keep], H[:, keep])
            ident[t, a] = np.max(np.abs(G - pred)) / np.max(np.abs(pred))
            C = _abs_cos_rows(G)
            mis[t, a] = np.max(1.0 - C)
    return {"misalignment": mis, "identity_error": ident}


def prop19_judge(cfg, pred, ev, alpha):
    tol = cfg["tol"]
    margins = np.concatenate([tol - ev["misalignment"].ravel(),
                              tol - ev["identity_error"].ravel()])
    worst_mis = float(ev["misalignment"].max())
    worst_id = float(ev["identity_error"].max())
    detail = (f"{'rank-one' if cfg['rank_one'] else 'full-rank'} last hidden layer "
              f"({', '.join(cfg['activations'])} MLPs, width {cfg['width']}, depth "
              f"{cfg['depth']}, {cfg['n']} digits): largest 1 − |cos| between per-sample "
              f"classification-layer gradients of one neuron {worst_mis:.3g}; largest relative "
              f"error of ∇_(w_k) ℓ_i = (∂ℓ_i/∂z_k) h_i {worst_id:.3g}; tolerance {tol:g}")
    return judge_all_hold(margins, tol=0.0, alpha=alpha, detail=detail,
                          extra={"max_misalignment": worst_mis, "max_identity_error": worst_id})


# --------------------------------------------------------------- Fig. 10 analogue (statistical)
def alignment(params, X, y, spec) -> np.ndarray:
    """Per trial: mean over classification neurons k and sample pairs i < j of
    |cos(∇_{w_k} ℓ_i, ∇_{w_k} ℓ_j)|, the per-sample gradients (∂ℓ_i/∂z_k) h_i (Prop. 19's
    chain rule) on the columns of X; shape (B,)."""
    fw = mlp_forward(params, X, spec)
    H, Z = fw.hidden[-1], fw.output                             # (B, w, n), (B, c, n)
    E = np.exp(Z - Z.max(axis=-2, keepdims=True))
    E = E / E.sum(axis=-2, keepdims=True)
    n = X.shape[-1]
    np.put_along_axis(E, y[:, None, :], np.take_along_axis(E, y[:, None, :], axis=-2) - 1.0,
                      axis=-2)
    # |cos| of (E_ki h_i, E_kj h_j) = |cos(h_i, h_j)| when E_ki, E_kj != 0 (softmax: always)
    Hn = H / np.maximum(np.linalg.norm(H, axis=-2, keepdims=True), 1e-300)
    C = np.abs(np.swapaxes(Hn, -1, -2) @ Hn)                    # (B, n, n)
    iu = np.triu_indices(n, 1)
    live = (np.linalg.norm(H, axis=-2) > 0)
    pair_live = live[:, iu[0]] & live[:, iu[1]]
    vals = C[:, iu[0], iu[1]]
    return np.sum(vals * pair_live, axis=-1) / np.maximum(pair_live.sum(axis=-1), 1)


def align_simulate(cfg, rng, n_trials, backend):
    """Evidence per arm ("vanilla" at depth ``depth_vanilla``, "bn" at ``depth``): alignment at
    initialisation and after ``steps`` SGD steps at step size ``lr``."""
    Xtr, ytr, _, _ = digits_trials(rng, n_trials)
    sgd_seed = int(rng.integers(2**63))
    cols = slice(0, cfg["n"])
    ev = {}
    for name, norm, depth in (("vanilla", "none", cfg["depth_vanilla"]), ("bn", "bn", cfg["depth"])):
        spec = relu_spec(cfg["width"], depth, norm)
        P = pytorch_init(spec, rng, n_trials)
        ev[f"align_init_{name}"] = alignment(P, Xtr[..., cols], ytr[..., cols], spec)
        res = train(P, make_loss_and_grad(spec, Xtr, ytr), steps=cfg["steps"], lr=cfg["lr"],
                    rng=np.random.default_rng(sgd_seed), n_samples=Xtr.shape[-1],
                    batch_size=cfg["batch_size"])
        ev[f"align_trained_{name}"] = alignment(res.params, Xtr[..., cols], ytr[..., cols], spec)
    return ev


def align_judge(cfg, pred, ev, alpha):
    delta = cfg["delta"]
    fam = Family(alpha, 3)
    lvl = fam.level
    e1 = mean_ci(ev["align_init_vanilla"], lvl)
    fam.add_lower(f"vanilla (depth {cfg['depth_vanilla']}) alignment at init", e1.estimate,
                  e1.ci, 1.0 - delta / 2)
    e2 = mean_ci(ev["align_trained_vanilla"], lvl)
    fam.add_lower(f"vanilla alignment after {cfg['steps']} SGD steps", e2.estimate, e2.ci,
                  1.0 - delta / 2)
    e3 = mean_ci(ev["align_init_vanilla"] - ev["align_init_bn"], lvl)
    fam.add_lower(f"vanilla minus BN (depth {cfg['depth']}) alignment at init", e3.estimate,
                  e3.ci, delta / 2)
    means = {k: float(np.mean(v)) for k, v in ev.items()}
    detail = fam.summary(
        f"mean |cos| between per-sample gradients of one classification neuron over "
        f"{cfg['n']} digits, ReLU MLPs of width {cfg['width']}, PyTorch init: "
        + ", ".join(f"{k} {v:.4f}" for k, v in means.items()))
    return fam.verdict(detail, prediction=1.0, extra={"means": means})


def vanilla_alignment_lowered(cfg, ev):
    """Mutation (evidence transform, calibrated): the vanilla nets' alignments lowered by δ
    (per-sample gradient directions that still depend on the input by δ)."""
    out = dict(ev)
    for k in ("align_init_vanilla", "align_trained_vanilla"):
        out[k] = ev[k] - cfg["delta"]
    return out
