"""Deep linear nets: Theorem 3's maximum rate and minimum convergence time; Glorot balance moments.

Sources: S. Basu, K. Mukherjee, S. Vasudevan, "Layer Dynamics of Linearised Neural Nets",
arXiv:1904.10689 (2019), Theorem 3 (eqs. (15)-(18)) and Corollary 2.3; A. M. Saxe, J. L.
McClelland, S. Ganguli, arXiv:1312.6120 (the deep-network learning time that Theorem 3
generalises); X. Glorot, Y. Bengio, AISTATS 2010 (the initialisation). Derivations and confidence
tags: ``docs/derivations/linear_nets_convergence.md``.

Theorem 3 [U: the paper's formulas (16)-(18) are not legible in the text we have; this is the
reconstruction of ``docs/derivations/linear_nets_convergence.md`` §1 from the proof's words]. N
weight matrices, whitened inputs, ℓ2 loss, gradient flow dW_j/dt = (W_N⋯W_{j+1})ᵀ(Σ_yx −
W_e)(W_{j−1}⋯W_1)ᵀ (eq. (14), time in units of 1/η). w_j = ||W_j||_F, u = Π_j w_j (the
combined strength, (16)), s = ||Σ_yx||_F, δ = max_{i,j} |w_i − w_j| and c with δ <= c·min_j w_j
for all t. The proof replaces ||Σ_yx − W_e|| in (15) by s − u and sandwiches the layer norms
within δ, giving the maximum rate (17)

    du/dt <= F(u) = N (1 + c)^{2(N−1)/N} (s − u) u^{2 − 2/N},

hence the minimum time from u0 to uf (0 < u0 < uf < s) T_min = ∫ du/F(u), Saxe's deep learning
time divided by (1 + c)^{2(N−1)/N}, and for very deep nets (u^{2−2/N} ≈ u², eq. (18))
T_min ≈ [1/(s u0) − 1/(s uf) + s^{−2} ln(uf(s − u0)/(u0(s − uf)))] / (N (1 + c)^{2(N−1)/N}).

Validity [D]: under the flow du/dt = ⟨Σ_yx − W_e, W_e⟩ Σ_j u/w_j², while F(u) >= (s − u)u Σ_j u/w_j²
(the sandwich step, Σ_j u/w_j² <= N u^{1−2/N}(1 + c)^{2(N−1)/N}), and ⟨Σ_yx − W_e, W_e⟩ <=
x(s − x) with x = ||W_e||_F <= u; since x(s − x) <= u(s − u) whenever u <= s/2, F bounds the rate
for every u <= s/2 (:func:`theorem3_valid_level`). For u in (s/2, s) the substitution
||Σ_yx − W_e|| -> s − u is not an upper bound (||Σ_yx − W_e|| >= s − ||W_e|| >= s − u) and F -> 0
as u -> s while the network's u passes s at a finite time: the maximum rate fails near s.

Glorot balance [D] (Cor. 2.3): entries of W_l ∈ R^{d_l × d_{l−1}} i.i.d. with variance
σ_l² = 2/(d_{l−1} + d_l) (normal, or uniform on [−a, a], a² = 3σ_l²) give E||W_l||_F² = d_l d_{l−1}
σ_l² = 2 d_l d_{l−1}/(d_l + d_{l−1}) and Var ||W_l||_F² = d_l d_{l−1} κ σ_l⁴ with κ = 2 (normal)
or 4/5 (uniform). The layers are independent, so g_l = ||W_{l+1}||² − ||W_l||² has mean
E||W_{l+1}||² − E||W_l||² (zero iff d_{l+1} = d_{l−1}) and variance Var||W_{l+1}||² + Var||W_l||².
"""
from __future__ import annotations

import math

import numpy as np

from depthcheck.theory._checks import as_float_array, check_choice, check_positive_int
from depthcheck.theory.linear_nets import saxe_time_to_learn, saxe_time_to_learn_deep_approx

__all__ = ["theorem3_speedup", "theorem3_rate_bound", "theorem3_min_time",
           "theorem3_min_time_deep", "theorem3_valid_level", "glorot_sq_norm_moments",
           "glorot_gap_moments"]


def _scalar(v, name, *, positive=False, nonneg=False) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {v!r}") from None
    if isinstance(v, bool) or np.ndim(v) != 0 or not math.isfinite(f):
        raise ValueError(f"{name} must be a finite real scalar, got {v!r}")
    if positive and f <= 0:
        raise ValueError(f"{name} must be > 0, got {f}")
    if nonneg and f < 0:
        raise ValueError(f"{name} must be >= 0, got {f}")
    return f


def theorem3_speedup(n_weights, c) -> float:
    """The factor (1 + c)^{2(N−1)/N} by which Theorem 3's bound outruns Saxe's balanced mode.

    Parameters
    ----------
    n_weights : int
        Number of weight matrices N >= 1.
    c : float
        Imbalance constant c >= 0 (δ <= c·min_j ||W_j|| over the run).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``n_weights`` is not a positive int or ``c`` is negative or not finite.

    References
    ----------
    .. [1] Basu, Mukherjee & Vasudevan (2019), arXiv:1904.10689, Theorem 3, eq. (17) [U
       reconstruction, ``docs/derivations/linear_nets_convergence.md`` §1].

    Examples
    --------
    >>> from depthcheck.theory.convergence_time import theorem3_speedup
    >>> theorem3_speedup(2, 1.0)        # 2^{2·1/2}
    2.0
    >>> theorem3_speedup(1, 5.0)        # one matrix: no other layer to sandwich
    1.0
    """
    N = check_positive_int(n_weights, "n_weights")
    c = _scalar(c, "c", nonneg=True)
    return (1.0 + c) ** (2.0 * (N - 1) / N)


def theorem3_rate_bound(u, s, n_weights, c) -> np.ndarray:
    """Theorem 3's maximum rate F(u) = N (1 + c)^{2(N−1)/N} (s − u) u^{2−2/N} of u = Π_j ||W_j||_F.

    Time in units of 1/η (the learning rate of eq. (14)). Proven here only for u <= s/2
    (:func:`theorem3_valid_level`); F(u) <= 0 for u >= s.

    Parameters
    ----------
    u : float or array_like
        Combined strength u >= 0.
    s : float
        ||Σ_yx||_F > 0.
    n_weights : int
        N >= 1 weight matrices.
    c : float
        c >= 0.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    ValueError
        If ``u`` is negative or not finite, ``s <= 0``, or as :func:`theorem3_speedup`.

    References
    ----------
    .. [1] Basu, Mukherjee & Vasudevan (2019), arXiv:1904.10689, Theorem 3, eqs. (15), (17) [U
       reconstruction, ``docs/derivations/linear_nets_convergence.md`` §1].
    .. [2] Saxe, McClelland & Ganguli (2013), arXiv:1312.6120 (c = 0: the balanced mode).

    Examples
    --------
    With c = 0 it is Saxe's mode equation (N = 2: 2u(s − u)):

    >>> from depthcheck.theory.convergence_time import theorem3_rate_bound
    >>> print(theorem3_rate_bound(1.0, 3.0, 2, 0.0))
    4.0
    >>> print(theorem3_rate_bound(1.0, 3.0, 2, 1.0))     # × (1 + 1)^1
    8.0
    """
    u = as_float_array(u, "u")
    if np.any(u < 0):
        raise ValueError("u must be >= 0")
    s = _scalar(s, "s", positive=True)
    N = check_positive_int(n_weights, "n_weights")
    return N * theorem3_speedup(N, c) * (s - u) * u ** (2.0 - 2.0 / N)


def theorem3_min_time(u0, uf, s, n_weights, c) -> float:
    """Minimum time ∫_{u0}^{uf} du / F(u) for u to grow from u0 to uf under Theorem 3's rate.

    Saxe's deep learning time (:func:`depthcheck.theory.linear_nets.saxe_time_to_learn` with
    N + 1 layers of units) divided by :func:`theorem3_speedup`. A lower bound on the network's
    time whenever uf <= s/2 [D].

    Parameters
    ----------
    u0, uf, s : float
        0 < u0 < uf < s.
    n_weights : int
        N >= 1.
    c : float
        c >= 0.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        Unless 0 < u0 < uf < s, or as :func:`theorem3_speedup`.

    References
    ----------
    .. [1] Basu, Mukherjee & Vasudevan (2019), arXiv:1904.10689, Theorem 3, eqs. (17)-(18) [U
       reconstruction]; Saxe, McClelland & Ganguli (2013), arXiv:1312.6120.

    Examples
    --------
    N = 2, c = 0: the logistic time (1/(2s)) ln(uf(s − u0)/(u0(s − uf))) = ½ ln 3 for s = 1,
    u0 = 1/2, uf = 3/4; c = 1 halves it:

    >>> import numpy as np
    >>> from depthcheck.theory.convergence_time import theorem3_min_time
    >>> bool(np.isclose(theorem3_min_time(0.5, 0.75, 1.0, 2, 0.0), np.log(3) / 2))
    True
    >>> bool(np.isclose(theorem3_min_time(0.5, 0.75, 1.0, 2, 1.0), np.log(3) / 4))
    True
    """
    N = check_positive_int(n_weights, "n_weights")
    return saxe_time_to_learn(u0, uf, s, N + 1) / theorem3_speedup(N, c)


def theorem3_min_time_deep(u0, uf, s, n_weights, c) -> float:
    """Eq. (18): the very-deep form of :func:`theorem3_min_time` (u^{2−2/N} replaced by u²).

    T ≈ [1/(s u0) − 1/(s uf) + s^{−2} ln(uf(s − u0)/(u0(s − uf)))] / (N (1 + c)^{2(N−1)/N});
    accurate only when (2/N)|ln u0| ≪ 1.

    Parameters
    ----------
    u0, uf, s, n_weights, c
        As for :func:`theorem3_min_time`.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        As :func:`theorem3_min_time`.

    References
    ----------
    .. [1] Basu, Mukherjee & Vasudevan (2019), arXiv:1904.10689, Theorem 3, eq. (18) [U
       reconstruction]; Saxe, McClelland & Ganguli (2013), arXiv:1312.6120.

    Examples
    --------
    s = 1, u0 = 1/2, uf = 3/4, N = 2, c = 0: ½[2 − 4/3 + ln 3]:

    >>> import numpy as np
    >>> from depthcheck.theory.convergence_time import theorem3_min_time_deep
    >>> bool(np.isclose(theorem3_min_time_deep(0.5, 0.75, 1.0, 2, 0.0), (2/3 + np.log(3)) / 2))
    True
    """
    N = check_positive_int(n_weights, "n_weights")
    return saxe_time_to_learn_deep_approx(u0, uf, s, N + 1) / theorem3_speedup(N, c)


def theorem3_valid_level(s) -> float:
    """The level s/2 below which Theorem 3's maximum rate is a proven bound [D].

    ⟨Σ_yx − W_e, W_e⟩ <= x(s − x) (x = ||W_e||_F <= u) and x(s − x) <= u(s − u) for u <= s/2.

    Parameters
    ----------
    s : float
        ||Σ_yx||_F > 0.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``s`` is not a positive finite scalar.

    References
    ----------
    .. [1] Basu, Mukherjee & Vasudevan (2019), arXiv:1904.10689, Theorem 3 (the condition is
       ``docs/derivations/linear_nets_convergence.md`` §2, not the paper's).

    Examples
    --------
    >>> from depthcheck.theory.convergence_time import theorem3_valid_level
    >>> theorem3_valid_level(3.0)
    1.5
    """
    return _scalar(s, "s", positive=True) / 2.0


_KAPPA = {"normal": 2.0, "uniform": 0.8}


def glorot_sq_norm_moments(fan_in, fan_out, dist: str = "normal", gain: float = 1.0):
    """Mean and variance of ||W||_F² for a Glorot-initialised W ∈ R^{fan_out × fan_in}.

    σ² = gain²·2/(fan_in + fan_out); E||W||² = fan_in fan_out σ²; Var||W||² = fan_in fan_out κ σ⁴,
    κ = Var(w²)/σ⁴ = 2 (normal) or 4/5 (uniform on [−a, a], a² = 3σ²: E w⁴ = a⁴/5).

    Parameters
    ----------
    fan_in, fan_out : int
        Positive widths.
    dist : {"normal", "uniform"}
        Entry distribution.
    gain : float, optional
        Multiplier of the standard deviation (> 0).

    Returns
    -------
    mean, var : float

    Raises
    ------
    ValueError
        For non-positive widths, an unknown ``dist`` or a non-positive ``gain``.

    References
    ----------
    .. [1] Glorot & Bengio (2010), AISTATS, the variance 2/(fan_in + fan_out).
    .. [2] Basu, Mukherjee & Vasudevan (2019), arXiv:1904.10689, Corollary 2.3.

    Examples
    --------
    A 1 × 1 normal layer has σ² = 1, w² ~ χ²₁: mean 1, variance 2; uniform: 4/5.

    >>> from depthcheck.theory.convergence_time import glorot_sq_norm_moments
    >>> glorot_sq_norm_moments(1, 1)
    (1.0, 2.0)
    >>> glorot_sq_norm_moments(1, 1, "uniform")
    (1.0, 0.8)
    """
    a = check_positive_int(fan_in, "fan_in")
    b = check_positive_int(fan_out, "fan_out")
    dist = check_choice(dist, "dist", tuple(_KAPPA))
    g = _scalar(gain, "gain", positive=True)
    var = g * g * 2.0 / (a + b)
    return a * b * var, a * b * _KAPPA[dist] * var * var


def glorot_gap_moments(widths, dist: str = "normal", gain: float = 1.0):
    """Mean and variance of g_l = ||W_{l+1}||_F² − ||W_l||_F², l = 1..N−1, at Glorot init.

    The layers are independent: E g_l = E||W_{l+1}||² − E||W_l||² (zero iff d_{l+1} = d_{l−1})
    and Var g_l = Var||W_{l+1}||² + Var||W_l||² (:func:`glorot_sq_norm_moments`).

    Parameters
    ----------
    widths : sequence of int
        d_0, ..., d_N (at least three).
    dist, gain
        As for :func:`glorot_sq_norm_moments`.

    Returns
    -------
    mean, var : numpy.ndarray, shape (N − 1,)

    Raises
    ------
    ValueError
        If fewer than three widths are given, or as :func:`glorot_sq_norm_moments`.

    References
    ----------
    .. [1] Basu, Mukherjee & Vasudevan (2019), arXiv:1904.10689, Corollary 2.3 (C ≈ 0) and
       Lemma 2 (tr C_l = g_l); Glorot & Bengio (2010).

    Examples
    --------
    Widths (1, 1, 3): E||W_1||² = 1, E||W_2||² = 3/2, so E g_1 = 1/2; Var = 2 + 3·2·(1/2)² = 3.5:

    >>> from depthcheck.theory.convergence_time import glorot_gap_moments
    >>> m, v = glorot_gap_moments([1, 1, 3])
    >>> print(m, v)
    [0.5] [3.5]
    """
    if len(widths) < 3:
        raise ValueError("widths must list at least three layer widths (two weight matrices)")
    mom = np.array([glorot_sq_norm_moments(widths[i], widths[i + 1], dist, gain)
                    for i in range(len(widths) - 1)])
    return mom[1:, 0] - mom[:-1, 0], mom[1:, 1] + mom[:-1, 1]
