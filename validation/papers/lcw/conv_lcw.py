"""lcw.conv_shift: the activation shift of a small ReLU conv net on digits, with and without LCW
kernels (Kutsuna 2020, arXiv:2403.13833, abstract and Sec. 6.2; ``docs/derivations/lcw_conv.md``
§1, §4). The conv layers are those of ``depthcheck.validation.papers.lcw._conv`` (im2col by
hand); the shift fraction of a conv layer pools samples and output positions per channel
(``relu_lcw.shift_fraction`` with ``axes=(1, 2)``).
"""
from __future__ import annotations

import math

import numpy as np

from depthcheck.kernels.data import load_digits_data
from depthcheck.kernels.nn.lcw import basis_apply
from depthcheck.validation.claims.stats import Family, mean_ci
from depthcheck.validation.papers.lcw._conv import ConvSpec, conv_preactivations, init_convnet
from depthcheck.validation.papers.lcw.relu_lcw import shift_fraction


def _images(rng, n):
    """n digits as (1, n, 1, 8, 8) images, pixels scaled to [0, 1] (non-negative, as image
    pipelines feed them: the input patches have a positive mean)."""
    X = load_digits_data(rng, test_fraction=0.0, standardise="unit", n_samples=n).X_train
    return X.T.reshape(1, n, 1, 8, 8)


def _shift(cfg, rng, weights, n_trials, X):
    spec = ConvSpec(convs=tuple(cfg["convs"]), k=cfg["k"], weights=weights)
    params = init_convnet(spec, rng, n_trials, gain=cfg["gain"])
    leak = cfg.get("leak", 0.0) if weights == "lcw" else 0.0
    if leak:  # mutation: each LCW kernel gets c_o 1_m/m, c_o ~ N(0, leak·g²)
        spec = ConvSpec(convs=spec.convs, k=spec.k, weights="standard")
        for l in range(len(spec.convs)):
            W = basis_apply(params[2 * l])
            c = math.sqrt(leak) * cfg["gain"] * rng.standard_normal(W.shape[:-1] + (1,))
            params[2 * l] = W + c / W.shape[-1]
    Zs = conv_preactivations(params, np.broadcast_to(X, (n_trials,) + X.shape[1:]), spec)
    return np.stack([shift_fraction(Z, axes=(1, 2)) for Z in Zs], axis=1)


def conv_shift_simulate(cfg, rng, n_trials, backend):
    X = _images(rng, cfg["samples"])
    return {"R_standard": _shift(cfg, rng, "standard", n_trials, X),
            "R_lcw": _shift(cfg, rng, cfg.get("arm", "lcw"), n_trials, X)}


def conv_shift_judge(cfg, pred, ev, alpha):
    bounds = cfg["max_lcw"]
    fam = Family(alpha, len(bounds))
    for l, b in enumerate(bounds):
        est = mean_ci(ev["R_lcw"][:, l], fam.level)
        fam.add_upper(f"LCW conv{l + 1}: R ≤ {b:g}", est.estimate, est.ci, b)
    std, lcw = ev["R_standard"].mean(axis=0), ev["R_lcw"].mean(axis=0)
    parts = "; ".join(f"{p['name']}: {p['statistic']:.4f} [{p['ci'][0]:.4f}, {p['ci'][1]:.4f}]"
                      for p in fam.parts)
    detail = (f"ReLU conv net 1 → {' → '.join(map(str, cfg['convs']))} channels, {cfg['k']}×"
              f"{cfg['k']} valid convs, {cfg['samples']} digits in [0, 1]: shift fraction R "
              f"(share of E z² in per-channel means over images and positions) standard "
              f"{np.round(std, 4).tolist()}, LCW arm {np.round(lcw, 4).tolist()}; {parts}. "
              f"Decisive: {fam.decisive()['name']} → {fam.decision}.")
    return fam.verdict(detail, extra={"R_standard_per_layer": std.tolist(),
                                      "R_lcw_per_layer": lcw.tolist()})
