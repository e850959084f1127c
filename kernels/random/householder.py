"""Blocked (compact-WY) application of a fresh Haar matrix: Stewart's construction at BLAS-3 speed.

``depthcheck.kernels.random.haar.apply_householder_haar`` applies W = P_1 ⋯ P_{d-1} D (Stewart 1980; the sign
matrix D and the law are derived in ``depthcheck.kernels.random.haar.apply_haar``) one reflection at a time: d-1
rank-one updates, each streaming the whole batch H through memory (BLAS-2 speed). Here the
reflections are grouped into blocks of ``block`` consecutive ones and each block is applied as
one compact-WY transformation (Schreiber & Van Loan 1989, "A storage-efficient WY
representation for products of Householder transformations", SIAM J. Sci. Stat. Comput. 10(1);
LAPACK ``dlarft``/``dlarfb``)::

    P_j P_{j+1} ⋯ P_{j+b-1} = I − U T Uᵀ,     P_i = I − τ_i u_i u_iᵀ,

U = [u_j, ..., u_{j+b-1}] (u_i = 0 above row i, unit vectors here so τ_i = 2; τ_i = 0 for the
identity "reflection" of a zero vector) and T upper triangular from the forward recurrence

    T_ii = τ_i,     T[:i, i] = −τ_i · T[:i, :i] · (U[:, :i]ᵀ u_i).

So W·H costs three matrix products per block (Uᵀ Y, T·, U·) on the trailing rows j..d-1:
~2 d² n flops in all (plus O(d·b·n) for the T products), the same count as the reflection
loop, but at matrix-multiply speed. Wᵀ·H = D (I − U Tᵀ Uᵀ) ⋯ applies the blocks in the other
order with Tᵀ (used by backward passes: Wᵀ = W⁻¹).

The input is the packed Gaussian vectors of ``depthcheck.kernels.random.haar.haar_householder_vectors`` (column k
holds x_k ~ N(0, I_{d-k}) in rows k..d-1), so for the same vectors the result equals
``apply_householder_haar`` to rounding (tests check 1e-12), and ``apply_haar_blocked(H, rng)``
consumes exactly the random numbers ``apply_haar(H, rng)`` consumes: the same W, hence the same
law as Gaussian QR with the sign fix (Mezzadri 2007), i.e. Haar on O(d).
"""
from __future__ import annotations

import numpy as np

from depthcheck.theory._checks import as_float_array, check_generator, check_positive_int
from depthcheck.kernels.random.haar import haar_householder_vectors, householder_operands

__all__ = ["DEFAULT_BLOCK", "householder_unit_vectors", "wy_block_factor",
           "apply_householder_blocked", "apply_haar_blocked"]

#: block size b: large enough for BLAS-3 efficiency, small enough that the extra O(d·b·n) of
#: the T products and the wasted upper triangle of each block stay below ~20% at d = 100.
DEFAULT_BLOCK = 16


def householder_unit_vectors(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit reflector vectors, their τ and the sign matrix D of the packed Gaussian ``vectors``.

    For column k (0-based, k < d-1) with x = vectors[k:, k], s = sign(x_0) (sign 0 = +1):
    v = x + s‖x‖e_k, u = v/‖v‖ (‖v‖² = 2‖x‖(‖x‖ + |x_0|), no cancellation), τ = 2; a zero x
    gives u = 0, τ = 0 (the identity, as in ``apply_householder_haar``). Column d-1 is not a
    reflection (u = 0, τ = 0). D = diag(−s_0, ..., −s_{d-2}, +s_{d-1}) (``depthcheck.kernels.random.haar``).

    Returns ``(U, tau, D)`` of shapes ``(..., d, d)`` (lower triangular), ``(..., d)``, ``(..., d)``.
    Only the lower triangle of ``vectors`` is read.
    """
    X = np.tril(vectors)
    x0 = np.diagonal(X, axis1=-2, axis2=-1)
    s = np.where(x0 >= 0, 1.0, -1.0).astype(X.dtype)
    nrm = np.sqrt(np.einsum("...ij,...ij->...j", X, X))
    vnorm = np.sqrt(2.0 * nrm * (nrm + np.abs(x0)))
    pos = vnorm > 0
    pos[..., -1] = False                                       # the last stage: no reflection
    d = X.shape[-1]
    idx = np.arange(d)
    X[..., idx, idx] = x0 + s * nrm                            # v_k = x_k + s_k‖x_k‖e_k
    X *= (np.where(pos, 1.0, 0.0) / np.where(pos, vnorm, 1.0))[..., None, :]
    tau = np.where(pos, 2.0, 0.0).astype(X.dtype)
    D = -s
    D[..., -1] = s[..., -1]
    return X, tau, D


def wy_block_factor(U: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """T ``(..., b, b)`` (upper triangular) with P_0 ⋯ P_{b-1} = I − U T Uᵀ for the columns of
    ``U`` ``(..., m, b)`` and ``tau`` ``(..., b)`` (LAPACK ``dlarft``, forward, columnwise)."""
    b = U.shape[-1]
    S = np.matmul(np.swapaxes(U, -1, -2), U)                  # one Gram instead of b matvecs
    T = np.zeros(U.shape[:-2] + (b, b), dtype=U.dtype)
    T[..., 0, 0] = tau[..., 0]
    for i in range(1, b):
        T[..., :i, i] = -tau[..., i, None] * np.einsum("...jk,...k->...j",
                                                        T[..., :i, :i], S[..., :i, i])
        T[..., i, i] = tau[..., i]
    return T


def _apply(U, tau, D, Y, block, transpose):
    """In place: Y <- W Y (or Wᵀ Y) for W = P_0 ⋯ P_{d-2} D; U, tau, D batched like Y."""
    d = Y.shape[-2]
    starts = list(range(0, d - 1, block))
    Ut = np.swapaxes(U, -1, -2)
    if not transpose:
        Y *= D[..., :, None]
        starts = starts[::-1]                                 # W Y = B_0 (B_1 (⋯ (D Y)))
    for j in starts:
        e = min(j + block, d - 1)
        Ub = U[..., j:, j:e]
        T = wy_block_factor(Ub, tau[..., j:e])
        if transpose:
            T = np.swapaxes(T, -1, -2)
        Yj = Y[..., j:, :]
        Yj -= np.matmul(Ub, np.matmul(T, np.matmul(Ut[..., j:e, j:], Yj)))
    if transpose:
        Y *= D[..., :, None]                                  # Wᵀ Y = D B_{last}ᵀ ⋯ B_0ᵀ Y
    return Y


def apply_householder_blocked(vectors, H, *, block: int = DEFAULT_BLOCK,
                              transpose: bool = False) -> np.ndarray:
    """W·H (or Wᵀ·H) for the Haar matrix W encoded by packed Householder ``vectors``.

    Same contract as ``depthcheck.kernels.random.haar.apply_householder_haar`` (``vectors`` ``(*B1, d, d)``
    lower triangular from ``haar_householder_vectors``, ``H`` ``(*B2, d, n)``, batch shapes
    broadcast; W is never formed), computed with compact-WY blocks of ``block`` reflections
    (module docstring). ``transpose=True`` returns Wᵀ H = W⁻¹ H. Returns a new array.
    """
    block = check_positive_int(block, "block")
    if not isinstance(transpose, (bool, np.bool_)):
        raise ValueError(f"transpose must be True or False, got {transpose!r}")
    X, Y, batch = householder_operands(vectors, H)
    U, tau, D = householder_unit_vectors(X)
    if U.shape[:-2] != batch:                                 # shared W for a batch of H
        U = np.broadcast_to(U, batch + U.shape[-2:])
        tau = np.broadcast_to(tau, batch + tau.shape[-1:])
        D = np.broadcast_to(D, batch + D.shape[-1:])
    return _apply(U, tau, D, Y, block, bool(transpose))


def apply_haar_blocked(H, rng: np.random.Generator, *, block: int = DEFAULT_BLOCK) -> np.ndarray:
    """W·H for a fresh Haar W per batch element of ``H`` ``(..., d, n)``, compact-WY blocked.

    Draws ``haar_householder_vectors(H.shape[:-2], d, rng)`` exactly as
    ``depthcheck.kernels.random.haar.apply_haar`` does, so for the same generator state the two return the same
    W·H to rounding (Haar on O(d): same law as Gaussian QR with the sign fix). ~2d²n flops per
    batch element at matrix-multiply speed; memory O(d²) per batch element for the vectors.
    """
    rng = check_generator(rng)
    H = as_float_array(H, "H", min_ndim=2)
    if H.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        H = H.astype(np.float64)
    X = haar_householder_vectors(H.shape[:-2], H.shape[-2], rng, dtype=H.dtype)
    return apply_householder_blocked(X, H, block=block)
