"""One trial of the fused numba chain: the layer pieces, the statistics and the forward trial,
shared by the forward (``depthcheck.kernels.backends.numba.fused``), gradient
(``depthcheck.kernels.backends.numba.fused_grad``) and reduced (``depthcheck.kernels.backends.numba.reduced``)
kernels, plus their host-side buffers.

Layer algebra (as ``depthcheck.kernels.backends.numpy``; seed 001 eq. (3), residual form seed 002 eq. (1)):
A_l = W_l H_{l-1} (or H_{l-1} + γ W_l H_{l-1}); the norm / gain / activation rows are
``depthcheck.kernels.backends._rowops`` (shared with the CUDA kernels). Kernel scalars arrive packed
(``depthcheck.kernels.chain.codes.kernel_scalars``: ``ip`` int64, ``fp`` float64).

Statistics at the recorded layers (definitions in ``depthcheck.kernels.chain.statistics``): G = the
smaller Gram (HᵀH if n <= d) by ``dsyrk``; isometry gap φ = log(tr G/n) − (1/n) log det G from the
LAPACK Cholesky factor of G/(tr G/n) (+inf when n > d, when Cholesky fails or a pivot is below
10·n·eps of its diagonal entry, as ``depthcheck.theory.isometry.isometry_gap``); r(H) = tr(G)²/‖G‖_F²;
‖M‖_F² = ‖G‖_F²/n²; soft rank and top singular values from the eigenvalues of G
(σ_i² = λ_i(G); soft rank = #{λ_i(G)·d/tr G > τ}); row-norm CV of the normalisation's input.

Every helper here is plain ``njit`` (uncached): it is compiled into the cached entry kernels,
whose disk cache closes over ``kernel_fingerprint`` (``depthcheck.kernels.backends.numba._cache``).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from depthcheck.kernels.backends.numba import _jit
from depthcheck.kernels.backends.numba._jit import njit_noalloc
from depthcheck.kernels.backends import _rowops
from depthcheck.kernels.backends._rowops import nonlinear_row
from depthcheck.kernels.backends.numba import blas as _blas
from depthcheck.kernels.backends.numba import simd as _simd
from depthcheck.kernels.backends.numba import wy as _wy
from depthcheck.kernels.backends.numba._cache import source_fingerprint
from depthcheck.kernels.backends.numba.blas import _N, _T_, _cholesky_upper, _gemm, _gram
from depthcheck.kernels.backends.numba.simd import scaled_copy_sumsq4
from depthcheck.kernels.backends.numba.wy import _unit_rows_packed, _wy_apply
from depthcheck.kernels.chain import codes as _codes
from depthcheck.kernels.chain.codes import (EPS, ERR_NONE, ERR_NONFINITE, ERR_NORM_ZERO, ERR_RESCALE, ERR_STAT,
                                            F_GAMMA, F_STD, F_TAU, I_ACT, I_BLOCK,
                                            I_DEPTH, I_FLAGS, I_K0, I_K1, I_KC, I_METHOD,
                                            I_N_SING, I_NORM, I_ORDER, I_RECORD_EVERY,
                                            I_RESCALE, I_RESIDUAL, I_WEIGHT, N_FLAGS,
                                            PIVOT_TOL_ULPS, STAT_SLOT, FLAG_LOG_SCALE, FLAG_TOP,
                                            record_flags)
from depthcheck.kernels.nn import activations as _activations
from depthcheck.kernels.nn import norms as _norms
from depthcheck.kernels.random import philox as _philox
from depthcheck.kernels.random.philox import ZIG_WORK, _fill_normals
from depthcheck.theory import isometry as _isometry

__all__ = ["KERNEL_SOURCES", "kernel_fingerprint", "stat_buffers", "collect"]

#: every file whose code or constants the entry kernels compile in (their own file aside): the
#: kernels' disk cache closes over a hash of these (``kernel_fingerprint``)
KERNEL_SOURCES = (_philox, _codes, _rowops, _activations, _norms, _isometry, _blas, _simd,
                  _wy, _jit)


def kernel_fingerprint(*modules) -> int:
    """``source_fingerprint`` of ``KERNEL_SOURCES``, this file and ``modules``."""
    import sys
    return source_fingerprint(*KERNEL_SOURCES, sys.modules[__name__], *modules)


# --------------------------------------------------------------------------------------------
@njit_noalloc
def _nonlinear(A, norm_code, act_code, order_code, g, rn):
    """In place A <- the layer's norm/gain/activation part (``_rowops.nonlinear_row`` per row);
    rn <- row norms of the normalisation's input. Returns an error code (of the first failing
    row; A is then partly updated and must not be used)."""
    if order_code == 0 and (norm_code == _NORM_BN_NOMEAN or norm_code == _NORM_ROWNORM):
        return _scale_rows_batched(A, norm_code, act_code, g, rn)
    for i in range(A.shape[0]):
        e, r = nonlinear_row(norm_code, act_code, order_code, g, A[i])
        rn[i] = r
        if e != ERR_NONE:
            return e
    return ERR_NONE



_NORM_BN_NOMEAN = _codes.NORM_CODES["bn_nomean"]
_NORM_ROWNORM = _codes.NORM_CODES["rownorm"]


@njit_noalloc
def _row_norms(A, rn):
    """rn[i] <- ‖A_i‖ from the sequential Σ A_ic² (``_rowops.normalise_row``'s r, bit for bit)."""
    d, n = A.shape
    for i in range(d):
        z = A[i]
        s2 = 0.0
        for c in range(n):
            s2 += z[c] * z[c]
        rn[i] = math.sqrt(s2)


@njit_noalloc
def _divisor(norm_code, r, sq):
    """The row divisor of rownorm (r) or bn_nomean (r/√n, sq = √n) as ``_rowops.normalise_row``."""
    return r if norm_code == _NORM_ROWNORM else r / sq


@njit_noalloc
def _scale_rows_batched(A, norm_code, act_code, g, rn):
    """``_nonlinear`` for norm_act with rownorm / bn_nomean: the arithmetic of
    ``_rowops.nonlinear_row`` (sequential ‖z‖², the divisor ‖z‖ or ‖z‖/√n, z·(1/s), then
    act(g·z)), so the values are the same bit for bit, in three passes over the rows instead
    of one row at a time: each row's chain of dependent adds, sqrt and division then overlaps
    with the next rows' (rows of n = 8: ~4x faster)."""
    d, n = A.shape
    _row_norms(A, rn)
    sq = math.sqrt(n)
    for i in range(d):
        sc = _divisor(norm_code, rn[i], sq)
        if not (sc > 0 and sc < math.inf):
            return ERR_NORM_ZERO
    for i in range(d):
        inv = 1.0 / _divisor(norm_code, rn[i], sq)
        z = A[i]
        if act_code == 0:
            for c in range(n):
                z[c] = g * (z[c] * inv)
        else:
            for c in range(n):
                z[c] = _rowops.activation(act_code, g * (z[c] * inv))
    return ERR_NONE


# --------------------------------------------------------------------------------------------
# statistics
@njit
def _record(H, rn, G, diag, want, tau, n_sing, stats, top, j, iw, dw, cw, gram_ready=False):
    """Statistics of H into stats[:, j] / top[j] (want[i] flags FUSED_STATISTICS[i]).
    ``gram_ready``: G already holds ``_gram(H, G, n <= d)`` (the reduced kernels share it with
    their next layer). Returns an error code."""
    d, n = H.shape
    small_is_n = n <= d
    k = n if small_is_n else d
    need_gram = want[0] or want[1] or want[2] or want[4] or want[FLAG_TOP]
    if need_gram:
        if not gram_ready:
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
        if want[2] or want[FLAG_TOP]:
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
            if want[FLAG_TOP]:
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
                    tol = PIVOT_TOL_ULPS * n * EPS
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


# one layer's weights, linear part and hand-over
@njit_noalloc
def _draw(l, b, k0, k1, method, wcode, std, R, tau_v, D, z, zbuf):
    """R <- W_l of trial b: Haar unit reflector rows (+ tau_v, D) or the d×d matrix W_l."""
    d = R.shape[0]
    _fill_normals(z, method, k0, k1, np.uint64(l), np.uint64(b), np.uint64(0), zbuf)
    if wcode == 0:
        _unit_rows_packed(z, R, tau_v, D)
    else:
        for i in range(d):
            for kk in range(d):
                R[i, kk] = std * z[i * d + kk]
        if wcode == 2:
            for i in range(d):
                for kk in range(d):
                    u = math.erf(z[i * d + kk] / math.sqrt(2.0))
                    R[i, kk] = std * math.sqrt(3.0) * u


@njit_noalloc
def _linear(H, A, R, tau_v, D, wcode, has_res, gamma, nb, T, S, W1, W2, iw, dw, cw):
    """A <- W_l H (residual: H + γ W_l H) for the weights in R."""
    d, n = H.shape
    if wcode == 0:
        for i in range(d):
            for c in range(n):
                A[i, c] = H[i, c]
        # np.bool_ / np.int64 arguments, never literals: numba compiles a callee once per
        # literal value (here and at every helper call of the chain kernels)
        _wy_apply(A, R, tau_v, D, np.bool_(False), nb, T, S, W1, W2, iw, dw, cw)
    else:
        _gemm(_N, _N, n, d, d, 1.0, H, n, R, d, 0.0, A, n, iw, dw, cw)
    if has_res:
        for i in range(d):
            for c in range(n):
                A[i, c] = H[i, c] + gamma * A[i, c]


@njit_noalloc
def _linear_T(dA, out, R, tau_v, D, wcode, has_res, gamma, nb, T, S, W1, W2, iw, dw, cw):
    """out <- W_lᵀ dA (residual: dA + γ W_lᵀ dA)."""
    d, n = dA.shape
    if wcode == 0:
        for i in range(d):
            for c in range(n):
                out[i, c] = dA[i, c]
        _wy_apply(out, R, tau_v, D, np.bool_(True), nb, T, S, W1, W2, iw, dw, cw)
    else:
        # column-major outᵀ (n×d) = dAᵀ W: R C-order is the column-major Wᵀ, so op = 'T'
        _gemm(_N, _T_, n, d, d, 1.0, dA, n, R, d, 0.0, out, n, iw, dw, cw)
    if has_res:
        for i in range(d):
            for c in range(n):
                out[i, c] = dA[i, c] + gamma * out[i, c]


@njit_noalloc
def _scaled_copy_sq(a, h, f):
    """h <- a·f for 1-d views of one length; returns Σ h² from four partial sums,
    (s0 + s1) + (s2 + s3) (``simd.scaled_copy_sumsq4``). f = 1.0 copies a exactly."""
    return scaled_copy_sumsq4(a, h, f)


@njit_noalloc
def _finish(A, H, rescale):
    """H <- A, rescaled to unit Frobenius norm if ``rescale``. Returns (error code, log s)."""
    d, n = A.shape
    if not rescale:
        # only finiteness is asked: four partial sums (one running sum is bound by the add
        # latency); < 1e300 there implies the sequential sum below is finite too (non-negative
        # terms, relative rounding ~ d·n·eps), anything else is decided by that sum itself
        if _scaled_copy_sq(A.reshape(d * n), H.reshape(d * n), 1.0) < 1e300:
            return ERR_NONE, 0.0
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


@njit_noalloc
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


@njit_noalloc
def _begin(err, b, X, xb, A, H, rn, rescale):
    """Open trial b: its error slot cleared, layer 0 run (``_start``). Returns (ok, log c_0);
    when not ok, err[b] holds (layer 0, the error) and the trial must stop."""
    err[b, 0] = -1
    err[b, 1] = ERR_NONE
    e, log_c = _start(X, xb, A, H, rn, rescale)
    if e != ERR_NONE:
        err[b, 0] = 0
        err[b, 1] = e
    return e == ERR_NONE, log_c


@njit
def _record_layer(H, rn, G, diag, want, tau, n_sing, st, tp, jj, iw, dw, cw, log_c, ls_row,
                  gram_ready=False):
    """The statistics of H at record slot jj (``_record``, ``gram_ready`` as there) and, for
    norm-free chains (want[FLAG_LOG_SCALE]), log‖H‖_F of the unrescaled network (log c + log of
    the rescaled norm). Returns the error."""
    e = _record(H, rn, G, diag, want, tau, n_sing, st, tp, jj, iw, dw, cw, np.bool_(gram_ready))
    if e == ERR_NONE and want[FLAG_LOG_SCALE]:
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
def _trial_forward(b, X, gains, ip, fp, stats, top, log_scale, err, cps, cpl, Hout):
    """One trial of the fused forward chain (outputs of trial b written in place); scalars
    packed in ``ip``/``fp`` (``depthcheck.kernels.chain.codes.kernel_scalars``).

    With ``ip[I_KC] > 0`` (the gradient kernel, ``depthcheck.kernels.backends.numba.fused_grad``) H_l and
    its log-scale are also stored every kc layers in ``cps``/``cpl`` (l = 0, kc, 2kc, ... < depth)
    and the last H_L in ``Hout``; returns log c_L (the log of the factor removed by rescaling)."""
    depth, record_every, n_sing = ip[I_DEPTH], ip[I_RECORD_EVERY], ip[I_N_SING]
    k0, k1, method = np.uint64(ip[I_K0]), np.uint64(ip[I_K1]), ip[I_METHOD]
    wcode, norm_code, act_code, order_code = ip[I_WEIGHT], ip[I_NORM], ip[I_ACT], ip[I_ORDER]
    has_res, rescale = ip[I_RESIDUAL] != 0, ip[I_RESCALE] != 0
    nb, kc = ip[I_BLOCK], ip[I_KC]
    want = ip[I_FLAGS:I_FLAGS + N_FLAGS] != 0
    std, gamma, tau = fp[F_STD], fp[F_GAMMA], fp[F_TAU]
    d, n = X.shape[1], X.shape[2]
    small = n if n <= d else d
    kbmax = max(1, min(nb, d - 1))
    nz = d * (d + 1) // 2 if wcode == 0 else d * d
    xb = np.int64(b) if X.shape[0] > 1 else np.int64(0)
    H = np.empty((d, n))
    A = np.empty((d, n))
    R = np.zeros((d, d))
    z = np.empty(nz)
    zbuf = np.empty(ZIG_WORK, np.uint64)
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
    ok, log_c = _begin(err, b, X, xb, A, H, rn, rescale)
    if not ok:
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
                              iw, dw, cw, log_c, log_scale[b], np.bool_(False))
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



# --------------------------------------------------------------------------------------------
# host side: output buffers and the output dictionary
def stat_buffers(spec, record, record_every, n_singular):
    """Recorded layers, the kernels' record flags (``codes.record_flags``) and NaN-filled output
    buffers (B, 5, R) / (B, R, k) / (B, R) (length-1 dummies for what is not recorded), shared by
    the fused kernels' Python entry points."""
    B, d, n, L = spec.trials, spec.d, spec.n, spec.depth
    layers = np.arange(0, L + 1, record_every)
    Rn = layers.size
    want = record_flags(spec.norm, record)
    k_sing = min(n_singular, d, n)
    stats = np.full((B, 5, Rn), np.nan)
    top = np.full((B, Rn if want[FLAG_TOP] else 1, k_sing), np.nan)
    log_scale = np.full((B, Rn if want[FLAG_LOG_SCALE] else 1), np.nan)
    return layers, want, k_sing, stats, top, log_scale


def collect(spec, record, layers, k_sing, stats, top, log_scale) -> dict:
    """``depthcheck.kernels.simulate_chain``'s output dictionary from the kernels' buffers."""
    out = {"layers": layers}
    for name in record:
        if name == "top_singular_values":
            out[name] = top[:, :, :k_sing].copy()
        elif name == "soft_rank":
            out[name] = stats[:, STAT_SLOT[name], :].astype(np.int64)
        else:
            out[name] = stats[:, STAT_SLOT[name], :].copy()
    if spec.norm == "none":
        out["log_scale"] = log_scale
    return out

