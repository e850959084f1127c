"""The reduced chain (``depthcheck.kernels.chain.reduced``) as fused numba kernels, forward and
with gradients.

Same reduction as ``depthcheck.kernels.chain.reduced`` (derived in its module docstring): for n <= d and
H = Q_H R_H a thin QR, W H ~ Q_Z R_H exactly in law for W Haar on O(d), with Q_Z the
sign-fixed (positive diag R) thin QR factor of a fresh d×n Gaussian Z (Mezzadri 2007), and
W H ~ σ Z R_H for W with i.i.d. N(0, σ²) entries. Per layer and trial (O(d n²), no d×d matrix):
R_H with a nonnegative diagonal (any R with RᵀR = HᵀH gives the same law), from the Cholesky
factor of the Gram HᵀH that the statistics of the previous layer use too, where κ(HᵀH) <=
``RH_KAPPA_MAX`` is certified (``_rh_from_gram``), else from a Householder QR of H in vectorised
loops (any rank: H may be near rank collapse; the backward pass always takes H's reflectors
from it); Z (d·n normals of Philox stream (l, b, 0), Z[i, c] = z[c·d + i]: Zᵀ is the stream
reshaped (n, d), drawn by the block ziggurat below); for Haar weights and d >= 2n, Q_Z by
CholeskyQR (R_Z from the Gram ZᵀZ + dpotrf, Q_Z R_H = Z (R_Z⁻¹ R_H) by one dgemm; Z is well
conditioned, cond ≲ 6, and the Householder route is taken whenever the factor's diagonal says
otherwise), for d < 2n by Householder (A = P_0 ⋯ P_{n-1} [D R_H; 0]); then the layer's norm /
gain / activation / residual and the statistics of the fused kernels
(``depthcheck.kernels.backends.numba.trial``: ``_nonlinear``, ``_finish``, ``_record``).

Layout: the chain's state is Hᵀ (n, d), so that every Gram (``_gram_t``: chunked dot products
of contiguous rows, ~2x OpenBLAS's dsyrk at n = 8), every product with Z and, for norm_act
with rownorm / bn_nomean, the norm / activation pass (``_scale_rows_t``, the row-at-a-time
arithmetic bit for bit) run along the d contiguous entries of a column; other layers go
through (d, n) work arrays and the shared ``trial`` row pass. ``numba.prange`` over trials,
per-thread buffers O(d n + n²), memory independent of the depth L.

Backward (``gradients=True``): the conditional Wᵀ of ``depthcheck.kernels.chain.reduced``. With
H = P_H [D_H; 0] R_H (P_H the product of H's n reflectors, D_H the sign fix), span(Q_H) =
P_H [R^n; 0] and span(Q_H)⊥ = P_H [0; R^m], m = d − n, so the Haar draw reads

    Wᵀ δ  ~  P_H [D_H Q_Zᵀ δ;  S R_C],

R_C any k×n matrix (k = min(n, m)) with R_CᵀR_C = CᵀC for C = (I − Q_Z Q_Zᵀ) δ, S the sign-fixed
Q factor of a fresh m×k Gaussian (a uniform k-frame of R^m, as the Haar O(m) acting on an
orthonormal basis of span(Q_Z)⊥ maps C's frame; this covers n <= m, m < n and m = 0,
W = Q_Z Q_Hᵀ). CholeskyQR route (d >= 2n): Q_Zᵀ δ = R_Z⁻ᵀ (Zᵀ δ) and R_C the Cholesky factor
of CᵀC = δᵀδ − (Q_Zᵀ δ)ᵀ(Q_Zᵀ δ) when tr(δᵀδ) <= ``RC_CANCEL_MAX``·tr(CᵀC) (mild cancellation,
``_rc_from_gram_difference``), else of the Gram of C = δ − Z R_Z⁻¹ (Q_Zᵀ δ) formed explicitly
(backward stable whenever dpotrf succeeds; the Householder R of C, valid for any rank,
otherwise). Householder route: Y = P_Zᵀ δ, Q_Zᵀ δ = D_Z Y_1 and R_C the R
of Y_2 (the last m rows). S R_C = G (R_G⁻¹ R_C) by CholeskyQR of the fresh Gaussian G when
m >= 2k, else P_G [D_G R_C; 0]. Gaussian weights: Wᵀ δ ~ σ P_H [D_H Zᵀ δ;  N R_δ] with N an m×n
standard Gaussian and R_δ the R factor of δ (the projection (I − Q_H Q_Hᵀ) G'' of the numpy
engine is P_H [0; N] in law). The backward's fresh normals (G or N, columns contiguous as
Z's) come from Philox stream (l, b, 1), never used elsewhere (the hidden layers use
(l >= 1, b, 0), the readout (0, b, 1)); the readout, the loss and the host-side set-up are
those of ``depthcheck.kernels.backends.numba.fused_grad`` (``_readout_grad``, ``grad_setup``,
``grad_result``; ``_nonlinear_vjp``, ``gram_pair_sum`` and ``gram_trusted`` behind this
module's transposed ``_vjp_t`` and ``_grad_norm_t``), checkpoints every k_c layers with the
segment recomputed by the same layer step (bit-identical), the signal carried at unit norm.
Per layer and trial the backward costs two Grams, three or four thin dgemms, one reflector
application and O(n³); memory per thread O((L/k_c + 6 k_c) d n), plus, when its L·d·n
doubles are at most ``ZTAPE_MAX_BYTES`` (64 MiB), a tape of every layer's normals Z kept from
the forward pass so that the recomputed segments do not draw them again (the results are the
same bit for bit: a time / memory trade only). The tape is one per thread, reused by the
thread's trials (b = t, t + T, ...: a fresh 64 MiB per trial cost its page faults, ~10 µs per
layer and trial).

Normals: ``normals="ziggurat"`` (default) is the block ziggurat of the section below (the
ziggurat of ``depthcheck.kernels.random.philox`` restructured so that Philox and the common path
vectorise, ~2-3x faster there; a different stream of the same law), ``"box_muller"`` the
order-free stream of ``depthcheck.kernels.random.philox``. ``reduced_normals`` reproduces
either on the host.
"""
from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange
from numba.cpython.unsafe.numbers import trailing_zeros

from depthcheck.kernels.backends.numba._jit import njit_noalloc
from depthcheck.theory._checks import check_positive_int
from depthcheck.kernels.backends.numba import fused_grad as _fused_grad
from depthcheck.kernels.backends.numba.blas import (_N, _T_, _cholesky_upper, _gemm,
                                                    blas_single_thread)
from depthcheck.kernels.backends.numba.fused_grad import (_nonlinear_vjp, _product_norm_sq,
                                                          _readout_grad, _unit_signal,
                                                          gram_pair_sum, gram_trusted,
                                                          grad_result, grad_setup)
from depthcheck.kernels.backends import _rowops
from depthcheck.kernels.backends.numba.trial import (_NORM_BN_NOMEAN, _NORM_ROWNORM, _begin,
                                                     _divisor, _finish, _nonlinear,
                                                     _record_layer, _scaled_copy_sq, collect,
                                                     kernel_fingerprint, stat_buffers)
from depthcheck.kernels.chain.codes import (ERR_BACKWARD, ERR_NONE, ERR_NONFINITE,
                                            ERR_NORM_ZERO, FLAG_LOG_SCALE, F_GAMMA,
                                            F_LOG_GAMMA, F_STD,
                                            F_TAU, I_ACT, I_DEPTH, I_FLAGS, I_K0, I_K1, I_KC,
                                            I_METHOD, I_N_SING, I_NORM, I_ORDER,
                                            I_RECORD_EVERY, I_RESCALE, I_RESIDUAL, I_WEIGHT,
                                            LOG_SCALE_CAP, N_FLAGS, kernel_scalars,
                                            raise_breakdown)
from depthcheck.kernels.random.philox import (_FI, _INV53, _KI, _S11, _S32, _WI, _ZBUF,
                                              _ZIG_INV_R, _ZIG_R, _ZMANT as _MANT, METHODS,
                                              _fill_normals, _philox_masked, _philox_x8,
                                              _refill, _zig_candidates,
                                              key_from_root,
                                              philox_key)
from depthcheck.kernels.backends.numba.simd import vstore
from depthcheck.kernels.chain.reduced import ReducedChainBackend
from depthcheck.kernels.chain.spec import ChainSpec, engine_arguments

__all__ = ["simulate_reduced_chain_numba", "run_reduced_numba", "ReducedNumbaChainBackend",
           "reduced_normals"]

REDUCED_WEIGHTS = ("haar", "gaussian")
#: the gradient kernel keeps every layer's normals Z from the forward pass (a tape of L·d·n
#: doubles per trial, i.e. per thread at a time) when it is at most this size, instead of
#: drawing them again in each recomputed segment; the results are the same either way
ZTAPE_MAX_BYTES = 64 * 2 ** 20
#: Philox stream word of the backward pass's fresh normals (layer l >= 1, trial b, 1)
BACKWARD_STREAM = 1


# ---------------------------------------------------------------- normals: a block ziggurat
# The per-candidate transform and tables of ``depthcheck.kernels.random.philox``'s ziggurat
# (numpy's), restructured so that the common path vectorises: each block of ZB candidates takes
# the 64-bit words of Philox counters (s/2 .. s/2 + ZB/2 − 1, l, b, stream) — the block's first
# half from the words (c0<<32 | c1), its second half from (c2<<32 | c3) — and keeps candidate j
# where it passes the fast test (~98.6%). A failing candidate is resolved by the ziggurat's own
# rejection steps (wedge / tail test, then fresh attempts) with every further word taken, in
# order, from the side stream of counters SIDE_COUNTER, SIDE_COUNTER + 1, ... of the same
# (l, b, stream). Attempts use disjoint words, so each output is an exact N(0, 1) draw (the
# ziggurat's law, up to the 2⁻⁵² resolution of its uniforms) independent of the others.
_S8 = np.uint64(8)
_S1 = np.uint64(1)
#: candidates per block: a multiple of 128, so that each half is whole 64-word failure masks
#: (``_block``)
ZB = 256
assert ZB % 128 == 0
#: first Philox counter of the side stream (the block counters stay below it: size < 2³²)
SIDE_COUNTER = 2 ** 31
#: uint64 work words of ``_normals`` (two word halves, the candidates, the side buffer of
#: _ZBUF words, the side stream's position and counter)
ZWORK = 2 * ZB + _ZBUF + 2

@njit_noalloc
def _philox_pairs(w0, w1, start, k0, k1, c1, c2, c3):
    """w0[j], w1[j] <- the words (c0<<32 | c1), (c2<<32 | c3) of Philox4x32-10 on counter
    (start + j, c1, c2, c3): eight counters at a time (``philox._philox_x8``), a tail of fewer
    one by one (``philox._philox_masked``)."""
    m = w0.size
    j = 0
    while j + 8 <= m:
        lo, hi = _philox_x8(np.uint64(start + j), c1, c2, c3, k0, k1)
        vstore(w0, j, lo)
        vstore(w1, j, hi)
        j += 8
    for j in range(j, m):
        a, b, c, e = _philox_masked(np.uint64(start + j), c1, c2, c3, k0, k1)
        w0[j] = (a << _S32) | b
        w1[j] = (c << _S32) | e

@njit_noalloc
def _side_word(sb, st, k0, k1, c1, c2, c3):
    """The next word of the side stream (buffer sb of the words; st = [position, counters
    used])."""
    h = sb.size
    if st[0] >= h:
        # word 2j, 2j + 1 of a refill: the two words of counter SIDE_COUNTER + st[1] + j
        _refill(sb, SIDE_COUNTER + st[1], k0, k1, c1, c2, c3)
        st[1] += h // 2
        st[0] = 0
    r = sb[st[0]]
    st[0] += 1
    return r


@njit_noalloc
def _zig_resolve(r, sb, st, k0, k1, c1, c2, c3):
    """The normal of the ziggurat attempt sequence that starts with word r, its uniforms and
    later attempts taken from the side stream (numpy's random_standard_normal steps)."""
    while True:
        idx = r & np.uint64(0xFF)
        rabs = (r >> np.uint64(9)) & _MANT
        x = (np.float64(np.int64(rabs)) * _WI[idx]) * (1.0 - 2.0 * np.float64(np.int64((r >> _S8) & _S1)))
        if rabs < _KI[idx]:
            return x
        if idx == 0:
            while True:
                u1 = np.float64(_side_word(sb, st, k0, k1, c1, c2, c3) >> _S11) * _INV53
                u2 = np.float64(_side_word(sb, st, k0, k1, c1, c2, c3) >> _S11) * _INV53
                xx = -_ZIG_INV_R * math.log1p(-u1)
                yy = -math.log1p(-u2)
                if yy + yy > xx * xx:
                    return -(_ZIG_R + xx) if (rabs >> np.uint64(8)) & _S1 else _ZIG_R + xx
        u = np.float64(_side_word(sb, st, k0, k1, c1, c2, c3) >> _S11) * _INV53
        if (_FI[idx - 1] - _FI[idx]) * u + _FI[idx] < math.exp(-0.5 * x * x):
            return x
        r = _side_word(sb, st, k0, k1, c1, c2, c3)

@njit_noalloc
def _block(x, w0, w1, sb, st, start, k0, k1, c1, c2, c3):
    """x[:ZB] <- one block of candidates (counters start .. start + ZB/2 − 1), the failing ones
    resolved in order from the side stream."""
    h = w0.size
    _philox_pairs(w0, w1, start, k0, k1, c1, c2, c3)
    # candidates in chunks of 64 (one failure mask each), then the failures in order of j:
    # a walk over the masks' set bits instead of a NaN test per candidate
    for q in range(2 * h // 64):
        j0 = q * 64
        w = w0[j0:j0 + 64] if j0 < h else w1[j0 - h:j0 - h + 64]
        mask = _zig_candidates(w, x[j0:j0 + 64])
        while mask != 0:
            t = np.int64(trailing_zeros(mask))
            x[j0 + t] = _zig_resolve(w[t], sb, st, k0, k1, c1, c2, c3)
            mask &= mask - np.uint64(1)


@njit_noalloc
def _block_normals(out, k0, k1, c1, c2, c3, zw):
    """out[:] <- the block-ziggurat normals of stream (·, c1, c2, c3) (section comment);
    zw: ZWORK uint64 words of work space. Whole blocks are written in place; a last partial
    block goes through work space."""
    h = ZB // 2
    w0 = zw[:h]
    w1 = zw[h:2 * h]
    xs = zw[2 * h:4 * h].view(np.float64)
    sb = zw[4 * h:4 * h + _ZBUF]
    st = zw[4 * h + _ZBUF:4 * h + _ZBUF + 2].view(np.int64)
    st[0] = _ZBUF
    st[1] = 0
    m = out.size
    for s in range(0, m - ZB + 1, ZB):
        _block(out[s:s + ZB], w0, w1, sb, st, s // 2, k0, k1, c1, c2, c3)
    s = m - m % ZB
    if s < m:
        _block(xs, w0, w1, sb, st, s // 2, k0, k1, c1, c2, c3)
        for j in range(m - s):
            out[s + j] = xs[j]


@njit_noalloc
def _normals(out, method, k0, k1, l, b, stream, zw):
    """out <- the normals of Philox stream (l, b, stream): method 0 the block ziggurat above,
    1 Box–Muller (``depthcheck.kernels.random.philox``, order free)."""
    if method == 0:
        _block_normals(out, k0, k1, np.uint64(l), np.uint64(b), np.uint64(stream), zw)
    else:
        _fill_normals(out, method, k0, k1, np.uint64(l), np.uint64(b), np.uint64(stream), zw)


def reduced_normals(key, layer: int, trial: int, stream: int, size: int,
                    method: str = "ziggurat") -> np.ndarray:
    """The first ``size`` normals of stream (layer, trial, stream) under ``key`` exactly as the
    reduced kernels draw them (``method`` "ziggurat": the block ziggurat; "box_muller":
    ``depthcheck.kernels.random.philox.normal_stream``)."""
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not one of {tuple(METHODS)}")
    size = check_positive_int(size, "size", minimum=0)
    if size >= 2 ** 32:
        raise ValueError(f"size must be < 2^32, got {size}")
    out = np.empty(size)
    _normals(out, METHODS[method], np.uint64(key[0]), np.uint64(key[1]), int(layer), int(trial),
             int(stream), np.empty(ZWORK, np.uint64))
    return out


FM = {"reassoc", "contract"}     # fastmath subset: vectorised sums; NaN/inf semantics kept
#: CholeskyQR of a fresh Gaussian is used when min |diag R| > QR_RATIO·max |diag R| (κ small,
#: orthogonality loss ~ eps·κ²); otherwise (and always for 2k > p) the Householder QR runs
QR_RATIO = 1e-2


@njit_noalloc
def _copy1(dst, src):
    """dst[j] <- src[j] (1-d, equal lengths): a slice assignment as a loop, which a
    ``njit_noalloc`` function may use (numba's own may allocate a temporary for overlap)."""
    for j in range(dst.size):
        dst[j] = src[j]


@njit_noalloc
def _copy2(dst, src):
    """dst[i, j] <- src[i, j] over src's shape (2-d): ``_copy1`` for matrices."""
    for i in range(src.shape[0]):
        for j in range(src.shape[1]):
            dst[i, j] = src[i, j]


@njit_noalloc(fastmath=FM)
def _dot(x, y):
    """Σ x[i]·y[i] over two equal-length 1-d views. Loops run from 0 over views (x[k:]), not
    over range(k, d): numba then drops its negative-index wrap-around test and LLVM vectorises
    (range(k, d) indexing ran ~10x slower)."""
    s = 0.0
    for i in range(x.size):
        s += x[i] * y[i]
    return s


@njit_noalloc(fastmath=FM)
def _axpy(a, x, y):
    """y += a·x over two equal-length 1-d views (vectorised as ``_dot``)."""
    for i in range(x.size):
        y[i] += a * x[i]


@njit_noalloc(fastmath=FM)
def _house_qr(Mt, V, beta, R):
    """Householder QR of the p×c matrix M given as its transpose Mt (c, p) (rows = columns of
    M, contiguous); Mt is destroyed. k = min(c, p) reflectors: V[j, j:] <- reflector j,
    beta[j] = 2/‖v_j‖² (0: identity), R[:k, :c] <- upper-trapezoidal factor,
    M = P_0 ⋯ P_{k-1} [R; 0], P_j = I − beta_j v_j v_jᵀ. Valid whatever the rank of M."""
    c, p = Mt.shape
    for k in range(min(c, p)):
        x = Mt[k, k:]
        nrm = math.sqrt(_dot(x, x))
        x0 = x[0]
        alpha = -nrm if x0 >= 0 else nrm            # v = x − alpha e_k, no cancellation
        vk = V[k, k:p]
        _copy1(vk, x)
        vk[0] = x0 - alpha
        vn2 = 2.0 * nrm * (nrm + abs(x0))
        bk = 2.0 / vn2 if vn2 > 0 else 0.0
        beta[k] = bk
        R[k, k] = alpha if vn2 > 0 else x0
        for j in range(k + 1, c):
            y = Mt[j, k:]
            _axpy(-bk * _dot(vk, y), vk, y)
            R[k, j] = y[0]
        for j in range(k):
            R[k, j] = 0.0


@njit_noalloc(fastmath=FM)
def _dot2(x1, x2, y):
    """(Σ x1[i]·y[i], Σ x2[i]·y[i]) over three equal-length 1-d views, in one pass."""
    s1 = 0.0
    s2 = 0.0
    for i in range(y.size):
        s1 += x1[i] * y[i]
        s2 += x2[i] * y[i]
    return s1, s2


@njit_noalloc(fastmath=FM)
def _axpy2(a1, x1, a2, x2, y):
    """y += a1·x1 + a2·x2 over three equal-length 1-d views, in one pass."""
    for i in range(y.size):
        y[i] += a1 * x1[i] + a2 * x2[i]


@njit_noalloc(fastmath=FM)
def _apply_reflectors(V, beta, nr, At, transpose):
    """Rows of At (the columns of a p×c matrix Y) <- P Y (``transpose``: Pᵀ Y) for the product
    P = P_0 ⋯ P_{nr-1} of ``_house_qr``'s first ``nr`` reflectors. Two at a time (reflectors
    a < b = a + 1, applied in the order the product asks): with w_f = v_f·y for the first
    applied, the second's v_s·(y − β_f w_f v_f) = v_s·y − β_f w_f (v_f·v_s), so each row
    takes one pass for both dot products and one for the update (half the passes of one
    reflector at a time; equal to rounding)."""
    p = At.shape[1]
    t = 0
    while t < nr:
        if t + 1 < nr:                  # the pair (a, b), b = a + 1
            a = t if transpose else nr - 2 - t
            b = a + 1
            va = V[a, a:p]
            vb = V[b, b:p]
            ba = beta[a]
            bb = beta[b]
            sab = _dot(va[1:], vb)
            for c in range(At.shape[0]):
                y = At[c, a:p]
                ya, yb = _dot2(va[1:], vb, y[1:])
                ya += va[0] * y[0]
                if transpose:           # P_a first, then P_b
                    fa = -ba * ya
                    fb = -bb * (yb + fa * sab)
                else:                   # P_b first, then P_a
                    fb = -bb * yb
                    fa = -ba * (ya + fb * sab)
                y[0] += fa * va[0]
                _axpy2(fa, va[1:], fb, vb, y[1:])
            t += 2
        else:
            k = t if transpose else nr - 1 - t
            vk = V[k, k:p]
            bk = beta[k]
            for c in range(At.shape[0]):
                row = At[c, k:]
                _axpy(-bk * _dot(vk, row), vk, row)
            t += 1


@njit_noalloc
def _signed_q_times(V, beta, RQ, nr, Rm, At):
    """Rows of At (the columns of a p×c result) <- Q Rm = P_0 ⋯ P_{nr-1} [D Rm; 0], Q the
    sign-fixed Q factor (D = sign(diag RQ), + for 0) of the QR that gave (V, beta, RQ), Rm
    (nr × c): Q is never formed."""
    p = At.shape[1]
    for c in range(At.shape[0]):
        row = At[c]
        for k in range(nr):
            row[k] = Rm[k, c] if RQ[k, k] >= 0 else -Rm[k, c]
        for i in range(nr, p):
            row[i] = 0.0
    _apply_reflectors(V, beta, nr, At, np.bool_(False))


@njit_noalloc
def _transpose_into(M, Mt):
    """Mt (c, p) <- Mᵀ for M (p, c)."""
    p, c = M.shape
    for i in range(p):
        for a in range(c):
            Mt[a, i] = M[i, a]


@njit_noalloc
def _mul_tt(Zt, Q, outt, alpha, iw, dw, cw, beta=0.0):
    """outt (c, p) <- alpha·(Z Q)ᵀ + beta·outt for Z = Ztᵀ given as Zt (k, p) and Q (k, c),
    all C-contiguous: one dgemm (column-major outt is the p×c matrix Z Q)."""
    k, p = Zt.shape
    c = Q.shape[1]
    _gemm(_N, _T_, p, c, k, alpha, Zt, p, Q, c, beta, outt, p, iw, dw, cw)


@njit_noalloc
def _abt(X, Y, out, iw, dw, cw):
    """out (a, b) <- X Yᵀ for X (a, p), Y (b, p) C-contiguous (row-by-row dot products of
    two transposed layouts, e.g. Zᵀ δ from Zᵀ and δᵀ): one dgemm."""
    a, p = X.shape
    b = Y.shape[0]
    _gemm(_T_, _N, b, a, p, 1.0, Y, p, X, p, 0.0, out, b, iw, dw, cw)


#: columns per chunk of ``_gram_t`` (n rows of GRAM_CHUNK doubles stay in L1)
GRAM_CHUNK = 128


@njit_noalloc(fastmath=FM)
def _gram_t(Mt, G):
    """G[a, c] (a <= c) <- Σ_i Mt[a, i]·Mt[c, i]: the upper triangle (C order, as ``_gram``'s)
    of the Gram MᵀM of M = Mtᵀ from its rows Mt (k, p), dotted GRAM_CHUNK columns at a time.
    With M's columns contiguous this runs ~2x faster than OpenBLAS's dsyrk on M (k = 8,
    p = 1024: ~5 vs ~10 µs). The lower triangle is left as it is."""
    k, p = Mt.shape
    for a in range(k):
        for c in range(a, k):
            G[a, c] = 0.0
    for s in range(0, p, GRAM_CHUNK):
        e = min(p, s + GRAM_CHUNK)
        for a in range(k):
            x = Mt[a, s:e]
            for c in range(a, k):
                G[a, c] += _dot(x, Mt[c, s:e])


@njit_noalloc
def _factor_gram(R, iw, cw):
    """R (k, k) holding a Gram's upper triangle <- its upper Cholesky factor (dpotrf), the
    lower triangle zeroed. Returns LAPACK's info."""
    info = _cholesky_upper(R, iw, cw)
    k = R.shape[0]
    for a in range(k):
        for c in range(a):
            R[a, c] = 0.0
    return info


@njit_noalloc
def _chol_r_t(Mt, R, iw, cw):
    """R (k, k) <- the upper-triangular Cholesky factor of MᵀM for M = Mtᵀ given as its rows
    Mt (k, p), so RᵀR = MᵀM with a positive diagonal (``_gram_t`` + dpotrf, ~p k² flops).
    Returns LAPACK's info (0: success; the factor is then backward stable,
    R̂ᵀR̂ = MᵀM + O(k² eps ‖M‖²))."""
    _gram_t(Mt, R)
    return _factor_gram(R, iw, cw)


@njit_noalloc
def _well_conditioned(R):
    """min |R_aa| > QR_RATIO · max |R_aa| (False for NaN)."""
    lo = np.inf
    hi = 0.0
    for a in range(R.shape[0]):
        v = abs(R[a, a])
        lo = min(lo, v)
        hi = max(hi, v)
    return lo > QR_RATIO * hi


@njit_noalloc
def _upper_solve(U, B, X):
    """X <- U⁻¹ B for U (k, k) upper triangular, B, X (k, c) (X may be B)."""
    k, c = B.shape
    for j in range(c):
        for i in range(k - 1, -1, -1):
            s = B[i, j]
            for q in range(i + 1, k):
                s -= U[i, q] * X[q, j]
            X[i, j] = s / U[i, i]


@njit_noalloc
def _upper_t_solve(U, B, X):
    """X <- U⁻ᵀ B for U (k, k) upper triangular, B, X (k, c) (X may be B)."""
    k, c = B.shape
    for j in range(c):
        for i in range(k):
            s = B[i, j]
            for q in range(i):
                s -= U[q, i] * X[q, j]
            X[i, j] = s / U[i, i]


@njit_noalloc
def _r_factor_t(Mt, R, Bt, V, beta, iw, cw):
    """R (c, c) <- an upper-triangular R with RᵀR = MᵀM for M = Mtᵀ given as its rows Mt (c, p),
    p >= c, any rank: the Cholesky factor of the Gram (``_chol_r_t``) when dpotrf succeeds
    (backward stable), else the R of a Householder QR of a copy (Bt, V, beta: work space)."""
    if _chol_r_t(Mt, R, iw, cw) != 0:
        _copy2(Bt, Mt)
        _house_qr(Bt, V, beta, R)


#: R_H is taken from the Cholesky factor of the Gram HᵀH only when κ(HᵀH) <= RH_KAPPA_MAX is
#: certified (``_rh_from_gram``): its error is then ~κ·n·eps relative (<~1e-11), the
#: Householder QR's ~√κ·eps; beyond it (near rank collapse) the Householder route runs
RH_KAPPA_MAX = 1e4


@njit_noalloc
def _rh_from_gram(G, RH, iw, cw):
    """RH (n, n) <- the upper Cholesky factor of the Gram G = HᵀH (``_gram``'s C-order upper
    triangle; G is left as it is) when κ(G) <= ``RH_KAPPA_MAX`` is certified; returns whether it
    is. Certificate: with m = tr G/n and nφ = n log m − log det G (det from the factor's
    diagonal), every eigenvalue is >= m e^{−nφ−1} (the others' product is at most
    (n m/(n−1))^{n−1} by AM–GM) and <= n m, so κ(G) <= n e^{nφ+1}."""
    n = G.shape[0]
    tr = 0.0
    for a in range(n):
        tr += G[a, a]
        for c in range(n):
            RH[a, c] = G[a, c] if c >= a else 0.0
    if not (tr > 0 and tr < np.inf):
        return False
    if _cholesky_upper(RH, iw, cw) != 0:
        return False
    for a in range(n):
        for c in range(a):
            RH[a, c] = 0.0
    ld = 0.0
    for a in range(n):
        r = RH[a, a]
        if not (r > 0 and r < np.inf):
            return False
        ld += 2.0 * math.log(r)
    return n * math.log(tr / n) - ld <= math.log(RH_KAPPA_MAX / n) - 1.0


@njit_noalloc
def _linear_step(l, b, Ht, At, k0, k1, method, wcode, std, has_res, gamma, Mt, RH, Mn, z,
                 zbuf, VH, betaH, sH, RZ, VZ, betaZ, sZ, iw, dw, cw, rh_given, need_basis,
                 z_given=False, zchol_given=-1):
    """At <- the reduced linear part of layer l for trial b (residual included), transposed:
    Ht, At (n, d) hold Hᵀ and Aᵀ. ``rh_given``: RH already holds R_H (``_rh_from_gram``); else
    it is computed from a Householder QR of H. With ``need_basis`` keeps what the backward pass
    needs: H's reflectors (VH, betaH) and sign fix sH (the QR then runs in any case); z holds
    Zᵀ (stream (l, b, 0), Zᵀ = z reshaped (n, d)) on return; for Haar weights RZ, and, on the
    Householder route, Z's reflectors (VZ, betaZ, sZ). ``z_given``: z already holds those
    normals (the gradient kernel's Z tape); ``zchol_given`` >= 0: whether the forward pass took
    the CholeskyQR route (1; RZ then already holds its R_Z) or not (0), from the same tape.
    Returns True when Q_Z was taken by CholeskyQR (Q_Z = Z R_Z⁻¹, R_Z = RZ)."""
    n, d = Ht.shape
    if need_basis or not rh_given:
        _copy2(Mt, Ht)                  # a QR of H (Q_H kept as its reflectors)
        _house_qr(Mt, VH, betaH, Mn if rh_given else RH)
        RQ = Mn if rh_given else RH
        for k in range(n):              # positive diag: R_H independent of QR convention
            sH[k] = 1.0
            if RQ[k, k] < 0:
                sH[k] = -1.0
                if not rh_given:
                    for c in range(k, n):
                        RH[k, c] = -RH[k, c]
    if not z_given:
        # np.int64 / np.bool_ arguments, never literals: see trial._linear
        _normals(z, method, k0, k1, l, b, np.int64(0), zbuf)
    Zt = z.reshape((n, d))
    zchol = False
    if wcode == 1:                      # W H ~ σ Z R_H
        _mul_tt(Zt, RH, At, std, iw, dw, cw)
    else:                               # W H ~ Q_Z R_H
        if zchol_given >= 0:
            zchol = zchol_given == 1
        else:
            zchol = 2 * n <= d and _chol_r_t(Zt, RZ, iw, cw) == 0 and _well_conditioned(RZ)
        if zchol:                       # Q_Z R_H = Z (R_Z⁻¹ R_H)
            _upper_solve(RZ, RH, Mn)
            _mul_tt(Zt, Mn, At, 1.0, iw, dw, cw)
        else:                           # P_0 ⋯ P_{n-1} [D R_H; 0] from Z's reflectors
            _copy2(Mt, Zt)
            _house_qr(Mt, VZ, betaZ, RZ)
            for k in range(n):
                sZ[k] = 1.0 if RZ[k, k] >= 0 else -1.0
            _signed_q_times(VZ, betaZ, RZ, n, RH, At)
    if has_res:
        for c in range(n):
            a = At[c]
            h = Ht[c]
            for i in range(d):
                a[i] = h[i] + gamma * a[i]
    return zchol


@njit_noalloc(error_model="numpy")
def _row_norms_t(At, rn):
    """rn[i] <- ‖A_i‖ for A = Atᵀ given as At (n, d): ``trial._row_norms`` on the transposed
    layout (Σ_c A_ic² from 0.0, c = 0 first, no fused multiply-add, so bit for bit), each
    step along the d contiguous entries of a column."""
    n, d = At.shape
    for i in range(d):
        rn[i] = 0.0
    for c in range(n):
        a = At[c]
        for i in range(d):
            rn[i] += a[i] * a[i]
    for i in range(d):
        rn[i] = math.sqrt(rn[i])


@njit_noalloc(error_model="numpy")   # divisions vectorise (no zero test: divisors > 0)
def _scale_rows_t(At, Ht, norm_code, act_code, g, rn, iv):
    """``trial._scale_rows_batched`` on the transposed layout: Ht <- H_l from At = A_lᵀ (n, d)
    for norm_act with rownorm / bn_nomean, rn <- the row norms of A_l, iv (d) work space. The
    arithmetic of ``_rowops.nonlinear_row`` in the same order for every row i (Σ_c A_ic² from
    c = 0, no fused multiply-add; the divisor ‖a‖ or ‖a‖/√n; a·(1/s); act(g·a)), so the values
    are those of the row-at-a-time definition bit for bit, each step now running along the d
    contiguous entries of a column of A (vectorised). Returns the error of ``_nonlinear``."""
    n, d = At.shape
    _row_norms_t(At, rn)
    sq = math.sqrt(n)
    bad = 0                             # counted, not returned early: the loop vectorises
    for i in range(d):
        sc = _divisor(norm_code, rn[i], sq)
        bad += 0 if (sc > 0.0) & (sc < math.inf) else 1
        iv[i] = 1.0 / sc
    if bad > 0:
        return ERR_NORM_ZERO
    for c in range(n):
        a = At[c]
        h = Ht[c]
        if act_code == 0:
            for i in range(d):
                h[i] = g * (a[i] * iv[i])
        else:
            for i in range(d):
                h[i] = _rowops.activation(act_code, g * (a[i] * iv[i]))
    return ERR_NONE


@njit_noalloc
def _fast_rows(norm_code, order_code, rescale, want):
    """Whether a layer's rows run on the transposed layout (``_scale_rows_t``): norm_act with
    rownorm / bn_nomean, no rescaling and no log-scale record (which read H itself)."""
    return (order_code == 0 and (norm_code == _NORM_BN_NOMEAN or norm_code == _NORM_ROWNORM)
            and not rescale and not want[FLAG_LOG_SCALE])


@njit_noalloc
def _rows_and_gram(At, Ht, A, H, rn, iv, G, fast, norm_code, act_code, order_code, g,
                   rescale):
    """Ht <- H_l = the norm / gain / activation (and rescaling) of the pre-activation At = A_lᵀ
    (left as it is), rn <- the row norms of the normalisation's input, G <- ``_gram_t(Ht)``
    (H_l's Gram, upper triangle). ``fast``: ``_scale_rows_t`` on the transposed layout, H_l
    finite checked from G's trace (< 1e300 proves the sequential Σ H² of ``trial._finish``
    finite; anything else is decided by that sum); otherwise through the (d, n) work arrays
    A, H and ``trial._nonlinear`` / ``_finish`` (H then holds H_l). Returns (error, log s)."""
    n, d = At.shape
    if fast:
        e = _scale_rows_t(At, Ht, norm_code, act_code, g, rn, iv)
        if e != ERR_NONE:
            return e, 0.0
        _gram_t(Ht, G)
        tr = 0.0
        for a in range(n):
            tr += G[a, a]
        if not tr < 1e300:
            s2 = 0.0
            for i in range(d):
                for c in range(n):
                    s2 += Ht[c, i] * Ht[c, i]
            if not s2 < np.inf:
                return ERR_NONFINITE, 0.0
        return ERR_NONE, 0.0
    _transpose_into(At, A)
    e = _nonlinear(A, norm_code, act_code, order_code, g, rn)
    ls = 0.0
    if e == ERR_NONE:
        e, ls = _finish(A, H, rescale)
    if e != ERR_NONE:
        return e, 0.0
    _transpose_into(H, Ht)
    _gram_t(Ht, G)
    return ERR_NONE, ls


@njit
def _trial(b, X, gains, ip, fp, stats, top, log_scale, err, cps, cpl, Hout, ztape, rztape,
           zctape):
    """One trial of the reduced chain forward; scalars packed in ``ip``/``fp``
    (``depthcheck.kernels.chain.codes.kernel_scalars``; weight code 0 Haar, 1 Gaussian). The
    chain's state is Hᵀ (n, d) (``_linear_step``, ``_rows_and_gram``). With ``ip[I_KC] > 0``
    (the gradient kernel) H_lᵀ (in the (d, n) slot, reshaped (n, d)) and log c_l are stored
    every kc layers in ``cps``/``cpl`` and H_L in ``Hout``, and, when ``ztape`` has a row per
    layer, layer l's normals Zᵀ in ztape[l − 1], its R_Z in rztape[l − 1] and whether it took
    the CholeskyQR route in zctape[l − 1]; returns log c_L."""
    depth, record_every, n_sing = ip[I_DEPTH], ip[I_RECORD_EVERY], ip[I_N_SING]
    k0, k1, method = np.uint64(ip[I_K0]), np.uint64(ip[I_K1]), ip[I_METHOD]
    wcode, norm_code, act_code, order_code = ip[I_WEIGHT], ip[I_NORM], ip[I_ACT], ip[I_ORDER]
    has_res, rescale, kc = ip[I_RESIDUAL] != 0, ip[I_RESCALE] != 0, ip[I_KC]
    want = ip[I_FLAGS:I_FLAGS + N_FLAGS] != 0
    std, gamma, tau = fp[F_STD], fp[F_GAMMA], fp[F_TAU]
    d, n = X.shape[1], X.shape[2]
    xb = np.int64(b) if X.shape[0] > 1 else np.int64(0)
    fast = _fast_rows(norm_code, order_code, rescale, want)
    H = np.empty((d, n))
    A = np.empty((d, n))
    Ht = np.empty((n, d))
    At = np.empty((n, d))
    Mt = np.empty((n, d))
    VH = np.empty((n, d))
    VZ = np.empty((n, d))
    betaH = np.empty(n)
    betaZ = np.empty(n)
    sH = np.empty(n)
    sZ = np.empty(n)
    RH = np.empty((n, n))
    RZ = np.empty((n, n))
    Mn = np.empty((n, n))
    z = np.empty(d * n)
    zbuf = np.empty(ZWORK, np.uint64)
    G = np.empty((n, n))
    diag = np.empty(n)
    rn = np.empty(d)
    iv = np.empty(d)
    iw = np.empty(8, np.int32)
    dw = np.empty(2)
    cw = np.empty(2, np.uint8)
    st = stats[b]
    tp = top[b]
    ok, log_c = _begin(err, b, X, xb, A, H, rn, rescale)
    if not ok:
        return log_c
    _transpose_into(H, Ht)
    _gram_t(Ht, G)
    rh_ok = False
    taped = ztape.shape[0] >= depth
    for l in range(0, depth + 1):
        if l > 0:
            zl = ztape[l - 1] if taped else z
            zc = _linear_step(l, b, Ht, At, k0, k1, method, wcode, std, has_res, gamma, Mt, RH,
                              Mn, zl, zbuf, VH, betaH, sH, RZ, VZ, betaZ, sZ, iw, dw, cw,
                              np.bool_(rh_ok), np.bool_(False), np.bool_(False), np.int64(-1))
            if taped:
                rztape[l - 1] = RZ
                zctape[l - 1] = 1 if zc else 0
            e, ls = _rows_and_gram(At, Ht, A, H, rn, iv, G, fast, norm_code, act_code,
                                   order_code, gains[l - 1], rescale)
            log_c += ls
            if e != ERR_NONE:
                err[b, 0] = l
                err[b, 1] = e
                return log_c
        if l < depth:                   # the next layer's R_H from the Gram the record uses
            rh_ok = _rh_from_gram(G, RH, iw, cw)
        if l % record_every == 0:
            e = _record_layer(H, rn, G, diag, want, tau, n_sing, st, tp, l // record_every,
                              iw, dw, cw, log_c, log_scale[b], np.bool_(True))
            if e != ERR_NONE:
                err[b, 0] = l
                err[b, 1] = e
                return log_c
        if kc > 0 and l % kc == 0 and l < depth:
            cps[l // kc].reshape((n, d))[:, :] = Ht
            cpl[l // kc] = log_c
    if kc > 0:
        _transpose_into(Ht, Hout)
    return log_c


def _make_reduced_forward(fingerprint):
    """The parallel entry kernel; its disk cache closes over ``fingerprint``
    (``depthcheck.kernels.backends.numba._cache``)."""
    @njit(parallel=True, cache=True)
    def _reduced_forward(X, gains, ip, fp, stats, top, log_scale, err):
        if fingerprint < 0:                  # never: ties the disk cache to the dependencies
            return
        no_cps = np.empty((1, 1, 1))
        no_cpl = np.empty(1)
        no_H = np.empty((1, 1))
        no_rz = np.empty((1, 1, 1))
        no_zc = np.empty(1, np.int8)
        for b in prange(err.shape[0]):
            _trial(np.int64(b), X, gains, ip, fp, stats, top, log_scale, err, no_cps, no_cpl,
                   no_H, no_H, no_rz, no_zc)
    return _reduced_forward


_reduced_forward = _make_reduced_forward(kernel_fingerprint(_fused_grad))


# -------------------------------------------------------------------------------- backward
@njit_noalloc
def _frame_times(g, m, k, RY, Yt, Ct, VG, betaG, RG, T, iw, dw, cw):
    """Rows of Yt, columns n.. (the lower m rows of the d×n result) <- S R_Y with S the
    sign-fixed Q factor of the m×k Gaussian G[i, a] = g[a·m + i] (Gᵀ = g reshaped (k, m); a
    uniform k-frame of R^m) and R_Y (k, n): CholeskyQR (S R_Y = G (R_G⁻¹ R_Y), one dgemm) when
    m >= 2k and it is well conditioned, else Householder (P_G [D_G R_Y; 0])."""
    n = Yt.shape[0]
    Gt = g[:m * k].reshape((k, m))
    if m >= 2 * k and _chol_r_t(Gt, RG, iw, cw) == 0 and _well_conditioned(RG):
        _upper_solve(RG, RY, T)                                 # k == n here
        d = Yt.shape[1]                 # (G T)ᵀ straight into the rows' tails Yt[:, n:]
        _gemm(_N, _T_, m, n, k, 1.0, Gt, m, T, n, 0.0, Yt[:, n:], d, iw, dw, cw)
        return
    _copy2(Ct[:k], Gt)
    _house_qr(Ct[:k], VG, betaG, RG)
    _signed_q_times(VG, betaG, RG, k, RY, Ct)                   # P_G [D_G R_Y; 0]
    for c in range(n):
        _copy1(Yt[c, n:], Ct[c])


#: R_C is taken from the n×n difference δᵀδ − (Q_Zᵀδ)ᵀ(Q_Zᵀδ) only when tr(δᵀδ) <= RC_CANCEL_MAX
#: · tr(CᵀC) (``_rc_from_gram_difference``), else from C formed explicitly
RC_CANCEL_MAX = 4.0


@njit_noalloc
def _rc_from_gram_difference(Gd, Y, RC, iw, cw):
    """RC <- the upper Cholesky factor of CᵀC = δᵀδ − YᵀY (C = δ − Q_Z Q_Zᵀ δ, Y = Q_Zᵀ δ) from
    Gd = δᵀδ (upper triangle) and Y (n, n), without forming C; returns whether it is taken:
    when dpotrf succeeds and tr(δᵀδ) <= RC_CANCEL_MAX · tr(CᵀC). The difference's rounding is
    ~d·eps·tr(δᵀδ) (dot products of length d), that of the Gram of an explicit C ~d·eps·tr(CᵀC),
    so the cancellation test keeps the error within a small factor of the route it replaces
    (backward stable in the same sense); otherwise the caller forms C."""
    n = Y.shape[0]
    trd = 0.0
    trc = 0.0
    for a in range(n):
        for c in range(n):
            if c < a:
                RC[a, c] = 0.0
                continue
            s = 0.0
            for q in range(n):
                s += Y[q, a] * Y[q, c]
            RC[a, c] = Gd[a, c] - s
        trd += Gd[a, a]
        trc += RC[a, a]
    if not (trc > 0 and trd < np.inf and trd <= RC_CANCEL_MAX * trc):
        return False
    return _factor_gram(RC, iw, cw) == 0


@njit_noalloc
def _conditional_transpose(l, b, dAt, k0, k1, method, wcode, std, has_res, gamma, zchol,
                           VH, betaH, sH, RZ, VZ, betaZ, sZ, Zs, Yt, Bt, Ct, VB, betaB, RY, VG,
                           betaG, RG, P, T, Cd, Gd, gd_ready, y2, g, zbuf, iw, dw, cw):
    """Yt <- (a draw of W_lᵀ δ)ᵀ (residual: δ + γ W_lᵀ δ) from the law of W_l given the
    forward pass (module docstring), δ = dAtᵀ, both (n, d) (the transposed layout), from layer
    l's stored reflectors, R_Z and Zᵀ (Zs); fresh normals from stream (l, b, BACKWARD_STREAM);
    Cd (n, d) work space; Gd holds δᵀδ (``_gram_t(dAt)``) if ``gd_ready``, else is work
    space."""
    n, d = dAt.shape
    m = d - n
    k = min(n, m)
    Zt = Zs.reshape((n, d))
    if wcode == 0:
        if zchol:                                               # m >= n
            _abt(Zt, dAt, P, iw, dw, cw)                        # Zᵀ δ
            _upper_t_solve(RZ, P, P)                            # Q_Zᵀ δ = R_Z⁻ᵀ Zᵀ δ
            for c in range(n):
                for a in range(n):
                    Yt[c, a] = sH[a] * P[a, c]                  # D_H Q_Zᵀ δ
            if not gd_ready:
                _gram_t(dAt, Gd)
            if not _rc_from_gram_difference(Gd, P, RY, iw, cw):   # R_C (n×n)
                _upper_solve(RZ, P, T)
                _copy2(Cd, dAt)
                _mul_tt(Zt, T, Cd, -1.0, iw, dw, cw, 1.0)       # Cᵀ, C = δ − Q_Z Q_Zᵀ δ
                _r_factor_t(Cd, RY, Bt, VB, betaB, iw, cw)
        else:
            _copy2(Yt, dAt)
            _apply_reflectors(VZ, betaZ, n, Yt, np.bool_(True))  # Y = P_Zᵀ δ
            for c in range(n):
                for a in range(n):                              # D_H D_Z Y_1
                    Yt[c, a] *= sH[a] * sZ[a]
            if k > 0:
                for c in range(n):                              # Y_2 -> R_Y (k×n)
                    _copy1(Bt[c, :m], Yt[c, n:])
                _house_qr(Bt[:, :m], VB, betaB, RY)
        if k > 0:
            _normals(g[:m * k], method, k0, k1, l, b, np.int64(BACKWARD_STREAM), zbuf)
            _frame_times(g, m, k, RY, Yt, Ct, VG, betaG, RG, T, iw, dw, cw)
    else:
        _abt(Zt, dAt, P, iw, dw, cw)                            # Zᵀ δ, then D_H
        for c in range(n):
            for a in range(n):
                Yt[c, a] = sH[a] * P[a, c]
        if m > 0:
            _r_factor_t(dAt, RY, Bt, VB, betaB, iw, cw)         # R_δ (n×n)
            _normals(g[:m * n], method, k0, k1, l, b, np.int64(BACKWARD_STREAM), zbuf)
            Y2t = y2[:m * n].reshape((n, m))                    # (N R_δ)ᵀ, Nᵀ = g (n, m)
            _mul_tt(g[:m * n].reshape((n, m)), RY, Y2t, 1.0, iw, dw, cw)
            for c in range(n):
                _copy1(Yt[c, n:], Y2t[c])
        for c in range(n):
            y = Yt[c]
            for i in range(d):
                y[i] *= std
    _apply_reflectors(VH, betaH, n, Yt, np.bool_(False))        # P_H [·; ·]
    if has_res:
        for c in range(n):
            a = dAt[c]
            y = Yt[c]
            for i in range(d):
                y[i] = a[i] + gamma * y[i]


@njit_noalloc(error_model="numpy")   # divisions vectorise (no zero test: divisors > 0)
def _nonlinear_vjp_t(At, dHt, dAt, Yt, s, iv, t, norm_code, act_code, g):
    """``fused_grad._nonlinear_vjp_batched`` on the transposed layout (At = A_lᵀ, dHt, dAt, Yt
    (n, d); s, iv, t (d) work space): the arithmetic of ``_rowops.nonlinear_vjp_row`` in the
    same order for every row i (Σ_c a² and Σ_c y·da from 0.0, c = 0 first, no fused
    multiply-add), so bit for bit the row-at-a-time values, each step along contiguous
    columns."""
    n, d = At.shape
    _row_norms_t(At, s)
    sq = math.sqrt(n)
    for i in range(d):
        s[i] = _divisor(norm_code, s[i], sq)
        iv[i] = 1.0 / s[i]
        t[i] = 0.0
    for c in range(n):
        a = At[c]
        y = Yt[c]
        dh = dHt[c]
        da = dAt[c]
        for i in range(d):
            y[i] = a[i] * iv[i]
        if act_code == 0:               # act' = 1: g·(1·dh) is g·dh exactly
            for i in range(d):
                da[i] = g * dh[i]
        else:
            for i in range(d):
                da[i] = g * (_rowops.activation_derivative(act_code, g * y[i]) * dh[i])
        for i in range(d):
            t[i] += y[i] * da[i]
    if norm_code != _NORM_ROWNORM:
        for i in range(d):
            t[i] /= n
    for c in range(n):
        y = Yt[c]
        da = dAt[c]
        for i in range(d):
            da[i] = (da[i] - y[i] * t[i]) / s[i]


@njit
def _vjp_t(At, dHt, dAt, Yt, A, dH, dA, Y, s, iv, t, fast, norm_code, act_code, order_code, g):
    """dAt <- (∂loss/∂A_l)ᵀ from dHt = (∂loss/∂H_l)ᵀ and At = A_lᵀ: ``_nonlinear_vjp_t`` when
    ``fast`` (as ``_rows_and_gram``), else through the (d, n) work arrays A, dH, dA, Y and
    ``fused_grad._nonlinear_vjp``."""
    if fast:
        _nonlinear_vjp_t(At, dHt, dAt, Yt, s, iv, t, norm_code, act_code, g)
        return
    _transpose_into(At, A)
    _transpose_into(dHt, dH)
    _nonlinear_vjp(A, dH, dA, Y, norm_code, act_code, order_code, g)
    _transpose_into(dA, dAt)


@njit_noalloc
def _unit_signal_t(Mt):
    """``fused_grad._unit_signal`` with Σ M² from four partial sums (``trial._scaled_copy_sq``;
    one running sum is bound by the add latency): Mt <- Mt/‖Mt‖_F (left alone if zero);
    returns log‖Mt‖_F (−inf for 0, NaN when the norm is not finite: the caller's error)."""
    f = Mt.reshape(Mt.size)
    s = math.sqrt(_scaled_copy_sq(f, f, 1.0))
    if not (s < np.inf):
        return np.nan
    if s > 0:
        _scaled_copy_sq(f, f, 1.0 / s)
        return math.log(s)
    return -np.inf


@njit
def _grad_norm_t(dAt, Ht, GH, G1, dA, H, iw, dw, cw):
    """‖dA Hᵀ‖_F from the transposed dAt, Ht (n, d) as ``fused_grad._grad_norm``: the Gram form
    from ``_gram_t(dAt)`` and H's Gram GH (upper triangle, as the forward formed it) when
    ``gram_trusted``, else the d×d product from (d, n) copies dA, H (cancellation)."""
    n, d = dAt.shape
    _gram_t(dAt, G1)
    acc, t = gram_pair_sum(G1, GH)
    if not gram_trusted(acc, t, d, n):
        _transpose_into(dAt, dA)
        _transpose_into(Ht, H)
        acc = _product_norm_sq(dA, H, np.empty((d, d)), iw, dw, cw)
    if acc < 0.0:
        acc = 0.0
    return math.sqrt(acc)


@njit
def _trial_grad(b, X, gains, ip, fp, Wout, labels, gcol, stats, top, log_scale, log_grad, err,
                ztape, rztape, zctape):
    """One trial: the forward trial (statistics, checkpoints), the readout gradient, and the
    backward pass one recomputed segment at a time (as
    ``depthcheck.kernels.backends.numba.fused_grad._trial_grad``, with the conditional Wᵀ).
    ``ztape``, ``rztape``, ``zctape``: the calling thread's Z tape (a row per layer when it is
    on, ``_tape_rows``: every layer's normals, R_Z and route kept from the forward pass, so
    that the recomputed segments do not draw them again; else 1-row dummies and the segments
    redraw them), overwritten by this trial's forward pass before the backward reads it."""
    depth, k0, k1, method = ip[I_DEPTH], np.uint64(ip[I_K0]), np.uint64(ip[I_K1]), ip[I_METHOD]
    wcode, norm_code, act_code, order_code = ip[I_WEIGHT], ip[I_NORM], ip[I_ACT], ip[I_ORDER]
    has_res, rescale, kc = ip[I_RESIDUAL] != 0, ip[I_RESCALE] != 0, ip[I_KC]
    std, gamma, log_gamma = fp[F_STD], fp[F_GAMMA], fp[F_LOG_GAMMA]
    d, n = X.shape[1], X.shape[2]
    m = d - n
    ncp = (depth + kc - 1) // kc
    cps = np.empty((ncp, d, n))
    cpl = np.empty(ncp)
    H = np.empty((d, n))
    log_c = _trial(b, X, gains, ip, fp, stats, top, log_scale, err, cps, cpl, H, ztape, rztape,
                   zctape)
    taped = ztape.shape[0] >= depth
    if err[b, 1] != ERR_NONE:
        return

    iw = np.empty(8, np.int32)
    dw = np.empty(2)
    cw = np.empty(2, np.uint8)
    dH = np.empty((d, n))
    dA = np.empty((d, n))
    A = np.empty((d, n))
    Y = np.empty((d, n))
    Zb = np.empty((Wout.shape[1], n))
    fac = math.exp(min(log_c, LOG_SCALE_CAP)) if rescale else 1.0
    _readout_grad(H, Wout[b], labels, fac, Zb, dH, iw, dw, cw)
    lg = _unit_signal(dH)
    if lg != lg:
        err[b, 0] = depth
        err[b, 1] = ERR_BACKWARD
        return
    dHt = np.empty((n, d))              # the backward's state, transposed as the forward's
    dAt = np.empty((n, d))
    _transpose_into(dH, dHt)

    # one segment's tape: H_{l-1}ᵀ and its Gram, A_lᵀ, Zᵀ and layer l's reflectors / R_Z
    fast = _fast_rows(norm_code, order_code, rescale, ip[I_FLAGS:I_FLAGS + N_FLAGS] != 0)
    Hts = np.empty((kc, n, d))
    GHs = np.empty((kc, n, n))
    Ats = np.empty((kc, n, d))
    lcs = np.empty(kc)
    VHs = np.empty((kc, n, d))
    bHs = np.empty((kc, n))
    sHs = np.empty((kc, n))
    haar = wcode == 0
    kz = kc if haar else 1
    RZs = np.empty((kz, n, n))
    VZs = np.empty((kz, n, d))
    bZs = np.empty((kz, n))
    sZs = np.empty((kz, n))
    zch = np.zeros(kc, np.bool_)
    Zs = np.empty((1 if taped else kc, d * n))   # the segment's Z when there is no tape
    Mt = np.empty((n, d))
    RH = np.empty((n, n))
    Mn = np.empty((n, n))
    zbuf = np.empty(ZWORK, np.uint64)
    rn = np.empty(d)
    iv = np.empty(d)
    tw = np.empty(d)
    G1 = np.empty((n, n))
    mm = max(m, 1)
    Yt = np.empty((n, d))
    Bt = np.empty((n, d))
    Ct = np.empty((n, mm))
    VB = np.empty((n, d))
    betaB = np.empty(n)
    RY = np.empty((n, n))
    VG = np.empty((n, mm))
    betaG = np.empty(n)
    RG = np.empty((n, n))
    P = np.empty((n, n))
    T = np.empty((n, n))
    Cd = np.empty((n, d))
    y2 = np.empty(mm * n)
    g = np.empty(mm * n)
    for t in range(ncp - 1, -1, -1):
        s0 = t * kc
        steps = min(kc, depth - s0)
        Hts[0] = cps[t].reshape((n, d))
        lcs[0] = cpl[t]
        _gram_t(Hts[0], GHs[0])           # as the forward: the Gram of its state
        for j in range(steps):            # recompute the segment: the forward's own step
            l = s0 + j + 1
            jz = j if haar else 0
            rh_ok = _rh_from_gram(GHs[j], RH, iw, cw)   # R_H exactly as the forward took it
            zl = ztape[l - 1] if taped else Zs[j]
            rzl = rztape[l - 1] if taped else RZs[jz]
            zcg = zctape[l - 1] if taped else -1
            zch[j] = _linear_step(l, b, Hts[j], Ats[j], k0, k1, method, wcode, std, has_res,
                                  gamma, Mt, RH, Mn, zl, zbuf, VHs[j], bHs[j], sHs[j],
                                  rzl, VZs[jz], bZs[jz], sZs[jz], iw, dw, cw, rh_ok,
                                  np.bool_(True), np.bool_(taped), np.int64(zcg))
            if j + 1 < steps:
                e, lsj = _rows_and_gram(Ats[j], Hts[j + 1], A, H, rn, iv, GHs[j + 1], fast,
                                        norm_code, act_code, order_code, gains[l - 1], rescale)
                lcs[j + 1] = lcs[j] + lsj
                if e != ERR_NONE:         # unreachable: the forward pass did the same
                    err[b, 0] = l
                    err[b, 1] = e
                    return
        for j in range(steps - 1, -1, -1):
            l = s0 + j + 1
            _vjp_t(Ats[j], dHt, dAt, Yt, A, dH, dA, Y, rn, iv, tw, fast, norm_code, act_code,
                   order_code, gains[l - 1])
            col = gcol[l]
            gd_ready = col >= 0               # _grad_norm_t leaves δᵀδ in G1
            if col >= 0:
                gn = _grad_norm_t(dAt, Hts[j], GHs[j], G1, dA, H, iw, dw, cw)
                lgn = math.log(gn) if gn > 0 else (-np.inf if gn == 0 else gn)
                log_grad[b, col] = lg + lcs[j] + lgn + log_gamma
            if l == 1:
                break                     # ∂loss/∂H_0 is not needed
            jz = j if haar else 0
            zl = ztape[l - 1] if taped else Zs[j]
            rzl = rztape[l - 1] if taped else RZs[jz]
            _conditional_transpose(l, b, dAt, k0, k1, method, wcode, std, has_res, gamma,
                                   zch[j], VHs[j], bHs[j], sHs[j], rzl, VZs[jz], bZs[jz],
                                   sZs[jz], zl, Yt, Bt, Ct, VB, betaB, RY, VG, betaG, RG, P,
                                   T, Cd, G1, gd_ready, y2, g, zbuf, iw, dw, cw)
            dHt, Yt = Yt, dHt               # the draw is the next layer's signal
            ls = _unit_signal_t(dHt)
            if ls != ls:
                err[b, 0] = l - 1
                err[b, 1] = ERR_BACKWARD
                return
            lg += ls


def _make_reduced_grad(fingerprint):
    """The parallel entry kernel with gradients (disk cache as ``_make_reduced_forward``)."""
    @njit(parallel=True, cache=True)
    def _reduced_grad(X, gains, ip, fp, Wout, labels, gcol, stats, top, log_scale, log_grad,
                      err, tape_rows, nt):
        if fingerprint < 0:                  # never: ties the disk cache to the dependencies
            return
        B = err.shape[0]
        d, n = X.shape[1], X.shape[2]
        for t in prange(nt):
            # one tape per thread, reused by its trials (a fresh one per trial costs its page
            # faults: ~10 us per layer at d·n = 8192)
            ztape = np.empty((tape_rows, d * n))
            rztape = np.empty((tape_rows, n, n))
            zctape = np.empty(tape_rows, np.int8)
            for b in range(t, B, nt):
                _trial_grad(np.int64(b), X, gains, ip, fp, Wout, labels, gcol, stats, top,
                            log_scale, log_grad, err, ztape, rztape, zctape)
    return _reduced_grad


_reduced_grad = _make_reduced_grad(kernel_fingerprint(_fused_grad))


def _tape_rows(depth, d, n):
    """Rows of the gradient kernel's Z tape: ``depth`` when its L·d·n doubles fit
    ``ZTAPE_MAX_BYTES`` (read at each call), else 1 (no tape: the segments redraw Z)."""
    return depth if depth * d * n * 8 <= ZTAPE_MAX_BYTES else 1


# -------------------------------------------------------------------------------- host side
def simulate_reduced_chain_numba(X, depth, *, rng, normals="ziggurat", **chain_args) -> dict:
    """``simulate_chain(..., method="reduced", backend="numba")`` with the Philox key drawn from
    ``rng`` directly.

    Every keyword argument of ``depthcheck.kernels.simulate_chain`` except ``method`` and
    ``backend`` is accepted, with the same names, defaults and checks (one signature, checked
    once by ``ChainSpec.from_arguments``).

    Same output dictionary and law as ``depthcheck.kernels.simulate_chain`` (n <= d,
    ``weights`` "haar" or "gaussian"), gradients included, different random numbers: a Philox
    key is drawn from ``rng`` (``depthcheck.kernels.random.philox.philox_key``), layer l of
    trial b uses the d·n normals of stream (l, b, 0) (``normals`` "ziggurat", the block
    ziggurat of this module, or "box_muller"; ``reduced_normals`` gives them), its backward pass
    stream (l, b, 1); with ``gradients=True`` the readout is
    ``depthcheck.kernels.random.philox.readout_philox(key, trials, n_out, d, normals)`` and
    ``labels``, when None, are drawn from ``rng`` after the key. Cost O(L d n²) per trial,
    memory O(B·R + threads·d n) (with gradients O(threads·(L/k_c + 4 k_c)·d n)).
    """
    if normals not in METHODS:
        raise ValueError(f"normals={normals!r} is not one of {tuple(METHODS)}")
    spec = ChainSpec.from_arguments(X, depth, rng=rng,
                                    **engine_arguments(chain_args, "reduced", "numba"))
    key = philox_key(rng)
    labels = spec.labels
    if spec.gradients and labels is None:
        labels = rng.integers(0, spec.n_out, size=spec.n)
    return run_reduced_numba(spec, spec.X, key, record=spec.record,
                             record_every=spec.record_every, tau=spec.tau,
                             n_singular=spec.n_singular, method=normals,
                             gradients=spec.gradients, labels=labels,
                             checkpoint_every=spec.checkpoint_every)


def run_reduced_numba(spec, X, key, *, record, record_every, tau, n_singular,
                      method="ziggurat", gradients=False, labels=None,
                      checkpoint_every=None) -> dict:
    """The fused reduced kernel for a validated ``ChainSpec`` and a Philox ``key``; with
    ``gradients`` (``labels`` ``(n,)`` ints in [0, n_out) required, ``checkpoint_every`` default
    ⌈√L⌉, the results do not depend on it) also ``"grad_layers"``, ``"log_grad_norm"`` and
    ``"labels"`` as ``depthcheck.kernels.backends.numba.fused_grad.run_fused_grad``."""
    if spec.weights not in REDUCED_WEIGHTS:
        raise ValueError(f"weights={spec.weights!r}: the reduced chain needs a rotation-invariant "
                         f"weight law, one of {REDUCED_WEIGHTS}")
    B, d, n = spec.trials, spec.d, spec.n
    if n > d:
        raise ValueError(f"X must have n <= d for the reduced chain (columns are samples), got "
                         f"d={d}, n={n}")
    layers, want, k_sing, stats, top, log_scale = stat_buffers(spec, record, record_every,
                                                               n_singular)
    err = np.empty((B, 2), dtype=np.int64)
    Xb = np.ascontiguousarray(X if X.ndim == 3 else X[None], dtype=np.float64)
    gains = np.ascontiguousarray(spec.gains, dtype=np.float64)
    # weight codes: codes.WEIGHT_CODES (haar 0, gaussian 1), the two laws REDUCED_WEIGHTS allows
    if not gradients:
        ip, fp = kernel_scalars(spec, key, method=METHODS[method], flags=want,
                                record_every=int(record_every), tau=float(tau),
                                n_sing=int(k_sing))
        with blas_single_thread():
            _reduced_forward(Xb, gains, ip, fp, stats, top, log_scale, err)
        raise_breakdown(err)
        return collect(spec, record, layers, k_sing, stats, top, log_scale)

    y, kc, gcol, Wout, grads = grad_setup(spec, key, method, labels, checkpoint_every, layers)
    ip, fp = kernel_scalars(spec, key, method=METHODS[method], flags=want,
                            record_every=int(record_every), tau=float(tau), n_sing=int(k_sing),
                            kc=int(kc))
    with blas_single_thread():
        _reduced_grad(Xb, gains, ip, fp, Wout, y, gcol, stats, top, log_scale,
                      grads["log_grad_norm"], err, _tape_rows(spec.depth, d, n),
                      min(B, numba.get_num_threads()))
    return grad_result(spec, record, err, grads,
                       collect_args=(layers, k_sing, stats, top, log_scale))


class ReducedNumbaChainBackend(ReducedChainBackend):
    """Engine ``method="reduced", backend="numba"`` of ``depthcheck.kernels.simulate_chain`` (n <= d,
    Haar or Gaussian weights): the fused kernels above, forward or with gradients (Philox key
    derived from the driver's ``root`` by ``depthcheck.kernels.random.philox.key_from_root``,
    labels drawn by the driver). Anything else (other weight laws, n > d) is refused by name."""

    name = "reduced_numba"

    @staticmethod
    def unsupported(spec, record, gradients) -> str | None:
        return ReducedChainBackend.unsupported(spec, record, gradients)

    @staticmethod
    def run_fused(spec, X, root, *, record, record_every, tau, n_singular, gradients=False,
                  labels=None, checkpoint_every=None, **_) -> dict:
        return run_reduced_numba(spec, X, key_from_root(root), record=record,
                                 record_every=record_every, tau=tau, n_singular=n_singular,
                                 gradients=bool(gradients), labels=labels,
                                 checkpoint_every=checkpoint_every)
