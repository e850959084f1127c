"""The reduced chain for n < d: deep Haar / Gaussian chains in O(d n²) per layer, exact in law.

``simulate_reduced_chain`` takes the arguments of ``depthcheck.kernels.simulate_chain`` (``weights`` "haar"
or "gaussian") and returns the same dictionary, with the same law; it never forms a d×d matrix.

Forward. Let H = Q_H R_H be a thin QR (Q_H d×n orthonormal,
any Householder QR: H need not have full rank). For W Haar on O(d), W Q_H is a uniform n-frame
(Stiefel) independent of H, so

    W H = (W Q_H) R_H  ~  Q_Z R_H,    Q_Z = sign-fixed thin QR factor of a fresh d×n Gaussian,

exactly in law, jointly with everything before layer l (W_l is independent of H_{l-1}). For
W with i.i.d. N(0, σ²) entries, W Q_H = σ G with G a d×n standard Gaussian (rotation
invariance of the Gaussian), so W H ~ σ G R_H (no QR of G). Cost: two thin QRs, O(d n²).

Backward: Wᵀ on the backward signal δ = ∂loss/∂A_l (a d×n matrix, not in span(Q_Z) in
general). Given the forward pass, the weights are conditionally independent across layers
(later layers depend on W_l only through W_l H_{l-1} = Q_Z R_H), and W_l is conditioned only on
W Q_H = Q_Z (Haar) / W Q_H = σG (Gaussian). Decompose R^d = span(Q_H) ⊕ span(Q_H)⊥:

* Haar. W maps span(Q_H) onto span(Q_Z) by Q_H ↦ Q_Z, hence span(Q_H)⊥ onto span(Q_Z)⊥ by an
  isometry which, conditionally, is Haar (the stabiliser of the frame acts transitively on
  it; left-invariance of the Haar measure). Write W = Q_Z Q_Hᵀ + V with V a Haar isometry
  span(Q_H)⊥ → span(Q_Z)⊥; then Wᵀ = W⁻¹ = Q_H Q_Zᵀ + Vᵀ and

      Wᵀ δ = Q_H (Q_Zᵀ δ) + Vᵀ C,     C = (I − Q_Z Q_Zᵀ) δ ∈ span(Q_Z)⊥.

  The first term is known. The law of Vᵀ C depends only on CᵀC (two configurations with the
  same Gram differ by an isometry of span(Q_Z)⊥, absorbed by the Haar Vᵀ). If R_C is any n×n
  matrix with R_CᵀR_C = CᵀC (the R of a QR of C, valid whatever the rank of C) and S a uniform
  n-frame of span(Q_H)⊥, then S R_C = Vᵀ(F R_C) ~ Vᵀ C for a fixed frame F, so

      Vᵀ C  ~  S R_C,    S = sign-fixed thin QR factor of (I − Q_H Q_Hᵀ) G',  G' ~ N(0, 1)^{d×n}

  (the projected Gaussian is isotropic in span(Q_H)⊥ and the sign-fixed QR is equivariant, so
  S is uniform there). This needs n <= d − n; for 2n > d the complement is smaller than n and
  V is applied explicitly: orthonormal bases E_Z, E_H of the complements (from a complete QR,
  O(d² n) <= O(2 d n²) here) and Vᵀ C = E_H O (E_Zᵀ C) with O Haar on O(d − n)
  (``depthcheck.kernels.random.householder``).
* Gaussian. W = σ G Q_Hᵀ + W E Eᵀ with E a basis of span(Q_H)⊥ and W E independent of G,
  i.i.d. N(0, σ²). (W E)ᵀ δ has independent rows N(0, σ² δᵀδ), i.e. the law of σ N R_δ with
  N ~ N(0, 1)^{(d−n)×n} and R_δᵀR_δ = δᵀδ, so

      Wᵀ δ  ~  σ Q_H (Gᵀ δ) + σ (I − Q_H Q_Hᵀ) G'' R_δ,    G'' ~ N(0, 1)^{d×n}.

Each layer's Q_Z (or G) is drawn first from ``depthcheck.kernels.backends.numpy.layer_generator(root, l)``, and
the backward's G' / G'' / O continue the same generator, so a recomputed segment in the
backward pass regenerates bit-identical forward randomness (checkpointing as in
``simulate_chain``). The readout and the labels are drawn exactly as in ``simulate_chain``, so
for the same ``rng`` state both chains share X, the labels and W_out; only the hidden weights
differ (they are never formed here).

Gradient norms: ‖∂loss/∂W_l‖_F = ‖δ_l H_{l-1}ᵀ‖_F = sqrt(Σ (δᵀδ) ⊙ (HᵀH)), O(d n²).

Memory (float64 words): without gradients O(B d n) independent of L (plus the recorded
statistics); with gradients O(B (L/k_c + 3 k_c) d n) for checkpoints and one segment's tape.
"""
from __future__ import annotations

import math

import numpy as np

from depthcheck.kernels.chain import driver as _chain
from depthcheck.kernels.chain.driver import ChainBreakdownError, _safe_log, finish_layer
from depthcheck.kernels.chain.errors import check_log_grad
from depthcheck.kernels.chain.spec import engine_arguments
from depthcheck.kernels.backends.numpy import LayerOutput, NumpyChainBackend, layer_generator
from depthcheck.kernels.random.householder import apply_haar_blocked

__all__ = ["simulate_reduced_chain", "run_reduced", "ReducedChainBackend", "reduced_linear",
           "conditional_transpose"]

REDUCED_WEIGHTS = ("haar", "gaussian")


def _T(a):
    return np.swapaxes(a, -1, -2)


def _sign_fixed_q(G: np.ndarray) -> np.ndarray:
    """Q·diag(sign(diag R)) of the thin QR of each (d, k) matrix in the stack (Mezzadri 2007)."""
    Q, R = np.linalg.qr(G)
    r = np.diagonal(R, axis1=-2, axis2=-1)
    return Q * np.where(r >= 0, 1.0, -1.0)[..., None, :]


class ReducedLayer:
    """What the backward pass needs from one reduced layer: Q_H and the forward draw (Q_Z for
    Haar, G for Gaussian), and the layer's generator positioned after the forward draw."""
    __slots__ = ("QH", "draw", "gen")

    def __init__(self, QH, draw, gen):
        self.QH, self.draw, self.gen = QH, draw, gen


def reduced_linear(H: np.ndarray, gen: np.random.Generator, weights: str, std: float,
                   need_basis: bool = True):
    """(W H in law, ReducedLayer) for a fresh W (Haar or i.i.d. N(0, std²)) applied to the
    stack ``H`` ``(B, d, n)``, n <= d, drawing one ``(B, d, n)`` Gaussian G from ``gen``.

    Haar: Q_Z = G R_G'⁻¹ with R_G' the R factor of G with positive diagonal, i.e. exactly the
    sign-fixed Q of G (uniqueness of the QR with positive diagonal), computed from an R-only
    Householder QR when d >= 2n (G is then well conditioned: cond ≲ 6) and by a full QR
    otherwise. ``need_basis=False`` (forward-only layers) skips Q_H and Q_Z: W H = G R_G'⁻¹ R_H.
    """
    B, d, n = H.shape
    if need_basis:
        QH, RH = np.linalg.qr(H)
    else:
        QH, RH = None, np.linalg.qr(H, mode="r")
    G = gen.standard_normal(H.shape)
    if weights == "gaussian":
        return std * (G @ RH), ReducedLayer(QH, G, gen)
    if 2 * n > d:
        QZ = _sign_fixed_q(G)
        return QZ @ RH, ReducedLayer(QH, QZ, gen)
    RG = np.linalg.qr(G, mode="r")
    RG *= np.where(np.diagonal(RG, axis1=-2, axis2=-1) >= 0, 1.0, -1.0)[..., :, None]
    if not need_basis:
        return G @ np.linalg.solve(RG, RH), ReducedLayer(None, None, gen)
    QZ = G @ np.linalg.inv(RG)
    return QZ @ RH, ReducedLayer(QH, QZ, gen)


def conditional_transpose(layer: ReducedLayer, delta: np.ndarray, weights: str,
                          std: float) -> np.ndarray:
    """A draw of Wᵀ δ from the law of W given the forward pass (module docstring), for the
    stack ``delta`` ``(B, d, n)``; consumes ``layer.gen``."""
    QH, gen = layer.QH, layer.gen
    B, d, n = delta.shape
    if weights == "gaussian":
        G = layer.draw
        known = QH @ (_T(G) @ delta)
        Rd = np.linalg.qr(delta, mode="r")
        N = gen.standard_normal((B, d, n))
        N -= QH @ (_T(QH) @ N)
        return std * (known + N @ Rd)
    QZ = layer.draw
    coef = _T(QZ) @ delta                                     # (B, n, n)
    C = delta - QZ @ coef                                     # component in span(Q_Z)⊥
    known = QH @ coef
    m = d - n
    if n <= m:
        RC = np.linalg.qr(C, mode="r")
        Gp = gen.standard_normal((B, d, n))
        Gp -= QH @ (_T(QH) @ Gp)
        if 2 * n <= m:       # well-conditioned (cond ≲ 6): S = Gp R'⁻¹ from an R-only QR
            RG = np.linalg.qr(Gp, mode="r")
            RG *= np.where(np.diagonal(RG, axis1=-2, axis2=-1) >= 0, 1.0, -1.0)[..., :, None]
            return known + Gp @ np.linalg.solve(RG, RC)
        return known + _sign_fixed_q(Gp) @ RC
    if m == 0:                                                # W = Q_Z Q_Hᵀ exactly
        return known
    EZ = np.linalg.qr(QZ, mode="complete")[0][..., n:]        # (B, d, m) bases of the complements
    EH = np.linalg.qr(QH, mode="complete")[0][..., n:]
    return known + EH @ apply_haar_blocked(_T(EZ) @ C, gen)


def simulate_reduced_chain(X, depth, *, rng, **chain_args) -> dict:
    """``depthcheck.kernels.simulate_chain(..., method="reduced")``: n <= d in O(d n²) per layer
    and trial, exact in law.

    Every keyword argument of ``depthcheck.kernels.simulate_chain`` except ``method`` and
    ``backend`` is accepted, with the same names, defaults and checks (one signature, checked
    once by ``ChainSpec.from_arguments``).

    Outputs, randomness conventions (``rng`` consumed for the root of the weight streams, then
    for the labels) and errors are those of ``simulate_chain``, except: ``weights`` must be
    ``"haar"`` or ``"gaussian"`` (the reduction needs a rotation-invariant weight law) and
    n <= d; anything else raises ``UnsupportedEngineError`` naming it. The hidden weights are
    never formed: each layer costs two or three thin QRs of d×n matrices forward and about as
    much backward (module docstring for the derivation), against O(d³) (formed Haar) or
    O(d² n) (Householder) for the full chain. Statistics agree with ``method="full"`` in
    distribution, not sample by sample (different random numbers). Memory: O(B d n) without
    gradients (independent of the depth L), plus O(B (L/k_c + 8 k_c) d n) with gradients
    (k_c = ``checkpoint_every``, default ceil(√L)).
    """
    return _chain.simulate_chain(X, depth, rng=rng,
                                 **engine_arguments(chain_args, "reduced", "numpy"))


def run_reduced(spec, X, root, *, record, record_every, tau, n_singular, gradients=False,
                labels=None, checkpoint_every=None, progress=False) -> dict:
    """The reduced chain for a validated ``ChainSpec``, the driver's ``root`` entropy and the
    labels (drawn by the caller, as ``depthcheck.kernels.simulate_chain`` does)."""
    if spec.weights not in REDUCED_WEIGHTS:
        raise ValueError(f"weights={spec.weights!r}: the reduced chain needs a rotation-invariant "
                         f"weight law, one of {REDUCED_WEIGHTS}")
    if spec.n > spec.d:
        raise ValueError(f"X must have n <= d for the reduced chain (columns are samples), got "
                         f"d={spec.d}, n={spec.n}")
    k_c = checkpoint_every or max(1, math.ceil(math.sqrt(spec.depth)))
    spec = spec._replace(record=tuple(record), record_every=record_every, tau=tau,
                         n_singular=n_singular)
    runner = _Reduced(spec, root)
    return _chain.run_driver(runner, X, gradients=gradients, labels=labels, k_c=k_c,
                             progress=progress)


class ReducedChainBackend(NumpyChainBackend):
    """Backend "reduced" for ``depthcheck.kernels.simulate_chain``: the whole chain is run by
    ``run_reduced`` (``fused`` is always True; unsupported weights raise ``ValueError``)."""

    name = "reduced"

    @staticmethod
    def unsupported(spec, record, gradients) -> str | None:
        if spec.weights not in REDUCED_WEIGHTS:
            return (f"weights={spec.weights!r}: the reduced chain is exact in law for "
                    f"{REDUCED_WEIGHTS} weights only (method='full' runs it)")
        if spec.n > spec.d:
            return (f"X: the reduced chain needs n <= d, got d={spec.d}, n={spec.n} "
                    f"(method='full' runs it)")
        return None

    @staticmethod
    def fused(spec, record, gradients) -> bool:
        return True

    @staticmethod
    def run_fused(spec, X, root, *, record, record_every, tau, n_singular, gradients=False,
                  labels=None, checkpoint_every=None, **_) -> dict:
        return run_reduced(spec, X, root, record=record, record_every=record_every, tau=tau,
                           n_singular=n_singular, gradients=gradients, labels=labels,
                           checkpoint_every=checkpoint_every)


class _Reduced(_chain._Chain):
    """``depthcheck.kernels.chain.driver._Chain`` (forward pass, recording, checkpoints, readout gradient) with the
    reduced linear step and the conditional backward."""

    def __init__(self, spec, root):
        super().__init__(spec, NumpyChainBackend(), root)

    def layer(self, l, H, log_c, W=None):
        """The forward step for ``_Chain.forward``: (LayerOutput, new log_c)."""
        out, _, log_c = self.reduced_layer(l, H, log_c)
        return out, log_c

    def reduced_layer(self, l, H, log_c, need_basis=False):
        """Layer l by the reduced step; also returns the ``ReducedLayer`` the backward needs."""
        spec = self.spec
        WH, red = reduced_linear(H, layer_generator(self.root, l), spec.weights,
                                 spec.weight_std, need_basis)
        A = H + spec.residual * WH if spec.residual is not None else WH
        try:
            out = self.backend.nonlinear(spec, l, A)
        except ValueError as exc:
            raise ChainBreakdownError(f"layer {l}: {exc}") from exc
        out, log_c = finish_layer(spec, l, out, log_c)
        return out, red, log_c

    def _statistic(self, name, H, pre):
        if name == "frobenius_M":          # ‖HHᵀ/n‖_F² = ‖HᵀH‖_F²/n² without the d×d matrix
            G = _T(H) @ H
            return np.sum(G * G, axis=(-2, -1)) / H.shape[-1] ** 2
        return super()._statistic(name, H, pre)

    def _dA(self, l, o: LayerOutput, dH):
        """∂loss/∂A_l from ∂loss/∂H_l (``NumpyChainBackend.backward`` without the Wᵀ)."""
        return self.backend.delta(self.spec, l, o, dH)

    def backward(self, labels, k_c, *, bar):
        spec = self.spec
        layers = np.arange(0, spec.depth + 1, self.record_every)
        grad_layers = np.array(sorted({1} | {int(l) for l in layers if l >= 1}), dtype=np.intp)
        col = {int(l): j for j, l in enumerate(grad_layers)}
        log_grad = np.empty((spec.trials, grad_layers.size))
        log_gamma = 0.0 if spec.residual is None else math.log(abs(spec.residual))

        dH = self._readout_grad(labels)
        dH, lg = _chain._normalise(dH, np.zeros(spec.trials), spec.depth)
        for s in reversed(range(0, spec.depth, k_c)):
            e = min(s + k_c, spec.depth)
            H, log_c = self.checkpoints.pop(s)
            tape = []
            for l in range(s + 1, e + 1):        # recompute the segment (same random numbers)
                o, red, log_c_new = self.reduced_layer(l, H, log_c, need_basis=True)
                tape.append((H, log_c, red, o))
                H, log_c = o.H, log_c_new
                if bar is not None:
                    bar.update(1)
            for l in range(e, s, -1):
                H_prev, log_c_prev, red, o = tape.pop()
                dA = self._dA(l, o, dH)
                if l in col:
                    # ‖δ Hᵀ‖_F² = Σ (δᵀδ) ⊙ (HᵀH): O(d n²), no d×d product
                    gn = np.sqrt(np.maximum(np.einsum("bij,bij->b", _T(dA) @ dA,
                                                      _T(H_prev) @ H_prev), 0.0))
                    log_grad[:, col[l]] = lg + log_c_prev + _safe_log(gn) + log_gamma
                WtdA = conditional_transpose(red, dA, spec.weights, spec.weight_std)
                dH_prev = dA + spec.residual * WtdA if spec.residual is not None else WtdA
                dH, lg = _chain._normalise(dH_prev, lg, l - 1)
                if bar is not None:
                    bar.update(1)
        check_log_grad(log_grad, grad_layers)
        return {"grad_layers": grad_layers, "log_grad_norm": log_grad}

