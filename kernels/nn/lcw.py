"""Linearly constrained weights (LCW): the reparametrisation ``w = B_m v`` applied in O(m).

Kutsuna [1]_ Sec. 3.1: a neuron's weight vector is constrained to
``W_LC = {w ∈ R^m : w·1_m = 0}`` by writing ``w = B_m v`` with ``v ∈ R^{m−1}`` free and ``B_m``
an orthonormal basis of W_LC; training updates v only, with ``∂L/∂v = B_mᵀ ∂L/∂w``.

Basis used here: the **Householder** basis of ``depthcheck.theory.lcw.zero_sum_basis``,

    B_m = [ I_{m−1} − c 1 1ᵀ ; −(1/√m) 1ᵀ ],   c = 1/(m + √m),

i.e. the first m − 1 columns of the reflection mapping e_m to −1_m/√m. Its structure gives O(m)
products without ever forming B_m or the m × m projector:

    (B_m v)_j = v_j − c S  (j < m),   (B_m v)_m = −S/√m,      S = Σ_k v_k
    (B_mᵀ w)_j = w_j − c Σ_{k<m} w_k − w_m/√m                  (j < m)

(the Helmert basis would also be O(m) via cumulative sums; the Householder one needs a single
sum). The paper does not say which basis it uses; every orthonormal basis gives the
same function class and, since ``B_m B_mᵀ = I − 11ᵀ/m``, the same gradient dynamics on w.

Axis convention: the vectors live on one axis (default the last one), every other axis is a
batch axis. For a weight matrix ``W`` of shape ``(..., n_out, m)`` the rows are the neurons'
weight vectors, so ``W = basis_apply(V)`` with ``V`` of shape ``(..., n_out, m − 1)`` and
``dV = basis_apply_transpose(dW)``. A leading Monte Carlo trials axis is just another batch axis.

References
----------
.. [1] Kutsuna, "Linearly Constrained Weights: Reducing Activation Shift for Faster Training
   of Neural Networks", arXiv:2403.13833.
"""
from __future__ import annotations

import math

import numpy as np

from depthcheck.theory._checks import as_float_array, check_generator, check_positive_int
from depthcheck.theory.lcw import init_variance

__all__ = [
    "basis_apply",
    "basis_apply_transpose",
    "project_zero_sum",
    "lcw_weights",
    "lcw_grad",
    "lcw_coordinates",
    "lcw_init",
]


def _axis(a: np.ndarray, axis: int) -> int:
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise ValueError(f"axis must be an integer, got {axis!r}")
    if not -a.ndim <= axis < a.ndim:
        raise ValueError(f"axis={axis} is out of range for an array of shape {a.shape}")
    return int(axis) % a.ndim


def basis_apply(V, axis: int = -1) -> np.ndarray:
    """``w = B_m v`` along ``axis`` (length m − 1 → m), O(m) per vector (module docstring).

    ``V``: any shape with ``V.shape[axis] = m − 1 ≥ 1``. The result sums to zero along ``axis``
    (up to rounding) and has the same Euclidean norms as ``V``.
    """
    V = as_float_array(V, "V", min_ndim=1)
    ax = _axis(V, axis)
    return _apply(V, ax)


def basis_apply_transpose(W, axis: int = -1) -> np.ndarray:
    """``v = B_mᵀ w`` along ``axis`` (length m ≥ 2 → m − 1), O(m) per vector.

    The LCW gradient identity: ``∂L/∂v = B_mᵀ ∂L/∂w`` ([1]_ Sec. 3.1), and the
    coordinates of the orthogonal projection of w onto W_LC.
    """
    W = as_float_array(W, "W", min_ndim=1)
    ax = _axis(W, axis)
    if W.shape[ax] < 2:
        raise ValueError(f"W must have length >= 2 along axis {axis}, got shape {W.shape}")
    return _apply_T(W, ax)


def project_zero_sum(W, axis: int = -1) -> np.ndarray:
    """Orthogonal projection onto W_LC: ``B_m B_mᵀ w = w − mean(w) 1_m`` along ``axis``."""
    W = as_float_array(W, "W", min_ndim=1)
    ax = _axis(W, axis)
    return W - W.mean(axis=ax, keepdims=True)


def lcw_weights(V) -> np.ndarray:
    """Weight matrix ``W = V B_mᵀ`` (rows ``w_i = B_m v_i``) from ``V`` ``(..., n, m − 1)``."""
    return basis_apply(V, axis=-1)


def lcw_grad(dW) -> np.ndarray:
    """Gradient w.r.t. ``V`` from the gradient w.r.t. ``W``: ``dV = dW B_m`` (rows B_mᵀ dw_i)."""
    return basis_apply_transpose(dW, axis=-1)


def lcw_coordinates(W) -> np.ndarray:
    """``V = W B_m``: the LCW coordinates of the projections of W's rows onto W_LC.

    ``lcw_weights(lcw_coordinates(W)) == project_zero_sum(W)``; equal to W when W's rows already
    sum to zero.
    """
    return basis_apply_transpose(W, axis=-1)


def lcw_init(rng, n_out: int, fan_in: int, *, trials: int | None = None,
             gain: float = 1.0) -> np.ndarray:
    """Gaussian LCW coordinates ``V`` with i.i.d. entries of variance ``σ_v² = g²/(m − 1)``.

    Shape ``(n_out, m − 1)`` or ``(trials, n_out, m − 1)`` with m = ``fan_in``. Then
    ``E‖w_i‖² = g²`` and the forward gain of the layer is ``(m − 1)σ_v² = g²`` ([1]_ Sec. 4,
    ``depthcheck.theory.lcw.forward_gain_lcw``); ``g = depthcheck.theory.lcw.variance_preserving_gain(activation)``
    keeps the forward variance stable under the linearised activation (our choice: the paper's
    initialisation is not confirmed).
    """
    rng = check_generator(rng)
    n_out = check_positive_int(n_out, "n_out")
    m = check_positive_int(fan_in, "fan_in", minimum=2)
    shape = (n_out, m - 1) if trials is None else (check_positive_int(trials, "trials"),
                                                   n_out, m - 1)
    return math.sqrt(init_variance("lcw", m, gain)) * rng.standard_normal(shape)


# ------------------------------------------------------------- unchecked engine versions
def _apply(V: np.ndarray, ax: int = -1) -> np.ndarray:
    """B_m v along axis ``ax`` without validation (inner loops of depthcheck.kernels.nn.mlp)."""
    m = V.shape[ax] + 1
    c = 1.0 / (m + math.sqrt(m))
    S = V.sum(axis=ax, keepdims=True)
    return np.concatenate([V - c * S, S * (-1.0 / math.sqrt(m))], axis=ax)


def _apply_T(W: np.ndarray, ax: int = -1) -> np.ndarray:
    """B_mᵀ w along axis ``ax`` without validation."""
    m = W.shape[ax]
    c = 1.0 / (m + math.sqrt(m))
    lead = (slice(None),) * (ax % W.ndim)
    head = W[lead + (slice(0, m - 1),)]
    last = W[lead + (slice(m - 1, m),)]
    return head - (c * head.sum(axis=ax, keepdims=True) + last / math.sqrt(m))
