"""Training helpers of the Meterez et al. 2024 (arXiv:2310.02012) training claims (Section 4,
Figure 4, Figure 6, Appendices E and F): the network's initial weights, minibatch SGD with an
independent minibatch stream per trial, iterations to a loss threshold, the isometry gap of a
weight matrix and per-layer log-gradient norms.

Network (the authors' ``MLPWithBatchNorm``, ``order='norm_act'``, as in
:mod:`depthcheck.kernels.nn.network`): fc_0 (p → d), L − 1 square layers fc_1 .. fc_{L−1}, each
of the L layers followed by the norm, the gain and the activation, and a readout fc_L (d → n_out);
"haar" weights are Haar orthogonal (semi-orthogonal for fc_0 and fc_L: orthonormal rows), the
"gaussian" control has i.i.d. N(0, 1/fan_in) entries. A depth-L network has L + 1 weight
matrices.

SGD (``torch.optim.SGD`` without momentum, as in the authors' training code): W ← W − η ∇W on
the cross-entropy of a minibatch of ``n`` training samples, drawn without replacement and
independently for every trial (so the trials are i.i.d. and a t-interval over them is valid; the
kernel :func:`depthcheck.kernels.nn.training.train` shares one minibatch stream across trials).
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from depthcheck.kernels.data.images import load_digits_data
from depthcheck.kernels.nn.network import forward_backward
from depthcheck.kernels.random.haar import sample_orthogonal, sample_stiefel
from depthcheck.theory._checks import check_choice, check_generator, check_positive_int

WEIGHTS = ("haar", "gaussian")


@lru_cache(maxsize=4)
def digits_train(split_seed: int = 0):
    """The training part (75 %) of scikit-learn's bundled digits, standardised per feature:
    ``(X, y)`` with X of shape (64, N) (columns are images), read-only."""
    ds = load_digits_data(np.random.default_rng(split_seed), test_fraction=0.25,
                          standardise="feature")
    X = np.ascontiguousarray(ds.X_train)
    y = np.ascontiguousarray(ds.y_train)
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


def init_weights(rng, trials: int, p: int, d: int, depth: int, n_out: int, weights="haar",
                 gaussian_layers=()):
    """Initial weights of ``trials`` networks of depth ``depth`` (module docstring).

    ``gaussian_layers`` lists hidden layers l (1 <= l <= depth − 1) drawn N(0, 1/d) even when
    ``weights == "haar"`` (an initialisation bug of some layers). Returns a list of
    ``depth + 1`` arrays of shapes ``(trials, d, p)``, ``(trials, d, d)`` × (depth − 1),
    ``(trials, n_out, d)``.

    Examples
    --------
    >>> Ws = init_weights(np.random.default_rng(0), 2, 5, 4, 3, 2)
    >>> [W.shape for W in Ws]
    [(2, 4, 5), (2, 4, 4), (2, 4, 4), (2, 2, 4)]
    >>> bool(np.allclose(Ws[1][0] @ Ws[1][0].T, np.eye(4)))
    True
    """
    rng = check_generator(rng)
    trials = check_positive_int(trials, "trials")
    depth = check_positive_int(depth, "depth")
    check_choice(weights, "weights", WEIGHTS)
    if n_out > d:
        raise ValueError(f"n_out={n_out} must not exceed d={d}")
    bad = [l for l in gaussian_layers if not 1 <= int(l) <= depth - 1]
    if bad:
        raise ValueError(f"gaussian_layers must lie in 1..{depth - 1}, got {bad}")
    gl = {int(l) for l in gaussian_layers}

    def gauss(shape):
        return rng.standard_normal((trials,) + shape) / math.sqrt(shape[1])

    if weights == "haar":
        if d <= p:
            first = np.swapaxes(sample_stiefel((trials,), p, d, rng), -1, -2)
        else:
            first = sample_stiefel((trials,), d, p, rng)
    else:
        first = gauss((d, p))
    Ws = [first]
    for l in range(1, depth):
        Ws.append(gauss((d, d)) if weights == "gaussian" or l in gl
                  else sample_orthogonal((trials,), d, rng))
    Ws.append(np.swapaxes(sample_stiefel((trials,), d, n_out, rng), -1, -2)
              if weights == "haar" else gauss((n_out, d)))
    return Ws


def sgd(Ws, X, y, rng, *, steps: int, lr, batch: int, norm: str, activation: str = "identity",
        gain_exponent=None, eval_idx=None, record_every: int = 1, sym_keep=None):
    """Minibatch SGD (module docstring) on cross-entropy; every trial draws its own minibatches.

    ``lr`` is a float or one rate per weight matrix (a per-layer step size). Records the loss
    of the evaluation batch ``X[:, eval_idx]`` (one batch, BN over it) at steps 0, k, 2k, ...
    (k = ``record_every``) before that step's update. ``sym_keep`` (optional) maps square
    layers l to a fraction κ in [0, 1]: their gradient G is replaced by
    G − (1 − κ)·W sym(WᵀG), keeping only κ of the symmetric part of WᵀG (κ = 0: the update is
    a rotation to first order, the tangent direction of the orthogonal group at an orthogonal
    W; :func:`remove_symmetric_part`).

    Divergence: a trial whose forward or backward pass overflows float64 (the kernel raises
    ``FloatingPointError`` for the whole batch) is found by rerunning the trials one by one; it
    is marked diverged, its weights are reset to their initial values and frozen, and its
    recorded losses are +inf from then on (it never reaches a loss threshold), so the other
    trials go on unchanged.

    Returns ``(Ws, record_steps, losses, diverged)``: ``losses`` of shape
    ``(n_records, trials)``, ``diverged`` a bool array of shape ``(trials,)``.
    """
    steps = check_positive_int(steps, "steps", minimum=0)
    batch = check_positive_int(batch, "batch")
    record_every = check_positive_int(record_every, "record_every")
    B = Ws[0].shape[0]
    N = X.shape[1]
    lrs = np.broadcast_to(np.asarray(lr, dtype=np.float64), (len(Ws),))
    if np.any(~np.isfinite(lrs)) or np.any(lrs <= 0):
        raise ValueError(f"lr must be positive and finite, got {lr!r}")
    kw = dict(norm=norm, activation=activation, loss="xent", gain_exponent=gain_exponent)
    W0 = [np.array(W, dtype=np.float64) for W in Ws]
    Ws = [W.copy() for W in W0]
    alive = np.ones(B, dtype=bool)
    if eval_idx is not None:
        Xe, ye = X[:, eval_idx], np.broadcast_to(y[eval_idx], (B, len(eval_idx)))
    rec_steps, rec = [], []
    for t in range(steps + 1):
        if eval_idx is not None and t % record_every == 0:
            rec_steps.append(t)
            value = _guarded(Xe, Ws, W0, ye, alive, kw)[0]
            rec.append(np.where(alive, value, np.inf))
        if t == steps:
            break
        idx = np.argpartition(rng.random((B, N)), batch - 1, axis=1)[:, :batch]
        Xb = np.swapaxes(X[:, idx], 0, 1)            # (B, p, batch)
        _, grads = _guarded(Xb, Ws, W0, y[idx], alive, kw)
        for i, G in enumerate(grads):
            if sym_keep is not None and i in sym_keep:
                G = remove_symmetric_part(Ws[i], G, sym_keep[i])
            if alive.all():
                Ws[i] -= lrs[i] * G
            else:
                Ws[i][alive] -= lrs[i] * G[alive]
    losses = np.array(rec) if rec else np.empty((0, B))
    return Ws, np.array(rec_steps, dtype=np.float64), losses, ~alive


def _guarded(Xin, Ws, W0, yin, alive, kw):
    """forward_backward over the batch of trials; on a float64 overflow, find the trials that
    overflow one by one, mark them dead in ``alive`` and reset their weights to ``W0`` (in
    place), then rerun the batch. numpy's overflow warnings are silenced: the kernel checks
    every result and raises ``FloatingPointError`` itself."""
    with np.errstate(over="ignore", invalid="ignore"):
        try:
            return forward_backward(Xin, Ws, yin, **kw)
        except FloatingPointError:
            for b in np.nonzero(alive)[0]:
                xb = Xin[b] if Xin.ndim == 3 else Xin
                try:
                    forward_backward(xb, [W[b] for W in Ws], yin[b], **kw)
                except FloatingPointError:
                    alive[b] = False
                    for W, W_init in zip(Ws, W0):
                        W[b] = W_init[b]
            return forward_backward(Xin, Ws, yin, **kw)


def remove_symmetric_part(W, G, keep: float = 0.0):
    """G − (1 − keep)·W sym(WᵀG), sym(A) = (A + Aᵀ)/2, batched over leading axes; square W.

    For an orthogonal W the result is W(skew(WᵀG) + keep·sym(WᵀG)): with ``keep = 0`` the
    step W − ηG' moves W along the orthogonal group to first order (WᵀG' is skew-symmetric).

    Examples
    --------
    >>> W = np.eye(2); G = np.array([[1.0, 2.0], [0.0, 3.0]])
    >>> remove_symmetric_part(W, G)
    array([[ 0.,  1.],
           [-1.,  0.]])
    """
    keep = float(keep)
    if not 0.0 <= keep <= 1.0:
        raise ValueError(f"keep must lie in [0, 1], got {keep}")
    W = np.asarray(W, dtype=np.float64)
    if W.shape[-1] != W.shape[-2]:
        raise ValueError(f"W must be square, got shape {W.shape}")
    A = np.swapaxes(W, -1, -2) @ G
    return G - (1.0 - keep) * (W @ (0.5 * (A + np.swapaxes(A, -1, -2))))


def first_crossing(steps, losses, threshold: float):
    """Step at which each trial's loss curve first falls to ``threshold``, interpolated
    linearly in log(loss) between the recorded steps; a curve that never gets there counts as
    the last recorded step (right-censored: an underestimate). ``losses``: (n_records, trials).

    Examples
    --------
    >>> first_crossing(np.array([0., 10., 20.]), np.array([[4., 4.], [2., 4.], [1., 4.]]), 2.0)
    array([10., 20.])
    >>> float(first_crossing(np.array([0., 10.]), np.array([[4.], [1.]]), 2.0)[0])
    5.0
    """
    steps = np.asarray(steps, dtype=np.float64)
    L = np.log(np.asarray(losses, dtype=np.float64))
    lt = math.log(threshold)
    out = np.full(L.shape[1], steps[-1])
    for j in range(L.shape[1]):
        below = np.nonzero(L[:, j] <= lt)[0]
        if below.size == 0:
            continue
        i = int(below[0])
        if i == 0:
            out[j] = steps[0]
            continue
        a, b = L[i - 1, j], L[i, j]
        out[j] = steps[i - 1] + (steps[i] - steps[i - 1]) * (a - lt) / (a - b)
    return out


def weight_isometry_gap(W):
    """Isometry gap φ(W) = log(mean λ) − mean log λ of the eigenvalues λ of the smaller Gram
    matrix (WWᵀ if W has fewer rows than columns, else WᵀW), batched over leading axes; 0 for
    a (semi-)orthogonal W, +inf for a rank-deficient one (never NaN).

    Examples
    --------
    >>> round(float(weight_isometry_gap(np.diag([1.0, 4.0]))), 6)  # log 8.5 − log 4
    0.753772
    >>> float(weight_isometry_gap(np.eye(3)[:2]))
    0.0
    """
    W = np.asarray(W, dtype=np.float64)
    G = W @ np.swapaxes(W, -1, -2) if W.shape[-2] <= W.shape[-1] else np.swapaxes(W, -1, -2) @ W
    lam = np.linalg.eigvalsh(G)
    lam = np.where(lam > 0, lam, 0.0)
    with np.errstate(divide="ignore"):
        gap = np.log(lam.mean(axis=-1)) - np.log(lam).mean(axis=-1)
    return np.maximum(gap, 0.0)
