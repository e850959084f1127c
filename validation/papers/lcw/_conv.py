"""A small convolutional net with optional LCW kernels, forward and backward by hand (im2col).

Kutsuna 2020 (arXiv:2403.13833) applies LCW to convolutional layers (abstract; Sec. 6.2): we read
it as constraining each output channel's kernel, flattened over its m = c·k·k inputs (input
channels × kernel rows × kernel columns), to sum to zero, ``w_o = B_m v_o``
(``docs/derivations/lcw_conv.md`` §1; the flattening is [U] as the paper's). A kernel that sums
to zero maps every input whose patches have a common mean γ 1_m to a zero-mean output: the conv
layer's activation shift is removed exactly as in a fully connected layer.

Layout. A batch of n images with c channels of size h × w is ``X`` of shape ``(B, n, c, h, w)``
(B the Monte Carlo trials axis; image axes last, as im2col needs them); the logits are
``(B, 10, n)`` in the project's (d, n) layout. Net (``ConvSpec``)::

    A_0 = X
    conv layer l = 1..L:  Z_l = conv(A_{l−1}; W_l) + b_l   (k × k, stride 1, no padding)
                          (``bn``: Z_l = g_l ⊙ BN(conv(A_{l−1}; W_l)) + b_l, BN per channel
                          over the images and positions of the batch, training mode)
                          A_l = relu(Z_l)
    output:               logits = W_out flatten(A_L) + b_out   (standard weights)
    loss (xent):          mean over the n images of −log softmax(logits)[y]

im2col: ``patches(A)[b, i, p, :]`` is the flattened (c, k, k) window of image i at output
position p (row-major over the (h − k + 1) × (w − k + 1) positions), so the conv is one matrix
product ``Z = patches · Wᵀ + b`` with ``W`` of shape ``(B, C_out, c·k·k)``. Backward:
``δW = Σ_{i,p} δZᵀ patches``, ``δb = Σ_{i,p} δZ``, ``δpatches = δZ · W`` scattered back onto
the image (col2im, the adjoint of im2col); LCW: ``δV = B_mᵀ δW`` per output channel
(``depthcheck.kernels.nn.lcw``).

Parameters are a flat list (what ``depthcheck.kernels.nn.training.train`` updates): per conv
layer the kernel parameter (``W`` ``(C_out, m)`` or, for LCW, ``V`` ``(C_out, m − 1)``) and the
bias ``(C_out,)`` (with ``bn``: the BN shift β, then the BN gain g ``(C_out,)``); then
``W_out`` ``(10, d)`` and ``b_out`` ``(10, 1)``; each with the leading
trials axis B.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from depthcheck.kernels.nn.lcw import basis_apply, basis_apply_transpose
from depthcheck.kernels.nn.norms import norm_backward, norm_forward
from depthcheck.theory.lcw import init_variance

__all__ = ["ConvSpec", "im2col", "col2im", "init_convnet", "convnet_forward", "convnet_loss",
           "convnet_loss_and_grad", "make_conv_loss_and_grad", "conv_preactivations"]


@dataclass(frozen=True)
class ConvSpec:
    """Architecture: input ``(channels, side, side)``; ``convs`` = output channels per conv layer
    (all k × k, stride 1, no padding); ``weights`` "standard" | "lcw" for every conv layer;
    ``n_classes`` outputs of the standard fully connected output layer."""
    side: int = 8
    channels: int = 1
    convs: tuple = (16, 16)
    k: int = 3
    weights: str = "standard"
    n_classes: int = 10
    bn: bool = False

    def __post_init__(self):
        for name in ("side", "channels", "k", "n_classes"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        convs = tuple(self.convs)
        if not convs or any(isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 1
                            for c in convs):
            raise ValueError(f"convs must be a non-empty sequence of positive integers, got "
                             f"{self.convs!r}")
        object.__setattr__(self, "convs", tuple(int(c) for c in convs))
        if not isinstance(self.bn, bool):
            raise ValueError(f"bn must be a bool, got {self.bn!r}")
        if self.weights not in ("standard", "lcw"):
            raise ValueError(f"weights must be 'standard' or 'lcw', got {self.weights!r}")
        if self.side - len(convs) * (self.k - 1) < 1:
            raise ValueError(f"side={self.side} is too small for {len(convs)} valid {self.k}×"
                             f"{self.k} convolutions")
        if self.weights == "lcw" and self.channels * self.k * self.k < 2:
            raise ValueError("weights='lcw' needs a kernel with at least 2 inputs")

    @property
    def stride(self) -> int:
        """Parameters per conv layer: kernel and bias (2), plus the BN gain with ``bn`` (3)."""
        return 3 if self.bn else 2

    def sides(self) -> list[int]:
        """Spatial side of A_0, A_1, ..., A_L."""
        return [self.side - l * (self.k - 1) for l in range(len(self.convs) + 1)]

    def fan_ins(self) -> list[int]:
        """m = c·k·k of every conv layer."""
        cins = (self.channels,) + self.convs[:-1]
        return [c * self.k * self.k for c in cins]

    def flat_dim(self) -> int:
        """Input width d of the output layer: C_L · side_L²."""
        return self.convs[-1] * self.sides()[-1] ** 2


def im2col(A, k: int) -> np.ndarray:
    """Patches ``(B, n, P, c·k·k)`` of images ``A`` ``(B, n, c, h, w)``: valid k × k windows,
    stride 1, positions row-major, each window flattened in (channel, row, column) order."""
    A = np.asarray(A, dtype=float)
    if A.ndim != 5:
        raise ValueError(f"A must have shape (B, n, c, h, w), got {A.shape}")
    B, n, c, h, w = A.shape
    if not 1 <= k <= min(h, w):
        raise ValueError(f"k must lie in [1, {min(h, w)}], got {k}")
    win = np.lib.stride_tricks.sliding_window_view(A, (k, k), axis=(3, 4))  # B n c oh ow k k
    oh, ow = h - k + 1, w - k + 1
    return np.ascontiguousarray(win.transpose(0, 1, 3, 4, 2, 5, 6)).reshape(B, n, oh * ow,
                                                                              c * k * k)


def col2im(G, shape, k: int) -> np.ndarray:
    """Adjoint of :func:`im2col`: scatter-add patch gradients ``G`` ``(B, n, P, c·k·k)`` onto
    images of ``shape`` ``(B, n, c, h, w)``."""
    B, n, c, h, w = shape
    oh, ow = h - k + 1, w - k + 1
    G = np.asarray(G, dtype=float).reshape(B, n, oh, ow, c, k, k)
    out = np.zeros(shape)
    for i in range(k):
        for j in range(k):
            out[:, :, :, i:i + oh, j:j + ow] += G[:, :, :, :, :, i, j].transpose(0, 1, 4, 2, 3)
    return out


def init_convnet(spec: ConvSpec, rng, trials: int, gain: float = math.sqrt(2.0),
                 output_gain: float = 1.0) -> list:
    """Gaussian parameters with E‖w_o‖² = gain² for every kernel of either kind (standard
    variance g²/m, LCW g²/(m − 1): ``depthcheck.theory.lcw.init_variance``), output layer
    variance output_gain²/d; biases (BN shifts) 0, BN gains 1."""
    params = []
    for c_out, m in zip(spec.convs, spec.fan_ins()):
        if spec.weights == "lcw":
            sd = math.sqrt(init_variance("lcw", m, gain))
            params.append(sd * rng.standard_normal((trials, c_out, m - 1)))
        else:
            sd = math.sqrt(init_variance("standard", m, gain))
            params.append(sd * rng.standard_normal((trials, c_out, m)))
        params.append(np.zeros((trials, c_out)))
        if spec.bn:
            params.append(np.ones((trials, c_out)))
    d = spec.flat_dim()
    params.append(output_gain / math.sqrt(d) * rng.standard_normal((trials, spec.n_classes, d)))
    params.append(np.zeros((trials, spec.n_classes, 1)))
    return params


def _kernels(params, spec):
    L, s = len(spec.convs), spec.stride
    return [basis_apply(params[s * l]) if spec.weights == "lcw" else params[s * l]
            for l in range(L)]


def _bn_forward(Z):
    """Per-channel BN of conv pre-activations ``Z`` ``(B, n, P, C)`` over the images and
    positions (training mode, biased variance, no eps): ``(Y, cache)`` with Y of Z's shape.
    Uses ``depthcheck.kernels.nn.norms`` "bn" on the rows of ``(B, C, n·P)``."""
    B, n, P_, C = Z.shape
    Y, cache = norm_forward("bn", np.swapaxes(Z.reshape(B, n * P_, C), -1, -2))
    return np.swapaxes(Y, -1, -2).reshape(Z.shape), cache


def _bn_backward(cache, dY):
    """VJP of :func:`_bn_forward`: ``dZ`` of ``dY``'s shape ``(B, n, P, C)``."""
    B, n, P_, C = dY.shape
    dZ = norm_backward("bn", cache, np.swapaxes(dY.reshape(B, n * P_, C), -1, -2))
    return np.swapaxes(dZ, -1, -2).reshape(dY.shape)


def _forward(params, X, spec, keep):
    L, k, st = len(spec.convs), spec.k, spec.stride
    Ws = _kernels(params, spec)
    A, tape = X, []
    for l in range(L):
        B, n = A.shape[:2]
        cols = im2col(A, k)
        P_, m = cols.shape[2], cols.shape[3]
        # one (n·P, m) × (m, C) product per trial (BLAS), not n·B small ones
        Z = (cols.reshape(B, n * P_, m) @ np.swapaxes(Ws[l], -1, -2)).reshape(B, n, P_, -1)
        if spec.bn:  # Z_l = g ⊙ BN(conv) + β (the bias acts as the BN shift β)
            N, cache = _bn_forward(Z)
            Z = params[st * l + 2][:, None, None, :] * N + params[st * l + 1][:, None, None, :]
        else:
            N, cache = None, None
            Z = Z + params[st * l + 1][:, None, None, :]
        s = spec.sides()[l + 1]
        if keep:
            tape.append((A.shape, cols, Z, N, cache))
        A = np.maximum(Z, 0.0).reshape(B, n, s, s, -1).transpose(0, 1, 4, 2, 3)
    F = np.swapaxes(A.reshape(A.shape[0], A.shape[1], -1), -1, -2)  # (B, d, n)
    logits = params[-2] @ F + params[-1]
    return logits, F, tape, Ws


def _xent(logits, y):
    z = logits - logits.max(axis=-2, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=-2, keepdims=True))
    n = y.shape[-1]
    picked = np.take_along_axis(logp, y[:, None, :], axis=-2)[:, 0, :]
    return -picked.mean(axis=-1), logp, n


def _check(X, y, spec, params):
    X = np.asarray(X, dtype=float)
    if X.ndim != 5 or X.shape[2:] != (spec.channels, spec.side, spec.side):
        raise ValueError(f"X must have shape (B, n, {spec.channels}, {spec.side}, {spec.side}), "
                         f"got {X.shape}")
    if len(params) != spec.stride * len(spec.convs) + 2:
        raise ValueError(f"params must hold {spec.stride * len(spec.convs) + 2} arrays, got "
                         f"{len(params)}")
    if X.shape[0] != params[0].shape[0]:
        raise ValueError(f"X has {X.shape[0]} trials, params {params[0].shape[0]}")
    if y is not None:
        y = np.asarray(y)
        if y.shape != X.shape[:2] or not np.issubdtype(y.dtype, np.integer) \
                or y.min() < 0 or y.max() >= spec.n_classes:
            raise ValueError(f"y must be integer labels in [0, {spec.n_classes}) of shape "
                             f"{X.shape[:2]}")
    return X, y


def convnet_forward(params, X, spec: ConvSpec) -> np.ndarray:
    """Logits ``(B, n_classes, n)`` of images ``X`` ``(B, n, c, h, w)``."""
    X, _ = _check(X, None, spec, params)
    return _forward(params, X, spec, keep=False)[0]


def conv_preactivations(params, X, spec: ConvSpec) -> list:
    """The conv pre-activations Z_l, each ``(B, n, P_l, C_l)`` (P_l output positions; with
    ``spec.bn`` after the BN and its affine map, i.e. the ReLU's inputs)."""
    X, _ = _check(X, None, spec, params)
    return [t[2] for t in _forward(params, X, spec, keep=True)[2]]


def convnet_loss(params, X, y, spec: ConvSpec) -> np.ndarray:
    """Cross-entropy per trial ``(B,)``."""
    X, y = _check(X, y, spec, params)
    return _xent(_forward(params, X, spec, keep=False)[0], y)[0]


def _loss_and_grad(params, X, y, spec):
    logits, F, tape, Ws = _forward(params, X, spec, keep=True)
    loss, logp, n = _xent(logits, y)
    dlog = np.exp(logp)
    np.put_along_axis(dlog, y[:, None, :], np.take_along_axis(dlog, y[:, None, :], axis=-2) - 1,
                      axis=-2)
    dlog /= n
    grads = [None] * len(params)
    grads[-2] = dlog @ np.swapaxes(F, -1, -2)
    grads[-1] = dlog.sum(axis=-1, keepdims=True)
    dF = np.swapaxes(params[-2], -1, -2) @ dlog  # (B, d, n)
    B = X.shape[0]
    dA = np.swapaxes(dF, -1, -2).reshape(B, n, spec.convs[-1], spec.sides()[-1],
                                         spec.sides()[-1])
    st = spec.stride
    for l in reversed(range(len(spec.convs))):
        shape, cols, Z, N, cache = tape[l]
        dZ = dA.transpose(0, 1, 3, 4, 2).reshape(Z.shape) * (Z > 0)
        grads[st * l + 1] = dZ.sum(axis=(1, 2))
        if spec.bn:
            grads[st * l + 2] = np.sum(dZ * N, axis=(1, 2))
            dZ = _bn_backward(cache, dZ * params[st * l + 2][:, None, None, :])
        Bn, nn, Pn, O = dZ.shape
        dW = np.swapaxes(dZ.reshape(Bn, nn * Pn, O), -1, -2) @ cols.reshape(Bn, nn * Pn, -1)
        grads[st * l] = basis_apply_transpose(dW) if spec.weights == "lcw" else dW
        if l > 0:
            dA = col2im((dZ.reshape(Bn, nn * Pn, O) @ Ws[l]).reshape(Bn, nn, Pn, -1), shape,
                        spec.k)
    return loss, grads


def convnet_loss_and_grad(params, X, y, spec: ConvSpec):
    """Loss ``(B,)`` and gradients (list matching ``params``)."""
    X, y = _check(X, y, spec, params)
    return _loss_and_grad(params, X, y, spec)


def make_conv_loss_and_grad(spec: ConvSpec, X, y):
    """``f(params, idx=None) -> (loss, grads)`` on the images ``idx`` (axis 1) of ``X``/``y``,
    for ``depthcheck.kernels.nn.training.train``; inputs validated once."""
    if not isinstance(spec, ConvSpec):
        raise ValueError(f"spec must be a ConvSpec, got {type(spec).__name__}")
    X = np.asarray(X, dtype=float)
    y = np.asarray(y)

    def f(params, idx=None):
        if idx is None:
            return _loss_and_grad(params, X, y, spec)
        return _loss_and_grad(params, X[:, idx], y[:, idx], spec)
    return f
