"""Predictions and bounds for BN MLPs with Haar-orthogonal weights.

Source: A. Meterez, A. Joudaki, F. Orabona, A. Immer, G. Rätsch, H. Daneshmand, "Towards Training
Without Depth Limits: Batch Normalization Without Gradient Explosion", ICLR 2024,
arXiv:2310.02012. Theorem, lemma and equation numbers are those of arXiv v1 (the ICLR version
numbers differently). The arXiv text has most displayed formulas typeset as images, so several
statements below are reconstructions; each function carries a confidence tag:

* [P] stated in the paper's text, or visible in the authors' public code
  (https://github.com/alexandrumeterez/bngrad);
* [S] the formula is quoted by secondary summaries or the ICLR 2024 reviews of the paper
  (https://openreview.net/forum?id=xhCZD9hiiA), and the paper's words match it;
* [D] derived in this repository from the paper's proof sketch and checked numerically; the
  paper's printed constants are not confirmed;
* [U] unconfirmed: only the structure is known.

Derivations of every [D] item: ``docs/derivations/isometry_bn.md``. BibTeX key:
``meterez2024bn`` in ``docs/references.bib``.

Network (eq. 3): ``X_{l+1} = Bn(W_l X_l)`` with ``Bn(X) = diag(X Xᵀ)^{-1/2} X`` (eq. 4), Haar
``W_l`` in O(d), linear activation, n = d.
"""
from __future__ import annotations

import numpy as np

from depthcheck.theory._checks import as_float_array, check_positive_int

__all__ = [
    "theorem1_k",
    "theorem1_bound",
    "theorem1_smallest_C",
    "theorem3_second_moment",
    "theorem3_ratio_lower_bound",
    "rownorm_jacobian_spectrum",
    "rownorm_jacobian_opnorm_bound",
    "lambda_min_lower_bound",
    "lemma_a1_log_factor",
    "theorem3_second_moment_gaussian",
    "small_gap_contraction",
    "small_gap_decay_rate",
    "AUTHORS_PLOT_C",
]

#: The constant the authors used to draw the dashed "theory" curve of Fig. 1 ([P], their code:
#: notebook "Isometry gap.ipynb" of github.com/alexandrumeterez/bngrad). The paper only says
#: "an absolute constant": it is not a proven value.
AUTHORS_PLOT_C = 0.015


def theorem1_k(d, phi0, C=AUTHORS_PLOT_C):
    """Decay length of Theorem 1: ``k = C d² (1 + d φ(X_0))``.

    Parameters
    ----------
    d : int or array_like
        Width (= batch size n), >= 1.
    phi0 : float or array_like
        Isometry gap φ(X_0) of the input, finite and >= 0.
    C : float, optional
        The absolute constant of Theorem 1 (> 0). The paper does not give it; the default
        ``AUTHORS_PLOT_C = 0.015`` is the value the authors used to draw the "theory" curve of their
        Fig. 1 ([P], authors' code), not a proven value.

    Returns
    -------
    numpy.ndarray or float
        ``k``, broadcast over the inputs.

    Raises
    ------
    ValueError
        If ``phi0`` is negative or not finite, ``d < 1`` or ``C <= 0``.

    Notes
    -----
    Assumptions: n = d, non-degenerate input (φ(X_0) < ∞), Haar weights, linear activation, the
    paper's row-normalising Bn.

    References
    ----------
    .. [1] Meterez et al. (2024), arXiv:2310.02012, Theorem 1 ([P] words "there is an absolute constant C", [S] formula).

    Examples
    --------
    With C = 1/2, d = 2 and φ0 = 1/2: k = (1/2)·4·(1 + 1) = 4.

    >>> from depthcheck.theory.bn_orthogonal import theorem1_k
    >>> print(theorem1_k(2, 0.5, C=0.5))
    4.0
    """
    d = np.asarray(d, dtype=np.float64)
    phi0 = np.asarray(phi0, dtype=np.float64)
    if np.any(phi0 < 0) or not np.all(np.isfinite(phi0)):
        raise ValueError("phi0 must be finite and >= 0 (Theorem 1 needs a non-degenerate input)")
    if np.any(d < 1):
        raise ValueError("d must be >= 1")
    if not np.all(np.asarray(C) > 0):
        raise ValueError("C must be > 0")
    return C * d**2 * (1.0 + d * phi0)


def theorem1_bound(layers, d, phi0, C=AUTHORS_PLOT_C):
    """Theorem 1's bound on the mean isometry gap: ``E φ(X_l) <= φ(X_0) exp(-(l - 1) / k)``.

    The paper writes the bound for ``X_{l+1}`` with ``e^{-l/k}``; this function uses the same
    statement re-indexed, ``E φ(X_l) <= φ0 e^{-(l-1)/k}`` for l >= 1 (slightly weaker, hence safe),
    and φ0 at l = 0.

    Parameters
    ----------
    layers : array_like
        Layer indices l >= 0.
    d, phi0, C
        As for :func:`theorem1_k`.

    Returns
    -------
    numpy.ndarray
        The bound, shaped like ``layers``.

    Raises
    ------
    ValueError
        As :func:`theorem1_k`.

    References
    ----------
    .. [1] Meterez et al. (2024), arXiv:2310.02012, Theorem 1 ([S] formula; assumptions as in :func:`theorem1_k`).

    Examples
    --------
    With k = 4 (C = 1/2, d = 2, φ0 = 1/2) the bound stays at φ0 for l = 0, 1 and has lost a factor
    e at l = 5:

    >>> import numpy as np
    >>> from depthcheck.theory.bn_orthogonal import theorem1_bound
    >>> b = theorem1_bound([0, 1, 5], 2, 0.5, C=0.5)
    >>> bool(np.allclose(b, [0.5, 0.5, 0.5 / np.e]))
    True
    """
    layers = np.asarray(layers, dtype=np.float64)
    k = theorem1_k(d, phi0, C)
    return phi0 * np.exp(-np.maximum(layers - 1.0, 0.0) / k)


def theorem1_smallest_C(layers, mean_phi, d, phi0):
    """Smallest C for which ``mean_phi[l] <= φ0 exp(-(l-1)/(C d²(1+dφ0)))`` at every layer l >= 2.

    Solving the bound for C at each layer gives ``C >= (l-1) / (d²(1+dφ0) log(φ0/φ_l))`` when
    ``φ_l < φ0``; a layer with ``φ_l >= φ0`` (and l > 1) admits no finite C (returns inf). Layers
    0 and 1 constrain nothing (the bound equals φ0 there). Used to report the smallest C
    consistent with simulated data.

    Parameters
    ----------
    layers : array_like
        Layer indices.
    mean_phi : array_like
        Estimates of E φ(X_l) at those layers (same shape as ``layers``).
    d : int
        Width.
    phi0 : float
        φ(X_0) > 0.

    Returns
    -------
    float
        The smallest admissible C (0.0 if no layer is > 1, inf if none exists).

    References
    ----------
    .. [1] Meterez et al. (2024), arXiv:2310.02012, Theorem 1 (the bound solved for its constant).

    Examples
    --------
    With d = 1, φ0 = 1 (so d²(1 + dφ0) = 2) and φ_2 = φ0/e, layer 2 needs C >= 1/(2·1) = 1/2:

    >>> import numpy as np
    >>> from depthcheck.theory.bn_orthogonal import theorem1_smallest_C
    >>> print(round(theorem1_smallest_C([0, 1, 2], [1.0, 1.0, 1 / np.e], 1, 1.0), 12))
    0.5
    """
    layers = np.asarray(layers, dtype=np.float64)
    mean_phi = np.asarray(mean_phi, dtype=np.float64)
    scale = d**2 * (1.0 + d * phi0)
    mask = layers > 1
    if not np.any(mask):
        return 0.0
    ratio = phi0 / mean_phi[mask]
    with np.errstate(divide="ignore"):
        need = np.where(ratio > 1.0, (layers[mask] - 1.0) / (scale * np.log(ratio)), np.inf)
    return float(np.max(need))


def _trace_d_eigenvalues(eigenvalues, name="eigenvalues"):
    lam = as_float_array(eigenvalues, name, min_ndim=1)
    if np.any(lam < -1e-12):
        raise ValueError(f"{name} must be >= 0 (eigenvalues of X Xᵀ)")
    d = lam.shape[-1]
    tr = lam.sum(axis=-1)
    if not np.allclose(tr, d, rtol=1e-8, atol=1e-8):
        raise ValueError(f"{name} must sum to d = {d} (X = Bn(H) has unit row norms, tr X Xᵀ = d); "
                         f"got sums {np.atleast_1d(tr)[:3]}")
    return lam, d


def theorem3_second_moment(eigenvalues):
    """Exact ``E_W[(1/d) Σ_i a_i²]`` for ``a_i = ‖e_iᵀ W X‖²``, W Haar on O(d).

    ``E[(1/d) Σ_i a_i²] = (d² + 2 Σ_k λ_k²) / (d (d+2)) = 1 + 2 Σ_k (λ_k − 1)² / (d (d+2))``,
    where λ are the eigenvalues of ``X Xᵀ`` with ``Σ λ_k = d`` (unit-norm rows, X = Bn(H)).

    Parameters
    ----------
    eigenvalues : array_like, shape (..., d)
        Eigenvalues of ``X Xᵀ``, >= 0, each set summing to d.

    Returns
    -------
    numpy.ndarray or float
        Shape ``eigenvalues.shape[:-1]``.

    Raises
    ------
    ValueError
        If an eigenvalue is negative or a set does not sum to d.

    Notes
    -----
    [D]: by Haar invariance ``a_i = Σ_k λ_k O_ik²`` with ``O = W U`` Haar; the degree-4 moments
    ``E O_11⁴ = 3/(d(d+2))`` and ``E O_11² O_12² = 1/(d(d+2))`` (Weingarten calculus; computed
    exactly by :func:`depthcheck.theory.weingarten.expected_mean_square_row_norm`) give the formula.
    See ``docs/derivations/isometry_bn.md``.

    References
    ----------
    .. [1] Meterez et al. (2024), arXiv:2310.02012, proof of Theorem 3 (= Theorem A.4), the "variance/mean ratio" of the squared row
       norms [P words, D formula].
    .. [2] B. Collins, P. Śniady, Comm. Math. Phys. 264 (2006), arXiv:math-ph/0402073 (Weingarten
       calculus for O(d)).

    Examples
    --------
    Orthogonal X (all λ = 1): every a_i = 1, so the mean square is 1. Rank-one X (λ = (d, 0, ...)):
    a_i = d O_i1², so E a_i² = d² · 3/(d(d+2)) = 3d/(d+2) = 2 for d = 4.

    >>> from depthcheck.theory.bn_orthogonal import theorem3_second_moment
    >>> print(theorem3_second_moment([1.0, 1.0, 1.0, 1.0]), theorem3_second_moment([4.0, 0, 0, 0]))
    1.0 2.0
    """
    lam, d = _trace_d_eigenvalues(eigenvalues)
    return (d**2 + 2.0 * np.sum(lam**2, axis=-1)) / (d * (d + 2.0))


def theorem3_ratio_lower_bound(eigenvalues):
    """A lower bound on ``E_W[I(Bn(W X))] / I(X)`` derived from the exact second moment.

    With ``δ = E[(1/d)Σ a_i²] − 1 = 2Σ(λ_k−1)²/(d(d+2))`` (:func:`theorem3_second_moment`)::

        E_W[I(Bn(WX))] / I(X) >= 1 / (1 − δ / (2 (1+√d)²))² >= 1 + δ / (1+√d)²,

    with equality (ratio 1) for orthogonal X (λ ≡ 1, δ = 0). This function returns the first
    (sharper) form.

    Parameters
    ----------
    eigenvalues : array_like, shape (..., d)
        Eigenvalues of ``X Xᵀ``, >= 0, summing to d (square X with unit-norm rows, n = d).

    Returns
    -------
    numpy.ndarray or float
        Shape ``eigenvalues.shape[:-1]``, >= 1.

    Raises
    ------
    ValueError
        As :func:`theorem3_second_moment`.

    Notes
    -----
    [D], our derivation of the unconfirmed factor of Theorem 3, not the paper's printed constant:
    the identity of Lemma A.1 gives ``I(Bn(WX))/I(X) = 1/GM(a)``; then ``GM(a) <= AM(√a)²``,
    Jensen for ``x ↦ 1/x²`` and the bound ``√a <= 1 + (a−1)/2 − (a−1)²/(2(1+√d)²)`` on
    [0, d]. Full argument in ``docs/derivations/isometry_bn.md``.

    References
    ----------
    .. [1] Meterez et al. (2024), arXiv:2310.02012, Theorem 3 (= Theorem A.4) and Lemma A.1 [P words, U factor].

    Examples
    --------
    Orthogonal X gives exactly 1. Rank-one X in d = 4 has δ = 2 − 1 = 1 (see
    :func:`theorem3_second_moment`), so the bound is 1/(1 − 1/18)² = (18/17)²:

    >>> import numpy as np
    >>> from depthcheck.theory.bn_orthogonal import theorem3_ratio_lower_bound
    >>> print(theorem3_ratio_lower_bound([1.0, 1.0, 1.0, 1.0]))
    1.0
    >>> bool(np.isclose(theorem3_ratio_lower_bound([4.0, 0, 0, 0]), (18 / 17) ** 2))
    True
    """
    lam, d = _trace_d_eigenvalues(eigenvalues)
    delta = theorem3_second_moment(lam) - 1.0
    return 1.0 / (1.0 - delta / (2.0 * (1.0 + np.sqrt(d)) ** 2)) ** 2


def rownorm_jacobian_spectrum(x):
    """Eigenvalues of the Jacobian of ``f(x) = x / ‖x‖`` (one row of Bn), ascending.

    ``J_f(x) = (1/‖x‖) (I_n − x xᵀ/‖x‖²)`` has eigenvalue 0 (multiplicity 1, eigenvector x) and
    ``1/‖x‖`` (multiplicity n − 1). With the √n factor of standard BN every eigenvalue is
    multiplied by √n.

    Parameters
    ----------
    x : array_like, shape (n,)
        A non-zero row.

    Returns
    -------
    numpy.ndarray, shape (n,)

    Raises
    ------
    ValueError
        If ``x`` is zero, not 1-D, or not finite.

    References
    ----------
    .. [1] Meterez et al. (2024), arXiv:2310.02012, Lemma C.9 and Corollary C.10 ([P] words, [D] formulas).

    Examples
    --------
    x = (3, 4) has norm 5, so the spectrum is (0, 1/5):

    >>> from depthcheck.theory.bn_orthogonal import rownorm_jacobian_spectrum
    >>> print(rownorm_jacobian_spectrum([3.0, 4.0]))
    [0.  0.2]
    """
    x = as_float_array(x, "x", ndim=1)
    nrm = np.linalg.norm(x)
    if nrm == 0:
        raise ValueError("x must be non-zero (Bn is undefined on a zero row)")
    n = x.shape[0]
    return np.concatenate([[0.0], np.full(n - 1, 1.0 / nrm)])


def rownorm_jacobian_opnorm_bound(X):
    """Upper bound ``1/√λ_min(X Xᵀ)`` on ``‖J_Bn(W X)‖_op`` for any orthogonal W.

    The Jacobian of Bn at ``H = WX`` is block diagonal with one n×n block per row, so
    ``‖J‖_op = max_i 1/‖h_i‖`` and ``‖h_i‖² = e_iᵀ W X Xᵀ Wᵀ e_i >= λ_min(X Xᵀ)``.

    Parameters
    ----------
    X : array_like, shape (d, n)
        With ``X Xᵀ`` positive definite (full row rank, d <= n).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``X Xᵀ`` is not positive definite, or X is not a finite 2-D array.

    References
    ----------
    .. [1] Meterez et al. (2024), arXiv:2310.02012, Lemmas C.4 and C.8 ([P] words, [D] formula).

    Examples
    --------
    X = 2·I: every row of WX has norm 2, λ_min(X Xᵀ) = 4 and the bound 1/2 is attained.

    >>> import numpy as np
    >>> from depthcheck.theory.bn_orthogonal import rownorm_jacobian_opnorm_bound
    >>> print(rownorm_jacobian_opnorm_bound(2.0 * np.eye(3)))
    0.5
    """
    X = as_float_array(X, "X", ndim=2)
    lam_min = np.linalg.eigvalsh(X @ X.T)[0]
    if lam_min <= 0:
        raise ValueError("X Xᵀ must be positive definite (X of full row rank) for this bound")
    return 1.0 / np.sqrt(lam_min)


def lambda_min_lower_bound(phi, d):
    """``λ_min(G) >= exp(−1 − d φ(G))`` for a PSD d×d Gram matrix with ``tr G = d``.

    Parameters
    ----------
    phi : float or array_like
        Isometry gap(s) φ(G), finite and >= 0 (a rounding error down to −1e-12 is clipped to 0).
    d : int or array_like
        Size of G.

    Returns
    -------
    numpy.ndarray or float

    Raises
    ------
    ValueError
        If ``phi`` is negative or not finite, or a scalar ``d`` is not a positive integer.

    Notes
    -----
    Proof ([D]): the top d−1 eigenvalues have AM ``(d−λ_d)/(d−1)`` and GM <= AM; taking logs with
    ``log(1+x) <= x`` gives ``log λ_d >= −dφ − 1 + λ_d >= −dφ − 1``
    (``docs/derivations/isometry_bn.md``).

    References
    ----------
    .. [1] Meterez et al. (2024), arXiv:2310.02012, Lemma C.11, first inequality ([P] words; the printed constant is [U]).

    Examples
    --------
    An isometric G (φ = 0, G = I) has λ_min = 1, above the bound 1/e:

    >>> import numpy as np
    >>> from depthcheck.theory.bn_orthogonal import lambda_min_lower_bound
    >>> bool(lambda_min_lower_bound(0.0, 5) == np.exp(-1.0))
    True
    """
    d = check_positive_int(int(d), "d") if np.ndim(d) == 0 else d
    phi = np.asarray(phi, dtype=np.float64)
    # φ >= 0 mathematically; a computed φ of a near-isometric matrix can round to -1e-16.
    if np.any(phi < -1e-12) or not np.all(np.isfinite(phi)):
        raise ValueError("phi must be finite and >= 0")
    phi = np.maximum(phi, 0.0)
    return np.exp(-1.0 - np.asarray(d, dtype=np.float64) * phi)


def lemma_a1_log_factor(H):
    """``log(AM(a)/GM(a))`` of the squared row norms ``a_i = ‖h_i‖²`` of ``H``.

    For square non-degenerate H (n = d), ``I(Bn(H)) = I(H) · AM(a)/GM(a)`` exactly, since
    ``det(Bn(H)ᵀBn(H)) = det(HᵀH)/∏ a_i`` and ``tr(Bn(H)ᵀBn(H)) = d`` ([D]). AM >= GM makes the
    factor >= 1 (log >= 0), with equality iff all rows have the same norm: this is Lemma A.1,
    "BN does not decrease isometry", with its exact factor.

    Parameters
    ----------
    H : array_like, shape (..., d, n)
        No zero row. For n < d the identity does not hold (the factor is still defined).

    Returns
    -------
    numpy.ndarray or float
        Shape ``H.shape[:-2]``.

    Raises
    ------
    ValueError
        If ``H`` has a zero row or is not finite.

    Notes
    -----
    Computed in log space from max-abs-scaled rows, so any finite H works (no overflow of a_i).

    References
    ----------
    .. [1] Meterez et al. (2024), arXiv:2310.02012, Lemma A.1 (which they take from Joudaki et al. 2023, Corollary 3) [P/U];
       exact identity [D], ``docs/derivations/isometry_bn.md``.

    Examples
    --------
    H = diag(1, 2): a = (1, 4), AM/GM = (5/2)/2 = 5/4. Bn(H) = I has φ = 0, so the whole gap
    φ(H) = log(5/4) is removed by one normalisation, as the identity says.

    >>> import numpy as np
    >>> from depthcheck.theory.bn_orthogonal import lemma_a1_log_factor
    >>> from depthcheck.theory.isometry import isometry_gap, row_normalize
    >>> H = np.diag([1.0, 2.0])
    >>> bool(np.isclose(lemma_a1_log_factor(H), np.log(5 / 4)))
    True
    >>> bool(np.isclose(isometry_gap(H) - isometry_gap(row_normalize(H)), lemma_a1_log_factor(H)))
    True
    """
    H = as_float_array(H, "H", min_ndim=2)
    m = np.max(np.abs(H), axis=-1)
    if np.any(m == 0):
        raise ValueError("H has a zero row; the squared row norms must be positive")
    log_a = 2.0 * (np.log(m) + np.log(np.linalg.norm(H / m[..., None], axis=-1)))
    c = np.max(log_a, axis=-1, keepdims=True)
    log_am = np.log(np.mean(np.exp(log_a - c), axis=-1)) + c[..., 0]
    return log_am - np.mean(log_a, axis=-1)


def theorem3_second_moment_gaussian(eigenvalues):
    """``E_W[(1/d) Σ_i a_i²] = (d² + 2 Σ_k λ_k²) / d²`` for Gaussian W with N(0, 1/d) entries.

    The analogue of :func:`theorem3_second_moment` for i.i.d. Gaussian weights (the negative
    control of Theorem 3): with ``w ~ N(0, I/d)`` and ``M = X Xᵀ``, ``a = wᵀ M w`` has
    ``E a² = ((tr M)² + 2 tr M²)/d²``; it exceeds the Haar value by the factor ``(d+2)/d``.

    Parameters
    ----------
    eigenvalues : array_like, shape (..., d)
        Eigenvalues of ``X Xᵀ``, >= 0, summing to d.

    Returns
    -------
    numpy.ndarray or float

    Raises
    ------
    ValueError
        As :func:`theorem3_second_moment`.

    References
    ----------
    .. [1] Meterez et al. (2024), arXiv:2310.02012, Theorem 3 (the orthogonal case this contrasts with); the Gaussian quadratic-form
       moment ``E (wᵀMw)² = (tr M)² + 2 tr M²`` (for N(0, I) entries) is standard [D].

    Examples
    --------
    Orthogonal X, d = 4: Haar gives 1, Gaussian gives (16 + 8)/16 = 3/2 = (d+2)/d.

    >>> from depthcheck.theory.bn_orthogonal import theorem3_second_moment_gaussian
    >>> print(theorem3_second_moment_gaussian([1.0, 1.0, 1.0, 1.0]))
    1.5
    """
    lam, d = _trace_d_eigenvalues(eigenvalues)
    return (d**2 + 2.0 * np.sum(lam**2, axis=-1)) / d**2


def small_gap_contraction(d):
    """One-step contraction of the isometry gap near isometry: ``E[φ(X_{l+1}) | X_l] / φ(X_l) →
    1 − 2/(d+2)`` as ``φ(X_l) → 0``.

    [D], derived in this repository from the paper's ingredients (Lemma A.1's identity and the
    Weingarten second moment of Theorem 3's proof). For ``X_{l+1} = Bn(W X_l)``, W Haar, n = d
    and ``X = X_l`` with unit-norm rows (so ``Σ λ_k = d`` for the eigenvalues λ of ``X Xᵀ``):

    1. W is orthogonal, so ``(WX)ᵀ(WX) = XᵀX`` and ``φ(WX) = φ(X)``; Lemma A.1's identity
       (:func:`lemma_a1_log_factor`) gives ``φ(X_{l+1}) = φ(X) − log(AM(a)/GM(a))`` with
       ``a_i = ‖e_iᵀ W X‖²``.
    2. ``Σ a_i = tr(X Xᵀ) = d``, so ``AM(a) = 1``; writing ``a_i = 1 + x_i``,
       ``log(AM/GM) = −(1/d) Σ log(1 + x_i) = (1/(2d)) Σ x_i² + O(|x|³)``.
    3. Weingarten second moment (:func:`theorem3_second_moment`):
       ``E[(1/d) Σ x_i²] = E[(1/d) Σ a_i²] − 1 = 2 Σ (λ_k − 1)² / (d (d+2))``.
    4. ``φ(X) = −(1/d) Σ log λ_k = (1/(2d)) Σ (λ_k − 1)² + O(|λ − 1|³)`` (mean λ is 1).

    Hence ``E[φ(X_{l+1}) | X] = φ(X) − Σ(λ_k−1)²/(d(d+2)) + O(φ^{3/2})
    = (1 − 2/(d+2)) φ(X) + O(φ^{3/2})``.

    Parameters
    ----------
    d : int or array_like
        Width (= batch size n), >= 1.

    Returns
    -------
    numpy.ndarray or float
        ``1 − 2/(d+2) = d/(d+2)``.

    Raises
    ------
    ValueError
        If ``d < 1``.

    Notes
    -----
    Assumes n = d, Haar weights, linear activation, the paper's row-normalising Bn, and a small
    gap; the correction is relative ``O(φ^{1/2})``.

    References
    ----------
    .. [1] Meterez et al. (2024), arXiv:2310.02012, Lemma A.1 and the proof of Theorem 3
       (= Theorem A.4) [D].
    .. [2] B. Collins, P. Śniady, Comm. Math. Phys. 264 (2006), arXiv:math-ph/0402073.

    Examples
    --------
    For d = 2 one layer halves the gap on average; for d = 32 it keeps 16/17 of it:

    >>> from depthcheck.theory.bn_orthogonal import small_gap_contraction
    >>> print(small_gap_contraction(2), round(float(small_gap_contraction(32)), 6))
    0.5 0.941176
    """
    d = np.asarray(d, dtype=np.float64)
    if np.any(d < 1):
        raise ValueError("d must be >= 1")
    return 1.0 - 2.0 / (d + 2.0)


def small_gap_decay_rate(d):
    """Asymptotic per-layer decay rate of E φ(X_l) as φ → 0: ``−log(1 − 2/(d+2))``.

    [D], our derivation from the pieces of Theorem 3 and Lemma A.1: near isometry,
    ``E[φ(X_{l+1}) | X_l] = (1 − 2/(d+2)) φ(X_l) + O(φ^{3/2})`` (Lemma A.1's identity
    ``φ(Bn(WX)) = φ(X) − log AM(a)/GM(a)`` expanded to second order, with the Weingarten
    second moment ``E[(1/d)Σ a_i²] − 1 = 2Σ(λ_k−1)²/(d(d+2))`` and
    ``φ(X) ≈ Σ(λ_k−1)²/(2d)``; written out step by step in :func:`small_gap_contraction`).
    Taking expectations, ``E φ(X_{l+1}) = (1 − 2/(d+2)) E φ(X_l)`` up to ``O(E φ^{3/2})``, so
    the mean gap decays at the per-layer rate ``−log(1 − 2/(d+2)) ≈ 2/d``: a decay length
    ≈ d/2 layers, against Theorem 1's ``k = C d² (1 + d φ0)``. Assumes n = d and Haar weights.

    Parameters
    ----------
    d : int or array_like
        Width, >= 1.

    Returns
    -------
    numpy.ndarray or float

    Raises
    ------
    ValueError
        If ``d < 1``.

    References
    ----------
    .. [1] Meterez et al. (2024), arXiv:2310.02012, Theorem 3 and Lemma A.1 (the ingredients) [D].

    Examples
    --------
    For d = 2 one layer halves the gap on average (1 − 2/4 = 1/2): the rate is log 2.

    >>> import numpy as np
    >>> from depthcheck.theory.bn_orthogonal import small_gap_decay_rate
    >>> bool(np.isclose(small_gap_decay_rate(2), np.log(2)))
    True
    """
    d = np.asarray(d, dtype=np.float64)
    if np.any(d < 1):
        raise ValueError("d must be >= 1")
    return -np.log1p(-2.0 / (d + 2.0))   # = −log(small_gap_contraction(d)), accurately
