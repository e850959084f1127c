"""Haar weights for the numba chain kernels: Householder vectors and their blocked compact-WY
application (``depthcheck.kernels.random.householder`` for the algebra).

Haar W = P_1 ⋯ P_{d-1} D from Gaussian Householder vectors (Stewart 1980;
``depthcheck.kernels.random.haar.apply_haar``), applied in compact-WY blocks with BLAS ``dgemm`` on
per-thread buffers (``depthcheck.kernels.backends.numba.blas``), parallel over trials. The vectors come
either packed from numpy (``haar_apply_batch``, the per-layer numba backend) or from the Philox
stream of the fused kernels (``apply_haar_philox``, ``householder_vectors_philox``).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from depthcheck.theory._checks import as_float_array, check_positive_int
from depthcheck.kernels.backends.numba._cache import source_fingerprint
from depthcheck.kernels.backends.numba import blas as _blas
from depthcheck.kernels.backends.numba.blas import _L, _N, _T_, _dsyrk, _gemm, blas_single_thread
from depthcheck.kernels.chain.codes import WY_BLOCK
from depthcheck.kernels.random import philox as _philox
from depthcheck.kernels.random.philox import _ZBUF, METHODS, _fill_normals

__all__ = ["haar_apply_batch", "apply_haar_philox", "householder_vectors_philox", "WY_BLOCK"]


@njit
def _unit_rows(R, tau, D):
    """Rows R[k, k:] hold the Gaussian x_k (zeros before column k): turn them in place into the
    unit reflector vectors u_k, with τ_k and the sign matrix D (depthcheck.kernels.random.householder)."""
    d = R.shape[0]
    for k in range(d):
        row = R[k]
        for i in range(k):
            row[i] = 0.0
        # ‖x_k‖² in four independent partial sums: one running sum is bound by the add latency
        a0 = 0.0
        a1 = 0.0
        a2 = 0.0
        a3 = 0.0
        L = d - k
        L4 = L - L % 4
        for t in range(0, L4, 4):
            x0 = row[k + t]
            x1 = row[k + t + 1]
            x2 = row[k + t + 2]
            x3 = row[k + t + 3]
            a0 += x0 * x0
            a1 += x1 * x1
            a2 += x2 * x2
            a3 += x3 * x3
        for t in range(L4, L):
            x0 = row[k + t]
            a0 += x0 * x0
        nrm = math.sqrt((a0 + a1) + (a2 + a3))
        x0 = row[k]
        s = 1.0 if x0 >= 0 else -1.0
        vn = math.sqrt(2.0 * nrm * (nrm + abs(x0)))
        if k < d - 1 and vn > 0:
            inv = 1.0 / vn
            row[k] = (x0 + s * nrm) * inv
            for i in range(k + 1, d):
                row[i] *= inv
            tau[k] = 2.0
        else:
            for i in range(k, d):
                row[i] = 0.0
            tau[k] = 0.0
        D[k] = -s if k < d - 1 else s


@njit
def _wy_gram(R, j, kb, S, iw, dw, cw):
    """C-order upper triangle of S = Ub Ubᵀ (kb×kb) for the reflector rows Ub = R[j:j+kb, j:]
    (= column-major Uc, m×kb, ld d: S = Ucᵀ Uc, the column-major lower triangle) by dsyrk."""
    d = R.shape[0]
    cw[0] = _L
    cw[1] = _T_
    iw[0] = kb
    iw[1] = d - j
    iw[2] = d
    iw[3] = S.shape[1]
    dw[0] = 1.0
    dw[1] = 0.0
    Rj = R[j:, j:]
    _dsyrk(cw[0:1].ctypes, cw[1:2].ctypes, iw[0:1].ctypes, iw[1:2].ctypes, dw[0:1].ctypes,
           Rj.ctypes, iw[2:3].ctypes, dw[1:2].ctypes, S.ctypes, iw[3:4].ctypes)


@njit
def _wy_T(R, tau, j, kb, T, S, iw, dw, cw):
    """T (kb×kb, upper) of the block of reflectors j..j+kb-1 (rows of R): dlarft, forward."""
    _wy_gram(R, j, kb, S, iw, dw, cw)
    # T[r, a] = −τ_a Σ_{q=r}^{a-1} T[r, q] S[q, a], built row by row in S's free strict lower
    # triangle (S[a, r] = T[r, a]): contiguous rows instead of a strided, latency-bound dot
    # per entry; the summation order over q is the same
    for a in range(kb):
        Sa = S[a]
        for r in range(a):
            Sa[r] = 0.0
        for q in range(a):
            s = S[q, a]
            Sq = S[q]
            for r in range(q):
                Sa[r] += Sq[r] * s
            Sa[q] += tau[j + q] * s
        ta = tau[j + a]
        for r in range(a):
            Sa[r] = -ta * Sa[r]
    for a in range(kb):
        for b in range(kb):
            T[a, b] = 0.0
    for a in range(kb):
        T[a, a] = tau[j + a]
        for r in range(a):
            T[r, a] = S[a, r]


@njit
def _wy_apply(Y, R, tau, D, transpose, nb, T, S, W1, W2, iw, dw, cw):
    """In place Y <- W Y (transpose: Wᵀ Y), W = P_0 ⋯ P_{d-2} D from the unit rows of R.

    Per block (I − U T Uᵀ on rows j..d-1): when V = U T (m×kb) fits in W2 (m·kb <= W2.size,
    always when n >= d), two dgemms: W Y: Y −= V (Uᵀ Y); Wᵀ Y: Y −= U (Vᵀ Y), with V from
    dlarft's recurrence applied to the vectors, v_a = τ_a (u_a − Σ_{q<a} (u_q·u_a) v_q)
    (= U T e_a; T itself is never formed). Otherwise three (T from ``_wy_T``, then op(T)·)."""
    d, n = Y.shape
    nblk = (d - 1 + nb - 1) // nb if d > 1 else 0
    V = W2.reshape(W2.size)
    if not transpose:
        for i in range(d):
            for c in range(n):
                Y[i, c] *= D[i]
    for t in range(nblk):
        bi = nblk - 1 - t if not transpose else t
        j = bi * nb
        kb = min(nb, d - 1 - j)
        m = d - j
        if kb * m <= V.size:
            _wy_gram(R, j, kb, S, iw, dw, cw)
            # rows v_a of Vm (C-order kb×m) = the column-major Vc (m×kb, ld m)
            Vm = V[:kb * m].reshape((kb, m))
            for a in range(kb):
                va = Vm[a]
                ua = R[j + a]
                for i in range(m):
                    va[i] = ua[j + i]
                for q in range(a):
                    s = S[q, a]
                    vq = Vm[q]
                    for i in range(m):
                        va[i] -= s * vq[i]
                ta = tau[j + a]
                for i in range(m):
                    va[i] *= ta
            # Yc = Y[j:]ᵀ (n×m, ld n), Uc = R[j:j+kb, j:]ᵀ (m×kb, ld d)
            if not transpose:
                # W1c = Yc Uc = (Uᵀ Y[j:])ᵀ (n×kb); Yc -= W1c Vcᵀ
                _gemm(_N, _N, n, kb, m, 1.0, Y[j:, :], n, R[j:, j:], d, 0.0, W1, n, iw, dw, cw)
                _gemm(_N, _T_, n, m, kb, -1.0, W1, n, V, m, 1.0, Y[j:, :], n, iw, dw, cw)
            else:
                # W1c = Yc Vc = (Vᵀ Y[j:])ᵀ; Yc -= W1c Ucᵀ
                _gemm(_N, _N, n, kb, m, 1.0, Y[j:, :], n, V, m, 0.0, W1, n, iw, dw, cw)
                _gemm(_N, _T_, n, m, kb, -1.0, W1, n, R[j:, j:], d, 1.0, Y[j:, :], n, iw, dw,
                      cw)
            continue
        _wy_T(R, tau, j, kb, T, S, iw, dw, cw)
        # W1c = Yc Uc (n×kb)
        _gemm(_N, _N, n, kb, m, 1.0, Y[j:, :], n, R[j:, j:], d, 0.0, W1, n, iw, dw, cw)
        # W2 = op(T) W1  <=>  W2c = W1c op(T)ᵀ; T C-order = column-major Tᵀ (ld kb)
        _gemm(_N, _T_ if transpose else _N, n, kb, kb, 1.0, W1, n, T, T.shape[1], 0.0, W2, n,
              iw, dw, cw)
        # Y[j:] -= Ubᵀ W2  <=>  Yc -= W2c Ucᵀ
        _gemm(_N, _T_, n, m, kb, -1.0, W2, n, R[j:, j:], d, 1.0, Y[j:, :], n, iw, dw, cw)
    if transpose:
        for i in range(d):
            for c in range(n):
                Y[i, c] *= D[i]


#: widths up to which ``_pair_apply`` (no BLAS) beats the blocked ``_wy_apply`` at n = d on
#: one core (measured: 1.9x faster at d = 32, 1.3x at d = 50, slower at d = 100)
PAIR_APPLY_MAX_D = 64


@njit
def _pair_apply(Y, R, tau, D, Wb):
    """In place Y <- W Y, W = P_0 ⋯ P_{d-2} D from the unit rows of R (as ``_wy_apply`` with
    ``transpose=False``, equal to rounding), without BLAS: the reflectors two at a time, last
    pair first, P_a P_b = I − [u_a u_b] T [u_a u_b]ᵀ with T = [[τ_a, −τ_a τ_b u_a·u_b], [0, τ_b]]
    (forward dlarft of two vectors), i.e. two passes over rows a..d-1 of Y per pair, each row
    update a vectorisable loop over the n columns. Faster than the BLAS calls of ``_wy_apply``
    for small d (``PAIR_APPLY_MAX_D``). ``Wb``: work space (2, n)."""
    d, n = Y.shape
    for i in range(d):
        di = D[i]
        yi = Y[i]
        for c in range(n):
            yi[c] *= di
    w0 = Wb[0]
    w1 = Wb[1]
    k = d - 2
    while k >= 0:
        if k >= 1:
            a = k - 1
            ua = R[a]
            ub = R[k]
            ta = tau[a]
            tb = tau[k]
            s = 0.0
            for i in range(k, d):
                s += ua[i] * ub[i]
            ya = Y[a]
            uaa = ua[a]
            for c in range(n):
                w0[c] = uaa * ya[c]
                w1[c] = 0.0
            for i in range(k, d):
                yi = Y[i]
                x0 = ua[i]
                x1 = ub[i]
                for c in range(n):
                    v = yi[c]
                    w0[c] += x0 * v
                    w1[c] += x1 * v
            t01 = -ta * tb * s
            for c in range(n):
                z0 = ta * w0[c] + t01 * w1[c]
                w1[c] = tb * w1[c]
                w0[c] = z0
            for c in range(n):
                ya[c] -= uaa * w0[c]
            for i in range(k, d):
                yi = Y[i]
                x0 = ua[i]
                x1 = ub[i]
                for c in range(n):
                    yi[c] -= x0 * w0[c] + x1 * w1[c]
            k -= 2
        else:
            u = R[k]
            for c in range(n):
                w0[c] = 0.0
            for i in range(k, d):
                yi = Y[i]
                x = u[i]
                for c in range(n):
                    w0[c] += x * yi[c]
            t = tau[k]
            for i in range(k, d):
                yi = Y[i]
                x = t * u[i]
                for c in range(n):
                    yi[c] -= x * w0[c]
            k -= 1


@njit
def _packed_to_rows(X, R):
    """Packed columns (depthcheck.kernels.random.haar layout: x_k in X[k:, k]) -> rows R[k, k:] = x_k."""
    d = X.shape[0]
    for k in range(d):
        for i in range(k, d):
            R[k, i] = X[i, k]


@njit
def _haar_apply_one(V, Y, transpose, nb):
    d, n = Y.shape
    kbmax = max(1, min(nb, d - 1))
    R = np.zeros((d, d))
    tau = np.empty(d)
    D = np.empty(d)
    T = np.empty((kbmax, kbmax))
    S = np.empty((kbmax, kbmax))
    W1 = np.empty((kbmax, n))
    W2 = np.empty((kbmax, n))
    iw = np.empty(8, np.int32)
    dw = np.empty(2)
    cw = np.empty(2, np.uint8)
    _packed_to_rows(V, R)
    _unit_rows(R, tau, D)
    _wy_apply(Y, R, tau, D, transpose, nb, T, S, W1, W2, iw, dw, cw)


def _make_haar_apply_batch(fingerprint):
    """The parallel entry kernel, its disk cache tied to the sources it compiles in
    (``depthcheck.kernels.backends.numba._cache``)."""
    @njit(parallel=True, cache=True)
    def _haar_apply_batch(V, Y, transpose, nb):
        """Y[b] <- W_b Y[b] (or W_bᵀ Y[b]) in place for packed vectors V (B, d, d), prange over b."""
        if fingerprint < 0:                  # never: ties the disk cache to the sources
            return
        for b in prange(Y.shape[0]):
            bi = np.int64(b)
            _haar_apply_one(V[bi], Y[bi], transpose, nb)
    return _haar_apply_batch


#: the files compiled into this module's entry kernels
KERNEL_SOURCES = (_blas, _philox)

_haar_apply_batch = _make_haar_apply_batch(source_fingerprint(*KERNEL_SOURCES))


@njit
def _haar_philox_one(Y, k0, k1, layer, b, method, nb):
    d, n = Y.shape
    kbmax = max(1, min(nb, d - 1))
    R = np.empty((d, d))                     # every entry is written below / by _unit_rows
    z = np.empty(d * (d + 1) // 2)
    zbuf = np.empty(_ZBUF, np.uint64)
    tau = np.empty(d)
    D = np.empty(d)
    T = np.empty((kbmax, kbmax))
    S = np.empty((kbmax, kbmax))
    W1 = np.empty((kbmax, n))
    W2 = np.empty((kbmax, max(n, d)))        # room for V = U T (m×kb): the two-dgemm path
    iw = np.empty(8, np.int32)
    dw = np.empty(2)
    cw = np.empty(2, np.uint8)
    _fill_normals(z, method, k0, k1, np.uint64(layer), np.uint64(b), np.uint64(0), zbuf)
    p = 0
    for k in range(d):
        R[k, k:] = z[p:p + d - k]
        p += d - k
    _unit_rows(R, tau, D)
    _wy_apply(Y, R, tau, D, False, nb, T, S, W1, W2, iw, dw, cw)


def _make_haar_philox_batch(fingerprint):
    @njit(parallel=True, cache=True)
    def _haar_philox_batch(Y, k0, k1, layer, method, nb, H=None):
        """Y[b] <- W_b Y[b] in place, or, given H (same shape), Y[b] <- W_b H[b] with the copy
        done per trial inside the parallel loop (in parallel, first-touching Y's fresh pages on the
        thread that uses them, leaving Y[b] in that core's cache) and H's non-finite entries
        counted on the way (returned; 0 without H), so that the caller's input check costs no
        serial pass over H."""
        if fingerprint < 0:                   # never: ties the disk cache to the sources
            return 0
        nbad = 0
        for b in prange(Y.shape[0]):
            bi = np.int64(b)
            Yb = Y[bi]
            if H is not None:
                Hb = H[bi]
                cnt = 0
                for i in range(Yb.shape[0]):
                    for c in range(Yb.shape[1]):
                        v = Hb[i, c]
                        Yb[i, c] = v
                        cnt += 0 if abs(v) < np.inf else 1
                nbad += cnt
            _haar_philox_one(Yb, k0, k1, layer, bi, method, nb)
        return nbad
    return _haar_philox_batch


_haar_philox_batch = _make_haar_philox_batch(source_fingerprint(*KERNEL_SOURCES))


def haar_apply_batch(vectors, H, *, transpose: bool = False, block: int = WY_BLOCK) -> np.ndarray:
    """W·H (or Wᵀ·H) per trial for packed Householder ``vectors`` ``(B, d, d)`` (the layout of
    ``depthcheck.kernels.random.haar.haar_householder_vectors``) and ``H`` ``(B, d, n)``: the numba/BLAS
    compact-WY kernel, parallel over B. Same result as ``depthcheck.kernels.random.haar.apply_householder_haar``
    to rounding. Returns a new array."""
    V = as_float_array(vectors, "vectors", ndim=3, dtype=np.float64)
    H = as_float_array(H, "H", ndim=3, dtype=np.float64)
    block = check_positive_int(block, "block")
    if V.shape[1] != V.shape[2] or V.shape[0] != H.shape[0] or H.shape[1] != V.shape[1]:
        raise ValueError(f"vectors (B, d, d) and H (B, d, n) do not match: {V.shape}, {H.shape}")
    Y = np.array(H, dtype=np.float64, order="C")
    with blas_single_thread():
        _haar_apply_batch(np.ascontiguousarray(V), Y, bool(transpose), block)
    return Y


def apply_haar_philox(H, key, layer: int = 1, *, method: str = "ziggurat",
                      block: int = WY_BLOCK) -> np.ndarray:
    """W_b·H[b] for a fresh Haar W_b per trial b of ``H`` ``(B, d, n)``: the fused kernel's
    Haar layer on its own (Householder vectors drawn in-kernel from Philox stream
    (layer, b, 0) under ``key``, blocked compact-WY application; ~2d²n flops per trial,
    parallel over trials). ``householder_vectors_philox(key, layer, b, d, method)`` gives the
    vectors, so the result equals ``depthcheck.kernels.random.haar.apply_householder_haar`` on them."""
    from depthcheck.theory._checks import check_finite
    # finiteness is checked inside the parallel kernel (below), not by a serial pass here
    H = as_float_array(H, "H", ndim=3, dtype=np.float64, finite=False)
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not one of {tuple(METHODS)}")
    layer = check_positive_int(layer, "layer", minimum=0)
    block = check_positive_int(block, "block")
    Y = np.empty(H.shape)                 # filled from H inside the parallel kernel
    with blas_single_thread():
        nbad = _haar_philox_batch(Y, np.uint64(key[0]), np.uint64(key[1]), layer,
                                  METHODS[method], block, np.ascontiguousarray(H))
    if nbad:
        check_finite(H, "H")              # raises ValueError naming H (NaN or inf)
    return Y



def householder_vectors_philox(key, layer: int, trial: int, d: int,
                               method: str = "ziggurat") -> np.ndarray:
    """The packed Householder vectors (layout of ``depthcheck.kernels.random.haar.haar_householder_vectors``) that
    the fused kernels use for hidden layer ``layer`` of trial ``trial`` under the Philox ``key``:
    the normals of stream (layer, trial, 0) fill x_0 (d entries), x_1 (d−1 entries), ... in
    order. ``depthcheck.kernels.random.haar.apply_householder_haar(V, H)`` then reproduces the kernel's W·H."""
    from depthcheck.kernels.random.philox import normal_stream
    d = check_positive_int(d, "d")
    z = normal_stream(key, layer, trial, 0, d * (d + 1) // 2, method)
    V = np.zeros((d, d))
    p = 0
    for k in range(d):
        V[k:, k] = z[p:p + d - k]
        p += d - k
    return V
