"""Closed forms behind Lemma 6 and Examples 11–12 of Daneshmand et al. (2020).

Source: H. Daneshmand, J. Kohler, F. Bach, T. Hofmann, A. Lucchi, "Batch normalization provably
avoids rank collapse for randomly initialised deep networks", NeurIPS 2020, arXiv:2003.01652,
Appendices D and E. BibTeX key ``daneshmand2020rank`` (``docs/references.bib``).

Confidence tags as in ``docs/derivations/README.md``: the statements are the paper's [P]; the
displays were not legible in the arXiv text, so the constants (the sign-freezing threshold of
Lemma 6 and the spectrum of Example 12) are our reading [D], derived in
``docs/derivations/rank_lemmas.md``.

* Lemma 6: on the BN chain H_{l+1} = Bn(H_l + γ W_l H_l) a rank-one state H = s vᵀ (s ∈ {±1}^d
  after Bn) stays rank one with |M_ij| = 1; its sign pattern s is frozen when
  γ |(W s)_i| < 1 for every i, which |W_ij| <= b guarantees for γ < 1/(b d)
  (:func:`lemma6_sign_freeze_gamma`).
* Example 12: the equal-row-norm matrix M_c = (1 − c) I + c 11ᵀ (unit diagonal, one eigenvalue
  1 + (d − 1)c, the others 1 − c) has regularity constant
  β(d, c) = (Σλ²)² / (d Σλ³) (Proposition 8), which tends to c as d → ∞; so β < 0.9 for all
  sufficiently large d iff c < 0.9 (:func:`example12_regularity_constant`,
  :func:`example12_min_width`). Example 11: β <= 1, with equality iff the non-zero eigenvalues
  are equal (c = 0 or c = 1).
"""
from __future__ import annotations

import math

import numpy as np

from ._checks import as_float_array, check_positive_int

__all__ = ["lemma6_sign_freeze_gamma", "example12_spectrum", "example12_matrix",
           "example12_regularity_constant", "example12_min_width"]


def lemma6_sign_freeze_gamma(d, weight_bound=math.sqrt(3.0)) -> float:
    """γ* = 1/(b d): below it a rank-one BN state keeps its sign pattern (Lemma 6).

    A rank-one state on the BN manifold is H = s (√N v/‖v‖)ᵀ with s ∈ {±1}^d. One step gives
    H + γWH = (s + γ W s) vᵀ, and Bn returns sign(s + γ W s) (√N v/‖v‖)ᵀ. Since
    |(W s)_i| <= Σ_j |W_ij| <= b d when every |W_ij| <= b, the sign of s_i + γ(W s)_i is s_i for
    every such W iff γ b d < 1. The bound is attained by W_ij = −b s_i s_j, so γ* is sharp.

    Parameters
    ----------
    d : int
        Width.
    weight_bound : float, optional
        b > 0 with supp P ⊂ [−b, b]; default √3 (U[−√3, √3], unit variance).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``d`` is not a positive int or ``weight_bound`` is not finite and positive.

    References
    ----------
    .. [1] Daneshmand et al. (2020), arXiv:2003.01652, Lemma 6 and its proof (Appendix D) ([P]
       statement, [D] threshold, ``docs/derivations/rank_lemmas.md`` §1).

    Examples
    --------
    >>> from depthcheck.theory.rank_lemmas import lemma6_sign_freeze_gamma
    >>> print(round(lemma6_sign_freeze_gamma(4, 1.0), 6))
    0.25
    """
    d = check_positive_int(d, "d")
    b = float(weight_bound)
    if not (math.isfinite(b) and b > 0.0):
        raise ValueError(f"weight_bound must be finite and positive, got {weight_bound!r}")
    return 1.0 / (b * d)


def _c_and_d(d, c):
    d = check_positive_int(d, "d", minimum=2)
    c = as_float_array(c, "c").astype(np.float64, copy=False)
    if np.any((c < 0.0) | (c > 1.0)):
        raise ValueError("c must lie in [0, 1] (M_c = (1 − c) I + c 11ᵀ is then a correlation "
                         "matrix)")
    return d, c


def example12_spectrum(d, c) -> np.ndarray:
    """Eigenvalues of M_c = (1 − c) I + c 11ᵀ, decreasing: 1 + (d − 1)c, then 1 − c (d − 1 times).

    Parameters
    ----------
    d : int
        Width, >= 2.
    c : float
        Off-diagonal entry in [0, 1].

    Returns
    -------
    numpy.ndarray, shape (d,)

    Raises
    ------
    ValueError
        If ``d`` < 2 or ``c`` is outside [0, 1].

    References
    ----------
    .. [1] Daneshmand et al. (2020), arXiv:2003.01652, Example 12 ([D] spectrum,
       ``docs/derivations/rank_lemmas.md`` §2).

    Examples
    --------
    >>> from depthcheck.theory.rank_lemmas import example12_spectrum
    >>> print(example12_spectrum(3, 0.5))
    [2.  0.5 0.5]
    """
    d, c = _c_and_d(d, c)
    if c.ndim:
        raise ValueError("c must be a scalar here")
    c = float(c)
    return np.array([1.0 + (d - 1) * c] + [1.0 - c] * (d - 1))


def example12_matrix(d, c) -> np.ndarray:
    """M_c = (1 − c) I_d + c 1 1ᵀ: unit diagonal, all rows of the same norm (Example 12).

    Parameters
    ----------
    d : int
        Width, >= 2.
    c : float
        Off-diagonal entry in [0, 1].

    Returns
    -------
    numpy.ndarray, shape (d, d)

    Raises
    ------
    ValueError
        If ``d`` < 2 or ``c`` is outside [0, 1].

    References
    ----------
    .. [1] Daneshmand et al. (2020), arXiv:2003.01652, Example 12 ([D],
       ``docs/derivations/rank_lemmas.md`` §2).

    Examples
    --------
    >>> from depthcheck.theory.rank_lemmas import example12_matrix
    >>> print(example12_matrix(2, 0.25))
    [[1.   0.25]
     [0.25 1.  ]]
    """
    d, c = _c_and_d(d, c)
    if c.ndim:
        raise ValueError("c must be a scalar here")
    c = float(c)
    return (1.0 - c) * np.eye(d) + c * np.ones((d, d))


def example12_regularity_constant(d, c) -> np.ndarray:
    """β(d, c) = (Σλ²)² / (d Σλ³) for the spectrum of M_c (Definition 3 via Proposition 8).

    With a = 1 + (d − 1)c and b = 1 − c: Σλ² = a² + (d − 1)b², Σλ³ = a³ + (d − 1)b³. For the law
    concentrated on M_c (equal row norms) Definition 3's ratio Σ_i‖M_i·‖⁴ / tr M³ equals this.
    Properties: β <= 1 with equality iff c ∈ {0, 1} (Example 11: all non-zero eigenvalues
    equal); β(d, c) → c as d → ∞ for c > 0.

    Parameters
    ----------
    d : int
        Width, >= 2.
    c : float or array_like
        Values in [0, 1].

    Returns
    -------
    numpy.ndarray or numpy.float64
        Shape of ``c``.

    Raises
    ------
    ValueError
        If ``d`` < 2 or ``c`` is outside [0, 1].

    References
    ----------
    .. [1] Daneshmand et al. (2020), arXiv:2003.01652, Definition 3, Proposition 8, Examples 11
       and 12 ([D] constants, ``docs/derivations/rank_lemmas.md`` §2).

    Examples
    --------
    d = 4, c = 1/2: λ = (5/2, 1/2, 1/2, 1/2), Σλ² = 7, Σλ³ = 16, β = 49/64:

    >>> from depthcheck.theory.rank_lemmas import example12_regularity_constant
    >>> print(example12_regularity_constant(4, 0.5), 49 / 64)
    0.765625 0.765625
    """
    d, c = _c_and_d(d, c)
    a = 1.0 + (d - 1) * c
    b = 1.0 - c
    s2 = a * a + (d - 1) * b * b
    s3 = a ** 3 + (d - 1) * b ** 3
    return (s2 * s2 / (d * s3))[()]


def example12_min_width(c, threshold=0.9, d_max=10 ** 7) -> int:
    """The smallest width d0 >= 2 with β(d, c) < ``threshold`` for every d >= d0 (Example 12).

    β(d, c) decreases in d towards c (``docs/derivations/rank_lemmas.md`` §2), so d0 is the first
    d with β(d, c) < threshold; it exists iff 0 < c < threshold.

    Parameters
    ----------
    c : float
        In (0, threshold) (at c = 0, M_c = I and β = 1 at every width).
    threshold : float, optional
        In (0, 1]; default 0.9 (the paper's level).
    d_max : int, optional
        Search limit.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        If ``c`` is not in [0, threshold) or no d <= ``d_max`` qualifies.

    References
    ----------
    .. [1] Daneshmand et al. (2020), arXiv:2003.01652, Example 12 ("less than 0.9 for
       sufficiently large d") ([D], ``docs/derivations/rank_lemmas.md`` §2).

    Examples
    --------
    >>> from depthcheck.theory.rank_lemmas import example12_min_width
    >>> example12_min_width(0.5), example12_min_width(0.1)
    (2, 9)
    """
    c = float(c)
    t = float(threshold)
    if not 0.0 < t <= 1.0:
        raise ValueError(f"threshold must lie in (0, 1], got {threshold!r}")
    if not 0.0 < c < t:
        raise ValueError(f"c must lie in (0, threshold) = (0, {t}), got {c!r}: for c >= "
                         f"threshold β(d, c) -> c never drops below it, and β(d, 0) = 1")
    d_max = check_positive_int(d_max, "d_max", minimum=2)
    lo, hi = 2, 2
    while float(example12_regularity_constant(hi, c)) >= t:
        lo, hi = hi, hi * 2
        if hi > d_max:
            raise ValueError(f"no width <= d_max={d_max} has β < {t} at c={c}")
    if float(example12_regularity_constant(lo, c)) < t:
        return lo
    while hi - lo > 1:  # invariant: β(lo) >= t > β(hi)
        mid = (lo + hi) // 2
        if float(example12_regularity_constant(mid, c)) < t:
            hi = mid
        else:
            lo = mid
    return hi
