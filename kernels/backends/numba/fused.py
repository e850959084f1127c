"""Backend "numba": fused CPU chain kernels, parallel over Monte Carlo trials.

Two ways in:

* ``simulate_chain_numba(X, depth, ...)`` (also ``NumbaChainBackend.run_fused``): one compiled
  kernel runs the whole L-layer chain of each trial (``numba.prange`` over trials, each trial's
  H, its Householder vectors and the statistics' Gram matrix in per-thread buffers that stay in
  cache), drawing the weights in-kernel from the counter-based Philox4x32-10 generator
  (``depthcheck.kernels.random.philox``; stream (layer, trial, 0)) and recording the statistics every k layers.
  Memory: O(B·R) for the statistics plus O(threads·(d² + d n + n²)) work space — independent
  of the depth L. With ``gradients=True`` the whole chain is also backpropagated in-kernel
  (``depthcheck.kernels.backends.numba.fused_grad``: checkpoints every k_c layers, segments recomputed, weights
  regenerated from their Philox streams, readout ``depthcheck.kernels.random.philox.readout_philox``), adding
  O(threads·(k_c + L/k_c)·d n) work space. Square chains whose layers are a row scaling of a
  Haar rotation (``tracked_gap_eligible``: identity activation, rownorm / bn_nomean, no
  residual, the isometry gap the only Gram statistic: the Fig. 1 chain of Meterez et al. 2024,
  arXiv:2310.02012) carry log det HᵀH from layer to layer instead of factorising the Gram
  (``_trial_tracked``; Cholesky re-anchoring keeps the +inf rule and bounds rounding drift) and,
  where ``wy.pair_apply_wins(d)`` (FMA instructions, d <= ``wy.PAIR_APPLY_MAX_D`` — 480 with
  AVX-512, else 240 — and not a multiple of 128), apply the reflectors
  two at a time in register tiles without BLAS.
* ``NumbaChainBackend`` per-layer methods for ``depthcheck.kernels.simulate_chain``'s driver: the same
  random numbers as the numpy reference (the Householder vectors come from the layer's numpy
  generator), the Haar weights kept as their Householder vectors and applied (and transposed,
  in the backward pass) by the blocked compact-WY kernel (``depthcheck.kernels.backends.numba.wy``)
  instead of being formed. Equal to the numpy backend to rounding, gradients included.

Layer algebra (as ``depthcheck.kernels.backends.numpy``; seed 001 eq. (3), residual form seed 002 eq. (1)):
A_l = W_l H_{l-1} (or H_{l-1} + γ W_l H_{l-1}); norm_act: H_l = act(g_l·norm(A_l));
act_norm: H_l = norm(act(g_l·A_l)); norm ∈ {none, bn, bn_nomean, rownorm} (``depthcheck.kernels.nn.norms``),
act ∈ ``depthcheck.kernels.nn.activations.ACTIVATIONS``; the norm / gain / activation rows are
``depthcheck.kernels.backends._rowops`` (the same code the CUDA kernels compile). Haar W_l = P_1 ⋯ P_{d-1} D
from Gaussian Householder vectors (Stewart 1980; ``depthcheck.kernels.random.haar.apply_haar``), applied in
compact-WY blocks (``depthcheck.kernels.backends.numba.wy``) with BLAS ``dgemm`` on per-thread buffers
(``depthcheck.kernels.backends.numba.blas``, limited to one thread inside the parallel loop). Gaussian /
uniform W_l: d×d i.i.d. entries (N(0, σ²) / uniform[−√3σ, √3σ]) from the same stream, then one
``dgemm``. One trial's forward pass and the statistics (``depthcheck.kernels.backends.numba.trial``) are
shared with the gradient and the reduced kernels. Degenerate layers (zero row before a norm, zero
variance for bn, non-finite values) stop the trial and raise ``ChainBreakdownError`` naming the
layer and trial, like the numpy driver.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from depthcheck.kernels.backends.numba._jit import njit_noalloc
from depthcheck.theory._checks import check_positive_int
from depthcheck.kernels.nn import activations as _act
from depthcheck.kernels.nn import norms as _norms
from depthcheck.kernels.backends.numpy import NumpyChainBackend, _T
from depthcheck.kernels.backends.numba.blas import _cholesky_upper, _gram, blas_single_thread
from depthcheck.kernels.backends.numba.simd import (scaled_copy_sumsq4_rows, sumsq4_rows,
                                                    zeros_aligned)
from depthcheck.kernels.backends.numba.fused_grad import run_fused_grad
from depthcheck.kernels.backends.numba.trial import (_draw, _linear, _begin, _record,
                                                     _trial_forward, collect,
                                                     kernel_fingerprint, stat_buffers)
from depthcheck.kernels.backends.numba.wy import (WIDE_TILES, _haar_apply_batch, padded_vectors,
                                                  pairs_padded, pair_apply_wins,
                                                  pair_work_size,
                                                  apply_haar_philox,
                                                  haar_apply_batch, householder_vectors_philox)
from depthcheck.kernels.chain.codes import (ACT_CODES, FUSED_STATISTICS, NORM_CODES, WEIGHT_CODES,
                                            WY_BLOCK, kernel_scalars, raise_breakdown)
from depthcheck.kernels.random.haar import haar_householder_vectors
from depthcheck.kernels.chain.spec import ChainSpec, engine_arguments
from depthcheck.kernels.chain.codes import (EPS, ERR_NONE, ERR_NONFINITE, ERR_NORM_ZERO, F_GAMMA, F_STD, F_TAU, FLAG_LOG_SCALE,
                                            FLAG_TOP, I_BLOCK, I_DEPTH, I_FLAGS, I_K0,
                                            I_K1, I_METHOD, I_NORM, I_ORDER, I_RECORD_EVERY,
                                            I_WEIGHT, N_FLAGS, PIVOT_TOL_ULPS)
from depthcheck.kernels.random.philox import ZIG_WORK, METHODS, key_from_root, philox_key

__all__ = ["simulate_chain_numba", "run_fused", "tracked_gap_eligible", "TRACK_ANCHOR_EVERY", "NumbaChainBackend", "HouseholderWeights",
           "haar_apply_batch", "apply_haar_philox", "householder_vectors_philox", "FUSED_STATISTICS",
           "NORM_CODES", "ACT_CODES", "WEIGHT_CODES", "WY_BLOCK", "blas_single_thread"]


# --------------------------------------------------------------------------------------------
# the isometry gap of a square chain whose layer map is a row scaling of a Haar rotation, tracked
#: re-anchor the tracked log-determinant by a Cholesky at least every this many layers
TRACK_ANCHOR_EVERY = 32
#: safety factor (as a log) between the tracked gap's guarantee and the Cholesky pivot test
_TRACK_MARGIN = math.log(100.0)


def tracked_gap_eligible(spec, want) -> bool:
    """Whether the forward kernel may track the isometry gap instead of factorising the Gram at
    every recorded layer (``_trial_tracked``): square H (n = d), Haar weights, no residual
    branch, identity activation and a norm that scales rows (rownorm, bn_nomean), and the
    isometry gap the only Gram statistic recorded (the row-norm CV may come with it). Then
    H_l = S_l W_l H_{l-1} with S_l diagonal and |det W_l| = 1, so
    log det(H_lᵀH_l) = log det(H_{l-1}ᵀH_{l-1}) + Σ_i log(‖(H_l)_i‖² / ‖(W_l H_{l-1})_i‖²)."""
    return (spec.n == spec.d and spec.weights == "haar" and spec.residual is None
            and spec.activation == "identity" and spec.norm in ("rownorm", "bn_nomean")
            and bool(want[0]) and not (want[1] or want[2] or want[4] or want[FLAG_TOP]
                                       or want[FLAG_LOG_SCALE]))


@njit_noalloc
def _chol_logdet(H, G, diag, iw, dw, cw):
    """(ok, tr, ld): tr = tr HᵀH and ld = log det of HᵀH·(n/tr) by ``dsyrk`` + ``dpotrf``, as
    ``depthcheck.kernels.backends.numba.trial._record`` computes the isometry gap (−ld/n); ok is
    False where that gap is +inf (Cholesky failure or a pivot below the tolerance)."""
    d, n = H.shape
    _gram(H, G, np.bool_(True), iw, dw, cw)
    tr = 0.0
    for a in range(n):
        tr += G[a, a]
    if not tr > 0:
        return False, tr, 0.0
    sc = n / tr
    for a in range(n):
        for c in range(a, n):
            G[a, c] *= sc
        diag[a] = G[a, a]
    if _cholesky_upper(G, iw, cw) != 0:
        return False, tr, 0.0
    tol = PIVOT_TOL_ULPS * n * EPS
    ld = 0.0
    ok = True
    for a in range(n):
        piv = G[a, a] * G[a, a]
        if not piv > tol * diag[a]:
            ok = False
        ld += math.log(piv)
    return ok, tr, ld


@njit_noalloc
def _scale_rows(A, H, a2, h2, g, norm_code, order_code, rn):
    """H <- the layer's rows for identity activation and a row-scaling norm (rownorm,
    bn_nomean), from A[:, :n] (n = H's columns; A may carry padding columns) and a2 = its
    squared row norms: norm_act H_i = g·A_i/s_i, act_norm H_i = (g·A_i)/s_i,
    s_i = ‖input of the norm‖ (rownorm) or that/√n (bn_nomean), as ``_rowops.nonlinear_row``
    + ``trial._finish`` compute them (to rounding; the same errors: ERR_NORM_ZERO for a zero or
    non-finite divisor, ERR_NONFINITE for a non-finite H).
    rn <- ‖input of the norm‖ per row, h2 <- ‖H_i‖². Returns (error, tr = Σ h2).
    Two passes: every row's divisor first, in a loop without branches (the square roots and
    divisions of different rows overlap; a bad divisor is counted, replaced by 1 and reported
    after the loop: 0.29 -> 0.20 µs at d = 32, same values), then the scaled copies; h2 holds
    the factors g/s_i in between."""
    d, n = H.shape
    rootn = math.sqrt(n)
    ag = abs(g)
    nbad = 0
    for i in range(d):
        r = math.sqrt(a2[i])
        rin = r if order_code == 0 else ag * r
        rn[i] = rin
        sc = rin if norm_code == 3 else rin / rootn
        ok = (sc > 0) & (sc < np.inf)
        nbad += 0 if ok else 1
        h2[i] = g / (sc if ok else 1.0)
    if nbad:
        return ERR_NORM_ZERO, 0.0
    scaled_copy_sumsq4_rows(A, H, h2)
    tr = 0.0
    for i in range(d):
        tr += h2[i]
    if not (tr < np.inf):
        return ERR_NONFINITE, tr
    return ERR_NONE, tr


@njit
def _trial_tracked(b, X, gains, ip, fp, stats, top, log_scale, err):
    """One trial of the forward chain for ``tracked_gap_eligible`` configurations: the same
    layers and random numbers as ``_trial_forward`` (the Haar layer by ``wy._pairs`` for
    ``wy.pair_apply_wins(d)``, equal to ``_wy_apply`` to rounding); the isometry gap
    φ_l = log(tr G_l/n) − log det(G_l)/n with log det G_l carried from layer to layer by the
    row-norm ratios (d logs per layer instead of the n²d + n³/3 flops of Gram and Cholesky).

    The carried value is used only where the Cholesky test of ``_record`` is sure to pass:
    n·φ <= −1 − log(n·tol) − log(100), tol = PIVOT_TOL_ULPS·n·eps (λ_min/λ_max >= e^{−nφ−1}/n
    and every pivot satisfies L_kk²/G_kk >= λ_min/λ_max), so the gap is finite exactly where
    the Cholesky path finds it finite. It is re-anchored by a Cholesky at layer 0, at least every
    ``TRACK_ANCHOR_EVERY`` layers (bounding the drift of rounding errors) and at every recorded
    layer where the test above fails (which then gives ``_record``'s value, +inf included)."""
    depth, record_every = ip[I_DEPTH], ip[I_RECORD_EVERY]
    k0, k1, method = np.uint64(ip[I_K0]), np.uint64(ip[I_K1]), ip[I_METHOD]
    wcode, norm_code, order_code = ip[I_WEIGHT], ip[I_NORM], ip[I_ORDER]
    nb = ip[I_BLOCK]
    want = ip[I_FLAGS:I_FLAGS + N_FLAGS] != 0
    want_cv = want.copy()
    want_cv[0] = False
    std, gamma, tau = fp[F_STD], fp[F_GAMMA], fp[F_TAU]
    d, n = X.shape[1], X.shape[2]
    kbmax = max(1, min(nb, d - 1))
    pair = pair_apply_wins(d)
    pw = np.empty(pair_work_size(d) if pair else 1)
    nz = d * (d + 1) // 2
    xb = np.int64(b) if X.shape[0] > 1 else np.int64(0)
    H = np.empty((d, n))
    A = np.empty((d, n))
    # the pairs' input D·H, its rows padded with zeros to whole four-lane vectors (they stay
    # zero: the layer is linear) so that every column goes through a full register tile, and
    # to a 64-byte row length on a 64-byte boundary (aligned eight-lane loads)
    m4 = padded_vectors(n, WIDE_TILES)
    Ap = zeros_aligned(d, n + (-n) % 8 if pair else 1)
    R = np.zeros((d, d))
    z = np.empty(nz)
    zbuf = np.empty(ZIG_WORK, np.uint64)
    tau_v = np.empty(d)
    D = np.empty(d)
    T = np.empty((kbmax, kbmax))
    S = np.empty((kbmax, kbmax))
    W1 = np.empty((kbmax, n))
    W2 = np.empty((kbmax, max(n, d)))        # room for V = U T: the two-dgemm path
    G = np.empty((n, n))
    diag = np.empty(n)
    rn = np.empty(d)
    a2 = np.empty(d)
    h2 = np.empty(d)
    iw = np.empty(8, np.int32)
    dw = np.empty(2)
    cw = np.empty(2, np.uint8)
    st = stats[b]
    tp = top[b]
    # flags and counts as np.bool_ / np.int64, not literals: numba compiles a callee once per
    # literal argument value (trial._record three times, _begin and _linear twice)
    ok, log_c = _begin(err, b, X, xb, A, H, rn, np.bool_(False))
    if not ok:
        return
    thr = -1.0 - math.log(n * PIVOT_TOL_ULPS * n * EPS) - _TRACK_MARGIN
    tracking = False
    ld = 0.0                                  # log det G_l (valid while tracking)
    anchor = 0
    for l in range(0, depth + 1):
        tr = 0.0
        if l > 0:
            _draw(l, b, k0, k1, method, wcode, std, R, tau_v, D, z, zbuf)
            if pair:
                for i in range(d):                # Ap <- D H, then the reflectors
                    di = D[i]
                    for c in range(n):
                        Ap[i, c] = H[i, c] * di
                pairs_padded(Ap, m4, R, tau_v, pw)
                Aw = Ap
            else:
                _linear(H, A, R, tau_v, D, wcode, np.bool_(False), gamma, nb, T, S, W1, W2, iw,
                        dw, cw)
                Aw = A
            sumsq4_rows(Aw, n, a2)            # a2[i] <- ‖Aw[i, :n]‖²
            e, tr = _scale_rows(Aw, H, a2, h2, gains[l - 1], norm_code, order_code, rn)
            if e != ERR_NONE:
                err[b, 0] = l
                err[b, 1] = e
                return
            if tracking:
                # Σ_i log(h2_i / a2_i) as the log of the product (one log per layer, not 2d),
                # flushed before it could leave the normal range
                p = 1.0
                for i in range(d):
                    p *= h2[i] / a2[i]
                    if not (1e-150 < p < 1e150):
                        ld += math.log(p)
                        p = 1.0
                ld += math.log(p)
                if not (abs(ld) < np.inf):
                    tracking = False
        if l % record_every == 0:
            j = l // record_every
            done = False
            if tracking and l - anchor < TRACK_ANCHOR_EVERY and tr > 0:
                phi = math.log(tr / n) - ld / n
                if n * phi <= thr:
                    st[0, j] = max(phi, 0.0)
                    done = True
            if not done:
                ok, tr, lds = _chol_logdet(H, G, diag, iw, dw, cw)
                if ok:
                    st[0, j] = max(-lds / n, 0.0)
                    ld = lds + n * math.log(tr / n)
                    tracking = True
                    anchor = l
                else:
                    st[0, j] = np.inf
                    tracking = False
            if want[3]:
                e = _record(H, rn, G, diag, want_cv, tau, np.int64(1), st, tp, j, iw, dw, cw,
                            np.bool_(False))
                if e != ERR_NONE:
                    err[b, 0] = l
                    err[b, 1] = e
                    return


def _make_fused_forward(fingerprint):
    """The parallel entry kernel; its disk cache closes over ``fingerprint``
    (``depthcheck.kernels.backends.numba._cache``)."""
    @njit(parallel=True, cache=True)
    def _fused_forward(X, gains, ip, fp, stats, top, log_scale, err, tracked):
        """stats (B, 5, R), top (B, R, n_sing), log_scale (B, R), err (B, 2): per-trial outputs;
        ip / fp: ``depthcheck.kernels.chain.codes.kernel_scalars`` (kc = 0); ``tracked``: run
        ``_trial_tracked`` (``tracked_gap_eligible``) instead of ``_trial_forward``."""
        if fingerprint < 0:                  # never: ties the disk cache to the sources
            return
        no_cps = np.empty((1, 1, 1))
        no_cpl = np.empty(1)
        no_H = np.empty((1, 1))
        for b in prange(err.shape[0]):
            if tracked:
                _trial_tracked(np.int64(b), X, gains, ip, fp, stats, top, log_scale, err)
            else:
                _trial_forward(np.int64(b), X, gains, ip, fp, stats, top, log_scale, err,
                               no_cps, no_cpl, no_H)
    return _fused_forward


_fused_forward = _make_fused_forward(kernel_fingerprint())


def simulate_chain_numba(X, depth, *, rng, normals="ziggurat", block=WY_BLOCK,
                         **chain_args) -> dict:
    """``simulate_chain(..., backend="numba")`` with the Philox key drawn from ``rng`` directly.

    Every keyword argument of ``depthcheck.kernels.simulate_chain`` except ``method`` and
    ``backend`` is accepted, with the same names, defaults and checks (one signature, checked
    once by ``ChainSpec.from_arguments``).

    Same law as ``simulate_chain`` (different random numbers: Philox4x32-10 with the
    ``normals`` transform, "ziggurat" or "box_muller", key drawn from ``rng``), gradients
    included: with ``gradients=True`` (``depthcheck.kernels.backends.numba.fused_grad``) the
    readout is ``depthcheck.kernels.random.philox.readout_philox(key, trials, n_out, d,
    normals)`` and ``labels``, when None, are drawn from ``rng`` after the key. ``block`` is the
    compact-WY block size. ``progress`` is ignored (one compiled call).
    """
    if normals not in METHODS:
        raise ValueError(f"normals={normals!r} is not one of {tuple(METHODS)}")
    block = check_positive_int(block, "block")
    spec = ChainSpec.from_arguments(X, depth, rng=rng, **engine_arguments(chain_args, "full", "numba"))
    key = philox_key(rng)
    labels = spec.labels
    if spec.gradients and labels is None:
        labels = rng.integers(0, spec.n_out, size=spec.n)
    return run_fused(spec, spec.X, key, spec.record, spec.record_every, spec.tau,
                     spec.n_singular, normals, block, gradients=spec.gradients, labels=labels,
                     checkpoint_every=spec.checkpoint_every)


def run_fused(spec, X, key, record, record_every, tau, n_singular, method="ziggurat",
              block=WY_BLOCK, *, gradients=False, labels=None, checkpoint_every=None,
              track_gap=True) -> dict:
    """Run the fused kernel for a validated ``ChainSpec`` (depthcheck.kernels.backends.numpy) and Philox key;
    ``gradients=True`` runs ``depthcheck.kernels.backends.numba.fused_grad.run_fused_grad`` (``labels``
    ``(n,)`` required, ``checkpoint_every`` default ⌈√L⌉). ``track_gap=False`` factorises the Gram
    at every recorded layer even where ``tracked_gap_eligible`` allows tracking the isometry
    gap (equal to rounding; for tests and benchmarks)."""
    if gradients:
        return run_fused_grad(spec, X, key, record, record_every, tau, n_singular, method,
                              block, labels=labels, checkpoint_every=checkpoint_every)
    B = spec.trials
    layers, want, k_sing, stats, top, log_scale = stat_buffers(spec, record, record_every,
                                                               n_singular)
    ip, fp = kernel_scalars(spec, key, method=METHODS[method], flags=want,
                            record_every=int(record_every), tau=float(tau), n_sing=int(k_sing),
                            block=int(block))
    err = np.empty((B, 2), dtype=np.int64)
    Xb = np.ascontiguousarray(X if X.ndim == 3 else X[None], dtype=np.float64)
    with blas_single_thread():
        _fused_forward(Xb, np.ascontiguousarray(spec.gains, dtype=np.float64), ip, fp, stats, top,
                       log_scale, err, bool(track_gap and tracked_gap_eligible(spec, want)))
    raise_breakdown(err)
    return collect(spec, record, layers, k_sing, stats, top, log_scale)


# --------------------------------------------------------------------------------------------
class HouseholderWeights:
    """A batch of Haar weights kept as packed Householder vectors ``(B, d, d)``; ``@`` applies
    them with the numba compact-WY kernel, ``.T @`` applies the transposes (W⁻¹)."""
    __array_priority__ = 1000

    def __init__(self, vectors: np.ndarray, transpose: bool = False):
        self.vectors = vectors
        self.transpose = transpose

    @property
    def T(self):
        return HouseholderWeights(self.vectors, not self.transpose)

    def __matmul__(self, H):
        Y = np.array(H, dtype=np.float64, order="C", copy=True)
        with blas_single_thread():
            _haar_apply_batch(self.vectors, Y, self.transpose, WY_BLOCK)
        return Y

    def matrix(self) -> np.ndarray:
        """The explicit (B, d, d) matrices (for checks)."""
        B, d, _ = self.vectors.shape
        return self @ np.broadcast_to(np.eye(d), (B, d, d))


class NumbaChainBackend(NumpyChainBackend):
    """Backend "numba" for ``depthcheck.kernels.simulate_chain``.

    Per-layer methods: as ``NumpyChainBackend`` (same random numbers) except that Haar weights
    are ``HouseholderWeights`` applied by the numba/BLAS compact-WY kernel (~2d²n flops per
    trial instead of forming W, ~(4/3)d³ + 2d²n). ``fused``/``run_fused`` expose the fused
    kernel, forward or with gradients (different random stream, same law), to a driver.
    """

    name = "numba"

    def weight(self, spec, gen):
        if spec.weights == "haar":
            return HouseholderWeights(haar_householder_vectors((spec.trials,), spec.d, gen))
        return super().weight(spec, gen)

    def linear(self, spec, H, *, W=None, gen=None):
        if W is None:
            W = self.weight(spec, gen)
        WH = W @ H
        if spec.residual is not None:
            return H + spec.residual * WH
        return WH

    def backward(self, spec, l, W, out, dH):
        g = spec.gains[l - 1]
        if spec.order == "norm_act":
            dA = _norms._backward(out.cache, g * (_act._derivative(spec.activation, out.P) * dH))
        else:
            dA = g * (_act._derivative(spec.activation, out.P) * _norms._backward(out.cache, dH))
        dWA = W.T @ dA if isinstance(W, HouseholderWeights) else _T(W) @ dA
        dH_prev = dA + spec.residual * dWA if spec.residual is not None else dWA
        return dA, dH_prev

    # ---- fused path -------------------------------------------------------------------------
    @staticmethod
    def fused(spec, record, gradients) -> bool:
        """Whether ``run_fused`` handles this configuration: every one (all statistics, with
        or without gradients)."""
        return True

    @staticmethod
    def run_fused(spec, X, root, *, record, record_every, tau, n_singular, gradients=False,
                  labels=None, checkpoint_every=None, **_) -> dict:
        """The fused kernel for a driver (``depthcheck.kernels.chain.driver``); the Philox key is derived from
        the driver's ``root`` (SeedSequence(root, spawn_key=(2**31,))), ``labels`` are the
        driver's (drawn from its rng)."""
        return run_fused(spec, X, key_from_root(root), record, record_every, tau, n_singular,
                         gradients=bool(gradients), labels=labels,
                         checkpoint_every=checkpoint_every)

