"""lcw.variance_gains: forward and backward variance gains, standard vs LCW layers (Sec. 4)."""
from __future__ import annotations

import numpy as np

from depthcheck.theory import lcw as th
from depthcheck.validation.claims.stats import mean_ci
from depthcheck.validation.papers.lcw._common import _inputs, _layer_weights
from depthcheck.validation.claims.stats import Family
from depthcheck.validation.papers.lcw._common import _add, _detail


def _gain_predict(cfg):
    m, n, g = cfg["m"], cfg["n"], cfg["gain"]
    s_w2 = th.init_variance("standard", m, g)
    s_v2 = th.init_variance("lcw", m, g)
    out = {"sigma_w2": s_w2, "sigma_v2": s_v2,
           "backward": {"standard": th.backward_gain_standard(n, s_w2),
                        "lcw": th.backward_gain_lcw(n, m, s_v2)},
           "forward": {}, "moments": {}}
    for act in cfg["activations"]:
        gam, s2 = th.activation_moments(act, cfg["input_scale"])
        out["moments"][act] = {"gamma": gam, "sigma_gamma2": s2}
        fwd_std = th.forward_gain_standard(m, s_w2, gam if cfg["predict_shift"] else 0.0, s2)
        out["forward"][act] = {"standard": fwd_std, "lcw": th.forward_gain_lcw(m, s_v2)}
    return out


def gain_delta(cfg):
    """δ of lcw.variance_gains: the band's width (the band is 1 ± δ/2 in measured/predicted)."""
    return float(cfg["band"][1] - cfg["band"][0])


def _gain_simulate(cfg, rng, n_trials, backend):
    m, n, N = cfg["m"], cfg["n"], cfg["samples"]
    kinds = ("standard", "lcw")
    acts = cfg["activations"]
    fwd = np.empty((n_trials, len(kinds), len(acts)))
    bwd = np.empty((n_trials, len(kinds)))
    # mutation (0 in the claim): weight variances off by the factor 1 + x·δ, δ the band's width
    scale = np.sqrt(1.0 + cfg.get("variance_error_deltas", 0.0) * gain_delta(cfg))
    for t in range(n_trials):
        for k, kind in enumerate(kinds):
            W = _layer_weights(rng, kind, 1, n, m, cfg["gain"])[0] * scale
            for a, act in enumerate(acts):
                A = _inputs(rng, act, m, N, cfg["input_scale"], 0.0)
                Z = W @ A
                fwd[t, k, a] = np.mean(Z * Z)  # V(z) about 0: E z = 0 over the weights
            dZ = rng.standard_normal((n, N))  # V(δz) = 1
            dA = W.T @ dZ
            bwd[t, k] = np.mean(dA * dA)
    return {"forward_second_moment": fwd, "backward_second_moment": bwd}


def _gain_judge(cfg, pred, ev, alpha):
    acts = cfg["activations"]
    kinds = ("standard", "lcw")
    k = 2 * len(acts) + 2
    fam = Family(alpha, k)
    for ki, kind in enumerate(kinds):
        for a, act in enumerate(acts):
            s2 = pred["moments"][act]["sigma_gamma2"]
            r = ev["forward_second_moment"][:, ki, a] / s2 / pred["forward"][act][kind]
            _add(fam, f"forward {kind} {act}", mean_ci(r, fam.level), cfg["band"])
        r = ev["backward_second_moment"][:, ki] / pred["backward"][kind]
        _add(fam, f"backward {kind}", mean_ci(r, fam.level), cfg["band"])
    what = ("measured/predicted variance gain (forward V(z)/σ_γ² vs m σ_w²(1 + γ²/σ_γ²) or "
            "(m−1)σ_v²; backward V(δa)/V(δz) vs n σ_w² or n(m−1)/m σ_v²)")
    if not cfg["predict_shift"]:
        what += " with the activation-shift term γ²/σ_γ² left out of the standard forward gain"
    return fam.verdict(_detail(fam, cfg["band"], what), prediction=1.0)
