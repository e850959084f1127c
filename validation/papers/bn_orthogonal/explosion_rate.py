"""Meterez et al. 2024 (arXiv:2310.02012), Appendix E (Fig. E1): the rate of gradient explosion
of a shaped MLP X_{l+1} = σ(α Bn(W_l X_l)) at a constant gain α.

The rate of explosion at layer l is the slope of log‖∇_{W_l}L‖ in depth (App. E); we measure it
as R = −(OLS slope of log‖∇_{W_l}L‖_F on l) over a window of layers [w0, w1] of one network
of depth L (the gradient grows towards the input, so R > 0 means explosion), after the forward
transient of the first ~d layers. For each trial one set of Haar weights is used at every gain
(common random numbers), so the ratio R(α_hi)/R(α_lo) is estimated precisely; the judged
statistic is the exponent p = log(R(α_hi)/R(α_lo)) / log(α_hi/α_lo) of a power law R ∝ α^p
(Fieller interval of the ratio of mean rates, mapped through the logarithm).
"""
from __future__ import annotations

import math

import numpy as np

from depthcheck.kernels.data import image_batch
from depthcheck.kernels.nn.network import forward_backward
from depthcheck.kernels.random.haar import sample_orthogonal, sample_stiefel
from depthcheck.validation.claims.stats import Family, ratio_ci


def layer_log_grads(X, Ws, labels, *, gains, activation: str, norm: str):
    """log‖∇_{W_l}L‖_F of every layer but the readout, shape (trials, L)."""
    B = Ws[0].shape[0]
    _, grads = forward_backward(X, Ws, np.broadcast_to(labels, (B, X.shape[-1])), norm=norm,
                                activation=activation, loss="xent", gains=gains)
    return np.stack([np.log(np.linalg.norm(G, axis=(-2, -1))) for G in grads[:-1]], axis=1)


def window_rate(log_grads, w0: int, w1: int):
    """Per-trial rate R = −(OLS slope of log‖∇W_l‖ on l) over layers w0..w1 (inclusive).

    Examples
    --------
    >>> G = np.array([[5.0, 4.0, 3.0, 2.0]])        # falls by 1 per layer towards the output
    >>> float(window_rate(G, 0, 3)[0])
    1.0
    """
    x = np.arange(w0, w1 + 1, dtype=float)
    Y = np.asarray(log_grads, dtype=float)[:, w0:w1 + 1]
    xc = x - x.mean()
    return -((Y - Y.mean(axis=1, keepdims=True)) @ xc) / float(xc @ xc)


def _rate_simulate(cfg, rng, n_trials, backend="numpy"):
    """Rates R(α) for every activation arm and gain α of ``cfg["alphas"]``:
    ``rate_{i}`` of shape (n_trials, len(alphas))."""
    batch = image_batch(cfg["n"], np.random.default_rng([cfg["data_seed"], 0]), source="digits")
    labels = np.random.default_rng([cfg["data_seed"], 1]).integers(0, cfg["n_out"], cfg["n"])
    p, d, L = batch.shape[0], cfg["d"], int(cfg["depth"])
    power = float(cfg.get("gain_power", 1.0))
    out = {}
    for i, act in enumerate(cfg["activations"]):
        Ws = ([np.swapaxes(sample_stiefel((n_trials,), p, d, rng), -1, -2)]
              + [sample_orthogonal((n_trials,), d, rng) for _ in range(L - 1)]
              + [np.swapaxes(sample_stiefel((n_trials,), d, cfg["n_out"], rng), -1, -2)])
        R = np.empty((n_trials, len(cfg["alphas"])))
        for j, a in enumerate(cfg["alphas"]):
            g = np.full(L, float(a) ** power)
            g[0] = 1.0          # fc_0's layer keeps gain 1, as in the authors' code
            lg = layer_log_grads(batch, Ws, labels, gains=g, activation=act, norm=cfg["norm"])
            R[:, j] = window_rate(lg, cfg["window"][0], cfg["window"][1])
        out[f"rate_{i}"] = R
    return out


def _exponent(cfg, R, level):
    """Exponent p of R ∝ α^p between the first and last gain, with its interval."""
    a_lo, a_hi = float(cfg["alphas"][0]), float(cfg["alphas"][-1])
    est = ratio_ci(R[:, -1], R[:, 0], level)
    la = math.log(a_hi / a_lo)
    p = math.log(est.estimate) / la if est.estimate > 0 else -math.inf
    lo, hi = est.ci
    p_lo = math.log(lo) / la if lo > 0 else -1.7e308
    p_hi = math.log(hi) / la if 0 < hi < math.inf else (1.7e308 if hi > 0 else -1.7e308)
    return p, (p_lo, p_hi)


def _rate_judge(cfg, pred, ev, alpha):
    """For every activation arm, the exponent p within pred ± δ/2 (Bonferroni over arms)."""
    delta = float(cfg["delta"])
    fam = Family(alpha, len(cfg["activations"]))
    info = {}
    for i, act in enumerate(cfg["activations"]):
        R = np.asarray(ev[f"rate_{i}"], dtype=float)
        p, ci = _exponent(cfg, R, fam.level)
        fam.add_within(f"{act}: exponent p of R ∝ α^p on α ∈ [{cfg['alphas'][0]:g}, "
                       f"{cfg['alphas'][-1]:g}]", p, ci, pred - delta / 2, pred + delta / 2)
        info[act] = {"exponent": p, "exponent_ci": list(ci),
                     "mean_rate": R.mean(axis=0).tolist(),
                     "sd_rate": R.std(axis=0, ddof=1).tolist()}
    what = (f"Haar weights, norm {cfg['norm']!r}, d = n = {cfg['d']}, depth {cfg['depth']}, "
            f"rate = −slope of log||∇W_l|| over layers {cfg['window'][0]}..{cfg['window'][1]}, "
            f"gains {cfg['alphas']}; claim p = {pred:g} ± {delta / 2:g}. "
            + "; ".join(f"{a}: mean rates " + ", ".join(f"{r:.3g}" for r in v["mean_rate"])
                        + f" per layer, p = {v['exponent']:.3g} [{v['exponent_ci'][0]:.3g}, "
                          f"{v['exponent_ci'][1]:.3g}]" for a, v in info.items()))
    return fam.verdict(fam.summary(what), extra={"arms": info, "delta": delta,
                                                 "alphas": cfg["alphas"]})


def one_more_power(cfg, ev):
    """Mutation (a rate law off by one power of α, δ = 1): every rate multiplied by
    α/α_max, so that R ∝ α^{p+1} on the claim's own random numbers."""
    a = np.asarray(cfg["alphas"], dtype=float)
    return {k: np.asarray(v) * (a / a.max()) for k, v in ev.items()}


# ------------------------------------------------------------------ App. E / Fig. E2: exponent
def local_gain_prediction(cfg, r: float, p: float = 2.0) -> float:
    """Predicted R_r / R_1 over the window if the rate at each layer is the constant-gain rate
    at the local gain, R(α_l) = R(1)·α_l^p with the kernel's gain of weight index l,
    α = (l + 1)^{-r} (:func:`depthcheck.kernels.nn.network.forward_backward`'s
    ``gain_exponent``): log‖∇W_l‖ = const + Σ_{k>=l} R(α_k), and the prediction is the
    window's OLS slope of that curve divided by R(1).

    Examples
    --------
    >>> local_gain_prediction({"depth": 8, "window": [2, 6]}, 0.0)
    1.0
    """
    L = int(cfg["depth"])
    w0, w1 = cfg["window"]
    a_p = (np.arange(L, dtype=float) + 1.0) ** (-p * float(r))
    c = np.cumsum(a_p[::-1])[::-1]
    x = np.arange(w0, w1 + 1, dtype=float)
    xc = x - x.mean()
    y = c[w0:w1 + 1]
    return float(-((y - y.mean()) @ xc) / (xc @ xc))


def _shaped_simulate(cfg, rng, n_trials, backend="numpy"):
    """Window rates of one set of Haar weights per trial at unit gain (``rate_const``) and at
    the gain l^-r for every r of ``cfg["exponents"]`` (``rate_r{j}``), shape (n_trials,)."""
    batch = image_batch(cfg["n"], np.random.default_rng([cfg["data_seed"], 0]), source="digits")
    labels = np.random.default_rng([cfg["data_seed"], 1]).integers(0, cfg["n_out"], cfg["n"])
    p, d, L = batch.shape[0], cfg["d"], int(cfg["depth"])
    act = cfg["activation"]
    Ws = ([np.swapaxes(sample_stiefel((n_trials,), p, d, rng), -1, -2)]
          + [sample_orthogonal((n_trials,), d, rng) for _ in range(L - 1)]
          + [np.swapaxes(sample_stiefel((n_trials,), d, cfg["n_out"], rng), -1, -2)])
    w0, w1 = cfg["window"]
    out = {"rate_const": window_rate(layer_log_grads(batch, Ws, labels, gains=np.ones(L),
                                                     activation=act, norm=cfg["norm"]), w0, w1)}
    scale = float(cfg.get("exponent_factor", 1.0))
    for j, r in enumerate(cfg["exponents"]):
        g = (np.arange(L, dtype=float) + 1.0) ** (-scale * float(r))
        out[f"rate_r{j}"] = window_rate(layer_log_grads(batch, Ws, labels, gains=g,
                                                        activation=act, norm=cfg["norm"]),
                                        w0, w1)
    return out


def _shaped_judge(cfg, pred, ev, alpha):
    """For every exponent r, log(R_r/R_1) − log(prediction) within ±δ/2 (Fieller interval of
    the ratio of mean rates; Bonferroni over the exponents)."""
    delta = float(cfg["delta"])
    fam = Family(alpha, len(cfg["exponents"]))
    info = {}
    R1 = np.asarray(ev["rate_const"], dtype=float)
    for j, r in enumerate(cfg["exponents"]):
        Rr = np.asarray(ev[f"rate_r{j}"], dtype=float)
        q = local_gain_prediction(cfg, r)
        est = ratio_ci(Rr, R1, fam.level)
        s = math.log(est.estimate / q) if est.estimate > 0 else -1.7e308
        lo = math.log(est.ci[0] / q) if est.ci[0] > 0 else -1.7e308
        hi = math.log(est.ci[1] / q) if 0 < est.ci[1] < math.inf else (
            1.7e308 if est.ci[1] > 0 else -1.7e308)
        fam.add_within(f"gain l^-{r:g}: log(R_r/R_1) − log(local-gain prediction {q:.3g})",
                       s, (lo, hi), -delta / 2, delta / 2)
        info[f"r={r:g}"] = {"ratio": est.estimate, "ratio_ci": list(est.ci), "prediction": q,
                            "mean_rate": float(Rr.mean()), "log_error": s}
    what = (f"{cfg['activation']}, Haar weights, norm {cfg['norm']!r}, d = n = {cfg['d']}, depth "
            f"{cfg['depth']}, rates over layers {cfg['window'][0]}..{cfg['window'][1]}; unit-gain "
            f"rate R_1 = {R1.mean():.3g}/layer; claim: R_r/R_1 = local-gain prediction "
            f"(R(α) ∝ α², α_l = (l+1)^-r) within a factor e^{{±{delta / 2:g}}}. "
            + "; ".join(f"{k}: R_r = {v['mean_rate']:.3g}/layer, R_r/R_1 = {v['ratio']:.3g} "
                        f"[{v['ratio_ci'][0]:.3g}, {v['ratio_ci'][1]:.3g}] vs "
                        f"{v['prediction']:.3g}" for k, v in info.items()))
    return fam.verdict(fam.summary(what), prediction=0.0,
                       extra={"exponents": info, "delta": delta,
                              "unit_gain_rate": float(R1.mean())})
