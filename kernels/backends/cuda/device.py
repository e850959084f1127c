"""Device functions of the CUDA chain kernels (``depthcheck.kernels.backends.cuda.kernels``).

One thread block runs one Monte Carlo trial; every function here is called by all ``tpb``
threads of the block (thread ``tid``) and splits its work over them: rows (one thread per row,
through the shared row algebra of ``depthcheck.kernels.backends._rowops``), the d·n entries of H, or
the entries of a Gram matrix. H and the work arrays are flat, row-major (entry (i, c) at
``i*n + c``). Declaring these with ``cuda.jit(device=True)`` compiles nothing: numba compiles them
into a kernel at its first launch, and importing this module needs neither a GPU nor CuPy (under
``NUMBA_ENABLE_CUDASIM=1`` they run as Python).

Randomness (``depthcheck.kernels.random.philox``): normal t of stream (l, b, 0) is member t mod 2 of
Box–Muller applied to Philox4x32-10 at counter (t // 2, l, b, 0), so x_k of the Householder
vectors occupies normals p_k .. p_k + d − k − 1, p_k = k d − k(k − 1)/2 — the numbers of the numba
kernels' ``method="box_muller"``. Builtin ``max``/``min`` are avoided: numba's CUDA target fails
to type them on two floats.
"""
from __future__ import annotations

import math

import numpy as np
from numba import cuda

from depthcheck.kernels.backends._rowops import nonlinear_row, nonlinear_vjp_row
from depthcheck.kernels.backends.numba.fused_grad import gram_trusted as _gram_trusted
from depthcheck.kernels.chain.codes import (ERR_NONE, ERR_NONFINITE, ERR_RESCALE, ERR_STAT,
                                            EPS, FLAG_LOG_SCALE, I_FLAGS, LOG_SCALE_CAP,
                                            PIVOT_TOL_ULPS, STAT_SLOT)
from depthcheck.kernels.random.philox import box_muller_pair, philox4x32_10

_philox = cuda.jit(device=True)(philox4x32_10)
_box_muller = cuda.jit(device=True)(box_muller_pair)

_ISO, _RANK, _CV, _FRO = (STAT_SLOT[k] for k in ("isometry_gap", "rank_lower_bound",
                                                   "row_norm_cv", "frobenius_M"))


@cuda.jit(device=True)
def normal_at(t, k0, k1, l, b):
    """Normal number t of stream (l, b, 0)."""
    a, bb, c, e = _philox(np.uint64(t // 2), np.uint64(l), np.uint64(b), np.uint64(0), k0, k1)
    z0, z1 = _box_muller(a, bb, c, e)
    if t % 2 == 0:
        return z0
    return z1


@cuda.jit(device=True)
def block_sum(val, red, tid, tpb):
    """Σ of ``val`` over the block's threads (tree reduction in ``red``, tpb a power of two)."""
    red[tid] = val
    cuda.syncthreads()
    s = tpb // 2
    while s > 0:
        if tid < s:
            red[tid] += red[tid + s]
        cuda.syncthreads()
        s //= 2
    out = red[0]
    cuda.syncthreads()
    return out


@cuda.jit(device=True)
def apply_D(A, l, b, k0, k1, d, n, tid, tpb):
    """A <- D A, D = diag(−s_0, ..., −s_{d−2}, s_{d−1}) with s_k the sign of x_k's first entry."""
    for k in range(tid, d, tpb):
        pk = k * d - (k * (k - 1)) // 2
        x0 = normal_at(pk, k0, k1, l, b)
        s = 1.0 if x0 >= 0 else -1.0
        dk = -s if k < d - 1 else s
        for c in range(n):
            A[k * n + c] = A[k * n + c] * dk
    cuda.syncthreads()


@cuda.jit(device=True)
def reflect(A, k, l, b, k0, k1, d, n, v, w, red, tid, tpb):
    """A <- P_k A: rows k..d-1 of A updated by the reflection of x_k (normals p_k ...):
    w = βvᵀA by a column-parallel pass, then the rank-one update by an element-parallel pass."""
    m = d - k
    pk = k * d - (k * (k - 1)) // 2
    part = 0.0
    for i in range(tid, m, tpb):
        z = normal_at(pk + i, k0, k1, l, b)
        v[i] = z
        part += z * z
    nrm = math.sqrt(block_sum(part, red, tid, tpb))
    x0 = v[0]
    s = 1.0 if x0 >= 0 else -1.0
    vv = 2.0 * nrm * (nrm + abs(x0))
    beta = 2.0 / vv if vv > 0 else 0.0
    cuda.syncthreads()
    if tid == 0:
        v[0] = x0 + s * nrm
    cuda.syncthreads()
    for c in range(tid, n, tpb):
        acc = 0.0
        for i in range(m):
            acc += v[i] * A[(k + i) * n + c]
        w[c] = beta * acc
    cuda.syncthreads()
    for idx in range(tid, m * n, tpb):
        i = idx // n
        c = idx % n
        A[(k + i) * n + c] -= v[i] * w[c]
    cuda.syncthreads()


@cuda.jit(device=True)
def apply_W(A, l, b, k0, k1, d, n, v, w, red, tid, tpb, transpose):
    """A <- W_l A (P_0 (P_1 ⋯ (P_{d-2} (D A)))) or A <- W_lᵀ A (D (P_{d-2} ⋯ (P_0 A)))."""
    if not transpose:
        apply_D(A, l, b, k0, k1, d, n, tid, tpb)
        for kk in range(d - 1):
            reflect(A, d - 2 - kk, l, b, k0, k1, d, n, v, w, red, tid, tpb)
    else:
        for k in range(d - 1):
            reflect(A, k, l, b, k0, k1, d, n, v, w, red, tid, tpb)
        apply_D(A, l, b, k0, k1, d, n, tid, tpb)


@cuda.jit(device=True)
def layer(A, Hprev, l, b, k0, k1, d, n, norm, act, order, g, has_res, gamma, rescale, v, w, red,
          rn, flag, tid, tpb, keep, TA):
    """A <- H_l from A = H_{l-1} (Hprev: a copy of H_{l-1}, read by the residual branch).
    With ``keep`` also tapes the linear output A_l -> TA (the backward pass recomputes the
    norm from it). Returns log of the Frobenius rescaling (0 without); a breakdown sets flag[0]."""
    dn = d * n
    apply_W(A, l, b, k0, k1, d, n, v, w, red, tid, tpb, False)
    if has_res:
        for idx in range(tid, dn, tpb):
            A[idx] = Hprev[idx] + gamma * A[idx]
        cuda.syncthreads()
    if keep:
        for idx in range(tid, dn, tpb):
            TA[idx] = A[idx]
        cuda.syncthreads()
    for i in range(tid, d, tpb):                 # norm / gain / activation, one row per thread
        e, r = nonlinear_row(norm, act, order, g, A[i * n:(i + 1) * n])
        rn[i] = r
        if e != ERR_NONE:
            flag[0] = e
    cuda.syncthreads()
    part = 0.0
    for idx in range(tid, dn, tpb):
        part += A[idx] * A[idx]
    s2 = block_sum(part, red, tid, tpb)
    inc = 0.0
    if flag[0] == ERR_NONE:
        if rescale:
            s = math.sqrt(s2)
            if not (s > 0 and s < math.inf):
                if tid == 0:
                    flag[0] = ERR_RESCALE
            else:
                for idx in range(tid, dn, tpb):
                    A[idx] = A[idx] / s
                inc = math.log(s)
        elif not s2 < math.inf:
            if tid == 0:
                flag[0] = ERR_NONFINITE
    cuda.syncthreads()
    return inc


@cuda.jit(device=True)
def start(A, X, xb, d, n, rescale, rn, red, tid, tpb):
    """Layer 0: A <- X[xb] (rescaled to unit Frobenius norm if ``rescale``), rn <- the row norms
    of X. Returns log c_0."""
    dn = d * n
    for idx in range(tid, dn, tpb):
        A[idx] = X[xb, idx // n, idx % n]
    cuda.syncthreads()
    log_c = 0.0
    if rescale:
        part = 0.0
        for idx in range(tid, dn, tpb):
            part += A[idx] * A[idx]
        s = math.sqrt(block_sum(part, red, tid, tpb))
        for idx in range(tid, dn, tpb):
            A[idx] = A[idx] / s
        log_c = math.log(s)
        cuda.syncthreads()
    for i in range(tid, d, tpb):
        s2 = 0.0
        for c in range(n):
            s2 += X[xb, i, c] * X[xb, i, c]
        rn[i] = math.sqrt(s2)
    cuda.syncthreads()
    return log_c


@cuda.jit(device=True)
def record(A, G, diag, rn, red, d, n, tid, tpb, ip, st, ls, j, log_c):
    """The statistics of H = A (n <= d) into st[slot, j] (``codes.STAT_SLOT``) and log_scale into
    ls[j]: Gram HᵀH, r(H), ‖M‖_F², row-norm CV, and the isometry gap by a right-looking Cholesky
    of G/(tr G/n) with the pivot rule of ``depthcheck.theory.isometry``. Returns an error code."""
    for idx in range(tid, n * n, tpb):
        a = idx // n
        c = idx % n
        if c >= a:
            acc = 0.0
            for i in range(d):
                acc += A[i * n + a] * A[i * n + c]
            G[a * n + c] = acc
    cuda.syncthreads()
    part_tr = 0.0
    part_f = 0.0
    for idx in range(tid, n * n, tpb):
        a = idx // n
        c = idx % n
        if c == a:
            part_tr += G[idx]
            part_f += G[idx] * G[idx]
        elif c > a:
            part_f += 2.0 * G[idx] * G[idx]
    tr = block_sum(part_tr, red, tid, tpb)
    fro2 = block_sum(part_f, red, tid, tpb)
    part = 0.0
    for i in range(tid, d, tpb):
        part += rn[i]
    mu = block_sum(part, red, tid, tpb) / d
    part = 0.0
    for i in range(tid, d, tpb):
        part += (rn[i] - mu) ** 2
    var = block_sum(part, red, tid, tpb) / d
    want_rank, want_cv = ip[I_FLAGS + _RANK] != 0, ip[I_FLAGS + _CV] != 0
    e = ERR_NONE
    if (want_rank and not fro2 > 0) or (want_cv and not mu > 0):
        e = ERR_STAT
    if tid == 0:
        if want_rank:
            st[_RANK, j] = tr * tr / fro2 if fro2 > 0 else math.nan
        if want_cv:
            st[_CV, j] = math.sqrt(var) / mu if mu > 0 else math.nan
        if ip[I_FLAGS + _FRO] != 0:
            st[_FRO, j] = fro2 / (n * n)
        if ip[I_FLAGS + FLAG_LOG_SCALE] != 0:
            ls[j] = log_c + 0.5 * math.log(tr) if tr > 0 else -math.inf
    if ip[I_FLAGS + _ISO] != 0:
        if not tr > 0:
            if tid == 0:
                st[_ISO, j] = math.inf
        else:
            sc = n / tr
            for idx in range(tid, n * n, tpb):
                a = idx // n
                c = idx % n
                if c >= a:
                    G[idx] = G[idx] * sc
                    if c == a:
                        diag[a] = G[idx]
            cuda.syncthreads()
            ok = True
            ld = 0.0
            for k in range(n):                 # right-looking Cholesky, upper R
                piv = G[k * n + k]
                if not piv > 0:
                    ok = False
                    break
                if not piv > PIVOT_TOL_ULPS * EPS * n * diag[k]:
                    ok = False
                ld += math.log(piv)
                r = math.sqrt(piv)
                cuda.syncthreads()
                for c in range(k + 1 + tid, n, tpb):
                    G[k * n + c] = G[k * n + c] / r
                cuda.syncthreads()
                for idx in range(tid, (n - k - 1) * (n - k - 1), tpb):
                    a = k + 1 + idx // (n - k - 1)
                    c = k + 1 + idx % (n - k - 1)
                    if c >= a:
                        G[a * n + c] -= G[k * n + a] * G[k * n + c]
                cuda.syncthreads()
            if tid == 0:
                gap = -ld / n
                st[_ISO, j] = (gap if gap > 0.0 else 0.0) if ok else math.inf
    cuda.syncthreads()
    return e


@cuda.jit(device=True)
def unit_signal(G, dn, red, tid, tpb):
    """G <- G/‖G‖_F when 0 < ‖G‖_F < inf; returns ‖G‖_F."""
    part = 0.0
    for idx in range(tid, dn, tpb):
        part += G[idx] * G[idx]
    s = math.sqrt(block_sum(part, red, tid, tpb))
    if s > 0 and s < math.inf:
        for idx in range(tid, dn, tpb):
            G[idx] = G[idx] / s
    cuda.syncthreads()
    return s


@cuda.jit(device=True)
def readout_grad(A, G, Z, Wo, labels, d, n, rescale, log_c, tid, tpb):
    """G <- dH_L = W_outᵀ (softmax(Z) − onehot(labels))/n for the logits Z = W_out H_L (H_L = A;
    × exp(min(log c_L, 700)) for rescaled chains, as the numpy driver's ``_readout_grad``)."""
    n_out = Wo.shape[0]
    dn = d * n
    zs = 1.0
    if rescale:
        zs = math.exp(log_c if log_c < LOG_SCALE_CAP else LOG_SCALE_CAP)
    for idx in range(tid, n_out * n, tpb):
        o = idx // n
        c = idx % n
        acc = 0.0
        for i in range(d):
            acc += Wo[o, i] * A[i * n + c]
        Z[idx] = acc * zs if rescale else acc
    cuda.syncthreads()
    for c in range(tid, n, tpb):
        m = Z[c]
        for o in range(1, n_out):
            if Z[o * n + c] > m:
                m = Z[o * n + c]
        tot = 0.0
        for o in range(n_out):
            ez = math.exp(Z[o * n + c] - m)
            Z[o * n + c] = ez
            tot += ez
        for o in range(n_out):
            Z[o * n + c] = Z[o * n + c] / tot
        y = labels[c]
        Z[y * n + c] -= 1.0
        for o in range(n_out):
            Z[o * n + c] = Z[o * n + c] / n
    cuda.syncthreads()
    for idx in range(tid, dn, tpb):
        i = idx // n
        c = idx % n
        acc = 0.0
        for o in range(n_out):
            acc += Wo[o, i] * Z[o * n + c]
        G[idx] = acc
    cuda.syncthreads()


@cuda.jit(device=True)
def layer_vjp(A, G, TA, Y, d, n, norm, act, order, g, tid, tpb):
    """A <- dA = ∂loss/∂A_l (up to the carried factor) from G = ∂loss/∂H_l and the taped linear
    output TA = A_l, one row per thread (``_rowops.nonlinear_vjp_row``; Y is work space)."""
    for i in range(tid, d, tpb):
        lo = i * n
        hi = lo + n
        nonlinear_vjp_row(norm, act, order, g, TA[lo:hi], G[lo:hi], A[lo:hi], Y[lo:hi])
    cuda.syncthreads()


@cuda.jit(device=True)
def grad_norm_sq(A, H, d, n, red, tid, tpb):
    """‖dA Hᵀ‖_F² = Σ_{a,c} (dAᵀdA)_{ac} (HᵀH)_{ac} (upper triangle × 2; no d×d matrix) when
    that sum is accurate (``depthcheck.kernels.backends.numba.fused_grad.gram_trusted``, from
    t = Σ_a ‖dA[:, a]‖‖H[:, a]‖); else (cancellation: dA nearly orthogonal to H's rows, e.g.
    H with duplicated columns and a signal antisymmetric across them) the sum of squares of
    the d² entries of dA Hᵀ, one entry per thread at a time."""
    part = 0.0
    diag = 0.0
    for idx in range(tid, n * n, tpb):
        a = idx // n
        c = idx % n
        if c >= a:
            ga = 0.0
            gh = 0.0
            for i in range(d):
                ga += A[i * n + a] * A[i * n + c]
                gh += H[i * n + a] * H[i * n + c]
            if c == a:
                part += ga * gh
                diag += math.sqrt(ga * gh)
            else:
                part += 2.0 * (ga * gh)
    acc = block_sum(part, red, tid, tpb)
    t = block_sum(diag, red, tid, tpb)
    if _gram_trusted(acc, t, d, n):            # the same value in every thread
        return acc
    part = 0.0
    for idx in range(tid, d * d, tpb):
        i = idx // d
        k = idx % d
        e = 0.0
        for c in range(n):
            e += A[i * n + c] * H[k * n + c]
        part += e * e
    return block_sum(part, red, tid, tpb)
