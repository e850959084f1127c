"""Isometry I(H), isometry gap φ(H) and the paper's row normalisation Bn.

The objects of A. Meterez, A. Joudaki, F. Orabona, A. Immer, G. Rätsch, H. Daneshmand, "Towards
Training Without Depth Limits: Batch Normalization Without Gradient Explosion", ICLR 2024,
arXiv:2310.02012 (numbering of arXiv v1): eq. (4), the normalisation Bn, and eq. (5), the
isometry gap. The normalisation 1/n inside I is that of Joudaki, Daneshmand & Bach, NeurIPS 2023,
arXiv:2305.18399, whose isometry of a PSD matrix M is det(M)^{1/n} / (tr(M)/n).

Shapes follow the paper: H is ``(d, n)`` (columns are the n samples) or a stack ``(..., d, n)``.

Confidence tags: [P] stated in the paper; [D] derived in this repository from the paper's
proof sketch and checked numerically (the paper's printed form is not confirmed). Derivations:
``docs/derivations/isometry_bn.md``. BibTeX: ``docs/references.bib`` (keys ``meterez2024bn``,
``joudaki2023impact``, ``daneshmand2020rank``).
"""
from __future__ import annotations

import numpy as np

from ._checks import as_float_array

__all__ = ["isometry_gap", "isometry", "log_isometry", "row_normalize"]

# A Cholesky pivot L_kk² below this many ulps (times n) of the scaled diagonal G_kk is noise:
# L_kk²/G_kk is sin² of the angle between column k and the span of the earlier columns, and the
# computed Gram carries relative errors ~ n·eps, so smaller values cannot be told from 0.
_PIVOT_TOL_ULPS = 10.0


def _pow2_scale(H: np.ndarray, axes) -> np.ndarray:
    """Divide H by a power of two near its max-abs over ``axes`` (exact, avoids over/underflow)."""
    m = np.max(np.abs(H), axis=axes, keepdims=True)
    _, e = np.frexp(np.where(m > 0, m, 1.0))
    return np.ldexp(H, -e)


def _cholesky_logdet(G: np.ndarray, tol: float) -> np.ndarray:
    """log det of each n×n matrix in the flat stack G (B, n, n); -inf where not numerically PD."""
    out = np.empty(G.shape[0])
    if G.shape[0] == 0:
        return out
    try:
        L = np.linalg.cholesky(G)
    except np.linalg.LinAlgError:
        if G.shape[0] == 1:
            out[0] = -np.inf
            return out
        half = G.shape[0] // 2                      # bisect to isolate the failing elements
        out[:half] = _cholesky_logdet(G[:half], tol)
        out[half:] = _cholesky_logdet(G[half:], tol)
        return out
    piv = np.diagonal(L, axis1=-2, axis2=-1) ** 2
    ok = np.all(piv > tol * np.diagonal(G, axis1=-2, axis2=-1), axis=-1)
    with np.errstate(divide="ignore"):
        logdet = np.sum(np.log(piv), axis=-1)
    out[:] = np.where(ok, logdet, -np.inf)
    return out


def isometry_gap(H) -> np.ndarray:
    """Isometry gap φ(H) = -log( det(G)^{1/n} / (tr(G)/n) ),  G = HᵀH.

    φ = log AM(λ(G)) - log GM(λ(G)) >= 0 (AM-GM), with φ = 0 iff G is a multiple of I_n
    (orthogonal columns of equal norm) and φ = +inf iff the columns are linearly dependent. φ is
    invariant to H -> cH (c != 0) and to H -> W H for orthogonal W (det and trace of G are unchanged).

    Parameters
    ----------
    H : array_like, shape (..., d, n)
        One matrix or a stack; columns are samples. Finite real numbers.

    Returns
    -------
    numpy.ndarray or numpy.float64
        float64 of shape ``H.shape[:-2]`` (a numpy scalar for a single ``(d, n)`` H), in [0, inf].

    Raises
    ------
    ValueError
        If ``H`` has fewer than 2 dimensions, is empty, or holds NaN/inf (the message names ``H``).

    Notes
    -----
    Computation: H is rescaled by an exact power of two, G is divided by tr(G)/n (so tr = n and
    nothing over/underflows) and log det comes from a batched Cholesky factor, never from
    eigenvalues: φ = -(2/n) Σ_k log L_kk of the scaled G.

    Rank deficiency (per batch element, no exception and no warning): φ = +inf when n > d, when
    H is zero, when Cholesky fails, or when a pivot is numerically zero (L_kk² <= 10·n·eps·G_kk,
    i.e. a column lies within ~sqrt(10 n eps) in angle of the span of the previous ones).
    Because G squares the condition number, finite values are reliable for cond(H) ≲ 1e7.

    References
    ----------
    .. [1] Meterez et al. (2024), arXiv:2310.02012, eq. (5) and the remarks after it [P]; the 1/n
       normalisation as in Joudaki et al. (2023), arXiv:2305.18399.

    Examples
    --------
    Orthogonal columns of norms 1 and 2: G = diag(1, 4), AM = 5/2, GM = 2, so φ = log(5/4).

    >>> import numpy as np
    >>> from depthcheck.theory.isometry import isometry_gap
    >>> bool(np.isclose(isometry_gap(np.diag([1.0, 2.0])), np.log(5 / 4)))
    True

    Equal-norm orthogonal columns give 0, collinear columns +inf, and a stack gives one value each:

    >>> print(isometry_gap(np.stack([np.eye(3), np.ones((3, 3))])))
    [ 0. inf]
    """
    H = as_float_array(H, "H", min_ndim=2).astype(np.float64, copy=False)
    d, n = H.shape[-2:]
    batch = H.shape[:-2]
    if n > d:                                         # n columns in R^d: always dependent
        return np.full(batch, np.inf)[()]
    Hs = _pow2_scale(H.reshape((-1, d, n)), axes=(-2, -1))
    G = np.matmul(Hs.swapaxes(-1, -2), Hs)
    mean_sq = np.trace(G, axis1=-2, axis2=-1) / n
    nonzero = mean_sq > 0
    G = G / np.where(nonzero, mean_sq, 1.0)[:, None, None]
    logdet = np.full(G.shape[0], -np.inf)
    logdet[nonzero] = _cholesky_logdet(G[nonzero], _PIVOT_TOL_ULPS * n * np.finfo(np.float64).eps)
    # AM-GM guarantees φ >= 0; clip the last-ulp rounding below zero (φ ~ -1e-16).
    phi = np.maximum(-logdet / n, 0.0)
    return phi.reshape(batch)[()]


def log_isometry(H) -> np.ndarray:
    """log I(H) = -φ(H), the log of the isometry; -inf for rank-deficient batch elements.

    Parameters
    ----------
    H : array_like, shape (..., d, n)
        As for :func:`isometry_gap`.

    Returns
    -------
    numpy.ndarray or numpy.float64
        float64 of shape ``H.shape[:-2]``, in [-inf, 0].

    Raises
    ------
    ValueError
        As :func:`isometry_gap` (names ``H``).

    References
    ----------
    .. [1] Meterez et al. (2024), arXiv:2310.02012, eq. (5).

    Examples
    --------
    For H = diag(1, 2), I = GM/AM of (1, 4) = 2 / (5/2) = 4/5:

    >>> import numpy as np
    >>> from depthcheck.theory.isometry import log_isometry
    >>> bool(np.isclose(log_isometry(np.diag([1.0, 2.0])), np.log(0.8)))
    True
    """
    return -isometry_gap(H)


def isometry(H) -> np.ndarray:
    """Isometry I(H) = det(HᵀH)^{1/n} / (tr(HᵀH)/n) = GM(λ)/AM(λ), in [0, 1].

    I = exp(-φ): 1 iff HᵀH ∝ I_n, 0 for rank-deficient H (see :func:`isometry_gap` for the
    numerical rank rule).

    Parameters
    ----------
    H : array_like, shape (..., d, n)
        As for :func:`isometry_gap`.

    Returns
    -------
    numpy.ndarray or numpy.float64
        float64 of shape ``H.shape[:-2]``.

    Raises
    ------
    ValueError
        As :func:`isometry_gap` (names ``H``).

    References
    ----------
    .. [1] Meterez et al. (2024), arXiv:2310.02012, eq. (5) [P]: "a scale-invariant notion of volume
       and isometry".
    .. [2] Joudaki, Daneshmand & Bach (2023), arXiv:2305.18399: I(M) = det(M)^{1/n} / (tr(M)/n).

    Examples
    --------
    H = diag(1, 2): the eigenvalues of HᵀH are 1 and 4, GM = 2, AM = 5/2, so I = 0.8.

    >>> import numpy as np
    >>> from depthcheck.theory.isometry import isometry
    >>> print(round(float(isometry(np.diag([1.0, 2.0]))), 12))
    0.8
    >>> print(isometry(np.ones((2, 2))))            # two equal columns: no volume
    0.0
    """
    return np.exp(-isometry_gap(H))


def row_normalize(H) -> np.ndarray:
    """The paper's batch normalisation Bn(H) = diag(H Hᵀ)^{-1/2} H.

    Each row (feature) is divided by its Euclidean norm over the batch: no centring and no 1/n
    factor, so every row of Bn(H) has unit norm and tr(Bn(H) Bn(H)ᵀ) = d. Daneshmand et al.'s BN
    (arXiv:2003.01652, eq. (2)) is sqrt(n)·Bn(H) (rows of norm sqrt(n)).

    Parameters
    ----------
    H : array_like, shape (..., d, n)
        Finite real numbers; float32 input stays float32.

    Returns
    -------
    numpy.ndarray
        Same shape as ``H``.

    Raises
    ------
    ValueError
        If ``H`` has a zero row (Bn is undefined there), is not at least 2-D, or holds NaN/inf; the
        message names ``H``.

    Notes
    -----
    Lemma A.1 of Meterez et al. (which they take from Joudaki et al.): for non-degenerate square H,
    I(Bn(H)) >= I(H). Exactly, I(Bn(H)) = I(H)·AM(a)/GM(a) with a_i = ‖h_i‖² ([D]; see
    :func:`depthcheck.theory.bn_orthogonal.lemma_a1_log_factor` and
    ``docs/derivations/isometry_bn.md``). Rows are rescaled by their max-abs entry first, so any
    finite H works without overflow.

    References
    ----------
    .. [1] Meterez et al. (2024), arXiv:2310.02012, eq. (4) [P] and Lemma A.1.

    Examples
    --------
    The row (3, 4) has norm 5; the row (0, 2) has norm 2:

    >>> import numpy as np
    >>> from depthcheck.theory.isometry import row_normalize
    >>> print(row_normalize(np.array([[3.0, 4.0], [0.0, 2.0]])))
    [[0.6 0.8]
     [0.  1. ]]
    """
    H = as_float_array(H, "H", min_ndim=2)
    m = np.max(np.abs(H), axis=-1, keepdims=True)
    if np.any(m == 0):
        bad = np.argwhere(m[..., 0] == 0)[0]
        raise ValueError(f"H has a zero row at index {tuple(int(i) for i in bad)}; "
                         f"Bn(H) = diag(H Hᵀ)^(-1/2) H is undefined")
    Hm = H / m
    return Hm / np.linalg.norm(Hm, axis=-1, keepdims=True)
