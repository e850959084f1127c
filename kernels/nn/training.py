"""Training by hand: full-batch gradient descent and minibatch SGD, batched over trials.

One generic loop, ``train``, drives any ``loss_and_grad(params, idx) -> (loss, grads)`` (e.g. a
closure over ``depthcheck.kernels.nn.network.forward_backward``, or
``depthcheck.kernels.nn.mlp.make_loss_and_grad``). It runs the linear-net experiments of Basu
et al. [1]_ and the LCW experiments of Kutsuna [2]_.

Update rule (PyTorch ``torch.optim.SGD`` conventions, dampening 0), for each parameter p with
gradient g at step t:

    g  ← g + λ p                          (weight decay: coupled L2, i.e. the gradient of
                                           L + (λ/2)||p||²; this is Arora et al. [3]_'s
                                           dW/dt = −ηλW − η∂L/∂W when discretised)
    v  ← μ v + g      (v = 0 before step 0; skipped when μ = 0)
    d  = g + μ v  if nesterov  else  v    (d = g when μ = 0)
    p  ← p − η_t · s_p · d,   η_t = lr · schedule(t),  s_p = lr_scale[p] (default 1)

With μ = λ = 0, s_p = 1 and a constant schedule this is exactly the GD map W_j(t+1) = W_j(t) −
η ∂L/∂W_j of [1]_ eq. (4). Per-parameter ``lr_scale`` exists for the balance-breaking
negative control (different step sizes per layer destroy the invariant of [1]_ Theorem 1).

Batching: every parameter may carry a leading trials axis B; the loop never looks at shapes, so
the B trials are updated in one vectorised step. ``loss`` returned by ``loss_and_grad`` is ``()``
or ``(B,)``. A trial that diverges aborts the whole call with ``NonFiniteLossError`` naming the
step (never a silent NaN).

Minibatches: with ``batch_size`` set, each step draws ``batch_size`` distinct indices from
``range(n_samples)`` uniformly without replacement (``rng.choice``), independently across steps,
and passes the *same* index array to every trial (one ``loss_and_grad`` call per step keeps the
trials vectorised; trials still differ through their initialisation). ``idx`` is ``None`` for
full-batch GD.

Recording: ``record`` maps names to ``recorder(params, loss, grads) -> array``; every recorder
is evaluated at steps 0, k, 2k, ... ≤ ``steps`` (k = ``record_every``) on the parameters *before*
the update of that step, together with the loss and gradients of that same evaluation (the
minibatch loss under SGD). When ``steps`` is a multiple of k, one extra ``loss_and_grad`` call
records the final parameters. ``history["step"]`` has shape ``(n_records,)``,
``history["loss"]`` ``(n_records,)`` or ``(n_records, B)``, and each recorder's entry
``(n_records, *recorder_shape)``.

References
----------
.. [1] Basu, Mukherjee, Vasudevan, "Layer Dynamics of Linearised Neural Nets",
   arXiv:1904.10689.
.. [2] Kutsuna, "Linearly Constrained Weights: Reducing Activation Shift for Faster Training
   of Neural Networks", arXiv:2403.13833.
.. [3] Arora, Cohen, Hazan, "On the Optimization of Deep Networks: Implicit Acceleration by
   Overparameterization", ICML 2018, arXiv:1802.06509.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np

from depthcheck.theory._checks import check_choice, check_generator, check_positive_int

__all__ = [
    "TrainResult", "NonFiniteLossError", "train", "make_schedule", "SCHEDULES",
    "frobenius_norms", "balance_matrices", "balance_traces", "grad_norms", "losses",
    "accuracy", "accuracy_recorder", "layer_frobenius_norms_sq",
]

SCHEDULES = ("constant", "cosine", "step", "linear")


class NonFiniteLossError(FloatingPointError):
    """Raised when the loss (or a gradient) becomes NaN/inf; the message names the step."""


@dataclass
class TrainResult:
    """Final parameters (with the leading trials axis B when batched) and the recorded history.

    ``history`` always holds ``"step"`` ``(n_records,)`` and ``"loss"`` ``(n_records,)`` or
    ``(n_records, B)``, plus one entry per recorder with shape ``(n_records, *recorder_shape)``.
    """
    params: list
    history: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# learning-rate schedules
def make_schedule(schedule, steps: int) -> Callable[[int], float]:
    """Return ``step -> multiplier`` of the base learning rate.

    ``schedule`` is one of
      * ``None`` or ``"constant"``: 1;
      * a callable ``step -> multiplier`` (used as is);
      * ``"cosine"`` or ``("cosine", {"min_factor": m})``: m + (1 − m)(1 + cos(π t/steps))/2;
      * ``("step", {"step_size": k, "gamma": g})``: g^{⌊t/k⌋} (``"step"`` alone: k = steps//3,
        g = 0.1);
      * ``"linear"`` or ``("linear", {"end_factor": e})``: 1 + (e − 1) t/steps (default e = 0).
    Optional ``"warmup": w`` in the dict multiplies by min(1, (t+1)/w) (linear warm-up).
    """
    steps = check_positive_int(steps, "steps", minimum=0)
    if schedule is None:
        return lambda t: 1.0
    if callable(schedule):
        return schedule
    if isinstance(schedule, str):
        name, opts = schedule, {}
    elif isinstance(schedule, (tuple, list)) and len(schedule) == 2 and isinstance(schedule[0], str) \
            and isinstance(schedule[1], Mapping):
        name, opts = schedule[0], dict(schedule[1])
    else:
        raise ValueError(f"schedule must be None, a callable, one of {SCHEDULES} or a (name, "
                         f"options) pair, got {schedule!r}")
    check_choice(name, "schedule", SCHEDULES)
    warmup = opts.pop("warmup", 0)
    warmup = check_positive_int(warmup, "schedule warmup", minimum=0)
    horizon = max(steps, 1)

    def _num(key, default, lo=None):
        v = opts.pop(key, default)
        if not isinstance(v, numbers.Real) or isinstance(v, bool) or not math.isfinite(v):
            raise ValueError(f"schedule option {key!r} must be a finite number, got {v!r}")
        if lo is not None and v < lo:
            raise ValueError(f"schedule option {key!r} must be >= {lo}, got {v}")
        return float(v)

    if name == "constant":
        base = lambda t: 1.0  # noqa: E731
    elif name == "cosine":
        m = _num("min_factor", 0.0, 0.0)
        base = lambda t: m + (1.0 - m) * 0.5 * (1.0 + math.cos(math.pi * min(t, horizon) / horizon))  # noqa: E731
    elif name == "step":
        k = check_positive_int(opts.pop("step_size", max(steps // 3, 1)), "schedule step_size")
        g = _num("gamma", 0.1, 0.0)
        base = lambda t: g ** (t // k)  # noqa: E731
    else:  # linear
        e = _num("end_factor", 0.0, 0.0)
        base = lambda t: 1.0 + (e - 1.0) * min(t, horizon) / horizon  # noqa: E731
    if opts:
        raise ValueError(f"schedule {name!r} got unknown options {sorted(opts)}")
    if warmup:
        return lambda t: base(t) * min(1.0, (t + 1) / warmup)
    return base


# ---------------------------------------------------------------------------------------------
def train(params, loss_and_grad, *, steps, lr, rng=None, n_samples=None, batch_size=None,
          momentum=0.0, nesterov=False, weight_decay=0.0, schedule=None, lr_scale=None,
          record=None, record_every=1, progress=False) -> TrainResult:
    """Run ``steps`` steps of (S)GD from ``params`` (update rule in the module docstring).

    Parameters
    ----------
    params : list of array_like
        Initial parameters (copied; the inputs are not modified).
    loss_and_grad : callable
        ``(params, idx) -> (loss, grads)``; ``idx`` is ``None`` (full batch) or an int array
        of minibatch sample indices; ``loss`` is ``()`` or ``(B,)``; ``grads`` matches
        ``params`` in length and shapes.
    steps : int
        Number of updates (>= 0).
    lr : float
        Base learning rate η > 0.
    rng : numpy.random.Generator, optional
        Required when ``batch_size`` is set (draws the minibatches).
    n_samples, batch_size : int, optional
        Minibatch SGD over ``range(n_samples)``; both or neither.
    momentum : float
        μ in [0, 1).
    nesterov : bool
        Nesterov momentum (requires μ > 0).
    weight_decay : float
        λ >= 0, coupled L2 (added to the gradient before momentum).
    schedule : str, tuple, callable or None
        See ``make_schedule``.
    lr_scale : sequence, optional
        One multiplier per parameter (a float or an array broadcastable to the parameter,
        e.g. shape ``(B, 1, 1)`` for per-trial rates).
    record : dict, optional
        ``{name: recorder(params, loss, grads) -> array}``; ``"step"``/``"loss"`` are
        reserved.
    record_every : int
        k >= 1 (module docstring, "Recording").
    progress : bool
        Show a tqdm bar.

    Returns
    -------
    TrainResult
        The final parameters and the history (module docstring).

    Raises
    ------
    ValueError
        Naming the argument, for bad input (complex ``params`` included: casting would drop
        their imaginary part).
    TypeError
        When ``loss_and_grad`` returns a loss or gradient that is None, complex or not numeric.
    NonFiniteLossError
        Naming the step at which the loss or a gradient stopped being finite (also when
        ``loss_and_grad`` raises ``FloatingPointError``, e.g. ``forward_backward`` naming the
        layer that overflowed).

    References
    ----------
    .. [1] Basu, Mukherjee, Vasudevan, "Layer Dynamics of Linearised Neural Nets",
       arXiv:1904.10689: eq. (4) (the GD map), Theorem 1 (balance invariant).

    Examples
    --------
    Gradient descent on a two-layer linear net W_2 W_1 from a small initialisation; the
    balance tr D_1 = ‖W_2‖_F² − ‖W_1‖_F² is (nearly) conserved ([1]_ Theorem 1):

    >>> import numpy as np
    >>> from depthcheck.kernels.nn.network import forward_backward
    >>> from depthcheck.kernels.nn.training import balance_traces, train
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.standard_normal((3, 20)), rng.standard_normal((2, 20))
    >>> W0 = [0.1 * rng.standard_normal((3, 3)), 0.1 * rng.standard_normal((2, 3))]
    >>> f = lambda P, idx: forward_backward(X, P, Y, norm="none", activation="identity")
    >>> res = train(W0, f, steps=200, lr=0.05, record={"bal": balance_traces},
    ...             record_every=100)
    >>> res.history["step"].tolist(), bool(res.history["loss"][-1] < res.history["loss"][0])
    ([0, 100, 200], True)
    >>> drift = np.abs(res.history["bal"] - res.history["bal"][0]).max()
    >>> bool(drift < 0.05 * np.abs(res.history["bal"]).max() + 1e-3)
    True
    """
    steps = check_positive_int(steps, "steps", minimum=0)
    record_every = check_positive_int(record_every, "record_every")
    lr = _real(lr, "lr", positive=True)
    momentum = _real(momentum, "momentum")
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must lie in [0, 1), got {momentum}")
    weight_decay = _real(weight_decay, "weight_decay")
    if weight_decay < 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
    if not isinstance(nesterov, bool):
        raise ValueError(f"nesterov must be a bool, got {nesterov!r}")
    if nesterov and momentum == 0.0:
        raise ValueError("nesterov=True requires momentum > 0")
    if not callable(loss_and_grad):
        raise ValueError("loss_and_grad must be callable (params, idx) -> (loss, grads)")
    sched = make_schedule(schedule, steps)

    if not isinstance(params, (list, tuple)) or len(params) == 0:
        raise ValueError("params must be a non-empty list of arrays")
    P = []
    for i, p in enumerate(params):
        _check_real(np.asarray(p), f"params[{i}]")
        a = np.array(p, dtype=np.float64 if not np.issubdtype(np.asarray(p).dtype, np.floating)
                     else np.asarray(p).dtype, copy=True)
        if not np.all(np.isfinite(a)):
            raise ValueError(f"params[{i}] contains non-finite values")
        P.append(a)

    if (n_samples is None) != (batch_size is None):
        raise ValueError("give both n_samples and batch_size for minibatch SGD, or neither")
    if batch_size is not None:
        n_samples = check_positive_int(n_samples, "n_samples")
        batch_size = check_positive_int(batch_size, "batch_size")
        if batch_size > n_samples:
            raise ValueError(f"batch_size={batch_size} exceeds n_samples={n_samples}")
        rng = check_generator(rng, "rng")
    elif rng is not None:
        check_generator(rng, "rng")

    scales = _lr_scales(lr_scale, P)
    record = dict(record or {})
    for name, fn in record.items():
        if name in ("step", "loss"):
            raise ValueError(f"record name {name!r} is reserved")
        if not callable(fn):
            raise ValueError(f"record[{name!r}] must be callable (params, loss, grads) -> array")

    def draw():
        if batch_size is None:
            return None
        return np.sort(rng.choice(n_samples, size=batch_size, replace=False))

    def evaluate(t):
        try:
            loss, grads = loss_and_grad(P, draw())
        except FloatingPointError as exc:  # e.g. forward_backward naming the layer that overflowed
            if isinstance(exc, NonFiniteLossError):
                raise
            raise NonFiniteLossError(f"step {t}: {exc}; lower lr={lr} or check the model") from exc
        loss = _check_real(loss, "the loss returned by loss_and_grad", error=TypeError)
        loss = np.asarray(loss, dtype=np.float64)
        if not np.all(np.isfinite(loss)):
            bad = np.flatnonzero(~np.isfinite(np.atleast_1d(loss)))
            raise NonFiniteLossError(f"non-finite loss at step {t} (trials {bad[:10].tolist()}); "
                                     f"lower lr={lr} or check the model")
        if not isinstance(grads, (list, tuple)) or len(grads) != len(P):
            raise ValueError(f"loss_and_grad returned {type(grads).__name__} of length "
                             f"{len(grads) if hasattr(grads, '__len__') else '?'}; expected a "
                             f"list of {len(P)} gradients")
        grads = [_check_real(np.asarray(g), f"gradient {i} returned by loss_and_grad",
                             error=TypeError) for i, g in enumerate(grads)]
        for i, (g, p) in enumerate(zip(grads, P)):
            if g.shape != p.shape:
                raise ValueError(f"gradient {i} has shape {g.shape}, params[{i}] has {p.shape}")
            if not np.all(np.isfinite(g)):
                raise NonFiniteLossError(f"non-finite gradient of params[{i}] at step {t}")
        return loss, grads

    hist = {"step": [], "loss": []}
    hist.update({k: [] for k in record})

    def log(t, loss, grads):
        hist["step"].append(t)
        hist["loss"].append(loss)
        for k, fn in record.items():
            hist[k].append(np.asarray(fn(P, loss, grads)))

    bufs = [None] * len(P)
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=steps, desc="train", leave=False)
    try:
        for t in range(steps):
            loss, grads = evaluate(t)
            if t % record_every == 0:
                log(t, loss, grads)
            eta = lr * float(sched(t))
            for i, (p, g) in enumerate(zip(P, grads)):
                if weight_decay:
                    g = g + weight_decay * p
                if momentum:
                    bufs[i] = g.copy() if bufs[i] is None else momentum * bufs[i] + g
                    g = g + momentum * bufs[i] if nesterov else bufs[i]
                p -= (eta * scales[i]) * g
            if bar is not None:
                bar.update(1)
        if steps % record_every == 0:
            loss, grads = evaluate(steps)
            log(steps, loss, grads)
    finally:
        if bar is not None:
            bar.close()

    history = {"step": np.asarray(hist["step"], dtype=np.int64)}
    for k, v in hist.items():
        if k != "step":
            history[k] = np.stack(v) if v else np.zeros((0,))
    return TrainResult(params=P, history=history)


def _check_real(a, name, error=ValueError):
    """``a`` as an array of real numbers; ``error`` naming ``name`` for None, complex (whose
    imaginary part a float parameter would silently drop) or non-numeric values."""
    if a is None:
        raise error(f"{name} is None; expected a real number or array")
    arr = np.asarray(a)
    if np.iscomplexobj(arr):
        raise error(f"{name} is complex (dtype {arr.dtype}); training runs on real parameters "
                    f"and casting would drop the imaginary part")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise error(f"{name} must be real numbers, got dtype {arr.dtype}")
    return a


def _real(v, name, positive=False) -> float:
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
        raise ValueError(f"{name} must be a finite real number, got {v!r}")
    if positive and v <= 0:
        raise ValueError(f"{name} must be > 0, got {v}")
    return float(v)


def _lr_scales(lr_scale, P):
    if lr_scale is None:
        return [1.0] * len(P)
    if not isinstance(lr_scale, (list, tuple)) or len(lr_scale) != len(P):
        raise ValueError(f"lr_scale must be a list with one multiplier per parameter "
                         f"({len(P)}), got {lr_scale!r}")
    out = []
    for i, (s, p) in enumerate(zip(lr_scale, P)):
        a = np.asarray(s, dtype=np.float64)
        if not np.all(np.isfinite(a)) or np.any(a < 0):
            raise ValueError(f"lr_scale[{i}] must be finite and >= 0")
        try:
            np.broadcast_shapes(a.shape, p.shape)
        except ValueError:
            raise ValueError(f"lr_scale[{i}] of shape {a.shape} does not broadcast to "
                             f"params[{i}] of shape {p.shape}") from None
        if np.broadcast_shapes(a.shape, p.shape) != p.shape:
            raise ValueError(f"lr_scale[{i}] of shape {a.shape} would enlarge params[{i}] "
                             f"of shape {p.shape}")
        out.append(float(a) if a.ndim == 0 else a)
    return out


# ---------------------------------------------------------------------------------------------
# ready-made recorders: signature (params, loss, grads) -> array, batched over a leading B axis
def _fro2(W):
    return np.sum(W * W, axis=(-2, -1))


def _matrices(params, name="params") -> list:
    """The entries of ``params`` as real arrays ``(d_out, d_in)`` or ``(B, d_out, d_in)`` with
    one leading shape; ``ValueError`` naming the entry otherwise."""
    if not isinstance(params, (list, tuple)) or len(params) == 0:
        raise ValueError(f"{name} must be a non-empty list of weight matrices, got "
                         f"{type(params).__name__}")
    out = []
    for i, W in enumerate(params):
        W = np.asarray(_check_real(W, f"{name}[{i}]"))
        if W.ndim not in (2, 3):
            raise ValueError(f"{name}[{i}] must be a matrix (d_out, d_in) or a batch "
                             f"(B, d_out, d_in), got shape {W.shape}")
        if out and W.shape[:-2] != out[0].shape[:-2]:
            raise ValueError(f"{name}[{i}] has leading (trials) shape {W.shape[:-2]}, {name}[0] "
                             f"has {out[0].shape[:-2]}")
        out.append(W)
    return out


def frobenius_norms(params, loss=None, grads=None) -> np.ndarray:
    """Squared Frobenius norms ||W_l||_F² of the weight matrices, shape ``(B, L)`` (or ``(L,)``).

    Every parameter must be a matrix ``(d_out, d_in)`` or ``(B, d_out, d_in)`` (``ValueError``
    naming ``params[i]`` otherwise).
    """
    return np.stack([_fro2(W) for W in _matrices(params)], axis=-1)


#: alias making the squaring explicit
layer_frobenius_norms_sq = frobenius_norms


def balance_matrices(params, loss=None, grads=None) -> np.ndarray:
    """Balance matrices D_l = W_{l+1}ᵀ W_{l+1} − W_l W_lᵀ ([1]_ eq. (8); [3]_),
    l = 1..L−1, for the chain of weights ``params = [W_1, ..., W_L]`` (W_l of shape
    ``(d_l, d_{l−1})``, so D_l is ``d_l × d_l``).

    Returns shape ``(B, L−1, m, m)`` (or ``(L−1, m, m)``) with m = max_l d_l; D_l sits in the top
    left ``d_l × d_l`` block, zero-padded (padding leaves every norm unchanged).
    """
    params = _matrices(params)
    if len(params) < 2:
        raise ValueError("balance_matrices needs at least two weight matrices")
    Ds = []
    for l in range(len(params) - 1):
        W, V = params[l], params[l + 1]
        if V.shape[-1] != W.shape[-2]:
            raise ValueError(f"params[{l + 1}] has {V.shape[-1]} columns but params[{l}] has "
                             f"{W.shape[-2]} rows")
        Ds.append(np.swapaxes(V, -1, -2) @ V - W @ np.swapaxes(W, -1, -2))
    m = max(D.shape[-1] for D in Ds)
    lead = Ds[0].shape[:-2]
    out = np.zeros(lead + (len(Ds), m, m))
    for l, D in enumerate(Ds):
        k = D.shape[-1]
        out[..., l, :k, :k] = D
    return out


def balance_traces(params, loss=None, grads=None) -> np.ndarray:
    """tr D_l = ||W_{l+1}||_F² − ||W_l||_F², shape ``(B, L−1)`` ([1]_ Lemma 2, Cor. 2.1)."""
    f = frobenius_norms(params)
    return f[..., 1:] - f[..., :-1]


def grad_norms(params, loss, grads) -> np.ndarray:
    """Frobenius norms ||∂L/∂W_l||_F of the gradients, shape ``(B, L)`` (or ``(L,)``).

    A batched ``loss`` of shape ``(B,)`` needs every gradient batched as ``(B, ...)``; a
    mismatch raises ``ValueError`` naming ``grads[i]`` (it would otherwise reduce the wrong
    axes).
    """
    if not isinstance(grads, (list, tuple)) or len(grads) == 0:
        raise ValueError(f"grads must be a non-empty list of gradient arrays, got "
                         f"{type(grads).__name__}")
    loss = np.asarray(_check_real(loss, "loss"))
    if loss.ndim > 1:
        raise ValueError(f"loss must have shape () or (B,), got {loss.shape}")
    Gs = [np.asarray(_check_real(G, f"grads[{i}]")) for i, G in enumerate(grads)]
    if loss.ndim == 1:
        for i, G in enumerate(Gs):
            if G.ndim < 2 or G.shape[0] != loss.shape[0]:
                raise ValueError(f"grads[{i}] has shape {G.shape} but the loss is batched over "
                                 f"B = {loss.shape[0]} trials; each gradient must be "
                                 f"(B, ...) with the trials first")
    return np.stack([np.sqrt(np.sum(G ** 2, axis=tuple(range(1 if loss.ndim else 0, G.ndim))))
                     for G in Gs], axis=-1)


def losses(params, loss, grads) -> np.ndarray:
    """The loss itself (identity recorder, for symmetry)."""
    return np.asarray(loss)


def accuracy(logits, labels) -> np.ndarray:
    """Fraction of columns whose argmax over the class axis (−2) equals ``labels``.

    ``logits`` ``(c, n)`` or ``(B, c, n)``, finite; ``labels`` ``(n,)`` or ``(B, n)`` integers
    in ``[0, c)``. Returns ``()`` or ``(B,)``. ``ValueError`` naming ``logits`` / ``labels``
    otherwise (NaN logits would silently count as class 0).
    """
    logits = np.asarray(_check_real(logits, "logits"))
    labels = np.asarray(_check_real(labels, "labels"))
    if logits.ndim not in (2, 3) or logits.size == 0:
        raise ValueError(f"logits must have shape (c, n) or (B, c, n), got {logits.shape}")
    if not np.all(np.isfinite(logits)):
        bad = "NaN" if np.any(np.isnan(logits)) else "inf"
        raise ValueError(f"logits contains {bad} values; argmax over them is meaningless (a "
                         f"NaN would be counted as class 0)")
    if labels.ndim not in (1, 2) or labels.shape[-1] != logits.shape[-1]:
        raise ValueError(f"labels must have shape (n,) or (B, n) with n = {logits.shape[-1]} "
                         f"(the columns of logits), got {labels.shape}")
    if labels.ndim == 2 and logits.ndim == 3 and labels.shape[0] != logits.shape[0]:
        raise ValueError(f"labels has batch {labels.shape[0]}, logits {logits.shape[0]}")
    c = logits.shape[-2]
    if labels.dtype == bool or (not np.issubdtype(labels.dtype, np.integer) and not (
            np.all(np.isfinite(labels)) and np.all(labels == np.round(labels)))):
        raise ValueError(f"labels must hold integer class labels, got {labels.dtype} values")
    if np.any(labels < 0) or np.any(labels >= c):
        raise ValueError(f"labels holds values outside [0, {c}) (min {labels.min()}, max "
                         f"{labels.max()}); labels index the {c} rows of logits")
    return np.mean(np.argmax(logits, axis=-2) == labels, axis=-1)


def accuracy_recorder(predict: Callable, X, labels) -> Callable:
    """Recorder computing ``accuracy(predict(params, X), labels)`` (e.g. on held-out data), with
    ``predict(params, X) -> logits`` such as ``lambda P, X: depthcheck.kernels.nn.network.forward(X, P, ...)``.
    """
    if not callable(predict):
        raise ValueError("predict must be callable (params, X) -> logits")

    def rec(params, loss=None, grads=None):
        return accuracy(predict(params, X), labels)
    return rec
