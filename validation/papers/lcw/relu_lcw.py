"""lcw.relu_mlp_shift: the activation shift in deep ReLU MLPs on digits, with and without LCW
(Kutsuna 2020, arXiv:2403.13833, Secs. 3-4 and 6; ``docs/derivations/lcw_conv.md`` §2-3).

Shift fraction of a layer (per trial): ``R = Σ_i (mean_n z_in)² / Σ_i mean_n z_in²``, the share
of the pre-activations' second moment carried by the per-neuron means (the activation shift).
"""
from __future__ import annotations

import math

import numpy as np

from depthcheck.kernels.data import load_digits_data
from depthcheck.kernels.nn.mlp import MLPSpec, effective_weights, init_mlp, mlp_forward
from depthcheck.validation.claims.stats import Family, mean_ci

#: The predicted shift fraction of the second layer of a standard ReLU net: a centred Gaussian
#: z has (E relu z)² / E relu(z)² = (1/(2π))/(1/2) (lcw_conv.md §2).
R_STANDARD = 1.0 / math.pi


def shift_fraction(Z, axes=-1) -> np.ndarray:
    """``Σ_units (mean z)² / Σ_units mean z²`` per trial; ``Z`` ``(B, units, n)`` with the
    sample axes ``axes`` (for conv maps ``(B, n, P, C)`` use ``axes=(1, 2)``)."""
    Z = np.asarray(Z, dtype=float)
    mu = Z.mean(axis=axes)
    m2 = np.mean(Z * Z, axis=axes)
    return np.sum(mu * mu, axis=-1) / np.sum(m2, axis=-1)


def _digits(rng, n, standardise):
    return load_digits_data(rng, test_fraction=0.0, standardise=standardise, n_samples=n).X_train


def _shift_layers(cfg, rng, weights, n_trials, X):
    """Per-trial shift fraction of every hidden layer's pre-activations, (n_trials, depth)."""
    spec = MLPSpec((64,) + (cfg["width"],) * cfg["depth"] + (10,), cfg["activation"], "xent",
                   weights, True)
    params = init_mlp(spec, rng, trials=n_trials, gain=cfg["gain"])
    leak = cfg.get("leak", 0.0) if weights == "lcw" else 0.0
    if leak:  # mutation: each LCW row gets a component c_i 1_m/m, c_i ~ N(0, leak·g²)
        std_spec = MLPSpec(spec.widths, spec.activation, "xent", "standard", True)
        Ws = effective_weights(params, spec)
        P = []
        for l, W in enumerate(Ws):
            if l < len(Ws) - 1:
                c = math.sqrt(leak) * cfg["gain"] * rng.standard_normal(W.shape[:-1] + (1,))
                W = W + c / W.shape[-1]
            P += [W, params[2 * l + 1]]
        spec, params = std_spec, P
    out = mlp_forward(params, X, spec)
    return np.stack([shift_fraction(Z) for Z in out.pre[:-1]], axis=1)


def shift_simulate(cfg, rng, n_trials, backend):
    X = _digits(rng, cfg["samples"], "feature")
    return {"R_standard": _shift_layers(cfg, rng, "standard", n_trials, X),
            "R_lcw": _shift_layers(cfg, rng, "lcw", n_trials, X)}


def shift_judge(cfg, pred, ev, alpha):
    fam = Family(alpha, 2)
    lo, hi = R_STANDARD - cfg["band"] / 2, R_STANDARD + cfg["band"] / 2
    s2 = mean_ci(ev["R_standard"][:, 1], fam.level)
    fam.add_within("standard, layer 2: R = 1/π", s2.estimate, s2.ci, lo, hi)
    worst = mean_ci(ev["R_lcw"][:, 1:].max(axis=1), fam.level)
    fam.add_upper(f"LCW, max over layers 2..{cfg['depth']}: R ≤ {cfg['max_lcw']:g}",
                  worst.estimate, worst.ci, cfg["max_lcw"])
    std_mean = ev["R_standard"].mean(axis=0)
    lcw_mean = ev["R_lcw"].mean(axis=0)
    detail = (f"{cfg['activation']} MLP 64 → {cfg['width']} × {cfg['depth']}, gain "
              f"{cfg['gain']:.3g}, {cfg['samples']} digits: shift fraction R (share of E z² "
              f"in per-neuron means) per hidden layer, standard "
              f"{np.round(std_mean, 3).tolist()}, LCW {np.round(lcw_mean, 3).tolist()}. "
              f"Standard layer 2: {s2.estimate:.4f} [{s2.ci[0]:.4f}, {s2.ci[1]:.4f}] vs 1/π = "
              f"{R_STANDARD:.4f} (band ±{cfg['band'] / 2:g}); LCW worst layer: "
              f"{worst.estimate:.4f} [{worst.ci[0]:.4f}, {worst.ci[1]:.4f}] vs bound "
              f"{cfg['max_lcw']:g}. Decisive: {fam.decisive()['name']} → {fam.decision}.")
    return fam.verdict(detail, extra={"R_standard_per_layer": std_mean.tolist(),
                                      "R_lcw_per_layer": lcw_mean.tolist()})
