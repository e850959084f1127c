"""The four gradient claims of Meterez et al. 2024 (arXiv:2310.02012) (Figs. 2, 3, 5, G6): log-
gradient curves over depth and their slope judge."""
from __future__ import annotations

import math

import numpy as np

from depthcheck.kernels.data import image_batch
from depthcheck.kernels.nn.norms import norm_forward
from depthcheck.kernels.random.haar import sample_stiefel
from depthcheck.validation.claims.stats import decide_lower, decide_within, slope_ci
from depthcheck.validation.papers.bn_orthogonal._common import _chain_backend, _part
from depthcheck.kernels import simulate_chain
from depthcheck.kernels.nn.activations import activation_forward
from depthcheck.validation.claims.stats import Family
from depthcheck.validation.papers.bn_orthogonal._common import _g


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


def _grad_judge(cfg, pred, ev, alpha):
    x = np.asarray(cfg["depths"], dtype=float)
    w = x >= cfg["window_start"]
    b = cfg["band"]
    k = len(cfg["arms"])
    fam, info = Family(alpha, k), {}
    for i, arm in enumerate(cfg["arms"]):
        G = ev[f"log_grad_{i}"]
        fit = slope_ci(x[w], G[:, w], alpha / k)
        full = slope_ci(x, G, alpha / k)
        s = fit.slope
        if cfg["mode"] == "bounded":
            dec = decide_within(s.ci, -b, b)
            margin = b - max(abs(s.ci[0]), abs(s.ci[1]))
            pr = 0.0
        else:
            dec = decide_lower(s.ci, b)
            margin = s.ci[0] - b
            pr = b
        name = _arm_name(arm)
        fam.add(**_part(f"{name}: slope of E log||∇W_1|| per layer, depths >= "
                        f"{cfg['window_start']}", dec, s.estimate, s.ci, pr, margin))
        info[name] = {"slope_window": s.estimate, "slope_window_ci": list(s.ci),
                      "slope_all_depths": full.slope.estimate,
                      "slope_all_depths_ci": list(full.slope.ci),
                      "mean_log_grad": G.mean(axis=0).tolist(),
                      "sd_log_grad": G.std(axis=0, ddof=1).tolist()}
    claim = ("bounded: slope within ±" if cfg["mode"] == "bounded" else "explodes: slope >= ")
    what = (f"{cfg['weights']} weights, norm {cfg['norm']!r}, d = {cfg['d']}, n = {cfg['n']} "
            f"({cfg['source']} batch" + (f", each image repeated {cfg['repeat']}×" if
                                         cfg["repeat"] > 1 else "") + f"), depths "
            f"{cfg['depths']}; judged on depths >= {cfg['window_start']} (earlier depths are the "
            f"transient while φ falls from φ(X0)); {claim}{b} nats/layer. Slopes: "
            + "; ".join(f"{n}: {v['slope_window']:.4g} [{v['slope_window_ci'][0]:.4g}, "
                        f"{v['slope_window_ci'][1]:.4g}] (all depths {v['slope_all_depths']:.4g})"
                        for n, v in info.items()))
    return fam.verdict(fam.summary(what, fmt=_g), extra={"arms": info, "band": b, "depths": cfg["depths"]})
