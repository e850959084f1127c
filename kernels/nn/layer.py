"""One hidden layer's normalisation, gain and activation, forward and backward: written once.

Every numpy engine of the package applies this map to the output ``A`` of a layer's linear
part (``A = W H`` or ``H + γ W H``; shape ``(..., d, n)``, columns are samples, rows are units,
leading axes are Monte Carlo trials)::

    norm_act:  N = norm(A),   P = g · N (+ β),   H = act(P)
    act_norm:  P = g · A,     Q = act(P),        H = norm(Q)

``norm`` is one of ``depthcheck.kernels.nn.norms.NORMS`` and ``act`` one of
``depthcheck.kernels.nn.activations.ACTIVATIONS``; the gain ``g`` is a scalar (one per layer)
or a per-unit ``(d, 1)`` array, the shift ``β`` (``norm_act`` only) a per-unit array. Users:
``depthcheck.kernels.nn.network`` (gain per layer), ``depthcheck.kernels.nn.mlp`` (learnable
per-unit gain and shift), the numpy chain engine ``depthcheck.kernels.backends.numpy`` and the
reduced chain ``depthcheck.kernels.chain.reduced``.

Backward (vector-Jacobian products, by hand): with dH = ∂loss/∂H,

    norm_act:  dP = act'(P) ⊙ dH,          dA = normᵀ(g · dP)
    act_norm:  dP = act'(P) ⊙ normᵀ(dH),   dA = g · dP

where normᵀ is the row-wise VJP of ``depthcheck.kernels.nn.norms``. ``dP`` is returned too: it
gives the gradients of a learnable gain and shift, Σ_samples dP ⊙ N and Σ_samples dP.

References
----------
.. [1] Meterez, Joudaki, Orabona, Immer, Rätsch, Daneshmand, "Towards Training Without Depth
   Limits: Batch Normalization Without Gradient Explosion", ICLR 2024, arXiv:2310.02012:
   eq. (3) (the network, ``norm_act``), eq. (4) (``rownorm``), Sec. 5 eq. (11) (the gain g_l
   of activation shaping, on the normalised output just before the activation).
.. [2] Daneshmand, Kohler, Bach, Hofmann, Lucchi, "Batch Normalization Provably Avoids Rank
   Collapse for Randomly Initialised Deep Networks", NeurIPS 2020, arXiv:2003.01652:
   recursion eq. (1) and BN eq. (2) (``bn_nomean``).

Examples
--------
>>> import numpy as np
>>> from depthcheck.kernels.nn.layer import layer_forward, layer_backward
>>> A = np.array([[1.0, -2.0, 3.0], [0.5, 0.5, -1.0]])
>>> out = layer_forward(A, norm="rownorm", activation="relu", order="norm_act", gain=2.0)
>>> np.round(out.H, 4)
array([[0.5345, 0.    , 1.6036],
       [0.8165, 0.8165, 0.    ]])
>>> dA, dP = layer_backward(out, np.ones_like(A), activation="relu", order="norm_act",
...                         gain=2.0)
>>> np.allclose(np.sum(dA * A, axis=-1), 0.0)   # rownorm is scale invariant row by row
True
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from depthcheck.theory._checks import check_finite
from depthcheck.kernels.nn import activations as _act
from depthcheck.kernels.nn import norms as _norms

__all__ = ["ORDERS", "LayerOutput", "layer_forward", "layer_backward", "class_labels",
           "activation_derivative_from_output"]

#: where the normalisation sits relative to the activation
ORDERS = ("norm_act", "act_norm")


class LayerOutput(NamedTuple):
    """What one layer's forward pass leaves for its backward pass.

    H : the layer's output.  pre_norm : the normalisation's input (A for ``norm_act``,
    act(P) for ``act_norm``).  P : the activation's argument.  cache : the
    ``depthcheck.kernels.nn.norms.NormCache`` (``cache.Y`` is the normalised tensor N).
    """
    H: np.ndarray
    pre_norm: np.ndarray
    P: np.ndarray
    cache: _norms.NormCache


def layer_forward(A: np.ndarray, *, norm: str, activation: str, order: str = "norm_act",
                  gain=None, shift=None) -> LayerOutput:
    """The norm / gain / activation map of the module docstring applied to ``A``.

    ``gain=None`` applies no gain (P = N, not 1·N); ``shift`` (β) is for ``norm_act`` only.
    Inputs are not validated (the callers did); a degenerate batch for the norm raises the
    ``ValueError`` of ``depthcheck.kernels.nn.norms``, which the callers re-raise naming the
    layer.
    """
    if order == "norm_act":
        N, cache = _norms._forward(norm, A)
        P = N if gain is None else gain * N
        if shift is not None:
            P = P + shift
        return LayerOutput(_act._forward(activation, P), A, P, cache)
    if shift is not None:
        raise ValueError("a shift is only defined for order='norm_act'")
    P = A if gain is None else gain * A
    Q = _act._forward(activation, P)
    H, cache = _norms._forward(norm, Q)
    return LayerOutput(H, Q, P, cache)


def activation_derivative_from_output(name: str, P: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """act'(P), reusing the activation's output ``Q = act(P)`` where that is exact enough and
    much cheaper: sigmoid σ' = Q(1 − Q) (absolute error <= 1e-16, so only units saturated
    beyond |P| ≈ 37 lose their e^{-|P|} derivative), tanh 1 − Q². Otherwise
    ``depthcheck.kernels.nn.activations``' derivative of P."""
    if name == "sigmoid":
        return Q * (1.0 - Q)
    if name == "tanh":
        return 1.0 - Q * Q
    return _act._derivative(name, P)


def layer_backward(out: LayerOutput, dH: np.ndarray, *, activation: str,
                   order: str = "norm_act", gain=None,
                   from_output: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(dA, dP)`` = (∂loss/∂A, ∂loss/∂P) from dH = ∂loss/∂H (module docstring).

    ``out`` is ``layer_forward``'s result and ``gain`` the same gain (None: no gain). With
    ``from_output`` the activation's derivative is computed from its output
    (``activation_derivative_from_output``) instead of from P. Linear in dH.
    """
    if order == "norm_act":
        d_act = (activation_derivative_from_output(activation, out.P, out.H) if from_output
                 else _act._derivative(activation, out.P))
        dP = d_act * dH
        return _norms._backward(out.cache, dP if gain is None else gain * dP), dP
    d_act = (activation_derivative_from_output(activation, out.P, out.pre_norm) if from_output
             else _act._derivative(activation, out.P))
    dP = d_act * _norms._backward(out.cache, dH)
    return (dP if gain is None else gain * dP), dP


def class_labels(Y, n: int, batch, d_out: int) -> np.ndarray:
    """Integer class labels ``Y`` for a cross-entropy loss over ``d_out`` outputs, one per sample
    (shape ``(n,)``, or ``(batch, n)`` for a batch of trials), as ``intp``; shared by
    ``depthcheck.kernels.nn.network`` and ``depthcheck.kernels.nn.mlp``. Raises ``ValueError``
    naming ``Y`` for a non-integer dtype or value, a wrong shape or a label outside
    ``[0, d_out)``."""
    y = np.asarray(Y)
    if y.dtype == bool or not (np.issubdtype(y.dtype, np.integer)
                               or np.issubdtype(y.dtype, np.floating)):
        raise ValueError(f"Y must hold integer class labels for loss='xent', got dtype {y.dtype}")
    ok = {(n,)} | ({(batch, n)} if batch is not None else set())
    if y.shape not in ok:
        raise ValueError(f"Y (labels) must have shape {sorted(ok, key=len)}, got {y.shape}")
    if np.issubdtype(y.dtype, np.floating):
        check_finite(y, "Y")
        if np.any(y != np.round(y)):
            raise ValueError("Y holds non-integer labels; loss='xent' needs integer class labels")
    if np.any(y < 0) or np.any(y >= d_out):
        raise ValueError(f"Y holds labels outside [0, {d_out}) (min {y.min()}, max {y.max()}); "
                         f"labels index the {d_out} output rows")
    return y.astype(np.intp)
