"""The row algebra of one chain layer, written once for the numba CPU and the CUDA kernels.

Layer l of ``depthcheck.kernels.simulate_chain`` after its linear part A_l (seed 001 eq. (3); the
numpy reference is ``depthcheck.kernels.backends.numpy`` / ``depthcheck.kernels.nn.layer``)::

    norm_act:  H_l = act(g_l · norm(A_l))        act_norm:  H_l = norm(act(g_l · A_l))

Every normalisation of ``depthcheck.kernels.nn.norms`` acts on the rows of A (one row = one
feature over the n samples), so the layer and its vector-Jacobian product split into independent
rows. The functions below are plain Python on scalars and one row ``z`` (a 1-D array view), marked
``numba.extending.register_jitable``: they run as Python, are compiled into ``numba.njit`` code,
and into ``numba.cuda.jit`` kernels and device functions (and run as Python under numba's CUDA
simulator). The numba kernels (``depthcheck.kernels.backends.numba``) call them on ``Z[i]``, the CUDA
kernels (``depthcheck.kernels.backends.cuda``) on ``A[i*n:(i+1)*n]``, one row per thread; nothing of
this algebra is written twice. The codes and constants are ``depthcheck.kernels.chain.codes``'.

Editing this file: cached numba kernels close over a hash of it
(``depthcheck.kernels.backends.numba._cache``) and recompile.

Examples
--------
>>> import numpy as np
>>> from depthcheck.kernels.backends._rowops import nonlinear_row
>>> z = np.array([3.0, 4.0])
>>> nonlinear_row(3, 1, 0, 2.0, z)        # rownorm, relu, norm_act, gain 2: relu(2 z/‖z‖)
(0, 5.0)
>>> z
array([1.2, 1.6])
"""
from __future__ import annotations

import math

from numba.extending import register_jitable

from depthcheck.kernels.chain.codes import (BN_ULPS, EPS, ERR_BN_VARIANCE, ERR_NONE,
                                            ERR_NORM_ZERO, LEAKY_SLOPE)

__all__ = ["sigmoid", "activation", "activation_derivative", "normalise_row", "norm_vjp_row",
           "nonlinear_row", "nonlinear_vjp_row"]


@register_jitable
def sigmoid(x):
    """1/(1 + e^{-x}), accurate in both tails (as scipy's ``expit``)."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@register_jitable
def activation(code, x):
    """act(x) for the activation ``code`` (``ACT_CODES``; ``depthcheck.kernels.nn.activations``)."""
    if code == 0:
        return x
    if code == 1:
        return x if x > 0 else 0.0
    if code == 2:
        return x if x > 0 else LEAKY_SLOPE * x
    if code == 3:
        return math.tanh(x)
    if code == 4:
        return math.sin(x)
    return sigmoid(x)


@register_jitable
def activation_derivative(code, x):
    """act'(x), PyTorch's conventions at kinks (``depthcheck.kernels.nn.activations``)."""
    if code == 0:
        return 1.0
    if code == 1:
        return 1.0 if x > 0 else 0.0
    if code == 2:
        return 1.0 if x > 0 else LEAKY_SLOPE
    if code == 3:
        t = math.tanh(x)
        return 1.0 - t * t
    if code == 4:
        return math.cos(x)
    return sigmoid(x) * sigmoid(-x)              # σ(x)σ(−x) = σ(1 − σ) without cancellation


@register_jitable
def normalise_row(code, z):
    """In place z <- norm(z) for the norm ``code`` (``NORM_CODES``; ``depthcheck.kernels.nn.norms``):
    none; bn (z − mean)/std (biased std); bn_nomean z/(‖z‖/√n); rownorm z/‖z‖.

    Returns ``(error, r, s)``: r = ‖z‖ of the input (the row-norm CV's ingredient), s the row's
    divisor (what ``norm_vjp_row`` needs). A bn row with std <= BN_ULPS·eps·max|z| (constant up to
    rounding) gives ERR_BN_VARIANCE, a zero or non-finite divisor ERR_NORM_ZERO; z is then left
    unnormalised.
    """
    n = z.shape[0]
    s2 = 0.0
    for c in range(n):
        s2 += z[c] * z[c]
    r = math.sqrt(s2)
    if code == 0:
        return ERR_NONE, r, 1.0
    if code == 1:
        mu = 0.0
        zmax = z[0]
        zmin = z[0]
        for c in range(n):
            v = z[c]
            mu += v
            if v > zmax:                         # = numba's max(zmax, v), NaN included
                zmax = v
            if v < zmin:
                zmin = v
        mu /= n
        var = 0.0
        for c in range(n):
            var += (z[c] - mu) ** 2
        sd = math.sqrt(var / n)
        big = abs(zmin) if abs(zmin) > abs(zmax) else abs(zmax)
        if zmax == zmin or not sd > BN_ULPS * EPS * big:
            return ERR_BN_VARIANCE, r, sd
        inv = 1.0 / sd
        for c in range(n):
            z[c] = (z[c] - mu) * inv
        return ERR_NONE, r, sd
    sc = r if code == 3 else r / math.sqrt(n)
    if not (sc > 0 and sc < math.inf):
        return ERR_NORM_ZERO, r, sc
    inv = 1.0 / sc
    for c in range(n):
        z[c] *= inv
    return ERR_NONE, r, sc


@register_jitable
def norm_vjp_row(code, y, s, dz):
    """In place dz <- normᵀ dz, the vector-Jacobian product of ``normalise_row`` at its output
    ``y`` with divisor ``s`` (``depthcheck.kernels.nn.norms._backward``): rownorm
    (dz − y Σ y⊙dz)/s, bn_nomean (dz − y mean(y⊙dz))/s, bn: that minus its mean."""
    if code == 0:
        return
    n = y.shape[0]
    t = 0.0
    for c in range(n):
        t += y[c] * dz[c]
    if code != 3:
        t /= n
    for c in range(n):
        dz[c] = (dz[c] - y[c] * t) / s
    if code == 1:
        m = 0.0
        for c in range(n):
            m += dz[c]
        m /= n
        for c in range(n):
            dz[c] -= m


@register_jitable
def nonlinear_row(norm, act, order, g, z):
    """In place z <- the row of H_l from the row z of A_l (norm_act: act(g·norm(z)); act_norm:
    norm(act(g·z))). Returns ``(error, r)``, r = ‖·‖ of the normalisation's input row."""
    n = z.shape[0]
    if order == 0:
        e, r, s = normalise_row(norm, z)
        if e != ERR_NONE:
            return e, r
        for c in range(n):
            z[c] = activation(act, g * z[c])
        return e, r
    for c in range(n):
        z[c] = activation(act, g * z[c])
    e, r, s = normalise_row(norm, z)
    return e, r


@register_jitable
def nonlinear_vjp_row(norm, act, order, g, a, dh, da, y):
    """da <- ∂loss/∂A_l (row) from dh = ∂loss/∂H_l (row), recomputing the layer's norm from the
    row a of A_l (unchanged; it passed ``nonlinear_row`` without error); y is work space.

    norm_act: da = normᵀ(g·act'(P) ⊙ dh), P = g·norm(a);  act_norm: da = g·act'(g·a) ⊙ normᵀ(dh).
    """
    n = a.shape[0]
    if order == 0:
        for c in range(n):
            y[c] = a[c]
        e, r, s = normalise_row(norm, y)
        for c in range(n):
            da[c] = g * (activation_derivative(act, g * y[c]) * dh[c])
        norm_vjp_row(norm, y, s, da)
        return
    for c in range(n):
        y[c] = activation(act, g * a[c])
        da[c] = dh[c]
    e, r, s = normalise_row(norm, y)
    norm_vjp_row(norm, y, s, da)
    for c in range(n):
        da[c] = g * (activation_derivative(act, g * a[c]) * da[c])
