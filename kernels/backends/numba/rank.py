"""Backend "numba" of the BN residual chains of Daneshmand et al. (2020, arXiv:2003.01652): the
rank chain (and through it the covariance chain) and the QR Lyapunov estimate.

The numpy reference is ``depthcheck.kernels.chain.rank`` (``rank_chain``, ``covariance_chain``,
``lyapunov_qr``), which validates every argument and then calls the entry points below with
``backend="numba"``; the recursions, weight laws, norms and statistics are its, written once more
as compiled loops:

* one kernel runs a whole chain per trial (``numba.prange`` over trials, each trial's H, A, W,
  M and the statistics' work space in per-thread buffers), with BLAS ``dgemm`` for W H, H Hᵀ
  and M M (``depthcheck.kernels.backends.numba.blas``, limited to one thread inside the
  parallel loop);
* the weights are drawn in-kernel from the counter-based Philox4x32-10 generator of the fused
  chain kernels (``depthcheck.kernels.random.philox``, ziggurat normals, stream
  (layer, trial, 0) under a key drawn from the caller's ``rng``): gaussian N(0, 1); uniform
  √3·erf(z/√2) ~ U[−√3, √3] (Φ(z) is uniform, as in the fused kernels); uniform_pos
  √3·(1 + erf(z/√2)) ~ U[0, 2√3]; then × scale, + mean, in the reference's order;
* the statistics at the recorded layers are the reference's formulas on M = H Hᵀ/n;
  eigenvalues by ``numpy.linalg.eigvalsh`` and singular values of H by ``numpy.linalg.svd``
  (numba's LAPACK bindings), the numerical rank with ``matrix_rank``'s tolerance;
* ``lyapunov_qr``: A_l Q_{l−1} = Q_l R_l by Householder QR in per-thread buffers (only |R_kk|
  enters, so the column signs of Q are immaterial).

Same law as the reference, different random numbers (equal to rounding on shared weights: the
tests feed the reference the Philox weights). A row of zero or non-finite norm before a
normalisation, or a zero/non-finite vanilla chain, stops its trial and raises the reference's
``ValueError`` (naming layer, row and trial). Complex Lyapunov products are not implemented
here: ``depthcheck.kernels.chain.rank.lyapunov_qr`` refuses them by name
(``UnsupportedEngineError``).
"""
from __future__ import annotations

import math
import sys

import numpy as np
from numba import njit, prange

from depthcheck.kernels.backends.numba import blas as _blas
from depthcheck.kernels.backends.numba._cache import source_fingerprint
from depthcheck.kernels.backends.numba.blas import _N, _T_, _gemm, blas_single_thread
from depthcheck.kernels.random import philox as _philox
from depthcheck.kernels.random.philox import _ZBUF, _fill_normals, philox_key

__all__ = ["RANK_STATISTICS", "rank_chain_numba", "lyapunov_qr_numba"]

#: the statistics of ``depthcheck.kernels.chain.rank.STATISTICS`` in the kernel's order: the
#: first eight are scalars (slot = index), then "top_eigs" and "log_sv"
RANK_STATISTICS = ("rank_lower_bound", "frobenius_M", "g1", "g2", "offdiag",
                   "soft_rank_unscaled", "soft_rank_singular_unscaled", "rank", "top_eigs",
                   "log_sv")
_N_SCALAR = 8
_WEIGHT_CODES = {"gaussian": 0, "uniform": 1, "uniform_pos": 2}
_NORM_CODES = {"none": 0, "bn": 1, "bn_nomean": 2, "rownorm": 3}
_EPS = float(np.finfo(np.float64).eps)
_SQ3 = math.sqrt(3.0)
_ZIGGURAT = _philox.METHODS["ziggurat"]


# --------------------------------------------------------------------------------------------
# pieces compiled into the entry kernels (uncached: the entries' disk cache closes over the
# fingerprint of this file, Philox and BLAS)
@njit(error_model="numpy")
def _weights(W, l, b, k0, k1, wcode, scale, mean, z, zbuf):
    """W <- the d×d weights of layer l, trial b: Philox stream (l, b, 0) through the law."""
    d = W.shape[0]
    _fill_normals(z, _ZIGGURAT, k0, k1, np.uint64(l), np.uint64(b), np.uint64(0), zbuf)
    for i in range(d):
        for k in range(d):
            v = z[i * d + k]
            if wcode == 1:
                v = _SQ3 * math.erf(v / math.sqrt(2.0))
            elif wcode == 2:
                v = _SQ3 * (1.0 + math.erf(v / math.sqrt(2.0)))
            if scale != 1.0:
                v *= scale
            if mean != 0.0:
                v += mean
            W[i, k] = v


@njit(error_model="numpy")
def _normalise_rows(A, H, norm, relu):
    """H <- act(norm(A)) row by row (the reference's ``_bn``: centre for "bn", divide by
    √(Σz²/n), or by ‖z‖ for "rownorm"). Returns the first row of zero or non-finite norm, or −1."""
    d, n = A.shape
    for i in range(d):
        mu = 0.0
        if norm == 1:
            for c in range(n):
                mu += A[i, c]
            mu /= n
        ms = 0.0
        for c in range(n):
            v = A[i, c] - mu
            H[i, c] = v
            ms += v * v
        if norm != 3:
            ms /= n
        if not (ms > 0.0 and ms < np.inf):
            return i
        s = math.sqrt(ms)
        for c in range(n):
            v = H[i, c] / s
            H[i, c] = v if (not relu or v > 0.0) else 0.0
    return -1


@njit(error_model="numpy")
def _vanilla(A, H, relu, target):
    """H <- act(A) rescaled to ‖H‖_F = target (the reference's vanilla chain). Returns False if
    ‖act(A)‖_F is zero or not finite."""
    d, n = A.shape
    s2 = 0.0
    for i in range(d):
        for c in range(n):
            v = A[i, c]
            if relu and not v > 0.0:
                v = 0.0
            H[i, c] = v
            s2 += v * v
    fn = math.sqrt(s2)
    if not (fn > 0.0 and fn < np.inf):
        return False
    f = target / fn
    for i in range(d):
        for c in range(n):
            H[i, c] *= f
    return True


@njit(error_model="numpy")
def _record(H, M, M2, rowsq, want, tau, st, tp, ls, iw, dw, cw):
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
    if want[5] or want[6] or want[8]:
        lam = np.linalg.eigvalsh(M)                  # ascending
        if want[5]:
            cnt = 0
            for a in range(d):
                if lam[a] > tau:
                    cnt += 1
            st[5] = cnt
        if want[6]:
            cnt = 0
            for a in range(d):
                if lam[a] > tau * tau:
                    cnt += 1
            st[6] = cnt
        if want[8]:
            for a in range(tp.shape[0]):
                tp[a] = lam[d - 1 - a]
    if want[7] or want[9]:
        sv = np.linalg.svd(H, full_matrices=False)[1]  # descending
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
        for b in prange(B):
            xb = np.int64(b) if X.shape[0] > 1 else np.int64(0)
            H = np.empty((d, n))
            for i in range(d):
                for c in range(n):
                    H[i, c] = X[xb, i, c]
            A = np.empty((d, n))
            W = np.empty((d, d))
            M = np.empty((d, d))
            M2 = np.empty((d, d))
            rowsq = np.empty(d)
            z = np.empty(d * d)
            zbuf = np.empty(_ZBUF, np.uint64)
            iw = np.empty(8, np.int32)
            dw = np.empty(2)
            cw = np.empty(2, np.uint8)
            err[b, 0] = -1
            err[b, 1] = -1
            j = 0
            for l in range(1, depth + 1):
                _weights(W, l, b, k0, k1, wcode, scale, mean, z, zbuf)
                # column-major: A = Hᵀ Wᵀ (n×d) is the C-order W H
                _gemm(_N, _N, n, d, d, 1.0, H, n, W, d, 0.0, A, n, iw, dw, cw)
                if has_res:
                    for i in range(d):
                        for c in range(n):
                            A[i, c] = A[i, c] * gamma + H[i, c]
                if norm == 0:
                    if not _vanilla(A, H, relu, target):
                        err[b, 0] = l
                        break
                else:
                    row = _normalise_rows(A, H, norm, relu)
                    if row >= 0:
                        err[b, 0] = l
                        err[b, 1] = row
                        break
                if j < layers.shape[0] and l == layers[j]:
                    _record(H, M, M2, rowsq, want, tau, stats[b, j], top[b, j], logsv[b, j],
                            iw, dw, cw)
                    j += 1
    return _rank_kernel


@njit(error_model="numpy")
def _qr_logdiag(Mq, V, vn, acc, add):
    """In place Householder QR of Mq (d×d): Mq <- Q, acc += log|R_kk| if ``add``."""
    d = Mq.shape[0]
    for k in range(d):
        s = 0.0
        for i in range(k, d):
            s += Mq[i, k] * Mq[i, k]
        nx = math.sqrt(s)
        x0 = Mq[k, k]
        alpha = -nx if x0 >= 0.0 else nx
        if add:
            acc[k] += np.log(nx)
        # v = x − alpha e_1, ‖v‖² = 2 nx (nx + |x0|)
        for i in range(k, d):
            V[i, k] = Mq[i, k]
        V[k, k] = x0 - alpha
        vv = 2.0 * nx * (nx + abs(x0))
        vn[k] = vv
        if vv > 0.0:
            for c in range(k + 1, d):
                t = 0.0
                for i in range(k, d):
                    t += V[i, k] * Mq[i, c]
                t *= 2.0 / vv
                for i in range(k, d):
                    Mq[i, c] -= t * V[i, k]
    # Q = H_0 H_1 ... H_{d-1} I
    for i in range(d):
        for c in range(d):
            Mq[i, c] = 1.0 if i == c else 0.0
    for k in range(d - 1, -1, -1):
        vv = vn[k]
        if vv > 0.0:
            for c in range(k, d):
                t = 0.0
                for i in range(k, d):
                    t += V[i, k] * Mq[i, c]
                t *= 2.0 / vv
                for i in range(k, d):
                    Mq[i, c] -= t * V[i, k]


def _make_lyapunov_kernel(fingerprint):
    """The parallel QR-Lyapunov kernel; its disk cache closes over ``fingerprint``."""
    @njit(parallel=True, cache=True, error_model="numpy")
    def _lyapunov_kernel(depth, burn_in, k0, k1, wcode, sigma, gamma, has_res, acc_out):
        if fingerprint < 0:
            return
        B, d = acc_out.shape
        for b in prange(B):
            Q = np.zeros((d, d))
            for i in range(d):
                Q[i, i] = 1.0
            W = np.empty((d, d))
            Mq = np.empty((d, d))
            V = np.empty((d, d))
            vn = np.empty(d)
            acc = np.zeros(d)
            z = np.empty(d * d)
            zbuf = np.empty(_ZBUF, np.uint64)
            iw = np.empty(8, np.int32)
            dw = np.empty(2)
            cw = np.empty(2, np.uint8)
            for l in range(depth):
                _weights(W, l + 1, b, k0, k1, wcode, sigma, 0.0, z, zbuf)
                if has_res:
                    for i in range(d):
                        for c in range(d):
                            W[i, c] = (1.0 if i == c else 0.0) + gamma * W[i, c]
                # C-order Mq = W Q (column-major: Qᵀ Wᵀ)
                _gemm(_N, _N, d, d, d, 1.0, Q, d, W, d, 0.0, Mq, d, iw, dw, cw)
                _qr_logdiag(Mq, V, vn, acc, l >= burn_in)
                for i in range(d):
                    for c in range(d):
                        Q[i, c] = Mq[i, c]
            for k in range(d):
                acc_out[b, k] = acc[k] / (depth - burn_in)
    return _lyapunov_kernel


def _fingerprint() -> int:
    return source_fingerprint(_philox, _blas, sys.modules[__name__])


_rank_kernel = _make_rank_kernel(_fingerprint())
_lyapunov_kernel = _make_lyapunov_kernel(_fingerprint())


# --------------------------------------------------------------------------------------------
def _key(rng) -> tuple[np.uint64, np.uint64]:
    k0, k1 = philox_key(rng)
    return np.uint64(k0), np.uint64(k1)


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
    with blas_single_thread(), np.errstate(divide="ignore"):
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
    with blas_single_thread(), np.errstate(divide="ignore"):
        _lyapunov_kernel(int(depth), int(burn_in), k0, k1, _WEIGHT_CODES[weights],
                         float(sigma), float(gamma) if has_res else 0.0, has_res, out)
    return out
