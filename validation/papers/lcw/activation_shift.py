"""lcw.activation_shift and lcw.lcw_no_shift: the mean pre-activation, with and without LCW (Sec.
3)."""
from __future__ import annotations

import numpy as np

from depthcheck.theory import lcw as th
from depthcheck.validation.claims.stats import mean_ci
from depthcheck.validation.papers.lcw._common import _inputs, _layer_weights
from depthcheck.validation.claims.stats import Family
from depthcheck.validation.papers.lcw._common import _add, _detail


def _shift_predict(cfg):
    out = {}
    for act in cfg["activations"]:
        g, s2 = th.activation_moments(act, cfg["input_scale"])
        out[act] = {"gamma": g, "sigma_gamma2": s2}
    return out


def shift_delta(cfg):
    """δ of the shift claims in units of E z²: the band's width (the band is 1 ± δ/2)."""
    return float(cfg["band"][1] - cfg["band"][0])


def _excess_size(cfg, act, deltas):
    """The relative size s² = x σ_γ²/(N γ²) of a departure that raises E z² by x = ``deltas``·δ:
    a bias b_i = s γ Σ_j w_ij (or a leaked shift of energy s² γ² g²) has E b_i²/se_i² = x,
    se_i² = σ_γ²‖w_i‖²/N, since E(Σ_j w_ij)² = E‖w_i‖² = g² for standard weights."""
    g, s2 = th.activation_moments(act, cfg["input_scale"])
    return float(np.sqrt(deltas * shift_delta(cfg) * s2 / (cfg["samples"] * g * g)))


def _shift_simulate(cfg, rng, n_trials, backend):
    m, n, N = cfg["m"], cfg["n"], cfg["samples"]
    k = len(cfg["activations"])
    mean_z = np.empty((n_trials, k, n))
    sum_w = np.empty((n_trials, k, n))
    norm2_w = np.empty((n_trials, k, n))
    # mutations (sizes in units of δ; 0 in the claim): a common input mean γ(1 + ε) that the
    # theory's γ misses, and an LCW constraint that leaks a component along 1_m
    mean_err, leak = cfg.get("gamma_error_deltas", 0.0), cfg.get("constraint_leak_deltas", 0.0)
    for a, act in enumerate(cfg["activations"]):
        W = _layer_weights(rng, cfg["weights"], n_trials, n, m, cfg["gain"])
        if leak:
            c = _excess_size(cfg, act, leak) * cfg["gain"] * rng.standard_normal((n_trials, n, 1))
            W = W + c / m  # Σ_j w_ij = c_i: a shift γ c_i of energy s² γ² g²
        gam = th.activation_moments(act, cfg["input_scale"])[0]
        bias = _excess_size(cfg, act, mean_err) * gam if mean_err else 0.0
        for t in range(n_trials):
            c = cfg["input_offset_sd"] * rng.standard_normal((m, 1))
            abar = _inputs(rng, act, m, N, cfg["input_scale"], c).mean(axis=1) + bias
            mean_z[t, a] = W[t] @ abar  # mean over samples of z = W a, per neuron
        sum_w[:, a] = W.sum(axis=-1)
        norm2_w[:, a] = np.sum(W * W, axis=-1)
    return {"mean_z": mean_z, "sum_w": sum_w, "norm2_w": norm2_w}


def _shift_z(cfg, pred, ev, a, act):
    g, s2 = pred[act]["gamma"], pred[act]["sigma_gamma2"]
    if cfg["hypothesis"] == "formula":
        predicted = g * ev["sum_w"][:, a]
    else:
        predicted = np.zeros_like(ev["sum_w"][:, a])
    se = np.sqrt(s2 * ev["norm2_w"][:, a] / cfg["samples"])
    return (ev["mean_z"][:, a] - predicted) / se, predicted


def _shift_judge(cfg, pred, ev, alpha):
    acts = cfg["activations"]
    k = len(acts)
    fam, slopes = Family(alpha, k), {}
    for a, act in enumerate(acts):
        z, predicted = _shift_z(cfg, pred, ev, a, act)
        _add(fam, act, mean_ci(np.mean(z * z, axis=1), fam.level), cfg["band"])
        x, y = np.ravel(pred[act]["gamma"] * ev["sum_w"][:, a]), np.ravel(ev["mean_z"][:, a])
        slopes[act] = {"max_abs_mean": float(np.max(np.abs(y))),
                       "rms_mean": float(np.sqrt(np.mean(y * y)))}
        if x @ x > 1e-12 * y.size:  # the formula's slope, when the formula predicts a shift
            slopes[act]["slope_measured_on_formula"] = float(x @ y / (x @ x))
    hyp = ("mean pre-activation = γ Σ_j w_j" if cfg["hypothesis"] == "formula"
           else "mean pre-activation = 0")
    what = (f"{hyp} ({cfg['weights']} weights): mean over neurons of the squared "
            f"standardised error (1 if the hypothesis holds)")
    return fam.verdict(_detail(fam, cfg["band"], what), prediction=1.0,
                       extra={"regression": slopes})
