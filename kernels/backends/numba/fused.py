"""Backend "numba": fused CPU chain kernels, parallel over Monte Carlo trials.

Two ways in:

* ``simulate_chain_numba(X, depth, ...)`` (also ``NumbaChainBackend.run_fused``): one compiled
  kernel runs the whole L-layer chain of each trial (``numba.prange`` over trials, each trial's
  H, its Householder vectors and the statistics' Gram matrix in per-thread buffers that stay in
  cache), drawing the weights in-kernel from the counter-based Philox4x32-10 generator
  (``depthcheck.kernels.random.philox``; stream (layer, trial, 0)) and recording the statistics every k layers.
  Memory: O(B·R) for the statistics plus O(threads·(d² + d n + n²)) work space — independent
  of the depth L. With ``gradients=True`` the whole chain is also backpropagated in-kernel
  (``depthcheck.kernels.backends.numba.fused_grad``: checkpoints every k_c layers, segments recomputed, weights
  regenerated from their Philox streams, readout ``depthcheck.kernels.random.philox.readout_philox``), adding
  O(threads·(k_c + L/k_c)·d n) work space.
* ``NumbaChainBackend`` per-layer methods for ``depthcheck.kernels.simulate_chain``'s driver: the same
  random numbers as the numpy reference (the Householder vectors come from the layer's numpy
  generator), the Haar weights kept as their Householder vectors and applied (and transposed,
  in the backward pass) by the blocked compact-WY kernel below instead of being formed. Equal to
  the numpy backend to rounding, gradients included.

Layer algebra (as ``depthcheck.kernels.backends.numpy``; seed 001 eq. (3), residual form seed 002 eq. (1)):
A_l = W_l H_{l-1} (or H_{l-1} + γ W_l H_{l-1}); norm_act: H_l = act(g_l·norm(A_l));
act_norm: H_l = norm(act(g_l·A_l)); norm ∈ {none, bn, bn_nomean, rownorm} (``depthcheck.kernels.nn.norms``),
act ∈ ``depthcheck.kernels.nn.activations.ACTIVATIONS``. Haar W_l = P_1 ⋯ P_{d-1} D from Gaussian Householder
vectors (Stewart 1980; ``depthcheck.kernels.random.haar.apply_haar``), applied in compact-WY blocks
(``depthcheck.kernels.random.householder``) with BLAS ``dgemm`` on per-thread buffers (scipy's cython BLAS,
limited to one thread inside the parallel loop). Gaussian / uniform W_l: d×d i.i.d. entries
(N(0, σ²) / uniform[−√3σ, √3σ]) from the same stream, then one ``dgemm``.

Statistics at the recorded layers (definitions in ``depthcheck.kernels.chain.statistics``): G = the smaller Gram
(HᵀH if n <= d) by ``dsyrk``; isometry gap φ = log(tr G/n) − (1/n) log det G from the LAPACK
Cholesky factor of G/(tr G/n) (+inf when n > d, when Cholesky fails or a pivot is below
10·n·eps of its diagonal entry, as ``depthcheck.theory.isometry.isometry_gap``); r(H) = tr(G)²/‖G‖_F²;
‖M‖_F² = ‖G‖_F²/n²; soft rank and top singular values from the eigenvalues of G
(σ_i² = λ_i(G); soft rank = #{λ_i(G)·d/tr G > τ}); row-norm CV of the normalisation's input.
Degenerate layers (zero row before a norm, zero variance for bn, non-finite values) stop the
trial and raise ``ChainBreakdownError`` naming the layer and trial, like the numpy driver.
"""
from __future__ import annotations

import math

import numpy as np
import llvmlite.binding as _llvm
from numba import njit, prange, types
from numba.extending import get_cython_function_address

from depthcheck.theory._checks import as_float_array, check_positive_int
from depthcheck.kernels.nn import activations as _act
from depthcheck.kernels.nn import norms as _norms
from depthcheck.kernels.backends.numpy import NumpyChainBackend, _T
from depthcheck.kernels.random.haar import haar_householder_vectors
from depthcheck.kernels.random.philox import (_ZBUF, METHODS, _fill_normals, key_from_root, philox_key)

__all__ = ["simulate_chain_numba", "NumbaChainBackend", "HouseholderWeights",
           "haar_apply_batch", "apply_haar_philox", "householder_vectors_philox", "FUSED_STATISTICS",
           "NORM_CODES", "ACT_CODES", "WEIGHT_CODES", "blas_single_thread"]

from depthcheck.kernels.random import philox as _philox_module
from depthcheck.kernels.backends.numba._cache import source_fingerprint

#: hash of kernels/random/philox.py, closed over by the cached entry kernels (see depthcheck.kernels.backends.numba._cache)
_PHILOX_FP = source_fingerprint(_philox_module)

NORM_CODES = {"none": 0, "bn": 1, "bn_nomean": 2, "rownorm": 3}
ACT_CODES = {"identity": 0, "relu": 1, "leaky_relu": 2, "tanh": 3, "sin": 4, "sigmoid": 5}
WEIGHT_CODES = {"haar": 0, "gaussian": 1, "uniform": 2}
ORDER_CODES = {"norm_act": 0, "act_norm": 1}
#: statistics the fused kernels record (all of ``depthcheck.kernels.chain.statistics.STATISTICS``)
FUSED_STATISTICS = ("isometry_gap", "rank_lower_bound", "soft_rank", "row_norm_cv",
                    "frobenius_M", "top_singular_values")
_STAT_INDEX = {name: i for i, name in enumerate(FUSED_STATISTICS[:5])}
_LEAKY = _act.LEAKY_SLOPE
_EPS = float(np.finfo(np.float64).eps)
_BN_ULPS = _norms._BN_ULPS
_PIVOT_TOL_ULPS = 10.0          # depthcheck.theory.isometry._PIVOT_TOL_ULPS
#: reflections per compact-WY block (measured best at d = 50..100 on this machine)
WY_BLOCK = 16

# error codes reported per trial: (layer, code)
ERR_NONE, ERR_NORM_ZERO, ERR_BN_VARIANCE, ERR_NONFINITE, ERR_RESCALE, ERR_STAT = 0, 1, 2, 3, 4, 5
_ERR_TEXT = {
    ERR_NORM_ZERO: "a row has zero (or non-finite) norm before the normalisation",
    ERR_BN_VARIANCE: "a row has zero variance over the batch before bn",
    ERR_NONFINITE: "the hidden representation is not finite",
    ERR_RESCALE: "the hidden representation has zero or non-finite Frobenius norm",
    ERR_STAT: "a statistic is undefined (all-zero hidden representation)",
}

# --------------------------------------------------------------------------------------------
# BLAS / LAPACK through scipy's cython exports (no allocation, Fortran column-major: a C-order
# (r, c) block with row stride s is the column-major (c, r) matrix with leading dimension s).
# Registered as named symbols (not ctypes pointers) so that the kernels can be cached on disk.
_llvm.add_symbol("depthcheck_dgemm", get_cython_function_address("scipy.linalg.cython_blas",
                                                                   "dgemm"))
_llvm.add_symbol("depthcheck_dsyrk", get_cython_function_address("scipy.linalg.cython_blas",
                                                                   "dsyrk"))
_llvm.add_symbol("depthcheck_dpotrf", get_cython_function_address("scipy.linalg.cython_lapack",
                                                                    "dpotrf"))
_vp = types.voidptr
_dgemm = types.ExternalFunction("depthcheck_dgemm", types.void(*([_vp] * 13)))
_dsyrk = types.ExternalFunction("depthcheck_dsyrk", types.void(*([_vp] * 10)))
_dpotrf = types.ExternalFunction("depthcheck_dpotrf", types.void(*([_vp] * 5)))

_N, _T_, _U, _L = ord("N"), ord("T"), ord("U"), ord("L")


@njit(cache=True)
def _gemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, iw, dw, cw):
    """Column-major C <- alpha op(A) op(B) + beta C; A, B, C are array views (start pointers)."""
    cw[0] = ta
    cw[1] = tb
    iw[0] = m
    iw[1] = n
    iw[2] = k
    iw[3] = lda
    iw[4] = ldb
    iw[5] = ldc
    dw[0] = alpha
    dw[1] = beta
    _dgemm(cw[0:1].ctypes, cw[1:2].ctypes, iw[0:1].ctypes, iw[1:2].ctypes, iw[2:3].ctypes,
           dw[0:1].ctypes, A.ctypes, iw[3:4].ctypes, B.ctypes, iw[4:5].ctypes, dw[1:2].ctypes,
           C.ctypes, iw[5:6].ctypes)


@njit(cache=True)
def _gram(H, G, small_is_n, iw, dw, cw):
    """Upper triangle (C-order) of the smaller Gram: HᵀH (n×n) if small_is_n else HHᵀ (d×d)."""
    d, n = H.shape
    # H C-order = column-major Hc = Hᵀ (n×d, ld n). HᵀH = Hc Hcᵀ ('N'); HHᵀ = Hcᵀ Hc ('T').
    # The column-major lower triangle of a symmetric result is the C-order upper triangle.
    cw[0] = _L
    if small_is_n:
        cw[1] = _N
        iw[0] = n
        iw[1] = d
    else:
        cw[1] = _T_
        iw[0] = d
        iw[1] = n
    iw[2] = n            # lda
    iw[3] = G.shape[0]   # ldc
    dw[0] = 1.0
    dw[1] = 0.0
    _dsyrk(cw[0:1].ctypes, cw[1:2].ctypes, iw[0:1].ctypes, iw[1:2].ctypes, dw[0:1].ctypes,
           H.ctypes, iw[2:3].ctypes, dw[1:2].ctypes, G.ctypes, iw[3:4].ctypes)


@njit(cache=True)
def _cholesky_upper(G, iw, cw):
    """In place: C-order upper triangle of G (= column-major lower) -> its Cholesky factor.
    Returns LAPACK's info (0 on success)."""
    cw[0] = _L
    iw[0] = G.shape[0]
    iw[1] = G.shape[0]
    iw[2] = 0
    _dpotrf(cw[0:1].ctypes, iw[0:1].ctypes, G.ctypes, iw[1:2].ctypes, iw[2:3].ctypes)
    return iw[2]


# --------------------------------------------------------------------------------------------
# Householder vectors and the compact-WY application (see depthcheck.kernels.random.householder for the algebra)
@njit(cache=True)
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


@njit(cache=True)
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


@njit(cache=True)
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


@njit(cache=True)
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


@njit(cache=True)
def _packed_to_rows(X, R):
    """Packed columns (depthcheck.kernels.random.haar layout: x_k in X[k:, k]) -> rows R[k, k:] = x_k."""
    d = X.shape[0]
    for k in range(d):
        for i in range(k, d):
            R[k, i] = X[i, k]


@njit(cache=True)
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


@njit(parallel=True, cache=True)
def _haar_apply_batch(V, Y, transpose, nb):
    """Y[b] <- W_b Y[b] (or W_bᵀ Y[b]) in place for packed vectors V (B, d, d), prange over b."""
    for b in prange(Y.shape[0]):
        bi = np.int64(b)
        _haar_apply_one(V[bi], Y[bi], transpose, nb)


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


def _make_haar_philox_batch(_PHILOX_FP):
    @njit(parallel=True, cache=True)
    def _haar_philox_batch(Y, k0, k1, layer, method, nb, H=None):
        """Y[b] <- W_b Y[b] in place, or, given H (same shape), Y[b] <- W_b H[b] with the copy
        done per trial inside the parallel loop (in parallel, first-touching Y's fresh pages on the
        thread that uses them, leaving Y[b] in that core's cache) and H's non-finite entries
        counted on the way (returned; 0 without H), so that the caller's input check costs no
        serial pass over H."""
        if _PHILOX_FP < 0:                   # never: ties the disk cache to kernels/random/philox.py
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


_haar_philox_batch = _make_haar_philox_batch(_PHILOX_FP)


_CONTROLLER = []


def _controller():
    """A cached threadpoolctl controller (building one scans the loaded libraries: ~10 ms)."""
    if not _CONTROLLER:
        try:
            import scipy.linalg.cython_blas  # noqa: F401  (load it so the limit reaches it)
            from threadpoolctl import ThreadpoolController
            _CONTROLLER.append(ThreadpoolController())
        except ImportError:  # pragma: no cover
            _CONTROLLER.append(None)
    return _CONTROLLER[0]


class blas_single_thread:
    """Context manager: BLAS limited to one thread (the kernels parallelise over trials; a
    threaded BLAS inside each of them oversubscribes the cores). No-op without threadpoolctl."""

    def __enter__(self):
        ctl = _controller()
        self._ctx = None if ctl is None else ctl.limit(limits=1, user_api="blas")
        return self

    def __exit__(self, *exc):
        if self._ctx is not None:
            self._ctx.restore_original_limits()
        return False


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


# --------------------------------------------------------------------------------------------
# elementwise layer parts
@njit(cache=True, inline="always")
def _act_f(code, x):
    if code == 0:
        return x
    if code == 1:
        return x if x > 0 else 0.0
    if code == 2:
        return x if x > 0 else _LEAKY * x
    if code == 3:
        return math.tanh(x)
    if code == 4:
        return math.sin(x)
    if x >= 0:                       # sigmoid, accurate in both tails (as scipy's expit)
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@njit(cache=True)
def _normalise_rows(code, Z, rn):
    """In place Z <- norm(Z) row by row; rn[i] <- ‖Z_i‖ of the input (for the row-norm CV).
    Returns an error code (0 = fine)."""
    d, n = Z.shape
    for i in range(d):
        s2 = 0.0
        for c in range(n):
            s2 += Z[i, c] * Z[i, c]
        rn[i] = math.sqrt(s2)
    if code == 0:
        return ERR_NONE
    for i in range(d):
        if code == 1:
            mu = 0.0
            zmax = Z[i, 0]
            zmin = Z[i, 0]
            for c in range(n):
                mu += Z[i, c]
                zmax = max(zmax, Z[i, c])
                zmin = min(zmin, Z[i, c])
            mu /= n
            v = 0.0
            for c in range(n):
                v += (Z[i, c] - mu) ** 2
            sd = math.sqrt(v / n)
            tol = _BN_ULPS * _EPS * max(abs(zmax), abs(zmin))
            if zmax == zmin or not sd > tol:
                return ERR_BN_VARIANCE
            inv = 1.0 / sd
            for c in range(n):
                Z[i, c] = (Z[i, c] - mu) * inv
        else:
            sc = rn[i] if code == 3 else rn[i] / math.sqrt(n)
            if not (sc > 0 and sc < np.inf):
                return ERR_NORM_ZERO
            inv = 1.0 / sc
            for c in range(n):
                Z[i, c] *= inv
    return ERR_NONE


@njit(cache=True)
def _nonlinear(A, norm_code, act_code, order_code, g, rn):
    """In place A <- the layer's norm/gain/activation part (depthcheck.kernels.backends.numpy.nonlinear);
    rn <- row norms of the normalisation's input. Returns an error code."""
    d, n = A.shape
    if order_code == 0:
        err = _normalise_rows(norm_code, A, rn)
        if err != ERR_NONE:
            return err
        for i in range(d):
            for c in range(n):
                A[i, c] = _act_f(act_code, g * A[i, c])
        return ERR_NONE
    for i in range(d):
        for c in range(n):
            A[i, c] = _act_f(act_code, g * A[i, c])
    return _normalise_rows(norm_code, A, rn)


# --------------------------------------------------------------------------------------------
# statistics
@njit(cache=True)
def _record(H, rn, G, diag, want, tau, n_sing, stats, top, j, iw, dw, cw):
    """Statistics of H into stats[:, j] / top[j] (want[i] flags FUSED_STATISTICS[i]).
    Returns an error code."""
    d, n = H.shape
    small_is_n = n <= d
    k = n if small_is_n else d
    need_gram = want[0] or want[1] or want[2] or want[4] or want[5]
    if need_gram:
        _gram(H, G, small_is_n, iw, dw, cw)
        tr = 0.0
        fro2 = 0.0
        for a in range(k):
            tr += G[a, a]
            fro2 += G[a, a] * G[a, a]
            for b in range(a + 1, k):
                fro2 += 2.0 * G[a, b] * G[a, b]
        if want[1]:
            if fro2 == 0.0:
                return ERR_STAT
            stats[1, j] = tr * tr / fro2
        if want[4]:
            stats[4, j] = fro2 / (n * n)
        if want[2] or want[5]:
            Gs = np.empty((k, k))
            for a in range(k):
                for b in range(a, k):
                    Gs[a, b] = G[a, b]
                    Gs[b, a] = G[a, b]
            lam = np.linalg.eigvalsh(Gs)            # ascending
            if want[2]:
                cnt = 0
                if tr > 0:
                    for a in range(k):
                        if lam[a] * d / tr > tau:
                            cnt += 1
                stats[2, j] = cnt
            if want[5]:
                for a in range(n_sing):
                    top[j, a] = math.sqrt(max(lam[k - 1 - a], 0.0))
        if want[0]:
            if n > d or not tr > 0:
                stats[0, j] = np.inf
            else:
                sc = n / tr
                for a in range(n):
                    for b in range(a, n):
                        G[a, b] *= sc
                    diag[a] = G[a, a]
                info = _cholesky_upper(G, iw, cw)
                if info != 0:
                    stats[0, j] = np.inf
                else:
                    tol = _PIVOT_TOL_ULPS * n * _EPS
                    ld = 0.0
                    ok = True
                    for a in range(n):
                        piv = G[a, a] * G[a, a]
                        if not piv > tol * diag[a]:
                            ok = False
                        ld += math.log(piv)
                    stats[0, j] = max(-ld / n, 0.0) if ok else np.inf
    if want[3]:
        mu = 0.0
        for i in range(d):
            mu += rn[i]
        mu /= d
        v = 0.0
        for i in range(d):
            v += (rn[i] - mu) ** 2
        stats[3, j] = math.sqrt(v / d) / mu if mu > 0 else np.nan
        if not mu > 0:
            return ERR_STAT
    return ERR_NONE


# one layer's weights, linear part and hand-over (shared by the forward and the gradient kernel)
@njit
def _draw(l, b, k0, k1, method, wcode, std, R, tau_v, D, z, zbuf):
    """R <- W_l of trial b: Haar unit reflector rows (+ tau_v, D) or the d×d matrix W_l."""
    d = R.shape[0]
    _fill_normals(z, method, k0, k1, np.uint64(l), np.uint64(b), np.uint64(0), zbuf)
    if wcode == 0:
        p = 0
        for kk in range(d):
            for i in range(kk, d):
                R[kk, i] = z[p]
                p += 1
        _unit_rows(R, tau_v, D)
    else:
        for i in range(d):
            for kk in range(d):
                R[i, kk] = std * z[i * d + kk]
        if wcode == 2:
            for i in range(d):
                for kk in range(d):
                    u = math.erf(z[i * d + kk] / math.sqrt(2.0))
                    R[i, kk] = std * math.sqrt(3.0) * u


@njit(cache=True)
def _linear(H, A, R, tau_v, D, wcode, has_res, gamma, nb, T, S, W1, W2, iw, dw, cw):
    """A <- W_l H (residual: H + γ W_l H) for the weights in R."""
    d, n = H.shape
    if wcode == 0:
        for i in range(d):
            for c in range(n):
                A[i, c] = H[i, c]
        _wy_apply(A, R, tau_v, D, False, nb, T, S, W1, W2, iw, dw, cw)
    else:
        _gemm(_N, _N, n, d, d, 1.0, H, n, R, d, 0.0, A, n, iw, dw, cw)
    if has_res:
        for i in range(d):
            for c in range(n):
                A[i, c] = H[i, c] + gamma * A[i, c]


@njit(cache=True)
def _linear_T(dA, out, R, tau_v, D, wcode, has_res, gamma, nb, T, S, W1, W2, iw, dw, cw):
    """out <- W_lᵀ dA (residual: dA + γ W_lᵀ dA)."""
    d, n = dA.shape
    if wcode == 0:
        for i in range(d):
            for c in range(n):
                out[i, c] = dA[i, c]
        _wy_apply(out, R, tau_v, D, True, nb, T, S, W1, W2, iw, dw, cw)
    else:
        # column-major outᵀ (n×d) = dAᵀ W: R C-order is the column-major Wᵀ, so op = 'T'
        _gemm(_N, _T_, n, d, d, 1.0, dA, n, R, d, 0.0, out, n, iw, dw, cw)
    if has_res:
        for i in range(d):
            for c in range(n):
                out[i, c] = dA[i, c] + gamma * out[i, c]


@njit(cache=True)
def _finish(A, H, rescale):
    """H <- A, rescaled to unit Frobenius norm if ``rescale``. Returns (error code, log s)."""
    d, n = A.shape
    s2 = 0.0
    for i in range(d):
        for c in range(n):
            v = A[i, c]
            H[i, c] = v
            s2 += v * v
    if rescale:
        s = math.sqrt(s2)
        if not (s > 0 and s < np.inf):
            return ERR_RESCALE, 0.0
        inv = 1.0 / s
        for i in range(d):
            for c in range(n):
                H[i, c] *= inv
        return ERR_NONE, math.log(s)
    if not (s2 < np.inf):
        return ERR_NONFINITE, 0.0
    return ERR_NONE, 0.0


@njit(cache=True)
def _start(X, xb, A, H, rn, rescale):
    """Layer 0 of a trial: H <- X[xb] (rescaled to unit Frobenius norm if ``rescale``, A is
    work space), rn <- the row norms of X (the layer-0 row-norm CV). Returns (error, log c_0)."""
    d, n = H.shape
    for i in range(d):
        s2 = 0.0
        for c in range(n):
            v = X[xb, i, c]
            A[i, c] = v
            s2 += v * v
        rn[i] = math.sqrt(s2)
    return _finish(A, H, rescale)


@njit(cache=True)
def _record_layer(H, rn, G, diag, want, tau, n_sing, st, tp, jj, iw, dw, cw, log_c, ls_row):
    """The statistics of H at record slot jj (``_record``) and, for norm-free chains (want[6]),
    log‖H‖_F of the unrescaled network (log c + log of the rescaled norm). Returns the error."""
    e = _record(H, rn, G, diag, want, tau, n_sing, st, tp, jj, iw, dw, cw)
    if e == ERR_NONE and want[6]:
        d, n = H.shape
        s2 = 0.0
        for i in range(d):
            for c in range(n):
                s2 += H[i, c] * H[i, c]
        ls_row[jj] = log_c + 0.5 * math.log(s2) if s2 > 0 else -np.inf
    return e


# --------------------------------------------------------------------------------------------
# the fused forward chain
@njit
def _trial_forward(b, X, depth, k0, k1, method, wcode, std, norm_code, act_code, order_code,
                   gains, has_res, gamma, rescale, record_every, want, tau, n_sing, nb,
                   stats, top, log_scale, err, kc, cps, cpl, Hout):
    """One trial of the fused forward chain (outputs of trial b written in place).

    With ``kc > 0`` (the gradient kernel, ``depthcheck.kernels.backends.numba.fused_grad``) H_l and its log-scale
    are also stored every kc layers in ``cps``/``cpl`` (l = 0, kc, 2kc, ... < depth) and the
    last H_L in ``Hout``; returns log c_L (the log of the factor removed by rescaling)."""
    d, n = X.shape[1], X.shape[2]
    small = n if n <= d else d
    kbmax = max(1, min(nb, d - 1))
    nz = d * (d + 1) // 2 if wcode == 0 else d * d
    xb = np.int64(b) if X.shape[0] > 1 else np.int64(0)
    H = np.empty((d, n))
    A = np.empty((d, n))
    R = np.zeros((d, d))
    z = np.empty(nz)
    zbuf = np.empty(_ZBUF, np.uint64)
    tau_v = np.empty(d)
    D = np.empty(d)
    T = np.empty((kbmax, kbmax))
    S = np.empty((kbmax, kbmax))
    W1 = np.empty((kbmax, n))
    W2 = np.empty((kbmax, n))
    G = np.empty((small, small))
    diag = np.empty(small)
    rn = np.empty(d)
    iw = np.empty(8, np.int32)
    dw = np.empty(2)
    cw = np.empty(2, np.uint8)
    st = stats[b]
    tp = top[b]
    err[b, 0] = -1
    err[b, 1] = ERR_NONE
    e, log_c = _start(X, xb, A, H, rn, rescale)
    if e != ERR_NONE:
        err[b, 0] = 0
        err[b, 1] = e
        return log_c
    for l in range(0, depth + 1):
        if l > 0:
            # A = W_l H (stream (l, b, 0)), norm / gain / activation, H <- A (rescaled)
            _draw(l, b, k0, k1, method, wcode, std, R, tau_v, D, z, zbuf)
            _linear(H, A, R, tau_v, D, wcode, has_res, gamma, nb, T, S, W1, W2, iw, dw, cw)
            e = _nonlinear(A, norm_code, act_code, order_code, gains[l - 1], rn)
            if e == ERR_NONE:
                e, ls = _finish(A, H, rescale)
                log_c += ls
            if e != ERR_NONE:
                err[b, 0] = l
                err[b, 1] = e
                return log_c
        if l % record_every == 0:
            e = _record_layer(H, rn, G, diag, want, tau, n_sing, st, tp, l // record_every,
                              iw, dw, cw, log_c, log_scale[b])
            if e != ERR_NONE:
                err[b, 0] = l
                err[b, 1] = e
                return log_c
        if kc > 0 and l % kc == 0 and l < depth:
            cps[l // kc] = H
            cpl[l // kc] = log_c
    if kc > 0:
        Hout[:, :] = H
    return log_c


def _make_fused_forward(_PHILOX_FP):
    @njit(parallel=True, cache=True)
    def _fused_forward(X, depth, B, k0, k1, method, wcode, std, norm_code, act_code, order_code,
                       gains, has_res, gamma, rescale, record_every, want, tau, n_sing, nb,
                       stats, top, log_scale, err):
        """stats (B, 5, R), top (B, R, n_sing), log_scale (B, R), err (B, 2): per-trial outputs."""
        if _PHILOX_FP < 0:                   # never: ties the disk cache to kernels/random/philox.py
            return
        no_cps = np.empty((1, 1, 1))
        no_cpl = np.empty(1)
        no_H = np.empty((1, 1))
        for b in prange(B):
            _trial_forward(np.int64(b), X, depth, k0, k1, method, wcode, std, norm_code, act_code,
                           order_code, gains, has_res, gamma, rescale, record_every, want, tau,
                           n_sing, nb, stats, top, log_scale, err, 0, no_cps, no_cpl, no_H)
    return _fused_forward


_fused_forward = _make_fused_forward(_PHILOX_FP)


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


def simulate_chain_numba(X, depth, *, trials, rng, weights="haar", norm="rownorm",
                         activation="identity", order="norm_act", gains=None, gain_exponent=None,
                         residual=None, weight_std=None, record_every=1, record=None, tau=0.5,
                         gradients=False, labels=None, n_out=10, checkpoint_every=None,
                         n_singular=10, progress=False, method="ziggurat",
                         block=WY_BLOCK) -> dict:
    """The fused numba chain with ``depthcheck.kernels.simulate_chain``'s arguments and output dictionary.

    Same law as ``simulate_chain`` (different random numbers: Philox4x32-10 with the
    ``method`` normal transform, key drawn from ``rng``), gradients included: with
    ``gradients=True`` (``depthcheck.kernels.backends.numba.fused_grad``) the readout is
    ``depthcheck.kernels.random.philox.readout_philox(key, trials, n_out, d, method)`` and ``labels``, when None,
    are drawn from ``rng`` after the key. ``progress`` is ignored (one compiled call).
    """
    from depthcheck.kernels.chain import driver as _chain
    if record is None:
        record = _chain.DEFAULT_RECORD
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not one of {tuple(METHODS)}")
    block = check_positive_int(block, "block")
    spec, X, record, labels, k_c, _, tau = _chain._validate(
        X, depth, trials, rng, weights, norm, activation, order, gains, gain_exponent, residual,
        weight_std, record_every, record, tau, gradients, labels, n_out, checkpoint_every,
        "full", "numpy", n_singular, progress)
    key = philox_key(rng)
    if gradients and labels is None:
        labels = rng.integers(0, spec.n_out, size=spec.n)
    return run_fused(spec, X, key, record, record_every, tau, n_singular, method, block,
                     gradients=bool(gradients), labels=labels, checkpoint_every=k_c)


def _stat_buffers(spec, record, record_every, n_singular):
    """Recorded layers, the kernels' ``want`` flags (5 statistics, top singular values,
    log_scale) and NaN-filled output buffers (B, 5, R) / (B, R, k) / (B, R) (length-1 dummies
    for what is not recorded), shared by the fused kernels' Python entry points."""
    B, d, n, L = spec.trials, spec.d, spec.n, spec.depth
    layers = np.arange(0, L + 1, record_every)
    Rn = layers.size
    want = np.zeros(7, dtype=np.bool_)
    for name in record:
        if name == "top_singular_values":
            want[5] = True
        else:
            want[_STAT_INDEX[name]] = True
    want[6] = spec.norm == "none"
    k_sing = min(n_singular, d, n)
    stats = np.full((B, 5, Rn), np.nan)
    top = np.full((B, Rn if want[5] else 1, k_sing), np.nan)
    log_scale = np.full((B, Rn if want[6] else 1), np.nan)
    return layers, want, k_sing, stats, top, log_scale


def _collect(spec, record, layers, k_sing, stats, top, log_scale) -> dict:
    """``depthcheck.kernels.simulate_chain``'s output dictionary from the kernels' buffers."""
    out = {"layers": layers}
    for name in record:
        if name == "top_singular_values":
            out[name] = top[:, :, :k_sing].copy()
        elif name == "soft_rank":
            out[name] = stats[:, _STAT_INDEX[name], :].astype(np.int64)
        else:
            out[name] = stats[:, _STAT_INDEX[name], :].copy()
    if spec.norm == "none":
        out["log_scale"] = log_scale
    return out


def run_fused(spec, X, key, record, record_every, tau, n_singular, method="ziggurat",
              block=WY_BLOCK, *, gradients=False, labels=None, checkpoint_every=None) -> dict:
    """Run the fused kernel for a validated ``ChainSpec`` (depthcheck.kernels.backends.numpy) and Philox key;
    ``gradients=True`` dispatches to ``depthcheck.kernels.backends.numba.fused_grad.run_fused_grad`` (``labels``
    ``(n,)`` required, ``checkpoint_every`` default ⌈√L⌉)."""
    if gradients:
        from depthcheck.kernels.backends.numba.fused_grad import run_fused_grad
        return run_fused_grad(spec, X, key, record, record_every, tau, n_singular, method,
                              block, labels=labels, checkpoint_every=checkpoint_every)
    from depthcheck.kernels.chain.errors import ChainBreakdownError
    B, L = spec.trials, spec.depth
    layers, want, k_sing, stats, top, log_scale = _stat_buffers(spec, record, record_every,
                                                                n_singular)
    err = np.empty((B, 2), dtype=np.int64)
    Xb = np.ascontiguousarray(X if X.ndim == 3 else X[None], dtype=np.float64)
    gamma = 0.0 if spec.residual is None else float(spec.residual)
    with blas_single_thread():
        _fused_forward(Xb, L, B, np.uint64(key[0]), np.uint64(key[1]), METHODS[method],
                       WEIGHT_CODES[spec.weights], float(spec.weight_std), NORM_CODES[spec.norm],
                       ACT_CODES[spec.activation], ORDER_CODES[spec.order],
                       np.ascontiguousarray(spec.gains, dtype=np.float64),
                       spec.residual is not None, gamma, bool(spec.rescale), int(record_every),
                       want, float(tau), int(k_sing), int(block), stats, top, log_scale, err)
    bad = np.flatnonzero(err[:, 1] != ERR_NONE)
    if bad.size:
        b = int(bad[np.argmin(err[bad, 0])])
        raise ChainBreakdownError(f"layer {int(err[b, 0])}, trial {b}: "
                                  f"{_ERR_TEXT[int(err[b, 1])]}; the chain is degenerate")
    out = _collect(spec, record, layers, k_sing, stats, top, log_scale)
    return out


# --------------------------------------------------------------------------------------------
class HouseholderWeights:
    """A batch of Haar weights kept as packed Householder vectors ``(B, d, d)``; ``@`` applies
    them with the numba compact-WY kernel, ``.T @`` applies the transposes (W⁻¹)."""
    __array_priority__ = 1000

    def __init__(self, vectors: np.ndarray, transpose: bool = False):
        self.vectors = vectors
        self.transpose = transpose

    @property
    def T(self):
        return HouseholderWeights(self.vectors, not self.transpose)

    def __matmul__(self, H):
        Y = np.array(H, dtype=np.float64, order="C", copy=True)
        with blas_single_thread():
            _haar_apply_batch(self.vectors, Y, self.transpose, WY_BLOCK)
        return Y

    def matrix(self) -> np.ndarray:
        """The explicit (B, d, d) matrices (for checks)."""
        B, d, _ = self.vectors.shape
        return self @ np.broadcast_to(np.eye(d), (B, d, d))


class NumbaChainBackend(NumpyChainBackend):
    """Backend "numba" for ``depthcheck.kernels.simulate_chain``.

    Per-layer methods: as ``NumpyChainBackend`` (same random numbers) except that Haar weights
    are ``HouseholderWeights`` applied by the numba/BLAS compact-WY kernel (~2d²n flops per
    trial instead of forming W, ~(4/3)d³ + 2d²n). ``fused``/``run_fused`` expose the fused
    kernel, forward or with gradients (different random stream, same law), to a driver.
    """

    name = "numba"

    def weight(self, spec, gen):
        if spec.weights == "haar":
            return HouseholderWeights(haar_householder_vectors((spec.trials,), spec.d, gen))
        return super().weight(spec, gen)

    def linear(self, spec, H, *, W=None, gen=None):
        if W is None:
            W = self.weight(spec, gen)
        WH = W @ H
        if spec.residual is not None:
            return H + spec.residual * WH
        return WH

    def backward(self, spec, l, W, out, dH):
        g = spec.gains[l - 1]
        if spec.order == "norm_act":
            dA = _norms._backward(out.cache, g * (_act._derivative(spec.activation, out.P) * dH))
        else:
            dA = g * (_act._derivative(spec.activation, out.P) * _norms._backward(out.cache, dH))
        dWA = W.T @ dA if isinstance(W, HouseholderWeights) else _T(W) @ dA
        dH_prev = dA + spec.residual * dWA if spec.residual is not None else dWA
        return dA, dH_prev

    # ---- fused path -------------------------------------------------------------------------
    @staticmethod
    def fused(spec, record, gradients) -> bool:
        """Whether ``run_fused`` handles this configuration: every one (all statistics, with
        or without gradients)."""
        return True

    @staticmethod
    def run_fused(spec, X, root, *, record, record_every, tau, n_singular, gradients=False,
                  labels=None, checkpoint_every=None, **_) -> dict:
        """The fused kernel for a driver (``depthcheck.kernels.chain.driver``); the Philox key is derived from
        the driver's ``root`` (SeedSequence(root, spawn_key=(2**31,))), ``labels`` are the
        driver's (drawn from its rng)."""
        return run_fused(spec, X, key_from_root(root), record, record_every, tau, n_singular,
                         gradients=bool(gradients), labels=labels,
                         checkpoint_every=checkpoint_every)

