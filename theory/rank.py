"""Second-moment matrix, the rank ratio r(H) and the soft rank of seed 002.

Source: seed 002 (Daneshmand, Kohler, Bach, Hofmann, Lucchi 2020, "Batch normalization provably
avoids rank collapse for randomly initialised deep networks", arXiv:2003.01652), eqs. (3), (4)
and Lemma 1; research notes shared/research/rank_lnn_lcw.md §A.1–A.2.

H is ``(d, N)`` (columns are the N samples) or a stack ``(..., d, N)``.

Lemma 1 (rank_lnn_lcw.md §A.2): (1) rank(H) >= r(H) for every H (Cauchy–Schwarz on the
eigenvalues of M and the indicator of the non-zero ones); (2) if the rows of H have norm sqrt(N)
(so tr M = d, as after seed 002's BN), rank_τ(H) >= (1-τ)² r(H) with the "eigen" convention.
"""
from __future__ import annotations

import numpy as np

from ._checks import as_float_array, check_choice

__all__ = ["second_moment", "rank_lower_bound", "soft_rank", "matrix_rank",
           "lyapunov_exponents_ginibre"]

SOFT_RANK_CONVENTIONS = ("eigen", "singular")


def second_moment(H) -> np.ndarray:
    """M(H) = H Hᵀ / N, shape ``(..., d, d)`` (seed 002, §2; eigenvalues λ_i = σ_i(H)²/N)."""
    H = as_float_array(H, "H", min_ndim=2)
    return np.matmul(H, H.swapaxes(-1, -2)) / H.shape[-1]


def rank_lower_bound(H) -> np.ndarray:
    """r(H) = tr(M)² / ‖M‖_F² = (Σ λ_i)² / Σ λ_i²,  M = M(H)  (seed 002, eq. 4).

    Scale invariant (the 1/N of M cancels) and 1 <= r(H) <= rank(H) (Lemma 1, part 1).
    Computed from the smaller of the two Grams: H Hᵀ (d×d) and HᵀH (N×N) share their non-zero
    spectrum, so tr(M) = ‖H‖_F²/N and ‖M‖_F = ‖HᵀH‖_F/N whichever is used; H is first divided by
    an exact power of two so that huge or tiny entries neither overflow nor underflow.
    A batch element with H = 0 (r = 0/0) raises ``ValueError`` naming ``H``.
    Returns float64 of shape ``H.shape[:-2]``.
    """
    H = as_float_array(H, "H", min_ndim=2).astype(np.float64, copy=False)
    m = np.max(np.abs(H), axis=(-2, -1), keepdims=True)
    if np.any(m == 0):
        raise ValueError("H has an all-zero batch element; r(H) = tr(M)²/‖M‖_F² is undefined (0/0)")
    _, e = np.frexp(m)
    Hs = np.ldexp(H, -e)
    d, N = H.shape[-2:]
    G = np.matmul(Hs.swapaxes(-1, -2), Hs) if N <= d else np.matmul(Hs, Hs.swapaxes(-1, -2))
    tr = np.trace(G, axis1=-2, axis2=-1)
    return (tr ** 2 / np.sum(G * G, axis=(-2, -1)))[()]


def soft_rank(H, tau: float, convention: str = "eigen") -> np.ndarray:
    """Soft rank rank_τ(H) (seed 002, eq. 3), an int array of shape ``H.shape[:-2]``.

    With σ_1 >= ... >= σ_d the singular values of H (σ_i = 0 for i > N):

    * ``"eigen"``    : #{i : σ_i²/N > τ} = #{i : λ_i(M(H)) > τ}.
    * ``"singular"`` : #{i : σ_i/√N > τ}  = the "eigen" count at threshold τ².

    The printed threshold of eq. (3) is stripped from the seed. "eigen" is the reading under
    which the proof of Lemma 1(2) gives exactly Theorem 2's factor (1-τ)² (Σ_{λ_i <= τ} λ_i <= τd
    when tr M = d); under "singular" the same proof gives (1-τ²)² >= (1-τ)², so Theorem 2 holds
    for both (rank_lnn_lcw.md §A.2). τ must lie in [0, 1); τ = 0 counts every singular value
    that is exactly non-zero in floating point (use ``matrix_rank`` for a tolerance-based rank).
    Not scale invariant: the threshold is absolute, so normalise H first (rows of norm √N).
    """
    H = as_float_array(H, "H", min_ndim=2).astype(np.float64, copy=False)
    check_choice(convention, "convention", SOFT_RANK_CONVENTIONS)
    try:
        tau = float(tau)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"tau must be a number in [0, 1), got {tau!r}") from exc
    if not 0.0 <= tau < 1.0:
        raise ValueError(f"tau must lie in [0, 1), got {tau!r}")
    N = H.shape[-1]
    sigma = np.linalg.svd(H, compute_uv=False)
    with np.errstate(over="ignore"):                 # σ² = inf still counts as > τ
        if convention == "eigen":
            count = np.sum(sigma ** 2 / N > tau, axis=-1)
        else:
            count = np.sum(sigma / np.sqrt(N) > tau, axis=-1)
    return count[()]


def matrix_rank(H) -> np.ndarray:
    """Numerical rank of each ``(d, N)`` matrix (numpy's SVD tolerance), shape ``H.shape[:-2]``."""
    H = as_float_array(H, "H", min_ndim=2)
    return np.linalg.matrix_rank(H)[()]


# Seed 002, Lemma 3 (quantitative): the Ginibre Lyapunov spectrum lives in depthcheck.theory.lyapunov;
# re-exported here because rank collapse is where users look for it.
from depthcheck.theory.lyapunov import lyapunov_exponents_ginibre  # noqa: E402
