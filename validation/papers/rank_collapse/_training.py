"""Training helpers of the Daneshmand et al. 2020 (arXiv:2003.01652) training claims (Fig. 1,
Prop. 19 / Fig. 10, Sec. 4 / Algorithm 1): PyTorch's default initialisation, digits per trial,
SGD over a step-size grid, and the rank pre-training of Algorithm 1 (App. G) with its gradient
written by hand.

Layout as in ``depthcheck.kernels.nn.mlp``: columns are samples, a leading trials axis B on every
array. The networks are ReLU MLPs ``MLPSpec(widths, "relu", "xent", "standard", bias=True,
norm, norm_affine=norm != "none")`` (Linear → [BN with gain and shift] → ReLU, as a PyTorch
``nn.Sequential``).

Rank objective of Algorithm 1 (the inverse of r(H), eq. (4)): with M = H Hᵀ/n,

    f(H) = tr(M²) / tr(M)² = 1 / r(H),
    ∂f/∂M = 2 M / tr(M)² − 2 tr(M²) I / tr(M)³,   ∂f/∂H = (2/n) (∂f/∂M) H.

Minimising f maximises the lower bound r(H) <= rank(H) of Lemma 1.
"""
from __future__ import annotations

import math

import numpy as np

from depthcheck.kernels.data import load_digits_data
from depthcheck.kernels.nn.mlp import MLPSpec, accuracy, make_loss_and_grad, mlp_forward, mlp_loss, mlp_predict
from depthcheck.kernels.nn.training import NonFiniteLossError, TrainResult, train
from depthcheck.theory._checks import check_generator, check_positive_int
from depthcheck.theory.rank import rank_lower_bound

__all__ = ["relu_spec", "pytorch_init", "glorot_normal_init", "digits_trials", "rank_objective", "rank_objective_grad",
           "pretrain_rank", "train_adam", "train_best_lr", "last_hidden"]


def relu_spec(width: int, depth: int, norm: str = "none", d_in: int = 64,
              n_classes: int = 10) -> MLPSpec:
    """ReLU MLP with ``depth`` hidden layers of ``width`` units (``depth`` >= 1), biases, and
    for ``norm != "none"`` a norm with learnable gain/shift before every ReLU."""
    depth = check_positive_int(depth, "depth")
    width = check_positive_int(width, "width")
    return MLPSpec((d_in,) + (width,) * depth + (n_classes,), "relu", "xent", "standard", True,
                   norm, norm != "none")


def pytorch_init(spec: MLPSpec, rng, trials: int, asymmetric: bool = False) -> list:
    """PyTorch's default ``nn.Linear`` initialisation: W and b i.i.d. U[−1/√m, 1/√m] (m the
    fan-in; ``kaiming_uniform_(a=√5)``), BN gains 1 and shifts 0. ``asymmetric`` draws W from
    U[0, 2/√m] instead (same variance about its mean: the "broken" BN init of the paper's
    Fig. 1 code, w ← 2|w|).

    Examples
    --------
    >>> import numpy as np
    >>> spec = relu_spec(4, 2)
    >>> P = pytorch_init(spec, np.random.default_rng(0), trials=3)
    >>> [p.shape for p in P][:2], bool(np.all(np.abs(P[0]) <= 1 / 8))
    ([(3, 4, 64), (3, 4, 1)], True)
    """
    rng = check_generator(rng)
    trials = check_positive_int(trials, "trials")
    P = []
    for (name, l), shape in zip(spec.layout, spec.param_shapes()):
        a = 1.0 / math.sqrt(spec.widths[l])
        if name == "W":
            w = rng.uniform(-a, a, (trials,) + shape)
            P.append(2.0 * np.abs(w) if asymmetric else w)
        elif name == "b":
            P.append(rng.uniform(-a, a, (trials,) + shape))
        elif name == "g":
            P.append(np.ones((trials,) + shape))
        elif name == "beta":
            P.append(np.zeros((trials,) + shape))
        else:
            raise ValueError(f"spec: parameter kind {name!r} is not supported here")
    return P


def glorot_normal_init(spec: MLPSpec, rng, trials: int) -> list:
    """:func:`pytorch_init` with the weights redrawn from N(0, 2/(fan_in + fan_out)) (Glorot &
    Bengio 2010, ``torch.nn.init.xavier_normal_``), as the released code of Daneshmand et al.
    2020 (arXiv:2003.01652), Fig. 6, initialises its vanilla ReLU MLPs; biases stay
    U[−1/√m, 1/√m].

    Examples
    --------
    >>> import numpy as np
    >>> P = glorot_normal_init(relu_spec(200, 2), np.random.default_rng(0), trials=2)
    >>> round(float(P[2].std() * np.sqrt(200)), 1)
    1.0
    """
    P = pytorch_init(spec, rng, trials)
    for i, ((name, l), p) in enumerate(zip(spec.layout, P)):
        if name == "W":
            P[i] = rng.standard_normal(p.shape) * math.sqrt(2.0 / (spec.widths[l]
                                                                 + spec.widths[l + 1]))
    return P


def digits_trials(rng, n_trials: int, test_fraction: float = 0.25):
    """One random train/test split of scikit-learn's digits per trial (per-feature z-scores fitted
    on the training part), stacked: X_train (B, 64, n), y_train (B, n), X_test, y_test."""
    parts = [load_digits_data(rng, test_fraction=test_fraction, standardise="feature")
             for _ in range(n_trials)]
    return (np.stack([p.X_train for p in parts]), np.stack([p.y_train for p in parts]),
            np.stack([p.X_test for p in parts]), np.stack([p.y_test for p in parts]))


def last_hidden(params, X, spec: MLPSpec) -> np.ndarray:
    """H_{L−1}, the last hidden representation (B, width, n)."""
    return mlp_forward(params, X, spec).hidden[-1]


# ------------------------------------------------------------------ Algorithm 1 (App. G)
def rank_objective(H) -> np.ndarray:
    """f(H) = tr(M²)/tr(M)² = 1/r(H), M = H Hᵀ/n; shape ``H.shape[:-2]``."""
    M = np.matmul(H, np.swapaxes(H, -1, -2)) / H.shape[-1]
    tr = np.trace(M, axis1=-2, axis2=-1)
    return np.sum(M * M, axis=(-2, -1)) / tr ** 2


def rank_objective_grad(H):
    """(f(H), ∂f/∂H) of :func:`rank_objective` (formula in the module docstring)."""
    n = H.shape[-1]
    M = np.matmul(H, np.swapaxes(H, -1, -2)) / n
    tr = np.trace(M, axis1=-2, axis2=-1)[..., None, None]
    tr2 = np.sum(M * M, axis=(-2, -1))[..., None, None]
    dM = 2.0 * M / tr ** 2 - 2.0 * tr2 / tr ** 3 * np.eye(M.shape[-1])
    return (tr2 / tr ** 2)[..., 0, 0], (2.0 / n) * np.matmul(dM, H)


def _relu_forward(Ws, bs, X, upto):
    Hs, Zs = [X], []
    H = X
    for l in range(upto):
        Z = Ws[l] @ H + bs[l]
        H = np.maximum(Z, 0.0)
        Zs.append(Z)
        Hs.append(H)
    return Hs, Zs


def rank_pretrain_grad(Ws, bs, X, layer: int):
    """f(H_layer) of a vanilla ReLU MLP (hidden layers 1..layer, H_l = relu(W_l H_{l−1} + b_l))
    and its gradients with respect to W_1..W_layer, b_1..b_layer (by hand)."""
    Hs, Zs = _relu_forward(Ws, bs, X, layer)
    f, dH = rank_objective_grad(Hs[layer])
    gW, gb = [None] * layer, [None] * layer
    for l in range(layer - 1, -1, -1):
        dZ = dH * (Zs[l] > 0)
        gW[l] = dZ @ np.swapaxes(Hs[l], -1, -2)
        gb[l] = dZ.sum(axis=-1, keepdims=True)
        if l:
            dH = np.swapaxes(Ws[l], -1, -2) @ dZ
    return f, gW, gb


def pretrain_rank(params, spec: MLPSpec, X, rng, *, iters: int, lr: float, batch_size: int,
                  every: int = 1):
    """Algorithm 1 (App. G) on a vanilla ReLU MLP: for the hidden layers l = every, 2·every, ...
    and the last hidden layer, in order, ``iters`` gradient steps of size ``lr`` on minibatches
    of ``batch_size`` columns of X minimising f(H_l) = 1/r(H_l) over the weights and biases of
    layers 1..l. Returns the new parameter list (the output layer untouched)."""
    if spec.norm != "none" or not spec.bias:
        raise ValueError("spec: pre-training is defined here for vanilla MLPs with biases")
    rng = check_generator(rng)
    P = [np.array(p, dtype=float, copy=True) for p in params]
    Ws, bs = P[0::2], P[1::2]
    depth = spec.n_layers - 1
    layers = sorted(set(range(every, depth + 1, every)) | {depth})
    n = X.shape[-1]
    for layer in layers:
        for _ in range(iters):
            idx = np.sort(rng.choice(n, size=batch_size, replace=False))
            f, gW, gb = rank_pretrain_grad(Ws, bs, X[..., idx], layer)
            if not (np.all(np.isfinite(f)) and all(np.all(np.isfinite(g)) for g in gW)):
                raise NonFiniteLossError(f"rank pre-training diverged at layer {layer}")
            for l in range(layer):
                Ws[l] -= lr * gW[l]
                bs[l] -= lr * gb[l]
    out = []
    for W, b in zip(Ws, bs):
        out += [W, b]
    return out


# ------------------------------------------------------------------------- Adam (by hand)
def train_adam(params, loss_and_grad, *, steps: int, lr: float, rng, n_samples: int,
               batch_size: int, betas=(0.9, 0.999), eps: float = 1e-8, record=None,
               record_every: int = 1) -> TrainResult:
    """Adam (Kingma & Ba 2015, arXiv:1412.6980, Algorithm 1; PyTorch ``torch.optim.Adam``
    without weight decay) on minibatches drawn exactly as ``depthcheck.kernels.nn.training.train``
    draws them (``np.sort(rng.choice(n_samples, batch_size, replace=False))`` per step), so an
    Adam run and an SGD run with the same ``rng`` seed see the same minibatches:

        m ← β₁ m + (1 − β₁) g,  v ← β₂ v + (1 − β₂) g²,
        p ← p − lr · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + eps)      (t = 1, 2, ...).

    ``record`` and ``record_every`` as in ``train`` (evaluated before the update of steps 0, k,
    2k, ... and after the last step when ``steps`` is a multiple of k). Raises
    ``NonFiniteLossError`` when a loss or gradient stops being finite.

    Examples
    --------
    >>> import numpy as np
    >>> f = lambda P, idx: (np.sum(P[0][idx] ** 2), [2 * P[0] * np.isin(np.arange(4), idx)])
    >>> res = train_adam([np.ones(4)], f, steps=200, lr=0.05, rng=np.random.default_rng(0),
    ...                  n_samples=4, batch_size=4)
    >>> bool(np.abs(res.params[0]).max() < 0.05)
    True
    """
    steps = check_positive_int(steps, "steps", minimum=0)
    n_samples = check_positive_int(n_samples, "n_samples")
    batch_size = check_positive_int(batch_size, "batch_size")
    if batch_size > n_samples:
        raise ValueError(f"batch_size={batch_size} exceeds n_samples={n_samples}")
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")
    b1, b2 = (float(b) for b in betas)
    if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
        raise ValueError(f"betas must lie in [0, 1), got {betas!r}")
    rng = check_generator(rng)
    record_every = check_positive_int(record_every, "record_every")
    record = dict(record or {})
    P = [np.array(p, dtype=float, copy=True) for p in params]
    m = [np.zeros_like(p) for p in P]
    v = [np.zeros_like(p) for p in P]
    hist = {"step": [], "loss": [], **{k: [] for k in record}}

    def evaluate(t):
        loss, grads = loss_and_grad(P, np.sort(rng.choice(n_samples, size=batch_size,
                                                          replace=False)))
        if not np.all(np.isfinite(loss)) or not all(np.all(np.isfinite(g)) for g in grads):
            raise NonFiniteLossError(f"Adam: non-finite loss or gradient at step {t}")
        return loss, grads

    def log(t, loss, grads):
        hist["step"].append(t)
        hist["loss"].append(np.asarray(loss, dtype=float))
        for k, fn in record.items():
            hist[k].append(np.asarray(fn(P, loss, grads)))

    for t in range(steps):
        loss, grads = evaluate(t)
        if t % record_every == 0:
            log(t, loss, grads)
        c1, c2 = 1.0 - b1 ** (t + 1), 1.0 - b2 ** (t + 1)
        for p, g, mi, vi in zip(P, grads, m, v):
            mi *= b1
            mi += (1.0 - b1) * g
            vi *= b2
            vi += (1.0 - b2) * g * g
            p -= lr * (mi / c1) / (np.sqrt(vi / c2) + eps)
    if steps % record_every == 0:
        loss, grads = evaluate(steps)
        log(steps, loss, grads)
    return TrainResult(P, {k: np.asarray(val) for k, val in hist.items()})


# -------------------------------------------------------------------------- SGD training
def train_best_lr(spec: MLPSpec, params, data, *, lr_grid, steps: int, batch_size: int,
                  sgd_seed: int, eval_every: int | None = None, record_rank: bool = False,
                  rank_cols: int = 128, optimizer: str = "sgd"):
    """SGD (``optimizer="adam"``: :func:`train_adam`) from ``params`` at every step size of
    ``lr_grid`` on the same minibatch sequence.

    Returns ``{"train_acc": (G, B), "train_loss": (G, B, R), "rank": (G, B, R)}`` with R the
    evaluations at steps 0, eval_every, ..., steps (R = 1, the final one, without
    ``eval_every``); a step size whose run diverges gets accuracy 0 (chance is 0.1), loss
    ln(10)·10 and rank 1 (a diverged run is the worst of the grid, as in a grid search)."""
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    Xtr, ytr = data[0], data[1]
    f = make_loss_and_grad(spec, Xtr, ytr)
    B, n = Xtr.shape[0], Xtr.shape[-1]
    cols = Xtr[..., :min(rank_cols, n)]
    k = eval_every or steps
    recs = {"train_loss": lambda P, l, g: mlp_loss(P, Xtr, ytr, spec)}
    if record_rank:
        recs["rank"] = lambda P, l, g: rank_lower_bound(last_hidden(P, cols, spec))
    accs, losses, ranks = [], [], []
    R = steps // k + 1
    for lr in lr_grid:
        try:
            run = train_adam if optimizer == "adam" else train
            res = run(params, f, steps=steps, lr=float(lr), rng=np.random.default_rng(sgd_seed),
                      n_samples=n, batch_size=batch_size, record=recs, record_every=k)
            h = res.history
            losses.append(h["train_loss"][-R:].T)
            ranks.append(h["rank"][-R:].T if record_rank else np.ones((B, R)))
            accs.append(accuracy(mlp_predict(res.params, Xtr, spec), ytr))
        except (NonFiniteLossError, ValueError, FloatingPointError):
            accs.append(np.zeros(B))
            losses.append(np.full((B, R), 10 * math.log(10)))
            ranks.append(np.ones((B, R)))
    return {"train_acc": np.stack(accs), "train_loss": np.stack(losses), "rank": np.stack(ranks)}
