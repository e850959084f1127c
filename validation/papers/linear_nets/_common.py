"""Shared machinery of the Basu, Mukherjee & Vasudevan 2019 (arXiv:1904.10689) claims: the mixture
problem, initialisations, mode strengths."""
from __future__ import annotations

import math

import numpy as np

from depthcheck.kernels.data import gaussian_mixture, linear_teacher
from depthcheck.kernels.nn.network import forward_backward
from depthcheck.kernels.random.haar import sample_orthogonal
from depthcheck.theory._checks import check_generator, check_positive_int


def mixture_problem(rng, n_trials, *, per_cluster=400, d_in=10, d_out=3, teacher_scale=None):
    """The data of Sec. 4 of Basu et al. 2019: a Gaussian mixture mapped by a linear teacher.

    One independent data set per trial: X from
    :func:`depthcheck.kernels.data.gaussian_mixture` (3 components), rescaled so that the largest
    eigenvalue of Σ_xx = XXᵀ/n is 1 (so a step size η means the same curvature in every trial),
    and Y = T X from :func:`depthcheck.kernels.data.linear_teacher` (T entries
    N(0, teacher_scale²), default 1/√d_in).

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of every trial's mixture and teacher, drawn in trial order.
    n_trials : int
        Number of independent data sets B, ``>= 1``.
    per_cluster : int, optional
        Samples per mixture component (default 400, the paper's); n = 3·per_cluster.
    d_in, d_out : int, optional
        Input and target dimensions (default 10 and 3, the paper's).
    teacher_scale : float, optional
        Standard deviation of the teacher's entries (default 1/√d_in).

    Returns
    -------
    X : numpy.ndarray
        Inputs, shape ``(B, d_in, n)``; columns are samples.
    Y : numpy.ndarray
        Targets, shape ``(B, d_out, n)``.

    Raises
    ------
    ValueError
        If ``rng`` is not a ``numpy.random.Generator`` or ``n_trials`` is not a positive
        integer (and, from the data samplers, for bad sizes).

    References
    ----------
    Basu, Mukherjee, Vasudevan, "Layer Dynamics of Linearised Neural Nets", arXiv:1904.10689,
    Sec. 4.

    Examples
    --------
    >>> import numpy as np
    >>> X, Y = mixture_problem(np.random.default_rng(0), 2, per_cluster=20)
    >>> X.shape, Y.shape
    ((2, 10, 60), (2, 3, 60))
    >>> lam_max = np.linalg.eigvalsh(X[0] @ X[0].T / 60)[-1]
    >>> bool(np.isclose(lam_max, 1.0))
    True
    """
    rng = check_generator(rng)
    n_trials = check_positive_int(n_trials, "n_trials")
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
    the best linear fit). Training on (X̃, Ỹ) costs O(d₀) per sample pass instead of O(n).

    Parameters
    ----------
    X : numpy.ndarray
        Inputs, shape ``(d0, n)`` or ``(B, d0, n)``, with ``n >= d0`` samples in general
        position (Σ_xx positive definite).
    Y : numpy.ndarray
        Targets, shape ``(d_out, n)`` or ``(B, d_out, n)``.

    Returns
    -------
    Xt : numpy.ndarray
        Pseudo-inputs, shape ``(d0, d0)`` (``(B, d0, d0)``).
    Yt : numpy.ndarray
        Pseudo-targets, shape ``(d_out, d0)`` (``(B, d_out, d0)``).
    offset : float or numpy.ndarray
        Loss on (X, Y) minus loss on (Xt, Yt), the same for every weight; shape ``()`` or
        ``(B,)``.

    Raises
    ------
    ValueError
        If Σ_xx is singular (fewer than d0 samples, or samples not in general position).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> X, Y = rng.standard_normal((3, 50)), rng.standard_normal((2, 50))
    >>> Xt, Yt, offset = sufficient_inputs(X, Y)
    >>> Xt.shape, Yt.shape
    ((3, 3), (2, 3))
    >>> W = rng.standard_normal((2, 3))
    >>> def mse(A, B):
    ...     return np.sum((W @ A - B) ** 2) / B.size
    >>> bool(np.isclose(mse(X, Y), mse(Xt, Yt) + offset))
    True
    >>> sufficient_inputs(X[:, :2], Y[:, :2])
    Traceback (most recent call last):
    ...
    ValueError: X has a singular second-moment matrix; need n >= d0 samples in general position
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
    """The loss-and-gradient callback of a deep linear net on (X, Y), for full-batch GD.

    ``forward_backward(norm="none", activation="identity", loss="mse")`` of
    :mod:`depthcheck.kernels.nn.network` on the :func:`sufficient_inputs` of (X, Y); the loss
    includes the offset, so it equals the mse on X, Y, and the gradients are those on X, Y.

    Parameters
    ----------
    X, Y : numpy.ndarray
        Inputs ``(d0, n)`` / ``(B, d0, n)`` and targets ``(d_out, n)`` / ``(B, d_out, n)``, as
        for :func:`sufficient_inputs`.

    Returns
    -------
    callable
        ``f(P, idx) -> (loss, grads)``, the ``loss_and_grad`` argument of
        :func:`depthcheck.kernels.nn.training.train`: ``P`` the list of weights (last = output
        layer), ``idx`` must be None (full batch).

    Raises
    ------
    ValueError
        As :func:`sufficient_inputs` (at construction); the callback raises if ``idx`` is
        not None (minibatches are not supported).

    References
    ----------
    Basu et al. 2019, arXiv:1904.10689, eqs. (3)–(5).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(2)
    >>> X, Y = rng.standard_normal((3, 40)), rng.standard_normal((2, 40))
    >>> f = linear_net_loss(X, Y)
    >>> P = [rng.standard_normal((4, 3)), rng.standard_normal((2, 4))]
    >>> loss, grads = f(P, None)
    >>> bool(np.isclose(loss, np.mean((P[1] @ P[0] @ X - Y) ** 2)))
    True
    >>> [g.shape for g in grads]
    [(4, 3), (2, 4)]
    """
    Xt, Yt, off = sufficient_inputs(X, Y)

    def f(P, idx):
        if idx is not None:
            raise ValueError("linear_net_loss supports full-batch GD only (idx must be None)")
        loss, grads = forward_backward(Xt, P, Yt, norm="none", activation="identity",
                                       loss="mse")
        return loss + off, grads
    return f


def glorot_init(rng, n_trials, widths):
    """Glorot-normal weights of a linear net, entries N(0, 2/(fan_in + fan_out)).

    The initialisation of Basu et al. 2019, Sec. 4 and Cor. 2.3 (Glorot & Bengio 2010); its
    expected balance ``E tr C_l`` is derived in ``docs/derivations/linear_nets.md`` §4.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the entries, drawn layer by layer.
    n_trials : int
        Number of independent networks B.
    widths : sequence of int
        Layer widths ``d_0, ..., d_N`` (input first).

    Returns
    -------
    list of numpy.ndarray
        N arrays ``W_l`` of shape ``(B, d_l, d_{l-1})``, l = 1..N.

    Raises
    ------
    ValueError
        If ``rng`` is not a ``numpy.random.Generator`` or ``n_trials`` is not a positive
        integer.

    References
    ----------
    Glorot, Bengio, "Understanding the difficulty of training deep feedforward neural
    networks", AISTATS 2010. Basu et al. 2019, arXiv:1904.10689, Cor. 2.3.

    Examples
    --------
    >>> import numpy as np
    >>> W = glorot_init(np.random.default_rng(0), 2000, [10, 6, 3])
    >>> [w.shape for w in W]
    [(2000, 6, 10), (2000, 3, 6)]
    >>> bool(abs(W[0].var() - 2 / 16) < 0.01)
    True
    """
    rng = check_generator(rng)
    n_trials = check_positive_int(n_trials, "n_trials")
    return [rng.standard_normal((n_trials, widths[i + 1], widths[i]))
            * math.sqrt(2.0 / (widths[i] + widths[i + 1])) for i in range(len(widths) - 1)]


def _frames(rng, n_trials, widths):
    return [sample_orthogonal((n_trials,), d, rng) for d in widths]


def decoupled_init(frames, strengths):
    """Decoupled weights W_l = R_{l+1}[:, :r] diag(a_l) R_l[:, :r]ᵀ sharing singular vectors.

    The initialisation of Saxe et al. 2014 under which every mode α evolves on its own (Basu et
    al. 2019, Cor. 2.4; ``docs/derivations/linear_nets.md`` §5).

    Parameters
    ----------
    frames : list of numpy.ndarray
        Orthogonal ``R_l`` of shape ``(B, d_l, d_l)``, l = 0..N.
    strengths : numpy.ndarray
        Mode strengths ``a_l^α``, shape ``(B, N, r)`` with ``r <= min(d_l)``.

    Returns
    -------
    list of numpy.ndarray
        N arrays ``W_l`` of shape ``(B, d_{l+1}, d_l)``.

    References
    ----------
    Saxe, McClelland, Ganguli, "Exact solutions to the nonlinear dynamics of learning in deep
    linear neural networks", ICLR 2014, arXiv:1312.6120.

    Examples
    --------
    >>> import numpy as np
    >>> from depthcheck.kernels.random.haar import sample_orthogonal
    >>> rng = np.random.default_rng(0)
    >>> frames = [sample_orthogonal((1,), d, rng) for d in (4, 3, 2)]
    >>> a = np.array([[[2.0, 0.5], [1.0, 3.0]]])
    >>> W = decoupled_init(frames, a)
    >>> [w.shape for w in W]
    [(1, 3, 4), (1, 2, 3)]
    >>> np.round(np.linalg.svd(W[0][0], compute_uv=False), 6)
    array([2. , 0.5, 0. ])
    """
    r = strengths.shape[-1]
    return [(frames[l + 1][..., :r] * strengths[:, l, None, :]) @ np.swapaxes(frames[l][..., :r], -1, -2)
            for l in range(len(frames) - 1)]


def balanced_init(rng, n_trials, widths, sq_norm):
    """Balanced ("orthogonal") initialisation of Basu et al. 2019, Cor. 2.2: every C_l = 0.

    W_l = c U_{l+1} U_lᵀ with U_l the first r = min(widths) columns of Haar frames, so
    W_{l+1}ᵀW_{l+1} = c² U_{l+1}U_{l+1}ᵀ = W_lW_lᵀ (every C_l = 0) and
    ||W_l||_F² = c² r = ``sq_norm`` for every layer.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the Haar frames.
    n_trials : int
        Number of independent networks B.
    widths : sequence of int
        Layer widths ``d_0, ..., d_N``.
    sq_norm : float
        The common squared Frobenius norm of every layer.

    Returns
    -------
    list of numpy.ndarray
        N arrays ``W_l`` of shape ``(B, d_{l+1}, d_l)``.

    References
    ----------
    Basu et al. 2019, arXiv:1904.10689, Cor. 2.2; Arora, Cohen, Hazan 2018, arXiv:1802.06509
    (balancedness).

    Examples
    --------
    >>> import numpy as np
    >>> W = balanced_init(np.random.default_rng(0), 1, [4, 3, 2], 2.0)
    >>> C = np.swapaxes(W[1], -1, -2) @ W[1] - W[0] @ np.swapaxes(W[0], -1, -2)
    >>> bool(np.allclose(C, 0))
    True
    >>> [round(float(np.sum(w ** 2)), 6) for w in W]
    [2.0, 2.0]
    """
    r = min(widths)
    a = np.full((n_trials, len(widths) - 1, r), math.sqrt(sq_norm / r))
    return decoupled_init(_frames(rng, n_trials, widths), a)


def mode_strengths(weights, frames, r):
    """Mode strengths a_l^α = (R_{l+1}ᵀ W_l R_l)_{αα}, α < r, of weights in given frames.

    The inverse of :func:`decoupled_init` (Saxe et al. 2014; Basu et al. 2019, Cor. 2.4): on
    decoupled weights it returns their strengths; during training it tracks each mode.

    Parameters
    ----------
    weights : list of numpy.ndarray
        N arrays ``W_l`` of shape ``(B, d_{l+1}, d_l)``.
    frames : list of numpy.ndarray
        Orthogonal ``R_l`` of shape ``(B, d_l, d_l)``, l = 0..N.
    r : int
        Number of modes.

    Returns
    -------
    numpy.ndarray
        Shape ``(B, N, r)``.

    Examples
    --------
    >>> import numpy as np
    >>> from depthcheck.kernels.random.haar import sample_orthogonal
    >>> rng = np.random.default_rng(0)
    >>> frames = [sample_orthogonal((2,), d, rng) for d in (4, 3, 2)]
    >>> a = rng.uniform(1, 2, size=(2, 2, 2))
    >>> bool(np.allclose(mode_strengths(decoupled_init(frames, a), frames, 2), a))
    True
    """
    out = []
    for l, W in enumerate(weights):
        M = np.swapaxes(frames[l + 1][..., :r], -1, -2) @ W @ frames[l][..., :r]
        out.append(np.diagonal(M, axis1=-2, axis2=-1))
    return np.stack(out, axis=-2)


def layer_lr_scale(pattern, n_layers):
    """Per-layer learning-rate multipliers: ``pattern`` cycled over the layers, or None.

    The controls' balance-breaking perturbation: with layer-wise step sizes GD is no longer a
    gradient flow of the loss and the balance drifts at first order
    (``docs/derivations/linear_nets.md`` §3).

    Parameters
    ----------
    pattern : sequence of float or None
        Multipliers, repeated over the layers; None for a common learning rate.
    n_layers : int
        Number of weight matrices.

    Returns
    -------
    list of float or None
        ``n_layers`` multipliers, or None if ``pattern`` is None.

    Raises
    ------
    ValueError
        If ``pattern`` is empty or ``n_layers`` is not a positive integer.

    Examples
    --------
    >>> layer_lr_scale([1.0, 0.5], 5)
    [1.0, 0.5, 1.0, 0.5, 1.0]
    >>> layer_lr_scale(None, 5) is None
    True
    """
    if pattern is None:
        return None
    n_layers = check_positive_int(n_layers, "n_layers")
    if len(pattern) == 0:
        raise ValueError("pattern must hold at least one multiplier (or be None)")
    return [float(pattern[l % len(pattern)]) for l in range(n_layers)]


def _fmt(v):
    return f"{v:.3g}"

