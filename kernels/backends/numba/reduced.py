"""The reduced chain (``depthcheck.kernels.chain.reduced``) as fused numba kernels, forward and
with gradients.

Same reduction as ``depthcheck.kernels.chain.reduced`` (derived in its module docstring): for n <= d and
H = Q_H R_H a thin QR, W H ~ Q_Z R_H exactly in law for W Haar on O(d), with Q_Z the
sign-fixed (positive diag R) thin QR factor of a fresh d×n Gaussian Z (Mezzadri 2007), and
W H ~ σ Z R_H for W with i.i.d. N(0, σ²) entries. Per layer and trial: two Householder QRs of
d×n matrices in plain loops (O(d n²), no LAPACK call, no d×d matrix), Z from Philox stream
(l, b, 0) (``depthcheck.kernels.random.philox``: d·n normals, Z[i, c] = z[i·n + c]), R_H with a nonnegative
diagonal (any R with RᵀR = HᵀH gives the same law), A = Q_Z R_H computed as
P_0 ⋯ P_{n-1} [D R_H; 0] (D = sign(diag R_Z), so Q_Z is never formed), then the layer's
norm / gain / activation / residual and the statistics of the fused kernels
(``depthcheck.kernels.backends.numba.trial``: ``_nonlinear``, ``_finish``, ``_record``). ``numba.prange`` over trials, per-thread buffers
O(d n + n²), memory independent of the depth L.

Backward (``gradients=True``): the conditional Wᵀ of ``depthcheck.kernels.chain.reduced`` written in
the Householder bases the forward step already has. With H = P_H [D_H; 0] R_H and
Q_Z = P_Z [D_Z; 0] (P_H, P_Z products of n reflectors, D_H, D_Z the sign fixes), let
Y = P_Zᵀ δ, split into its first n rows Y_1 and the other m = d − n rows Y_2. Then
Q_Zᵀ δ = D_Z Y_1, the component C = (I − Q_Z Q_Zᵀ) δ = P_Z [0; Y_2] has CᵀC = Y_2ᵀY_2, and
span(Q_H)⊥ = P_H [0; R^m], so the module docstring's Haar draw reads

    Wᵀ δ  ~  P_H [D_H D_Z Y_1;  O Y_2],    O Haar on O(m),

and O Y_2 ~ P_G [D_G R_Y; 0] in law with R_Y the (k×n, k = min(n, m)) R factor of a
Householder QR of Y_2 and P_G [D_G; 0] the sign-fixed Q of a fresh m×k Gaussian (O P_Y is Haar
again, and its first k columns are a uniform k-frame): this covers n <= m (the n-frame S of the
numpy engine) and m < n (the explicit Haar O(d − n)) in one formula, and m = 0 (W = Q_Z Q_Hᵀ).
Gaussian weights: Wᵀ δ ~ σ P_H [D_H Zᵀ δ;  N R_δ] with N an m×n standard Gaussian and R_δ the R
factor of a QR of δ (the projection (I − Q_H Q_Hᵀ) G'' of the numpy engine is P_H [0; N] in law).
The backward's fresh normals (G or N) come from Philox stream (l, b, 1), never used elsewhere
(the hidden layers use (l >= 1, b, 0), the readout (0, b, 1)); the readout and the loss are
those of ``depthcheck.kernels.backends.numba.fused_grad`` (shared helpers ``_readout_grad``,
``_nonlinear_vjp``, ``_grad_norm``, ``_unit_signal``), checkpoints every k_c layers with the
segment recomputed by the same layer step (bit-identical), the signal carried at unit norm.
Per layer and trial the backward costs three reflector applications and two or three small QRs,
O(d n²); memory per thread O((L/k_c + 4 k_c) d n).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from depthcheck.theory._checks import check_positive_int
from depthcheck.kernels.backends.numba import fused_grad as _fused_grad
from depthcheck.kernels.backends.numba.blas import blas_single_thread
from depthcheck.kernels.backends.numba.fused_grad import (_grad_norm, _nonlinear_vjp,
                                                          _readout_grad, _unit_signal)
from depthcheck.kernels.backends.numba.trial import (_finish, _nonlinear, _record_layer, _start,
                                                     collect, kernel_fingerprint, stat_buffers)
from depthcheck.kernels.chain.codes import (ERR_BACKWARD, ERR_NONE, F_GAMMA, F_LOG_GAMMA, F_STD,
                                            F_TAU, I_ACT, I_DEPTH, I_FLAGS, I_K0, I_K1, I_KC,
                                            I_METHOD, I_N_SING, I_NORM, I_ORDER,
                                            I_RECORD_EVERY, I_RESCALE, I_RESIDUAL, I_WEIGHT,
                                            LOG_SCALE_CAP, N_FLAGS, kernel_scalars,
                                            raise_breakdown)
from depthcheck.kernels.chain.errors import check_log_grad
from depthcheck.kernels.random.philox import (_ZBUF, METHODS, _fill_normals, key_from_root,
                                              philox_key, readout_philox)
from depthcheck.kernels.chain.reduced import ReducedChainBackend
from depthcheck.kernels.chain.spec import ChainSpec, engine_arguments

__all__ = ["simulate_reduced_chain_numba", "run_reduced_numba", "ReducedNumbaChainBackend"]

REDUCED_WEIGHTS = ("haar", "gaussian")
#: Philox stream word of the backward pass's fresh normals (layer l >= 1, trial b, 1)
BACKWARD_STREAM = 1


@njit(fastmath={"reassoc", "contract"})   # vectorised sums; NaN/inf semantics kept
def _house_qr(Mt, V, beta, R):
    """Householder QR of the d×n matrix M given as its transpose Mt (n, d) (rows = columns of
    M, contiguous); Mt is destroyed. k = min(n, d) reflectors: V[j, j:] <- reflector j,
    beta[j] = 2/‖v_j‖² (0: identity), R[:k, :n] <- upper-trapezoidal factor,
    M = P_0 ⋯ P_{k-1} [R; 0], P_j = I − beta_j v_j v_jᵀ."""
    n, d = Mt.shape
    for k in range(min(n, d)):
        x = Mt[k]
        s2 = 0.0
        for i in range(k, d):
            s2 += x[i] * x[i]
        nrm = math.sqrt(s2)
        x0 = x[k]
        alpha = -nrm if x0 >= 0 else nrm            # v = x − alpha e_k, no cancellation
        vk = V[k]
        for i in range(k, d):
            vk[i] = x[i]
        vk[k] = x0 - alpha
        vn2 = 2.0 * nrm * (nrm + abs(x0))
        bk = 2.0 / vn2 if vn2 > 0 else 0.0
        beta[k] = bk
        R[k, k] = alpha if vn2 > 0 else x0
        for j in range(k + 1, n):
            y = Mt[j]
            s = 0.0
            for i in range(k, d):
                s += vk[i] * y[i]
            s *= bk
            for i in range(k, d):
                y[i] -= s * vk[i]
            R[k, j] = y[k]
        for j in range(k):
            R[k, j] = 0.0


@njit(fastmath={"reassoc", "contract"})   # vectorised sums; NaN/inf semantics kept
def _apply_reflectors(V, beta, nr, At, transpose):
    """Rows of At (the columns of a d×c matrix Y) <- P Y (``transpose``: Pᵀ Y) for the product
    P = P_0 ⋯ P_{nr-1} of ``_house_qr``'s first ``nr`` reflectors. fastmath (reassociation and
    FMA contraction only) lets the dot products vectorise: rounding-level changes; NaN/inf
    semantics are kept so breakdowns are still detected downstream."""
    d = At.shape[1]
    for t in range(nr):
        k = t if transpose else nr - 1 - t
        vk = V[k]
        bk = beta[k]
        for c in range(At.shape[0]):
            row = At[c]
            s = 0.0
            for i in range(k, d):
                s += vk[i] * row[i]
            s *= bk
            for i in range(k, d):
                row[i] -= s * vk[i]


@njit
def _signed_q_times(V, beta, RQ, nr, Rm, At):
    """Rows of At (the columns of a d×c result) <- Q Rm = P_0 ⋯ P_{nr-1} [D Rm; 0], Q the
    sign-fixed Q factor (D = sign(diag RQ), + for 0) of the QR that gave (V, beta, RQ), Rm
    (nr × c): Q is never formed."""
    d = At.shape[1]
    for c in range(At.shape[0]):
        row = At[c]
        for k in range(nr):
            row[k] = Rm[k, c] if RQ[k, k] >= 0 else -Rm[k, c]
        for i in range(nr, d):
            row[i] = 0.0
    _apply_reflectors(V, beta, nr, At, False)


@njit
def _linear_step(l, b, H, A, k0, k1, method, wcode, std, has_res, gamma, Mt, At, RH, RZ, z,
                 zbuf, VH, betaH, sH, VZ, betaZ, sZ):
    """A <- the reduced linear part of layer l for trial b (residual included); keeps what the
    backward pass needs: H's reflectors (VH, betaH) and sign fix sH, and for Haar weights Z's
    (VZ, betaZ, sZ); z holds Z (stream (l, b, 0)) on return."""
    d, n = H.shape
    for i in range(d):                  # R_H from a QR of H (Q_H kept as its reflectors)
        for c in range(n):
            Mt[c, i] = H[i, c]
    _house_qr(Mt, VH, betaH, RH)
    for k in range(n):                  # positive diag: R_H independent of QR convention
        sH[k] = 1.0
        if RH[k, k] < 0:
            sH[k] = -1.0
            for c in range(k, n):
                RH[k, c] = -RH[k, c]
    _fill_normals(z, method, k0, k1, np.uint64(l), np.uint64(b), np.uint64(0), zbuf)
    if wcode == 1:                      # W H ~ σ Z R_H
        for i in range(d):
            for c in range(n):
                s = 0.0
                for k in range(c + 1):
                    s += z[i * n + k] * RH[k, c]
                A[i, c] = std * s
    else:                               # W H ~ Q_Z R_H = P_0 ⋯ P_{n-1} [D R_H; 0]
        for i in range(d):
            for c in range(n):
                Mt[c, i] = z[i * n + c]
        _house_qr(Mt, VZ, betaZ, RZ)
        for k in range(n):
            sZ[k] = 1.0 if RZ[k, k] >= 0 else -1.0
        _signed_q_times(VZ, betaZ, RZ, n, RH, At)
        for i in range(d):
            for c in range(n):
                A[i, c] = At[c, i]
    if has_res:
        for i in range(d):
            for c in range(n):
                A[i, c] = H[i, c] + gamma * A[i, c]


@njit
def _trial(b, X, gains, ip, fp, stats, top, log_scale, err, cps, cpl, Hout):
    """One trial of the reduced chain forward; scalars packed in ``ip``/``fp``
    (``depthcheck.kernels.chain.codes.kernel_scalars``; weight code 0 Haar, 1 Gaussian). With
    ``ip[I_KC] > 0`` (the gradient kernel) H_l and log c_l are stored every kc layers in
    ``cps``/``cpl`` and H_L in ``Hout``; returns log c_L."""
    depth, record_every, n_sing = ip[I_DEPTH], ip[I_RECORD_EVERY], ip[I_N_SING]
    k0, k1, method = np.uint64(ip[I_K0]), np.uint64(ip[I_K1]), ip[I_METHOD]
    wcode, norm_code, act_code, order_code = ip[I_WEIGHT], ip[I_NORM], ip[I_ACT], ip[I_ORDER]
    has_res, rescale, kc = ip[I_RESIDUAL] != 0, ip[I_RESCALE] != 0, ip[I_KC]
    want = ip[I_FLAGS:I_FLAGS + N_FLAGS] != 0
    std, gamma, tau = fp[F_STD], fp[F_GAMMA], fp[F_TAU]
    d, n = X.shape[1], X.shape[2]
    xb = np.int64(b) if X.shape[0] > 1 else np.int64(0)
    H = np.empty((d, n))
    A = np.empty((d, n))
    Mt = np.empty((n, d))
    At = np.empty((n, d))
    VH = np.empty((n, d))
    VZ = np.empty((n, d))
    betaH = np.empty(n)
    betaZ = np.empty(n)
    sH = np.empty(n)
    sZ = np.empty(n)
    RH = np.empty((n, n))
    RZ = np.empty((n, n))
    z = np.empty(d * n)
    zbuf = np.empty(_ZBUF, np.uint64)
    G = np.empty((n, n))
    diag = np.empty(n)
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
            _linear_step(l, b, H, A, k0, k1, method, wcode, std, has_res, gamma, Mt, At, RH, RZ,
                         z, zbuf, VH, betaH, sH, VZ, betaZ, sZ)
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
        for b in prange(err.shape[0]):
            _trial(np.int64(b), X, gains, ip, fp, stats, top, log_scale, err, no_cps, no_cpl,
                   no_H)
    return _reduced_forward


_reduced_forward = _make_reduced_forward(kernel_fingerprint(_fused_grad))


# -------------------------------------------------------------------------------- backward
@njit
def _conditional_transpose(l, b, dA, out, k0, k1, method, wcode, std, has_res, gamma, VH, betaH,
                           sH, VZ, betaZ, sZ, Zs, Yt, Bt, Ct, VB, betaB, RY, VG, betaG, RG, g,
                           zbuf):
    """out <- a draw of W_lᵀ dA (residual: dA + γ W_lᵀ dA) from the law of W_l given the forward
    pass (module docstring), from layer l's stored reflectors and, for Gaussian weights, Z (Zs);
    fresh normals from stream (l, b, BACKWARD_STREAM)."""
    d, n = dA.shape
    m = d - n
    k = min(n, m)
    if wcode == 0:
        for i in range(d):
            for c in range(n):
                Yt[c, i] = dA[i, c]
        _apply_reflectors(VZ, betaZ, n, Yt, True)               # Y = P_Zᵀ dA
        for c in range(n):
            for a in range(n):                                  # D_H D_Z Y_1
                Yt[c, a] *= sH[a] * sZ[a]
        if k > 0:
            for c in range(n):                                  # Y_2 -> R_Y (k×n)
                for i in range(m):
                    Bt[c, i] = Yt[c, n + i]
            _house_qr(Bt, VB, betaB, RY)
            _fill_normals(g[:m * k], method, k0, k1, np.uint64(l), np.uint64(b),
                          np.uint64(BACKWARD_STREAM), zbuf)
            for a in range(k):                                  # Gᵀ (k, m), G[i, a] = g[i·k + a]
                for i in range(m):
                    Ct[a, i] = g[i * k + a]
            _house_qr(Ct[:k], VG, betaG, RG)
            _signed_q_times(VG, betaG, RG, k, RY, Ct)            # P_G [D_G R_Y; 0]
            for c in range(n):
                for i in range(m):
                    Yt[c, n + i] = Ct[c, i]
    else:
        for c in range(n):                                      # Zᵀ dA, then D_H
            for a in range(n):
                s = 0.0
                for i in range(d):
                    s += Zs[i * n + a] * dA[i, c]
                Yt[c, a] = sH[a] * s
        if m > 0:
            for i in range(d):                                  # R_δ (n×n)
                for c in range(n):
                    Bt[c, i] = dA[i, c]
            _house_qr(Bt, VB, betaB, RY)
            _fill_normals(g[:m * n], method, k0, k1, np.uint64(l), np.uint64(b),
                          np.uint64(BACKWARD_STREAM), zbuf)
            for c in range(n):                                  # N R_δ, N[i, a] = g[i·n + a]
                for i in range(m):
                    s = 0.0
                    for a in range(c + 1):
                        s += g[i * n + a] * RY[a, c]
                    Yt[c, n + i] = s
        for c in range(n):
            for i in range(d):
                Yt[c, i] *= std
    _apply_reflectors(VH, betaH, n, Yt, False)                  # P_H [·; ·]
    for i in range(d):
        for c in range(n):
            out[i, c] = dA[i, c] + gamma * Yt[c, i] if has_res else Yt[c, i]


@njit
def _trial_grad(b, X, gains, ip, fp, Wout, labels, gcol, stats, top, log_scale, log_grad, err):
    """One trial: the forward trial (statistics, checkpoints), the readout gradient, and the
    backward pass one recomputed segment at a time (as
    ``depthcheck.kernels.backends.numba.fused_grad._trial_grad``, with the conditional Wᵀ)."""
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
    log_c = _trial(b, X, gains, ip, fp, stats, top, log_scale, err, cps, cpl, H)
    if err[b, 1] != ERR_NONE:
        return

    iw = np.empty(8, np.int32)
    dw = np.empty(2)
    cw = np.empty(2, np.uint8)
    dH = np.empty((d, n))
    dA = np.empty((d, n))
    A = np.empty((d, n))
    Zb = np.empty((Wout.shape[1], n))
    fac = math.exp(min(log_c, LOG_SCALE_CAP)) if rescale else 1.0
    _readout_grad(H, Wout[b], labels, fac, Zb, dH, iw, dw, cw)
    lg = _unit_signal(dH)
    if lg != lg:
        err[b, 0] = depth
        err[b, 1] = ERR_BACKWARD
        return

    # one segment's tape: H_{l-1}, A_l and layer l's reflectors / Gaussian
    Hs = np.empty((kc, d, n))
    As = np.empty((kc, d, n))
    lcs = np.empty(kc)
    VHs = np.empty((kc, n, d))
    bHs = np.empty((kc, n))
    sHs = np.empty((kc, n))
    haar = wcode == 0
    VZs = np.empty((kc if haar else 1, n, d))
    bZs = np.empty((kc if haar else 1, n))
    sZs = np.empty((kc if haar else 1, n))
    Zs = np.empty((kc, d * n))
    Mt = np.empty((n, d))
    At = np.empty((n, d))
    RH = np.empty((n, n))
    RZ = np.empty((n, n))
    zbuf = np.empty(_ZBUF, np.uint64)
    rn = np.empty(d)
    G1 = np.empty((n, n))
    G2 = np.empty((n, n))
    mm = max(m, 1)
    Yt = np.empty((n, d))
    Bt = np.empty((n, mm if haar else d))
    Ct = np.empty((n, mm))
    VB = np.empty((n, mm if haar else d))
    betaB = np.empty(n)
    RY = np.empty((n, n))
    VG = np.empty((n, mm))
    betaG = np.empty(n)
    RG = np.empty((n, n))
    g = np.empty(mm * n)
    for t in range(ncp - 1, -1, -1):
        s0 = t * kc
        steps = min(kc, depth - s0)
        Hs[0] = cps[t]
        lcs[0] = cpl[t]
        for j in range(steps):            # recompute the segment: the forward's own step
            l = s0 + j + 1
            jz = j if haar else 0
            _linear_step(l, b, Hs[j], As[j], k0, k1, method, wcode, std, has_res, gamma, Mt, At,
                         RH, RZ, Zs[j], zbuf, VHs[j], bHs[j], sHs[j], VZs[jz], bZs[jz], sZs[jz])
            if j + 1 < steps:
                A[:, :] = As[j]
                e = _nonlinear(A, norm_code, act_code, order_code, gains[l - 1], rn)
                if e == ERR_NONE:
                    e, lsj = _finish(A, Hs[j + 1], rescale)
                    lcs[j + 1] = lcs[j] + lsj
                if e != ERR_NONE:         # unreachable: the forward pass did the same
                    err[b, 0] = l
                    err[b, 1] = e
                    return
        for j in range(steps - 1, -1, -1):
            l = s0 + j + 1
            _nonlinear_vjp(As[j], dH, dA, A, norm_code, act_code, order_code, gains[l - 1])
            col = gcol[l]
            if col >= 0:
                gn = _grad_norm(dA, Hs[j], G1, G2, iw, dw, cw)
                lgn = math.log(gn) if gn > 0 else (-np.inf if gn == 0 else gn)
                log_grad[b, col] = lg + lcs[j] + lgn + log_gamma
            if l == 1:
                break                     # ∂loss/∂H_0 is not needed
            jz = j if haar else 0
            _conditional_transpose(l, b, dA, dH, k0, k1, method, wcode, std, has_res, gamma,
                                   VHs[j], bHs[j], sHs[j], VZs[jz], bZs[jz], sZs[jz], Zs[j], Yt,
                                   Bt, Ct, VB, betaB, RY, VG, betaG, RG, g, zbuf)
            ls = _unit_signal(dH)
            if ls != ls:
                err[b, 0] = l - 1
                err[b, 1] = ERR_BACKWARD
                return
            lg += ls


def _make_reduced_grad(fingerprint):
    """The parallel entry kernel with gradients (disk cache as ``_make_reduced_forward``)."""
    @njit(parallel=True, cache=True)
    def _reduced_grad(X, gains, ip, fp, Wout, labels, gcol, stats, top, log_scale, log_grad,
                      err):
        if fingerprint < 0:                  # never: ties the disk cache to the dependencies
            return
        for b in prange(err.shape[0]):
            _trial_grad(np.int64(b), X, gains, ip, fp, Wout, labels, gcol, stats, top,
                        log_scale, log_grad, err)
    return _reduced_grad


_reduced_grad = _make_reduced_grad(kernel_fingerprint(_fused_grad))


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
    trial b uses the d·n normals of stream (l, b, 0) (``normals`` "ziggurat" or "box_muller"),
    its backward pass stream (l, b, 1); with ``gradients=True`` the readout is
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
    B, d, n, L = spec.trials, spec.d, spec.n, spec.depth
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

    if labels is None:
        raise ValueError("labels must be given (an (n,) array of ints in [0, n_out)) for "
                         "gradients")
    y = np.ascontiguousarray(labels, dtype=np.int64)
    kc = (max(1, math.ceil(math.sqrt(L))) if checkpoint_every is None
          else check_positive_int(checkpoint_every, "checkpoint_every"))
    kc = min(kc, L)
    grad_layers = np.array(sorted({1} | {int(l) for l in layers if l >= 1}), dtype=np.intp)
    gcol = np.full(L + 1, -1, dtype=np.int64)
    gcol[grad_layers] = np.arange(grad_layers.size)
    log_grad = np.full((B, grad_layers.size), np.nan)
    Wout = readout_philox(key, B, spec.n_out, d, method)
    ip, fp = kernel_scalars(spec, key, method=METHODS[method], flags=want,
                            record_every=int(record_every), tau=float(tau), n_sing=int(k_sing),
                            kc=int(kc))
    with blas_single_thread():
        _reduced_grad(Xb, gains, ip, fp, Wout, y, gcol, stats, top, log_scale, log_grad, err)
    raise_breakdown(err, backward_codes=(ERR_BACKWARD,))
    check_log_grad(log_grad, grad_layers)
    out = collect(spec, record, layers, k_sing, stats, top, log_scale)
    out["grad_layers"] = grad_layers
    out["log_grad_norm"] = log_grad
    out["labels"] = np.asarray(y, dtype=np.intp).copy()
    return out


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
