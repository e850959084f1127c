"""Corollaries and appendix lemmas of Meterez et al. 2024 (BN with Haar-orthogonal weights).

Source: A. Meterez, A. Joudaki, F. Orabona, A. Immer, G. Rätsch, H. Daneshmand, "Towards Training
Without Depth Limits: Batch Normalization Without Gradient Explosion", ICLR 2024,
arXiv:2310.02012 (numbering of arXiv v1): Corollary A.3, Corollary 4 (= A.5), Lemmas B.1, B.2,
C.2, C.5, C.6, C.7, C.11 and C.12. The paper's displayed formulas of these items are not legible in
the text we have; every function here is tagged [D] (derived in this repository from the paper's
proof sketch, written out in ``docs/derivations/bn_lemmas.md``, and checked numerically) unless
it says otherwise. Where the paper's constants differ from ours, the structure (which powers of
d and φ appear) is what the derivations reproduce, not the printed constants.

Conventions: ``X`` has unit-norm rows (``X = Bn(H)``, eq. 4), n = d, ``λ`` are the eigenvalues of
``X Xᵀ`` (so ``Σλ = d``), ``φ`` is the isometry gap (eq. 5), ``a_i = ||e_iᵀ W X||²``.
"""
from __future__ import annotations

import math

import numpy as np

from depthcheck.theory._checks import as_float_array, check_positive_int

__all__ = [
    "corollary_a3_rotation",
    "lemma_b1_eigenvalue_interval",
    "spectral_deviation_lower_bound",
    "corollary4_decrease_bound",
    "lemma_b2_decrease_bound",
    "lemma_b2_contraction",
    "lemma_c5_hitting_time_bound",
    "lemma_c6_tail_sum_bound",
    "lemma_c7_markov_failure_bound",
    "xent_logit_gradient_bound",
    "mse_logit_gradient_bound",
]


def _check_phi(phi, name="phi"):
    phi = as_float_array(phi, name)
    if np.any(phi < 0):
        raise ValueError(f"{name} must be >= 0 (an isometry gap), got min {float(np.min(phi))}")
    return phi


def corollary_a3_rotation(X):
    """The orthogonal W of Corollary A.3 that makes ``Bn(W X)`` perfectly isometric [D].

    With the SVD ``X = U Σ Vᵀ`` (square, non-degenerate X), ``W = Uᵀ`` gives ``W X = Σ Vᵀ``,
    whose rows ``σ_i v_iᵀ`` have norms ``σ_i``, so ``Bn(W X) = Vᵀ``: an orthogonal matrix,
    ``I(Bn(WX)) = 1``. Hence ``I(Bn(WX)) > I(X)`` for this W unless X is already a multiple of an
    orthogonal matrix (``I(X) = 1``).

    Parameters
    ----------
    X : array_like, shape (..., d, d)
        Square non-degenerate matrices (a stack is allowed).

    Returns
    -------
    W : numpy.ndarray, shape (..., d, d)
        ``Uᵀ``, orthogonal.
    Vt : numpy.ndarray, shape (..., d, d)
        ``Vᵀ``, which equals ``Bn(W X)`` for non-degenerate X.

    Raises
    ------
    ValueError
        If X is not a stack of square finite matrices, or a singular value is zero.

    References
    ----------
    Meterez et al. 2024, arXiv:2310.02012, Corollary A.3 (and Lemma 2).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[2.0, 1.0], [0.0, 1.0]])
    >>> W, Vt = corollary_a3_rotation(X)
    >>> WX = W @ X
    >>> Bn = WX / np.linalg.norm(WX, axis=1, keepdims=True)
    >>> bool(np.allclose(Bn, Vt)), bool(np.allclose(Vt @ Vt.T, np.eye(2)))
    (True, True)
    """
    X = as_float_array(X, "X", min_ndim=2)
    if X.shape[-1] != X.shape[-2]:
        raise ValueError(f"X must be square (n = d), got shape {X.shape}")
    U, s, Vt = np.linalg.svd(X)
    if np.any(s[..., -1] <= 0):
        raise ValueError("X must be non-degenerate (a singular value is zero)")
    return np.swapaxes(U, -1, -2), Vt


def lemma_b1_eigenvalue_interval(phi, d):
    """Interval holding every eigenvalue of a trace-normalised Gram matrix with gap φ [D].

    For PSD G (d × d) with ``tr G = d`` (mean eigenvalue 1) and ``φ = log AM(λ) − log GM(λ)``:
    ``dφ = Σ_k h(λ_k − 1)`` with ``h(x) = x − log(1 + x) >= 0`` (since Σ(λ_k − 1) = 0), so every
    ``h(λ_k − 1) <= dφ``; ``h(x) >= x²/2`` on (−1, 0] and ``h(x) >= x²/(2(1 + x))`` on [0, ∞)
    give ``λ_k ∈ [1 − √(2dφ), 1 + dφ + √(2dφ + (dφ)²)]``. The lower end also gives the second
    inequality of Lemma C.11: ``φ <= 1/(8d)`` implies ``λ_min >= 1/2``.

    Parameters
    ----------
    phi : array_like
        Isometry gaps, >= 0.
    d : int
        Dimension (number of eigenvalues), >= 1.

    Returns
    -------
    (lo, hi) : tuple of numpy.ndarray
        ``1 − √(2dφ)`` and ``1 + dφ + √(2dφ + (dφ)²)``.

    Raises
    ------
    ValueError
        If ``phi`` is negative or not finite, or ``d`` is not a positive integer.

    References
    ----------
    Meterez et al. 2024, arXiv:2310.02012, Lemma B.1 and Lemma C.11 (second inequality);
    ``docs/derivations/bn_lemmas.md`` §2.

    Examples
    --------
    φ = 0 pins every eigenvalue to 1; φ = 1/(8d) keeps them above 1/2:

    >>> lemma_b1_eigenvalue_interval(0.0, 4)
    (1.0, 1.0)
    >>> float(lemma_b1_eigenvalue_interval(1 / 32, 4)[0])
    0.5
    """
    phi = _check_phi(phi)
    d = check_positive_int(d, "d")
    x = d * phi
    lo = 1.0 - np.sqrt(2.0 * x)
    hi = 1.0 + x + np.sqrt(2.0 * x + x * x)
    return lo[()] if np.ndim(lo) else float(lo), hi[()] if np.ndim(hi) else float(hi)


def spectral_deviation_lower_bound(phi, d):
    """Lower bound on ``S = Σ_k (λ_k − 1)²`` from the gap: ``S >= min(dφ, 1/4)`` [D].

    For a trace-normalised spectrum (mean 1): if some ``λ_k < 1/2`` then ``S >= 1/4``; otherwise
    every ``x_k = λ_k − 1 >= −1/2``, where ``h(x) = x − log(1 + x) <= x²``, so
    ``S >= Σ h(x_k) = dφ``. This is the step of Lemma B.2 that turns Corollary 4's bound (in λ)
    into a bound in φ.

    Parameters
    ----------
    phi : array_like
        Isometry gaps, >= 0.
    d : int
        Dimension, >= 1.

    Returns
    -------
    numpy.ndarray or float
        ``min(dφ, 1/4)``.

    Raises
    ------
    ValueError
        If ``phi`` is negative or not finite, or ``d`` is not a positive integer.

    References
    ----------
    Meterez et al. 2024, arXiv:2310.02012, Lemma B.2 (proof); ``docs/derivations/bn_lemmas.md``
    §2.

    Examples
    --------
    >>> spectral_deviation_lower_bound(0.01, 4), spectral_deviation_lower_bound(1.0, 4)
    (0.04, 0.25)
    """
    phi = _check_phi(phi)
    d = check_positive_int(d, "d")
    out = np.minimum(d * phi, 0.25)
    return out[()] if np.ndim(out) else float(out)


def corollary4_decrease_bound(eigenvalues):
    """Corollary 4's guaranteed expected one-step decrease of φ, in terms of the spectrum [D].

    For X with unit-norm rows (n = d), λ the eigenvalues of ``X Xᵀ`` and Haar W::

        E_W φ(Bn(W X)) <= φ(X) − g(λ),
        g(λ) = −2 log(1 − δ/(2(1 + √d)²)) >= δ/(1 + √d)²,   δ = 2 Σ_k (λ_k − 1)² / (d(d+2)).

    Proof: ``φ(X) − φ(Bn(WX)) = −(1/d) Σ log a_i`` (Lemma A.1's identity, ``AM(a) = 1``)
    ``>= −2 log AM(√a)`` (Jensen), and ``E AM(√a) <= 1 − δ/(2(1 + √d)²)`` (the Weingarten second
    moment of Theorem 3 with ``√a <= 1 + (a−1)/2 − (a−1)²/(2(1+√d)²)`` on ``[0, d]``).

    Parameters
    ----------
    eigenvalues : array_like, shape (..., d)
        Non-negative eigenvalues of ``X Xᵀ`` summing to d (rescaled to sum d if they do not).

    Returns
    -------
    numpy.ndarray or float
        g(λ) >= 0, zero iff all λ_k = 1.

    Raises
    ------
    ValueError
        If the eigenvalues are negative, not finite, or sum to zero.

    References
    ----------
    Meterez et al. 2024, arXiv:2310.02012, Corollary 4 (= A.5) and Theorem 3 (eq. 55);
    ``docs/derivations/bn_lemmas.md`` §3, ``docs/derivations/isometry_bn.md`` §2–§3.

    Examples
    --------
    Orthogonal X: no decrease is guaranteed (and none happens). Rank-one X in d = 4:
    Σ(λ−1)² = 12, δ = 1, g = −2 log(1 − 1/18):

    >>> corollary4_decrease_bound([1.0, 1.0, 1.0, 1.0])
    0.0
    >>> round(corollary4_decrease_bound([4.0, 0.0, 0.0, 0.0]), 6)
    0.114317
    """
    lam = as_float_array(eigenvalues, "eigenvalues", min_ndim=1)
    if np.any(lam < 0):
        raise ValueError("eigenvalues must be >= 0")
    tot = np.sum(lam, axis=-1, keepdims=True)
    if np.any(tot <= 0):
        raise ValueError("eigenvalues must not all be zero")
    d = lam.shape[-1]
    lam = lam * (d / tot)
    delta = 2.0 * np.sum((lam - 1.0) ** 2, axis=-1) / (d * (d + 2.0))
    out = -2.0 * np.log1p(-delta / (2.0 * (1.0 + math.sqrt(d)) ** 2))
    return out[()] if np.ndim(out) else float(out)


def lemma_b2_decrease_bound(phi, d):
    """Lemma B.2's guaranteed expected one-step decrease of φ, in terms of φ alone [D].

    Combining :func:`corollary4_decrease_bound` (``g >= δ/(1+√d)²``) with
    :func:`spectral_deviation_lower_bound` (``Σ(λ−1)² >= min(dφ, 1/4)``)::

        E[φ(X_{l+1}) | X_l] <= φ_l − b(φ_l),   b(φ) = 2 min(dφ, 1/4) / (d (d+2) (1+√d)²).

    Two regimes as in the paper: for ``φ <= 1/(4d)`` a contraction by the factor
    ``1 − 2/((d+2)(1+√d)²)`` (order 1/d²); above it a constant decrease. Together
    ``E[φ_{l+1} | X_l] <= (1 − 1/k(φ_l)) φ_l`` with ``k(φ) = (d+2)(1+√d)² max(1, 4dφ)/2``, the
    shape ``C d²(1 + dφ)`` of Theorem 1's k.

    Parameters
    ----------
    phi : array_like
        Isometry gaps, >= 0.
    d : int
        Width (n = d), >= 1.

    Returns
    -------
    numpy.ndarray or float
        b(φ).

    Raises
    ------
    ValueError
        If ``phi`` is negative or not finite, or ``d`` is not a positive integer.

    References
    ----------
    Meterez et al. 2024, arXiv:2310.02012, Lemma B.2, Corollary A.5, Theorem 1;
    ``docs/derivations/bn_lemmas.md`` §4.

    Examples
    --------
    d = 4: (d+2)(1+√d)² = 54; at φ = 1/16 (= 1/(4d)) b = 2·(1/4)/(4·54):

    >>> round(lemma_b2_decrease_bound(1 / 16, 4) * 4 * 54 / 2, 12)
    0.25
    """
    phi = _check_phi(phi)
    d = check_positive_int(d, "d")
    out = 2.0 * np.minimum(d * phi, 0.25) / (d * (d + 2.0) * (1.0 + math.sqrt(d)) ** 2)
    return out[()] if np.ndim(out) else float(out)


def lemma_b2_contraction(d):
    """The small-gap contraction factor of Lemma B.2, ``ρ = 1 − 2/((d+2)(1+√d)²)`` [D].

    For ``φ_l <= 1/(4d)``: ``E[φ_{l+1} | X_l] <= ρ φ_l`` (:func:`lemma_b2_decrease_bound`).

    Parameters
    ----------
    d : int
        Width, >= 1.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``d`` is not a positive integer.

    References
    ----------
    Meterez et al. 2024, arXiv:2310.02012, Lemma B.2; ``docs/derivations/bn_lemmas.md`` §4.

    Examples
    --------
    >>> lemma_b2_contraction(4) == 1 - 2 / 54
    True
    """
    d = check_positive_int(d, "d")
    return 1.0 - 2.0 / ((d + 2.0) * (1.0 + math.sqrt(d)) ** 2)


def lemma_c5_hitting_time_bound(phi0, d, phi_c=None):
    """Bound on the expected hitting time ``E τ``, τ = first l with ``φ_l <= φ_c`` [D].

    φ_l is non-increasing (Lemma A.1) and, while ``φ_l > φ_c``, decreases in expectation by at
    least ``b(φ_c)`` per layer (Lemma B.2, b non-decreasing), so by optional stopping
    ``E τ <= max(φ0 − φ_c, 0) / b(φ_c)``. Default ``φ_c = 1/(4d)``, the edge of the contraction
    regime of :func:`lemma_b2_decrease_bound`.

    Parameters
    ----------
    phi0 : array_like
        Input gaps φ(X_0), >= 0.
    d : int
        Width, >= 1.
    phi_c : float, optional
        Threshold, > 0.

    Returns
    -------
    numpy.ndarray or float

    Raises
    ------
    ValueError
        If ``phi0`` is negative or not finite, ``d`` not a positive integer or ``phi_c <= 0``.

    References
    ----------
    Meterez et al. 2024, arXiv:2310.02012, Lemma C.5 (hitting time) and Lemma B.2;
    ``docs/derivations/bn_lemmas.md`` §5.

    Examples
    --------
    >>> lemma_c5_hitting_time_bound(1 / 16, 4)
    0.0
    >>> round(lemma_c5_hitting_time_bound(1.0, 4), 6) == round((1 - 1 / 16) * 4 * 6 * 9 * 2, 6)
    True
    """
    phi0 = _check_phi(phi0, "phi0")
    d = check_positive_int(d, "d")
    phi_c = 1.0 / (4.0 * d) if phi_c is None else float(phi_c)
    if not phi_c > 0:
        raise ValueError(f"phi_c must be > 0, got {phi_c}")
    out = np.maximum(phi0 - phi_c, 0.0) / lemma_b2_decrease_bound(phi_c, d)
    return out[()] if np.ndim(out) else float(out)


def lemma_c6_tail_sum_bound(d, phi_c=None):
    """Bound on ``E Σ_{l >= τ} φ_l`` after the hitting time [D].

    Below ``φ_c <= 1/(4d)`` Lemma B.2 contracts by ρ (:func:`lemma_b2_contraction`) and φ never
    increases (Lemma A.1), so ``E Σ_{l >= τ} φ_l <= φ_c / (1 − ρ) = φ_c (d+2)(1+√d)²/2``.

    Parameters
    ----------
    d : int
        Width, >= 1.
    phi_c : float, optional
        Threshold in (0, 1/(4d)], default 1/(4d).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``d`` is not a positive integer or ``phi_c`` is outside (0, 1/(4d)].

    References
    ----------
    Meterez et al. 2024, arXiv:2310.02012, Lemma C.6 and Lemma B.2;
    ``docs/derivations/bn_lemmas.md`` §5.

    Examples
    --------
    >>> round(lemma_c6_tail_sum_bound(4), 12) == round((1 / 16) * 54 / 2, 12)
    True
    """
    d = check_positive_int(d, "d")
    phi_c = 1.0 / (4.0 * d) if phi_c is None else float(phi_c)
    if not 0 < phi_c <= 1.0 / (4.0 * d):
        raise ValueError(f"phi_c must lie in (0, 1/(4d)], got {phi_c}")
    return phi_c / (1.0 - lemma_b2_contraction(d))


def lemma_c7_markov_failure_bound(d):
    """The Markov step on Lemma B.2 below the threshold (our reading of Lemma C.7) [D].

    For ``φ_l <= 1/(4d)`` Lemma B.2 gives ``E[φ_{l+1} | X_l] <= ρ φ_l``, ``ρ = 1 − 1/k``,
    ``k = (d+2)(1+√d)²/2`` (:func:`lemma_b2_contraction`). Markov's inequality on the
    non-negative ``φ_{l+1}`` bounds the probability of the "failure" event that φ does not
    shrink by the factor ``q = 1 − 1/(2k)``::

        P(φ_{l+1} > q φ_l | X_l) <= ρ / q = p = (2k − 2)/(2k − 1).

    With ``φ_{l+1} <= φ_l`` (Lemma A.1) on failure and ``<= q φ_l`` on success,
    ``E[φ_{l+1} | X_l] <= (p + (1 − p) q) φ_l = (1 − 1/(2k(2k−1))) φ_l``, and summing the
    geometric series from ``φ_τ <= φ_c`` gives the tail bound of this route,
    ``E Σ_{l>=τ} φ_l <= φ_c · 2k(2k − 1)`` (weaker than :func:`lemma_c6_tail_sum_bound`,
    ``φ_c k``, which uses B.2's contraction directly).

    Parameters
    ----------
    d : int
        Width (n = d), >= 1.

    Returns
    -------
    (q, p, factor) : tuple of float
        The success factor ``q = 1 − 1/(2k)``, the failure-probability bound
        ``p = (2k−2)/(2k−1)`` and the resulting one-step factor ``p + (1 − p) q``.

    Raises
    ------
    ValueError
        If ``d`` is not a positive integer.

    References
    ----------
    Meterez et al. 2024, arXiv:2310.02012, Lemma C.7 (the Markov bound on Lemma B.2, "failure"
    and "success" events), Lemma B.2, Lemma A.1; ``docs/derivations/bn_lemmas.md`` §7.

    Examples
    --------
    d = 4: k = 6·9/2 = 27, q = 1 − 1/54, p = 52/53:

    >>> q, p, f = lemma_c7_markov_failure_bound(4)
    >>> round(q * 54, 12), round(p * 53, 12), round((1 - f) * 54 * 53, 12)
    (53.0, 52.0, 1.0)
    """
    d = check_positive_int(d, "d")
    k = 1.0 / (1.0 - lemma_b2_contraction(d))
    q = 1.0 - 1.0 / (2.0 * k)
    p = (1.0 - 1.0 / k) / q
    return q, p, p + (1.0 - p) * q


def xent_logit_gradient_bound(n):
    """Lemma C.2 for the mean cross-entropy: ``||∂L/∂Z||_F <= √(2/n)`` [D].

    Per sample the gradient is ``(p − y)/n`` with p a probability vector and y one-hot, and
    ``||p − y||² = Σ p_j² − 2 p_y + 1 <= 2``, so the n columns give ``||∂L/∂Z||_F² <= 2/n``,
    whatever the logits (the loss is Lipschitz in Z).

    Parameters
    ----------
    n : int
        Batch size, >= 1.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``n`` is not a positive integer.

    References
    ----------
    Meterez et al. 2024, arXiv:2310.02012, Lemma C.2; ``docs/derivations/bn_lemmas.md`` §6.

    Examples
    --------
    >>> xent_logit_gradient_bound(2)
    1.0
    """
    n = check_positive_int(n, "n")
    return math.sqrt(2.0 / n)


def mse_logit_gradient_bound(d, n, n_out, target_norm):
    """Lemma C.2 for the mean squared error on the paper's network: a bound on ``||∂L/∂Z||_F`` [D].

    ``L = (1/(n_out n)) ||Z − Y||_F²`` has ``∂L/∂Z = 2(Z − Y)/(n_out n)``; with ``Z = W_out X_L``,
    ``W_out`` with orthonormal rows and ``X_L = Bn(·)`` (unit rows, ``||X_L||_F = √d``),
    ``||Z||_F <= √d``, so ``||∂L/∂Z||_F <= 2(√d + ||Y||_F)/(n_out n)``.

    Parameters
    ----------
    d, n, n_out : int
        Width, batch size, number of outputs (all >= 1).
    target_norm : float
        ``||Y||_F`` >= 0.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If a size is not a positive integer or ``target_norm`` is negative.

    References
    ----------
    Meterez et al. 2024, arXiv:2310.02012, Lemma C.2 and the readout of Appendix C;
    ``docs/derivations/bn_lemmas.md`` §6.

    Examples
    --------
    >>> mse_logit_gradient_bound(4, 4, 2, 2.0)
    1.0
    """
    d = check_positive_int(d, "d")
    n = check_positive_int(n, "n")
    n_out = check_positive_int(n_out, "n_out")
    t = float(target_norm)
    if not (t >= 0 and math.isfinite(t)):
        raise ValueError(f"target_norm must be finite and >= 0, got {target_norm!r}")
    return 2.0 * (math.sqrt(d) + t) / (n_out * n)
