"""Meterez et al. 2024 (arXiv:2310.02012), Section 6 / Figure 6 and Appendix F (Figs. F1, F2):
during SGD the middle layers' weights stay close to orthogonal while the first and last layers
move (shaped sin / tanh MLP with BN and Haar initialisation).

Per trial one network of depth L is trained by minibatch SGD (:mod:`._training`); at the end,
φ(W_l) (the isometry gap of the weight's Gram matrix, 0 for an orthogonal matrix) is measured for
every layer. The judged statistic is s = log(φ_mid / φ_end), φ_mid the mean gap of the middle
hidden layers (l in [L/4, 3L/4]) and φ_end the mean gap of fc_0 and of the readout fc_L.

For comparison (reported, not judged) each middle layer's gap is divided by the gap that a
displacement of the same Frobenius norm in a random direction would give, W_l(0) + ‖ΔW_l‖_F·G/‖G‖_F
with G i.i.d. Gaussian: a ratio near 1 says the middle layers stay orthogonal because they move
little, a ratio ≪ 1 that their updates are close to rotations (the "implicit bias" of Sec. 6).
"""
from __future__ import annotations

import numpy as np

from depthcheck.validation.claims.stats import Family, mean_ci
from depthcheck.validation.papers.bn_orthogonal._training import (digits_train, init_weights, sgd,
                                                                  weight_isometry_gap)


def middle_layers(depth: int):
    """Hidden layers l with L/4 <= l <= 3L/4 (1 <= l <= L − 1).

    Examples
    --------
    >>> middle_layers(12)
    [3, 4, 5, 6, 7, 8, 9]
    """
    return [l for l in range(1, depth) if depth / 4 <= l <= 3 * depth / 4]


def _ortho_simulate(cfg, rng, n_trials, backend="numpy"):
    """Per activation arm: the gap φ(W_l) of every layer after training, shape
    (n_trials, L + 1), and the middle layers' gap ratio to a random displacement of the same
    size, shape (n_trials,)."""
    X, y = digits_train(cfg["split_seed"])
    depth = int(cfg["depth"])
    mid = middle_layers(depth)
    out = {}
    for i, act in enumerate(cfg["activations"]):
        Ws = init_weights(rng, n_trials, X.shape[0], cfg["d"], depth, cfg["n_out"],
                          cfg["weights"], gaussian_layers=cfg.get("gaussian_layers", ()))
        lr = np.full(depth + 1, float(cfg["lr"]))
        lr[mid] *= float(cfg.get("middle_lr_factor", 1.0))
        keep = cfg.get("middle_sym_keep")
        W_end, _, _, diverged = sgd(Ws, X, y, rng, steps=cfg["steps"], lr=lr, batch=cfg["n"],
                          norm=cfg["norm"], activation=act, gain_exponent=cfg["gain_exponent"],
                          sym_keep=None if keep is None else {l: float(keep) for l in mid})
        if diverged.any():
            raise FloatingPointError(f"{int(diverged.sum())} of {n_trials} {act} trials "
                                     f"diverged (float64 overflow): lower cfg['lr']")
        out[f"gap_{i}"] = np.stack([weight_isometry_gap(W) for W in W_end], axis=1)
        ratios = []
        for l in mid:
            D = W_end[l] - Ws[l]
            G = rng.standard_normal(D.shape)
            scale = np.linalg.norm(D, axis=(-2, -1)) / np.linalg.norm(G, axis=(-2, -1))
            G *= scale[:, None, None]
            ratios.append(weight_isometry_gap(W_end[l]) / weight_isometry_gap(Ws[l] + G))
        out[f"random_ratio_{i}"] = np.mean(ratios, axis=0)
        out[f"rel_disp_{i}"] = np.stack(
            [np.linalg.norm(a - b, axis=(-2, -1)) / np.linalg.norm(b, axis=(-2, -1))
             for a, b in zip(W_end, Ws)], axis=1)
    return out


def log_ratio(cfg, gaps):
    """Per-trial s = log(φ_mid / φ_end) from gaps of shape (trials, L + 1)."""
    mid = middle_layers(int(cfg["depth"]))
    g = np.asarray(gaps, dtype=float)
    return np.log(g[:, mid].mean(axis=1)) - np.log(0.5 * (g[:, 0] + g[:, -1]))


def _ortho_judge(cfg, pred, ev, alpha):
    """For every activation arm, s <= log(rho) (the middle layers' gap is at most rho times the
    end layers'): PASS if every upper limit is below, FAIL if any lower limit is above
    (Bonferroni over the arms)."""
    bound = float(np.log(cfg["rho"]))
    fam = Family(alpha, len(cfg["activations"]))
    info = {}
    for i, act in enumerate(cfg["activations"]):
        g = np.asarray(ev[f"gap_{i}"], dtype=float)
        s = mean_ci(log_ratio(cfg, g), fam.level)
        fam.add_upper(f"{act}: log(φ_mid/φ_end)", s.estimate, s.ci, bound)
        rr = np.asarray(ev[f"random_ratio_{i}"], dtype=float)
        disp = np.asarray(ev[f"rel_disp_{i}"], dtype=float).mean(axis=0)
        mid = middle_layers(int(cfg["depth"]))
        info[act] = {"log_ratio": s.estimate, "log_ratio_ci": list(s.ci),
                     "mean_gap_per_layer": g.mean(axis=0).tolist(),
                     "rel_displacement_per_layer": disp.tolist(),
                     "middle_gap_over_random_displacement_gap": float(rr.mean()),
                     "middle_rel_displacement": float(disp[mid].mean()),
                     "end_rel_displacement": [float(disp[0]), float(disp[-1])]}
    what = (f"{cfg['weights']} init, norm {cfg['norm']!r}, gain l^-{cfg['gain_exponent']:g}, "
            f"depth {cfg['depth']}, d = {cfg['d']}, {cfg['steps']} SGD steps (lr {cfg['lr']}, "
            f"batch {cfg['n']}); claim: φ_mid <= {cfg['rho']:g}·φ_end, i.e. log ratio <= "
            f"{bound:.3g}. "
            + "; ".join(f"{a}: log ratio {v['log_ratio']:.3g} [{v['log_ratio_ci'][0]:.3g}, "
                        f"{v['log_ratio_ci'][1]:.3g}], relative displacement middle "
                        f"{v['middle_rel_displacement']:.3g} vs ends "
                        f"{v['end_rel_displacement'][0]:.3g}/{v['end_rel_displacement'][1]:.3g}, "
                        f"middle gap / gap of a random displacement of the same size "
                        f"{v['middle_gap_over_random_displacement_gap']:.3g}"
                        for a, v in info.items()))
    return fam.verdict(fam.summary(what), extra={"arms": info, "bound": bound})


def _rotation_judge(cfg, pred, ev, alpha):
    """Finding: for every activation arm, E log q >= −δ/2, q the middle layers' gap over the gap
    of a random displacement of the same size (no rotation bias of more than a factor e^{δ/2}):
    PASS if every lower limit is above, FAIL if any upper limit is below (Bonferroni)."""
    delta = float(cfg["delta"])
    fam = Family(alpha, len(cfg["activations"]))
    info = {}
    mid = middle_layers(int(cfg["depth"]))
    for i, act in enumerate(cfg["activations"]):
        q = np.log(np.asarray(ev[f"random_ratio_{i}"], dtype=float))
        est = mean_ci(q, fam.level)
        fam.add_lower(f"{act}: log(φ(W_mid) / φ(W_mid(0) + random Δ of the same norm))",
                      est.estimate, est.ci, -delta / 2)
        disp = np.asarray(ev[f"rel_disp_{i}"], dtype=float).mean(axis=0)
        info[act] = {"log_q": est.estimate, "log_q_ci": list(est.ci),
                     "q": float(np.exp(est.estimate)),
                     "middle_rel_displacement": float(disp[mid].mean()),
                     "middle_gap": float(np.asarray(ev[f"gap_{i}"])[:, mid].mean())}
    what = (f"{cfg['weights']} init, norm {cfg['norm']!r}, gain l^-{cfg['gain_exponent']:g}, "
            f"depth {cfg['depth']}, d = {cfg['d']}, {cfg['steps']} SGD steps (lr {cfg['lr']})"
            + ("" if cfg.get("middle_sym_keep") is None else
               f", middle layers' symmetric gradient part kept at {cfg['middle_sym_keep']:g}")
            + f"; finding: log q >= −δ/2 = {-delta / 2:.3g} (q = e^{{log q}}). "
            + "; ".join(f"{a}: q = {v['q']:.3g}, log q = {v['log_q']:.3g} [{v['log_q_ci'][0]:.3g}, "
                        f"{v['log_q_ci'][1]:.3g}], middle displacement "
                        f"{v['middle_rel_displacement']:.3g}, middle gap {v['middle_gap']:.3g}"
                        for a, v in info.items()))
    return fam.verdict(fam.summary(what), extra={"arms": info, "delta": delta})
