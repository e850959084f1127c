"""Shared helpers of the Kutsuna 2020 (arXiv:2403.13833) claims: layer weights, P_γ inputs, and the
band judge of a family."""
from __future__ import annotations

import math

from depthcheck.kernels.nn.activations import activation_forward
from depthcheck.kernels.nn.lcw import basis_apply
from depthcheck.theory import lcw as th


def _layer_weights(rng, kind, trials, n, m, gain):
    """(trials, n, m) weights with E‖w_i‖² = gain²: standard i.i.d. N(0, g²/m), or LCW
    w_i = B_m v_i with v i.i.d. N(0, g²/(m − 1)) (depthcheck.kernels.nn.lcw, O(m) per row)."""
    if kind == "standard":
        sd = math.sqrt(th.init_variance("standard", m, gain))
        return sd * rng.standard_normal((trials, n, m))
    V = math.sqrt(th.init_variance("lcw", m, gain)) * rng.standard_normal((trials, n, m - 1))
    return basis_apply(V)


def _inputs(rng, activation, m, N, scale, offsets):
    """a = f(scale·g + c) with g ~ N(0, 1) i.i.d. (m, N): an exact P_γ with uncorrelated
    coordinates when c = 0 (γ, σ_γ² from depthcheck.theory.lcw.activation_moments)."""
    return activation_forward(activation, scale * rng.standard_normal((m, N)) + offsets)


def _add(fam, name, est, band):
    """Judge the estimate ``est`` (its CI at ``fam.level``) against the predicted band; among
    parts of equal decision the one farthest from the prediction 1 is decisive."""
    return fam.add_within(name, est.estimate, est.ci, *band, margin=-abs(est.estimate - 1.0))


def _detail(fam, band, what):
    """``what``, the band, every estimate with its CI, and the decisive one."""
    key = fam.decisive()
    summary = "; ".join(f"{p['name']}: {p['statistic']:.4g} [{p['ci'][0]:.4g}, {p['ci'][1]:.4g}]"
                        for p in fam.parts)
    return (f"{what}, predicted band [{band[0]:g}, {band[1]:g}], Bonferroni over {fam.k} "
            f"statements: {summary}. Decisive: {key['name']} → {fam.decision}.")
