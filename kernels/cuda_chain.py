"""Backend "cupy": the fused chain as a CUDA kernel (numba.cuda), one thread block per trial.

Written with ``numba.cuda`` so that the same kernel runs on the CPU under numba's CUDA
simulator (``NUMBA_ENABLE_CUDASIM=1``, set before numba is imported), which is how it is
tested without a GPU. CuPy arrays are used for the device buffers when CuPy is importable (the
kernel takes anything with ``__cuda_array_interface__``); this module imports cleanly without
CuPy and without a GPU (nothing CUDA-related is compiled or initialised before the first call).

Per block (= trial b), per layer l (forward only; Haar weights):

* Householder vectors generated in-kernel: normal number t of stream (l, b, 0) is the member
  t mod 2 of Box–Muller applied to Philox4x32-10 at counter (t // 2, l, b, 0) under the chain's
  key (``kernels.philox``; the numba kernels' ``method="box_muller"`` uses the same numbers, so
  the two backends agree to rounding). x_k occupies normals p_k .. p_k + d − k − 1,
  p_k = k d − k(k − 1)/2.
* W H = P_0 (P_1 ⋯ (P_{d−2} (D H))) with D = diag(−s_0, ..., −s_{d−2}, s_{d−1}) (Stewart;
  ``kernels.haar.apply_haar``): one reflection at a time on the block's H — w = βvᵀH by a
  column-parallel pass, then the rank-one update by an element-parallel pass.
* H (d×n) lives in shared memory when d·n <= ``SHARED_DOUBLES`` (32 KiB), else in a per-block
  slice of global memory (cached in L1/L2).
* Norm (none / bn / bn_nomean / rownorm), gain, activation, residual and the Frobenius rescaling
  of norm-free homogeneous chains fused in the same kernel; statistics at the recorded layers:
  isometry gap (Gram HᵀH, Cholesky with the pivot rule of ``theory.isometry``), r(H), ‖M‖_F²,
  the row-norm CV and log_scale. ``soft_rank``/``top_singular_values`` need an eigensolver and
  are not available here (``ValueError``).

Not done (no GPU was available to measure): a blocked compact-WY variant with batched cuBLAS
products, and gradients.
"""
from __future__ import annotations

import functools
import math

import numpy as np
from numba import cuda  # importing numba.cuda initialises no driver and needs no GPU

from kernels.chain_step import NumpyChainBackend
from kernels.philox import box_muller_pair, key_from_root, philox4x32_10, philox_key

__all__ = ["simulate_chain_cuda", "CupyChainBackend", "CUDA_STATISTICS", "cuda_available",
           "SHARED_DOUBLES"]

#: statistics the CUDA kernel records
CUDA_STATISTICS = ("isometry_gap", "rank_lower_bound", "row_norm_cv", "frobenius_M")
_STAT_INDEX = {name: i for i, name in enumerate(CUDA_STATISTICS)}
SHARED_DOUBLES = 4096
_NORM = {"none": 0, "bn": 1, "bn_nomean": 2, "rownorm": 3}
_ACT = {"identity": 0, "relu": 1, "leaky_relu": 2, "tanh": 3, "sin": 4, "sigmoid": 5}
_EPS = float(np.finfo(np.float64).eps)
_ERR_TEXT = {1: "a row has zero (or non-finite) norm before the normalisation",
             2: "a row has zero variance over the batch before bn",
             3: "the hidden representation is not finite",
             4: "the hidden representation has zero or non-finite Frobenius norm",
             5: "a statistic is undefined (all-zero hidden representation)"}


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
def _kernel(tpb: int):
    """Compile (lazily) the chain kernel for ``tpb`` threads per block (a power of two)."""
    from numba import float64, int64
    from kernels.activations import LEAKY_SLOPE
    from kernels.norms import _BN_ULPS

    philox = cuda.jit(device=True)(philox4x32_10)
    bm = cuda.jit(device=True)(box_muller_pair)
    SH = SHARED_DOUBLES
    EPS = _EPS
    TPB = tpb

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
        if x >= 0:
            return 1.0 / (1.0 + math.exp(-x))
        ex = math.exp(x)
        return ex / (1.0 + ex)

    @cuda.jit(device=True)
    def normalise(code, A, d, n, rn, tid, flag):
        """Rows of A (flat, row-major) normalised in place; rn <- input row norms; a degenerate
        row sets flag[0]."""
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
                    zmax = max(zmax, v)
                    zmin = min(zmin, v)
                mu /= n
                var = 0.0
                for c in range(n):
                    var += (A[i * n + c] - mu) ** 2
                sd = math.sqrt(var / n)
                if zmax == zmin or not sd > _BN_ULPS * EPS * max(abs(zmax), abs(zmin)):
                    flag[0] = 2
                else:
                    for c in range(n):
                        A[i * n + c] = (A[i * n + c] - mu) / sd
            elif code >= 2:
                sc = rn[i] if code == 3 else rn[i] / math.sqrt(n)
                if not (sc > 0 and sc < math.inf):
                    flag[0] = 1
                else:
                    for c in range(n):
                        A[i * n + c] = A[i * n + c] / sc

    @cuda.jit
    def chain_kernel(X, depth, k0, k1, norm_code, act_code, order_code, gains, has_res, gamma,
                     rescale, record_every, want, Hg, Pg, Gg, vg, wg, rng_, dg, stats,
                     log_scale, err):
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
                # ---------------- linear: A <- W_l A (Householder, right to left)
                if has_res:
                    for idx in range(tid, dn, TPB):
                        Hp[idx] = A[idx]
                    cuda.syncthreads()
                for k in range(tid, d, TPB):            # D first
                    pk = k * d - (k * (k - 1)) // 2
                    x0 = normal_at(pk, k0, k1, l, b)
                    s = 1.0 if x0 >= 0 else -1.0
                    dk = -s if k < d - 1 else s
                    for c in range(n):
                        A[k * n + c] = A[k * n + c] * dk
                cuda.syncthreads()
                for kk in range(d - 1):
                    k = d - 2 - kk
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
                if has_res:
                    for idx in range(tid, dn, TPB):
                        A[idx] = Hp[idx] + gamma * A[idx]
                    cuda.syncthreads()
                # ---------------- norm / gain / activation
                g = gains[l - 1]
                if order_code == 0:
                    normalise(norm_code, A, d, n, rn, tid, flag)
                    cuda.syncthreads()
                    for idx in range(tid, dn, TPB):
                        A[idx] = act(act_code, g * A[idx])
                else:
                    for idx in range(tid, dn, TPB):
                        A[idx] = act(act_code, g * A[idx])
                    cuda.syncthreads()
                    normalise(norm_code, A, d, n, rn, tid, flag)
                cuda.syncthreads()
                part = 0.0
                for idx in range(tid, dn, TPB):
                    part += A[idx] * A[idx]
                s2 = block_sum(part, red, tid)
                if flag[0] == 0:
                    if rescale:
                        s = math.sqrt(s2)
                        if not (s > 0 and s < math.inf):
                            if tid == 0:
                                flag[0] = 4
                        else:
                            for idx in range(tid, dn, TPB):
                                A[idx] = A[idx] / s
                            log_c += math.log(s)
                    elif not s2 < math.inf:
                        if tid == 0:
                            flag[0] = 3
                cuda.syncthreads()
                if flag[0] != 0:
                    if tid == 0:
                        err[b, 0] = l
                        err[b, 1] = flag[0]
                    return
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
                        stats[b, 0, j] = max(-ld / n, 0.0) if ok else math.inf
            cuda.syncthreads()

    return chain_kernel


_PIV_TOL = 10.0 * _EPS          # theory.isometry: pivot L_kk² must exceed 10·n·eps·G_kk


def simulate_chain_cuda(X, depth, *, trials, rng, weights="haar", norm="rownorm",
                        activation="identity", order="norm_act", gains=None, gain_exponent=None,
                        residual=None, weight_std=None, record_every=1,
                        record=("isometry_gap", "rank_lower_bound", "row_norm_cv"), tau=0.5,
                        gradients=False, labels=None, n_out=10, checkpoint_every=None,
                        n_singular=10, progress=False, threads_per_block=128) -> dict:
    """The fused CUDA chain with ``kernels.simulate_chain``'s arguments and output dictionary.

    Supported: ``weights="haar"``, n <= d, forward only, statistics ``CUDA_STATISTICS`` (and
    ``log_scale`` for ``norm="none"``); anything else raises ``ValueError``. Same law as
    ``simulate_chain``; the same random numbers (hence the same results to rounding) as
    ``kernels.numba_chain.run_fused(..., method="box_muller")`` for the same Philox key.
    Needs a CUDA GPU or ``NUMBA_ENABLE_CUDASIM=1`` (slow: tiny sizes only).
    """
    from kernels import chain as _chain
    spec, X, record, _, _, _, tau = _chain._validate(
        X, depth, trials, rng, weights, norm, activation, order, gains, gain_exponent, residual,
        weight_std, record_every, record, tau, gradients, labels, n_out, checkpoint_every,
        "numpy", n_singular, progress)
    _check_supported(spec, record, gradients)
    tpb = int(threads_per_block)
    if tpb < 1 or tpb & (tpb - 1):
        raise ValueError(f"threads_per_block must be a power of two, got {threads_per_block!r}")
    return run_cuda(spec, X, philox_key(rng), record, record_every, tpb)


def _check_supported(spec, record, gradients):
    if gradients:
        raise ValueError("gradients=True is not supported by the CUDA chain (forward only)")
    if spec.weights != "haar":
        raise ValueError(f"weights={spec.weights!r}: the CUDA chain implements Haar weights only")
    if spec.n > spec.d:
        raise ValueError(f"X: the CUDA chain needs n <= d, got d={spec.d}, n={spec.n}")
    for name in record:
        if name not in CUDA_STATISTICS:
            raise ValueError(f"record: statistic {name!r} is not available in the CUDA chain; "
                             f"choose from {CUDA_STATISTICS}")


def run_cuda(spec, X, key, record, record_every, tpb=128) -> dict:
    """Launch the kernel for a validated spec and Philox key; returns numpy arrays."""
    from numba import config
    from kernels.chain import ChainBreakdownError
    if not cuda_available():
        raise RuntimeError("no CUDA device available (set NUMBA_ENABLE_CUDASIM=1 before importing "
                           "numba to run the kernel on the CPU simulator)")
    B, d, n, L = spec.trials, spec.d, spec.n, spec.depth
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

    glob_h = d * n if d * n > SHARED_DOUBLES else 1
    args = (dev(Xb), L, np.uint64(key[0]), np.uint64(key[1]), _NORM[spec.norm],
            _ACT[spec.activation], 0 if spec.order == "norm_act" else 1,
            dev(np.ascontiguousarray(spec.gains, dtype=np.float64)), spec.residual is not None,
            0.0 if spec.residual is None else float(spec.residual), bool(spec.rescale),
            int(record_every), dev(want),
            empty((B, glob_h)), empty((B, d * n if spec.residual is not None else 1)),
            empty((B, n * n)), empty((B, d)), empty((B, n)), empty((B, d)), empty((B, n)))
    stats = empty((B, 4, R))
    log_scale = empty((B, R))
    err = empty((B, 2), np.int64, 0)
    _kernel(tpb)[B, tpb](*args, stats, log_scale, err)

    def host(a):
        return cp.asnumpy(a) if cp is not None else a.copy_to_host()

    stats, log_scale, err = host(stats), host(log_scale), host(err)
    bad = np.flatnonzero(err[:, 1] != 0)
    if bad.size:
        b = int(bad[np.argmin(err[bad, 0])])
        raise ChainBreakdownError(f"layer {int(err[b, 0])}, trial {b}: "
                                  f"{_ERR_TEXT[int(err[b, 1])]}; the chain is degenerate")
    out = {"layers": layers}
    for name in record:
        out[name] = stats[:, _STAT_INDEX[name], :].copy()
    if spec.norm == "none":
        out["log_scale"] = log_scale
    return out


class CupyChainBackend(NumpyChainBackend):
    """Backend "cupy": ``run_fused`` runs the fused CUDA kernel for the configurations it
    supports (``fused``: forward-only Haar chains with ``CUDA_STATISTICS``); the per-layer
    methods are the numpy reference's (CPU), used by a driver for anything else."""

    name = "cupy"

    @staticmethod
    def fused(spec, record, gradients) -> bool:
        try:
            _check_supported(spec, record, gradients)
        except ValueError:
            return False
        return True

    @staticmethod
    def run_fused(spec, X, root, *, record, record_every, tau, n_singular, **_) -> dict:
        """The fused kernel for a driver; the Philox key is derived from the driver's ``root``
        exactly as for the numba backend."""
        return run_cuda(spec, X, key_from_root(root), record, record_every)
