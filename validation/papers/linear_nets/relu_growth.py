"""linear_nets.relu_rate_ratio (a finding): the NON-squared norms of adjacent layers of a bias-free
ReLU net grow at rates in the ratio of their norms, so Conjecture 4 of Basu et al. 2019
(arXiv:1904.10689) holds from t = 0 for layers with equal norms and fails for the output layer.

Du, Hu & Lee 2018 (arXiv:1806.00900): for a positively homogeneous activation and no biases,
⟨W_j, ∂L/∂W_j⟩ is the same for every layer j, so under gradient flow d||W_j||²/dt is the same for
every layer and d||W_j||/dt = (d||W_j||²/dt)/(2||W_j||): the rate ratio of adjacent layers is
(d||W_(j+1)||/dt)/(d||W_j||/dt) = ||W_j||/||W_(j+1)|| at every time
(docs/derivations/linear_nets_convergence.md §4). Measured from GD over the window [T/2, T] as
ρ_j = log(Δ||W_(j+1)||/Δ||W_j||), against the exact prediction for equal squared growth,
log((||W_j||_a + ||W_j||_b)/(||W_(j+1)||_a + ||W_(j+1)||_b)) (a, b the window's ends).
"""
from __future__ import annotations

import math

import numpy as np

from depthcheck.kernels.data import load_digits_data
from depthcheck.kernels.nn.mlp import MLPSpec, init_mlp, make_loss_and_grad
from depthcheck.kernels.nn.training import frobenius_norms, train
from depthcheck.validation.claims.stats import Family, mean_ci
from depthcheck.validation.papers.linear_nets._common import _fmt


def balanced_output_gain(widths):
    """The output gain g with E||W_N||² = E||W_(N−1)||² under He init (hidden gain √2).

    E||W||² = d_out·d_in·g²/d_in = d_out g² for a layer of fan-in d_in, so the output layer
    (d_N outputs) matches the last hidden layer (2 d_(N−1)) at g = √(2 d_(N−1)/d_N).
    """
    return math.sqrt(2.0 * widths[-2] / widths[-1])


def rate_ratios(w_a, w_b):
    """Measured and predicted log rate ratios of adjacent layers over a window.

    Parameters
    ----------
    w_a, w_b : numpy.ndarray
        Non-squared Frobenius norms ||W_j|| at the window's start and end, shape ``(..., L)``.

    Returns
    -------
    rho : numpy.ndarray
        log(Δ||W_(j+1)|| / Δ||W_j||), shape ``(..., L − 1)``.
    pred : numpy.ndarray
        log((||W_j||_a + ||W_j||_b)/(||W_(j+1)||_a + ||W_(j+1)||_b)): the value of ``rho`` when
        every layer's squared norm grows by the same amount (Du, Hu & Lee 2018).

    Raises
    ------
    ValueError
        If the shapes differ or some layer's norm did not grow over the window.
    """
    w_a, w_b = np.asarray(w_a, float), np.asarray(w_b, float)
    if w_a.shape != w_b.shape or w_a.shape[-1] < 2:
        raise ValueError(f"w_a and w_b must have one equal shape (..., L >= 2), got "
                         f"{w_a.shape} and {w_b.shape}")
    dw = w_b - w_a
    if np.any(dw <= 0):
        raise ValueError("w_b: every layer's norm must grow over the window (lengthen T)")
    rho = np.log(dw[..., 1:] / dw[..., :-1])
    s = w_a + w_b
    return rho, np.log(s[..., :-1] / s[..., 1:])


def _growth_simulate(cfg, rng, n_trials, backend):
    B, widths = n_trials, cfg["widths"]
    Xs, ys = [], []
    for _ in range(B):
        ds = load_digits_data(rng, test_fraction=0.0, standardise="unit",
                              n_samples=cfg["n_samples"])
        Xs.append(ds.X_train)
        ys.append(ds.y_train)
    X, y = np.stack(Xs), np.stack(ys)
    spec = MLPSpec(tuple(widths), activation="relu", loss="xent", bias=False)
    g_out = balanced_output_gain(widths) if cfg["output_init"] == "balanced" else math.sqrt(2.0)
    P0 = init_mlp(spec, rng, trials=B, gain=math.sqrt(2.0), output_gain=g_out)
    wi = spec.weight_index()
    f = make_loss_and_grad(spec, X, y)
    K = int(round(cfg["T"] / cfg["eta"]))
    n_rec = cfg["n_records"]
    if K % n_rec or n_rec % 2:
        raise ValueError(f"T/eta = {K} steps must be a multiple of n_records = {n_rec} (even)")
    # output_lr ≠ 1 (the mutation): the output layer trains at output_lr·η, e.g. a parameter
    # group's learning-rate multiplier left on
    scale = [cfg["output_lr"] if i == wi[-1] else 1.0 for i in range(len(P0))]
    res = train(P0, f, steps=K, lr=cfg["eta"], lr_scale=scale,
                record={"F": lambda P, loss, grads: frobenius_norms([P[i] for i in wi])},
                record_every=K // n_rec)
    w = np.sqrt(np.moveaxis(res.history["F"], 0, 1))  # (B, n_t, L), non-squared norms
    h = w.shape[1] // 2
    rho, pred = rate_ratios(w[:, h], w[:, -1])
    ratio0 = np.log(w[:, 0, :-1] / w[:, 0, 1:])  # the flow's log rate ratios at t = 0
    return {"rho": rho, "pred": pred, "ratio0": ratio0, "w": w,
            "t": np.broadcast_to(res.history["step"] * cfg["eta"], (B, w.shape[1])).copy(),
            "loss": np.moveaxis(res.history["loss"], 0, 1)}


def _growth_judge(cfg, pred, ev, alpha):
    L = ev["rho"].shape[1]
    fam = Family(alpha, L + 1)
    lo, hi = -cfg["delta"] / 2, cfg["delta"] / 2
    err = ev["rho"] - ev["pred"]
    for j in range(L):
        est = mean_ci(err[:, j], fam.level)
        fam.add_within(f"Du–Hu–Lee ratio, pair ({j + 1},{j + 2})", est.estimate, est.ci, lo, hi)
    out = mean_ci(ev["rho"][:, -1], fam.level)
    fam.add_lower("output pair log rate ratio >= δ (Conjecture 4 says → 0)", out.estimate,
                  out.ci, cfg["delta"])
    w = ev["w"]
    rho_m = ev["rho"].mean(0)
    detail = fam.summary(
        "log(Δ||W_(j+1)||/Δ||W_j||) over [T/2, T] minus the Du–Hu–Lee value log of the norm "
        "ratio, within ±δ/2 for each adjacent pair, and the output pair's log rate ratio >= δ",
        fmt=_fmt)
    detail += (f" Finding vs Conjecture 4 (d||W_j||/dt ≈ d||W_(j+1)||/dt for the upper layers "
               f"as t → ∞): the non-squared rates are in the ratio of the norms at every time, "
               f"so the log rate ratios (late window) {[_fmt(v) for v in rho_m]} (at t = 0: "
               f"{[_fmt(v) for v in ev['ratio0'].mean(0)]}) are set by the initial norm "
               f"gaps: ≈ 0 from t = 0 for layers of equal He norm (no transient needed) and "
               f"{_fmt(math.exp(rho_m[-1]))}× for the output pair (||W||_F at T: "
               f"{[_fmt(v) for v in w[:, -1].mean(0)]}); it tends to 1 only as the common "
               f"squared-norm growth g(t) → ∞, with log ratio ≈ (||W_(N−1)||² − ||W_N||²)/(2g) "
               f"at large g. Final loss {_fmt(ev['loss'][:, -1].mean())}, widths "
               f"{cfg['widths']}.")
    return fam.verdict(detail, extra={"rho_mean": rho_m.tolist(),
                                      "err_mean": err.mean(0).tolist(),
                                      "ratio0_mean": ev["ratio0"].mean(0).tolist()})
