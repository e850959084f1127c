"""The Markov-chain part of Daneshmand et al.: Lemma 7 drift, Proposition 8, the regularity
constant β, Lemma 13 and Theorem 14.

Source: H. Daneshmand, J. Kohler, F. Bach, T. Hofmann, A. Lucchi, "Batch normalization provably
avoids rank collapse for randomly initialised deep networks", NeurIPS 2020, arXiv:2003.01652,
Appendix E. BibTeX key ``daneshmand2020rank`` (``docs/references.bib``).

Confidence tags: the statements (hypotheses, which quantity is bounded, the proof steps) are
the paper's [P]; the constants were not legible in the arXiv text and are our derivation [D]
(derived from the paper's proof sketch, checked by Monte Carlo; the paper's typeset constants
are unconfirmed). Definition 3 (the regularity constant) is our reconstruction [U] consistent
with Lemma 10 and Example 11. Derivations: ``docs/derivations/rank_markov.md``.

Setting: the BN chain H_{l+1} = Bn(H_l + γ W_l H_l) (eq. (1)) with Bn scaling each row to norm
√N (eq. (2)), so M = M(H) = H Hᵀ/N has unit diagonal (p.1: tr M = d) and |M_ij| <= 1 (p.2).
W has i.i.d. zero-mean, unit-variance, symmetric entries (Definition 1), with bounded support
for the O(γ³) remainder of Lemma 7.

One BN step acts on M alone: M̃ = (I + γW) M (I + γW)ᵀ, M_+ = diag(M̃)^{-1/2} M̃ diag(M̃)^{-1/2}.

Functions accept a single matrix (d, d) or a stack (..., d, d) and return one value per matrix.
"""
from __future__ import annotations

import math

import numpy as np

from ._checks import as_float_array, check_positive_int

__all__ = ["frobenius_sq", "row_norm4_sum", "trace_cube", "lemma7_drift_coefficient",
           "lemma7_drift", "prop8_drift_coefficient", "regularity_constant",
           "regularity_constant_ergodic", "stationarity_residual", "lemma13_frobenius_bound",
           "theorem14_rank_bound", "lemma1_soft_rank_bound"]

# Unit diagonal / symmetry are checked to this relative tolerance (M comes from floating point).
_MANIFOLD_TOL = 1e-8


def _square_stack(M, name: str = "M") -> np.ndarray:
    M = as_float_array(M, name, min_ndim=2).astype(np.float64, copy=False)
    if M.shape[-1] != M.shape[-2]:
        raise ValueError(f"{name} must be square (..., d, d), got shape {M.shape}")
    return M


def _bn_manifold(M, name: str = "M") -> np.ndarray:
    """Validate that M lies on the BN manifold: symmetric with unit diagonal (p.1)."""
    M = _square_stack(M, name)
    diag = np.diagonal(M, axis1=-2, axis2=-1)
    if np.max(np.abs(diag - 1.0)) > _MANIFOLD_TOL:
        raise ValueError(f"{name} must have unit diagonal (M(H) of a BN output, property p.1), "
                         f"max |M_ii - 1| = {np.max(np.abs(diag - 1.0)):.3g}")
    if np.max(np.abs(M - M.swapaxes(-1, -2))) > _MANIFOLD_TOL:
        raise ValueError(f"{name} must be symmetric")
    return M


def frobenius_sq(M) -> np.ndarray:
    """‖M‖_F² = Σ_ij M_ij² = Σ_i λ_i² (for symmetric M).

    Parameters
    ----------
    M : array_like, shape (..., d, d)

    Returns
    -------
    numpy.ndarray or numpy.float64
        Shape ``M.shape[:-2]``.

    Raises
    ------
    ValueError
        If ``M`` is not square or not finite.

    References
    ----------
    .. [1] Daneshmand et al. (2020), arXiv:2003.01652, Lemma 7 (the quantity whose drift it
       computes).

    Examples
    --------
    >>> import numpy as np
    >>> from depthcheck.theory.rank_markov import frobenius_sq
    >>> print(frobenius_sq(np.eye(3)), frobenius_sq(np.ones((3, 3))))
    3.0 9.0
    """
    M = _square_stack(M)
    return np.sum(M * M, axis=(-2, -1))[()]


def row_norm4_sum(M) -> np.ndarray:
    """Σ_i ‖M_{i·}‖₂⁴ = Σ_i ((M²)_ii)², the numerator of the regularity constant (Definition 3).

    Parameters
    ----------
    M : array_like, shape (..., d, d)

    Returns
    -------
    numpy.ndarray or numpy.float64
        Shape ``M.shape[:-2]``.

    Raises
    ------
    ValueError
        If ``M`` is not square or not finite.

    References
    ----------
    .. [1] Daneshmand et al. (2020), arXiv:2003.01652, Lemma 7 and Definition 3 ([U] as printed; ``docs/derivations/rank_markov.md``).

    Examples
    --------
    Rows of I_3 have norm 1 (sum 3); rows of the all-ones 3×3 matrix have squared norm 3 (sum 27):

    >>> import numpy as np
    >>> from depthcheck.theory.rank_markov import row_norm4_sum
    >>> print(row_norm4_sum(np.eye(3)), row_norm4_sum(np.ones((3, 3))))
    3.0 27.0
    """
    M = _square_stack(M)
    return np.sum(np.sum(M * M, axis=-1) ** 2, axis=-1)[()]


def trace_cube(M) -> np.ndarray:
    """tr(M³) = Σ_ij (M²)_ij M_ji = Σ_i λ_i³ (symmetric M), the denominator of Definition 3.

    Parameters
    ----------
    M : array_like, shape (..., d, d)

    Returns
    -------
    numpy.ndarray or numpy.float64
        Shape ``M.shape[:-2]``.

    Raises
    ------
    ValueError
        If ``M`` is not square or not finite.

    References
    ----------
    .. [1] Daneshmand et al. (2020), arXiv:2003.01652, Lemma 7 and Definition 3.

    Examples
    --------
    The all-ones 3×3 matrix has eigenvalues (3, 0, 0), so tr M³ = 27:

    >>> import numpy as np
    >>> from depthcheck.theory.rank_markov import trace_cube
    >>> print(trace_cube(np.eye(3)), trace_cube(np.ones((3, 3))))
    3.0 27.0
    """
    M = _square_stack(M)
    M2 = np.matmul(M, M)
    return np.sum(M2 * M.swapaxes(-1, -2), axis=(-2, -1))[()]


def lemma7_drift_coefficient(M) -> np.ndarray:
    """γ² coefficient c(M) of the one-step drift of ‖M‖_F² on the BN chain (Lemma 7).

        E_W ‖M_+‖_F² − ‖M‖_F² = γ² c(M) + O(γ³),
        c(M) = 2 ( d² − ‖M‖_F² + 4 Σ_i ‖M_{i·}‖⁴ − 4 tr(M³) ).

    Parameters
    ----------
    M : array_like, shape (..., d, d)
        On the BN manifold: symmetric with unit diagonal (checked to 1e-8).

    Returns
    -------
    numpy.ndarray or numpy.float64
        Shape ``M.shape[:-2]``.

    Raises
    ------
    ValueError
        If ``M`` is not square, not symmetric, or its diagonal is not 1.

    Notes
    -----
    Assumptions: W with i.i.d. zero-mean unit-variance entries (only these moments enter c). For
    symmetric laws of W the expectation is even in γ, so the remainder is O(γ⁴). The constant is
    [D] (Taylor expansion redone in ``docs/derivations/rank_markov.md``, Monte Carlo agreement within 0.3 %).

    References
    ----------
    .. [1] Daneshmand et al. (2020), arXiv:2003.01652, Lemma 7 ([P] statement, [D] constant).

    Examples
    --------
    At M = I_d (orthogonal rows) c = 2(d² − d) > 0: ‖M‖_F² grows, i.e. the rows become correlated.
    At the rank-one M = 11ᵀ (‖M‖_F² = d², Σ‖M_i‖⁴ = tr M³ = d³) the drift vanishes: rank one is
    absorbing (Lemma 6).

    >>> import numpy as np
    >>> from depthcheck.theory.rank_markov import lemma7_drift_coefficient
    >>> print(lemma7_drift_coefficient(np.eye(3)), lemma7_drift_coefficient(np.ones((3, 3))))
    12.0 0.0
    """
    M = _bn_manifold(M)
    d = M.shape[-1]
    return 2.0 * (d * d - frobenius_sq(M) + 4.0 * row_norm4_sum(M) - 4.0 * trace_cube(M))


def lemma7_drift(M, gamma) -> np.ndarray:
    """Leading-order one-step drift γ² c(M) of ‖M‖_F² (Lemma 7).

    Parameters
    ----------
    M : array_like, shape (..., d, d)
        As for :func:`lemma7_drift_coefficient`.
    gamma : float
        Strength γ >= 0 of the residual branch (Lemma 7 is a small-γ expansion).

    Returns
    -------
    numpy.ndarray or numpy.float64

    Raises
    ------
    ValueError
        If ``gamma`` is negative or not finite, or as :func:`lemma7_drift_coefficient`.

    References
    ----------
    .. [1] Daneshmand et al. (2020), arXiv:2003.01652, Lemma 7 ([D] constant, ``docs/derivations/rank_markov.md``).

    Examples
    --------
    c(I_3) = 12, so at γ = 0.1 the drift is 0.12:

    >>> import numpy as np
    >>> from depthcheck.theory.rank_markov import lemma7_drift
    >>> print(round(float(lemma7_drift(np.eye(3), 0.1)), 12))
    0.12
    """
    g = float(gamma)
    if not math.isfinite(g) or g < 0:
        raise ValueError(f"gamma must be finite and >= 0 (Lemma 7 is a small-γ expansion), got "
                         f"{gamma!r}")
    return g * g * lemma7_drift_coefficient(M)


def prop8_drift_coefficient(eigenvalues) -> np.ndarray:
    """Proposition 8: Lemma 7's coefficient when all rows of M have equal norm.

        c = 2 ( d² − Σ_i λ_i² + (4/d) (Σ_i λ_i²)² − 4 Σ_i λ_i³ ),

    from ‖M_{i·}‖² = ‖M‖_F²/d. Example 9 (Fig. 3b): a dominant eigenvalue makes c < 0.

    Parameters
    ----------
    eigenvalues : array_like, shape (..., d)
        Eigenvalues of M, summing to d (tr M = d on the BN chain; checked).

    Returns
    -------
    numpy.ndarray or numpy.float64

    Raises
    ------
    ValueError
        If a set of eigenvalues does not sum to d.

    References
    ----------
    .. [1] Daneshmand et al. (2020), arXiv:2003.01652, Proposition 8 and Example 9 ([D] constant, ``docs/derivations/rank_markov.md``).

    Examples
    --------
    λ = (1, 1, 1) is M = I_3, whose rows have equal norm: c = 12 as in
    :func:`lemma7_drift_coefficient`. λ = (3, 0, 0) is the rank-one fixed point: c = 0.

    >>> from depthcheck.theory.rank_markov import prop8_drift_coefficient
    >>> print(prop8_drift_coefficient([1.0, 1.0, 1.0]), prop8_drift_coefficient([3.0, 0.0, 0.0]))
    12.0 0.0
    """
    lam = as_float_array(eigenvalues, "eigenvalues", min_ndim=1).astype(np.float64, copy=False)
    d = lam.shape[-1]
    tr = np.sum(lam, axis=-1)
    if np.max(np.abs(tr - d)) > _MANIFOLD_TOL * d:
        raise ValueError(f"eigenvalues must sum to d={d} (tr M = d on the BN chain), got sums "
                         f"up to {np.max(np.abs(tr - d)):.3g} away")
    s2 = np.sum(lam ** 2, axis=-1)
    s3 = np.sum(lam ** 3, axis=-1)
    return (2.0 * (d * d - s2 + 4.0 * s2 * s2 / d - 4.0 * s3))[()]


def regularity_constant(M, axis=0) -> np.ndarray:
    """Plug-in regularity constant β = E[Σ_i ‖M_{i·}‖⁴] / E[tr M³] over samples along ``axis``.

    Under equal row norms (Σλ²)² <= d Σλ³ gives β <= 1, with equality iff the non-zero eigenvalues
    are equal (Example 11).

    Parameters
    ----------
    M : array_like, shape (..., d, d)
        A stack of samples from the invariant law ν (at least 3-D).
    axis : int, optional
        Sample axis of the stack (after removing the two matrix axes).

    Returns
    -------
    numpy.ndarray or numpy.float64

    Raises
    ------
    ValueError
        If ``M`` is not a stack of square matrices.

    References
    ----------
    .. [1] Daneshmand et al. (2020), arXiv:2003.01652, Definition 3 ([U] reconstruction), Lemma 10 (β_ν < 1) and Example 11;
       ``docs/derivations/rank_markov.md``.

    Examples
    --------
    Matrices whose non-zero eigenvalues are all equal give β = 1 (Example 11), e.g. identities:

    >>> import numpy as np
    >>> from depthcheck.theory.rank_markov import regularity_constant
    >>> print(regularity_constant(np.stack([np.eye(4), np.eye(4)])))
    1.0
    """
    M = _square_stack(M)
    if M.ndim < 3:
        raise ValueError(f"M must be a stack of samples (..., d, d), got shape {M.shape}")
    return (np.mean(row_norm4_sum(M), axis=axis) / np.mean(trace_cube(M), axis=axis))[()]


def regularity_constant_ergodic(g1, g2, axis=-1) -> np.ndarray:
    """Running ergodic estimate β̂_L = (Σ_{l<=L} g1_l) / (Σ_{l<=L} g2_l) along a chain (Eq. (49)).

    By Birkhoff's theorem both running means converge a.s. to their ν-expectations, so β̂_L → β_ν
    (Fig. 8 plots β̂ against L).

    Parameters
    ----------
    g1 : array_like
        Σ_i ‖M_{i·}(H_l)‖⁴ recorded along the chain.
    g2 : array_like
        tr M(H_l)³, same shape, > 0.
    axis : int, optional
        The chain (layer) axis.

    Returns
    -------
    numpy.ndarray
        The running ratio, same shape as the inputs.

    Raises
    ------
    ValueError
        If the shapes differ or some ``g2 <= 0``.

    References
    ----------
    .. [1] Daneshmand et al. (2020), arXiv:2003.01652, Eq. (49) and Fig. 8 (estimate of the regularity constant).

    Examples
    --------
    The running sums of g1 = (1, 2, 3) are (1, 3, 6) and of g2 = (2, 2, 2) are (2, 4, 6):

    >>> from depthcheck.theory.rank_markov import regularity_constant_ergodic
    >>> print(regularity_constant_ergodic([1.0, 2.0, 3.0], [2.0, 2.0, 2.0]))
    [0.5  0.75 1.  ]
    """
    g1 = as_float_array(g1, "g1", min_ndim=1)
    g2 = as_float_array(g2, "g2", min_ndim=1)
    if g1.shape != g2.shape:
        raise ValueError(f"g1 and g2 must have the same shape, got {g1.shape} and {g2.shape}")
    if np.any(g2 <= 0):
        raise ValueError("g2 = tr M³ must be positive")
    return (np.cumsum(g1, axis=axis) / np.cumsum(g2, axis=axis))[()]


def stationarity_residual(d, frob2_mean, g1_mean, g2_mean) -> np.ndarray:
    """E_ν[c(M)] / (2 d²) computed from ergodic means: (d² − E‖M‖² + 4 E g1 − 4 E g2) / d².

    Invariance of ν (Definition 2) with g = ‖M‖_F² and Lemma 7 give E_ν[c(M)] = O(γ) (O(γ²) for
    symmetric W), the identity behind Lemma 13: E‖M‖_F² = d² − 4(1 − β) E tr M³. A dimensionless
    residual near 0 checks Lemma 7 and invariance together.

    Parameters
    ----------
    d : int
        Width.
    frob2_mean, g1_mean, g2_mean : float or array_like
        Ergodic means of ‖M‖_F², Σ_i ‖M_{i·}‖⁴ and tr M³.

    Returns
    -------
    numpy.ndarray or numpy.float64

    Raises
    ------
    ValueError
        If ``d`` is not a positive int.

    References
    ----------
    .. [1] Daneshmand et al. (2020), arXiv:2003.01652, Definition 2, Lemma 7 and the proof of Lemma 13 ([D], ``docs/derivations/rank_markov.md``).

    Examples
    --------
    The values of M = I_2 (‖M‖² = Σ‖M_i‖⁴ = tr M³ = 2) give c(I_2)/(2·4) = 4/8: the identity is
    not stationary (compare :func:`lemma7_drift_coefficient`).

    >>> from depthcheck.theory.rank_markov import stationarity_residual
    >>> print(stationarity_residual(2, 2.0, 2.0, 2.0))
    0.5
    """
    d = check_positive_int(d, "d")
    f = np.asarray(frob2_mean, dtype=np.float64)
    a = np.asarray(g1_mean, dtype=np.float64)
    b = np.asarray(g2_mean, dtype=np.float64)
    return ((d * d - f + 4.0 * a - 4.0 * b) / (d * d))[()]


def _beta(beta, allow_one: bool) -> np.ndarray:
    b = np.asarray(beta, dtype=np.float64)
    if not np.all(np.isfinite(b)):
        raise ValueError(f"beta must be finite, got {beta}")
    if np.any(b < 0) or np.any(b > 1) or (not allow_one and np.any(b == 1)):
        raise ValueError(f"beta (regularity constant) must lie in [0, 1{']' if allow_one else ')'}"
                         f" (Lemma 10: β_ν < 1), got {beta}")
    return b


def lemma13_frobenius_bound(d, beta, form="sharp") -> np.ndarray:
    """Lemma 13: upper bound on E_ν ‖M‖_F² (up to O(γ)) given the regularity constant β < 1.

        sharp:  E‖M‖_F² <= d (√(1 + 16(1−β)d) − 1) / (8(1−β))      (→ d² as β → 1)
        simple: E‖M‖_F² <= d^{3/2} / (2√(1−β))                      (the paper's O(d^{3/2}))

    Parameters
    ----------
    d : int
        Width.
    beta : float or array_like
        Regularity constant, in [0, 1) (``"simple"``) or [0, 1] (``"sharp"``).
    form : {"sharp", "simple"}, optional

    Returns
    -------
    numpy.ndarray or numpy.float64

    Raises
    ------
    ValueError
        If ``form`` is unknown, ``beta`` is outside its range, or ``d`` is not a positive int.

    Notes
    -----
    [D]: invariance gives E‖M‖² = d² − 4(1−β) E tr M³; tr M³ >= ‖M‖_F⁴/d (Cauchy–Schwarz,
    tr M = d) and Jensen give 4(1−β)x²/d + x − d² <= 0 for x = E‖M‖², whose root is the sharp form;
    the simple form follows from √(1+a) − 1 <= √a. Valid for sufficiently small γ only.
    Details in ``docs/derivations/rank_markov.md``.

    References
    ----------
    .. [1] Daneshmand et al. (2020), arXiv:2003.01652, Lemma 13 ([P] proof steps and O(d^{3/2}) conclusion, [D] constants).

    Examples
    --------
    At β = 1 the sharp form is the trivial bound d² (|M_ij| <= 1). At d = 4, β = 3/4 the simple
    form is 8/(2·1/2) = 8 and the sharp one 32/(√17 + 1) ≈ 6.25:

    >>> import numpy as np
    >>> from depthcheck.theory.rank_markov import lemma13_frobenius_bound
    >>> print(lemma13_frobenius_bound(4, 1.0), lemma13_frobenius_bound(4, 0.75, form="simple"))
    16.0 8.0
    >>> bool(np.isclose(lemma13_frobenius_bound(4, 0.75), 32 / (np.sqrt(17) + 1)))
    True
    """
    d = check_positive_int(d, "d")
    if form not in ("sharp", "simple"):
        raise ValueError(f"form={form!r} is not one of ('sharp', 'simple')")
    b = _beta(beta, allow_one=form == "sharp")
    e = 1.0 - b
    if form == "simple":
        return (d ** 1.5 / (2.0 * np.sqrt(e)))[()]
    a = 16.0 * e * d
    # d(√(1+a) − 1)/(8e) = d · 16 d / (8 (√(1+a) + 1)): no cancellation, finite at e = 0
    return (2.0 * d * d / (np.sqrt(1.0 + a) + 1.0))[()]


def theorem14_rank_bound(d, beta, tau=0.0, form="simple") -> np.ndarray:
    """Theorem 14 (formal Theorem 2): lower bound on lim (1/L) Σ_l rank_τ(H_l) (up to O(γ)).

        simple: 2 (1−τ)² √((1−β) d)                       (the paper's Ω((1−τ)² √d))
        sharp:  (1−τ)² (1 + √(1 + 16(1−β)d)) / 2           (= (1−τ)² d² / Lemma 13's sharp bound)

    With τ = 0 the sharp form bounds E_ν r(H) itself.

    Parameters
    ----------
    d : int
        Width.
    beta : float or array_like
        Regularity constant in [0, 1].
    tau : float, optional
        Soft-rank threshold in [0, 1).
    form : {"simple", "sharp"}, optional

    Returns
    -------
    numpy.ndarray or numpy.float64

    Raises
    ------
    ValueError
        If ``form`` is unknown, ``tau`` is outside [0, 1), ``beta`` outside [0, 1], or ``d`` is not a
        positive int.

    Notes
    -----
    Chain of inequalities: Lemma 1 (rank_τ >= (1−τ)² r), Birkhoff, Jensen (E[d²/‖M‖²] >=
    d²/E‖M‖²), Lemma 13 ([D] constant, ``docs/derivations/rank_markov.md``). Assumptions: rank X = d, γ sufficiently small,
    symmetric bounded i.i.d. weights, unique invariant law, β_ν < 1.

    References
    ----------
    .. [1] Daneshmand et al. (2020), arXiv:2003.01652, Theorem 2 (eq. (5)) and its formal version Theorem 14 ([P] statement, [D]
       constant).

    Examples
    --------
    d = 4, β = 3/4, τ = 0: simple 2·√(1/4·4) = 2; sharp (1 + √17)/2 = 16 / (32/(√17 + 1)), i.e.
    d² over Lemma 13's sharp bound:

    >>> import numpy as np
    >>> from depthcheck.theory.rank_markov import theorem14_rank_bound, lemma13_frobenius_bound
    >>> print(theorem14_rank_bound(4, 0.75))
    2.0
    >>> bool(np.isclose(theorem14_rank_bound(4, 0.75, form="sharp"),
    ...                 16 / lemma13_frobenius_bound(4, 0.75)))
    True
    """
    d = check_positive_int(d, "d")
    if form not in ("sharp", "simple"):
        raise ValueError(f"form={form!r} is not one of ('sharp', 'simple')")
    t = float(tau)
    if not 0.0 <= t < 1.0:
        raise ValueError(f"tau must lie in [0, 1), got {tau!r}")
    b = _beta(beta, allow_one=True)
    e = 1.0 - b
    f = (1.0 - t) ** 2
    if form == "simple":
        return (2.0 * f * np.sqrt(e * d))[()]
    return (f * (1.0 + np.sqrt(1.0 + 16.0 * e * d)) / 2.0)[()]


def lemma1_soft_rank_bound(r, tau) -> np.ndarray:
    """Lemma 1, part 2: rank_τ(H) >= (1−τ)² r(H) for H with tr M(H) = d (rows of norm √N).

    "eigen" threshold convention (λ_i(M) > τ); it also holds for the "singular" convention
    (σ_i/√N > τ), which counts at least as many values.

    Parameters
    ----------
    r : float or array_like
        Values of r(H) (:func:`depthcheck.theory.rank.rank_lower_bound`), finite and >= 0.
    tau : float
        Threshold in [0, 1).

    Returns
    -------
    numpy.ndarray or numpy.float64

    Raises
    ------
    ValueError
        If ``tau`` is outside [0, 1) or ``r`` is negative or not finite.

    References
    ----------
    .. [1] Daneshmand et al. (2020), arXiv:2003.01652, Lemma 1 ([P] statement, [D] constant; proof in ``docs/derivations/rank_markov.md``).

    Examples
    --------
    >>> from depthcheck.theory.rank_markov import lemma1_soft_rank_bound
    >>> print(lemma1_soft_rank_bound(4.0, 0.5))             # (1 − 1/2)² · 4
    1.0
    """
    t = float(tau)
    if not 0.0 <= t < 1.0:
        raise ValueError(f"tau must lie in [0, 1), got {tau!r}")
    r = np.asarray(r, dtype=np.float64)
    if not np.all(np.isfinite(r)) or np.any(r < 0):
        raise ValueError("r must be finite and >= 0")
    return ((1.0 - t) ** 2 * r)[()]
