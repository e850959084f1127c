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
  O(threads·(k_c + L/k_c)·d n) work space.
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

import numpy as np
from numba import njit, prange

from depthcheck.theory._checks import check_positive_int
from depthcheck.kernels.nn import activations as _act
from depthcheck.kernels.nn import norms as _norms
from depthcheck.kernels.backends.numpy import NumpyChainBackend, _T
from depthcheck.kernels.backends.numba.blas import blas_single_thread
from depthcheck.kernels.backends.numba.fused_grad import run_fused_grad
from depthcheck.kernels.backends.numba.trial import (_trial_forward, collect, kernel_fingerprint,
                                                     stat_buffers)
from depthcheck.kernels.backends.numba.wy import (_haar_apply_batch, apply_haar_philox,
                                                  haar_apply_batch, householder_vectors_philox)
from depthcheck.kernels.chain.codes import (ACT_CODES, FUSED_STATISTICS, NORM_CODES, WEIGHT_CODES,
                                            WY_BLOCK, kernel_scalars, raise_breakdown)
from depthcheck.kernels.random.haar import haar_householder_vectors
from depthcheck.kernels.chain.spec import ChainSpec, engine_arguments
from depthcheck.kernels.random.philox import METHODS, key_from_root, philox_key

__all__ = ["simulate_chain_numba", "run_fused", "NumbaChainBackend", "HouseholderWeights",
           "haar_apply_batch", "apply_haar_philox", "householder_vectors_philox", "FUSED_STATISTICS",
           "NORM_CODES", "ACT_CODES", "WEIGHT_CODES", "WY_BLOCK", "blas_single_thread"]


def _make_fused_forward(fingerprint):
    """The parallel entry kernel; its disk cache closes over ``fingerprint``
    (``depthcheck.kernels.backends.numba._cache``)."""
    @njit(parallel=True, cache=True)
    def _fused_forward(X, gains, ip, fp, stats, top, log_scale, err):
        """stats (B, 5, R), top (B, R, n_sing), log_scale (B, R), err (B, 2): per-trial outputs;
        ip / fp: ``depthcheck.kernels.chain.codes.kernel_scalars`` (kc = 0)."""
        if fingerprint < 0:                  # never: ties the disk cache to the sources
            return
        no_cps = np.empty((1, 1, 1))
        no_cpl = np.empty(1)
        no_H = np.empty((1, 1))
        for b in prange(err.shape[0]):
            _trial_forward(np.int64(b), X, gains, ip, fp, stats, top, log_scale, err, no_cps,
                           no_cpl, no_H)
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
              block=WY_BLOCK, *, gradients=False, labels=None, checkpoint_every=None) -> dict:
    """Run the fused kernel for a validated ``ChainSpec`` (depthcheck.kernels.backends.numpy) and Philox key;
    ``gradients=True`` runs ``depthcheck.kernels.backends.numba.fused_grad.run_fused_grad`` (``labels``
    ``(n,)`` required, ``checkpoint_every`` default ⌈√L⌉)."""
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
                       log_scale, err)
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

