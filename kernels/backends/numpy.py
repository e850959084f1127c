"""One layer of ``depthcheck.kernels.simulate_chain``, forward and backward: the numpy reference engine.

The chain driver (``depthcheck.kernels.chain.driver``) runs this engine layer by layer; the
other engines are registered in ``depthcheck.kernels.backends`` and run whole chains
(``fused``/``run_fused``). Every array here is batched over the Monte Carlo trials: ``H`` is
``(B, d, n)``, a weight ``W`` is ``(B, d, d)``.

Layer l (1-based), as in ``depthcheck.kernels.nn.network`` (Meterez et al. [1]_ eq. (3) with
a norm, an activation and a gain; residual form: Daneshmand et al. [2]_ recursion (1))::

    A_l = W_l H_{l-1}                     (residual=γ:  A_l = H_{l-1} + γ W_l H_{l-1})
    norm_act:  P_l = g_l · norm(A_l),   H_l = act(P_l)
    act_norm:  P_l = g_l · A_l,         H_l = norm(act(P_l))

The norm / gain / activation part and its vector-Jacobian product are those of
``depthcheck.kernels.nn.layer`` (written once for every numpy engine).

Randomness: layer l draws everything from its own generator ``layer_generator(root, l)``
(PCG64 seeded by ``SeedSequence(root, spawn_key=(l,))``; the readout uses ``spawn_key=(0,)``),
so W_l can be re-created at will: the backward pass regenerates the weights of a segment
instead of storing all L of them.

References
----------
.. [1] Meterez, Joudaki, Orabona, Immer, Rätsch, Daneshmand, "Towards Training Without Depth
   Limits: Batch Normalization Without Gradient Explosion", ICLR 2024, arXiv:2310.02012.
.. [2] Daneshmand, Kohler, Bach, Hofmann, Lucchi, "Batch Normalization Provably Avoids Rank
   Collapse for Randomly Initialised Deep Networks", NeurIPS 2020, arXiv:2003.01652.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from scipy.linalg import lapack as _lapack

from depthcheck.kernels.chain.spec import HOMOGENEOUS_ACTIVATIONS, ORDERS, WEIGHTS, ChainSpec
from depthcheck.kernels.nn.layer import LayerOutput, layer_backward, layer_forward
from depthcheck.kernels.random.haar import (apply_householder_haar, haar_householder_vectors, sample_stiefel)

# ChainSpec, WEIGHTS, ORDERS, HOMOGENEOUS_ACTIVATIONS (depthcheck.kernels.chain.spec) and
# LayerOutput (depthcheck.kernels.nn.layer) are re-exported here for existing callers.
__all__ = ["ChainSpec", "LayerOutput", "NumpyChainBackend", "layer_generator", "readout_generator",
           "HOMOGENEOUS_ACTIVATIONS", "WEIGHTS", "ORDERS", "householder_matrix"]


def layer_generator(root: tuple, l: int) -> np.random.Generator:
    """The generator owning layer ``l``'s weights (deterministic in ``root`` and ``l``)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(root, spawn_key=(l,))))


def readout_generator(root: tuple) -> np.random.Generator:
    """The generator owning the readout W_out (spawn key 0: hidden layers are 1..L)."""
    return layer_generator(root, 0)


def _T(a):
    return np.swapaxes(a, -1, -2)


def householder_matrix(V: np.ndarray) -> np.ndarray:
    """The orthogonal matrices W = P_1 ⋯ P_{d-1} D that ``depthcheck.kernels.random.haar.apply_householder_haar``
    applies for the packed Gaussian vectors ``V`` ``(B, d, d)`` (see ``depthcheck.kernels.random.haar.apply_haar``
    for the construction), formed with LAPACK's ``dorgqr``.

    LAPACK stores the reflector P_k = I − 2 v vᵀ/vᵀv (v = x_k + s_k‖x_k‖e_1) as I − τ u uᵀ with
    u = v/v_1 (unit leading entry) and τ = 2 v_1²/vᵀv = 1 + |x_k1|/‖x_k‖ (vᵀv = 2‖x_k‖(‖x_k‖ +
    |x_k1|)); the last stage is not a reflection (τ = 0). Then W = Q·D with D = diag(-s_1, ...,
    -s_{d-1}, s_d), s_k = sign(x_k1).
    """
    B, d, _ = V.shape
    x0 = np.diagonal(V, axis1=-2, axis2=-1)
    s = np.where(x0 >= 0, 1.0, -1.0)
    low = np.tril(V)
    nrm = np.sqrt(np.einsum("bij,bij->bj", low, low))     # ‖x_k‖
    v0 = x0 + s * nrm                                       # |v0| = |x0| + ‖x‖ (no cancellation)
    U = low / np.where(v0 != 0, v0, 1.0)[:, None, :]
    tau = np.where(nrm > 0, 1.0 + np.abs(x0) / np.where(nrm > 0, nrm, 1.0), 0.0)
    tau[:, -1] = 0.0
    Ut = np.ascontiguousarray(np.swapaxes(U, -1, -2))      # Ut[b].T: Fortran order, no copy
    W = np.empty((B, d, d))
    for b in range(B):
        q, _, info = _lapack.dorgqr(Ut[b].T, tau[b], overwrite_a=True)
        if info != 0:  # pragma: no cover - only for invalid arguments
            raise RuntimeError(f"LAPACK dorgqr failed with info={info}")
        W[b] = q
    D = -s
    D[:, -1] = s[:, -1]
    return W * D[:, None, :]


class NumpyChainBackend:
    """Reference implementation of one chain layer; all methods are pure functions of their
    arguments (the generators passed in are consumed)."""

    name = "numpy"

    # ---- engine protocol (depthcheck.kernels.backends) ------------------------------------
    @staticmethod
    def unsupported(spec, record, gradients) -> str | None:
        """Why this engine cannot run the request, or None: the reference runs every one."""
        return None

    @staticmethod
    def fused(spec, record, gradients) -> bool:
        """False: the per-layer driver runs this engine's layer methods."""
        return False

    # ---- weights ---------------------------------------------------------------------------
    def weight(self, spec: ChainSpec, gen: np.random.Generator) -> np.ndarray:
        """W_l as a ``(B, d, d)`` stack drawn from the layer generator ``gen``.

        haar: the matrix of Stewart's Householder construction (``depthcheck.kernels.random.haar.apply_haar``,
        Haar in law) from exactly the random numbers ``apply_haar`` draws for this layer
        (``haar_householder_vectors`` consumes ``B·d(d+1)/2`` normals whatever n is), so it
        equals the map the matrix-free path applies, up to rounding; formed by LAPACK's orgqr
        (``householder_matrix``), ~8x faster than the numpy Householder loop at d = 32.
        gaussian: N(0, std²) entries; uniform: uniform[-√3, √3]·std entries (variance std²).
        """
        B, d = spec.trials, spec.d
        if spec.weights == "haar":
            return householder_matrix(haar_householder_vectors((B,), d, gen))
        if spec.weights == "gaussian":
            return spec.weight_std * gen.standard_normal((B, d, d))
        return (spec.weight_std * np.sqrt(3.0)) * gen.uniform(-1.0, 1.0, (B, d, d))

    def readout(self, spec: ChainSpec, gen: np.random.Generator) -> np.ndarray:
        """W_out ``(B, n_out, d)`` with orthonormal rows: a uniform Stiefel frame, transposed
        (the semi-orthogonal readout d -> #classes of [1]_ Fig. 3)."""
        return _T(sample_stiefel((spec.trials,), spec.d, spec.n_out, gen))

    # ---- forward ---------------------------------------------------------------------------
    def linear(self, spec: ChainSpec, H: np.ndarray, *, W: Optional[np.ndarray] = None,
               gen: Optional[np.random.Generator] = None) -> np.ndarray:
        """A_l from H_{l-1}: with an explicit ``W``, or from the layer generator ``gen``."""
        if W is not None:
            WH = W @ H
        elif spec.matrix_free:
            WH = apply_householder_haar(haar_householder_vectors((spec.trials,), spec.d, gen), H)
        else:
            WH = self.weight(spec, gen) @ H
        if spec.residual is not None:
            return H + spec.residual * WH
        return WH

    def nonlinear(self, spec: ChainSpec, l: int, A: np.ndarray) -> LayerOutput:
        """norm / gain / activation part of layer ``l`` (1-based) applied to A_l
        (``depthcheck.kernels.nn.layer.layer_forward`` with the gain g_l)."""
        return layer_forward(A, norm=spec.norm, activation=spec.activation, order=spec.order,
                             gain=spec.gains[l - 1])

    # ---- backward --------------------------------------------------------------------------
    def backward(self, spec: ChainSpec, l: int, W: np.ndarray, out: LayerOutput,
                 dH: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(dA_l, dH_{l-1}) from dH_l = ∂loss/∂H_l, for layer ``l`` (1-based).

        norm_act: dA = normᵀ(g · act'(P) ⊙ dH);  act_norm: dA = g · act'(P) ⊙ normᵀ(dH)
        (``depthcheck.kernels.nn.layer.layer_backward``); dH_{l-1} = Wᵀ dA (residual:
        dA + γ Wᵀ dA). Linear in dH, so a positive scale factor dropped from dH carries over
        to both outputs.
        """
        dA = self.delta(spec, l, out, dH)
        dWA = _T(W) @ dA
        dH_prev = dA + spec.residual * dWA if spec.residual is not None else dWA
        return dA, dH_prev

    @staticmethod
    def delta(spec: ChainSpec, l: int, out: LayerOutput, dH: np.ndarray) -> np.ndarray:
        """dA_l = ∂loss/∂A_l from dH_l = ∂loss/∂H_l (the backward pass without the Wᵀ)."""
        return layer_backward(out, dH, activation=spec.activation, order=spec.order,
                              gain=spec.gains[l - 1])[0]
