"""Backend "numba" of the BN residual chains of Daneshmand et al. (2020, arXiv:2003.01652): the
rank chain (and through it the covariance chain), the QR Lyapunov estimate and the one-step
drift of ‖M‖_F².

The numpy reference is ``depthcheck.kernels.chain.rank`` (``rank_chain``, ``covariance_chain``,
``lyapunov_qr``, ``one_step_drift``), which validates every argument and then calls the entry
points below with ``backend="numba"``; the recursions, weight laws, norms and statistics are
its, written once more as compiled loops:

* one kernel runs a whole chain per trial (``numba.prange`` over trials, each trial's H, A, W,
  M and the statistics' work space in per-thread buffers; a call of fewer than about 2·10⁸
  operations runs on one thread, as waking the pool costs more there); per layer one BLAS ``dgemm`` of
  (d×d)(d×n) for W H (``depthcheck.kernels.backends.numba.blas``, limited to one thread inside
  the parallel loop), then one fused pass per row: residual γ·(W H) + H, centring, the norm
  and the activation, written over H in place;
* random numbers: one xoshiro256++ generator (Blackman & Vigna 2018, "Scrambled linear
  pseudorandom number generators", arXiv:1805.01407) per trial (per draw for the drift),
  its 256-bit state the Philox4x32-10 output (``depthcheck.kernels.random.philox``) of
  counters (0, 0, trial, stream) and (1, 0, trial, stream) under a key drawn from the caller's
  ``rng``; the weights of layers 1, 2, ... are consecutive blocks of d² numbers of that
  stream: gaussian N(0, 1) by numpy's ziggurat (its tables and bit layout, as the Philox
  kernels); uniform −√3 + 2√3·u and uniform_pos 2√3·u with u = (word >> 11)·2⁻⁵³ ∈ [0, 1)
  (numpy's ``uniform(low, high)`` arithmetic); then × scale, + mean, in the reference's order;
* the statistics at the recorded layers are the reference's formulas on M = H Hᵀ/n (M by
  ``dgemm``, tr M³ through M·M); the soft ranks #{λ_i(M) > t} by Sylvester's law of inertia,
  the number of positive eigenvalues of the Bunch–Kaufman factor D of M − t I (LAPACK
  ``dsytrf``: a backward-stable count, without the eigenvalues); "top_eigs" by
  ``numpy.linalg.eigvalsh``; "rank" and "log_sv" from the singular values of H alone (LAPACK
  ``dgesdd`` with jobz = 'N', the routine of ``numpy.linalg.svd(compute_uv=False)`` in the
  reference; "log_sv" alone of a matrix with at most 6 rows or columns by one-sided Jacobi,
  cheaper than the call there), the numerical rank with ``matrix_rank``'s tolerance;
* ``lyapunov_qr``: A_l Q_{l−1} = Q_l R_l by Householder QR of the transpose storage (the
  columns of A_l Q_{l−1} are contiguous rows): below d = 16 unit-stride loops, from d = 16 on
  LAPACK ``dgeqrf``/``dorgqr`` on the same memory (column-major); only |R_kk| enters, so the
  column signs of Q are immaterial;
* ``one_step_drift``: per draw the products W M and (W M) Wᵀ by ``dgemm`` and the two
  antithetic ‖D M̃ D‖_F² in one pass (``numba.prange`` over draws).

Same law as the reference, different random numbers (equal to rounding on shared weights: the
tests feed the reference the weights of :func:`trial_weights`). A row of zero or non-finite
norm before a normalisation, or a zero/non-finite vanilla chain, stops its trial and raises the
reference's ``ValueError`` (naming layer, row and trial). Complex Lyapunov products are not
implemented here: ``depthcheck.kernels.chain.rank.lyapunov_qr`` refuses them by name
(``UnsupportedEngineError``).
"""
from __future__ import annotations

import math
import sys

import llvmlite.binding as _llvm
import numba
import numpy as np
from numba import njit, prange, types
from numba.extending import get_cython_function_address

from depthcheck.kernels.backends.numba._jit import njit_noalloc
from depthcheck.kernels.backends.numba import blas as _blas
from depthcheck.kernels.backends.numba._cache import source_fingerprint
from depthcheck.kernels.backends.numba.blas import _N, _T_, _gemm, blas_single_thread
from depthcheck.kernels.random import philox as _philox
from depthcheck.kernels.random.philox import _FI, _KI, _WI, _ZIG_INV_R, _ZIG_R, _philox_cpu, philox_key

__all__ = ["RANK_STATISTICS", "rank_chain_numba", "lyapunov_qr_numba", "one_step_drift_numba",
           "trial_weights"]

#: the statistics of ``depthcheck.kernels.chain.rank.STATISTICS`` in the kernel's order: the
#: first eight are scalars (slot = index), then "top_eigs" and "log_sv"
RANK_STATISTICS = ("rank_lower_bound", "frobenius_M", "g1", "g2", "offdiag",
                   "soft_rank_unscaled", "soft_rank_singular_unscaled", "rank", "top_eigs",
                   "log_sv")
_N_SCALAR = 8
_WEIGHT_CODES = {"gaussian": 0, "uniform": 1, "uniform_pos": 2}
_NORM_CODES = {"none": 0, "bn": 1, "bn_nomean": 2, "rownorm": 3}
#: the Philox counter word c3 that seeds each function's generators
STREAMS = {"rank_chain": 0, "lyapunov_qr": 1, "one_step_drift": 2}
_EPS = float(np.finfo(np.float64).eps)
_SQ3 = math.sqrt(3.0)

# LAPACK through scipy's cython exports, as named symbols (cacheable; see blas.py)
_llvm.add_symbol("depthcheck_dsytrf", get_cython_function_address("scipy.linalg.cython_lapack",
                                                                    "dsytrf"))
_llvm.add_symbol("depthcheck_dgesdd", get_cython_function_address("scipy.linalg.cython_lapack",
                                                                    "dgesdd"))
_vp = types.voidptr
_dsytrf = types.ExternalFunction("depthcheck_dsytrf", types.void(*([_vp] * 8)))
_dgesdd = types.ExternalFunction("depthcheck_dgesdd", types.void(*([_vp] * 14)))
_llvm.add_symbol("depthcheck_dgeqrf", get_cython_function_address("scipy.linalg.cython_lapack",
                                                                    "dgeqrf"))
_llvm.add_symbol("depthcheck_dorgqr", get_cython_function_address("scipy.linalg.cython_lapack",
                                                                    "dorgqr"))
_dgeqrf = types.ExternalFunction("depthcheck_dgeqrf", types.void(*([_vp] * 8)))
_dorgqr = types.ExternalFunction("depthcheck_dorgqr", types.void(*([_vp] * 9)))
#: from this width on, lyapunov_qr factors with LAPACK (blocked dgeqrf/dorgqr); below it the
#: unit-stride loops of ``_qr_rows`` are faster (no call overhead)
_LAPACK_QR_MIN_D = 16

_U8 = np.uint64(8)
_U11 = np.uint64(11)
_U17 = np.uint64(17)
_U19 = np.uint64(19)
_U23 = np.uint64(23)
_U32 = np.uint64(32)
_U41 = np.uint64(41)
_U45 = np.uint64(45)
_ONE = np.uint64(1)
_FF = np.uint64(0xFF)
_MANT = np.uint64(0x000FFFFFFFFFFFFF)
_INV53 = 1.0 / 9007199254740992.0
#: floating-point licence of the loops with sums (vectorised reductions, fused multiply-adds:
#: results change at rounding level only); no nnan/ninf, the breakdown checks need them
_FAST = {"reassoc", "contract"}


# --------------------------------------------------------------------------------------------
# pieces compiled into the entry kernels (uncached: the entries' disk cache closes over the
# fingerprint of this file, Philox and BLAS)
@njit(inline="always")
def _xnext(s0, s1, s2, s3):
    """One xoshiro256++ step: (output, new state)."""
    t0 = s0 + s3
    r = ((t0 << _U23) | (t0 >> _U41)) + s0
    t = s1 << _U17
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = (s3 << _U45) | (s3 >> _U19)
    return r, s0, s1, s2, s3


@njit_noalloc
def _seed(st, k0, k1, b, stream):
    """st (4,) uint64 <- the xoshiro256++ state of generator ``b`` of ``stream`` (Philox
    counters (0, 0, b, stream), (1, 0, b, stream) under the key (k0, k1))."""
    c2 = np.uint64(b)
    c3 = np.uint64(stream)
    a0, a1, a2, a3 = _philox_cpu(np.uint64(0), np.uint64(0), c2, c3, k0, k1)
    e0, e1, e2, e3 = _philox_cpu(_ONE, np.uint64(0), c2, c3, k0, k1)
    st[0] = (a0 << _U32) | a1
    st[1] = (a2 << _U32) | a3
    st[2] = (e0 << _U32) | e1
    st[3] = (e2 << _U32) | e3
    if st[0] == 0 and st[1] == 0 and st[2] == 0 and st[3] == 0:
        st[0] = _ONE                                     # the one forbidden state


@njit_noalloc(error_model="numpy")
def _fill(z, st, wcode, scale, mean):
    """z[:] <- the next z.size weights of the generator st (advanced in place)."""
    s0, s1, s2, s3 = st[0], st[1], st[2], st[3]
    m = z.size
    if wcode == 0:
        i = 0
        while i < m:
            r, s0, s1, s2, s3 = _xnext(s0, s1, s2, s3)
            idx = r & _FF
            r >>= _U8
            sign = r & _ONE
            rabs = (r >> _ONE) & _MANT
            x = (np.float64(np.int64(rabs)) * _WI[idx]) * (1.0 - 2.0 * np.float64(np.int64(sign)))
            if rabs < _KI[idx]:
                z[i] = x
                i += 1
                continue
            if idx == 0:                                 # the tail (numpy's ziggurat)
                while True:
                    w1, s0, s1, s2, s3 = _xnext(s0, s1, s2, s3)
                    w2, s0, s1, s2, s3 = _xnext(s0, s1, s2, s3)
                    xx = -_ZIG_INV_R * math.log1p(-(np.float64(w1 >> _U11) * _INV53))
                    yy = -math.log1p(-(np.float64(w2 >> _U11) * _INV53))
                    if yy + yy > xx * xx:
                        z[i] = -(_ZIG_R + xx) if (rabs >> _U8) & _ONE else _ZIG_R + xx
                        i += 1
                        break
            else:
                w1, s0, s1, s2, s3 = _xnext(s0, s1, s2, s3)
                u = np.float64(w1 >> _U11) * _INV53
                if (_FI[idx - 1] - _FI[idx]) * u + _FI[idx] < math.exp(-0.5 * x * x):
                    z[i] = x
                    i += 1
    else:
        lo = -_SQ3 if wcode == 1 else 0.0
        width = 2.0 * _SQ3
        for i in range(m):
            r, s0, s1, s2, s3 = _xnext(s0, s1, s2, s3)
            z[i] = lo + width * (np.float64(r >> _U11) * _INV53)
    st[0], st[1], st[2], st[3] = s0, s1, s2, s3
    if scale != 1.0:
        for i in range(m):
            z[i] *= scale
    if mean != 0.0:
        for i in range(m):
            z[i] += mean


@njit_noalloc(error_model="numpy", fastmath=_FAST)
def _layer(A, H, has_res, gamma, norm, relu, target):
    """H <- act(norm(γ A + H)) (``has_res``) or act(norm(A)), row by row in place (the
    reference's A *= γ; A += H, then ``_bn``: centre for "bn", divide by √(Σz²/n), or by ‖z‖
    for "rownorm"; the vanilla chain: act(A) rescaled to ‖H‖_F = target). Returns the first
    row of zero or non-finite norm (d for the vanilla chain), or −1."""
    d, n = A.shape
    if norm == 0:
        s2 = 0.0
        for i in range(d):
            for c in range(n):
                v = A[i, c]
                if has_res:
                    v = gamma * v + H[i, c]
                if relu and not v > 0.0:
                    v = 0.0
                H[i, c] = v
                s2 += v * v
        fn = math.sqrt(s2)
        if not (fn > 0.0 and fn < np.inf):
            return d
        f = target / fn
        for i in range(d):
            for c in range(n):
                H[i, c] *= f
        return -1
    for i in range(d):
        mu = 0.0
        if has_res:
            for c in range(n):
                v = gamma * A[i, c] + H[i, c]
                A[i, c] = v
                mu += v
        else:
            for c in range(n):
                mu += A[i, c]
        if norm != 1:
            mu = 0.0
        mu /= n
        ms = 0.0
        for c in range(n):
            v = A[i, c] - mu
            A[i, c] = v
            ms += v * v
        if norm != 3:
            ms /= n
        if not (ms > 0.0 and ms < np.inf):
            return i
        inv = 1.0 / math.sqrt(ms)
        if relu:
            for c in range(n):
                v = A[i, c] * inv
                H[i, c] = v if v > 0.0 else 0.0
        else:
            for c in range(n):
                H[i, c] = A[i, c] * inv
    return -1


@njit_noalloc
def _inertia_above(M, t, Mt, ipiv, work, iw, cw):
    """#{λ_i(M) > t}: the positive eigenvalues of the block-diagonal D of the Bunch–Kaufman
    factorisation M − t I = L D Lᵀ (LAPACK dsytrf; Sylvester's law of inertia)."""
    d = M.shape[0]
    for i in range(d):
        for j in range(d):
            Mt[i, j] = M[i, j]
        Mt[i, i] -= t
    cw[0] = _blas._L                     # column-major lower = C-order upper: M is symmetric
    iw[0] = d
    iw[1] = d
    iw[2] = work.size
    iw[3] = 0
    _dsytrf(cw[0:1].ctypes, iw[0:1].ctypes, Mt.ctypes, iw[1:2].ctypes, ipiv.ctypes,
            work.ctypes, iw[2:3].ctypes, iw[3:4].ctypes)
    cnt = 0
    k = 0
    while k < d:
        if ipiv[k] > 0 or k == d - 1:
            if Mt[k, k] > 0.0:
                cnt += 1
            k += 1
        else:
            # 2×2 block: column-major (k+1, k) is C-order [k, k+1]
            a = Mt[k, k]
            c = Mt[k + 1, k + 1]
            b = Mt[k, k + 1]
            half = 0.5 * (a + c)
            rad = math.sqrt(0.25 * (a - c) * (a - c) + b * b)
            if half + rad > 0.0:
                cnt += 1
            if half - rad > 0.0:
                cnt += 1
            k += 2
    return cnt


@njit_noalloc
def _singular_values(H, Hc, s, work, iwork, iw, cw):
    """s <- the singular values of H (descending; LAPACK dgesdd, jobz = 'N', on a copy)."""
    d, n = H.shape
    Hf = Hc.reshape(d * n)               # Hc: d·n contiguous numbers, H's C-order layout
    for i in range(d):
        for c in range(n):
            Hf[i * n + c] = H[i, c]
    cw[0] = ord("N")
    iw[0] = n                            # column-major view of C-order H: Hᵀ (n×d, ld n)
    iw[1] = d
    iw[2] = n
    iw[3] = 1
    iw[4] = work.size
    iw[5] = 0
    _dgesdd(cw[0:1].ctypes, iw[0:1].ctypes, iw[1:2].ctypes, Hc.ctypes, iw[2:3].ctypes,
            s.ctypes, s.ctypes, iw[3:4].ctypes, s.ctypes, iw[3:4].ctypes, work.ctypes,
            iw[4:5].ctypes, iwork.ctypes, iw[5:6].ctypes)
    return iw[5]


#: up to this many rows (or columns), "log_sv" alone uses one-sided Jacobi (no LAPACK call;
#: measured break-even with dgesdd at 6)
_JACOBI_MAX = 6


@njit_noalloc(error_model="numpy")
def _jacobi_singular_values(H, U, s):
    """s <- the singular values of H (descending) by one-sided (Hestenes) Jacobi on the p =
    min(d, n) rows of H or of Hᵀ, copied into U (p, q): rotate pairs of rows until every pair
    is orthogonal to q·eps relative, then σ_i = ‖U_i‖. Accurate to a few eps relative to σ_1
    (as an SVD), for the tiny matrices where a LAPACK call costs more than the work."""
    d, n = H.shape
    p, q = U.shape
    if d <= n:
        for i in range(d):
            for c in range(n):
                U[i, c] = H[i, c]
    else:
        for i in range(d):
            for c in range(n):
                U[c, i] = H[i, c]
    tol = q * _EPS
    for _sweep in range(60):
        rotated = False
        for i in range(p - 1):
            for j in range(i + 1, p):
                a = 0.0
                b = 0.0
                c = 0.0
                for k in range(q):
                    a += U[i, k] * U[i, k]
                    b += U[j, k] * U[j, k]
                    c += U[i, k] * U[j, k]
                if c == 0.0 or abs(c) <= tol * math.sqrt(a * b):
                    continue
                rotated = True
                zeta = (b - a) / (2.0 * c)
                t = 1.0 / (abs(zeta) + math.sqrt(1.0 + zeta * zeta))
                if zeta < 0.0:
                    t = -t
                cs = 1.0 / math.sqrt(1.0 + t * t)
                sn = cs * t
                for k in range(q):
                    ui = U[i, k]
                    uj = U[j, k]
                    U[i, k] = cs * ui - sn * uj
                    U[j, k] = sn * ui + cs * uj
        if not rotated:
            break
    for i in range(p):
        a = 0.0
        for k in range(q):
            a += U[i, k] * U[i, k]
        s[i] = math.sqrt(a)
    for i in range(1, p):                                # insertion sort, descending
        v = s[i]
        j = i - 1
        while j >= 0 and s[j] < v:
            s[j + 1] = s[j]
            j -= 1
        s[j + 1] = v


@njit(error_model="numpy", fastmath=_FAST)
def _record(H, M, M2, Mt, rowsq, ipiv, swork, Hc, sv, dwork, iwork, want, tau, st, tp, ls,
            iw, dw, cw):
    """The requested statistics of H (M = H Hᵀ/n) into st (scalars), tp (top_eigs), ls
    (log_sv)."""
    d, n = H.shape
    need_m = False
    for s in range(7):
        need_m = need_m or want[s]
    need_m = need_m or want[8]
    if need_m:
        # column-major: H is Hᵀ (n×d, ld n), so M = (Hᵀ)ᵀ Hᵀ = op('T') · op('N')
        _gemm(_T_, _N, d, d, n, 1.0 / n, H, n, H, n, 0.0, M, d, iw, dw, cw)
    if want[0] or want[1] or want[2]:
        tr = 0.0
        frob2 = 0.0
        g1 = 0.0
        for i in range(d):
            tr += M[i, i]
            r = 0.0
            for j in range(d):
                r += M[i, j] * M[i, j]
            frob2 += r
            g1 += r * r
        st[0] = tr * tr / frob2
        st[1] = frob2
        st[2] = g1
    if want[3]:
        _gemm(_N, _N, d, d, d, 1.0, M, d, M, d, 0.0, M2, d, iw, dw, cw)
        g2 = 0.0
        for i in range(d):
            for j in range(d):
                g2 += M2[i, j] * M[i, j]
        st[3] = g2
    if want[4]:
        for i in range(d):
            rowsq[i] = math.sqrt(M[i, i])
        c = 0.0
        for i in range(d):
            for j in range(d):
                c += M[i, j] / rowsq[i] / rowsq[j]
        st[4] = (c - d) / (d * (d - 1))
    if want[5]:
        st[5] = _inertia_above(M, tau, Mt, ipiv, swork, iw, cw)
    if want[6]:
        st[6] = _inertia_above(M, tau * tau, Mt, ipiv, swork, iw, cw)
    if want[8]:
        lam = np.linalg.eigvalsh(M)                  # ascending
        for a in range(tp.shape[0]):
            tp[a] = lam[d - 1 - a]
    if want[7] or want[9]:
        if want[7] or min(d, n) > _JACOBI_MAX:
            _singular_values(H, Hc, sv, dwork, iwork, iw, cw)
        else:
            _jacobi_singular_values(H, Hc, sv)
        if want[7]:
            tol = sv[0] * (max(d, n) * _EPS)
            cnt = 0
            for a in range(sv.shape[0]):
                if sv[a] > tol:
                    cnt += 1
            st[7] = cnt
        if want[9]:
            l0 = np.log(sv[0])
            for a in range(ls.shape[0]):
                ls[a] = np.log(sv[a + 1]) - l0


def _make_rank_kernel(fingerprint):
    """The parallel rank-chain kernel; its disk cache closes over ``fingerprint``."""
    @njit(parallel=True, cache=True, error_model="numpy")
    def _rank_kernel(X, depth, k0, k1, wcode, scale, mean, gamma, has_res, norm, relu, layers,
                     want, tau, stats, top, logsv, err):
        """stats (B, R, 8), top (B, R, k), logsv (B, R, k'), err (B, 2) = (layer, row) of a
        breakdown (row −1: vanilla chain), layer −1 if none."""
        if fingerprint < 0:                  # never: ties the disk cache to the sources
            return
        B = err.shape[0]
        d, n = X.shape[1], X.shape[2]
        target = math.sqrt(d * n)
        mn = min(d, n)
        need_sv = want[7] or want[9]
        need_in = want[5] or want[6]
        for b in prange(B):
            xb = np.int64(b) if X.shape[0] > 1 else np.int64(0)
            H = np.empty((d, n))
            for i in range(d):
                for c in range(n):
                    H[i, c] = X[xb, i, c]
            A = np.empty((d, n))
            z = np.empty(d * d)
            W = z.reshape((d, d))
            M = np.empty((d, d))
            M2 = np.empty((d, d) if want[3] else (1, 1))
            Mt = np.empty((d, d) if need_in else (1, 1))
            ipiv = np.empty(d, np.int32)
            swork = np.empty(64 * d if need_in else 1)
            Hc = np.empty((min(d, n), max(d, n)) if need_sv else (1, 1))
            sv = np.empty(mn)
            dwork = np.empty(3 * mn + max(max(d, n), 7 * mn) + 64 * (d + n) if need_sv else 1)
            iwork = np.empty(8 * mn, np.int32)
            rowsq = np.empty(d)
            st = np.empty(4, np.uint64)
            iw = np.empty(8, np.int32)
            dw = np.empty(2)
            cw = np.empty(2, np.uint8)
            _seed(st, k0, k1, b, 0)
            err[b, 0] = -1
            err[b, 1] = -1
            j = 0
            for l in range(1, depth + 1):
                _fill(z, st, wcode, scale, mean)
                # column-major: A = Hᵀ Wᵀ (n×d) is the C-order W H
                _gemm(_N, _N, n, d, d, 1.0, H, n, W, d, 0.0, A, n, iw, dw, cw)
                row = _layer(A, H, has_res, gamma, norm, relu, target)
                if row >= 0:
                    err[b, 0] = l
                    err[b, 1] = row if norm != 0 else -1
                    break
                if j < layers.shape[0] and l == layers[j]:
                    _record(H, M, M2, Mt, rowsq, ipiv, swork, Hc, sv, dwork, iwork, want, tau,
                            stats[b, j], top[b, j], logsv[b, j], iw, dw, cw)
                    j += 1
    return _rank_kernel


@njit_noalloc(error_model="numpy")
def _qr_rows(X, V, vn, Qt, acc, add):
    """Householder QR of Y = Xᵀ (column j of Y is row j of X), in place: Qt <- Qᵀ (rows = the
    columns of Q), acc[k] += log|R_kk| if ``add``. X is destroyed."""
    d = X.shape[0]
    for k in range(d):
        s = 0.0
        for i in range(k, d):
            s += X[k, i] * X[k, i]
        nx = math.sqrt(s)
        x0 = X[k, k]
        alpha = -nx if x0 >= 0.0 else nx
        if add:
            acc[k] += math.log(nx)
        # v = x − alpha e_1, ‖v‖² = 2 nx (nx + |x0|)
        for i in range(k, d):
            V[k, i] = X[k, i]
        V[k, k] = x0 - alpha
        vv = 2.0 * nx * (nx + abs(x0))
        vn[k] = vv
        if vv > 0.0:
            f = 2.0 / vv
            for c in range(k + 1, d):
                t = 0.0
                for i in range(k, d):
                    t += V[k, i] * X[c, i]
                t *= f
                for i in range(k, d):
                    X[c, i] -= t * V[k, i]
    # Q = H_0 H_1 ... H_{d-1} I, column by column (a row of Qt each)
    for i in range(d):
        for c in range(d):
            Qt[i, c] = 1.0 if i == c else 0.0
    for k in range(d - 1, -1, -1):
        vv = vn[k]
        if vv > 0.0:
            f = 2.0 / vv
            for c in range(k, d):
                t = 0.0
                for i in range(k, d):
                    t += V[k, i] * Qt[c, i]
                t *= f
                for i in range(k, d):
                    Qt[c, i] -= t * V[k, i]


@njit_noalloc
def _qr_lapack(X, Qt, tau, work, iw, acc, add):
    """As ``_qr_rows`` with LAPACK: X (C-order, rows = the columns of Y) is Y column-major, so
    dgeqrf factors Y in place (R_kk = X[k, k]) and dorgqr forms Q column-major, i.e. Qt."""
    d = X.shape[0]
    iw[0] = d
    iw[1] = work.size
    iw[2] = 0
    _dgeqrf(iw[0:1].ctypes, iw[0:1].ctypes, X.ctypes, iw[0:1].ctypes, tau.ctypes, work.ctypes,
            iw[1:2].ctypes, iw[2:3].ctypes)
    if add:
        for k in range(d):
            acc[k] += math.log(abs(X[k, k]))
    _dorgqr(iw[0:1].ctypes, iw[0:1].ctypes, iw[0:1].ctypes, X.ctypes, iw[0:1].ctypes,
            tau.ctypes, work.ctypes, iw[1:2].ctypes, iw[2:3].ctypes)
    for i in range(d):
        for c in range(d):
            Qt[i, c] = X[i, c]


def _make_lyapunov_kernel(fingerprint):
    """The parallel QR-Lyapunov kernel; its disk cache closes over ``fingerprint``."""
    @njit(parallel=True, cache=True, error_model="numpy")
    def _lyapunov_kernel(depth, burn_in, k0, k1, wcode, sigma, gamma, has_res, acc_out):
        if fingerprint < 0:
            return
        B, d = acc_out.shape
        for b in prange(B):
            Qt = np.zeros((d, d))
            for i in range(d):
                Qt[i, i] = 1.0
            z = np.empty(d * d)
            W = z.reshape((d, d))
            X = np.empty((d, d))
            V = np.empty((d, d))
            vn = np.empty(d)
            acc = np.zeros(d)
            tau = np.empty(d)
            work = np.empty(64 * d)
            st = np.empty(4, np.uint64)
            iw = np.empty(8, np.int32)
            dw = np.empty(2)
            cw = np.empty(2, np.uint8)
            _seed(st, k0, k1, b, 1)
            for l in range(depth):
                _fill(z, st, wcode, sigma, 0.0)
                # C-order X = Qᵀ Aᵀ: column-major Xᵀ = A Q = W Q (+ Q), op(Wᵀ) = 'T'
                if has_res:
                    for i in range(d):
                        for c in range(d):
                            X[i, c] = Qt[i, c]
                    _gemm(_T_, _N, d, d, d, gamma, W, d, Qt, d, 1.0, X, d, iw, dw, cw)
                else:
                    _gemm(_T_, _N, d, d, d, 1.0, W, d, Qt, d, 0.0, X, d, iw, dw, cw)
                if d >= _LAPACK_QR_MIN_D:
                    _qr_lapack(X, Qt, tau, work, iw, acc, l >= burn_in)
                else:
                    _qr_rows(X, V, vn, Qt, acc, l >= burn_in)
            for k in range(d):
                acc_out[b, k] = acc[k] / (depth - burn_in)
    return _lyapunov_kernel


@njit_noalloc(error_model="numpy", fastmath=_FAST)
def _frob_pair(M, P, Q, g, dp, dm, antithetic):
    """(‖D M̃ D‖_F² at +W, at −W) with M̃(±W) = (M + γ² Q) ± γ (P + Pᵀ), D = diag(M̃)^{-1/2}."""
    d = M.shape[0]
    g2 = g * g
    for i in range(d):
        base = M[i, i] + g2 * Q[i, i]
        s = P[i, i] + P[i, i]
        dp[i] = math.sqrt(base + g * s)
        dm[i] = math.sqrt(base - g * s)
    fp = 0.0
    fm = 0.0
    for i in range(d):
        for j in range(d):
            base = M[i, j] + g2 * Q[i, j]
            s = P[i, j] + P[j, i]
            c = (base + g * s) / dp[i] / dp[j]
            fp += c * c
            if antithetic:
                c = (base - g * s) / dm[i] / dm[j]
                fm += c * c
    return fp, fm


_DRAW_BLOCK = 64


def _make_drift_kernel(fingerprint):
    """The parallel one-step-drift kernel; its disk cache closes over ``fingerprint``."""
    @njit(parallel=True, cache=True, error_model="numpy")
    def _drift_kernel(Ms, f0, k0, k1, wcode, scale, g, antithetic, out):
        if fingerprint < 0:
            return
        draws, K = out.shape
        d = Ms.shape[1]
        n_blocks = (draws + _DRAW_BLOCK - 1) // _DRAW_BLOCK
        for blk in prange(n_blocks):        # work space per block of draws, not per draw
            z = np.empty(d * d)
            W = z.reshape((d, d))
            P = np.empty((d, d))
            Q = np.empty((d, d))
            dp = np.empty(d)
            dm = np.empty(d)
            st = np.empty(4, np.uint64)
            iw = np.empty(8, np.int32)
            dw = np.empty(2)
            cw = np.empty(2, np.uint8)
            for b in range(blk * _DRAW_BLOCK, min(draws, (blk + 1) * _DRAW_BLOCK)):
                _seed(st, k0, k1, b, 2)      # one generator per draw: blocks change nothing
                for k in range(K):
                    _fill(z, st, wcode, scale, 0.0)
                    Mk = Ms[k]
                    # C-order P = W M: column-major Pᵀ = Mᵀ Wᵀ; Q = P Wᵀ: column-major
                    # Qᵀ = W Pᵀ
                    _gemm(_N, _N, d, d, d, 1.0, Mk, d, W, d, 0.0, P, d, iw, dw, cw)
                    _gemm(_T_, _N, d, d, d, 1.0, W, d, P, d, 0.0, Q, d, iw, dw, cw)
                    fp, fm = _frob_pair(Mk, P, Q, g, dp, dm, antithetic)
                    if antithetic:
                        out[b, k] = 0.5 * (fp + fm) - f0[k]
                    else:
                        out[b, k] = fp - f0[k]
    return _drift_kernel


@njit(error_model="numpy")
def _trial_weights(k0, k1, b, stream, L, d, wcode, scale, mean, out):
    st = np.empty(4, np.uint64)
    _seed(st, k0, k1, b, stream)
    z = np.empty(d * d)
    for l in range(L):
        _fill(z, st, wcode, scale, mean)
        for i in range(d * d):
            out[l, i] = z[i]


def _fingerprint() -> int:
    return source_fingerprint(_philox, _blas, sys.modules[__name__])


_rank_kernel = _make_rank_kernel(_fingerprint())
_lyapunov_kernel = _make_lyapunov_kernel(_fingerprint())
_drift_kernel = _make_drift_kernel(_fingerprint())


# --------------------------------------------------------------------------------------------
#: below this many floating-point operations a call runs its kernel on one thread: waking the
#: thread pool and waiting at its barrier costs milliseconds on a busy machine, more than
#: such a call computes
_PARALLEL_MIN_FLOPS = 2e8


class _threads_for:
    """Context manager: numba's thread count 1 for a call of fewer than
    ``_PARALLEL_MIN_FLOPS`` (estimated) operations, else unchanged; BLAS at one thread."""

    def __init__(self, flops: float):
        self._serial = flops < _PARALLEL_MIN_FLOPS

    def __enter__(self):
        self._blas = blas_single_thread().__enter__()
        self._prev = numba.get_num_threads()
        if self._serial:
            numba.set_num_threads(1)
        return self

    def __exit__(self, *exc):
        numba.set_num_threads(self._prev)
        self._blas.__exit__(*exc)
        return False


def _key(rng) -> tuple[np.uint64, np.uint64]:
    k0, k1 = philox_key(rng)
    return np.uint64(k0), np.uint64(k1)


def trial_weights(key, function, trial, n_blocks, d, weights="gaussian", scale=1.0,
                  mean=0.0) -> np.ndarray:
    """The first ``n_blocks`` d×d weight blocks that generator ``trial`` of ``function``
    ("rank_chain": the weights of layers 1, 2, ...; "lyapunov_qr": the G_l; "one_step_drift":
    draw ``trial``'s W for M_1, M_2, ...) draws under the Philox ``key`` (the two words
    ``depthcheck.kernels.random.philox.philox_key`` takes from the caller's rng), shape
    (n_blocks, d, d). The kernels' own sampler, callable from Python (the tests feed these
    weights to the numpy reference)."""
    out = np.empty((int(n_blocks), int(d) * int(d)))
    _trial_weights(np.uint64(key[0]), np.uint64(key[1]), int(trial), STREAMS[function],
                   int(n_blocks), int(d), _WEIGHT_CODES[weights], float(scale), float(mean),
                   out)
    return out.reshape(int(n_blocks), int(d), int(d))


def rank_chain_numba(X, depth, *, rng, gamma, weights, weight_scale, weight_mean, norm,
                     activation, layers, record, tau, top_k) -> dict:
    """``depthcheck.kernels.chain.rank.rank_chain(..., backend="numba")`` on arguments the
    reference has validated: ``X`` float64 (B, d, n), ``layers`` the recorded layers, ``record``
    statistic names. The Philox key is drawn from ``rng`` (two integers); returns the reference's
    dictionary."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    B, d, n = X.shape
    layers = np.asarray(layers, dtype=np.int64)
    R = layers.size
    want = np.array([s in record for s in RANK_STATISTICS], dtype=np.bool_)
    k_top = min(top_k, d) if want[8] else 1
    k_sv = min(top_k, d, n) - 1 if want[9] else 1
    stats = np.full((B, R, _N_SCALAR), np.nan)
    top = np.full((B, R, k_top), np.nan)
    logsv = np.full((B, R, k_sv), np.nan)
    err = np.empty((B, 2), dtype=np.int64)
    k0, k1 = _key(rng)
    has_res = math.isfinite(gamma)
    flops = B * depth * (2.0 * d * d * n + 20.0 * d * n) + B * R * 4.0 * d * d * max(d, n)
    with _threads_for(flops), np.errstate(divide="ignore"):
        _rank_kernel(X, int(depth), k0, k1, _WEIGHT_CODES[weights], float(weight_scale),
                     float(weight_mean), float(gamma) if has_res else 0.0, has_res,
                     _NORM_CODES[norm], activation == "relu", layers, want, float(tau), stats,
                     top, logsv, err)
    bad = err[:, 0] >= 0
    if np.any(bad):
        lay = int(err[bad, 0].min())
        b = int(np.flatnonzero(err[:, 0] == lay)[0])
        if norm == "none":
            raise ValueError(f"vanilla chain: H became zero or non-finite at layer {lay}")
        raise ValueError(f"layer {lay}: row {int(err[b, 1])} (trial ({b},)) has zero or "
                         f"non-finite norm; the normalisation is undefined (with ReLU use "
                         f"norm='bn', which centres each row, as the paper's Fig. 2 code does)")
    out = {"layers": layers}
    for s in record:
        k = RANK_STATISTICS.index(s)
        if k < _N_SCALAR:
            out[s] = stats[:, :, k].copy()
        elif s == "top_eigs":
            out[s] = top.copy()
        else:
            out[s] = logsv.copy()
    return out


def lyapunov_qr_numba(d, depth, *, trials, rng, gamma, weights, sigma, burn_in) -> np.ndarray:
    """``depthcheck.kernels.chain.rank.lyapunov_qr(..., backend="numba")`` (real products) on
    validated arguments; the Philox key is drawn from ``rng``. Returns (trials, d)."""
    out = np.empty((int(trials), int(d)))
    k0, k1 = _key(rng)
    has_res = math.isfinite(gamma)
    flops = float(trials) * depth * 10.0 * d * d * (d + 4)
    with _threads_for(flops), np.errstate(divide="ignore"):
        _lyapunov_kernel(int(depth), int(burn_in), k0, k1, _WEIGHT_CODES[weights],
                         float(sigma), float(gamma) if has_res else 0.0, has_res, out)
    return out


def one_step_drift_numba(Ms, gamma, *, draws, rng, weights, weight_scale,
                         antithetic) -> np.ndarray:
    """``depthcheck.kernels.chain.rank.one_step_drift(..., backend="numba")`` on validated
    arguments: ``Ms`` float64 (K, d, d); the Philox key is drawn from ``rng``. Returns
    (draws, K)."""
    Ms = np.ascontiguousarray(Ms, dtype=np.float64)
    f0 = np.sum(Ms * Ms, axis=(-2, -1))
    out = np.empty((int(draws), Ms.shape[0]))
    k0, k1 = _key(rng)
    K, d = Ms.shape[0], Ms.shape[1]
    flops = float(draws) * K * (4.0 * d ** 3 + 30.0 * d * d)
    with _threads_for(flops), np.errstate(divide="ignore", invalid="ignore"):
        _drift_kernel(Ms, f0, k0, k1, _WEIGHT_CODES[weights], float(weight_scale),
                      float(gamma), bool(antithetic), out)
    return out
