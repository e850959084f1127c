"""Fused numba chain WITH gradients: forward statistics and per-layer weight-gradient log-norms.

One compiled kernel per Monte Carlo trial (``numba.prange`` over trials) runs the whole L-layer
chain of ``depthcheck.kernels.backends.numba.fused`` forward (the same statistics, bit for bit, as the forward-only
fused kernel on the same Philox key), then backpropagates a softmax cross-entropy through it,
as ``depthcheck.kernels.simulate_chain(..., gradients=True)`` does (Meterez et al. 2024,
arXiv:2310.02012, Fig. 3 / Theorem 5; ``docs/derivations/isometry_bn.md``):

    logits Z = W_out H_L  (× e^{min(log c_L, 700)} for a rescaled norm-free chain),
    loss = (1/n) Σ_j CE(softmax(Z[:, j]), y_j),   ∂loss/∂H_L = W_outᵀ (softmax(Z) − onehot(y))/n,
    norm_act:  δ_l = normᵀ(g_l · act'(P_l) ⊙ ∂H_l);   act_norm:  δ_l = g_l · act'(P_l) ⊙ normᵀ(∂H_l),
    ∂loss/∂W_l = γ δ_l H_{l-1}ᵀ (γ = 1 without a residual),
    ∂H_{l-1} = W_lᵀ δ_l  (residual: δ_l + γ W_lᵀ δ_l),

with normᵀ the row-wise vector-Jacobian products of ``depthcheck.kernels.nn.norms``, computed row by row by
``depthcheck.kernels.backends._rowops.nonlinear_vjp_row`` (the code the CUDA kernels compile too).
The backward signal is carried at unit Frobenius norm per trial and its log-norm accumulated
(``depthcheck.kernels.chain.driver._normalise``), so ``log‖∂loss/∂W_l‖_F`` neither over- nor underflows over
thousands of layers; an exactly zero signal gives −inf. ‖δ_l H_{l-1}ᵀ‖_F is computed without
forming the d×d product when n <= d, as √(Σ (δᵀδ) ⊙ (HᵀH)) from two n×n Grams (``dsyrk``; the
sum is tr(AB) >= 0 of two PSD matrices), and as the d×d ``dgemm`` H δᵀ when n > d (cheaper
there). The Gram sum carries an absolute rounding error up to ~(2d + n²)·eps·T, T =
(Σ_a ‖δ_a‖‖H_a‖)² <= ‖δ‖²‖H‖² over the columns a, which is only small relative to the sum
when δ Hᵀ is not far below ‖δ‖‖H‖: on a batch with duplicated columns (rank-deficient H) the
backward signal becomes antisymmetric across the duplicates, which δ Hᵀ cancels exactly, and
the sum fell to rounding noise (values ~e^8 too large, or a clamped negative giving an exactly
zero gradient, at depth ~400). ``gram_trusted`` tells when the Gram sum is accurate to
``GRAM_REL_TOL``; otherwise the d×d product is formed (the numpy reference's δ Hᵀ, absolute
error ~n·eps·‖δ_a‖‖H_k‖ per entry). Results where the Gram sum is trusted are unchanged.

Randomness (``depthcheck.kernels.random.philox``): hidden W_l from stream (l, b, 0) exactly as the forward kernel
(Haar: Householder vectors, compact WY; gaussian/uniform: d×d entries), regenerated in the
backward pass since Philox is counter-based; the readout ``readout_philox(key, B, n_out, d,
method)`` is computed on the host (shared with the CUDA kernels); the labels come from the
caller (``depthcheck.kernels.simulate_chain`` / ``simulate_chain_numba`` draw them from ``rng``).

Memory (per thread, float64 words; k_c = ``checkpoint_every``, default ⌈√L⌉): the checkpoints
H_0, H_{k_c}, ... (⌈L/k_c⌉·d·n), one recomputed segment's inputs H_{l-1} and linear outputs A_l
(2k_c·d·n), d² for one layer's weights and a few d·n / n² / d² work buffers: O((k_c + L/k_c)·d·n
+ d²), i.e. O(√L·d·n + d²) by default. Compute: the forward pass twice (forward + segment
recomputation) plus the backward pass (Wᵀ applications and the gradient norms); results do not
depend on k_c (the recomputation repeats the forward arithmetic exactly).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange
from numba.extending import register_jitable

from depthcheck.kernels.backends.numba._jit import njit_noalloc
from depthcheck.theory._checks import check_positive_int
from depthcheck.kernels.backends._rowops import activation_derivative, nonlinear_vjp_row
from depthcheck.kernels.backends.numba.blas import _N, _T_, _gemm, _gram, blas_single_thread
from depthcheck.kernels.backends.numba.trial import (_NORM_BN_NOMEAN, _NORM_ROWNORM,
                                                     _divisor, _row_norms,
                                                     _draw, _finish, _linear, _linear_T,
                                                     _nonlinear, _trial_forward, collect,
                                                     kernel_fingerprint, stat_buffers)
from depthcheck.kernels.chain.codes import (ERR_BACKWARD, ERR_NONE, F_GAMMA, F_LOG_GAMMA, F_STD,
                                            I_ACT, I_BLOCK, I_DEPTH, I_K0, I_K1, I_KC, I_METHOD,
                                            I_NORM, I_ORDER, I_RESCALE, I_RESIDUAL, I_WEIGHT,
                                            LOG_SCALE_CAP, WY_BLOCK, kernel_scalars,
                                            raise_breakdown)
from depthcheck.kernels.chain.errors import check_log_grad
from depthcheck.kernels.random.philox import ZIG_WORK, METHODS, readout_philox

__all__ = ["run_fused_grad", "grad_setup", "grad_result", "ERR_BACKWARD", "gram_trusted",
           "GRAM_REL_TOL"]


@njit
def _nonlinear_vjp(A, dH, dA, Y, norm_code, act_code, order_code, g):
    """dA <- ∂loss/∂A_l from dH = ∂loss/∂H_l, recomputing the layer's norm from A = A_l
    (unchanged), row by row (``_rowops.nonlinear_vjp_row``); Y (d×n) is work space."""
    if order_code == 0 and (norm_code == _NORM_BN_NOMEAN or norm_code == _NORM_ROWNORM):
        _nonlinear_vjp_batched(A, dH, dA, Y, norm_code, act_code, g)
        return
    for i in range(A.shape[0]):
        nonlinear_vjp_row(norm_code, act_code, order_code, g, A[i], dH[i], dA[i], Y[i])


@njit
def _nonlinear_vjp_batched(A, dH, dA, Y, norm_code, act_code, g):
    """``_nonlinear_vjp`` for norm_act with rownorm / bn_nomean: the arithmetic of
    ``_rowops.nonlinear_vjp_row`` (Y = A·(1/s), s = ‖a‖ or ‖a‖/√n from the sequential sum;
    dA = g·(act'(g·Y)·dH); t = Σ Y·dA (÷ n for bn_nomean); dA = (dA − Y·t)/s), so the values
    are the same bit for bit, in two passes over the rows (as ``trial._scale_rows_batched``:
    the rows' dependent chains then overlap)."""
    d, n = A.shape
    rn = np.empty(d)
    _row_norms(A, rn)
    sq = math.sqrt(n)
    for i in range(d):
        a = A[i]
        y = Y[i]
        dh = dH[i]
        da = dA[i]
        s = _divisor(norm_code, rn[i], sq)
        inv = 1.0 / s
        for c in range(n):
            y[c] = a[c] * inv
        for c in range(n):
            da[c] = g * (activation_derivative(act_code, g * y[c]) * dh[c])
        t = 0.0
        for c in range(n):
            t += y[c] * da[c]
        if norm_code != _NORM_ROWNORM:
            t /= n
        for c in range(n):
            da[c] = (da[c] - y[c] * t) / s


#: Relative accuracy asked of the Gram form of ‖dA Hᵀ‖_F² (``gram_trusted``), against a
#: worst-case bound (typical rounding is much smaller); below it the d×d product is
#: formed. 1e-4 (log-norm within 5e-5 at worst) keeps every existing result bit for bit: the
#: near-degenerate inputs of bn_orthogonal.theorem5_phi0_scaling and the control of
#: bounded_gradients_centred reach the fallback at 1e-8, where it moved them by <= 4e-12.
GRAM_REL_TOL = 1e-4
_UNIT_ROUNDOFF = 2.0 ** -53


@register_jitable
def gram_trusted(acc, t, d, n):
    """Whether acc = Σ_{a,c} (dAᵀdA)_{ac} (HᵀH)_{ac} (rounded) is ‖dA Hᵀ‖_F² to relative
    accuracy ``GRAM_REL_TOL``: its rounding error is at most ~(2d + n²)·u·t², u = 2⁻⁵³,
    t = Σ_a ‖dA[:, a]‖·‖H[:, a]‖ (each Gram entry is off by <= d·u·‖x_a‖‖x_c‖, the n² products
    summed add n²·u). False for a NaN ``acc`` (the caller's fallback propagates it). Shared by
    the numba and the CUDA kernels (``depthcheck.kernels.backends.cuda.device.grad_norm_sq``)."""
    return acc * GRAM_REL_TOL >= (2.0 * d + float(n) * n) * _UNIT_ROUNDOFF * (t * t)


@njit_noalloc
def gram_pair_sum(G1, G2):
    """(Σ_{a,c} G1_ac·G2_ac, Σ_a √(G1_aa·G2_aa)) from the C-order upper triangles of two n×n
    Grams: ‖dA Hᵀ‖_F² = tr((dAᵀdA)(HᵀH)) and the ``t`` of ``gram_trusted``."""
    n = G1.shape[0]
    acc = 0.0
    t = 0.0
    for a in range(n):
        acc += G1[a, a] * G2[a, a]
        t += math.sqrt(G1[a, a] * G2[a, a])
        for c in range(a + 1, n):
            acc += 2.0 * G1[a, c] * G2[a, c]
    return acc, t


@njit
def _grad_norm(dA, H, G1, G2, iw, dw, cw):
    """‖dA Hᵀ‖_F: n <= d from the n×n Grams (Σ (dAᵀdA)⊙(HᵀH) = tr of a product of two PSD
    matrices) when ``gram_trusted``, else (cancellation, e.g. duplicated columns of H) and for
    n > d from the d×d product."""
    d, n = dA.shape
    acc = 0.0
    if n <= d:
        _gram(dA, G1, np.bool_(True), iw, dw, cw)  # C-order upper triangles
        _gram(H, G2, np.bool_(True), iw, dw, cw)
        acc, t = gram_pair_sum(G1, G2)
        if gram_trusted(acc, t, d, n):
            return math.sqrt(acc)
        P = np.empty((d, d))
        acc = _product_norm_sq(dA, H, P, iw, dw, cw)
    else:
        acc = _product_norm_sq(dA, H, G1, iw, dw, cw)
    if acc < 0.0:                                   # cannot happen (a sum of squares); NaN passes
        acc = 0.0
    return math.sqrt(acc)


@njit_noalloc
def _product_norm_sq(dA, H, P, iw, dw, cw):
    """‖dA Hᵀ‖_F² from the d×d product (P: d×d work space)."""
    d, n = dA.shape
    # column-major P (d×d, ld d) = H dAᵀ = (dA Hᵀ)ᵀ
    _gemm(_T_, _N, d, d, n, 1.0, H, n, dA, n, 0.0, P, d, iw, dw, cw)
    acc = 0.0
    for a in range(d):
        for c in range(d):
            acc += P[a, c] * P[a, c]
    return acc


@njit_noalloc
def _unit_signal(dH):
    """dH <- dH/‖dH‖_F (left alone if zero); returns log‖dH‖_F (−inf for 0, NaN/inf when the
    norm is not finite: the caller's error)."""
    d, n = dH.shape
    s2 = 0.0
    for i in range(d):
        for c in range(n):
            s2 += dH[i, c] * dH[i, c]
    s = math.sqrt(s2)
    if not (s < np.inf):
        return np.nan
    if s > 0:
        inv = 1.0 / s
        for i in range(d):
            for c in range(n):
                dH[i, c] *= inv
        return math.log(s)
    return -np.inf


@njit_noalloc
def _readout_grad(H, Wo, labels, fac, Zb, dH, iw, dw, cw):
    """dH <- W_outᵀ (softmax(fac·W_out H) − onehot(labels))/n (columns = samples)."""
    d, n = H.shape
    no = Wo.shape[0]
    # column-major Zbᵀ (n×no) = Hᵀ W_outᵀ
    _gemm(_N, _N, n, no, d, 1.0, H, n, Wo, d, 0.0, Zb, n, iw, dw, cw)
    for c in range(n):
        mx = -np.inf
        for k in range(no):
            v = Zb[k, c] * fac
            Zb[k, c] = v
            if v > mx:
                mx = v
        tot = 0.0
        for k in range(no):
            e = math.exp(Zb[k, c] - mx)
            Zb[k, c] = e
            tot += e
        for k in range(no):
            Zb[k, c] /= tot
        Zb[labels[c], c] -= 1.0
        for k in range(no):
            Zb[k, c] /= n
    # column-major dHᵀ (n×d) = Pᵀ W_out
    _gemm(_N, _T_, n, d, no, 1.0, Zb, n, Wo, d, 0.0, dH, n, iw, dw, cw)


# --------------------------------------------------------------------------------------------
@njit
def _trial_grad(b, X, gains, ip, fp, Wout, labels, gcol, stats, top, log_scale, log_grad, err):
    """One trial: forward with statistics and checkpoints, readout, segmented backward; scalars
    packed in ``ip``/``fp`` (``depthcheck.kernels.chain.codes.kernel_scalars``, kc > 0)."""
    depth, k0, k1, method = ip[I_DEPTH], np.uint64(ip[I_K0]), np.uint64(ip[I_K1]), ip[I_METHOD]
    wcode, norm_code, act_code, order_code = ip[I_WEIGHT], ip[I_NORM], ip[I_ACT], ip[I_ORDER]
    has_res, rescale = ip[I_RESIDUAL] != 0, ip[I_RESCALE] != 0
    nb, kc = ip[I_BLOCK], ip[I_KC]
    std, gamma, log_gamma = fp[F_STD], fp[F_GAMMA], fp[F_LOG_GAMMA]
    d, n = X.shape[1], X.shape[2]
    small = n if n <= d else d
    kbmax = max(1, min(nb, d - 1))
    nz = d * (d + 1) // 2 if wcode == 0 else d * d
    ncp = (depth + kc - 1) // kc
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
    G2 = np.empty((small, small))
    rn = np.empty(d)
    iw = np.empty(8, np.int32)
    dw = np.empty(2)
    cw = np.empty(2, np.uint8)
    cps = np.empty((ncp, d, n))
    cpl = np.empty(ncp)
    err[b, 0] = -1
    err[b, 1] = ERR_NONE

    # ---- forward: the forward kernel's trial itself (bit-identical statistics), keeping the
    # checkpoints H_0, H_kc, ... and the last H_L in H
    log_c = _trial_forward(b, X, gains, ip, fp, stats, top, log_scale, err, cps, cpl, H)
    if err[b, 1] != ERR_NONE:
        return

    # ---- readout: ∂loss/∂H_L, carried at unit norm with its log-norm lg
    dH = np.empty((d, n))
    dA = np.empty((d, n))
    Zb = np.empty((Wout.shape[1], n))
    fac = math.exp(min(log_c, LOG_SCALE_CAP)) if rescale else 1.0
    _readout_grad(H, Wout[b], labels, fac, Zb, dH, iw, dw, cw)
    lg = _unit_signal(dH)
    if lg != lg:
        err[b, 0] = depth
        err[b, 1] = ERR_BACKWARD
        return

    # ---- backward, one recomputed segment [s, e) at a time
    Hs = np.empty((kc, d, n))        # H_{l-1} of the segment's layers
    As = np.empty((kc, d, n))        # A_l (linear output, residual included)
    lcs = np.empty(kc)
    for t in range(ncp - 1, -1, -1):
        s0 = t * kc
        m = min(kc, depth - s0)
        Hs[0] = cps[t]
        lcs[0] = cpl[t]
        for j in range(m):
            l = s0 + j + 1
            _draw(l, b, k0, k1, method, wcode, std, R, tau_v, D, z, zbuf)
            _linear(Hs[j], As[j], R, tau_v, D, wcode, has_res, gamma, nb, T, S, W1, W2,
                    iw, dw, cw)
            if j + 1 < m:
                for i in range(d):
                    for c in range(n):
                        A[i, c] = As[j, i, c]
                e = _nonlinear(A, norm_code, act_code, order_code, gains[l - 1], rn)
                if e == ERR_NONE:
                    e, lsj = _finish(A, Hs[j + 1], rescale)
                    lcs[j + 1] = lcs[j] + lsj
                if e != ERR_NONE:       # unreachable: the forward pass did the same
                    err[b, 0] = l
                    err[b, 1] = e
                    return
        for j in range(m - 1, -1, -1):
            l = s0 + j + 1
            _nonlinear_vjp(As[j], dH, dA, A, norm_code, act_code, order_code, gains[l - 1])
            col = gcol[l]
            if col >= 0:
                gn = _grad_norm(dA, Hs[j], G, G2, iw, dw, cw)
                lgn = math.log(gn) if gn > 0 else (-np.inf if gn == 0 else gn)
                log_grad[b, col] = lg + lcs[j] + lgn + log_gamma
            if l == 1:
                break                   # ∂loss/∂H_0 is not needed
            if j != m - 1:              # R still holds W_l for the segment's last layer
                _draw(l, b, k0, k1, method, wcode, std, R, tau_v, D, z, zbuf)
            _linear_T(dA, dH, R, tau_v, D, wcode, has_res, gamma, nb, T, S, W1, W2, iw, dw, cw)
            ls = _unit_signal(dH)
            if ls != ls:
                err[b, 0] = l - 1
                err[b, 1] = ERR_BACKWARD
                return
            lg += ls


def _make_fused_grad(fingerprint: int):
    """The parallel entry kernel. numba keys a function's disk cache on its own file's source
    only, so a cached kernel would keep stale copies of the helpers it compiles in from other
    files (``depthcheck.kernels.backends.numba.trial``, ``_rowops``, ``philox``, ...); the cache key
    also hashes closure variables, so closing over ``fingerprint`` ties the cache to those
    sources. Only this entry point is cached (the helpers are plain ``njit``)."""

    @njit(parallel=True, cache=True)
    def _fused_grad(X, gains, ip, fp, Wout, labels, gcol, stats, top, log_scale, log_grad, err):
        if fingerprint < 0:          # never true; references the closure variable
            return
        for b in prange(err.shape[0]):
            _trial_grad(np.int64(b), X, gains, ip, fp, Wout, labels, gcol, stats, top,
                        log_scale, log_grad, err)

    return _fused_grad


_fused_grad = _make_fused_grad(kernel_fingerprint())


# --------------------------------------------------------------------------------------------
def run_fused_grad(spec, X, key, record, record_every, tau, n_singular, method="ziggurat",
                   block=None, *, labels, checkpoint_every=None) -> dict:
    """The fused chain with gradients for a validated ``ChainSpec`` (``depthcheck.kernels.backends.numpy``) and
    Philox ``key``; called by ``depthcheck.kernels.backends.numba.fused.run_fused(..., gradients=True)``.

    Returns ``depthcheck.kernels.simulate_chain``'s dictionary: the statistics (equal to the forward-only
    fused kernel's on the same key), ``"grad_layers"`` (layer 1 and every recorded layer >= 1),
    ``"log_grad_norm"`` ``(B, G)`` = log‖∂loss/∂W_l‖_F and ``"labels"`` ``(n,)``. ``labels``:
    ``(n,)`` ints in [0, n_out); ``checkpoint_every``: k_c >= 1, default ⌈√L⌉ (the results do
    not depend on it). Raises ``ValueError`` naming the argument, ``ChainBreakdownError`` naming
    the layer and trial for a degenerate forward layer, a non-finite backward signal, or a NaN /
    +inf gradient log-norm.
    """
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not one of {tuple(METHODS)}")
    block = WY_BLOCK if block is None else check_positive_int(block, "block")
    layers, want, k_sing, stats, top, log_scale = stat_buffers(spec, record, record_every,
                                                               n_singular)
    y, kc, gcol, Wout, grads = grad_setup(spec, key, method, labels, checkpoint_every, layers)
    err = np.empty((spec.trials, 2), dtype=np.int64)
    Xb = np.ascontiguousarray(X if X.ndim == 3 else X[None], dtype=np.float64)
    ip, fp = kernel_scalars(spec, key, method=METHODS[method], flags=want,
                            record_every=int(record_every), tau=float(tau), n_sing=int(k_sing),
                            block=int(block), kc=int(kc))
    with blas_single_thread():
        _fused_grad(Xb, np.ascontiguousarray(spec.gains, dtype=np.float64), ip, fp, Wout, y, gcol,
                    stats, top, log_scale, grads["log_grad_norm"], err)
    return grad_result(spec, record, err, grads,
                       collect_args=(layers, k_sing, stats, top, log_scale))


def grad_setup(spec, key, method, labels, checkpoint_every, layers):
    """Host-side set-up shared by the numba gradient kernels (``run_fused_grad`` and
    ``depthcheck.kernels.backends.numba.reduced.run_reduced_numba``): checks ``n_out`` and the
    ``labels``, and returns (labels as int64, k_c, gcol (the column of each layer's gradient,
    −1 if none), the readout ``readout_philox(key, B, n_out, d, method)``, and the outputs
    {"grad_layers", "log_grad_norm" (NaN-filled), "labels"})."""
    B, d, n, L = spec.trials, spec.d, spec.n, spec.depth
    n_out = check_positive_int(spec.n_out, "n_out")
    if n_out > d:
        raise ValueError(f"n_out={n_out} exceeds the width d={d}: the readout needs orthonormal "
                         f"rows (n_out <= d)")
    if labels is None:
        raise ValueError("labels must be given (an (n,) array of ints in [0, n_out)) for "
                         "gradients")
    y = np.asarray(labels)
    if y.shape != (n,) or y.dtype == bool or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be an integer array of shape ({n},), got shape {y.shape}, "
                         f"dtype {y.dtype}")
    if np.any(y < 0) or np.any(y >= n_out):
        raise ValueError(f"labels must lie in [0, n_out) = [0, {n_out})")
    y = np.ascontiguousarray(y, dtype=np.int64)
    kc = (max(1, math.ceil(math.sqrt(L))) if checkpoint_every is None
          else check_positive_int(checkpoint_every, "checkpoint_every"))
    kc = min(kc, L)
    grad_layers = np.array(sorted({1} | {int(l) for l in layers if l >= 1}), dtype=np.intp)
    gcol = np.full(L + 1, -1, dtype=np.int64)
    gcol[grad_layers] = np.arange(grad_layers.size)
    grads = {"grad_layers": grad_layers, "log_grad_norm": np.full((B, grad_layers.size), np.nan),
             "labels": np.asarray(y, dtype=np.intp).copy()}
    # one BLAS thread for the readout's small QRs (the same bits; test_readout_blas_threads):
    # a multi-threaded call leaves OpenBLAS's workers spinning for ~0.1 s, a core taken from
    # the kernel that follows (0.1 s of CPU per call, measured with the reduced chain)
    with blas_single_thread():
        Wout = readout_philox(key, B, n_out, d, method)
    return y, kc, gcol, Wout, grads


def grad_result(spec, record, err, grads, collect_args) -> dict:
    """The output dictionary of a numba gradient kernel's run: as the numpy driver, a forward
    breakdown (lowest layer) is raised first, then the backward pass's first failure in its
    order (highest layer), then NaN / +inf gradient log-norms; then the statistics
    (``collect(spec, record, *collect_args)``) and the ``grad_setup`` outputs."""
    raise_breakdown(err, backward_codes=(ERR_BACKWARD,))
    check_log_grad(grads["log_grad_norm"], grads["grad_layers"])
    out = collect(spec, record, *collect_args)
    out.update(grads)
    return out
