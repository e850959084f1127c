"""Elementwise activations and their derivatives, by hand (no autodiff).

Used by the one layer of ``depthcheck.kernels.nn.layer`` (hence by the networks, the MLP and the
chain engines). tanh and sin are the centred, bounded-gradient activations of the shaped MLP of
Meterez et al. [1]_ (Sec. 5, eq. (11)); sigmoid is the activation of the deep MLPs of Kutsuna
[2]_.

Conventions at kinks follow PyTorch's backward: relu'(0) = 0, leaky_relu'(0) = 0.01.

References
----------
.. [1] Meterez, Joudaki, Orabona, Immer, Rätsch, Daneshmand, "Towards Training Without Depth
   Limits: Batch Normalization Without Gradient Explosion", ICLR 2024, arXiv:2310.02012.
.. [2] Kutsuna, "Linearly Constrained Weights: Reducing Activation Shift for Faster Training
   of Neural Networks", arXiv:2403.13833.
"""
from __future__ import annotations

import numpy as np
from scipy.special import expit

from depthcheck.theory._checks import as_float_array, check_choice

__all__ = ["ACTIVATIONS", "LEAKY_SLOPE", "activation_forward", "activation_derivative"]

ACTIVATIONS = ("identity", "relu", "leaky_relu", "tanh", "sin", "sigmoid")

#: negative slope of leaky_relu (PyTorch's default ``negative_slope=0.01``)
LEAKY_SLOPE = 0.01


def activation_forward(name: str, X) -> np.ndarray:
    """Apply the activation ``name`` elementwise to the pre-activation ``X``.

    identity: x;  relu: max(x, 0);  leaky_relu: x if x > 0 else 0.01 x;  tanh: tanh x;
    sin: sin x;  sigmoid: 1 / (1 + e^{-x}) (scipy's ``expit``, accurate in both tails).

    Raises ``ValueError`` naming ``activation`` for an unknown name and ``X`` for NaN/inf input.
    """
    check_choice(name, "activation", ACTIVATIONS)
    X = as_float_array(X, "X")
    return _forward(name, X)


def activation_derivative(name: str, X) -> np.ndarray:
    """Elementwise derivative dσ/dx of activation ``name`` evaluated at the pre-activation ``X``.

    identity: 1;  relu: 1{x > 0};  leaky_relu: 1 if x > 0 else 0.01;  tanh: 1 − tanh² x;
    sin: cos x;  sigmoid: σ(x) σ(−x) (= σ(1 − σ) without the cancellation of 1 − σ for x ≫ 0).

    Raises ``ValueError`` naming ``activation`` for an unknown name and ``X`` for NaN/inf input.
    """
    check_choice(name, "activation", ACTIVATIONS)
    X = as_float_array(X, "X")
    return _derivative(name, X)


# Unchecked versions for the engine's inner loops (inputs already validated).
def _forward(name: str, X: np.ndarray) -> np.ndarray:
    if name == "identity":
        return X.copy()
    if name == "relu":
        return np.maximum(X, 0.0)
    if name == "leaky_relu":
        return np.where(X > 0, X, LEAKY_SLOPE * X)
    if name == "tanh":
        return np.tanh(X)
    if name == "sin":
        return np.sin(X)
    if name == "sigmoid":
        return expit(X)
    raise ValueError(f"activation={name!r} is not one of {ACTIVATIONS}")


def _derivative(name: str, X: np.ndarray) -> np.ndarray:
    if name == "identity":
        return np.ones_like(X)
    if name == "relu":
        return (X > 0).astype(X.dtype)
    if name == "leaky_relu":
        return np.where(X > 0, 1.0, LEAKY_SLOPE).astype(X.dtype)
    if name == "tanh":
        t = np.tanh(X)
        return 1.0 - t * t
    if name == "sin":
        return np.cos(X)
    if name == "sigmoid":
        return expit(X) * expit(-X)
    raise ValueError(f"activation={name!r} is not one of {ACTIVATIONS}")
