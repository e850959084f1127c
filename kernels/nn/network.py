"""Framework-free forward and backward pass of a deep (normalised) MLP, batched over trials.

Network (columns of ``X`` are the n samples)::

    H_0 = X
    A_l = W_l H_{l-1}                    (or  H_{l-1} + γ W_l H_{l-1}  with residual=γ)
    norm_act:  H_l = act(g_l · norm(A_l))        l = 1, ..., L-1   (hidden layers)
    act_norm:  H_l = norm(act(g_l · A_l))
    Z = W_L H_{L-1}                      (output: no norm, no activation, no residual)

``norm_act`` with a per-layer gain g_l = l^{-r} is the shaped MLP of Meterez et al. [1]_,
Sec. 5 eq. (11), gain on the BN output just before the activation; the residual form
Bn(H + γ W H) is the recursion (1) of Daneshmand et al. [2]_. The norm / gain / activation
map and its VJP are ``depthcheck.kernels.nn.layer`` (norms: ``depthcheck.kernels.nn.norms``,
activations: ``depthcheck.kernels.nn.activations``).

Losses (per trial): ``mse`` = mean over all d_L·n entries of (Z − Y)²; ``xent`` = mean over the
n samples (columns) of the softmax cross-entropy −log softmax(Z[:, j])[y_j], computed with a
stable log-sum-exp.

Backward recursion (all by hand, vector-Jacobian products):

    dZ = ∂loss/∂Z:  mse 2(Z − Y)/(d_L n);   xent (softmax(Z) − onehot(y))/n
    ∇W_L = dZ H_{L-1}ᵀ,   dH_{L-1} = W_Lᵀ dZ
    for l = L-1, ..., 1:
        norm_act:  dA_l = normᵀ( g_l · act'(P_l) ⊙ dH_l ),     P_l = g_l · norm(A_l)
        act_norm:  dA_l = g_l · act'(P_l) ⊙ normᵀ(dH_l),       P_l = g_l · A_l
        ∇W_l = dA_l H_{l-1}ᵀ  (× γ with residual)
        dH_{l-1} = W_lᵀ dA_l  (residual: dA_l + γ W_lᵀ dA_l)
    where normᵀ is ``norms.norm_backward`` (the row-wise Jacobians documented in depthcheck.kernels.nn.norms).

Batching: ``X`` is ``(d0, n)`` or ``(B, d0, n)``; the weights are all ``(d_{l+1}, d_l)`` or all
``(B, d_{l+1}, d_l)``. An unbatched ``X`` with batched weights is broadcast (the same inputs in
every trial); a batched ``X`` requires batched weights with the same B (per-trial gradients of
shared weights would be ambiguous). For a batched output, ``Y`` may be batched or unbatched
(shared targets). Every product is a batched ``@``, so the B trials run vectorised.

References
----------
.. [1] Meterez, Joudaki, Orabona, Immer, Rätsch, Daneshmand, "Towards Training Without Depth
   Limits: Batch Normalization Without Gradient Explosion", ICLR 2024, arXiv:2310.02012.
.. [2] Daneshmand, Kohler, Bach, Hofmann, Lucchi, "Batch Normalization Provably Avoids Rank
   Collapse for Randomly Initialised Deep Networks", NeurIPS 2020, arXiv:2003.01652.
"""
from __future__ import annotations

import numbers
from typing import NamedTuple, Optional

import numpy as np

from depthcheck.theory._checks import as_float_array, check_choice
from depthcheck.kernels.nn import activations as _act
from depthcheck.kernels.nn import norms as _norms
from depthcheck.kernels.nn.layer import ORDERS, class_labels, layer_backward, layer_forward

__all__ = ["forward_backward", "forward", "LOSSES", "ORDERS"]

LOSSES = ("mse", "xent")


class _Net(NamedTuple):
    X: np.ndarray
    weights: list
    gains: np.ndarray  # one per hidden layer
    residual: Optional[float]
    batch: Optional[int]  # B, or None when nothing is batched


def forward_backward(X, weights, Y, norm: str = "bn", activation: str = "relu", loss: str = "mse",
                     order: str = "norm_act", gains=None, gain_exponent=None, residual=None):
    """Loss and exact gradients w.r.t. every weight matrix of the network in the module docstring.

    Parameters
    ----------
    X : array_like, shape ``(d0, n)`` or ``(B, d0, n)``
        Inputs; columns are samples.
    weights : list of array_like
        Arrays ``(d_{l+1}, d_l)`` or ``(B, d_{l+1}, d_l)``; the last one is the output layer,
        the others are hidden layers.
    Y : array_like
        ``mse``: targets of the output's shape ``(d_L, n)`` / ``(B, d_L, n)``; ``xent``:
        integer labels in ``[0, d_L)`` of shape ``(n,)`` / ``(B, n)``.
    norm : str
        One of ``depthcheck.kernels.nn.norms.NORMS``.
    activation : str
        One of ``depthcheck.kernels.nn.activations.ACTIVATIONS``.
    loss : {"mse", "xent"}
    order : {"norm_act", "act_norm"}
    gains : array_like, optional
        One gain per hidden layer.
    gain_exponent : float, optional
        r giving g_l = l^{-r} (activation shaping, [1]_ Sec. 5); at most one of ``gains`` and
        ``gain_exponent``.
    residual : float, optional
        γ: hidden layers use H + γ W H ([2]_ eq. (1); square hidden weights required).

    Returns
    -------
    loss : numpy.ndarray
        Shape ``()`` or ``(B,)``.
    grads : list of numpy.ndarray
        ∂loss/∂W_l, with the weights' shapes.

    Raises
    ------
    ValueError
        Naming the offending argument for any bad input, and naming the layer and row when a
        hidden batch is degenerate for the norm (e.g. a constant row before ``bn``) or its
        input overflowed.
    FloatingPointError
        Naming the layer (and the trials) where the forward pass, the loss or the backward
        pass overflowed float64 (e.g. the gradients of a very deep ``bn`` network, whose
        norm grows geometrically with depth, [1]_ Sec. 3): never a NaN loss or gradient.

    See Also
    --------
    forward : the output only.

    References
    ----------
    .. [1] Meterez, Joudaki, Orabona, Immer, Rätsch, Daneshmand, "Towards Training Without
       Depth Limits: Batch Normalization Without Gradient Explosion", ICLR 2024,
       arXiv:2310.02012: eq. (3), Sec. 5 eq. (11).
    .. [2] Daneshmand, Kohler, Bach, Hofmann, Lucchi, "Batch Normalization Provably Avoids
       Rank Collapse for Randomly Initialised Deep Networks", NeurIPS 2020, arXiv:2003.01652:
       eq. (1).

    Examples
    --------
    The gradient agrees with a central finite difference:

    >>> import numpy as np
    >>> from depthcheck.kernels import forward_backward
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((4, 6))
    >>> Ws = [rng.standard_normal((4, 4)) / 2, rng.standard_normal((3, 4)) / 2]
    >>> Y = rng.standard_normal((3, 6))
    >>> loss, grads = forward_backward(X, Ws, Y, norm="bn", activation="tanh")
    >>> loss.shape, [g.shape for g in grads]
    ((), [(4, 4), (3, 4)])
    >>> E = np.zeros((4, 4)); E[1, 2] = 1e-6
    >>> up = forward_backward(X, [Ws[0] + E, Ws[1]], Y, norm="bn", activation="tanh")[0]
    >>> down = forward_backward(X, [Ws[0] - E, Ws[1]], Y, norm="bn", activation="tanh")[0]
    >>> bool(abs((up - down) / 2e-6 - grads[0][1, 2]) < 1e-7)
    True
    """
    net = _validate(X, weights, norm, activation, order, gains, gain_exponent, residual)
    check_choice(loss, "loss", LOSSES)
    L = len(net.weights)
    d_out, n = net.weights[-1].shape[-2], net.X.shape[-1]
    Y = _validate_targets(Y, loss, d_out, n, net.batch)

    Hs, tape = _run(net, norm, activation, order, keep=True)
    H = Hs[-1]
    W_out = net.weights[-1]
    Z = W_out @ H

    if loss == "mse":
        R = Z - Y
        value = np.mean(R * R, axis=(-2, -1))
        dZ = (2.0 / (d_out * n)) * R
    else:
        m = Z.max(axis=-2, keepdims=True)
        E = np.exp(Z - m)
        S = E.sum(axis=-2, keepdims=True)
        lse = (m + np.log(S))[..., 0, :]  # (..., n)
        z_true = np.take_along_axis(Z, Y[..., None, :], axis=-2)[..., 0, :]
        value = np.mean(lse - z_true, axis=-1)
        dZ = E / S
        np.put_along_axis(dZ, Y[..., None, :],
                          np.take_along_axis(dZ, Y[..., None, :], axis=-2) - 1.0, axis=-2)
        dZ /= n

    grads = [None] * L
    grads[-1] = dZ @ _T(H)
    dH = _T(W_out) @ dZ
    for l in range(L - 2, -1, -1):
        W, g = net.weights[l], float(net.gains[l])
        dA, _ = layer_backward(tape[l], dH, activation=activation, order=order, gain=g)
        H_prev = Hs[l]
        gW = dA @ _T(H_prev)
        if net.residual is not None:
            gW = net.residual * gW
        grads[l] = gW
        if l > 0:  # the input X needs no gradient
            dWA = _T(W) @ dA
            dH = dA + net.residual * dWA if net.residual is not None else dWA
    if not (np.all(np.isfinite(value)) and all(np.all(np.isfinite(g)) for g in grads)):
        _raise_non_finite(Hs, Z, value, grads, loss)
    return value, grads


def forward(X, weights, norm: str = "bn", activation: str = "relu", order: str = "norm_act",
            gains=None, gain_exponent=None, residual=None) -> np.ndarray:
    """Output ``Z = W_L H_{L-1}`` of the network in the module docstring.

    Parameters
    ----------
    X, weights, norm, activation, order, gains, gain_exponent, residual
        As in ``forward_backward`` (same validation), without targets.

    Returns
    -------
    numpy.ndarray
        Z, shape ``(d_L, n)`` or ``(B, d_L, n)``.

    Raises
    ------
    ValueError
        Naming the offending argument, or the hidden layer whose batch is degenerate for the
        norm.
    FloatingPointError
        Naming the layer whose output overflowed float64 (never an inf/NaN output).

    References
    ----------
    .. [1] Meterez, Joudaki, Orabona, Immer, Rätsch, Daneshmand, "Towards Training Without
       Depth Limits: Batch Normalization Without Gradient Explosion", ICLR 2024,
       arXiv:2310.02012: eq. (3) (the network with ``norm="rownorm"``,
       ``activation="identity"`` and Haar weights).

    Examples
    --------
    With ``rownorm`` every hidden row has unit norm, so an identity output layer returns
    rows of norm 1:

    >>> import numpy as np
    >>> from depthcheck.kernels import forward
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((3, 5))
    >>> Z = forward(X, [rng.standard_normal((3, 3)), np.eye(3)], norm="rownorm",
    ...             activation="identity")
    >>> Z.shape, np.round(np.linalg.norm(Z, axis=1), 12).tolist()
    ((3, 5), [1.0, 1.0, 1.0])
    >>> B = forward(np.stack([X, X]), [np.stack([np.eye(3)] * 2)] * 2, norm="none")
    >>> B.shape
    (2, 3, 5)
    """
    net = _validate(X, weights, norm, activation, order, gains, gain_exponent, residual)
    Hs, _ = _run(net, norm, activation, order, keep=False)
    Z = net.weights[-1] @ Hs[-1]
    if not np.all(np.isfinite(Z)):
        Hs, _ = _run(net, norm, activation, order, keep=True)  # only to name the layer
        _raise_non_finite(Hs, Z, None, None, None)
    return Z


# --------------------------------------------------------------------------------------------
def _T(a):
    return np.swapaxes(a, -1, -2)


def _run(net: _Net, norm, activation, order, keep):
    """Hidden layers. Returns (H list [H_0..H_{L-1}] or [H_{L-1}], tape of ``LayerOutput``)."""
    H = net.X
    Hs, tape = [H], []
    for l, W in enumerate(net.weights[:-1]):
        A = W @ H
        if net.residual is not None:
            A = H + net.residual * A
        g = float(net.gains[l])  # a Python float keeps float32 inputs float32 (NEP 50)
        try:
            out = layer_forward(A, norm=norm, activation=activation, order=order, gain=g)
        except ValueError as exc:
            raise ValueError(f"hidden layer {l + 1} (weights[{l}]): {exc}; the hidden batch "
                             f"comes from the inputs X and weights[0..{l}]") from exc
        H = out.H
        if keep:
            Hs.append(H)
            tape.append(out)
        else:
            Hs = [H]
    return Hs, tape


def _trials(a) -> str:
    """' (trials [...])' naming the batch entries of ``a`` holding inf/NaN, '' if unbatched."""
    a = np.asarray(a)
    if a.ndim < 3:
        return ""
    bad = np.flatnonzero(~np.all(np.isfinite(a.reshape(a.shape[0], -1)), axis=1))
    return f" (trials {bad[:10].tolist()}{' ...' if bad.size > 10 else ''})"


def _max_finite(a) -> str:
    a = np.abs(np.asarray(a))
    fin = a[np.isfinite(a)]
    return f"{fin.max():.3g}" if fin.size else "inf"


_NOT_REPRESENTABLE = ("; float64 cannot represent it (no NaN is returned): use fewer layers or "
                      "smaller weights, or follow log-norms along the depth as "
                      "depthcheck.kernels.simulate_chain does")


def _raise_non_finite(Hs, Z, value, grads, loss):
    """Name where the forward or backward pass stopped being finite (called only on failure).

    Hidden layers with a norm catch an overflowed input themselves (``ValueError`` naming the
    layer); what is left is an overflow without a norm to stop it, at the output, in the loss
    or in the backward recursion, whose gradients grow with depth (Meterez et al.,
    arXiv:2310.02012, Sec. 3) until float64 overflows.
    """
    L = len(grads) if grads is not None else len(Hs)
    for l, H in enumerate(Hs[1:], start=1):
        if not np.all(np.isfinite(H)):
            raise FloatingPointError(f"hidden layer {l} (weights[{l - 1}]): its output overflowed"
                                     f"{_trials(H)}{_NOT_REPRESENTABLE}")
    if not np.all(np.isfinite(Z)):
        raise FloatingPointError(f"output layer (weights[{L - 1}]): the output Z overflowed"
                                 f"{_trials(Z)}{_NOT_REPRESENTABLE}")
    if not np.all(np.isfinite(value)):
        raise FloatingPointError(f"loss {loss!r} overflowed (largest |Z| = {_max_finite(Z)})"
                                 f"{_NOT_REPRESENTABLE}")
    for l in range(len(grads) - 1, -1, -1):  # the order of the backward recursion
        if not np.all(np.isfinite(grads[l])):
            layer = "output layer" if l == len(grads) - 1 else f"hidden layer {l + 1}"
            above = (f"; the gradient of weights[{l + 1}] reached {_max_finite(grads[l + 1])}"
                     if l + 1 < len(grads) else "")
            raise FloatingPointError(f"backward pass overflowed at {layer} (weights[{l}]): the "
                                     f"gradient of weights[{l}] is not finite{_trials(grads[l])}"
                                     f"{above}{_NOT_REPRESENTABLE}")
    raise AssertionError("unreachable: nothing non-finite found")  # pragma: no cover


def _is_real_scalar(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) or (
        isinstance(v, np.ndarray) and v.ndim == 0 and np.issubdtype(v.dtype, np.floating))


def _validate(X, weights, norm, activation, order, gains, gain_exponent, residual) -> _Net:
    check_choice(norm, "norm", _norms.NORMS)
    check_choice(activation, "activation", _act.ACTIVATIONS)
    check_choice(order, "order", ORDERS)
    X = as_float_array(X, "X", ndim=(2, 3))
    if not isinstance(weights, (list, tuple)):
        raise ValueError(f"weights must be a list or tuple of weight matrices, got "
                         f"{type(weights).__name__}")
    if len(weights) == 0:
        raise ValueError("weights must hold at least one weight matrix (the output layer)")
    Ws = [as_float_array(w, f"weights[{i}]", ndim=(2, 3)) for i, w in enumerate(weights)]
    w_ndim = Ws[0].ndim
    for i, W in enumerate(Ws):
        if W.ndim != w_ndim:
            raise ValueError(f"weights[{i}] has ndim {W.ndim} but weights[0] has ndim {w_ndim}; "
                             f"weights must be all batched (B, out, in) or all unbatched")
    batch = None
    if w_ndim == 3:
        batch = Ws[0].shape[0]
        for i, W in enumerate(Ws):
            if W.shape[0] != batch:
                raise ValueError(f"weights[{i}] has batch size {W.shape[0]}, weights[0] has "
                                 f"{batch}")
        if X.ndim == 3 and X.shape[0] != batch:
            raise ValueError(f"X has batch size {X.shape[0]} but the weights have {batch}")
    elif X.ndim == 3:
        raise ValueError(f"X is batched (shape {X.shape}) but weights are unbatched; pass weights "
                         f"of shape (B, out, in) with B = {X.shape[0]}")
    width = X.shape[-2]
    for i, W in enumerate(Ws):
        if W.shape[-1] != width:
            src = "X rows" if i == 0 else f"weights[{i - 1}] rows"
            raise ValueError(f"weights[{i}] has {W.shape[-1]} columns but {src} = {width}; "
                             f"consecutive widths must match")
        width = W.shape[-2]
    n_hidden = len(Ws) - 1

    if residual is not None:
        if not _is_real_scalar(residual) or not np.isfinite(residual):
            raise ValueError(f"residual must be None or a finite real number, got {residual!r}")
        residual = float(residual)
        for i, W in enumerate(Ws[:-1]):
            if W.shape[-2] != W.shape[-1]:
                raise ValueError(f"residual requires square hidden layers, but weights[{i}] has "
                                 f"shape {W.shape}")

    if gains is not None and gain_exponent is not None:
        raise ValueError("give at most one of gains and gain_exponent, not both")
    if gains is not None:
        g = np.asarray(gains)
        if g.ndim != 1 or g.shape[0] != n_hidden:
            raise ValueError(f"gains must be a sequence with one gain per hidden layer "
                             f"({n_hidden}), got shape {g.shape}")
        if n_hidden > 0:
            g = as_float_array(g, "gains", ndim=1)
        else:
            g = np.zeros(0)
    elif gain_exponent is not None:
        if not _is_real_scalar(gain_exponent) or not np.isfinite(gain_exponent):
            raise ValueError(f"gain_exponent must be a finite real number, got {gain_exponent!r}")
        g = np.arange(1, n_hidden + 1, dtype=np.float64) ** (-float(gain_exponent))
    else:
        g = np.ones(n_hidden)
    return _Net(X, Ws, g, residual, batch)


def _validate_targets(Y, loss, d_out, n, batch):
    if loss == "mse":
        Y = as_float_array(Y, "Y", ndim=(2, 3))
        ok = {(d_out, n)} | ({(batch, d_out, n)} if batch is not None else set())
        if Y.shape not in ok:
            raise ValueError(f"Y must have the output's shape {sorted(ok, key=len)}, "
                             f"got {Y.shape}")
        return Y
    # xent: integer class labels, one per sample (column)
    y = class_labels(Y, n, batch, d_out)
    if batch is not None and y.ndim == 1:
        y = np.broadcast_to(y, (batch, n))
    return y
