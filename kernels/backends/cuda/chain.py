"""Backend "cupy": the fused chain as CUDA kernels (numba.cuda), one thread block per trial.

Written with ``numba.cuda`` so that the same kernels run on the CPU under numba's CUDA
simulator (``NUMBA_ENABLE_CUDASIM=1``, set before numba is imported), which is how they are
tested without a GPU. CuPy arrays are used for the device buffers when CuPy is importable (the
kernels take anything with ``__cuda_array_interface__``); this module imports cleanly without
CuPy and without a GPU (nothing CUDA-related is compiled or initialised before the first call).

Forward kernel, per block (= trial b), per layer l (Haar weights):

* Householder vectors generated in-kernel: normal number t of stream (l, b, 0) is the member
  t mod 2 of Box–Muller applied to Philox4x32-10 at counter (t // 2, l, b, 0) under the chain's
  key (``depthcheck.kernels.random.philox``; the numba kernels' ``method="box_muller"`` uses the same numbers, so
  the two backends agree to rounding). x_k occupies normals p_k .. p_k + d − k − 1,
  p_k = k d − k(k − 1)/2.
* W H = P_0 (P_1 ⋯ (P_{d−2} (D H))) with D = diag(−s_0, ..., −s_{d−2}, s_{d−1}) (Stewart;
  ``depthcheck.kernels.random.haar.apply_haar``): one reflection at a time on the block's H — w = βvᵀH by a
  column-parallel pass, then the rank-one update by an element-parallel pass.
* H (d×n) lives in shared memory when d·n <= ``SHARED_DOUBLES`` (32 KiB), else in a per-block
  slice of global memory (cached in L1/L2).
* Norm (none / bn / bn_nomean / rownorm), gain, activation, residual and the Frobenius rescaling
  of norm-free homogeneous chains fused in the same kernel; statistics at the recorded layers:
  isometry gap (Gram HᵀH, Cholesky with the pivot rule of ``depthcheck.theory.isometry``), r(H), ‖M‖_F²,
  the row-norm CV and log_scale. ``soft_rank``/``top_singular_values`` need an eigensolver and
  are not available here (``ValueError``).
* With gradients it also writes checkpoints: H_s and log c_s for s = 0, k_c, 2k_c, ... < L.

Backward kernel (``gradients=True``; launched after the forward one, one block per trial; the
semantics of ``depthcheck.kernels.chain.driver._Chain.backward``, seed 001 Fig. 3 / Theorem 5):

* Segments [s, e] = [s, min(s + k_c, L)] in reverse order. Each is recomputed from its
  checkpoint by the forward kernel's own layer code, taping per layer the input H_{l−1}, the
  activation argument P_l, the norm output Y_l and the norm's row divisors (global memory).
* Last segment: logits Z = W_out H_L (× exp(min(log c_L, 700)) for rescaled chains, as
  ``_readout_grad``), dH_L = W_outᵀ (softmax(Z) − onehot(labels))/n, with W_out =
  ``depthcheck.kernels.random.philox.readout_philox(key, B, n_out, d, "box_muller")`` computed on the host.
* Layer l (backwards): dA = normᵀ(g·act'(P) ⊙ dH) (norm_act) or g·act'(P) ⊙ normᵀ(dH)
  (act_norm), row-wise Jacobians of ``depthcheck.kernels.nn.norms``; ‖∇W_l‖_F² = ‖dA H_{l−1}ᵀ‖_F² =
  Σ_{a,c} (dAᵀdA)_{ac} (H_{l−1}ᵀH_{l−1})_{ac} (two n×n Gram entries per (a, c), no d×d
  matrix; exact up to rounding, but a result far below ‖dA‖_F‖H‖_F loses relative accuracy
  ~ eps·‖dA‖²‖H‖²/‖dA Hᵀ‖²); dH_{l−1} = Wᵀ dA = D P_{d−2} ⋯ P_0 dA (the same reflections,
  regenerated from the same Philox stream, in the opposite order; residual: dA + γ Wᵀ dA).
* The signal is kept at unit Frobenius norm per trial with its log-norm lg accumulated
  (``_normalise``): log‖∇W_l‖_F = lg + log c_{l−1} + log‖dA H̃ᵀ‖_F (+ log|γ|); an exactly zero
  signal gives −inf, a non-finite one ``ChainBreakdownError`` naming layer and trial.
* Working arrays (H / dA and dH) in shared memory when 2·d·n <= ``SHARED_DOUBLES``.

Memory (float64 words in global memory, B trials): forward O(B·d·n); with gradients
O(B·(L/k_c)·d·n) checkpoints + O(B·k_c·(3d·n + d)) tape, i.e. O(B·(L/k_c + k_c)·d·n), minimal
(O(B·√L·d·n)) at the default k_c = ceil(√L); no weight is ever stored (each Haar W_l is
regenerated from Philox twice more: recompute and Wᵀ). Compute ≈ 3 forward passes.

Not done (no GPU was available to measure): a blocked compact-WY variant with batched cuBLAS
products; warp-per-row normalisation (rows are handled one thread each).
"""
from __future__ import annotations

import functools
import math

import numpy as np
from numba import cuda  # importing numba.cuda initialises no driver and needs no GPU

from depthcheck.kernels.backends.numpy import NumpyChainBackend
from depthcheck.kernels.random.philox import (box_muller_pair, key_from_root, philox4x32_10, philox_key, readout_philox)

__all__ = ["simulate_chain_cuda", "CupyChainBackend", "CUDA_STATISTICS", "cuda_available",
           "SHARED_DOUBLES", "run_cuda", "default_threads_per_block"]

#: statistics the CUDA kernel records
CUDA_STATISTICS = ("isometry_gap", "rank_lower_bound", "row_norm_cv", "frobenius_M")
_STAT_INDEX = {name: i for i, name in enumerate(CUDA_STATISTICS)}
SHARED_DOUBLES = 4096
_NORM = {"none": 0, "bn": 1, "bn_nomean": 2, "rownorm": 3}
_ACT = {"identity": 0, "relu": 1, "leaky_relu": 2, "tanh": 3, "sin": 4, "sigmoid": 5}
_EPS = float(np.finfo(np.float64).eps)
_LOG_SCALE_CAP = 700.0          # depthcheck.kernels.chain.driver._LOG_SCALE_CAP
_ERR_TEXT = {1: "a row has zero (or non-finite) norm before the normalisation",
             2: "a row has zero variance over the batch before bn",
             3: "the hidden representation is not finite",
             4: "the hidden representation has zero or non-finite Frobenius norm",
             5: "a statistic is undefined (all-zero hidden representation)",
             6: "the backward signal is not finite"}


def _cupy():
    try:
        import cupy
    except ImportError:
        return None
    return cupy


def cuda_available() -> bool:
    """True when numba.cuda can run kernels: a GPU with a driver, or the simulator."""
    from numba import config
    return bool(config.ENABLE_CUDASIM) or cuda.is_available()


@functools.lru_cache(maxsize=None)
def _kernels(tpb: int, shared: int = SHARED_DOUBLES):
    """Compile (lazily) the forward and the backward kernel for ``tpb`` threads per block (a
    power of two) and ``shared`` doubles of shared memory per block. Builtin ``max``/``min``
    are avoided: numba 0.68's CUDA target fails to type them on two floats."""
    from numba import float64, int64
    from depthcheck.kernels.nn.activations import LEAKY_SLOPE
    from depthcheck.kernels.nn.norms import _BN_ULPS

    philox = cuda.jit(device=True)(philox4x32_10)
    bm = cuda.jit(device=True)(box_muller_pair)
    SH = shared
    EPS = _EPS
    TPB = tpb
    CAP = _LOG_SCALE_CAP

    @cuda.jit(device=True)
    def normal_at(t, k0, k1, l, b):
        a, bb, c, e = philox(np.uint64(t // 2), np.uint64(l), np.uint64(b), np.uint64(0), k0, k1)
        z0, z1 = bm(a, bb, c, e)
        if t % 2 == 0:
            return z0
        return z1

    @cuda.jit(device=True)
    def block_sum(val, red, tid):
        red[tid] = val
        cuda.syncthreads()
        s = TPB // 2
        while s > 0:
            if tid < s:
                red[tid] += red[tid + s]
            cuda.syncthreads()
            s //= 2
        out = red[0]
        cuda.syncthreads()
        return out

    @cuda.jit(device=True)
    def sigmoid(x):
        if x >= 0:
            return 1.0 / (1.0 + math.exp(-x))
        ex = math.exp(x)
        return ex / (1.0 + ex)

    @cuda.jit(device=True)
    def act(code, x):
        if code == 0:
            return x
        if code == 1:
            return x if x > 0 else 0.0
        if code == 2:
            return x if x > 0 else LEAKY_SLOPE * x
        if code == 3:
            return math.tanh(x)
        if code == 4:
            return math.sin(x)
        return sigmoid(x)

    @cuda.jit(device=True)
    def act_d(code, x):
        """act'(x), PyTorch's conventions at kinks (depthcheck.kernels.nn.activations)."""
        if code == 0:
            return 1.0
        if code == 1:
            return 1.0 if x > 0 else 0.0
        if code == 2:
            return 1.0 if x > 0 else LEAKY_SLOPE
        if code == 3:
            t = math.tanh(x)
            return 1.0 - t * t
        if code == 4:
            return math.cos(x)
        return sigmoid(x) * sigmoid(-x)

    @cuda.jit(device=True)
    def normalise(code, A, d, n, rn, S, keep, tid, flag):
        """Rows of A (flat, row-major) normalised in place; rn <- input row norms; S <- the row
        divisors when ``keep``; a degenerate row sets flag[0]."""
        for i in range(tid, d, TPB):
            s2 = 0.0
            for c in range(n):
                s2 += A[i * n + c] * A[i * n + c]
            rn[i] = math.sqrt(s2)
            if code == 1:
                mu = 0.0
                zmax = A[i * n]
                zmin = A[i * n]
                for c in range(n):
                    v = A[i * n + c]
                    mu += v
                    if v > zmax:
                        zmax = v
                    if v < zmin:
                        zmin = v
                mu /= n
                var = 0.0
                for c in range(n):
                    var += (A[i * n + c] - mu) ** 2
                sd = math.sqrt(var / n)
                big = abs(zmax) if abs(zmax) > abs(zmin) else abs(zmin)
                if zmax == zmin or not sd > _BN_ULPS * EPS * big:
                    flag[0] = 2
                else:
                    if keep:
                        S[i] = sd
                    for c in range(n):
                        A[i * n + c] = (A[i * n + c] - mu) / sd
            elif code >= 2:
                sc = rn[i] if code == 3 else rn[i] / math.sqrt(n)
                if not (sc > 0 and sc < math.inf):
                    flag[0] = 1
                else:
                    if keep:
                        S[i] = sc
                    for c in range(n):
                        A[i * n + c] = A[i * n + c] / sc

    @cuda.jit(device=True)
    def norm_back(code, G, Y, S, d, n, tid):
        """G <- normᵀ(G) in place, row-wise (depthcheck.kernels.nn.norms._backward) from the norm output Y and
        the row divisors S."""
        if code == 0:
            return
        for i in range(tid, d, TPB):
            acc = 0.0
            for c in range(n):
                acc += Y[i * n + c] * G[i * n + c]
            m = acc if code == 3 else acc / n
            sc = S[i]
            for c in range(n):
                G[i * n + c] = (G[i * n + c] - Y[i * n + c] * m) / sc
            if code == 1:
                mc = 0.0
                for c in range(n):
                    mc += G[i * n + c]
                mc /= n
                for c in range(n):
                    G[i * n + c] -= mc

    @cuda.jit(device=True)
    def apply_D(A, l, b, k0, k1, d, n, tid):
        for k in range(tid, d, TPB):
            pk = k * d - (k * (k - 1)) // 2
            x0 = normal_at(pk, k0, k1, l, b)
            s = 1.0 if x0 >= 0 else -1.0
            dk = -s if k < d - 1 else s
            for c in range(n):
                A[k * n + c] = A[k * n + c] * dk
        cuda.syncthreads()

    @cuda.jit(device=True)
    def reflect(A, k, l, b, k0, k1, d, n, v, w, red, tid):
        """A <- P_k A: rows k..d-1 of A updated by the reflection of x_k (normals p_k ...)."""
        m = d - k
        pk = k * d - (k * (k - 1)) // 2
        part = 0.0
        for i in range(tid, m, TPB):
            z = normal_at(pk + i, k0, k1, l, b)
            v[i] = z
            part += z * z
        nrm = math.sqrt(block_sum(part, red, tid))
        x0 = v[0]
        s = 1.0 if x0 >= 0 else -1.0
        vv = 2.0 * nrm * (nrm + abs(x0))
        beta = 2.0 / vv if vv > 0 else 0.0
        cuda.syncthreads()
        if tid == 0:
            v[0] = x0 + s * nrm
        cuda.syncthreads()
        for c in range(tid, n, TPB):
            acc = 0.0
            for i in range(m):
                acc += v[i] * A[(k + i) * n + c]
            w[c] = beta * acc
        cuda.syncthreads()
        for idx in range(tid, m * n, TPB):
            i = idx // n
            c = idx % n
            A[(k + i) * n + c] -= v[i] * w[c]
        cuda.syncthreads()

    @cuda.jit(device=True)
    def apply_W(A, l, b, k0, k1, d, n, v, w, red, tid, transpose):
        """A <- W_l A (P_0 (P_1 ⋯ (P_{d-2} (D A)))) or A <- W_lᵀ A (D (P_{d-2} ⋯ (P_0 A)))."""
        if not transpose:
            apply_D(A, l, b, k0, k1, d, n, tid)
            for kk in range(d - 1):
                reflect(A, d - 2 - kk, l, b, k0, k1, d, n, v, w, red, tid)
        else:
            for k in range(d - 1):
                reflect(A, k, l, b, k0, k1, d, n, v, w, red, tid)
            apply_D(A, l, b, k0, k1, d, n, tid)

    @cuda.jit(device=True)
    def layer(A, Hprev, l, b, k0, k1, d, n, norm_code, act_code, order_code, g, has_res, gamma,
              rescale, v, w, red, rn, flag, tid, keep, TP, TY, TS):
        """A <- H_l from A = H_{l-1} (Hprev: a copy of H_{l-1}, read by the residual branch).
        With ``keep`` also tapes P_l -> TP, the norm output -> TY, the row divisors -> TS.
        Returns log of the Frobenius rescaling (0 without); a breakdown sets flag[0]."""
        dn = d * n
        apply_W(A, l, b, k0, k1, d, n, v, w, red, tid, False)
        if has_res:
            for idx in range(tid, dn, TPB):
                A[idx] = Hprev[idx] + gamma * A[idx]
            cuda.syncthreads()
        if order_code == 0:
            normalise(norm_code, A, d, n, rn, TS, keep, tid, flag)
            cuda.syncthreads()
            for idx in range(tid, dn, TPB):
                p = g * A[idx]
                if keep:
                    TY[idx] = A[idx]
                    TP[idx] = p
                A[idx] = act(act_code, p)
        else:
            for idx in range(tid, dn, TPB):
                p = g * A[idx]
                if keep:
                    TP[idx] = p
                A[idx] = act(act_code, p)
            cuda.syncthreads()
            normalise(norm_code, A, d, n, rn, TS, keep, tid, flag)
            if keep:
                cuda.syncthreads()
                for idx in range(tid, dn, TPB):
                    TY[idx] = A[idx]
        cuda.syncthreads()
        part = 0.0
        for idx in range(tid, dn, TPB):
            part += A[idx] * A[idx]
        s2 = block_sum(part, red, tid)
        inc = 0.0
        if flag[0] == 0:
            if rescale:
                s = math.sqrt(s2)
                if not (s > 0 and s < math.inf):
                    if tid == 0:
                        flag[0] = 4
                else:
                    for idx in range(tid, dn, TPB):
                        A[idx] = A[idx] / s
                    inc = math.log(s)
            elif not s2 < math.inf:
                if tid == 0:
                    flag[0] = 3
        cuda.syncthreads()
        return inc

    @cuda.jit(device=True)
    def unit_signal(G, dn, red, tid):
        """G <- G/‖G‖_F when 0 < ‖G‖_F < inf; returns ‖G‖_F."""
        part = 0.0
        for idx in range(tid, dn, TPB):
            part += G[idx] * G[idx]
        s = math.sqrt(block_sum(part, red, tid))
        if s > 0 and s < math.inf:
            for idx in range(tid, dn, TPB):
                G[idx] = G[idx] / s
        cuda.syncthreads()
        return s

    @cuda.jit
    def chain_kernel(X, depth, k0, k1, norm_code, act_code, order_code, gains, has_res, gamma,
                     rescale, record_every, want, ck_every, CK, CKc, Hg, Pg, Gg, vg, wg, rng_,
                     dg, stats, log_scale, err):
        b = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        d = X.shape[1]
        n = X.shape[2]
        dn = d * n
        sh = cuda.shared.array(SH, float64)
        red = cuda.shared.array(TPB, float64)
        flag = cuda.shared.array(1, int64)
        A = sh if dn <= SH else Hg[b]             # the working copy of H
        Hp = Pg[b]                                 # H_{l-1}, kept for the residual branch
        G = Gg[b]
        v = vg[b]
        w = wg[b]
        rn = rng_[b]
        diag = dg[b]
        xb = b if X.shape[0] > 1 else 0
        for idx in range(tid, dn, TPB):
            A[idx] = X[xb, idx // n, idx % n]
        if tid == 0:
            err[b, 0] = -1
            err[b, 1] = 0
            flag[0] = 0
        cuda.syncthreads()
        log_c = 0.0
        if rescale:
            part = 0.0
            for idx in range(tid, dn, TPB):
                part += A[idx] * A[idx]
            s = math.sqrt(block_sum(part, red, tid))
            for idx in range(tid, dn, TPB):
                A[idx] = A[idx] / s
            log_c = math.log(s)
            cuda.syncthreads()
        for i in range(tid, d, TPB):
            s2 = 0.0
            for c in range(n):
                s2 += X[xb, i, c] * X[xb, i, c]
            rn[i] = math.sqrt(s2)
        cuda.syncthreads()
        for l in range(0, depth + 1):
            if l > 0:
                if has_res:
                    for idx in range(tid, dn, TPB):
                        Hp[idx] = A[idx]
                    cuda.syncthreads()
                log_c += layer(A, Hp, l, b, k0, k1, d, n, norm_code, act_code, order_code,
                               gains[l - 1], has_res, gamma, rescale, v, w, red, rn, flag, tid,
                               False, rn, rn, rn)
                if flag[0] != 0:
                    if tid == 0:
                        err[b, 0] = l
                        err[b, 1] = flag[0]
                    return
            if ck_every > 0 and l % ck_every == 0 and l < depth:
                q = l // ck_every                       # checkpoint for the backward kernel
                for idx in range(tid, dn, TPB):
                    CK[b, q * dn + idx] = A[idx]
                if tid == 0:
                    CKc[b, q] = log_c
                cuda.syncthreads()
            if l % record_every != 0:
                continue
            j = l // record_every
            # ---------------- statistics (Gram HᵀH, n <= d assumed by the caller)
            for idx in range(tid, n * n, TPB):
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
            for idx in range(tid, n * n, TPB):
                a = idx // n
                c = idx % n
                if c == a:
                    part_tr += G[idx]
                    part_f += G[idx] * G[idx]
                elif c > a:
                    part_f += 2.0 * G[idx] * G[idx]
            tr = block_sum(part_tr, red, tid)
            fro2 = block_sum(part_f, red, tid)
            part = 0.0
            for i in range(tid, d, TPB):
                part += rn[i]
            mu = block_sum(part, red, tid) / d
            part = 0.0
            for i in range(tid, d, TPB):
                part += (rn[i] - mu) ** 2
            var = block_sum(part, red, tid) / d
            if tid == 0:
                if want[1]:
                    stats[b, 1, j] = tr * tr / fro2 if fro2 > 0 else math.nan
                if want[2]:
                    stats[b, 2, j] = math.sqrt(var) / mu if mu > 0 else math.nan
                if want[3]:
                    stats[b, 3, j] = fro2 / (n * n)
                if want[4]:
                    log_scale[b, j] = log_c + 0.5 * math.log(tr) if tr > 0 else -math.inf
                if (want[1] and not fro2 > 0) or (want[2] and not mu > 0):
                    err[b, 0] = l
                    err[b, 1] = 5
            if want[0]:
                if not tr > 0:
                    if tid == 0:
                        stats[b, 0, j] = math.inf
                else:
                    sc = n / tr
                    for idx in range(tid, n * n, TPB):
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
                        if not piv > _PIV_TOL * n * diag[k]:
                            ok = False
                        ld += math.log(piv)
                        r = math.sqrt(piv)
                        cuda.syncthreads()
                        for c in range(k + 1 + tid, n, TPB):
                            G[k * n + c] = G[k * n + c] / r
                        cuda.syncthreads()
                        for idx in range(tid, (n - k - 1) * (n - k - 1), TPB):
                            a = k + 1 + idx // (n - k - 1)
                            c = k + 1 + idx % (n - k - 1)
                            if c >= a:
                                G[a * n + c] -= G[k * n + a] * G[k * n + c]
                        cuda.syncthreads()
                    if tid == 0:
                        gap = -ld / n
                        stats[b, 0, j] = (gap if gap > 0.0 else 0.0) if ok else math.inf
            cuda.syncthreads()

    @cuda.jit
    def grad_kernel(depth, d, n, k0, k1, norm_code, act_code, order_code, gains, has_res, gamma,
                    rescale, kc, CK, CKc, Wout, labels, gcol, log_gamma, Ag, Dg, Zg, THg, TPg,
                    TYg, TSg, TCg, vg, wg, rng_, logg, err):
        b = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        dn = d * n
        n_out = Wout.shape[1]
        sh = cuda.shared.array(SH, float64)
        red = cuda.shared.array(TPB, float64)
        flag = cuda.shared.array(1, int64)
        if 2 * dn <= SH:
            A = sh[:dn]                            # H while recomputing, then dA
            G = sh[dn:2 * dn]                      # the unit-norm backward signal dH
        else:
            A = Ag[b]
            G = Dg[b]
        Z = Zg[b]
        TH = THg[b]
        TP = TPg[b]
        TY = TYg[b]
        TS = TSg[b]
        TC = TCg[b]
        v = vg[b]
        w = wg[b]
        rn = rng_[b]
        if tid == 0:
            err[b, 0] = -1
            err[b, 1] = 0
            flag[0] = 0
        cuda.syncthreads()
        lg = 0.0
        nseg = (depth - 1) // kc + 1
        for si in range(nseg - 1, -1, -1):
            s0 = si * kc
            e = s0 + kc if s0 + kc < depth else depth
            for idx in range(tid, dn, TPB):
                A[idx] = CK[b, si * dn + idx]
            log_c = CKc[b, si]
            cuda.syncthreads()
            for l in range(s0 + 1, e + 1):         # recompute the segment, taping it
                j = l - s0 - 1
                Hj = TH[j * dn:(j + 1) * dn]
                for idx in range(tid, dn, TPB):
                    Hj[idx] = A[idx]
                if tid == 0:
                    TC[j] = log_c
                cuda.syncthreads()
                log_c += layer(A, Hj, l, b, k0, k1, d, n, norm_code, act_code, order_code,
                               gains[l - 1], has_res, gamma, rescale, v, w, red, rn, flag, tid,
                               True, TP[j * dn:(j + 1) * dn], TY[j * dn:(j + 1) * dn],
                               TS[j * d:(j + 1) * d])
                if flag[0] != 0:                   # cannot happen unless the recompute differs
                    if tid == 0:
                        err[b, 0] = l
                        err[b, 1] = flag[0]
                    return
            if si == nseg - 1:
                # ---------- readout: dH_L = W_outᵀ (softmax(Z) - onehot(labels)) / n
                zs = 1.0
                if rescale:
                    zs = math.exp(log_c if log_c < CAP else CAP)
                for idx in range(tid, n_out * n, TPB):
                    o = idx // n
                    c = idx % n
                    acc = 0.0
                    for i in range(d):
                        acc += Wout[b, o, i] * A[i * n + c]
                    Z[idx] = acc * zs if rescale else acc
                cuda.syncthreads()
                for c in range(tid, n, TPB):
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
                for idx in range(tid, dn, TPB):
                    i = idx // n
                    c = idx % n
                    acc = 0.0
                    for o in range(n_out):
                        acc += Wout[b, o, i] * Z[o * n + c]
                    G[idx] = acc
                cuda.syncthreads()
                s = unit_signal(G, dn, red, tid)
                if not s < math.inf:
                    if tid == 0:
                        err[b, 0] = depth
                        err[b, 1] = 6
                    return
                lg = math.log(s) if s > 0 else -math.inf
            for l in range(e, s0, -1):
                j = l - s0 - 1
                Hj = TH[j * dn:(j + 1) * dn]
                Pj = TP[j * dn:(j + 1) * dn]
                Yj = TY[j * dn:(j + 1) * dn]
                Sj = TS[j * d:(j + 1) * d]
                g = gains[l - 1]
                # ---------- dA = ∂loss/∂A_l (up to the factor e^lg)
                if order_code == 0:
                    for idx in range(tid, dn, TPB):
                        A[idx] = g * (act_d(act_code, Pj[idx]) * G[idx])
                    cuda.syncthreads()
                    norm_back(norm_code, A, Yj, Sj, d, n, tid)
                else:
                    for idx in range(tid, dn, TPB):
                        A[idx] = G[idx]
                    cuda.syncthreads()
                    norm_back(norm_code, A, Yj, Sj, d, n, tid)
                    cuda.syncthreads()
                    for idx in range(tid, dn, TPB):
                        A[idx] = g * (act_d(act_code, Pj[idx]) * A[idx])
                cuda.syncthreads()
                col = gcol[l]
                if col >= 0:
                    # ‖dA H_{l-1}ᵀ‖_F² = Σ_{a,c} (dAᵀdA)_{ac} (HᵀH)_{ac}, upper triangle × 2
                    part = 0.0
                    for idx in range(tid, n * n, TPB):
                        a = idx // n
                        c = idx % n
                        if c >= a:
                            ga = 0.0
                            gh = 0.0
                            for i in range(d):
                                ga += A[i * n + a] * A[i * n + c]
                                gh += Hj[i * n + a] * Hj[i * n + c]
                            part += ga * gh if c == a else 2.0 * (ga * gh)
                    t = block_sum(part, red, tid)
                    if tid == 0:
                        lgn = 0.5 * math.log(t) if t > 0 else -math.inf
                        logg[b, col] = lg + TC[j] + lgn + log_gamma
                # ---------- dH_{l-1} = Wᵀ dA (residual: dA + γ Wᵀ dA), back to unit norm
                for idx in range(tid, dn, TPB):
                    G[idx] = A[idx]
                cuda.syncthreads()
                apply_W(G, l, b, k0, k1, d, n, v, w, red, tid, True)
                if has_res:
                    for idx in range(tid, dn, TPB):
                        G[idx] = A[idx] + gamma * G[idx]
                    cuda.syncthreads()
                s = unit_signal(G, dn, red, tid)
                if not s < math.inf:
                    if tid == 0:
                        err[b, 0] = l - 1
                        err[b, 1] = 6
                    return
                if s > 0:
                    lg += math.log(s)
                else:
                    lg = -math.inf

    return chain_kernel, grad_kernel


_PIV_TOL = 10.0 * _EPS          # depthcheck.theory.isometry: pivot L_kk² must exceed 10·n·eps·G_kk


def simulate_chain_cuda(X, depth, *, trials, rng, weights="haar", norm="rownorm",
                        activation="identity", order="norm_act", gains=None, gain_exponent=None,
                        residual=None, weight_std=None, record_every=1,
                        record=("isometry_gap", "rank_lower_bound", "row_norm_cv"), tau=0.5,
                        gradients=False, labels=None, n_out=10, checkpoint_every=None,
                        n_singular=10, progress=False, threads_per_block=None) -> dict:
    """The fused CUDA chain with ``depthcheck.kernels.simulate_chain``'s arguments and output dictionary.

    Supported: ``weights="haar"``, n <= d, statistics ``CUDA_STATISTICS`` (and ``log_scale``
    for ``norm="none"``), with or without ``gradients`` (then ``grad_layers``,
    ``log_grad_norm``, ``labels`` as ``simulate_chain``; checkpoint every ``checkpoint_every``
    layers, default ceil(√L)); anything else raises ``ValueError`` naming the argument. Same
    law as ``simulate_chain``; the same random numbers (hence the same results to rounding) as
    ``depthcheck.kernels.backends.numba.fused.run_fused(..., method="box_muller")`` for the same Philox key.
    ``rng`` is consumed for the Philox key, then (gradients without ``labels``) for the labels.
    ``threads_per_block``: a power of two, default ``default_threads_per_block(d)``. Needs a
    CUDA GPU or ``NUMBA_ENABLE_CUDASIM=1`` (slow: tiny sizes only).
    """
    from depthcheck.kernels.chain import driver as _chain
    spec, X, record, labels, k_c, _, tau = _chain._validate(
        X, depth, trials, rng, weights, norm, activation, order, gains, gain_exponent, residual,
        weight_std, record_every, record, tau, gradients, labels, n_out, checkpoint_every,
        "full", "numpy", n_singular, progress)
    _check_supported(spec, record, gradients)
    tpb = default_threads_per_block(spec.d) if threads_per_block is None else threads_per_block
    if (isinstance(tpb, bool) or not isinstance(tpb, (int, np.integer)) or tpb < 1
            or tpb & (tpb - 1)):
        raise ValueError(f"threads_per_block must be a power of two, got {threads_per_block!r}")
    key = philox_key(rng)
    if gradients and labels is None:
        labels = rng.integers(0, spec.n_out, size=spec.n)
    return run_cuda(spec, X, key, record, record_every, tpb, gradients=bool(gradients),
                    labels=labels, checkpoint_every=k_c)


def default_threads_per_block(d: int) -> int:
    """The smallest power of two >= d, at most 128: every parallel loop runs over rows (d),
    columns (n <= d), a reflection's length (<= d) or the d·n entries, so more threads than d
    mostly idle in the reductions (and each one is a Python thread under the simulator)."""
    return min(128, 1 << max(0, int(d) - 1).bit_length())


def _check_supported(spec, record, gradients):
    if spec.weights != "haar":
        raise ValueError(f"weights={spec.weights!r}: the CUDA chain implements Haar weights only")
    if spec.n > spec.d:
        raise ValueError(f"X: the CUDA chain needs n <= d, got d={spec.d}, n={spec.n}")
    for name in record:
        if name not in CUDA_STATISTICS:
            raise ValueError(f"record: statistic {name!r} is not available in the CUDA chain; "
                             f"choose from {CUDA_STATISTICS}")


def _breakdown(err, backward):
    """ChainBreakdownError for the first failing (layer, trial) in the order the numpy driver
    meets them (forward: lowest layer; backward: highest layer), or None."""
    from depthcheck.kernels.chain.errors import ChainBreakdownError
    bad = np.flatnonzero(err[:, 1] != 0)
    if not bad.size:
        return None
    layer = err[bad, 0].max() if backward else err[bad, 0].min()
    b = int(bad[err[bad, 0] == layer][0])
    return ChainBreakdownError(f"layer {int(err[b, 0])}, trial {b}: "
                               f"{_ERR_TEXT[int(err[b, 1])]}; the chain is degenerate")


def run_cuda(spec, X, key, record, record_every, tpb=None, *, gradients=False, labels=None,
             checkpoint_every=None, shared_doubles=SHARED_DOUBLES) -> dict:
    """Launch the kernel(s) for a validated spec and Philox key; returns numpy arrays.

    ``tpb``: threads per block (a power of two; default ``default_threads_per_block(d)``).
    ``gradients``: also run the backward kernel with ``labels`` ``(n,)`` (validated ints) and
    checkpoints every ``checkpoint_every`` layers (default ceil(√L)); the readout is
    ``readout_philox(key, B, n_out, d, "box_muller")``. ``shared_doubles``: shared memory per
    block (tests shrink it to run the global-memory paths at simulator sizes).
    """
    from numba import config
    from depthcheck.kernels.chain.errors import ChainBreakdownError
    if not cuda_available():
        raise RuntimeError("no CUDA device available (set NUMBA_ENABLE_CUDASIM=1 before importing "
                           "numba to run the kernel on the CPU simulator)")
    B, d, n, L = spec.trials, spec.d, spec.n, spec.depth
    tpb = default_threads_per_block(d) if tpb is None else int(tpb)
    if gradients and labels is None:
        raise ValueError("labels: gradients=True needs the (n,) class labels")
    k_c = max(1, math.ceil(math.sqrt(L))) if checkpoint_every is None else int(checkpoint_every)
    layers = np.arange(0, L + 1, record_every)
    R = layers.size
    want = np.zeros(5, dtype=np.bool_)
    for name in record:
        want[_STAT_INDEX[name]] = True
    want[4] = spec.norm == "none"
    Xb = np.ascontiguousarray(X if X.ndim == 3 else X[None], dtype=np.float64)
    cp = None if config.ENABLE_CUDASIM else _cupy()

    def dev(a):
        return cp.asarray(a) if cp is not None else cuda.to_device(a)

    def empty(shape, dtype=np.float64, fill=np.nan):
        a = np.full(shape, fill, dtype=dtype)
        return dev(a)

    def host(a):
        return cp.asnumpy(a) if cp is not None else a.copy_to_host()

    dn = d * n
    n_ck = (L - 1) // k_c + 1 if gradients else 1     # checkpoints at 0, k_c, 2k_c, ... < L
    CK = empty((B, n_ck * dn if gradients else 1))
    CKc = empty((B, n_ck))
    gains = dev(np.ascontiguousarray(spec.gains, dtype=np.float64))
    has_res = spec.residual is not None
    gamma = 0.0 if spec.residual is None else float(spec.residual)
    k0, k1 = np.uint64(key[0]), np.uint64(key[1])
    norm_code, act_code = _NORM[spec.norm], _ACT[spec.activation]
    order_code = 0 if spec.order == "norm_act" else 1
    sh = int(shared_doubles)
    fwd, bwd = _kernels(tpb, sh)

    glob_h = dn if dn > sh else 1
    stats = empty((B, 4, R))
    log_scale = empty((B, R))
    err = empty((B, 2), np.int64, 0)
    fwd[B, tpb](dev(Xb), L, k0, k1, norm_code, act_code, order_code, gains, has_res, gamma,
                bool(spec.rescale), int(record_every), dev(want), k_c if gradients else 0, CK,
                CKc, empty((B, glob_h)), empty((B, dn if has_res else 1)), empty((B, n * n)),
                empty((B, d)), empty((B, n)), empty((B, d)), empty((B, n)), stats, log_scale,
                err)
    stats, log_scale, err = host(stats), host(log_scale), host(err)
    exc = _breakdown(err, backward=False)
    if exc is not None:
        raise exc
    out = {"layers": layers}
    for name in record:
        out[name] = stats[:, _STAT_INDEX[name], :].copy()
    if spec.norm == "none":
        out["log_scale"] = log_scale
    if not gradients:
        return out

    # ------------------------------------------------------------------ backward kernel
    grad_layers = np.array(sorted({1} | {int(l) for l in layers if l >= 1}), dtype=np.intp)
    gcol = np.full(L + 1, -1, dtype=np.int64)
    gcol[grad_layers] = np.arange(grad_layers.size)
    labels = np.asarray(labels, dtype=np.intp)
    T = min(k_c, L)                                    # tape length (layers per segment)
    glob_g = dn if 2 * dn > sh else 1
    W_out = readout_philox(key, B, spec.n_out, d, method="box_muller")
    log_grad = empty((B, grad_layers.size))
    err = empty((B, 2), np.int64, 0)
    bwd[B, tpb](L, d, n, k0, k1, norm_code, act_code, order_code, gains, has_res, gamma,
                bool(spec.rescale), k_c, CK, CKc, dev(W_out), dev(labels.astype(np.int64)),
                dev(gcol), 0.0 if not has_res else math.log(abs(gamma)), empty((B, glob_g)),
                empty((B, glob_g)), empty((B, spec.n_out * n)), empty((B, T * dn)),
                empty((B, T * dn)), empty((B, T * dn)), empty((B, T * d)), empty((B, T)),
                empty((B, d)), empty((B, n)), empty((B, d)), log_grad, err)
    log_grad, err = host(log_grad), host(err)
    exc = _breakdown(err, backward=True)
    if exc is not None:
        raise exc
    bad = np.isnan(log_grad) | (log_grad == np.inf)
    if np.any(bad):
        b, j = (int(i) for i in np.argwhere(bad)[0])
        raise ChainBreakdownError(f"layer {grad_layers[j]}, trial {b}: log gradient norm is "
                                  f"{log_grad[b, j]!r}")
    out["grad_layers"] = grad_layers
    out["log_grad_norm"] = log_grad
    out["labels"] = labels.copy()
    return out


class CupyChainBackend(NumpyChainBackend):
    """Backend "cuda" (alias "cupy"): ``run_fused`` runs the fused CUDA kernels. It runs only
    the configurations they support (Haar chains with n <= d and ``CUDA_STATISTICS``, with or
    without gradients); ``unsupported`` names anything else, and the driver refuses it (the
    numpy layer methods this class inherits are never used as a substitute)."""

    name = "cuda"

    @staticmethod
    def unsupported(spec, record, gradients) -> str | None:
        try:
            _check_supported(spec, record, gradients)
        except ValueError as exc:
            return f"{exc} (backend='numba' or 'numpy' runs it)"
        return None

    @staticmethod
    def fused(spec, record, gradients) -> bool:
        return True

    @staticmethod
    def run_fused(spec, X, root, *, record, record_every, tau, n_singular, gradients=False,
                  labels=None, checkpoint_every=None, **_) -> dict:
        """The fused kernels for a driver; the Philox key is derived from the driver's ``root``
        exactly as for the numba backend, the labels are the driver's."""
        return run_cuda(spec, X, key_from_root(root), record, record_every,
                        gradients=bool(gradients), labels=labels,
                        checkpoint_every=checkpoint_every)
