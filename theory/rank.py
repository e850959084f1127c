"""Second-moment matrix, the rank ratio r(H) and the soft rank.

Source: H. Daneshmand, J. Kohler, F. Bach, T. Hofmann, A. Lucchi, "Batch normalization provably
avoids rank collapse for randomly initialised deep networks", NeurIPS 2020, arXiv:2003.01652
(v1 title: "Theoretical Understanding of Batch-normalization: A Markov Chain Perspective"):
eqs. (3), (4) and Lemma 1. BibTeX key ``daneshmand2020rank`` (``docs/references.bib``).

H is ``(d, N)`` (columns are the N samples) or a stack ``(..., d, N)``.

Lemma 1: (1) rank(H) >= r(H) for every H (Cauchy–Schwarz on the eigenvalues of M and the
indicator of the non-zero ones); (2) if the rows of H have norm sqrt(N) (so tr M = d, as after
the paper's BN), rank_τ(H) >= (1-τ)² r(H) with the "eigen" convention. The paper's printed
threshold in eq. (3) and the constants of Lemma 1 are reconstructed ([D]: derived in this
repository from the paper's proof sketch and checked numerically); proofs in
``docs/derivations/rank_markov.md``.
"""
from __future__ import annotations

import numbers

import numpy as np

from ._checks import as_float_array, check_choice

__all__ = ["second_moment", "rank_lower_bound", "soft_rank", "matrix_rank",
           "lyapunov_exponents_ginibre"]

SOFT_RANK_CONVENTIONS = ("eigen", "singular")


def second_moment(H) -> np.ndarray:
    """Second-moment matrix M(H) = H Hᵀ / N.

    Its eigenvalues are λ_i = σ_i(H)²/N. On the paper's BN chain (rows of norm √N) M has unit
    diagonal, so tr M = d, and |M_ij| <= 1.

    Parameters
    ----------
    H : array_like, shape (..., d, N)

    Returns
    -------
    numpy.ndarray, shape (..., d, d)

    Raises
    ------
    ValueError
        If ``H`` is not at least 2-D, is empty, or holds NaN/inf.

    References
    ----------
    .. [1] Daneshmand et al. (2020), arXiv:2003.01652, the matrix M(H) and its properties (p.1)-(p.2), Appendix A, eqs. (8)-(9).

    Examples
    --------
    Two orthogonal rows of norm √2 (N = 2) give M = I:

    >>> import numpy as np
    >>> from depthcheck.theory.rank import second_moment
    >>> print(second_moment(np.array([[1.0, 1.0], [1.0, -1.0]])))
    [[1. 0.]
     [0. 1.]]
    """
    H = as_float_array(H, "H", min_ndim=2)
    return np.matmul(H, H.swapaxes(-1, -2)) / H.shape[-1]


def rank_lower_bound(H) -> np.ndarray:
    """r(H) = tr(M)² / ‖M‖_F² = (Σ λ_i)² / Σ λ_i²,  M = M(H).

    Scale invariant (the 1/N of M cancels) and 1 <= r(H) <= rank(H) (Lemma 1, part 1).

    Parameters
    ----------
    H : array_like, shape (..., d, N)

    Returns
    -------
    numpy.ndarray or numpy.float64
        float64 of shape ``H.shape[:-2]``.

    Raises
    ------
    ValueError
        If a batch element is all zero (r = 0/0 is undefined), or as :func:`second_moment`.

    Notes
    -----
    Computed from the smaller of the two Grams: H Hᵀ (d×d) and HᵀH (N×N) share their non-zero
    spectrum, so tr(M) = ‖H‖_F²/N and ‖M‖_F = ‖HᵀH‖_F/N whichever is used; H is first divided by
    an exact power of two so that huge or tiny entries neither overflow nor underflow.

    References
    ----------
    .. [1] Daneshmand et al. (2020), arXiv:2003.01652, eq. (4) and Lemma 1 ([D] constants: ``docs/derivations/rank_markov.md``).

    Examples
    --------
    Equal eigenvalues give r = rank; a rank-one matrix gives 1; eigenvalues proportional to (1, 4)
    give 5²/17 = 25/17, between 1 and the rank 2:

    >>> import numpy as np
    >>> from depthcheck.theory.rank import rank_lower_bound
    >>> print(rank_lower_bound(np.eye(3)), rank_lower_bound(np.ones((3, 4))))
    3.0 1.0
    >>> bool(np.isclose(rank_lower_bound(np.diag([1.0, 2.0])), 25 / 17))
    True
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
    """Soft rank rank_τ(H), an int array of shape ``H.shape[:-2]``.

    With σ_1 >= ... >= σ_d the singular values of H (σ_i = 0 for i > N):

    * ``"eigen"``    : #{i : σ_i²/N > τ} = #{i : λ_i(M(H)) > τ}.
    * ``"singular"`` : #{i : σ_i/√N > τ}  = the "eigen" count at threshold τ².

    Parameters
    ----------
    H : array_like, shape (..., d, N)
    tau : float
        Threshold in [0, 1). τ = 0 counts every singular value that is exactly non-zero in floating
        point (use :func:`matrix_rank` for a tolerance-based rank).
    convention : {"eigen", "singular"}, optional
        Which reading of the paper's threshold to use (see Notes).

    Returns
    -------
    numpy.ndarray or numpy.int64

    Raises
    ------
    ValueError
        If ``tau`` is not a real number in [0, 1) (a str or a bool is refused, not converted),
        ``convention`` is unknown, or ``H`` is invalid.

    Notes
    -----
    The printed threshold of eq. (3) is not legible in the arXiv text. "eigen" is the reading under
    which the proof of Lemma 1(2) gives exactly Theorem 2's factor (1-τ)² (Σ_{λ_i <= τ} λ_i <= τd
    when tr M = d); under "singular" the same proof gives (1-τ²)² >= (1-τ)², so Theorem 2 holds
    for both ([D], ``docs/derivations/rank_markov.md``). Not scale invariant: the threshold is
    absolute, so normalise H first (rows of norm √N).

    References
    ----------
    .. [1] Daneshmand et al. (2020), arXiv:2003.01652, eq. (3), Lemma 1 and Theorem 2.

    Examples
    --------
    H = diag(2, 1) with N = 2: σ = (2, 1), λ = σ²/N = (2, 1/2) and σ/√N = (1.41, 0.71). At τ = 0.6
    "eigen" counts one value and "singular" two:

    >>> import numpy as np
    >>> from depthcheck.theory.rank import soft_rank
    >>> H = np.diag([2.0, 1.0])
    >>> print(soft_rank(H, 0.6), soft_rank(H, 0.6, convention="singular"))
    1 2
    """
    H = as_float_array(H, "H", min_ndim=2).astype(np.float64, copy=False)
    check_choice(convention, "convention", SOFT_RANK_CONVENTIONS)
    # a real number only: float("0.5") and float(False) would silently accept a str or a bool
    is_real = (isinstance(tau, numbers.Real) and not isinstance(tau, (bool, np.bool_))) or (
        isinstance(tau, np.ndarray) and tau.ndim == 0 and tau.dtype != bool
        and (np.issubdtype(tau.dtype, np.integer) or np.issubdtype(tau.dtype, np.floating)))
    if not is_real:
        raise ValueError(f"tau must be a real number in [0, 1), got {tau!r} "
                         f"({type(tau).__name__})")
    tau = float(tau)
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
    """Numerical rank of each ``(d, N)`` matrix (numpy's SVD tolerance), shape ``H.shape[:-2]``.

    Parameters
    ----------
    H : array_like, shape (..., d, N)

    Returns
    -------
    numpy.ndarray or numpy.int64

    Raises
    ------
    ValueError
        If ``H`` is not at least 2-D, is empty, or holds NaN/inf.

    References
    ----------
    .. [1] :func:`numpy.linalg.matrix_rank` (tolerance σ_max · max(d, N) · eps).

    Examples
    --------
    >>> import numpy as np
    >>> from depthcheck.theory.rank import matrix_rank
    >>> print(matrix_rank(np.stack([np.eye(3), np.ones((3, 3))])))
    [3 1]
    """
    H = as_float_array(H, "H", min_ndim=2)
    return np.linalg.matrix_rank(H)[()]


# Daneshmand et al. (2020), Lemma 3, made quantitative: the Ginibre Lyapunov spectrum lives in
# depthcheck.theory.lyapunov; re-exported here because rank collapse is where users look for it.
from depthcheck.theory.lyapunov import lyapunov_exponents_ginibre  # noqa: E402
