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

from depthcheck.kernels.backends.numba import _jit
from depthcheck.kernels.backends.numba._jit import njit_noalloc
from depthcheck.theory._checks import as_float_array, check_positive_int
from depthcheck.kernels.backends.numba._cache import source_fingerprint
from depthcheck.kernels.backends.numba import blas as _blas
from depthcheck.kernels.backends.numba import simd as _simd
from depthcheck.kernels.backends.numba.blas import _L, _N, _T_, _dsyrk, _gemm, blas_single_thread
from depthcheck.kernels.backends.numba.simd import (HAS_AVX512, HAS_FMA, scaled_copy_sumsq4,
                                                    sumsq4, vfma, vload, vload8, vmul, vsplat,
                                                    vsplat8, vstore)
from depthcheck.kernels.chain.codes import WY_BLOCK
from depthcheck.kernels.random import philox as _philox
from depthcheck.kernels.random.philox import ZIG_WORK, METHODS, _fill_normals

__all__ = ["haar_apply_batch", "apply_haar_philox", "householder_vectors_philox", "WY_BLOCK",
           "pair_work_size", "pair_apply_wins", "pairs_padded", "PAIR_APPLY_MAX_D", "WIDE_TILES"]


@njit_noalloc
def _unit_rows(R, tau, D):
    """Rows R[k, k:] hold the Gaussian x_k (zeros before column k): turn them in place into the
    unit reflector vectors u_k, with τ_k and the sign matrix D (depthcheck.kernels.random.householder).

    Three passes over the rows, each row's arithmetic as if done alone: the squared norms
    (``simd.sumsq4``), then the square roots and divisions (independent across rows, so they
    overlap instead of forming one chain per row), then the scaling (``_unit_finish``); tau
    holds the squared norms, then each row's 1/v_n, between the passes."""
    d = R.shape[0]
    for k in range(d):
        row = R[k]
        row[:k] = 0.0
        tau[k] = sumsq4(row, k, d - k)
    _unit_finish(R, tau, D)


@njit_noalloc
def _unit_rows_packed(z, R, tau, D):
    """``_unit_rows`` on x_0, x_1, ... packed in z (x_k: d − k entries, in order), the same
    values: the squared norms and x_k[0] read from z (``simd.sumsq4``: the sums of the copies
    ``_unit_rows`` would square), pass two (``_unit_pivots``), then each row written once from
    z, already scaled (x·(1/v_n), the value of the copy scaled in place): one store of each
    entry instead of two (one core of the AVX-512 Xeon, d = 32 / 50 / 100 / 200: 0.44–0.46 /
    0.81–0.83 / 3.55 / 15.3–15.8 -> 0.44 / 0.80–0.81 / 3.15–3.21 / 13.7–14.1 µs a layer)."""
    d = R.shape[0]
    p = 0
    for k in range(d):
        tau[k] = sumsq4(z, p, d - k)
        D[k] = z[p]
        p += d - k
    _unit_pivots(tau, D)
    p = 0
    for k in range(d):
        row = R[k]
        row[:k] = 0.0
        s = 1.0 if z[p] >= 0 else -1.0
        inv = tau[k]
        if inv == inv:
            row[k] = D[k]
            xk = z[p + 1:p + d - k]
            tail = row[k + 1:]
            for i in range(xk.size):
                tail[i] = xk[i] * inv
            tau[k] = 2.0
        else:
            row[k:] = 0.0
            tau[k] = 0.0
        D[k] = -s if k < d - 1 else s
        p += d - k


@njit_noalloc
def _unit_pivots(tau, D):
    """Pass two of ``_unit_rows`` from tau[k] = ‖x_k‖² and D[k] = x_k[0], per row: ‖x‖ = √tau,
    s = sign(x_0) (+1 at 0), v_n = √(2‖x‖(‖x‖ + |x_0|)); where k < d − 1 and v_n > 0,
    D[k] <- u_0 = (x_0 + s‖x‖)·(1/v_n) and tau <- 1/v_n, else tau <- NaN. Its square roots
    and division run for all rows in one loop without branches (they overlap instead of
    queueing behind each row's branches: the whole of ``_unit_rows_packed`` 0.47 -> 0.43 µs at
    d = 32, same values)."""
    d = D.size
    for k in range(d):
        x0 = D[k]
        nrm = math.sqrt(tau[k])
        s = 1.0 if x0 >= 0 else -1.0
        vn = math.sqrt(2.0 * nrm * (nrm + abs(x0)))
        ok = (vn > 0) & (k < d - 1)
        inv = 1.0 / (vn if ok else 1.0)
        D[k] = (x0 + s * nrm) * inv           # u_0 where ok
        tau[k] = inv if ok else np.nan


@njit_noalloc
def _unit_finish(R, tau, D):
    """Passes two and three of ``_unit_rows`` from tau[k] = ‖x_k‖²: ``_unit_pivots`` on the
    diagonal gathered into D, then the rows: u_0 on the diagonal and the rest scaled by
    tau = 1/v_n (tau <- 2), or a zero row (tau <- 0) where tau is NaN; D[k] = −s (s for the
    last row)."""
    d = R.shape[0]
    for k in range(d):
        D[k] = R[k, k]
    _unit_pivots(tau, D)
    for k in range(d):
        row = R[k]
        s = 1.0 if row[k] >= 0 else -1.0
        if tau[k] == tau[k]:
            row[k] = D[k]
        D[k] = -s if k < d - 1 else s
    for k in range(d):
        inv = tau[k]
        if inv == inv:
            tail = R[k, k + 1:]
            for i in range(tail.size):
                tail[i] *= inv
            tau[k] = 2.0
        else:
            R[k, k:] = 0.0
            tau[k] = 0.0


@njit_noalloc
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


@njit_noalloc
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


@njit_noalloc
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


#: Whether ``_pairs`` runs its columns in eight-lane tiles by default: on AVX-512 CPUs
#: (``simd.HAS_AVX512``). Same values; measured on an AVX-512 Xeon, one core: the tiles' inner
#: loop 1.45x faster, the whole pairs 1.05-1.25x (d = 32 … 200), the Fig. 1 chain at d = 200
#: 1.26x (with the aligned rows of ``pairs_padded``); with fused multiply-adds, draw and pairs
#: together 1.03 / 1.04 / 1.13 / 1.18x faster at d = 32 / 50 / 100 / 200.
WIDE_TILES = HAS_AVX512

#: widths up to which the tracked Fig. 1 chain applies its Haar layers by ``_pairs`` (no
#: BLAS) rather than the blocked ``_wy_apply`` (n = d; ``pair_apply_wins``). Measured, µs per
#: layer and trial, one thread, pairs vs compact WY: d = 100: 108–110 vs 149, 160: 397 vs 443,
#: 192: 635 vs 701, 200: 649 vs 789, 240: 1065 vs 1331; the pairs lose at d = 128 (273 vs 260),
#: 256 (1717 vs 1584) and 320 (3561 vs 3052: R and Y no longer fit the 512 KiB L2) (the
#: AMD EPYC box). With the pairs' fused multiply-adds, on one core of the AVX-512 Xeon (draw,
#: unit rows and application, ``validation/bench/RESULTS.md``): 200: 413 vs 518, 240: 826 vs
#: 865, 264: 1101 vs 1144, 288: 1667 vs 1531, 320: 2560 vs 2143: the crossover moved little.
#: The eight-lane tiles' fused passes (``_fused_tile_source``: one load of Y a pair instead of
#: two) moved it on the Xeon (2 MiB L2), the application alone, one core, pairs vs WY (block
#: 16): 240: 509 vs 511–606, 264: 669 vs 844, 288: 907 vs 1134, 320: 1378 vs 1568, 400: 2717 vs
#: 3003, 448: 3813 vs 4209, 480: 4695 vs 5350, 600: 9841 vs 11318; the limit for eight-lane
#: tiles is 480 (the pairs still won at 600, on a core with a larger L2 than most).
PAIR_APPLY_MAX_D = 480 if WIDE_TILES else 240


@njit_noalloc
def pair_apply_wins(d):
    """Whether the tracked chain uses ``_pairs`` at width d: numba's target has FMA
    instructions (``simd.HAS_FMA``: the pairs' fused multiply-adds are otherwise computed in
    software), d <= ``PAIR_APPLY_MAX_D`` and d not a multiple of 128 (rows 8·128 bytes apart
    fall into few L1 sets: a 16-column tile no longer stays in L1; measured at d = 128)."""
    return HAS_FMA and d <= PAIR_APPLY_MAX_D and d % 128 != 0


@njit_noalloc
def pair_work_size(d):
    """Length of ``_pair_apply``'s work space for width d: the pairs' coefficients (d) and a
    d×4 tile for the last n mod 4 columns."""
    return 5 * d


@njit_noalloc
def _pair_coefs(R, tau, cf):
    """cf[k] <- t01 = −τ_{k−1} τ_k (u_{k−1}·u_k) of each pair (k − 1, k), k = d − 2, d − 4, ...
    >= 1 of ``_pair_apply`` (the dot product summed over i = k .. d − 1 in order). Four pairs
    at a time, their sums in four running scalars (one sum waits on the add latency): their
    loop starts at the fourth pair's index, and a lane whose sum starts later first adds
    products with a zero factor (u_k vanishes before k), which leave its +0.0 start unchanged."""
    d = R.shape[0]
    k = d - 2
    while k >= 7:
        a0, b0 = R[k - 1], R[k]
        a1, b1 = R[k - 3], R[k - 2]
        a2, b2 = R[k - 5], R[k - 4]
        a3, b3 = R[k - 7], R[k - 6]
        s0 = s1 = s2 = s3 = 0.0
        for i in range(k - 6, d):
            s0 += a0[i] * b0[i]
            s1 += a1[i] * b1[i]
            s2 += a2[i] * b2[i]
            s3 += a3[i] * b3[i]
        cf[k] = -tau[k - 1] * tau[k] * s0
        cf[k - 2] = -tau[k - 3] * tau[k - 2] * s1
        cf[k - 4] = -tau[k - 5] * tau[k - 4] * s2
        cf[k - 6] = -tau[k - 7] * tau[k - 6] * s3
        k -= 8
    while k >= 1:
        ua = R[k - 1]
        ub = R[k]
        s = 0.0
        for i in range(k, d):
            s += ua[i] * ub[i]
        cf[k] = -tau[k - 1] * tau[k] * s
        k -= 2


def _tile_parts(w: int, lanes: int) -> dict:
    """The pieces of source both tile templates are made of (body lines at indent 8 unless
    said): ``head`` (the ``def`` line and the first assignments, indent 4), ``rows`` (pair
    (a, k) = (k − 1, k) of R), ``views`` (row a's offset, the two vectors from column k),
    ``sums`` (a pair's running sums over rows a, k .. d − 1), ``coefs`` (the sums become the
    update's coefficients), ``update`` (rows a, k .. d − 1 updated) and ``single`` (the first
    reflector alone, at indent 4), for w vectors of ``lanes`` lanes; ``each`` repeats a line
    per vector."""
    x = "" if lanes == 4 else str(lanes)

    def each(line, indent):
        pad = " " * indent
        return "".join(pad + line.format(j=j, o=lanes * j, x=x) + "\n" for j in range(w))
    return dict(
        each=each,
        head=(f"def _pairs_tile{w}{'x' + x if x else ''}(Yf, n, c, R, tau, cf):\n"
              "    d = R.shape[0]\n"
              f"    zero = vsplat{x}(0.0)\n"
              "    k = d - 2\n"),
        rows=("        a = k - 1\n"
              "        ua = R[a]\n"
              "        ub = R[k]\n"),
        # loops from 0 over views: no wrap-around test on the index (numba, see reduced._dot)
        views=("        oa = a * n + c\n"
               "        uk = ua[k:]\n"
               "        vk = ub[k:]\n"),
        sums=(f"        xa = vsplat{x}(ua[a])\n"
              + each("p{j} = vmul(xa, vload{x}(Yf, oa + {o}))", 8)
              + each("q{j} = zero", 8) +
              "        for t in range(d - k):\n"
              f"            x0 = vsplat{x}(uk[t])\n"
              f"            x1 = vsplat{x}(vk[t])\n"
              "            o = (k + t) * n + c\n"
              + each("v = vload{x}(Yf, o + {o}); p{j} = vfma(x0, v, p{j}); "
                     "q{j} = vfma(x1, v, q{j})", 12)),
        coefs=(f"        ta = vsplat{x}(tau[a])\n"
               f"        tb = vsplat{x}(tau[k])\n"
               f"        t01 = vsplat{x}(cf[k])\n"
               + each("p{j} = vfma(ta, p{j}, vmul(t01, q{j}))", 8)
               + each("q{j} = vmul(tb, q{j})", 8)
               + f"        nxa = vsplat{x}(-ua[a])\n"),
        update=(each("vstore(Yf, oa + {o}, vfma(nxa, p{j}, vload{x}(Yf, oa + {o})))", 8) +
                "        for t in range(d - k):\n"
                f"            x0 = vsplat{x}(-uk[t])\n"
                f"            x1 = vsplat{x}(-vk[t])\n"
                "            o = (k + t) * n + c\n"
                + each("vstore(Yf, o + {o}, vfma(x0, p{j}, vfma(x1, q{j}, "
                       "vload{x}(Yf, o + {o}))))", 12)),
        single=("    if k == 0:\n"
                "        u = R[0]\n"
                + each("p{j} = zero", 8) +
                "        for i in range(d):\n"
                f"            x = vsplat{x}(u[i])\n"
                "            o = i * n + c\n"
                + each("p{j} = vfma(x, vload{x}(Yf, o + {o}), p{j})", 12) +
                "        t = tau[0]\n"
                "        for i in range(d):\n"
                f"            x = vsplat{x}(-(t * u[i]))\n"
                "            o = i * n + c\n"
                + each("vstore(Yf, o + {o}, vfma(x, p{j}, vload{x}(Yf, o + {o})))", 12)))


def _tile_source(w: int, lanes: int = 4) -> str:
    """Source of ``_pairs_tile{w}`` (four lanes) or ``_pairs_tile{w}x8`` (eight): ``_pairs`` on
    the lanes·w columns c .. c + lanes·w − 1 of Y (flat C-order ``Yf``, row length n), w vectors,
    in two passes a pair (the sums, then the update). The library compiles its eight-lane tiles
    from ``_fused_tile_source`` (one pass a pair); the tests check that both forms agree bit
    for bit.
    The tile's 2w accumulators stay in registers across the loop over rows (``simd``); each lane
    does the arithmetic of ``_pairs``'s scalar description, in its order, so the lane count
    changes no value. Written out per width from this one template: a single body with branches
    on w made ``_pairs`` compile in 8–9 s instead of 4 s."""
    t = _tile_parts(w, lanes)
    return (t["head"] + "    while k >= 1:\n" + t["rows"] + t["views"] + t["sums"] + t["coefs"]
            + t["update"] + "        k -= 2\n" + t["single"])


def _fused_tile_source(w: int) -> str:
    """Source of ``_pairs_tile{w}x8`` with each pair's update and the next pair's sums in one
    pass over the rows (eight lanes, w vectors): the same operations in the same order as
    ``_tile_source(w, 8)``, so the same values. Pair k updates rows k − 1 .. d − 1; the next
    pair (k − 3, k − 2) sums rows k − 3, k − 2 (which pair k leaves alone) and then every row
    as soon as pair k has written it. One load of each row a pair instead of two, and one loop
    start: the 4w running sums of two pairs need 32 registers (AVX-512; the four-lane tiles,
    which also serve AVX2's 16 registers, keep two passes). The pairs alone (``pairs_padded``),
    one core of the AVX-512 Xeon, d = 32 / 50 / 100 / 200: 1.37 / 5.04 / 36.8 / 298 µs ->
    1.25 / 4.57 / 31.4 / 245 µs (FMA floor 2d³ flops: 0.91 / 3.47 / 27.8 / 222)."""
    t = _tile_parts(w, 8)
    each = t["each"]
    # pair k's update (p, q) fused with the sums (r, s) of pair (a2, k − 2) = (k − 3, k − 2)
    fused = (
        "        a2 = k - 3\n"
        "        ua2 = R[a2]\n"
        "        ub2 = R[k - 2]\n"
        "        xa = vsplat8(ua2[a2])\n"
        "        o2 = a2 * n + c\n"
        + each("r{j} = vmul(xa, vload8(Yf, o2 + {o}))", 8) +
        "        x0 = vsplat8(ua2[k - 2])\n"
        "        x1 = vsplat8(ub2[k - 2])\n"
        "        o2 = (k - 2) * n + c\n"
        + each("v = vload8(Yf, o2 + {o}); r{j} = vfma(x0, v, r{j}); s{j} = vfma(x1, v, zero)", 8) +
        "        x0 = vsplat8(ua2[a])\n"
        "        x1 = vsplat8(ub2[a])\n"
        + each("v = vfma(nxa, p{j}, vload8(Yf, oa + {o})); vstore(Yf, oa + {o}, v); "
               "r{j} = vfma(x0, v, r{j}); s{j} = vfma(x1, v, s{j})", 8) +
        "        u2 = ua2[k:]\n"
        "        v2 = ub2[k:]\n"
        "        for t in range(d - k):\n"
        "            y0 = vsplat8(-uk[t])\n"
        "            y1 = vsplat8(-vk[t])\n"
        "            x0 = vsplat8(u2[t])\n"
        "            x1 = vsplat8(v2[t])\n"
        "            o = (k + t) * n + c\n"
        + each("v = vfma(y0, p{j}, vfma(y1, q{j}, vload8(Yf, o + {o}))); vstore(Yf, o + {o}, v); "
               "r{j} = vfma(x0, v, r{j}); s{j} = vfma(x1, v, s{j})", 12)
        + each("p{j} = r{j}", 8)
        + each("q{j} = s{j}", 8))
    return (t["head"]
            + "    if k >= 1:\n" + t["rows"] + t["views"] + t["sums"]
            + "    while k >= 3:\n" + t["rows"] + t["coefs"] + t["views"] + fused
            + "        k -= 2\n"
            + "    if k >= 1:\n" + t["rows"] + t["coefs"] + t["views"] + t["update"]
            + "        k -= 2\n"
            + t["single"])


def _make_tile(w: int, lanes: int = 4):
    """``_pairs_tile{w}`` (``_pairs_tile{w}x8``) compiled from ``_tile_source(w, 4)``
    (``_fused_tile_source(w)``) in this module's namespace."""
    ns: dict = {}
    name = f"_pairs_tile{w}" + ("" if lanes == 4 else f"x{lanes}")
    source = _fused_tile_source(w) if lanes == 8 else _tile_source(w, lanes)
    exec(compile(source, f"<depthcheck wy.{name}>", "exec"), globals(), ns)
    return njit(ns[name])


_pairs_tile4 = _make_tile(4)
_pairs_tile3 = _make_tile(3)
_pairs_tile1 = _make_tile(1)
_pairs_tile4x8 = _make_tile(4, 8)
_pairs_tile3x8 = _make_tile(3, 8)
_pairs_tile2x8 = _make_tile(2, 8)


@njit_noalloc
def _tiling(m, twos):
    """How ``_pairs_vectors`` (``twos`` False) and ``_pairs_vectors8`` (True) tile m vectors:
    (q, t, rest), q tiles of 4 vectors and t of 3 (a 3-vector tile's 6 accumulators still cover
    the add latency; a tile of 1 waits on it), then rest = m − 4q − 3t vectors in tiles of 1
    (four lanes: rest <= 2, or 1 after 4q) or one tile of 2 (eight lanes: rest 2, or 1 for
    m = 1)."""
    q, r = divmod(m, 4)
    t = 0
    if r == 3:
        t = 1
    elif r == 2 and q >= 1 and not twos:
        q -= 1
        t = 2
    elif r == 1 and q >= 2:
        q -= 2
        t = 3
    elif r == 1 and q == 1 and twos:
        q = 0
        t = 1
    return q, t, m - 4 * q - 3 * t


@njit_noalloc
def _pairs_vectors(Yf, n, c, m, R, tau, cf):
    """``_pairs`` on the m four-lane vectors (4m columns) of Y from column c (flat ``Yf``, row
    length n), in tiles of 4, 3 and 1 vectors (``_tiling``). Callers pass n, c and m as
    variables, never literals: numba compiles a function once per literal argument value (that
    tripled this module's compile time)."""
    q, t, rest = _tiling(m, np.bool_(False))
    for j in range(q):
        _pairs_tile4(Yf, n, c, R, tau, cf)
        c += 16
    for j in range(t):
        _pairs_tile3(Yf, n, c, R, tau, cf)
        c += 12
    for j in range(rest):
        _pairs_tile1(Yf, n, c, R, tau, cf)
        c += 4


@njit_noalloc
def _pairs_vectors8(Yf, n, m, R, tau, cf):
    """``_pairs`` on the first m eight-lane vectors (8m columns) of Y (flat ``Yf``, row length
    n), in tiles of 4, 3 and 2 vectors (``_tiling``; a single vector as two four-lane ones);
    returns 8m, the next column."""
    c = np.int64(0)                           # not the literal 0: see _pairs_vectors
    q, t, rest = _tiling(m, np.bool_(True))
    for j in range(q):
        _pairs_tile4x8(Yf, n, c, R, tau, cf)
        c += 32
    for j in range(t):
        _pairs_tile3x8(Yf, n, c, R, tau, cf)
        c += 24
    if rest == 2:
        _pairs_tile2x8(Yf, n, c, R, tau, cf)
        c += 16
    elif rest == 1:
        _pairs_vectors(Yf, n, c, 2 * rest, R, tau, cf)
        c += 8
    return c


@njit_noalloc
def _pairs_tiled(Yf, ld, m, R, tau, cf, wide):
    """``_pairs`` on the first m four-lane vectors of every row of Y (flat ``Yf``, row length
    ld), with the pairs' coefficients cf (``_pair_coefs``): with ``wide`` first eight-lane tiles
    (``_pairs_vectors8``), then four-lane ones (``_pairs_vectors``). Returns 4m."""
    c = np.int64(0)                           # not the literal 0: see _pairs_vectors
    if wide:
        c = _pairs_vectors8(Yf, ld, m // 2, R, tau, cf)
    _pairs_vectors(Yf, ld, c, m - c // 4, R, tau, cf)
    return 4 * m


@njit_noalloc
def padded_vectors(n, wide):
    """The four-lane vectors ``pairs_padded`` should cover for n columns in rows padded to a
    multiple of 8: with ``wide`` (eight-lane tiles) the whole padded row, so that an odd
    four-lane vector left over does not go through a one-vector tile, whose two running sums
    wait on the FMA latency (d = 50: 52 columns as 48 + 4 took 5.72 µs a layer, 56 as eight-lane
    tiles 5.05 µs; d = 100: 37.9 → 36.0 µs); otherwise n rounded up to whole four-lane vectors.
    The padding is zero and stays zero (the pairs are linear); no column's value changes."""
    return (n + 7) // 8 * 2 if wide else (n + 3) // 4


@njit
def pairs_padded(Y, m, R, tau, work, wide=WIDE_TILES):
    """``_pairs`` on the first 4m columns of Y (C-contiguous, 4m <= its columns; the rest
    untouched): the fused chain's D·H, in rows padded with zeros to a 64-byte multiple
    (``simd.zeros_aligned``) so that every tile's loads are aligned. ``work``:
    ``pair_work_size(d)`` floats."""
    d, ld = Y.shape
    if work.size < 5 * d or 4 * m > ld:
        raise ValueError("pairs_padded: work space smaller than pair_work_size(d), or 4m "
                         "columns beyond Y")
    cf = work[:d]
    _pair_coefs(R, tau, cf)
    _pairs_tiled(Y.reshape(d * ld), ld, m, R, tau, cf, wide)


@njit_noalloc
def _pairs(Y, R, tau, work, wide=WIDE_TILES):
    """In place Y <- P_0 ⋯ P_{d-2} Y for the unit reflector rows of R (``_unit_rows``): the
    reflectors two at a time, last pair first, P_a P_b = I − [u_a u_b] T [u_a u_b]ᵀ with
    T = [[τ_a, t01], [0, τ_b]], t01 = −τ_a τ_b u_a·u_b (forward dlarft of two vectors), the
    first reflector alone when d is even. Per pair and column c (u_a, u_b vanish before their
    index; i = b .. d − 1 in order; fma(x, y, z) = x·y + z rounded once, ``simd.vfma``):

        w0 <- u_a[a]·Y[a, c], then w0 <- fma(u_a[i], Y[i, c], w0);
        w1 <- 0, then w1 <- fma(u_b[i], Y[i, c], w1);
        z0 = fma(τ_a, w0, t01·w1),   z1 = τ_b·w1,
        Y[a, c] <- fma(−u_a[a], z0, Y[a, c]),
        Y[i, c] <- fma(−u_a[i], z0, fma(−u_b[i], z1, Y[i, c]));

    alone: w <- 0, then w <- fma(u[i], Y[i, c], w); Y[i, c] <- fma(−(τ u[i]), w, Y[i, c]).
    Fused multiply-adds: the pairs run at the FMA units' rate, twice that of a multiply and an
    add (µs per layer and trial of the Fig. 1 chain, one core of an AVX-512 Xeon, d = 32 / 50 /
    100 / 200: 5.50 / 16.2 / 81.8 / 496 without, 5.13 / 14.3 / 71.2 / 422 with; see
    ``validation/bench/RESULTS.md``). Columns are independent: they go
    in register tiles of vectors, with ``wide`` (default ``WIDE_TILES``) first eight-lane tiles
    (``_pairs_vectors8``), then four-lane ones (``_pairs_vectors``); the last n mod 4 through a
    zero-padded d×4 tile. Either way every column gets the same values. ``work``:
    ``pair_work_size(d)`` floats."""
    d, n = Y.shape
    if work.size < 5 * d:
        raise ValueError("_pairs: work space smaller than pair_work_size(d)")
    cf = work[:d]
    _pair_coefs(R, tau, cf)
    n4 = n - n % 4
    c = _pairs_tiled(Y.reshape(d * n), n, n4 // 4, R, tau, cf, wide)
    r = n - n4
    if r > 0:
        S = work[d:5 * d]
        for i in range(d):
            for j in range(4):
                S[4 * i + j] = Y[i, n4 + j] if j < r else 0.0
        w = S.size // d                   # 4 (a variable, see _pairs_vectors)
        _pairs_vectors(S, w, c - c, w // 4, R, tau, cf)         # c − c: a variable 0
        for i in range(d):
            for j in range(r):
                Y[i, n4 + j] = S[4 * i + j]


@njit_noalloc
def _pair_apply(Y, R, tau, D, work, wide=WIDE_TILES):
    """In place Y <- W Y, W = P_0 ⋯ P_{d-2} D from the unit rows of R (as ``_wy_apply`` with
    ``transpose=False``, equal to rounding), without BLAS: the rows scaled by D, then
    ``_pairs``. Faster than the BLAS calls of ``_wy_apply`` for small d
    (``pair_apply_wins``). ``work``: ``pair_work_size(d)`` floats."""
    d, n = Y.shape
    for i in range(d):
        di = D[i]
        yi = Y[i]
        for c in range(n):
            yi[c] *= di
    _pairs(Y, R, tau, work, wide)


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
KERNEL_SOURCES = (_blas, _philox, _simd, _jit)

_haar_apply_batch = _make_haar_apply_batch(source_fingerprint(*KERNEL_SOURCES))


@njit
def _haar_philox_one(Y, k0, k1, layer, b, method, nb):
    d, n = Y.shape
    kbmax = max(1, min(nb, d - 1))
    R = np.empty((d, d))                     # every entry is written below / by _unit_rows
    z = np.empty(d * (d + 1) // 2)
    zbuf = np.empty(ZIG_WORK, np.uint64)
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
    _unit_rows_packed(z, R, tau, D)
    _wy_apply(Y, R, tau, D, np.bool_(False), nb, T, S, W1, W2, iw, dw, cw)


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
