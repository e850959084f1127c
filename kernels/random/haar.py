"""Haar samplers for O(d), SO(d), U(d) and Stiefel frames, and Stewart's QR-free Haar action.

Every sampler takes a leading batch ``shape`` (a tuple, possibly ``()``; an int means
``(int,)``) and an explicit ``numpy.random.Generator``.

Reference algorithm (Mezzadri 2007, "How to generate random matrices from the classical
compact groups", Notices AMS 54(5), §5): draw Z with i.i.d. N(0, 1) (complex N(0, 1) for U(d))
entries, take Z = QR and return Q·diag(sign(diag R)) (phase diag(R)/|diag R| for U(d)). The
fix makes the factorisation unique (R with positive diagonal); since W Z has the law of Z for
any fixed orthogonal W and W Z = (W Q)(R), uniqueness gives Q(W Z) = W Q(Z), so the law of Q
is left invariant, i.e. Haar. Without the fix Q depends on LAPACK's sign convention: numpy's
Householder QR returns Q_11 = -|Z_11|/‖Z_{:,1}‖ <= 0 and det Q = (-1)^(d-1) always.

``apply_haar`` applies a fresh Haar W to H without forming W and without any QR (Stewart 1980,
"The efficient generation of random orthogonal matrices with an application to condition
estimators", SIAM J. Numer. Anal. 17(3)); the derivation is in its docstring.
"""
from __future__ import annotations

import numbers

import numpy as np

from depthcheck.theory._checks import as_float_array, check_generator, check_positive_int

__all__ = [
    "sample_orthogonal",
    "sample_special_orthogonal",
    "sample_unitary",
    "sample_stiefel",
    "haar_householder_vectors",
    "apply_householder_haar",
    "apply_haar",
]

_REAL = (np.dtype(np.float32), np.dtype(np.float64))
_COMPLEX = (np.dtype(np.complex64), np.dtype(np.complex128))


def _check_shape(shape) -> tuple[int, ...]:
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, tuple):
        raise ValueError(f"shape must be a tuple of non-negative ints (or an int), got {shape!r}")
    return tuple(check_positive_int(s, "shape", minimum=0) for s in shape)


def _check_dtype(dtype, allowed) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise ValueError(f"dtype={dtype!r} is not a numpy dtype") from exc
    if dt not in allowed:
        raise ValueError(f"dtype={dt} is not one of {tuple(str(a) for a in allowed)}")
    return dt


def _sign(x: np.ndarray) -> np.ndarray:
    """sign with sign(0) = +1 (a null event for Gaussian input, but never a zero factor)."""
    return np.where(x >= 0, 1, -1).astype(x.dtype)


def _sign_fixed_qr(Z: np.ndarray) -> np.ndarray:
    """Q·diag(sign(diag R)) (phases for complex Z) of the reduced QR of a stack Z."""
    Q, R = np.linalg.qr(Z)
    r = np.diagonal(R, axis1=-2, axis2=-1)
    if np.iscomplexobj(r):
        mod = np.abs(r)
        fix = np.where(mod > 0, r / np.where(mod > 0, mod, 1), 1).astype(Z.dtype)
    else:
        fix = _sign(r)
    return Q * fix[..., None, :]


def _gaussian(rng, size, dtype: np.dtype) -> np.ndarray:
    if dtype.kind == "c":
        real = np.float32 if dtype == np.complex64 else np.float64
        z = rng.standard_normal(size + (2,), dtype=real)
        # E|z|^2 = 1; only isotropy matters for Haar, the scale is a convention.
        return (z[..., 0] + 1j * z[..., 1]).astype(dtype) * dtype.type(np.sqrt(0.5))
    return rng.standard_normal(size, dtype=dtype)


def sample_orthogonal(shape, d: int, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
    """Haar-distributed orthogonal matrices, shape ``(*shape, d, d)``.

    Gaussian QR with the sign fix Q <- Q·diag(sign(diag R)) (Mezzadri 2007), batched through
    ``numpy.linalg.qr`` on the stack. The law is the Haar measure on O(d) assumed for the
    weights of Meterez et al. (arXiv:2310.02012, eq. (3)).

    Parameters
    ----------
    shape : int or tuple of int
        Leading batch shape (``()`` for one matrix).
    d : int
        Matrix size, d >= 1.
    rng : numpy.random.Generator
        The only source of randomness.
    dtype : {numpy.float64, numpy.float32}
        Precision of the Gaussian draw and of the QR.

    Returns
    -------
    numpy.ndarray
        ``(*shape, d, d)`` orthogonal matrices.

    Raises
    ------
    ValueError
        Naming the argument: ``d`` not a positive int, ``shape`` not a shape, ``rng`` not a
        Generator, ``dtype`` not real.

    References
    ----------
    F. Mezzadri, "How to generate random matrices from the classical compact groups",
    Notices AMS 54(5), 2007, §5 (arXiv:math-ph/0609050).

    Examples
    --------
    >>> import numpy as np
    >>> W = sample_orthogonal((2,), 4, np.random.default_rng(0))
    >>> W.shape
    (2, 4, 4)
    >>> bool(np.allclose(W @ np.swapaxes(W, -1, -2), np.eye(4)))
    True
    """
    rng = check_generator(rng)
    d = check_positive_int(d, "d")
    shape = _check_shape(shape)
    dt = _check_dtype(dtype, _REAL)
    return _sign_fixed_qr(_gaussian(rng, shape + (d, d), dt))


def sample_special_orthogonal(shape, d: int, rng: np.random.Generator,
                              dtype=np.float64) -> np.ndarray:
    """Haar-distributed rotations on SO(d), shape ``(*shape, d, d)``.

    Draw O Haar on O(d) and return f(O) = O if det O = +1, else O·F with F = diag(-1, 1, ..., 1)
    (first column's sign flipped). Why this is Haar on SO(d): det(S O) = det O for S in SO(d),
    so f(S O) = S f(O); with S O ~ O this gives f(O) ~ S f(O) for every S in SO(d), and f(O) lies
    in SO(d). The Haar probability on the compact group SO(d) is the unique left-invariant one,
    so f(O) is Haar on SO(d). (Equivalently: given det O = -1, O is uniform on that coset, and
    right multiplication by the fixed F carries it measure-preservingly onto SO(d).)
    For d = 1 this returns the 1×1 matrix [1].
    """
    O = sample_orthogonal(shape, d, rng, dtype)
    sign, _ = np.linalg.slogdet(O)
    O[..., :, 0] *= sign.astype(O.dtype)[..., None]
    return O


def sample_unitary(shape, d: int, rng: np.random.Generator, dtype=np.complex128) -> np.ndarray:
    """Haar-distributed unitary matrices on U(d), shape ``(*shape, d, d)``.

    Complex Gaussian QR with the phase fix Q <- Q·diag(r_kk/|r_kk|) (Mezzadri 2007, §5).
    ``dtype`` is complex64 or complex128.
    """
    rng = check_generator(rng)
    d = check_positive_int(d, "d")
    shape = _check_shape(shape)
    dt = _check_dtype(dtype, _COMPLEX)
    return _sign_fixed_qr(_gaussian(rng, shape + (d, d), dt))


def sample_stiefel(shape, d: int, k: int, rng: np.random.Generator,
                   dtype=np.float64) -> np.ndarray:
    """Uniform frames on the Stiefel manifold V_k(R^d), shape ``(*shape, d, k)``, k <= d.

    Thin QR of a d×k Gaussian with the sign fix: the same invariance argument as for O(d)
    shows the law is O(d)-left-invariant, hence the unique uniform law on V_k(R^d) (it is the
    law of the first k columns of a Haar O(d) matrix).

    Parameters
    ----------
    shape : int or tuple of int
        Leading batch shape.
    d, k : int
        Ambient dimension and number of columns, 1 <= k <= d.
    rng : numpy.random.Generator
    dtype : {numpy.float64, numpy.float32}

    Returns
    -------
    numpy.ndarray
        ``(*shape, d, k)`` matrices with orthonormal columns.

    Raises
    ------
    ValueError
        ``k > d`` (no orthonormal frame exists), or a bad ``shape``, ``d``, ``k``, ``rng``.

    References
    ----------
    F. Mezzadri, Notices AMS 54(5), 2007, §5 (arXiv:math-ph/0609050).

    Examples
    --------
    >>> import numpy as np
    >>> F = sample_stiefel((), 5, 2, np.random.default_rng(1))
    >>> bool(np.allclose(F.T @ F, np.eye(2)))
    True
    >>> sample_stiefel((), 2, 3, np.random.default_rng(1))
    Traceback (most recent call last):
    ...
    ValueError: k must be <= d for orthonormal columns, got k=3, d=2
    """
    rng = check_generator(rng)
    d = check_positive_int(d, "d")
    k = check_positive_int(k, "k")
    if k > d:
        raise ValueError(f"k must be <= d for orthonormal columns, got k={k}, d={d}")
    shape = _check_shape(shape)
    dt = _check_dtype(dtype, _REAL)
    return _sign_fixed_qr(_gaussian(rng, shape + (d, k), dt))


def haar_householder_vectors(shape, d: int, rng: np.random.Generator,
                             dtype=np.float64) -> np.ndarray:
    """The randomness of one Stewart-Haar matrix per batch element, packed like LAPACK's geqrf.

    Returns X of shape ``(*shape, d, d)``, lower triangular: column k (0-based) holds the
    Gaussian vector x_k ~ N(0, I_{d-k}) in rows k..d-1, zeros above. The d(d+1)/2 entries are
    i.i.d. N(0, 1). ``apply_householder_haar(X, H)`` turns them into W·H.
    """
    rng = check_generator(rng)
    d = check_positive_int(d, "d")
    shape = _check_shape(shape)
    dt = _check_dtype(dtype, _REAL)
    rows, cols = np.tril_indices(d)
    X = np.zeros(shape + (d, d), dtype=dt)
    X[..., rows, cols] = rng.standard_normal(shape + (rows.size,), dtype=dt)
    return X


def householder_operands(vectors, H):
    """Validated operands of the Householder appliers (``apply_householder_haar`` here and the
    blocked ``depthcheck.kernels.random.householder.apply_haar_blocked``): packed vectors X ``(*B1, d, d)`` cast to
    the common dtype, an owned copy Y of H broadcast to the joint batch shape, and that shape.
    Raises ``ValueError`` naming ``vectors`` or ``H``."""
    X = as_float_array(vectors, "vectors", min_ndim=2)
    H = as_float_array(H, "H", min_ndim=2)
    d = X.shape[-1]
    if X.shape[-2] != d:
        raise ValueError(f"vectors must have shape (..., d, d), got {X.shape}")
    if H.shape[-2] != d:
        raise ValueError(f"H must have shape (..., {d}, n) to match vectors, got {H.shape}")
    try:
        batch = np.broadcast_shapes(X.shape[:-2], H.shape[:-2])
    except ValueError as exc:
        raise ValueError(f"batch shapes of vectors {X.shape[:-2]} and H {H.shape[:-2]} "
                         f"do not broadcast") from exc
    dtype = np.result_type(X.dtype, H.dtype)
    Y = np.array(np.broadcast_to(H, batch + H.shape[-2:]), dtype=dtype)  # owned copy
    return X.astype(dtype, copy=False), Y, batch


def apply_householder_haar(vectors, H) -> np.ndarray:
    """W·H for the Haar matrix W encoded by packed Householder ``vectors`` (see ``apply_haar``).

    ``vectors``: ``(*B1, d, d)`` lower triangular as from ``haar_householder_vectors``;
    ``H``: ``(*B2, d, n)``; the batch shapes broadcast. W is never formed: d-1 rank-one
    updates, ~4 d² n flops per batch element. Exactly (in exact arithmetic) the sign-fixed
    QR factor of the Gaussian matrix whose Householder QR produces these vectors.
    """
    X, Y, batch = householder_operands(vectors, H)
    d = X.shape[-1]
    s = _sign(np.diagonal(X, axis1=-2, axis2=-1))            # s_k = sign(x_k[0])
    # D = diag(-s_1, ..., -s_{d-1}, +s_d): sign(diag R) of the Householder QR (r_kk = -s_k|x_k|
    # for the reflected stages, r_dd = x_d itself since LAPACK leaves the 1×1 stage alone).
    D = -s
    D[..., -1] = s[..., -1]
    Y *= D[..., :, None]
    for k in range(d - 2, -1, -1):                           # W·H = H_0 (H_1 (... (D H)))
        x = X[..., k:, k]
        norm = np.linalg.norm(x, axis=-1)
        v = x.copy()
        v[..., 0] += s[..., k] * norm                         # no cancellation: same signs
        vv = 2.0 * norm * (norm + np.abs(x[..., 0]))          # = vᵀv exactly
        beta = np.divide(2.0, vv, out=np.zeros_like(vv), where=vv > 0)
        sub = Y[..., k:, :]
        w = np.matmul(v[..., None, :], sub)                   # (..., 1, n) = vᵀ Y_k
        sub -= (beta[..., None] * v)[..., :, None] * w
    return Y


def apply_haar(H, rng: np.random.Generator) -> np.ndarray:
    """Return W·H for a fresh Haar W in O(d) per batch element, without forming W or any QR.

    H has shape ``(d, n)`` or ``(..., d, n)``; one independent W per leading batch element;
    float32/float64 is preserved (integers become float64).

    Construction (Stewart 1980), derived from Householder QR of a Gaussian Z (d×d): let
    x_1 = Z[:, 1] and P_1 = I - 2 v vᵀ/vᵀv with v = x_1 + s_1‖x_1‖e_1, s_1 = sign(x_11), the
    reflection with P_1 x_1 = -s_1‖x_1‖e_1. The other columns of Z are independent of x_1, so
    P_1 Z[:, 2:] is again i.i.d. Gaussian and independent of x_1; its rows 2..d form a
    (d-1)×(d-1) Gaussian matrix and the recursion continues with independent Gaussian vectors
    x_k of length d-k+1 (k = 1..d-1) and a last scalar x_d. Hence Z = P_1 ⋯ P_{d-1} R with
    P_k = diag(I_{k-1}, P̃_k) and diag R = (-s_1‖x_1‖, ..., -s_{d-1}‖x_{d-1}‖, x_d), and the
    sign-fixed Q of Mezzadri is

        W = P_1 P_2 ⋯ P_{d-1} · D,   D = diag(-s_1, ..., -s_{d-1}, s_d),   s_k = sign(x_k1),

    with x_1, ..., x_d independent standard Gaussian vectors of decreasing length. This is
    the same map as LAPACK's geqrf + sign fix (so the law is exactly that of
    ``sample_orthogonal``, not merely "a" Haar construction); note D is *not* independent of
    the reflectors (s_k is read off x_k), which is why it is built this way rather than with
    free random signs. W·H is evaluated right to left: D, then P_{d-1}, ..., P_1, each a
    rank-one update of rows k..d (~4(d-k+1)n flops).

    Parameters
    ----------
    H : array_like, shape ``(..., d, n)``
        The batch the fresh W multiplies (columns are samples).
    rng : numpy.random.Generator

    Returns
    -------
    numpy.ndarray
        W·H, same shape and (real) dtype as ``H``.

    Raises
    ------
    ValueError
        ``H`` with fewer than two dimensions or non-finite, or ``rng`` not a Generator.

    References
    ----------
    G. W. Stewart, "The efficient generation of random orthogonal matrices with an application
    to condition estimators", SIAM J. Numer. Anal. 17(3), 1980. F. Mezzadri, Notices AMS 54(5),
    2007 (the sign fix this construction reproduces).

    Examples
    --------
    An orthogonal map preserves every column norm and the Gram matrix HᵀH:

    >>> import numpy as np
    >>> H = np.random.default_rng(2).standard_normal((6, 3))
    >>> WH = apply_haar(H, np.random.default_rng(3))
    >>> bool(np.allclose(WH.T @ WH, H.T @ H))
    True
    """
    rng = check_generator(rng)
    H = as_float_array(H, "H", min_ndim=2)
    if H.dtype not in _REAL:
        H = H.astype(np.float64)
    X = haar_householder_vectors(H.shape[:-2], H.shape[-2], rng, dtype=H.dtype)
    return apply_householder_haar(X, H)
