"""The reduced chain (``depthcheck.kernels.chain.reduced``) forward pass as one fused numba kernel.

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
O(d n + n²), memory independent of the depth L. Forward only: gradients need the conditional
backward of ``depthcheck.kernels.chain.reduced``.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from depthcheck.kernels.backends.numba.blas import blas_single_thread
from depthcheck.kernels.backends.numba.trial import (_finish, _nonlinear, _record_layer, _start,
                                                     collect, kernel_fingerprint, stat_buffers)
from depthcheck.kernels.chain.codes import (ERR_NONE, F_GAMMA, F_STD, F_TAU,
                                            I_ACT, I_DEPTH, I_FLAGS, I_K0, I_K1, I_METHOD,
                                            I_N_SING, I_NORM, I_ORDER, I_RECORD_EVERY, I_RESCALE,
                                            I_RESIDUAL, I_WEIGHT, N_FLAGS, kernel_scalars,
                                            raise_breakdown)
from depthcheck.kernels.random.philox import (_ZBUF, METHODS, _fill_normals, key_from_root, philox_key)
from depthcheck.kernels.chain.reduced import ReducedChainBackend
from depthcheck.kernels.chain.spec import ChainSpec, engine_arguments

__all__ = ["simulate_reduced_chain_numba", "run_reduced_numba", "ReducedNumbaChainBackend"]

REDUCED_WEIGHTS = ("haar", "gaussian")


@njit(fastmath={"reassoc", "contract"})   # vectorised sums; NaN/inf semantics kept
def _house_qr(Mt, V, beta, R):
    """Householder QR of the d×n matrix M given as its transpose Mt (n, d) (rows = columns of
    M, contiguous); Mt is destroyed. V[k, k:] <- reflector k, beta[k] = 2/‖v_k‖² (0: identity),
    R (n, n) <- upper-triangular factor, M = P_0 ⋯ P_{n-1} [R; 0], P_k = I − beta_k v_k v_kᵀ."""
    n, d = Mt.shape
    for k in range(n):
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
def _apply_reflectors(V, beta, At):
    """Rows of At (the columns of a d×n matrix Y) <- P_0 ⋯ P_{n-1} Y (``_house_qr``'s P_k);
    fastmath (reassociation and FMA contraction only) lets the dot products vectorise: rounding-
    level changes; NaN/inf semantics are kept so breakdowns are still detected downstream."""
    n, d = At.shape
    for k in range(n - 1, -1, -1):
        vk = V[k]
        bk = beta[k]
        for c in range(n):
            row = At[c]
            s = 0.0
            for i in range(k, d):
                s += vk[i] * row[i]
            s *= bk
            for i in range(k, d):
                row[i] -= s * vk[i]


@njit
def _trial(b, X, gains, ip, fp, stats, top, log_scale, err):
    """One trial of the reduced chain; scalars packed in ``ip``/``fp``
    (``depthcheck.kernels.chain.codes.kernel_scalars``; weight code 0 Haar, 1 Gaussian)."""
    depth, record_every, n_sing = ip[I_DEPTH], ip[I_RECORD_EVERY], ip[I_N_SING]
    k0, k1, method = np.uint64(ip[I_K0]), np.uint64(ip[I_K1]), ip[I_METHOD]
    wcode, norm_code, act_code, order_code = ip[I_WEIGHT], ip[I_NORM], ip[I_ACT], ip[I_ORDER]
    has_res, rescale = ip[I_RESIDUAL] != 0, ip[I_RESCALE] != 0
    want = ip[I_FLAGS:I_FLAGS + N_FLAGS] != 0
    std, gamma, tau = fp[F_STD], fp[F_GAMMA], fp[F_TAU]
    d, n = X.shape[1], X.shape[2]
    xb = np.int64(b) if X.shape[0] > 1 else np.int64(0)
    H = np.empty((d, n))
    A = np.empty((d, n))
    Mt = np.empty((n, d))
    At = np.empty((n, d))
    V = np.empty((n, d))
    beta = np.empty(n)
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
        return
    for l in range(0, depth + 1):
        if l > 0:
            for i in range(d):                  # R_H from a QR of H (Q_H is not needed)
                for c in range(n):
                    Mt[c, i] = H[i, c]
            _house_qr(Mt, V, beta, RH)
            for k in range(n):                  # positive diag: R_H independent of QR convention
                if RH[k, k] < 0:
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
                _house_qr(Mt, V, beta, RZ)
                for c in range(n):
                    row = At[c]
                    for k in range(n):
                        row[k] = RH[k, c] if RZ[k, k] >= 0 else -RH[k, c]
                    for i in range(n, d):
                        row[i] = 0.0
                _apply_reflectors(V, beta, At)
                for i in range(d):
                    for c in range(n):
                        A[i, c] = At[c, i]
            if has_res:
                for i in range(d):
                    for c in range(n):
                        A[i, c] = H[i, c] + gamma * A[i, c]
            e = _nonlinear(A, norm_code, act_code, order_code, gains[l - 1], rn)
            if e == ERR_NONE:
                e, ls = _finish(A, H, rescale)
                log_c += ls
            if e != ERR_NONE:
                err[b, 0] = l
                err[b, 1] = e
                return
        if l % record_every == 0:
            e = _record_layer(H, rn, G, diag, want, tau, n_sing, st, tp, l // record_every,
                              iw, dw, cw, log_c, log_scale[b])
            if e != ERR_NONE:
                err[b, 0] = l
                err[b, 1] = e
                return


def _make_reduced_forward(fingerprint):
    """The parallel entry kernel; its disk cache closes over ``fingerprint``
    (``depthcheck.kernels.backends.numba._cache``)."""
    @njit(parallel=True, cache=True)
    def _reduced_forward(X, gains, ip, fp, stats, top, log_scale, err):
        if fingerprint < 0:                  # never: ties the disk cache to the dependencies
            return
        for b in prange(err.shape[0]):
            _trial(np.int64(b), X, gains, ip, fp, stats, top, log_scale, err)
    return _reduced_forward


_reduced_forward = _make_reduced_forward(kernel_fingerprint())


def simulate_reduced_chain_numba(X, depth, *, rng, normals="ziggurat", **chain_args) -> dict:
    """``simulate_chain(..., method="reduced", backend="numba")`` with the Philox key drawn from
    ``rng`` directly (forward statistics only).

    Every keyword argument of ``depthcheck.kernels.simulate_chain`` except ``method`` and
    ``backend`` is accepted, with the same names, defaults and checks (one signature, checked
    once by ``ChainSpec.from_arguments``).

    Same output dictionary and law as ``depthcheck.kernels.simulate_chain`` (n <= d,
    ``weights`` "haar" or "gaussian"), different random numbers: a Philox key is drawn from
    ``rng`` (``depthcheck.kernels.random.philox.philox_key``) and layer l of trial b uses the
    d·n normals of stream (l, b, 0) (``normals`` "ziggurat" or "box_muller").
    ``gradients=True`` is refused (``UnsupportedEngineError``: the numpy reduced chain has the
    conditional backward pass). Cost O(L d n²) per trial, memory O(B·R + threads·d n).
    """
    if normals not in METHODS:
        raise ValueError(f"normals={normals!r} is not one of {tuple(METHODS)}")
    spec = ChainSpec.from_arguments(X, depth, rng=rng,
                                    **engine_arguments(chain_args, "reduced", "numba"))
    key = philox_key(rng)
    return run_reduced_numba(spec, spec.X, key, record=spec.record,
                             record_every=spec.record_every, tau=spec.tau,
                             n_singular=spec.n_singular, method=normals)


def run_reduced_numba(spec, X, key, *, record, record_every, tau, n_singular,
                      method="ziggurat") -> dict:
    """The fused reduced forward kernel for a validated ``ChainSpec`` and a Philox ``key``."""
    if spec.weights not in REDUCED_WEIGHTS:
        raise ValueError(f"weights={spec.weights!r}: the reduced chain needs a rotation-invariant "
                         f"weight law, one of {REDUCED_WEIGHTS}")
    B, d, n, L = spec.trials, spec.d, spec.n, spec.depth
    if n > d:
        raise ValueError(f"X must have n <= d for the reduced chain (columns are samples), got "
                         f"d={d}, n={n}")
    layers, want, k_sing, stats, top, log_scale = stat_buffers(spec, record, record_every,
                                                               n_singular)
    # weight codes: codes.WEIGHT_CODES (haar 0, gaussian 1), the two laws REDUCED_WEIGHTS allows
    ip, fp = kernel_scalars(spec, key, method=METHODS[method], flags=want,
                            record_every=int(record_every), tau=float(tau), n_sing=int(k_sing))
    err = np.empty((B, 2), dtype=np.int64)
    Xb = np.ascontiguousarray(X if X.ndim == 3 else X[None], dtype=np.float64)
    with blas_single_thread():
        _reduced_forward(Xb, np.ascontiguousarray(spec.gains, dtype=np.float64), ip, fp, stats,
                         top, log_scale, err)
    raise_breakdown(err)
    return collect(spec, record, layers, k_sing, stats, top, log_scale)


class ReducedNumbaChainBackend(ReducedChainBackend):
    """Engine ``method="reduced", backend="numba"`` of ``depthcheck.kernels.simulate_chain`` (n <= d,
    Haar or Gaussian weights): forward-only chains run the fused kernel above (Philox key
    derived from the driver's ``root`` by ``depthcheck.kernels.random.philox.key_from_root``).
    Chains with gradients are refused by name (the conditional backward pass exists only in
    the numpy reduced engine, ``depthcheck.kernels.chain.reduced``)."""

    name = "reduced_numba"

    @staticmethod
    def unsupported(spec, record, gradients) -> str | None:
        if gradients:
            return ("gradients: the fused reduced numba kernel has no backward pass "
                    "(method='reduced' with backend='numpy' runs it, same law)")
        return ReducedChainBackend.unsupported(spec, record, gradients)

    @staticmethod
    def run_fused(spec, X, root, *, record, record_every, tau, n_singular, gradients=False,
                  labels=None, checkpoint_every=None, **_) -> dict:
        if gradients:  # refused by ``unsupported`` before the driver gets here
            raise AssertionError("the reduced numba engine has no gradients")
        return run_reduced_numba(spec, X, key_from_root(root), record=record,
                                 record_every=record_every, tau=tau, n_singular=n_singular)
