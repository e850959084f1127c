"""Lyapunov spectrum of products of i.i.d. Ginibre matrices: the exact rate of rank collapse.

P_L = A_L ⋯ A_1 with A_i i.i.d. d×d, entries i.i.d. N(0, σ²) (real) or complex Gaussian with
E|a|² = σ². The Lyapunov exponents μ_k = lim_L (1/L) log s_k(P_L), μ_1 >= ... >= μ_d
(s_k the singular values), exist a.s. (Oseledec) and equal

    real:     μ_k = ½ [log 2 + ψ((d − k + 1)/2)] + log σ      (Newman 1986)
    complex:  μ_k = ½ ψ(d − k + 1) + log σ                    (Forrester 2013)

with ψ the digamma function, so the normalised product P_L / ‖P_L‖ collapses to rank one with
s_k(P_L)/s_1(P_L) ≈ exp(L (μ_k − μ_1)). This is the vanilla (γ = ∞, Gaussian) case of Lemma 3
of Daneshmand, Kohler, Bach, Hofmann & Lucchi (NeurIPS 2020, arXiv:2003.01652), whose §3.2
notes that the gap between the top singular values grows at an exponential rate (their refs
[11, 20]); here the rate is known exactly. Newman's own normalisation (variance 1/d) is
σ = d^{-1/2}. Both formulas are re-checked by Monte Carlo (QR method) in
``tests/theory/test_lyapunov.py``; the Bartlett-decomposition argument behind
:func:`log_abs_det_mean` is in ``docs/derivations/lyapunov.md``.

BibTeX keys (``docs/references.bib``): ``newman1986lyapunov``, ``forrester2013lyapunov``,
``daneshmand2020rank``.
"""
from __future__ import annotations

import math
import numbers

import numpy as np
from scipy.special import digamma

from ._checks import check_positive_int

__all__ = ["lyapunov_exponents_ginibre", "lyapunov_gap", "collapse_rate",
           "singular_value_ratio", "log_abs_det_mean"]


def _sigma(sigma) -> float:
    if isinstance(sigma, bool) or not isinstance(sigma, numbers.Real) or not math.isfinite(sigma) \
            or sigma <= 0:
        raise ValueError(f"sigma must be a finite positive number (entry standard deviation), "
                         f"got {sigma!r}")
    return float(sigma)


def _complex_flag(complex) -> bool:
    if not isinstance(complex, (bool, np.bool_)):
        raise ValueError(f"complex must be a bool, got {complex!r}")
    return bool(complex)


def lyapunov_exponents_ginibre(d, sigma=1.0, complex=False) -> np.ndarray:
    """Exact Lyapunov spectrum (μ_1, ..., μ_d), decreasing, of products of d×d Ginibre matrices.

    real (``complex=False``), entries N(0, σ²):   μ_k = ½ [log 2 + ψ((d − k + 1)/2)] + log σ
    complex, E|a|² = σ²:                           μ_k = ½ ψ(d − k + 1) + log σ

    Parameters
    ----------
    d : int
        Matrix size, >= 1.
    sigma : float, optional
        Entry standard deviation (> 0).
    complex : bool, optional
        Complex Ginibre matrices instead of real ones.

    Returns
    -------
    numpy.ndarray, shape (d,)

    Raises
    ------
    ValueError
        If ``d`` is not a positive int, ``sigma`` is not a finite positive number, or ``complex``
        is not a bool.

    Notes
    -----
    Assumptions: i.i.d. centred Gaussian entries (the formula is Gaussian-specific; uniform entries
    give different exponents), no residual branch. The sum of the exponents equals E log|det A|
    (:func:`log_abs_det_mean`), computed independently.

    References
    ----------
    .. [1] C. M. Newman, "The distribution of Lyapunov exponents: exact results for random
       matrices", Commun. Math. Phys. 103 (1986) 121-126 (real case).
    .. [2] P. J. Forrester, "Lyapunov exponents for products of complex Gaussian random matrices",
       J. Stat. Phys. 151 (2013) 796-808, arXiv:1206.2001 (complex case).

    Examples
    --------
    d = 1 real: μ = E log|a| for a ~ N(0, 1); with ψ(1/2) = −γ_E − 2 log 2 the formula gives
    −(γ_E + log 2)/2. Complex d = 1: |a|² ~ Exp(1), E log|a| = ψ(1)/2 = −γ_E/2.

    >>> import numpy as np
    >>> from depthcheck.theory.lyapunov import lyapunov_exponents_ginibre
    >>> bool(np.isclose(lyapunov_exponents_ginibre(1)[0], -(np.euler_gamma + np.log(2)) / 2))
    True
    >>> bool(np.isclose(lyapunov_exponents_ginibre(1, complex=True)[0], -np.euler_gamma / 2))
    True

    Scaling every entry by σ shifts every exponent by log σ:

    >>> mu, mu2 = lyapunov_exponents_ginibre(3), lyapunov_exponents_ginibre(3, sigma=2.0)
    >>> bool(np.allclose(mu2 - mu, np.log(2.0)))
    True
    """
    d = check_positive_int(d, "d")
    s = _sigma(sigma)
    k = np.arange(1, d + 1, dtype=np.float64)
    if _complex_flag(complex):
        mu = 0.5 * digamma(d - k + 1.0)
    else:
        mu = 0.5 * (math.log(2.0) + digamma((d - k + 1.0) / 2.0))
    return mu + math.log(s)


def lyapunov_gap(d, k=2, complex=False) -> float:
    """μ_1 − μ_k > 0 (independent of σ); for k = 2, real: ½[ψ(d/2) − ψ((d−1)/2)] ≈ 1/(2d).

    Parameters
    ----------
    d : int
        Matrix size, >= 2.
    k : int, optional
        Index of the second exponent, 2 <= k <= d.
    complex : bool, optional
        Complex instead of real Ginibre matrices.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``d < 2``, ``k < 2`` or ``k > d``.

    References
    ----------
    .. [1] C. M. Newman, "The distribution of Lyapunov exponents: exact results for random
       matrices", Commun. Math. Phys. 103 (1986) 121-126 (real case).
    .. [2] P. J. Forrester, "Lyapunov exponents for products of complex Gaussian random matrices",
       J. Stat. Phys. 151 (2013) 796-808, arXiv:1206.2001 (complex case).

    Examples
    --------
    d = 2 real: μ_1 = ½(log 2 + ψ(1)) and μ_2 = ½(log 2 + ψ(1/2)); ψ(1) − ψ(1/2) = 2 log 2, so the
    gap is log 2.

    >>> import numpy as np
    >>> from depthcheck.theory.lyapunov import lyapunov_gap
    >>> bool(np.isclose(lyapunov_gap(2), np.log(2)))
    True
    """
    d = check_positive_int(d, "d", minimum=2)
    k = check_positive_int(k, "k", minimum=2)
    if k > d:
        raise ValueError(f"k must be <= d={d}, got {k}")
    mu = lyapunov_exponents_ginibre(d, 1.0, complex)
    return float(mu[0] - mu[k - 1])


def collapse_rate(d, k=2, complex=False) -> float:
    """Predicted per-layer rate of log(s_k/s_1) of an unnormalised Gaussian linear net: μ_k − μ_1.

    log(s_k(P_L X)/s_1(P_L X)) = L (μ_k − μ_1) + O(√L) for a fixed full-rank input X. Negative:
    the net collapses to rank one.

    Parameters
    ----------
    d, k, complex
        As for :func:`lyapunov_gap`.

    Returns
    -------
    float
        ``-lyapunov_gap(d, k, complex)``.

    Raises
    ------
    ValueError
        As :func:`lyapunov_gap`.

    References
    ----------
    .. [1] C. M. Newman, "The distribution of Lyapunov exponents: exact results for random
       matrices", Commun. Math. Phys. 103 (1986) 121-126 (real case).
    .. [2] P. J. Forrester, "Lyapunov exponents for products of complex Gaussian random matrices",
       J. Stat. Phys. 151 (2013) 796-808, arXiv:1206.2001 (complex case).
    .. [3] H. Daneshmand et al. (2020), arXiv:2003.01652, Lemma 3 and §3.2 (rank collapse of
       vanilla linear networks, here with its exact rate).

    Examples
    --------
    >>> import numpy as np
    >>> from depthcheck.theory.lyapunov import collapse_rate
    >>> bool(np.isclose(collapse_rate(2), -np.log(2)))          # see lyapunov_gap
    True
    """
    return -lyapunov_gap(d, k, complex)


def singular_value_ratio(L, d, k=2, complex=False) -> np.ndarray:
    """Leading-order prediction s_k(P_L)/s_1(P_L) ≈ exp(L (μ_k − μ_1)) for depth(s) ``L`` >= 0.

    Only the exponential rate is exact; the O(1) prefactor and O(√L) fluctuations are not
    modelled (compare rates, not values).

    Parameters
    ----------
    L : float or array_like
        Depths, finite and >= 0.
    d, k, complex
        As for :func:`lyapunov_gap`.

    Returns
    -------
    numpy.ndarray or float
        Shaped like ``L``.

    Raises
    ------
    ValueError
        If a depth is negative or not finite, or as :func:`lyapunov_gap`.

    References
    ----------
    .. [1] C. M. Newman, "The distribution of Lyapunov exponents: exact results for random
       matrices", Commun. Math. Phys. 103 (1986) 121-126 (real case).
    .. [2] P. J. Forrester, "Lyapunov exponents for products of complex Gaussian random matrices",
       J. Stat. Phys. 151 (2013) 796-808, arXiv:1206.2001 (complex case).

    Examples
    --------
    For d = 2 the gap is log 2 (:func:`lyapunov_gap`), so three layers divide the ratio by 2³:

    >>> from depthcheck.theory.lyapunov import singular_value_ratio
    >>> print(round(float(singular_value_ratio(3, 2)), 12))
    0.125
    """
    L = np.asarray(L, dtype=np.float64)
    if not np.all(np.isfinite(L)) or np.any(L < 0):
        raise ValueError(f"L must be finite and >= 0, got {L}")
    return np.exp(L * collapse_rate(d, k, complex))[()]


def log_abs_det_mean(d, sigma=1.0, complex=False) -> float:
    """E log|det A| = Σ_k μ_k for one d×d Ginibre matrix A.

    real: (d/2) log 2 + ½ Σ_{j=1}^d ψ(j/2) + d log σ;  complex: ½ Σ_{j=1}^d ψ(j) + d log σ.

    Parameters
    ----------
    d : int
        Matrix size, >= 1.
    sigma : float, optional
        Entry standard deviation (> 0).
    complex : bool, optional
        Complex instead of real Ginibre matrices.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        As :func:`lyapunov_exponents_ginibre`.

    Notes
    -----
    Computed from the Bartlett decomposition independently of the spectrum formula: |det A| is a
    product of independent χ variables with d, d−1, ..., 1 (real) degrees of freedom
    (``docs/derivations/lyapunov.md``).

    References
    ----------
    .. [1] C. M. Newman, "The distribution of Lyapunov exponents: exact results for random
       matrices", Commun. Math. Phys. 103 (1986) 121-126 (real case).
    .. [2] P. J. Forrester, "Lyapunov exponents for products of complex Gaussian random matrices",
       J. Stat. Phys. 151 (2013) 796-808, arXiv:1206.2001 (complex case).
    .. [3] R. J. Muirhead, Aspects of Multivariate Statistical Theory, Wiley (1982), Theorem 3.2.14
       (Bartlett decomposition).

    Examples
    --------
    d = 1: E log|a| for a ~ N(0, 1) is −(γ_E + log 2)/2. For any d it equals the sum of the
    Lyapunov exponents (the identity behind the spectrum formula):

    >>> import numpy as np
    >>> from depthcheck.theory.lyapunov import log_abs_det_mean, lyapunov_exponents_ginibre
    >>> bool(np.isclose(log_abs_det_mean(1), -(np.euler_gamma + np.log(2)) / 2))
    True
    >>> bool(np.isclose(log_abs_det_mean(5), lyapunov_exponents_ginibre(5).sum()))
    True
    """
    d = check_positive_int(d, "d")
    s = _sigma(sigma)
    j = np.arange(1, d + 1, dtype=np.float64)
    if _complex_flag(complex):
        # |a_jj|² of the triangular factor is Gamma(j, 1): E log = ψ(j)
        val = 0.5 * float(np.sum(digamma(j)))
    else:
        # χ²_j: E log = log 2 + ψ(j/2)
        val = 0.5 * float(np.sum(math.log(2.0) + digamma(j / 2.0)))
    return val + d * math.log(s)
