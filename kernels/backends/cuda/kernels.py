"""The CUDA chain's two entry kernels, built by small factories per (threads per block, shared
memory); the device functions they call are ``depthcheck.kernels.backends.cuda.device``.

A factory closes over ``tpb`` (a power of two: the reduction tree and the shared scratch size)
and ``shared`` (doubles of shared memory per block), the compile-time constants of a launch
configuration; ``depthcheck.kernels.backends.cuda.chain`` calls them lazily (nothing is compiled at
import). One thread block per trial; scalars packed by
``depthcheck.kernels.chain.codes.kernel_scalars`` (``ip`` int64, ``fp`` float64).
"""
from __future__ import annotations

import math

import numpy as np
from numba import cuda

from depthcheck.kernels.backends.cuda.device import (apply_W, grad_norm_sq, layer, layer_vjp,
                                                     readout_grad, record, start, unit_signal)
from depthcheck.kernels.chain.codes import (ERR_BACKWARD, ERR_NONE, F_GAMMA, F_LOG_GAMMA, I_ACT,
                                            I_DEPTH, I_K0, I_K1, I_KC, I_NORM, I_ORDER,
                                            I_RECORD_EVERY, I_RESCALE, I_RESIDUAL)

__all__ = ["forward_kernel", "backward_kernel"]


def forward_kernel(tpb: int, shared: int):
    """The forward kernel: layer 0, then per layer l the Haar layer (``device.layer``), the
    checkpoints H_s, log c_s for s = 0, k_c, 2k_c, ... < L when ``ip[I_KC] > 0``, and the
    statistics at the recorded layers. H lives in shared memory when d·n <= ``shared``."""
    from numba import float64, int64
    TPB, SH = tpb, shared

    @cuda.jit
    def chain_kernel(X, gains, ip, fp, CK, CKc, Hg, Pg, Gg, vg, wg, rng_, dg, stats, log_scale,
                     err):
        b = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        d = X.shape[1]
        n = X.shape[2]
        dn = d * n
        depth, record_every, ck_every = ip[I_DEPTH], ip[I_RECORD_EVERY], ip[I_KC]
        k0, k1 = np.uint64(ip[I_K0]), np.uint64(ip[I_K1])
        norm, act, order = ip[I_NORM], ip[I_ACT], ip[I_ORDER]
        has_res, rescale = ip[I_RESIDUAL] != 0, ip[I_RESCALE] != 0
        gamma = fp[F_GAMMA]
        sh = cuda.shared.array(SH, float64)
        red = cuda.shared.array(TPB, float64)
        flag = cuda.shared.array(1, int64)
        A = sh if dn <= SH else Hg[b]             # the working copy of H
        Hp = Pg[b]                                 # H_{l-1}, kept for the residual branch
        rn = rng_[b]
        if tid == 0:
            err[b, 0] = -1
            err[b, 1] = ERR_NONE
            flag[0] = ERR_NONE
        log_c = start(A, X, b if X.shape[0] > 1 else 0, d, n, rescale, rn, red, tid, TPB)
        for l in range(0, depth + 1):
            if l > 0:
                if has_res:
                    for idx in range(tid, dn, TPB):
                        Hp[idx] = A[idx]
                    cuda.syncthreads()
                log_c += layer(A, Hp, l, b, k0, k1, d, n, norm, act, order, gains[l - 1],
                               has_res, gamma, rescale, vg[b], wg[b], red, rn, flag, tid, TPB,
                               False, rn)
                if flag[0] != ERR_NONE:
                    if tid == 0:
                        err[b, 0] = l
                        err[b, 1] = flag[0]
                    return
            if ck_every > 0 and l % ck_every == 0 and l < depth:
                q = l // ck_every                   # checkpoint for the backward kernel
                for idx in range(tid, dn, TPB):
                    CK[b, q * dn + idx] = A[idx]
                if tid == 0:
                    CKc[b, q] = log_c
                cuda.syncthreads()
            if l % record_every == 0:
                e = record(A, Gg[b], dg[b], rn, red, d, n, tid, TPB, ip, stats[b], log_scale[b],
                           l // record_every, log_c)
                if e != ERR_NONE:
                    if tid == 0:
                        err[b, 0] = l
                        err[b, 1] = e
                    return

    return chain_kernel


def backward_kernel(tpb: int, shared: int):
    """The backward kernel (semantics of ``depthcheck.kernels.chain.driver._Chain.backward``):
    segments [s, min(s + k_c, L)] in reverse order, each recomputed from its checkpoint by
    ``device.layer`` taping H_{l−1} and A_l; the readout gradient on the last segment; per layer
    backwards dA (``device.layer_vjp``), log‖∇W_l‖_F and dH_{l−1} = W_lᵀ dA (residual:
    dA + γ W_lᵀ dA) carried at unit norm with its log-norm lg. The two working arrays (H / dA
    and dH) live in shared memory when 2·d·n <= ``shared``."""
    from numba import float64, int64
    TPB, SH = tpb, shared

    @cuda.jit
    def grad_kernel(gains, ip, fp, CK, CKc, Wout, labels, gcol, Ag, Dg, Zg, THg, TAg, Yg, TCg,
                    vg, wg, rng_, logg, err):
        b = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        d = Wout.shape[2]
        n = labels.shape[0]
        dn = d * n
        depth, kc = ip[I_DEPTH], ip[I_KC]
        k0, k1 = np.uint64(ip[I_K0]), np.uint64(ip[I_K1])
        norm, act, order = ip[I_NORM], ip[I_ACT], ip[I_ORDER]
        has_res, rescale = ip[I_RESIDUAL] != 0, ip[I_RESCALE] != 0
        gamma, log_gamma = fp[F_GAMMA], fp[F_LOG_GAMMA]
        sh = cuda.shared.array(SH, float64)
        red = cuda.shared.array(TPB, float64)
        flag = cuda.shared.array(1, int64)
        if 2 * dn <= SH:
            A = sh[:dn]                            # H while recomputing, then dA
            G = sh[dn:2 * dn]                      # the unit-norm backward signal dH
        else:
            A = Ag[b]
            G = Dg[b]
        TH = THg[b]
        TA = TAg[b]
        TC = TCg[b]
        v = vg[b]
        w = wg[b]
        rn = rng_[b]
        if tid == 0:
            err[b, 0] = -1
            err[b, 1] = ERR_NONE
            flag[0] = ERR_NONE
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
                log_c += layer(A, Hj, l, b, k0, k1, d, n, norm, act, order, gains[l - 1],
                               has_res, gamma, rescale, v, w, red, rn, flag, tid, TPB, True,
                               TA[j * dn:(j + 1) * dn])
                if flag[0] != ERR_NONE:            # cannot happen unless the recompute differs
                    if tid == 0:
                        err[b, 0] = l
                        err[b, 1] = flag[0]
                    return
            if si == nseg - 1:
                readout_grad(A, G, Zg[b], Wout[b], labels, d, n, rescale, log_c, tid, TPB)
                s = unit_signal(G, dn, red, tid, TPB)
                if not s < math.inf:
                    if tid == 0:
                        err[b, 0] = depth
                        err[b, 1] = ERR_BACKWARD
                    return
                lg = math.log(s) if s > 0 else -math.inf
            for l in range(e, s0, -1):
                j = l - s0 - 1
                layer_vjp(A, G, TA[j * dn:(j + 1) * dn], Yg[b], d, n, norm, act, order,
                          gains[l - 1], tid, TPB)
                col = gcol[l]
                if col >= 0:
                    t = grad_norm_sq(A, TH[j * dn:(j + 1) * dn], d, n, red, tid, TPB)
                    if tid == 0:
                        lgn = 0.5 * math.log(t) if t > 0 else -math.inf
                        logg[b, col] = lg + TC[j] + lgn + log_gamma
                # ---------- dH_{l-1} = Wᵀ dA (residual: dA + γ Wᵀ dA), back to unit norm
                for idx in range(tid, dn, TPB):
                    G[idx] = A[idx]
                cuda.syncthreads()
                apply_W(G, l, b, k0, k1, d, n, v, w, red, tid, TPB, True)
                if has_res:
                    for idx in range(tid, dn, TPB):
                        G[idx] = A[idx] + gamma * G[idx]
                    cuda.syncthreads()
                s = unit_signal(G, dn, red, tid, TPB)
                if not s < math.inf:
                    if tid == 0:
                        err[b, 0] = l - 1
                        err[b, 1] = ERR_BACKWARD
                    return
                if s > 0:
                    lg += math.log(s)
                else:
                    lg = -math.inf

    return grad_kernel
