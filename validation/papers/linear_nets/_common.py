"""Shared machinery of the Basu, Mukherjee, Vasudevan claims: the mixture problem, initialisations,
mode strengths."""
from __future__ import annotations

import math

import numpy as np

from depthcheck.kernels.data import gaussian_mixture, linear_teacher
from depthcheck.kernels.nn.network import forward_backward
from depthcheck.kernels.random.haar import sample_orthogonal
from depthcheck.theory._checks import check_generator


def mixture_problem(rng, n_trials, *, per_cluster=400, d_in=10, d_out=3, teacher_scale=None):
    """Seed 003 Sec. 4 data, one independent data set per trial: X ``(B, d_in, 3·per_cluster)``
    from ``gaussian_mixture`` (3 components), rescaled so that the largest eigenvalue of
    Σ_xx = XXᵀ/n is 1 (so a step size η means the same curvature in every trial), and
    Y = T X from ``linear_teacher`` (T entries N(0, teacher_scale²), default 1/√d_in).
    Returns (X, Y)."""
    rng = check_generator(rng)
    Xs, Ys = [], []
    for _ in range(n_trials):
        X, _ = gaussian_mixture(rng, n_per_class=per_cluster, dim=d_in, n_classes=3)
        X = X / math.sqrt(np.linalg.eigvalsh(X @ X.T / X.shape[1])[-1])
        Y, _ = linear_teacher(rng, X, out_dim=d_out, scale=teacher_scale)
        Xs.append(X)
        Ys.append(Y)
    return np.stack(Xs), np.stack(Ys)


def sufficient_inputs(X, Y):
    """Exact reduction of an mse linear-net problem to d₀ pseudo-samples.

    The loss (1/(d_out n))||W_e X − Y||² depends on the data only through Σ_xx = XXᵀ/n and
    Σ_yx = YXᵀ/n (plus a constant). With L Lᵀ = Σ_xx (Cholesky), X̃ = √d₀ L and
    Ỹ = √d₀ Σ_yx L^{−ᵀ} give X̃X̃ᵀ/d₀ = Σ_xx and ỸX̃ᵀ/d₀ = Σ_yx, hence identical gradients for
    every weight; the loss differs by ``offset`` = (tr Σ_yy − tr ỸỸᵀ/d₀)/d_out (the residual of
    the best linear fit). Returns (X̃, Ỹ, offset) with a leading trials axis if X has one.
    """
    n, d0 = X.shape[-1], X.shape[-2]
    Sxx = X @ np.swapaxes(X, -1, -2) / n
    Syx = Y @ np.swapaxes(X, -1, -2) / n
    try:
        L = np.linalg.cholesky(Sxx)
    except np.linalg.LinAlgError:
        raise ValueError("X has a singular second-moment matrix; need n >= d0 samples in "
                         "general position") from None
    Xt = math.sqrt(d0) * L
    Yt = math.sqrt(d0) * np.swapaxes(np.linalg.solve(L, np.swapaxes(Syx, -1, -2)), -1, -2)
    d_out = Y.shape[-2]
    offset = (np.einsum("...ij,...ij->...", Y, Y) / n
              - np.einsum("...ij,...ij->...", Yt, Yt) / d0) / d_out
    return Xt, Yt, offset


def linear_net_loss(X, Y):
    """``loss_and_grad`` of the deep linear net on (X, Y) for ``depthcheck.kernels.nn.training.train``:
    ``forward_backward(norm="none", activation="identity", loss="mse")`` on the sufficient
    inputs (full batch only; the loss includes the offset, so it equals the loss on X, Y)."""
    Xt, Yt, off = sufficient_inputs(X, Y)

    def f(P, idx):
        if idx is not None:
            raise ValueError("linear_net_loss supports full-batch GD only (idx must be None)")
        loss, grads = forward_backward(Xt, P, Yt, norm="none", activation="identity",
                                       loss="mse")
        return loss + off, grads
    return f


def glorot_init(rng, n_trials, widths):
    """Glorot-normal weights, Var = 2/(fan_in + fan_out) (seed 003 Sec. 4, Cor. 2.3)."""
    return [rng.standard_normal((n_trials, widths[i + 1], widths[i]))
            * math.sqrt(2.0 / (widths[i] + widths[i + 1])) for i in range(len(widths) - 1)]


def _frames(rng, n_trials, widths):
    return [sample_orthogonal((n_trials,), d, rng) for d in widths]


def decoupled_init(frames, strengths):
    """W_l = R_{l+1}[:, :r] diag(a_l) R_l[:, :r]ᵀ (Saxe et al. 2013; seed 003 Cor. 2.4): frames
    ``R_l`` ``(B, d_l, d_l)`` orthogonal, l = 0..N; strengths ``(B, N, r)``."""
    r = strengths.shape[-1]
    return [(frames[l + 1][..., :r] * strengths[:, l, None, :]) @ np.swapaxes(frames[l][..., :r], -1, -2)
            for l in range(len(frames) - 1)]


def balanced_init(rng, n_trials, widths, sq_norm):
    """Balanced ("orthogonal") init of Cor. 2.2: W_l = c U_{l+1} U_lᵀ with U_l the first
    r = min(widths) columns of Haar frames, so W_{l+1}ᵀW_{l+1} = c² U_{l+1}U_{l+1}ᵀ = W_lW_lᵀ
    (every C_l = 0) and ||W_l||_F² = c² r = ``sq_norm`` for every layer."""
    r = min(widths)
    a = np.full((n_trials, len(widths) - 1, r), math.sqrt(sq_norm / r))
    return decoupled_init(_frames(rng, n_trials, widths), a)


def mode_strengths(weights, frames, r):
    """a_l^α = (R_{l+1}ᵀ W_l R_l)_{αα}, α < r: ``(B, N, r)``."""
    out = []
    for l, W in enumerate(weights):
        M = np.swapaxes(frames[l + 1][..., :r], -1, -2) @ W @ frames[l][..., :r]
        out.append(np.diagonal(M, axis1=-2, axis2=-1))
    return np.stack(out, axis=-2)


def layer_lr_scale(pattern, n_layers):
    """Per-layer learning-rate multipliers (the controls' balance-breaking perturbation):
    ``pattern`` cycled over the layers, or None."""
    if pattern is None:
        return None
    return [float(pattern[l % len(pattern)]) for l in range(n_layers)]


def _fmt(v):
    return f"{v:.3g}"

