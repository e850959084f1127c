"""A general trainable MLP, forward and backward by hand, batched over Monte Carlo trials.

Built for the LCW training experiments of Kutsuna [1]_ and usable by any claim that trains a
fully connected net (e.g. the ReLU nets with biases of Basu et al. [2]_). Layers l = 1..L with widths ``spec.widths = (d_0, ..., d_L)``; columns are samples::

    H_0 = X                                         (d_0, n) or (B, d_0, n)
    Z_l = W_l H_{l−1} + b_l                         pre-activation (b_l optional)
    hidden l < L:  N_l = norm(Z_l)                  depthcheck.kernels.nn.norms ("none", "bn", ...)
                   P_l = g_l ⊙ N_l + β_l            only with norm_affine (else P_l = N_l)
                   H_l = act(P_l)                   depthcheck.kernels.nn.activations
    output:        Z_L = W_L H_{L−1} + b_L          logits / predictions (no norm, no act)

Weights are "standard" (``W_l`` is the parameter) or "lcw" (the parameter is ``V_l`` of shape
``(d_l, d_{l−1} − 1)`` and ``W_l = V_l B_mᵀ``, rows ``w_i = B_m v_i`` summing to zero, [1]_
Sec. 3.1; ``depthcheck.kernels.nn.lcw``), per layer. The hidden layers' norm / affine /
activation map and its VJP are those of ``depthcheck.kernels.nn.layer``.

Losses per trial, as in ``depthcheck.kernels.nn.network``: ``mse`` = mean over the d_L·n entries of
(Z_L − Y)²; ``xent`` = mean over the n samples of −log softmax(Z_L[:, j])[y_j].

Backward (vector-Jacobian products; δ· = ∂loss/∂·)::

    δZ_L = 2(Z_L − Y)/(d_L n)  (mse)   or   (softmax(Z_L) − onehot(y))/n  (xent)
    for l = L..1:
        δb_l = Σ_samples δZ_l,  δW_l = δZ_l H_{l−1}ᵀ,  lcw: δV_l = δW_l B_m (depthcheck.kernels.nn.lcw, O(m))
        δH_{l−1} = W_lᵀ δZ_l
        hidden l−1:  δP = act'(P) ⊙ δH,  δg = Σ_samples δP ⊙ N,  δβ = Σ_samples δP,
                     δZ_{l−1} = normᵀ(g ⊙ δP)   (depthcheck.kernels.nn.norms.norm_backward)

Parameters are a flat list (what ``depthcheck.kernels.nn.training.train`` updates); ``MLPSpec.layout`` names
its entries. Per layer, in order: the weight parameter (``W`` ``(d_l, d_{l−1})`` or ``V``
``(d_l, d_{l−1} − 1)``), then ``b`` ``(d_l, 1)`` if ``bias``, then for hidden layers with
``norm_affine`` the gain ``g`` and shift ``beta``, each ``(d_l, 1)``. Every entry carries the
same optional leading trials axis B. Example (training with ``depthcheck.kernels.nn.training.train``)::

    spec = MLPSpec(widths=(64, 32, 32, 10), activation="sigmoid", loss="xent", weights="lcw")
    params = init_mlp(spec, rng, trials=8)
    f = make_loss_and_grad(spec, X, labels)          # validates X, labels once
    res = train(params, f, steps=500, lr=0.1, rng=rng, n_samples=X.shape[-1], batch_size=64,
                record={"grad_norms": grad_norm_recorder(spec)})

References
----------
.. [1] Kutsuna, "Linearly Constrained Weights: Reducing Activation Shift for Faster Training
   of Neural Networks", arXiv:2403.13833.
.. [2] Basu, Mukherjee, Vasudevan, "Layer Dynamics of Linearised Neural Nets",
   arXiv:1904.10689.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, NamedTuple, Optional

import numpy as np

from depthcheck.theory._checks import (as_float_array, check_choice, check_generator, check_positive_int)
from depthcheck.theory.lcw import init_variance, variance_preserving_gain
from depthcheck.kernels.nn import activations as _act
from depthcheck.kernels.nn import norms as _norms
from depthcheck.kernels.nn import lcw as _lcw
from depthcheck.kernels.nn import training as _training
from depthcheck.kernels.nn.layer import class_labels, layer_backward, layer_forward

__all__ = [
    "LOSSES", "WEIGHT_KINDS", "INITS", "MLPSpec", "MLPForward",
    "init_mlp", "make_mlp", "mlp_forward", "mlp_predict", "mlp_loss", "mlp_loss_and_grad",
    "make_loss_and_grad", "effective_weights", "layer_grad_norms", "grad_norm_recorder",
    "accuracy",
]

LOSSES = ("mse", "xent")
WEIGHT_KINDS = ("standard", "lcw")
INITS = ("gain", "xavier")


@dataclass(frozen=True)
class MLPSpec:
    """Architecture of the MLP in the module docstring (validated on construction).

    widths : (d_0, ..., d_L), L ≥ 1 layers.  activation : ``depthcheck.kernels.nn.activations.ACTIVATIONS``.
    loss : "mse" | "xent".  weights : "standard" | "lcw", or one of them per layer.
    bias : add b_l in every layer.  norm : ``depthcheck.kernels.nn.norms.NORMS``, applied to hidden
    pre-activations.  norm_affine : learnable per-unit gain/shift after a norm (requires
    norm != "none").
    """
    widths: tuple
    activation: str = "sigmoid"
    loss: str = "xent"
    weights: object = "standard"
    bias: bool = True
    norm: str = "none"
    norm_affine: bool = False

    def __post_init__(self):
        if not isinstance(self.widths, (tuple, list)) or len(self.widths) < 2:
            raise ValueError(f"widths must be a sequence (d_0, ..., d_L) with L >= 1, "
                             f"got {self.widths!r}")
        widths = tuple(check_positive_int(w, f"widths[{i}]") for i, w in enumerate(self.widths))
        object.__setattr__(self, "widths", widths)
        check_choice(self.activation, "activation", _act.ACTIVATIONS)
        check_choice(self.loss, "loss", LOSSES)
        check_choice(self.norm, "norm", _norms.NORMS)
        L = len(widths) - 1
        kinds = (self.weights,) * L if isinstance(self.weights, str) else tuple(self.weights)
        if len(kinds) != L:
            raise ValueError(f"weights must be one kind or one per layer ({L}), got "
                             f"{self.weights!r}")
        for i, k in enumerate(kinds):
            check_choice(k, f"weights[{i}]", WEIGHT_KINDS)
            if k == "lcw" and widths[i] < 2:
                raise ValueError(f"weights[{i}]='lcw' needs fan-in >= 2, got widths[{i}] = "
                                 f"{widths[i]}")
        object.__setattr__(self, "weights", kinds)
        for name in ("bias", "norm_affine"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be a bool, got {getattr(self, name)!r}")
        if self.norm_affine and self.norm == "none":
            raise ValueError("norm_affine=True requires a norm other than 'none'")

    @property
    def n_layers(self) -> int:
        return len(self.widths) - 1

    @property
    def layout(self) -> list[tuple[str, int]]:
        """``[(name, layer), ...]`` for the flat parameter list; names W, V, b, g, beta."""
        out = []
        for l in range(self.n_layers):
            out.append(("V" if self.weights[l] == "lcw" else "W", l))
            if self.bias:
                out.append(("b", l))
            if self.norm_affine and l < self.n_layers - 1:
                out += [("g", l), ("beta", l)]
        return out

    def param_shapes(self) -> list[tuple[int, ...]]:
        """Shapes of the parameters without the trials axis, in ``layout`` order."""
        shapes = []
        for name, l in self.layout:
            d_out, d_in = self.widths[l + 1], self.widths[l]
            shapes.append({"W": (d_out, d_in), "V": (d_out, d_in - 1)}.get(name, (d_out, 1)))
        return shapes

    def weight_index(self) -> list[int]:
        """Index in the parameter list of each layer's weight parameter (W or V)."""
        return [i for i, (name, _) in enumerate(self.layout) if name in ("W", "V")]


class MLPForward(NamedTuple):
    """Forward pass record. Lists run over hidden layers 1..L−1 (``pre`` also has the output).

    pre : Z_l (pre-activations, before the norm), l = 1..L; ``pre[-1]`` is the output Z_L.
    normed : P_l (the activation's input), hidden layers.  hidden : H_0 = X, H_1, ..., H_{L−1}.
    """
    output: np.ndarray
    pre: list
    normed: list
    hidden: list


# ------------------------------------------------------------------------------- initialise
def init_mlp(spec: MLPSpec, rng, *, trials: Optional[int] = None, init: str = "gain",
             gain: Optional[float] = None, output_gain: float = 1.0) -> list:
    """Random initial parameters for ``spec`` (flat list in ``spec.layout`` order).

    Weights are Gaussian. ``init="gain"``: per-entry variance ``g²/m`` for standard W and
    ``g²/(m − 1)`` for LCW V (``depthcheck.theory.lcw.init_variance``; both give E‖w_i‖² = g²,
    m the fan-in), with ``g = gain`` on hidden layers and ``output_gain`` on the output layer.
    ``init="xavier"``: variance 2/(fan_in + fan_out) for every W or V entry (Glorot [2]_).
    Biases and shifts start at 0, affine gains at 1.

    Parameters
    ----------
    spec : MLPSpec
        The architecture.
    rng : numpy.random.Generator
        Source of the Gaussian weights (consumed layer by layer, in ``spec.layout`` order).
    trials : int, optional
        Adds a leading Monte Carlo axis of that size to every parameter.
    init : {"gain", "xavier"}
    gain : float, optional
        g > 0 of the hidden layers; default
        ``depthcheck.theory.lcw.variance_preserving_gain(activation)`` (4 for sigmoid, √2 for
        relu, 1 for tanh).
    output_gain : float
        g > 0 of the output layer.

    Returns
    -------
    list of numpy.ndarray
        Shapes ``spec.param_shapes()``, with the trials axis first when ``trials`` is given.

    Raises
    ------
    ValueError
        Naming the argument: a ``spec`` that is not an ``MLPSpec``, a bad ``rng``, ``init``,
        ``trials``, ``gain`` or ``output_gain``.

    References
    ----------
    .. [1] Kutsuna, "Linearly Constrained Weights: Reducing Activation Shift for Faster
       Training of Neural Networks", arXiv:2403.13833, Secs. 3.1 and 4 (LCW, variance
       amplification).
    .. [2] Glorot, Bengio, "Understanding the difficulty of training deep feedforward neural
       networks", AISTATS 2010.

    Examples
    --------
    >>> import numpy as np
    >>> from depthcheck.kernels.nn.mlp import MLPSpec, init_mlp
    >>> spec = MLPSpec(widths=(5, 4, 3), activation="sigmoid", weights="lcw")
    >>> params = init_mlp(spec, np.random.default_rng(0), trials=2)
    >>> spec.layout
    [('V', 0), ('b', 0), ('V', 1), ('b', 1)]
    >>> [p.shape for p in params]
    [(2, 4, 4), (2, 4, 1), (2, 3, 3), (2, 3, 1)]
    """
    if not isinstance(spec, MLPSpec):
        raise ValueError(f"spec must be an MLPSpec, got {type(spec).__name__}")
    rng = check_generator(rng)
    check_choice(init, "init", INITS)
    lead = () if trials is None else (check_positive_int(trials, "trials"),)
    g_hidden = variance_preserving_gain(spec.activation) if gain is None else _pos(gain, "gain")
    g_out = _pos(output_gain, "output_gain")
    params = []
    for (name, l), shape in zip(spec.layout, spec.param_shapes()):
        d_out, d_in = spec.widths[l + 1], spec.widths[l]
        if name in ("W", "V"):
            if init == "xavier":
                var = 2.0 / (d_in + d_out)
            else:
                g = g_out if l == spec.n_layers - 1 else g_hidden
                var = init_variance("lcw" if name == "V" else "standard", d_in, g)
            params.append(math.sqrt(var) * rng.standard_normal(lead + shape))
        elif name == "g":
            params.append(np.ones(lead + shape))
        else:
            params.append(np.zeros(lead + shape))
    return params


def make_mlp(widths, rng, *, trials: Optional[int] = None, activation: str = "sigmoid",
             loss: str = "xent", weights="standard", bias: bool = True, norm: str = "none",
             norm_affine: bool = False, init: str = "gain", gain: Optional[float] = None,
             output_gain: float = 1.0) -> tuple[MLPSpec, list]:
    """Convenience: ``spec = MLPSpec(...)`` and ``params = init_mlp(spec, rng, ...)``."""
    spec = MLPSpec(tuple(widths), activation, loss, weights, bias, norm, norm_affine)
    return spec, init_mlp(spec, rng, trials=trials, init=init, gain=gain, output_gain=output_gain)


# ---------------------------------------------------------------------------------- forward
def effective_weights(params, spec: MLPSpec) -> list:
    """The weight matrices W_l actually applied (``V_l B_mᵀ`` for LCW layers)."""
    P = _check_params(params, spec)
    return [_lcw._apply(P[i]) if spec.weights[l] == "lcw" else P[i]
            for l, i in enumerate(spec.weight_index())]


def mlp_forward(params, X, spec: MLPSpec, return_hidden: bool = True):
    """Forward pass. Returns the output ``Z_L`` or, with ``return_hidden``, an ``MLPForward``
    holding every pre-activation, normed pre-activation and hidden layer (for per-layer
    statistics such as the mean pre-activation per neuron, the "activation shift" of [1]_)."""
    P = _check_params(params, spec)
    X = _check_X(X, spec, P)
    out, tape = _forward(P, X, spec, keep=return_hidden)
    if not return_hidden:
        return out
    return MLPForward(out, [t.pre_norm for t in tape] + [out], [t.P for t in tape],
                      [X] + [t.H for t in tape])


def mlp_predict(params, X, spec: MLPSpec) -> np.ndarray:
    """Output ``Z_L`` (logits for xent): ``(d_L, n)`` or ``(B, d_L, n)``."""
    return mlp_forward(params, X, spec, return_hidden=False)


def accuracy(logits, labels) -> np.ndarray:
    """Fraction of columns whose argmax over the class axis (−2) equals ``labels``; () or (B,).

    The one implementation is ``depthcheck.kernels.nn.training.accuracy``: finite logits and
    integer labels in ``[0, c)`` are required (``ValueError`` naming the argument).
    """
    return _training.accuracy(logits, labels)


# --------------------------------------------------------------------------------- backward
def mlp_loss_and_grad(params, X, Y, spec: MLPSpec, idx=None):
    """Loss ``()``/``(B,)`` and gradients (list matching ``params``) on the columns ``idx`` of
    ``X``/``Y`` (all columns when ``idx`` is None). ``Y``: targets ``(d_L, n)``/``(B, d_L, n)``
    for mse, integer labels ``(n,)``/``(B, n)`` in [0, d_L) for xent. Validates everything on
    each call; in a training loop prefer :func:`make_loss_and_grad`.
    """
    P = _check_params(params, spec)
    X = _check_X(X, spec, P)
    Y = _check_Y(Y, spec, X.shape[-1], _batch(P))
    Xb, Yb = _select(X, Y, idx, X.shape[-1])
    return _loss_and_grad(P, Xb, Yb, spec)


def mlp_loss(params, X, Y, spec: MLPSpec, idx=None) -> np.ndarray:
    """Loss only (forward pass, no gradients), ``()`` or ``(B,)``; arguments as in
    :func:`mlp_loss_and_grad` (e.g. the full training loss recorded during SGD)."""
    P = _check_params(params, spec)
    X = _check_X(X, spec, P)
    Y = _check_Y(Y, spec, X.shape[-1], _batch(P))
    Xb, Yb = _select(X, Y, idx, X.shape[-1])
    out, _ = _forward(P, Xb, spec, keep=False)
    return _loss(out, Yb, spec)[0]


def make_loss_and_grad(spec: MLPSpec, X, Y) -> Callable:
    """The closure ``f(params, idx=None) -> (loss, grads)`` that
    ``depthcheck.kernels.nn.training.train`` drives.

    ``X`` and ``Y`` are validated once here; the parameters' shapes on every call (cheaply).
    ``idx`` selects the columns (samples) of a minibatch, None for all of them.

    Parameters
    ----------
    spec : MLPSpec
        The architecture.
    X : array_like, shape ``(d_0, n)`` or ``(B, d_0, n)``
        Inputs; columns are samples.
    Y : array_like
        ``mse``: targets ``(d_L, n)`` or ``(B, d_L, n)``; ``xent``: integer labels in
        ``[0, d_L)`` of shape ``(n,)`` or ``(B, n)``.

    Returns
    -------
    callable
        ``f(params, idx=None)`` returning the loss ``()``/``(B,)`` and the gradients (a list
        matching ``params``; for LCW layers ∂loss/∂V = (∂loss/∂W) B_m, [1]_ Sec. 3.1).

    Raises
    ------
    ValueError
        Naming ``spec``, ``X`` or ``Y`` here; ``params``/``idx`` (naming the entry) when
        ``f`` is called with bad ones.

    References
    ----------
    .. [1] Kutsuna, "Linearly Constrained Weights: Reducing Activation Shift for Faster
       Training of Neural Networks", arXiv:2403.13833.

    Examples
    --------
    The gradient agrees with a central finite difference:

    >>> import numpy as np
    >>> from depthcheck.kernels.nn.mlp import MLPSpec, init_mlp, make_loss_and_grad
    >>> rng = np.random.default_rng(0)
    >>> spec = MLPSpec(widths=(4, 6, 3), activation="tanh", loss="xent", weights="lcw")
    >>> params = init_mlp(spec, rng)
    >>> X, y = rng.standard_normal((4, 10)), rng.integers(0, 3, 10)
    >>> f = make_loss_and_grad(spec, X, y)
    >>> loss, grads = f(params)
    >>> E = np.zeros_like(params[0]); E[2, 1] = 1e-6
    >>> up = f([params[0] + E] + params[1:])[0]
    >>> down = f([params[0] - E] + params[1:])[0]
    >>> bool(abs((up - down) / 2e-6 - grads[0][2, 1]) < 1e-7)
    True
    >>> f(params, np.array([0, 4, 7]))[0].shape      # a minibatch of 3 samples
    ()
    """
    if not isinstance(spec, MLPSpec):
        raise ValueError(f"spec must be an MLPSpec, got {type(spec).__name__}")
    X = as_float_array(X, "X", ndim=(2, 3))
    if X.shape[-2] != spec.widths[0]:
        raise ValueError(f"X must have {spec.widths[0]} rows (features), got shape {X.shape}")
    n = X.shape[-1]
    y_batched = np.ndim(Y) == (3 if spec.loss == "mse" else 2)
    batch = X.shape[0] if X.ndim == 3 else (np.shape(Y)[0] if y_batched else None)
    Y = _check_Y(Y, spec, n, batch)
    if X.ndim == 3 and y_batched and np.shape(Y)[0] != batch:
        raise ValueError(f"X has batch {batch} but Y has batch {np.shape(Y)[0]}")

    def f(params, idx=None):
        P = _check_params(params, spec)
        if batch is not None and _batch(P) != batch:
            raise ValueError(f"X/Y are batched with B = {batch} but params have batch "
                             f"{_batch(P)}")
        Xb, Yb = _select(X, Y, idx, n)
        return _loss_and_grad(P, Xb, Yb, spec)
    return f


def layer_grad_norms(grads, spec: MLPSpec) -> np.ndarray:
    """Frobenius norm of each layer's weight-parameter gradient (∂/∂W or ∂/∂V), ``(B, L)``/``(L,)``.

    For LCW layers ‖∂L/∂V‖ = ‖(∂L/∂W) B_m‖ = ‖∂L/∂W projected on W_LC‖ (B_m orthonormal).
    """
    if not isinstance(spec, MLPSpec):
        raise ValueError(f"spec must be an MLPSpec, got {type(spec).__name__}")
    if len(grads) != len(spec.layout):
        raise ValueError(f"grads must have {len(spec.layout)} entries, got {len(grads)}")
    return np.stack([np.sqrt(np.sum(np.square(grads[i]), axis=(-2, -1)))
                     for i in spec.weight_index()], axis=-1)


def grad_norm_recorder(spec: MLPSpec) -> Callable:
    """Recorder ``(params, loss, grads) -> layer_grad_norms(grads, spec)`` for ``train``."""
    def rec(params, loss, grads):
        return layer_grad_norms(grads, spec)
    return rec


# ------------------------------------------------------------------------------ internals
def _pos(v, name):
    v = float(v)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {v}")
    return v


def _T(a):
    return np.swapaxes(a, -1, -2)


def _batch(P):
    """Trials axis size of a validated parameter list (None when unbatched)."""
    return P[0].shape[0] if P[0].ndim == 3 else None


def _check_params(params, spec) -> list:
    if not isinstance(spec, MLPSpec):
        raise ValueError(f"spec must be an MLPSpec, got {type(spec).__name__}")
    if not isinstance(params, (list, tuple)):
        raise ValueError(f"params must be a list of arrays, got {type(params).__name__}")
    shapes = spec.param_shapes()
    if len(params) != len(shapes):
        raise ValueError(f"params must have {len(shapes)} entries for this spec "
                         f"(layout {spec.layout}), got {len(params)}")
    P = [np.asarray(p) for p in params]
    batched = P[0].ndim == len(shapes[0]) + 1
    B = P[0].shape[0] if batched else None
    for i, (p, s, (name, l)) in enumerate(zip(P, shapes, spec.layout)):
        want = ((B,) + s) if batched else s
        if p.shape != want:
            raise ValueError(f"params[{i}] ({name} of layer {l + 1}) must have shape {want}, "
                             f"got {p.shape}")
        if not np.issubdtype(p.dtype, np.floating):
            raise ValueError(f"params[{i}] must be a float array, got dtype {p.dtype}")
    return P


def _check_X(X, spec, P):
    X = as_float_array(X, "X", ndim=(2, 3))
    if X.shape[-2] != spec.widths[0]:
        raise ValueError(f"X must have {spec.widths[0]} rows (features), got shape {X.shape}")
    B = _batch(P)
    if X.ndim == 3 and X.shape[0] != B:
        raise ValueError(f"X is batched with B = {X.shape[0]} but params have batch {B}; a "
                         f"batched X needs batched params with the same B")
    return X


def _check_Y(Y, spec, n, batch):
    d_out = spec.widths[-1]
    if spec.loss == "mse":
        Y = as_float_array(Y, "Y", ndim=(2, 3))
        ok = {(d_out, n)} | ({(batch, d_out, n)} if batch is not None else set())
        if Y.shape not in ok:
            raise ValueError(f"Y must have shape {sorted(ok, key=len)}, got {Y.shape}")
        return Y
    return class_labels(Y, n, batch, d_out)


def _select(X, Y, idx, n):
    if idx is None:
        return X, Y
    idx = np.asarray(idx)
    if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"idx must be a non-empty 1-D integer array of sample indices, "
                         f"got shape {idx.shape}, dtype {idx.dtype}")
    if idx.min() < -n or idx.max() >= n:
        raise ValueError(f"idx holds indices outside [0, {n})")
    return X[..., idx], Y[..., idx]


def _forward(P, X, spec, keep=True):
    """Returns (output, tape); tape[l] is the ``LayerOutput`` of hidden layer l + 1 (H, the
    pre-activation Z as ``pre_norm``, the activation's argument P, the norm cache)."""
    L = spec.n_layers
    k = 0
    H = X
    tape = []
    for l in range(L):
        Wp = P[k]
        k += 1
        W = _lcw._apply(Wp) if spec.weights[l] == "lcw" else Wp
        Z = W @ H
        if spec.bias:
            Z = Z + P[k]
            k += 1
        if l == L - 1:
            return Z, tape
        gain, shift = (P[k], P[k + 1]) if spec.norm_affine else (None, None)
        k += 2 if spec.norm_affine else 0
        try:
            out = layer_forward(Z, norm=spec.norm, activation=spec.activation,
                                order="norm_act", gain=gain, shift=shift)
        except ValueError as exc:
            raise ValueError(f"hidden layer {l + 1}: {exc}") from exc
        H = out.H
        if keep:
            tape.append(out)
        else:
            tape = [out]  # keep only what the next layer needs
    raise AssertionError("unreachable")


def _loss(out, Y, spec):
    """(loss per trial, dloss/dout) for the output ``out`` (module docstring)."""
    d_out, n = out.shape[-2], out.shape[-1]
    if spec.loss == "mse":
        R = out - Y
        return np.mean(R * R, axis=(-2, -1)), (2.0 / (d_out * n)) * R
    mx = out.max(axis=-2, keepdims=True)
    E = np.exp(out - mx)
    S = E.sum(axis=-2, keepdims=True)
    lse = (mx + np.log(S))[..., 0, :]
    Yb = np.broadcast_to(Y, out.shape[:-2] + (n,))
    z_true = np.take_along_axis(out, Yb[..., None, :], axis=-2)[..., 0, :]
    dZ = E / S
    np.put_along_axis(dZ, Yb[..., None, :],
                      np.take_along_axis(dZ, Yb[..., None, :], axis=-2) - 1.0, axis=-2)
    dZ /= n
    return np.mean(lse - z_true, axis=-1), dZ


def _loss_and_grad(P, X, Y, spec):
    L = spec.n_layers
    out, tape = _forward(P, X, spec, keep=True)
    value, dZ = _loss(out, Y, spec)
    grads = [None] * len(P)
    # parameter index of each layer's first entry
    starts, k = [], 0
    for l in range(L):
        starts.append(k)
        k += 1 + int(spec.bias) + (2 if spec.norm_affine and l < L - 1 else 0)
    for l in range(L - 1, -1, -1):
        s = starts[l]
        H_prev = X if l == 0 else tape[l - 1].H
        gW = dZ @ _T(H_prev)
        lcw = spec.weights[l] == "lcw"
        grads[s] = _lcw._apply_T(gW) if lcw else gW
        if spec.bias:
            grads[s + 1] = dZ.sum(axis=-1, keepdims=True)
        if l == 0:
            break
        W = _lcw._apply(P[s]) if lcw else P[s]
        dH = _T(W) @ dZ
        gain = None
        if spec.norm_affine:
            ig = starts[l - 1] + 1 + int(spec.bias)
            gain = P[ig]
        # σ' from the stored output (sigmoid, tanh): cheaper, exact to ~1e-16
        dZ, dP = layer_backward(tape[l - 1], dH, activation=spec.activation, order="norm_act",
                                gain=gain, from_output=True)
        if spec.norm_affine:
            grads[ig] = np.sum(dP * tape[l - 1].cache.Y, axis=-1, keepdims=True)
            grads[ig + 1] = dP.sum(axis=-1, keepdims=True)
    return value, grads
