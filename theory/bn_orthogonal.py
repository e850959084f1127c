"""Predictions and bounds of seed 001: BN MLPs with Haar-orthogonal weights.

Source: Meterez, Joudaki, Orabona, Immer, Rätsch, Daneshmand, *Towards Training Without Depth
Limits: Batch Normalization Without Gradient Explosion* (ICLR 2024, arXiv 2310.02012), text in
``shared/seeds/001_d5049fc1e527e58d.txt``; formulas restored in
``shared/research/bn_orthogonal.md`` (section numbers below refer to that file). Confidence tags
from the research file are repeated here: [P] paper, [S] secondary, [D] derived and checked,
[U] unconfirmed reconstruction.

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
    "small_gap_decay_rate",
    "AUTHORS_PLOT_C",
]

#: The constant the authors used to draw the dashed "theory" curve of Fig. 1 ([P, code],
#: research §3.2). The paper only says "an absolute constant": it is not a proven value.
AUTHORS_PLOT_C = 0.015


def theorem1_k(d, phi0, C=AUTHORS_PLOT_C):
    """Decay length of Theorem 1: ``k = C d² (1 + d φ(X_0))``.

    Source: seed 001, Theorem 1 ([S] formula, [P] words; research §3.1).
    Assumptions: n = d, non-degenerate input (φ(X_0) < ∞), Haar weights, linear activation,
    the paper's row-normalising Bn. ``C`` is an unspecified absolute constant.
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
    """Theorem 1's bound on the mean isometry gap: ``E φ(X_l) <= φ(X_0) exp(-l / k)``.

    Source: seed 001, Theorem 1 (research §3.1); ``k`` from :func:`theorem1_k`. The paper writes
    the bound for ``X_{l+1}`` with ``e^{-l/k}``; we use the (slightly weaker, hence safe)
    ``E φ(X_l) <= φ0 e^{-(l-1)/k}`` for l >= 1 and φ0 at l = 0, which is the same statement
    re-indexed. Returns an array shaped like ``layers``.
    """
    layers = np.asarray(layers, dtype=np.float64)
    k = theorem1_k(d, phi0, C)
    return phi0 * np.exp(-np.maximum(layers - 1.0, 0.0) / k)


def theorem1_smallest_C(layers, mean_phi, d, phi0):
    """Smallest C for which ``mean_phi[l] <= φ0 exp(-(l-1)/(C d²(1+dφ0)))`` at every layer l >= 1.

    Solving the bound for C at each layer gives ``C >= (l-1) / (d²(1+dφ0) log(φ0/φ_l))`` when
    ``φ_l < φ0``; a layer with ``φ_l >= φ0`` (and l > 1) admits no finite C (returns inf).
    Used to report "the smallest C consistent with the data" (issue 4, claim 1).
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
    """Exact ``E_W[(1/d) Σ_i a_i²]`` for ``a_i = ||e_iᵀ W X||²``, W Haar on O(d).

    ``E[(1/d) Σ_i a_i²] = (d² + 2 Σ_k λ_k²) / (d (d+2)) = 1 + 2 Σ_k (λ_k − 1)² / (d (d+2))``
    where λ are the eigenvalues of ``X Xᵀ`` with ``Σ λ_k = d`` (unit-norm rows).

    Source: seed 001, proof of Theorem 3 ([D], research §4.1): ``a_i = Σ_k λ_k O_ik²`` with
    ``O = W U`` Haar, and the degree-4 moments ``E O_11⁴ = 3/(d(d+2))``,
    ``E O_11² O_12² = 1/(d(d+2))`` (Collins–Śniady 2006; Collins–Matsumoto 2009 §7).
    ``eigenvalues`` has shape ``(..., d)``.
    """
    lam, d = _trace_d_eigenvalues(eigenvalues)
    return (d**2 + 2.0 * np.sum(lam**2, axis=-1)) / (d * (d + 2.0))


def theorem3_ratio_lower_bound(eigenvalues):
    """A lower bound on ``E_W[I(Bn(W X))] / I(X)`` derived from the exact second moment.

    For square X with unit-norm rows (n = d) the identity of Lemma A.1 [D] gives
    ``I(Bn(WX)) / I(X) = AM(a)/GM(a) = 1/GM(a)`` (``Σ a_i = d``). With ``b_i = √a_i``,
    ``GM(a) = GM(b)² <= AM(b)²`` and Jensen (``x ↦ 1/x²`` convex) give
    ``E[1/GM(a)] >= 1/(E AM(b))²``. Since ``a_i <= λ_max <= d``,
    ``√a <= 1 + (a−1)/2 − (a−1)²/(2(1+√d)²)``, hence
    ``E AM(b) <= 1 − δ/(2(1+√d)²)`` with ``δ = E[(1/d)Σ a_i²] − 1 = 2Σ(λ_k−1)²/(d(d+2))``.
    Therefore::

        E_W[I(Bn(WX))] / I(X) >= 1 / (1 − δ / (2 (1+√d)²))² >= 1 + δ / (1+√d)²,

    with equality (ratio 1) for orthogonal X (λ ≡ 1, δ = 0). This is our derivation of the
    [U] factor of Theorem 3 (research §4.1), not the paper's printed constant. Returns the
    first (sharper) form.
    """
    lam, d = _trace_d_eigenvalues(eigenvalues)
    delta = theorem3_second_moment(lam) - 1.0
    return 1.0 / (1.0 - delta / (2.0 * (1.0 + np.sqrt(d)) ** 2)) ** 2


def rownorm_jacobian_spectrum(x):
    """Eigenvalues of the Jacobian of ``f(x) = x / ||x||`` (one row of Bn), ascending.

    ``J_f(x) = (1/||x||) (I_n − x xᵀ/||x||²)`` has eigenvalue 0 (multiplicity 1, eigenvector x)
    and ``1/||x||`` (multiplicity n − 1). Source: seed 001, Lemma C.9 and Corollary C.10
    ([P] words, [D] formulas; research §5.7). With the √n factor of standard BN every eigenvalue
    is multiplied by √n.
    """
    x = as_float_array(x, "x", ndim=1)
    nrm = np.linalg.norm(x)
    if nrm == 0:
        raise ValueError("x must be non-zero (Bn is undefined on a zero row)")
    n = x.shape[0]
    return np.concatenate([[0.0], np.full(n - 1, 1.0 / nrm)])


def rownorm_jacobian_opnorm_bound(X):
    """Upper bound ``1/√λ_min(X Xᵀ)`` on ``||J_Bn(W X)||_op`` for any orthogonal W.

    The Jacobian of Bn at ``H = WX`` is block diagonal with one n×n block per row, so
    ``||J||_op = max_i 1/||h_i||`` and ``||h_i||² = e_iᵀ W X Xᵀ Wᵀ e_i >= λ_min(X Xᵀ)``.
    Source: seed 001, Lemmas C.4 and C.8 ([P] words, [D] formula; research §5.5–5.6).
    Assumes X (d×n) has ``X Xᵀ`` positive definite (d <= n); raises otherwise.
    """
    X = as_float_array(X, "X", ndim=2)
    lam_min = np.linalg.eigvalsh(X @ X.T)[0]
    if lam_min <= 0:
        raise ValueError("X Xᵀ must be positive definite (X of full row rank) for this bound")
    return 1.0 / np.sqrt(lam_min)


def lambda_min_lower_bound(phi, d):
    """``λ_min(G) >= exp(−1 − d φ(G))`` for a PSD d×d Gram matrix with ``tr G = d``.

    Proof ([D], research §5.8): the top d−1 eigenvalues have AM ``(d−λ_d)/(d−1)`` and GM <= AM;
    taking logs with ``log(1+x) <= x`` gives ``log λ_d >= −dφ − 1 + λ_d >= −dφ − 1``.
    Source: seed 001, Lemma C.11 (first inequality; the printed constant is [U]).
    """
    d = check_positive_int(int(d), "d") if np.ndim(d) == 0 else d
    phi = np.asarray(phi, dtype=np.float64)
    # φ >= 0 mathematically; a computed φ of a near-isometric matrix can round to -1e-16.
    if np.any(phi < -1e-12) or not np.all(np.isfinite(phi)):
        raise ValueError("phi must be finite and >= 0")
    phi = np.maximum(phi, 0.0)
    return np.exp(-1.0 - np.asarray(d, dtype=np.float64) * phi)


def lemma_a1_log_factor(H):
    """``log(AM(a)/GM(a))`` of the squared row norms ``a_i = ||h_i||²`` of ``H`` ``(..., d, n)``.

    For square non-degenerate H (n = d), ``I(Bn(H)) = I(H) · AM(a)/GM(a)`` exactly, since
    ``det(Bn(H)ᵀBn(H)) = det(HᵀH)/∏ a_i`` and ``tr(Bn(H)ᵀBn(H)) = d`` ([D], research §2.3; seed
    001 Lemma A.1 = Joudaki et al. 2023a Cor. 3). AM >= GM makes the factor >= 1 (log >= 0), with
    equality iff all rows have the same norm. Computed in log space from max-abs-scaled rows, so
    any finite H works (no overflow of ``a_i``). Raises ``ValueError`` for a zero row. For n < d
    the identity does not hold (the factor is still defined).
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
    ``eigenvalues`` of ``X Xᵀ`` with ``Σ λ_k = d``, shape ``(..., d)``.
    """
    lam, d = _trace_d_eigenvalues(eigenvalues)
    return (d**2 + 2.0 * np.sum(lam**2, axis=-1)) / d**2


def small_gap_decay_rate(d):
    """Asymptotic per-layer decay rate of E φ(X_l) as φ → 0: ``−log(1 − 2/(d+2))``.

    Derivation ([D], ours; from the pieces of Theorem 3 and Lemma A.1, research §2.3, §4.1):
    for X with unit-norm rows and eigenvalues λ_k = 1 + x_k of X Xᵀ (Σ x_k = 0),
    ``φ(X) = −(1/d) Σ log(1 + x_k) = (1/(2d)) Σ x_k² + O(x³)``. One layer removes exactly
    ``φ(X) − φ(Bn(WX)) = log(AM(a)/GM(a)) = (1/(2d)) Σ (a_i − 1)² + O((a−1)³)`` (AM(a) = 1), and
    by :func:`theorem3_second_moment` ``E (1/d) Σ (a_i − 1)² = 2 Σ x_k²/(d(d+2)) = 4φ/(d+2)``.
    Hence ``E[φ(X_{l+1}) | X_l] = (1 − 2/(d+2)) φ(X_l) + O(φ^{3/2})`` and the rate is
    ``−log(1 − 2/(d+2)) ≈ 2/d``: a decay length ≈ d/2 layers, against Theorem 1's
    ``k = C d² (1 + d φ0)``. Assumes n = d and Haar weights.
    """
    d = np.asarray(d, dtype=np.float64)
    if np.any(d < 1):
        raise ValueError("d must be >= 1")
    return -np.log1p(-2.0 / (d + 2.0))
