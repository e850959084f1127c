"""The four gradient claims of Meterez et al. 2024 (arXiv:2310.02012) (Figs. 2, 3, 5, G6): log-
gradient curves over depth, their two-fit judge (a·L and b·ln L over a window of at least
1.5 decades of depth) and the calibrated mutations (evidence transforms of size δ)."""
from __future__ import annotations

import math

import numpy as np

from depthcheck.kernels.data import image_batch
from depthcheck.kernels.nn.norms import norm_forward
from depthcheck.kernels.random.haar import sample_stiefel
from depthcheck.kernels import simulate_chain
from depthcheck.kernels.nn.activations import activation_forward
from depthcheck.validation.claims.stats import Family, slope_ci
from depthcheck.validation.papers.bn_orthogonal._common import _chain_backend, _g


def _gains(arm, depth):
    """Per-chain-layer gains: the authors' code for Meterez et al. 2024 (arXiv:2310.02012),
    Sec. 5, uses g = (l+1)^(-r) at its layer l = 0..L-1 (the paper's α_l = l^(-r), 1-indexed);
    chain layer j = 1..L-1 is code layer j, so g_j = (j+1)^(-r)."""
    r = float(arm.get("gain_exponent", 0.0))
    return (np.arange(1, depth + 1, dtype=np.float64) + 1.0) ** (-r)


def _grad_input(cfg, rng, n_trials, arm):
    """Chain input X_0 = act(norm(fc_0 x)) per trial, with fc_0 a Haar semi-orthogonal d × p
    map (Gaussian N(0, 2/(p+d)) = xavier-normal for Gaussian weights) of the fixed image batch."""
    batch = image_batch(cfg["n"], np.random.default_rng([cfg["data_seed"], 0]),
                        source=cfg["source"], repeat=cfg["repeat"])
    p, d = batch.shape[0], cfg["d"]
    if cfg["weights"] == "haar":
        F = np.swapaxes(sample_stiefel((n_trials,), p, d, rng), -1, -2)
    else:
        F = rng.standard_normal((n_trials, d, p)) * math.sqrt(2.0 / (p + d))
    X0, _ = norm_forward(cfg["norm"], F @ batch)
    return activation_forward(arm["activation"], X0)


def gradient_curves(cfg, rng, n_trials, backend="numpy"):
    """log ||∇_{W_1} L||_F of networks of each depth in ``cfg["depths"]`` (Fig. 3 protocol).

    A network of depth L (the authors' ``num_layers``) is fc_0 (p → d), L − 1 square layers
    fc_1..fc_{L−1}, each followed by norm (and gain·activation), and a semi-orthogonal readout
    fc_L (d → n_out), cross-entropy on fixed random labels. ∇_{W_1} is the gradient at fc_1, the
    first d × d layer (the authors' ``fc_1.weight``). The depths of one trial share their
    weights (nested networks: the first layers of the deepest net are the shallower nets'),
    which only correlates the points of one curve (the slope is judged per trial). This is the
    ``simulate`` of the four gradient claims (``bn_orthogonal.bounded_gradients``,
    ``degenerate_input_explodes``, ``bounded_gradients_centred``, ``activation_shaping``).

    Parameters
    ----------
    cfg : dict
        The claim configuration: ``d`` (width), ``n`` (batch size), ``source`` and
        ``data_seed`` (the fixed image batch of :func:`depthcheck.kernels.data.image_batch`,
        each image repeated ``repeat`` times), ``depths`` (network depths L >= 2), ``n_out``
        (classes, ``n_out <= d``), ``weights`` ("haar" or "gaussian"), ``norm`` (a norm of
        :mod:`depthcheck.kernels.nn.norms`) and ``arms``, a list of ``{"activation": ...,
        "gain_exponent": r}`` (gain ``(l+1)^(-r)`` before the activation of layer l).
    rng : numpy.random.Generator
        Source of the weights (fc_0 per arm, then one stream per arm for the chain).
    n_trials : int
        Independent networks per depth.
    backend : str, optional
        Chain engine (default "numpy"), passed to
        :func:`depthcheck.kernels.chain.driver.simulate_chain`.

    Returns
    -------
    dict
        ``{"log_grad_{i}": array of shape (n_trials, len(cfg["depths"]))}`` for each arm i,
        natural log of the Frobenius norm.

    Raises
    ------
    ValueError
        From the engine, naming the argument: e.g. ``n_out > d``, an unknown norm or
        activation, or a backend that cannot run this request.

    References
    ----------
    Meterez et al. 2024, arXiv:2310.02012, Theorem 5 and Figures 2, 3, 5, G6.

    Examples
    --------
    >>> import numpy as np
    >>> cfg = {"d": 8, "n": 8, "source": "digits", "data_seed": 7, "depths": [2, 4, 8],
    ...        "n_out": 4, "weights": "haar", "norm": "bn_nomean", "repeat": 1,
    ...        "arms": [{"activation": "identity", "gain_exponent": 0.0}]}
    >>> out = gradient_curves(cfg, np.random.default_rng(0), 3)
    >>> sorted(out), out["log_grad_0"].shape
    (['log_grad_0'], (3, 3))
    >>> bool(np.all(np.isfinite(out["log_grad_0"])))
    True
    """
    labels = np.random.default_rng([cfg["data_seed"], 1]).integers(0, cfg["n_out"], cfg["n"])
    out = {}
    for i, arm in enumerate(cfg["arms"]):
        X0 = _grad_input(cfg, rng, n_trials, arm)
        seed = int(rng.integers(0, 2**62))
        G = np.empty((n_trials, len(cfg["depths"])))
        for j, L in enumerate(cfg["depths"]):
            depth = int(L) - 1
            o = simulate_chain(X0, depth, trials=n_trials, rng=np.random.default_rng(seed),
                               weights=cfg["weights"], norm=cfg["norm"],
                               activation=arm["activation"], order="norm_act",
                               gains=_gains(arm, depth), record=(), record_every=depth,
                               gradients=True, labels=labels, n_out=cfg["n_out"],
                               backend=_chain_backend(backend))
            G[:, j] = o["log_grad_norm"][:, 0]
        out[f"log_grad_{i}"] = G
    return out


def _arm_name(arm):
    r = float(arm.get("gain_exponent", 0.0))
    return arm["activation"] + (f", gain (l+1)^-{r:g}" if r else "")


#: The smallest span of the judged depth window, in decades (L1/L0 >= 10**1.5): over a shorter
#: window a logarithmic growth b·log L cannot be told from a bounded curve at any useful b.
MIN_DECADES = 1.5


def _window(cfg):
    """All depths as floats and the mask of the judged window (L >= window_start); raises if
    the window holds fewer than 3 depths. The claims' windows span >= MIN_DECADES (a test
    checks their configurations)."""
    x = np.asarray(cfg["depths"], dtype=float)
    w = x >= cfg["window_start"]
    if w.sum() < 3:
        raise ValueError(f"window_start={cfg['window_start']} leaves {int(w.sum())} depths of "
                         f"{cfg['depths']}: the two fits need at least 3")
    return x, w


def linear_delta(cfg):
    """The per-layer rate a_δ that rises over the judged window [L0, L1] by as much as a
    logarithmic growth of ``cfg["delta"]`` per e-fold does: a_δ = δ ln(L1/L0) / (L1 − L0).

    The linear fit's bound a_δ/2 is the per-layer counterpart of the log fit's δ/2, so both fits
    ask the same question ("does the curve rise by more than half of δ·ln(L1/L0) over the
    window?") in their own units.

    Examples
    --------
    >>> round(linear_delta({"depths": [50, 100, 1600], "window_start": 50, "delta": 0.1}), 7)
    0.0002236
    """
    x, w = _window(cfg)
    l0, l1 = x[w].min(), x[w].max()
    return float(float(cfg["delta"]) * math.log(l1 / l0) / (l1 - l0))


def _decades(cfg):
    x, w = _window(cfg)
    return math.log10(x[w].max() / x[w].min())


# ---------------------------------------------------------------- mutations (evidence transforms)
def _arms_keys(ev):
    return [k for k in ev if k.startswith("log_grad_")]


def _set_trend(cfg, ev, basis, rate):
    """Every arm's curves with the common trend of their mean over the judged window, on
    ``basis`` (ln L or L), replaced by ``rate`` per unit of ``basis``: the mean fitted slope
    becomes exactly ``rate``, the trial-to-trial spread stays the claim's own."""
    x, w = _window(cfg)
    u = basis(x)
    uc = u[w] - u[w].mean()
    out = dict(ev)
    for k in _arms_keys(ev):
        m = np.asarray(ev[k]).mean(axis=0)
        slope = float((m[w] - m[w].mean()) @ uc / (uc @ uc))
        out[k] = ev[k] + (rate - slope) * (u - u[w].mean())
    return out


def log_growth(cfg, ev):
    """Mutation: the truth grows as a power L^δ (δ per e-fold of depth): the claim's curves with
    their common log trend over the judged window replaced by δ·ln L (exactly calibrated: the
    mean slope per e-fold becomes δ; same random numbers, same spread)."""
    return _set_trend(cfg, ev, np.log, float(cfg["delta"]))


def layer_growth(cfg, ev):
    """Mutation: the truth grows by a_δ per layer (:func:`linear_delta`), as if the backward
    signal of a flat curve were scaled by (1 + ε) per layer, ε = e^{a_δ} − 1: the claim's curves
    with their common per-layer trend over the judged window replaced by a_δ·L (exactly
    calibrated; same random numbers, same spread)."""
    return _set_trend(cfg, ev, lambda x: x, linear_delta(cfg))


def bounded_truth(cfg, ev):
    """Mutation: the truth is bounded (no trend): the claim's curves with their common per-layer
    trend over the judged window removed, so the mean per-layer slope is exactly 0 while the
    trial-to-trial spread is the claim's own."""
    return _set_trend(cfg, ev, lambda x: x, 0.0)


def _fits(x, w, G, level):
    """Per-trial OLS slopes over the window on L (per layer) and on ln L (per e-fold)."""
    return slope_ci(x[w], G[:, w], level).slope, slope_ci(np.log(x[w]), G[:, w], level).slope


def _grad_judge(cfg, pred, ev, alpha):
    """Judge of the four gradient claims.

    ``mode == "bounded"``: for every arm, two fits of log||∇W_1|| over the judged window, a·L
    (per-layer slope) and b·ln L (slope per e-fold), each below its bound, a_δ/2
    (:func:`linear_delta`) and δ/2 (Theorem 5 is an upper bound: a falling curve is bounded);
    PASS if every upper confidence limit is below its bound, FAIL if any lower one is above
    (Bonferroni over the 2 × arms comparisons). A growth of δ per e-fold or of a_δ per layer
    FAILs once the half-widths are below δ/2 and a_δ/2.

    ``mode == "explodes"``: for every arm, the per-layer slope a is at least δ (the lower
    confidence limit above δ: PASS; the upper one below: FAIL).
    """
    x, w = _window(cfg)
    delta = float(cfg["delta"])
    arms = cfg["arms"]
    bounded = cfg["mode"] == "bounded"
    k = len(arms) * (2 if bounded else 1)
    fam, info = Family(alpha, k), {}
    a_delta = linear_delta(cfg)
    lo_l, hi_l = x[w].min(), x[w].max()
    for i, arm in enumerate(arms):
        G = ev[f"log_grad_{i}"]
        lin, log = _fits(x, w, G, fam.level)
        name = _arm_name(arm)
        if bounded:
            fam.add_upper(f"{name}: per-layer slope a of log||∇W_1|| on L ∈ [{lo_l:g}, "
                          f"{hi_l:g}]", lin.estimate, lin.ci, a_delta / 2)
            fam.add_upper(f"{name}: slope b of log||∇W_1|| per e-fold of L ∈ [{lo_l:g}, "
                          f"{hi_l:g}]", log.estimate, log.ci, delta / 2)
        else:
            fam.add_lower(f"{name}: per-layer slope a of log||∇W_1|| on L ∈ [{lo_l:g}, "
                          f"{hi_l:g}]", lin.estimate, lin.ci, delta)
        info[name] = {"slope_per_layer": lin.estimate, "slope_per_layer_ci": list(lin.ci),
                      "slope_per_efold": log.estimate, "slope_per_efold_ci": list(log.ci),
                      "half_width_per_layer": (lin.ci[1] - lin.ci[0]) / 2,
                      "half_width_per_efold": (log.ci[1] - log.ci[0]) / 2,
                      "mean_log_grad": G.mean(axis=0).tolist(),
                      "sd_log_grad": G.std(axis=0, ddof=1).tolist()}
    if bounded:
        claim = (f"bounded (no growth): a <= a_δ/2 = {a_delta / 2:.3g} /layer and b <= δ/2 = "
                 f"{delta / 2:g} /e-fold")
    else:
        claim = f"explodes: a >= δ = {delta:g} nats/layer"
    what = (f"{cfg['weights']} weights, norm {cfg['norm']!r}, d = {cfg['d']}, n = {cfg['n']} "
            f"({cfg['source']} batch" + (f", each image repeated {cfg['repeat']}×" if
                                         cfg["repeat"] > 1 else "") + f"), depths "
            f"{cfg['depths']}; judged on L ∈ [{lo_l:g}, {hi_l:g}] ({_decades(cfg):.2f} decades; "
            f"earlier depths are the transient while φ falls from φ(X0)); {claim}. Fits: "
            + "; ".join(f"{n}: a = {v['slope_per_layer']:.3g} [{v['slope_per_layer_ci'][0]:.3g}, "
                        f"{v['slope_per_layer_ci'][1]:.3g}] /layer, b = {v['slope_per_efold']:.3g} "
                        f"[{v['slope_per_efold_ci'][0]:.3g}, {v['slope_per_efold_ci'][1]:.3g}] "
                        f"/e-fold" for n, v in info.items()))
    return fam.verdict(fam.summary(what, fmt=_g),
                       extra={"arms": info, "delta": delta, "a_delta": a_delta,
                              "window": [lo_l, hi_l], "decades": _decades(cfg),
                              "depths": cfg["depths"]})
