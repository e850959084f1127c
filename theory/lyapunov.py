"""Lyapunov spectrum of products of i.i.d. Ginibre matrices: the exact rate of rank collapse.

Source: ground-truth note shared/research/rank_lnn_lcw.md §D, used for seed 002 (Daneshmand et
al. 2020, ``002_6dd6d02ae2b33d9a.txt``), Lemma 3 and §3.2 ("the gap between the top and the
second largest singular value increases with the number of products at an exponential rate
[11, 20]"). Formulas: Newman (1986) for real Ginibre matrices, Forrester (2013, J. Stat. Phys.
151:796, ref. [11] of seed 002) for complex ones; both re-checked numerically in the research
note (QR method) and in tests/theory/test_lyapunov.py.

P_L = A_L ⋯ A_1 with A_i i.i.d. d×d, entries i.i.d. N(0, σ²) (real) or complex Gaussian with
E|a|² = σ². The Lyapunov exponents μ_k = lim_L (1/L) log s_k(P_L), μ_1 >= ... >= μ_d
(s_k the singular values), exist a.s. (Oseledec) and equal

    real:     μ_k = ½ [log 2 + ψ((d − k + 1)/2)] + log σ
    complex:  μ_k = ½ ψ(d − k + 1) + log σ                      (ψ = digamma)

so the normalised product P_L / ‖P_L‖ collapses to rank one with
s_k(P_L)/s_1(P_L) ≈ exp(L (μ_k − μ_1)) — the vanilla (γ = ∞, Gaussian) case of seed 002's
Lemma 3, with a known rate. Newman's own normalisation (variance 1/d) is σ = d^{-1/2}.
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

    Source: Newman (1986) / Forrester (2013) as collected in rank_lnn_lcw.md §D (tag [STD],
    verified there by the QR method). Assumptions: i.i.d. centred Gaussian entries (the formula is
    Gaussian-specific; uniform entries give different exponents), no residual branch. Checks:
    d = 1 real gives E log|a| = ½(log 2 + ψ(½)) = −(γ_E + log 2)/2; the sum equals
    E log|det A| (:func:`log_abs_det_mean`).
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

    Requires d >= 2 and 2 <= k <= d. Source as :func:`lyapunov_exponents_ginibre`.
    """
    d = check_positive_int(d, "d", minimum=2)
    k = check_positive_int(k, "k", minimum=2)
    if k > d:
        raise ValueError(f"k must be <= d={d}, got {k}")
    mu = lyapunov_exponents_ginibre(d, 1.0, complex)
    return float(mu[0] - mu[k - 1])


def collapse_rate(d, k=2, complex=False) -> float:
    """Predicted per-layer rate of log(s_k/s_1) of an unnormalised Gaussian linear net: μ_k − μ_1.

    log(s_k(P_L X)/s_1(P_L X)) = L (μ_k − μ_1) + O(√L) for a fixed full-rank input X (seed 002
    §3.2 / Lemma 3, quantified by §D of rank_lnn_lcw.md). Negative: the net collapses to rank one.
    """
    return -lyapunov_gap(d, k, complex)


def singular_value_ratio(L, d, k=2, complex=False) -> np.ndarray:
    """Leading-order prediction s_k(P_L)/s_1(P_L) ≈ exp(L (μ_k − μ_1)) for depth(s) ``L`` >= 0.

    Only the exponential rate is exact; the O(1) prefactor and O(√L) fluctuations are not
    modelled (compare rates, not values).
    """
    L = np.asarray(L, dtype=np.float64)
    if not np.all(np.isfinite(L)) or np.any(L < 0):
        raise ValueError(f"L must be finite and >= 0, got {L}")
    return np.exp(L * collapse_rate(d, k, complex))[()]


def log_abs_det_mean(d, sigma=1.0, complex=False) -> float:
    """E log|det A| = Σ_k μ_k for one d×d Ginibre matrix A (rank_lnn_lcw.md §D).

    real: (d/2) log 2 + ½ Σ_{j=1}^d ψ(j/2) + d log σ;  complex: ½ Σ_{j=1}^d ψ(j) + d log σ.
    Computed from the Bartlett decomposition independently of the spectrum formula: |det A| is a
    product of independent χ variables with d, d−1, ..., 1 (real) degrees of freedom.
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
