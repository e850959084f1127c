"""Meterez et al. 2024 (arXiv:2310.02012), Section 4 / Figure 4: the gradients of a linear BN
MLP with Haar-orthogonal weights remain stable (do not grow with depth) DURING SGD training, not
only at initialisation (Theorem 5).

Per trial one network of depth L (:func:`._training.init_weights`) is trained by minibatch SGD
(:func:`._training.sgd`, the trial's own minibatch stream); at the checkpoints
``cfg["checkpoints"]`` (SGD steps, 0 = initialisation) the gradient of the cross-entropy of a
fixed evaluation batch of n = d training images (drawn per trial, as the authors' code measures
on one training batch) is taken with respect to every weight matrix. In one network the gradient
at layer l is the gradient of the first square layer of the sub-network of the L − l layers above
it, so the growth of log‖∇_{W_l}L‖_F towards the input, per layer, is the growth of
log‖∇_{W_1}L‖ with depth (Theorem 5's quantity, Figure 3) without training a network per depth.
The judged statistic at each checkpoint is the per-trial OLS slope a of log‖∇_{W_l}L‖_F on
(L − l) over a window of layers (after the input-side transient, before the readout): a > 0 is
gradient explosion at e^a per layer.
"""
from __future__ import annotations

import numpy as np

from depthcheck.kernels.nn.network import forward_backward
from depthcheck.validation.claims.stats import judge_upper, mean_ci
from depthcheck.validation.papers.bn_orthogonal._common import _g
from depthcheck.validation.papers.bn_orthogonal._training import digits_train, init_weights, sgd


def eval_indices(rng, trials: int, n: int, N: int, repeat: int = 1):
    """Per-trial evaluation batches: ``n // repeat`` distinct indices of ``range(N)`` per trial,
    each listed ``repeat`` times (``repeat = 1``: n distinct images; ``repeat = 2``: a
    degenerate batch of rank n/2, Figure 2's condition). Shape ``(trials, n)``.

    Examples
    --------
    >>> idx = eval_indices(np.random.default_rng(0), 3, 4, 10, repeat=2)
    >>> idx.shape, bool(np.all(idx[:, :2] == idx[:, 2:]))
    ((3, 4), True)
    """
    repeat = int(repeat)
    if repeat < 1 or n % repeat:
        raise ValueError(f"repeat must be a positive divisor of n={n}, got {repeat}")
    k = n // repeat
    if k > N:
        raise ValueError(f"n // repeat = {k} exceeds the {N} available images")
    idx = np.argpartition(rng.random((trials, N)), k - 1, axis=1)[:, :k]
    return np.tile(idx, (1, repeat))


def layer_log_grad_profile(Xe, Ws, ye, *, norm: str, activation: str = "identity",
                           gain_exponent=None):
    """log‖∇_{W_l}L‖_F of every layer but the readout (l = 0 .. L − 1) and the loss, for the
    batched evaluation inputs ``Xe`` (trials, p, n) and labels ``ye`` (trials, n): arrays of
    shapes (trials, L) and (trials,)."""
    loss, grads = forward_backward(Xe, Ws, ye, norm=norm, activation=activation, loss="xent",
                                   gain_exponent=gain_exponent)
    return np.stack([np.log(np.linalg.norm(G, axis=(-2, -1))) for G in grads[:-1]],
                    axis=1), np.asarray(loss)


def _grad_train_simulate(cfg, rng, n_trials, backend="numpy"):
    """``log_grad`` of shape (n_trials, n_checkpoints, L): log‖∇_{W_l}L‖_F (l = 0 .. L − 1) of
    the evaluation batch at every checkpoint; ``loss`` of shape (n_trials, n_checkpoints).
    Raises FloatingPointError if a trial diverges (float64 overflow: lower ``cfg["lr"]``)."""
    X, y = digits_train(cfg["split_seed"])
    depth = int(cfg["depth"])
    cks = [int(t) for t in cfg["checkpoints"]]
    if cks != sorted(set(cks)) or cks[0] < 0:
        raise ValueError(f"checkpoints must be increasing steps >= 0, got {cfg['checkpoints']}")
    Ws = init_weights(rng, n_trials, X.shape[0], cfg["d"], depth, cfg["n_out"], cfg["weights"])
    idx = eval_indices(rng, n_trials, cfg["n"], X.shape[1], cfg.get("eval_repeat", 1))
    Xe, ye = np.swapaxes(X[:, idx], 0, 1), y[idx]
    kw = dict(norm=cfg["norm"], activation=cfg.get("activation", "identity"),
              gain_exponent=cfg.get("gain_exponent"))
    G = np.empty((n_trials, len(cks), depth))
    F = np.empty((n_trials, len(cks)))
    done = 0
    for j, t in enumerate(cks):
        if t > done:
            Ws, _, _, diverged = sgd(Ws, X, y, rng, steps=t - done, lr=cfg["lr"],
                                     batch=cfg["n"], **kw)
            if diverged.any():
                raise FloatingPointError(f"{int(diverged.sum())} of {n_trials} trials diverged "
                                         f"(float64 overflow) before step {t}: lower cfg['lr']")
            done = t
        G[:, j], F[:, j] = layer_log_grad_profile(Xe, Ws, ye, **kw)
    return {"log_grad": G, "loss": F}


def _window_x(cfg):
    """Layers of the judged window (w0 .. w1 inclusive) and x = L − l, the number of layers
    above layer l (so a positive slope on x is growth towards the input)."""
    w0, w1 = (int(v) for v in cfg["window"])
    L = int(cfg["depth"])
    if not 0 <= w0 < w1 <= L - 1:
        raise ValueError(f"window must satisfy 0 <= w0 < w1 <= depth - 1 = {L - 1}, got "
                         f"{cfg['window']}")
    layers = np.arange(w0, w1 + 1)
    return layers, (L - layers).astype(float)


def growth_per_layer(cfg, ev):
    """Mutation (a backward pass that multiplies the signal by e^δ at every layer, δ =
    ``cfg["delta"]``, as a per-layer scale bug in the norm's backward would): every checkpoint's
    log-gradient profile plus δ·(L − l), so the judged slopes rise by exactly δ per layer on the
    claim's own random numbers."""
    L = int(cfg["depth"])
    add = float(cfg["delta"]) * (L - np.arange(L, dtype=float))
    return {**ev, "log_grad": np.asarray(ev["log_grad"]) + add}


def checkpoint_slopes(cfg, ev):
    """Per-trial growth a of log‖∇_{W_l}L‖_F per layer towards the input over the window, at
    every checkpoint: shape (trials, n_checkpoints)."""
    layers, x = _window_x(cfg)
    G = np.asarray(ev["log_grad"], dtype=float)[:, :, layers]
    xc = x - x.mean()
    return (G - G.mean(axis=2, keepdims=True)) @ xc / float(xc @ xc)


def _grad_train_judge(cfg, pred, ev, alpha):
    """The largest growth over training, m = max over the judged checkpoints (``cfg["judged"]``,
    indices into the checkpoints: the training ones, step > 0) of the per-trial slope a, is at
    most δ/2 in expectation: PASS if the upper limit of its t-interval is below δ/2, FAIL if the
    lower one is above. E max_t a_t >= max_t E a_t, so a PASS bounds every checkpoint's mean
    growth at once (one comparison, no Bonferroni). Every checkpoint's mean slope and interval
    (initialisation included) are reported."""
    delta = float(cfg["delta"])
    layers, _ = _window_x(cfg)
    A = checkpoint_slopes(cfg, ev)
    cks = list(cfg["checkpoints"])
    judged = [int(j) for j in cfg["judged"]]
    m = mean_ci(A[:, judged].max(axis=1), alpha)
    loss = np.asarray(ev["loss"], dtype=float)
    info = []
    for j, t in enumerate(cks):
        e = mean_ci(A[:, j], alpha)
        info.append({"step": int(t), "slope": e.estimate, "slope_ci": list(e.ci),
                     "judged": j in judged, "mean_loss": float(loss[:, j].mean())})
    rep = cfg.get("eval_repeat", 1)
    detail = (f"{cfg['weights']} weights, norm {cfg['norm']!r}, "
              f"{cfg.get('activation', 'identity')}, d = n = {cfg['d']}, depth {cfg['depth']}, "
              f"SGD lr {cfg['lr']}, evaluation batch of {cfg['n']} images"
              + (f" (each {rep}×)" if rep > 1 else "")
              + f", growth a of log||∇W_l|| per layer towards the input over layers "
              f"{layers[0]}..{layers[-1]}; max of a over steps "
              + ", ".join(str(cks[j]) for j in judged)
              + f" = {_g(m.estimate)} [{_g(m.ci[0])}, {_g(m.ci[1])}] against the upper bound "
              f"δ/2 = {delta / 2:g}/layer. Per checkpoint (mean a, interval at level 1 − α): "
              + "; ".join(f"step {v['step']}{'' if v['judged'] else ' (not judged)'}: loss "
                          f"{v['mean_loss']:.3g}, a = {_g(v['slope'])} [{_g(v['slope_ci'][0])}, "
                          f"{_g(v['slope_ci'][1])}]" for v in info))
    return judge_upper(m, None, delta / 2, alpha=alpha, prediction=0.0, detail=detail,
                       extra={"checkpoints": info, "delta": delta,
                              "window": [int(layers[0]), int(layers[-1])],
                              "half_width": (m.ci[1] - m.ci[0]) / 2})
