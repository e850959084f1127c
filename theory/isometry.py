"""Isometry I(H), isometry gap φ(H) and the paper's row normalisation Bn.

Source: seed 001 (Meterez, Joudaki, Orabona, Immer, Rätsch, Daneshmand 2023,
arXiv:2310.02012), eq. (4) and eq. (5); research notes shared/research/bn_orthogonal.md §1.3, §2.

Shapes follow the paper: H is ``(d, n)`` (columns are the n samples) or a stack ``(..., d, n)``.
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
    """Isometry gap φ(H) = -log( det(G)^{1/n} / (tr(G)/n) ),  G = HᵀH  (seed 001, eq. 5).

    φ = log AM(λ(G)) - log GM(λ(G)) >= 0 (AM-GM), with φ = 0 iff G is a multiple of I_n
    (orthogonal columns of equal norm); φ is invariant to H -> cH (c != 0) and H -> W H for
    orthogonal W (bn_orthogonal.md §2.2).

    Computation: H is rescaled by an exact power of two, G is divided by tr(G)/n (so tr = n and
    nothing over/underflows) and log det comes from a batched Cholesky factor, never from
    eigenvalues: φ = -(2/n) Σ_k log L_kk of the scaled G.

    Rank deficiency (per batch element, no exception and no warning): φ = +inf when n > d, when
    H is zero, when Cholesky fails, or when a pivot is numerically zero (L_kk² <= 10·n·eps·G_kk,
    i.e. a column lies within ~sqrt(10 n eps) in angle of the span of the previous ones).
    Because G squares the condition number, finite values are reliable for cond(H) ≲ 1e7.

    Returns float64 of shape ``H.shape[:-2]`` (a numpy scalar for a single ``(d, n)`` H).
    NaN/inf entries raise ``ValueError`` naming ``H``.
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
    """log I(H) = -φ(H) (seed 001, eq. 5); -inf for rank-deficient batch elements."""
    return -isometry_gap(H)


def isometry(H) -> np.ndarray:
    """Isometry I(H) = det(HᵀH)^{1/n} / (tr(HᵀH)/n) = GM(λ)/AM(λ) in [0, 1]  (seed 001, eq. 5).

    The normalisation is Joudaki et al. 2023a's I(M) = det(M)^{1/n}/(tr(M)/n) for M = HᵀH
    (bn_orthogonal.md §2.1). I = exp(-φ): 1 iff HᵀH ∝ I_n, 0 for rank-deficient H (see
    ``isometry_gap`` for the numerical rank rule). float64, shape ``H.shape[:-2]``.
    """
    return np.exp(-isometry_gap(H))


def row_normalize(H) -> np.ndarray:
    """The paper's batch normalisation Bn(H) = diag(H Hᵀ)^{-1/2} H  (seed 001, eq. 4).

    Each row (feature) is divided by its Euclidean norm over the batch: no centring and no 1/n
    factor, so every row of Bn(H) has unit norm and tr(Bn(H) Bn(H)ᵀ) = d. Lemma A.1
    (= Joudaki et al. 2023a, Cor. 3): for non-degenerate square H, I(Bn(H)) >= I(H); exactly
    I(Bn(H)) = I(H)·AM(a)/GM(a) with a_i = ‖h_i‖² (bn_orthogonal.md §2.3, [D]).
    Seed 002's BN is sqrt(n)·Bn(H) (rows of norm sqrt(n)).

    Rows are rescaled by their max-abs entry first, so any finite H works without overflow.
    A zero row raises ``ValueError`` naming ``H``. float32 input stays float32.
    """
    H = as_float_array(H, "H", min_ndim=2)
    m = np.max(np.abs(H), axis=-1, keepdims=True)
    if np.any(m == 0):
        bad = np.argwhere(m[..., 0] == 0)[0]
        raise ValueError(f"H has a zero row at index {tuple(int(i) for i in bad)}; "
                         f"Bn(H) = diag(H Hᵀ)^(-1/2) H is undefined")
    Hm = H / m
    return Hm / np.linalg.norm(Hm, axis=-1, keepdims=True)
