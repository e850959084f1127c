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
* Norm (none / bn / bn_nomean / rownorm), gain, activation (one row per thread, the row algebra
  ``depthcheck.kernels.backends._rowops`` that the numba kernels compile too), residual and the
  Frobenius rescaling of norm-free homogeneous chains fused in the same kernel; statistics at the
  recorded layers:
  isometry gap (Gram HᵀH, Cholesky with the pivot rule of ``depthcheck.theory.isometry``), r(H), ‖M‖_F²,
  the row-norm CV and log_scale. ``soft_rank``/``top_singular_values`` need an eigensolver and
  are not available here (``ValueError``).
* With gradients it also writes checkpoints: H_s and log c_s for s = 0, k_c, 2k_c, ... < L.

Backward kernel (``gradients=True``; launched after the forward one, one block per trial; the
semantics of ``depthcheck.kernels.chain.driver._Chain.backward``, seed 001 Fig. 3 / Theorem 5):

* Segments [s, e] = [s, min(s + k_c, L)] in reverse order. Each is recomputed from its
  checkpoint by the forward kernel's own layer code, taping per layer the input H_{l−1} and the
  linear output A_l (global memory); the backward row algebra recomputes the norm from A_l.
* Last segment: logits Z = W_out H_L (× exp(min(log c_L, 700)) for rescaled chains, as
  ``_readout_grad``), dH_L = W_outᵀ (softmax(Z) − onehot(labels))/n, with W_out =
  ``depthcheck.kernels.random.philox.readout_philox(key, B, n_out, d, "box_muller")`` computed on the host.
* Layer l (backwards): dA = normᵀ(g·act'(P) ⊙ dH) (norm_act) or g·act'(P) ⊙ normᵀ(dH)
  (act_norm), row-wise Jacobians of ``depthcheck.kernels.nn.norms``
  (``depthcheck.kernels.backends._rowops.nonlinear_vjp_row``, one row per thread); ‖∇W_l‖_F² = ‖dA H_{l−1}ᵀ‖_F² =
  Σ_{a,c} (dAᵀdA)_{ac} (H_{l−1}ᵀH_{l−1})_{ac} (two n×n Gram entries per (a, c), no d×d
  matrix; exact up to rounding, but a result far below ‖dA‖_F‖H‖_F loses relative accuracy
  ~ eps·‖dA‖²‖H‖²/‖dA Hᵀ‖², so there — e.g. duplicated columns of H, where the signal turns
  antisymmetric across the duplicates — the d² entries of dA Hᵀ are summed instead, as in
  ``depthcheck.kernels.backends.numba.fused_grad._grad_norm``); dH_{l−1} = Wᵀ dA = D P_{d−2} ⋯ P_0 dA (the same reflections,
  regenerated from the same Philox stream, in the opposite order; residual: dA + γ Wᵀ dA).
* The signal is kept at unit Frobenius norm per trial with its log-norm lg accumulated
  (``_normalise``): log‖∇W_l‖_F = lg + log c_{l−1} + log‖dA H̃ᵀ‖_F (+ log|γ|); an exactly zero
  signal gives −inf, a non-finite one ``ChainBreakdownError`` naming layer and trial.
* Working arrays (H / dA and dH) in shared memory when 2·d·n <= ``SHARED_DOUBLES``.

Memory (float64 words in global memory, B trials): forward O(B·d·n); with gradients
O(B·(L/k_c)·d·n) checkpoints + O(B·(2k_c + 1)·d·n) tape and work, i.e. O(B·(L/k_c + k_c)·d·n), minimal
(O(B·√L·d·n)) at the default k_c = ceil(√L); no weight is ever stored (each Haar W_l is
regenerated from Philox twice more: recompute and Wᵀ). Compute ≈ 3 forward passes.

Layout: device functions in ``depthcheck.kernels.backends.cuda.device``, the two kernels' factories in
``depthcheck.kernels.backends.cuda.kernels``, the launcher here (scalars packed by
``depthcheck.kernels.chain.codes.kernel_scalars``).

Not done (no GPU was available to measure): a blocked compact-WY variant with batched cuBLAS
products; warp-per-row normalisation (rows are handled one thread each).
"""
from __future__ import annotations

import functools
import math

import numpy as np
from numba import cuda  # importing numba.cuda initialises no driver and needs no GPU

from depthcheck.kernels.backends.cuda.kernels import backward_kernel, forward_kernel
from depthcheck.kernels.backends.numpy import NumpyChainBackend
from depthcheck.kernels.chain.errors import check_log_grad
from depthcheck.kernels.chain.spec import ChainSpec, engine_arguments
from depthcheck.kernels.chain.codes import (ERR_TEXT, STAT_SLOT, kernel_scalars, raise_breakdown,
                                            record_flags)
from depthcheck.kernels.random.philox import (METHODS, key_from_root, philox_key, readout_philox)

__all__ = ["simulate_chain_cuda", "CupyChainBackend", "CUDA_STATISTICS", "cuda_available",
           "SHARED_DOUBLES", "run_cuda", "default_threads_per_block"]

#: statistics the CUDA kernel records
CUDA_STATISTICS = ("isometry_gap", "rank_lower_bound", "row_norm_cv", "frobenius_M")
SHARED_DOUBLES = 4096


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
    """The forward and the backward kernel for ``tpb`` threads per block (a power of two) and
    ``shared`` doubles of shared memory per block, built on first use (compiled at first launch)."""
    return forward_kernel(tpb, shared), backward_kernel(tpb, shared)


def simulate_chain_cuda(X, depth, *, rng, threads_per_block=None, **chain_args) -> dict:
    """``simulate_chain(..., backend="cuda")`` with the Philox key drawn from ``rng`` directly.

    Every keyword argument of ``depthcheck.kernels.simulate_chain`` except ``method`` and
    ``backend`` is accepted, with the same names, defaults and checks (one signature, checked
    once by ``ChainSpec.from_arguments``).

    Supported: ``weights="haar"``, n <= d, statistics ``CUDA_STATISTICS`` (and ``log_scale``
    for ``norm="none"``; pass ``record`` explicitly: the default record includes
    ``soft_rank``, which the CUDA engine refuses by name), with or without ``gradients``.
    Anything else raises ``UnsupportedEngineError`` naming what is unsupported. Same law as
    ``simulate_chain``; the same random numbers (hence the same results to rounding) as
    ``depthcheck.kernels.backends.numba.fused.run_fused(..., method="box_muller")`` for the
    same Philox key. ``rng`` is consumed for the Philox key, then (gradients without
    ``labels``) for the labels. ``threads_per_block``: a power of two, default
    ``default_threads_per_block(d)``. Needs a CUDA GPU or ``NUMBA_ENABLE_CUDASIM=1`` (slow:
    tiny sizes only).
    """
    tpb = threads_per_block
    if tpb is not None and (isinstance(tpb, bool) or not isinstance(tpb, (int, np.integer))
                            or tpb < 1 or tpb & (tpb - 1)):
        raise ValueError(f"threads_per_block must be a power of two, got {threads_per_block!r}")
    spec = ChainSpec.from_arguments(X, depth, rng=rng,
                                    **engine_arguments(chain_args, "full", "cuda"))
    if tpb is None:
        tpb = default_threads_per_block(spec.d)
    key = philox_key(rng)
    labels = spec.labels
    if spec.gradients and labels is None:
        labels = rng.integers(0, spec.n_out, size=spec.n)
    return run_cuda(spec, spec.X, key, spec.record, spec.record_every, tpb,
                    gradients=spec.gradients, labels=labels,
                    checkpoint_every=spec.checkpoint_every)


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
    ip, fp = kernel_scalars(spec, key, method=METHODS["box_muller"],
                            flags=record_flags(spec.norm, record), record_every=int(record_every),
                            kc=k_c if gradients else 0)
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
    ipd, fpd = dev(ip), dev(fp)
    has_res = spec.residual is not None
    sh = int(shared_doubles)
    fwd, bwd = _kernels(tpb, sh)

    glob_h = dn if dn > sh else 1
    stats = empty((B, len(STAT_SLOT), R))
    log_scale = empty((B, R))
    err = empty((B, 2), np.int64, 0)
    fwd[B, tpb](dev(Xb), gains, ipd, fpd, CK, CKc, empty((B, glob_h)),
                empty((B, dn if has_res else 1)), empty((B, n * n)), empty((B, d)), empty((B, n)),
                empty((B, d)), empty((B, n)), stats, log_scale, err)
    stats, log_scale, err = host(stats), host(log_scale), host(err)
    raise_breakdown(err)
    out = {"layers": layers}
    for name in record:
        out[name] = stats[:, STAT_SLOT[name], :].copy()
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
    bwd[B, tpb](gains, ipd, fpd, CK, CKc, dev(W_out), dev(labels.astype(np.int64)), dev(gcol),
                empty((B, glob_g)), empty((B, glob_g)), empty((B, spec.n_out * n)),
                empty((B, T * dn)), empty((B, T * dn)), empty((B, dn)), empty((B, T)),
                empty((B, d)), empty((B, n)), empty((B, d)), log_grad, err)
    log_grad, err = host(log_grad), host(err)
    # every failure of the backward kernel is met in its order (highest layer first)
    raise_breakdown(err, backward_codes=tuple(ERR_TEXT))
    check_log_grad(log_grad, grad_layers)
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
