"""Activation shift and linearly constrained weights (LCW).

Source: T. Kutsuna, "Linearly Constrained Weights: Reducing Activation Shift for Faster Training
of Neural Networks", in Machine Learning and Knowledge Discovery in Databases (ECML PKDD 2019),
LNCS 11907, Springer 2020, pp. 266-282, doi:10.1007/978-3-030-46147-8_16; arXiv:2403.13833.
BibTeX key ``kutsuna2020lcw`` (``docs/references.bib``).

Confidence tags: the arXiv text available to us has its formulas stripped, so the definitions
(activation shift, P_γ, the subspace W_LC, the reparametrisation w = B_m v, "the variance is
amplified by the same rate" in both chains) are the paper's [P], while every formula here is
derived in this repository from first principles and checked numerically [D] (the paper's
typeset constants are not confirmed); [U] marks choices (basis, initialisation) the paper may
make differently. Derivations: ``docs/derivations/lcw.md``.

Notation: a fully connected layer ``z = W a`` with m inputs and n outputs; the rows ``w_i`` of
``W`` are the neurons' weight vectors. **P_γ** is a law of m-dimensional random vectors ``a``
with ``E[a] = γ 1_m`` (the paper: the activation vector "approximately follows P_γ"). For
variances we additionally assume uncorrelated coordinates with common variance ``σ_γ²`` [U].

The LCW subspace is ``W_LC = {w ∈ R^m : w·1_m = 0}`` (Sec. 3) with the orthonormal basis
:func:`zero_sum_basis` ([U] as the paper's basis; any orthonormal basis gives the same function
class and the same projected-gradient dynamics).
"""
from __future__ import annotations

import math

import numpy as np
from scipy import integrate
from scipy.special import expit

from depthcheck.theory._checks import as_float_array, check_choice, check_positive_int

__all__ = [
    "zero_sum_basis",
    "householder_c",
    "activation_shift",
    "angle_to_ones",
    "preactivation_variance",
    "forward_gain_standard",
    "backward_gain_standard",
    "forward_gain_lcw",
    "backward_gain_lcw",
    "activation_moments",
    "MOMENT_ACTIVATIONS",
    "variance_preserving_gain",
    "init_variance",
]

MOMENT_ACTIVATIONS = ("identity", "relu", "sigmoid", "tanh")


# ------------------------------------------------------------------------------- LCW basis
def householder_c(m: int) -> float:
    """The constant ``c = 1/(m + √m) = (m − √m)/(m(m − 1))`` of :func:`zero_sum_basis`.

    Parameters
    ----------
    m : int
        Fan-in, >= 2.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``m`` is not an integer >= 2.

    References
    ----------
    .. [1] Kutsuna (2020), arXiv:2403.13833, Sec. 3.1 (an orthonormal basis B_m of W_LC); this explicit basis is [D], ``docs/derivations/lcw.md``.

    Examples
    --------
    >>> from depthcheck.theory.lcw import householder_c
    >>> print(householder_c(4) == 1 / 6)                  # 1/(4 + 2)
    True
    """
    m = check_positive_int(m, "m", minimum=2)
    return 1.0 / (m + math.sqrt(m))


def zero_sum_basis(m: int) -> np.ndarray:
    """Dense orthonormal basis ``B_m`` (m × (m − 1)) of ``W_LC = {w : w·1_m = 0}``.

    ``B_m = [ I_{m−1} − c 1 1ᵀ ; −(1/√m) 1ᵀ ]`` with ``c = 1/(m + √m)``. It is the first m − 1
    columns of the Householder reflection ``H = I − 2uuᵀ/‖u‖²``, ``u = 1_m/√m + e_m``, which maps
    ``e_m`` to ``−1_m/√m``; as columns of an orthogonal matrix they are orthonormal, and they are
    orthogonal to H's last column ∝ 1_m. Hence ``B_mᵀB_m = I_{m−1}``, ``1_mᵀB_m = 0`` and
    ``B_m B_mᵀ = I_m − 1_m1_mᵀ/m``.

    Parameters
    ----------
    m : int
        Fan-in, >= 2.

    Returns
    -------
    numpy.ndarray, shape (m, m − 1)

    Raises
    ------
    ValueError
        If ``m`` is not an integer >= 2.

    Notes
    -----
    Reference implementation (O(m²) memory) for tests and small m;
    ``depthcheck.kernels.nn.lcw`` applies the same matrix in O(m) per vector without forming it.

    References
    ----------
    .. [1] Kutsuna (2020), arXiv:2403.13833, Sec. 3.1, reparametrisation w = B_m v with an orthonormal basis B_m [P]; this basis
       [D] (``docs/derivations/lcw.md``).

    Examples
    --------
    For m = 2 the only unit zero-sum direction (up to sign) is (1, −1)/√2:

    >>> import numpy as np
    >>> from depthcheck.theory.lcw import zero_sum_basis
    >>> bool(np.allclose(zero_sum_basis(2), np.array([[1.0], [-1.0]]) / np.sqrt(2)))
    True
    >>> B = zero_sum_basis(5)
    >>> bool(np.allclose(B.T @ B, np.eye(4)) and np.allclose(B.sum(axis=0), 0))
    True
    """
    m = check_positive_int(m, "m", minimum=2)
    c = householder_c(m)
    B = np.empty((m, m - 1))
    B[:-1] = np.eye(m - 1) - c
    B[-1] = -1.0 / math.sqrt(m)
    return B


# -------------------------------------------------------------------------- activation shift
def activation_shift(W, gamma) -> np.ndarray:
    """Mean pre-activation of each neuron for inputs ``a ~ P_γ``: ``E[w·a] = γ Σ_j w_j``.

    Equivalently ``γ √m ‖w‖₂ cos θ_w`` with θ_w the angle between w and 1_m. Exact for any law with
    ``E[a] = γ 1_m`` (no independence needed), for fixed weights. Zero for every γ iff
    ``w ⊥ 1_m``, i.e. iff w is an LCW.

    Parameters
    ----------
    W : array_like, shape (..., m)
        The neurons' weight vectors on the last axis.
    gamma : float
        Mean γ of every input coordinate (finite).

    Returns
    -------
    numpy.ndarray, shape (...)

    Raises
    ------
    ValueError
        If ``gamma`` or ``W`` is not finite.

    References
    ----------
    .. [1] Kutsuna (2020), arXiv:2403.13833, definition of activation shift (abstract and
       introduction: the mean depends on the angle between w and the mean of the activation
       vector) [P]; formula [D].

    Examples
    --------
    >>> from depthcheck.theory.lcw import activation_shift
    >>> print(activation_shift([[1.0, 2.0, 3.0], [1.0, -1.0, 0.0]], 0.5))   # 0.5·6 and 0.5·0
    [3. 0.]
    """
    W = as_float_array(W, "W", min_ndim=1)
    gamma = float(gamma)
    if not math.isfinite(gamma):
        raise ValueError(f"gamma must be finite, got {gamma}")
    return gamma * np.sum(W, axis=-1)


def angle_to_ones(W) -> np.ndarray:
    """Angle θ_w ∈ [0, π] between each weight vector (last axis of ``W``) and ``1_m``.

    Parameters
    ----------
    W : array_like, shape (..., m)

    Returns
    -------
    numpy.ndarray, shape (...)

    Raises
    ------
    ValueError
        If ``W`` contains a zero vector (the angle is undefined) or is not finite.

    References
    ----------
    .. [1] Kutsuna (2020), arXiv:2403.13833, definition of activation shift (the angle θ that sets it).

    Examples
    --------
    >>> import numpy as np
    >>> from depthcheck.theory.lcw import angle_to_ones
    >>> print(angle_to_ones([[1.0, 1.0, 1.0], [1.0, -1.0, 0.0]]) / np.pi)   # parallel, orthogonal
    [0.  0.5]
    """
    W = as_float_array(W, "W", min_ndim=1)
    norm = np.linalg.norm(W, axis=-1)
    if np.any(norm == 0):
        raise ValueError("W contains a zero weight vector; its angle to 1_m is undefined")
    cos = np.sum(W, axis=-1) / (math.sqrt(W.shape[-1]) * norm)
    return np.arccos(np.clip(cos, -1.0, 1.0))


def preactivation_variance(W, sigma_gamma2) -> np.ndarray:
    """Variance of one neuron's pre-activation for fixed weights: ``Var(w·a) = σ_γ² ‖w‖²``.

    Assumes the coordinates of ``a ~ P_γ`` are uncorrelated with common variance σ_γ² [U].

    Parameters
    ----------
    W : array_like, shape (..., m)
    sigma_gamma2 : float
        σ_γ² >= 0.

    Returns
    -------
    numpy.ndarray, shape (...)

    Raises
    ------
    ValueError
        If ``sigma_gamma2`` is negative or not finite, or ``W`` is not finite.

    References
    ----------
    .. [1] Kutsuna (2020), arXiv:2403.13833, Sec. 4 (variance analysis) [P words, D formula].

    Examples
    --------
    >>> from depthcheck.theory.lcw import preactivation_variance
    >>> print(preactivation_variance([[1.0, 2.0, 2.0]], 0.5))              # 0.5 · 9
    [4.5]
    """
    W = as_float_array(W, "W", min_ndim=1)
    s2 = _nonneg(sigma_gamma2, "sigma_gamma2")
    return s2 * np.sum(W * W, axis=-1)


# ----------------------------------------------------------------------------- variance gains
def forward_gain_standard(m, sigma_w2, gamma, sigma_gamma2):
    """Forward variance gain of a standard FC layer: ``V(z)/σ_γ² = m σ_w² (1 + γ²/σ_γ²)``.

    ``V(z) = E[z_i²]`` pooled over neurons, samples and weight draws (``E z_i = 0`` over the
    weights), for weights with i.i.d. entries of mean 0 and variance σ_w², independent of
    ``a ~ P_γ``. Exact: ``E z_i² = σ_w² Σ_j E a_j² = m σ_w² (σ_γ² + γ²)``; the γ² term is the
    activation shift (neuron means γ Σ_j w_ij scatter with variance m σ_w² γ² across neurons).

    Parameters
    ----------
    m : float
        Fan-in (> 0).
    sigma_w2 : float
        Weight variance σ_w² >= 0.
    gamma : float
        Input mean γ.
    sigma_gamma2 : float
        Input variance σ_γ² > 0.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``m`` or ``sigma_gamma2`` is not > 0, or ``sigma_w2`` is negative (all must be finite).

    References
    ----------
    .. [1] Kutsuna (2020), arXiv:2403.13833, Sec. 4.3 (standard weights amplify the variance more in the forward chain than in
       the backward chain) [P]; formula [D], ``docs/derivations/lcw.md``.

    Examples
    --------
    He-like σ_w² = 1/m with γ² = σ_γ² (e.g. γ = 1/2, σ_γ² = 1/4) doubles the variance:

    >>> from depthcheck.theory.lcw import forward_gain_standard
    >>> print(forward_gain_standard(100, 0.01, 0.5, 0.25))
    2.0
    """
    m = _pos(m, "m")
    s2 = _pos(sigma_gamma2, "sigma_gamma2")
    return m * _nonneg(sigma_w2, "sigma_w2") * (1.0 + float(gamma) ** 2 / s2)


def backward_gain_standard(n, sigma_w2):
    """Backward variance gain of a standard FC layer: ``V(δa)/V(δz) = n σ_w²``.

    ``δa = Wᵀ δz`` with ``δz`` zero-mean, i.i.d. coordinates, independent of W (entries i.i.d., mean
    0, variance σ_w²); n = number of outputs. Exact: ``E δa_j² = Σ_i E w_ij² E δz_i²``. No
    activation-shift term, hence the forward/backward asymmetry ``(m/n)(1 + γ²/σ_γ²)``.

    Parameters
    ----------
    n : float
        Fan-out (> 0).
    sigma_w2 : float
        Weight variance σ_w² >= 0.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``n`` is not > 0 or ``sigma_w2`` is negative.

    References
    ----------
    .. [1] Kutsuna (2020), arXiv:2403.13833, Sec. 4.3 [P words, D formula].

    Examples
    --------
    >>> from depthcheck.theory.lcw import backward_gain_standard
    >>> print(backward_gain_standard(100, 0.01))           # 100 · 0.01
    1.0
    """
    return _pos(n, "n") * _nonneg(sigma_w2, "sigma_w2")


def forward_gain_lcw(m, sigma_v2):
    """Forward variance gain of an LCW layer ``w_i = B_m v_i``: ``V(z)/σ_γ² = (m − 1) σ_v²``.

    ``v_i`` i.i.d. entries of variance σ_v², independent of ``a ~ P_γ`` with uncorrelated
    coordinates: ``E z_i² = σ_v² E‖B_mᵀa‖² = σ_v² E[aᵀ(I − 11ᵀ/m)a] = σ_v² (m − 1) σ_γ²`` (the mean
    γ1 is annihilated by the projector: no shift term).

    Parameters
    ----------
    m : float
        Fan-in (> 1).
    sigma_v2 : float
        Variance σ_v² >= 0 of the free parameters v.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``m <= 1`` or ``sigma_v2`` is negative.

    References
    ----------
    .. [1] Kutsuna (2020), arXiv:2403.13833, Sec. 4 [P words, D formula, ``docs/derivations/lcw.md``].

    Examples
    --------
    >>> from depthcheck.theory.lcw import forward_gain_lcw
    >>> print(forward_gain_lcw(101, 0.01))                 # (101 − 1) · 0.01, independent of γ
    1.0
    """
    m = _pos(m, "m")
    if m <= 1:
        raise ValueError(f"m must be > 1 for an LCW layer, got {m}")
    return (m - 1.0) * _nonneg(sigma_v2, "sigma_v2")


def backward_gain_lcw(n, m, sigma_v2):
    """Backward variance gain of an LCW layer: ``V(δa)/V(δz) = n (m − 1)/m σ_v²`` per coordinate.

    ``Cov(δa) = n σ_v² V(δz) B_m B_mᵀ = n σ_v² V(δz)(I − 11ᵀ/m)``, whose diagonal is
    ``n σ_v² (m − 1)/m``. Hence forward/backward = m/n exactly, = 1 for a square layer: "the
    variance is amplified by the same rate" in both chains.

    Parameters
    ----------
    n : float
        Fan-out (> 0).
    m : float
        Fan-in (> 1).
    sigma_v2 : float
        Variance σ_v² >= 0 of the free parameters v.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``n`` is not > 0, ``m <= 1`` or ``sigma_v2`` is negative.

    References
    ----------
    .. [1] Kutsuna (2020), arXiv:2403.13833, Sec. 4 ("the variance is amplified by the same rate") [P]; formula [D], ``docs/derivations/lcw.md``.

    Examples
    --------
    For a square layer the forward and backward gains agree up to the factor m/n = 1:

    >>> from depthcheck.theory.lcw import backward_gain_lcw, forward_gain_lcw
    >>> print(round(backward_gain_lcw(50, 50, 0.02), 12), round(forward_gain_lcw(50, 0.02) * 50 / 50, 12))
    0.98 0.98
    """
    n = _pos(n, "n")
    m = _pos(m, "m")
    if m <= 1:
        raise ValueError(f"m must be > 1 for an LCW layer, got {m}")
    return n * (m - 1.0) / m * _nonneg(sigma_v2, "sigma_v2")


# ------------------------------------------------------------------- moments of f(N(0, s²))
def activation_moments(activation: str, s=1.0) -> tuple[float, float]:
    """Mean γ and variance σ_γ² of ``f(g)``, ``g ~ N(0, s²)``: the P_γ produced by a layer.

    relu (closed form): ``γ = s/√(2π)``, ``σ_γ² = s²/2 − s²/(2π)``; identity: ``(0, s²)``;
    sigmoid: γ = 1/2 exactly (σ(−x) = 1 − σ(x)), σ_γ² by adaptive quadrature
    (``scipy.integrate.quad``, absolute error ~1e-13; the integrand is even, so twice the integral
    over [0, 40] — the Gaussian tail beyond 40 is below 1e-300); tanh: γ = 0, σ_γ² likewise.
    Coordinates ``f(g_j)`` with independent ``g_j`` are then an exact instance of P_γ with
    uncorrelated coordinates.

    Parameters
    ----------
    activation : {"identity", "relu", "sigmoid", "tanh"}
    s : float, optional
        Standard deviation of the Gaussian pre-activation (>= 0).

    Returns
    -------
    tuple of float
        ``(γ, σ_γ²)``.

    Raises
    ------
    ValueError
        If ``activation`` is unknown or ``s`` is negative or not finite.

    References
    ----------
    .. [1] Kutsuna (2020), arXiv:2403.13833, Sec. 4 (the activation vector follows P_γ) [P]; moments [D], ``docs/derivations/lcw.md``.

    Examples
    --------
    ReLU of a standard normal: E max(g, 0) = 1/√(2π) and E max(g, 0)² = 1/2:

    >>> import numpy as np
    >>> from depthcheck.theory.lcw import activation_moments
    >>> mean, var = activation_moments("relu")
    >>> bool(np.isclose(mean, 1 / np.sqrt(2 * np.pi)) and np.isclose(var, 0.5 - mean ** 2))
    True
    >>> print(activation_moments("sigmoid")[0], activation_moments("identity", 2.0))
    0.5 (0.0, 4.0)
    """
    check_choice(activation, "activation", MOMENT_ACTIVATIONS)
    s = _nonneg(s, "s")
    if activation == "identity":
        return 0.0, s * s
    if activation == "relu":
        return s / math.sqrt(2.0 * math.pi), s * s * (0.5 - 0.5 / math.pi)
    mean = 0.5 if activation == "sigmoid" else 0.0
    if s == 0.0:
        return mean, 0.0
    # adaptive quadrature of (f(s x) − mean)² φ(x); the integrand is smooth and decays like φ
    phi = lambda x: math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)  # noqa: E731
    if activation == "sigmoid":
        fx = lambda x: float(expit(s * x))  # noqa: E731
    else:
        fx = lambda x: math.tanh(s * x)  # noqa: E731
    var = 2.0 * integrate.quad(lambda x: (fx(x) - mean) ** 2 * phi(x), 0.0, 40.0,
                               epsabs=1e-14, epsrel=1e-12, limit=200)[0]
    return mean, var


def variance_preserving_gain(activation: str) -> float:
    """Gain g of the initialisation ``Var = g²/fan_in`` used for both weight kinds.

    Smooth activations: g = 1/f'(0), so that a zero-mean (LCW) layer followed by the linearised
    activation has forward factor 1: identity, tanh, sin 1; sigmoid 1/σ'(0) = 4, giving
    σ_v² = 16/(m − 1) ([U] as the paper's choice). relu: He's √2; leaky_relu (slope 0.01):
    √(2/(1 + 0.01²)).

    Parameters
    ----------
    activation : {"identity", "relu", "leaky_relu", "sigmoid", "tanh", "sin"}

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``activation`` is unknown.

    References
    ----------
    .. [1] Kutsuna (2020), arXiv:2403.13833, Sec. 6.1 (deep sigmoid MLPs; their initialisation is [U]).
    .. [2] K. He, X. Zhang, S. Ren, J. Sun, "Delving deep into rectifiers", ICCV 2015,
       arXiv:1502.01852 (the ReLU gain √2).

    Examples
    --------
    >>> from depthcheck.theory.lcw import variance_preserving_gain
    >>> print(variance_preserving_gain("sigmoid"))          # σ'(0) = 1/4
    4.0
    """
    check_choice(activation, "activation", ("identity", "relu", "leaky_relu", "sigmoid", "tanh",
                                            "sin"))
    return {"identity": 1.0, "tanh": 1.0, "sin": 1.0, "sigmoid": 4.0,
            "relu": math.sqrt(2.0), "leaky_relu": math.sqrt(2.0 / (1.0 + 0.01 ** 2))}[activation]


def init_variance(weights: str, fan_in: int, gain: float = 1.0) -> float:
    """Per-entry initial variance: standard ``σ_w² = g²/m``, LCW ``σ_v² = g²/(m − 1)``.

    Both give ``E‖w_i‖² = g²``, so standard and LCW layers start with equally long weight vectors
    and differ only in their direction (LCW: w ⊥ 1_m). With the gains of
    :func:`variance_preserving_gain` the forward factor ``forward_gain_lcw · f'(0)²`` is 1 ([U] as
    the paper's initialisation).

    Parameters
    ----------
    weights : {"standard", "lcw"}
    fan_in : int
        m (>= 2 for LCW).
    gain : float, optional
        g > 0.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``weights`` is unknown, ``fan_in`` too small, or ``gain`` not > 0.

    References
    ----------
    .. [1] Kutsuna (2020), arXiv:2403.13833, Sec. 3.1 (w = B_m v) and Sec. 4 ([U] as the
       paper's initialisation; [D]).

    Examples
    --------
    >>> from depthcheck.theory.lcw import init_variance
    >>> print(init_variance("standard", 100), init_variance("lcw", 101), init_variance("lcw", 17, 4.0))
    0.01 0.01 1.0
    """
    check_choice(weights, "weights", ("standard", "lcw"))
    m = check_positive_int(fan_in, "fan_in", minimum=2 if weights == "lcw" else 1)
    g = _pos(gain, "gain")
    return g * g / (m - 1 if weights == "lcw" else m)


# ---------------------------------------------------------------------------------- helpers
def _pos(v, name):
    v = float(v)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {v}")
    return v


def _nonneg(v, name):
    v = float(v)
    if not (math.isfinite(v) and v >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {v}")
    return v
