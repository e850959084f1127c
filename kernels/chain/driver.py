"""Deep Monte Carlo chains without storing weights: ``simulate_chain``.

Runs B independent random networks of depth L (thousands of layers) on a shared or per-trial
input, drawing each layer's weights on the fly, and records scale-free statistics of the hidden
representations every k layers, and optionally the log-norm of the loss gradient with respect
to the hidden weights (seed 001 Figure 3 / Theorem 5), backpropagated in log scale.

The layer algebra and the per-layer random streams are in ``depthcheck.kernels.backends.numpy`` (the numpy
reference backend; the engines are listed in ``depthcheck.kernels.backends``), the statistics in
``depthcheck.kernels.chain.statistics``.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from depthcheck.theory._checks import (as_float_array, check_choice, check_generator, check_positive_int)
from depthcheck.kernels import backends as _engines
from depthcheck.kernels.nn import activations as _act
from depthcheck.kernels.nn import norms as _norms
from depthcheck.kernels.chain.errors import ChainBreakdownError, UnsupportedEngineError
from depthcheck.kernels.chain.statistics import STATISTICS, compute_statistic
from depthcheck.kernels.backends.numpy import (HOMOGENEOUS_ACTIVATIONS, ORDERS, WEIGHTS,
                                               ChainSpec, NumpyChainBackend, layer_generator,
                                               readout_generator)

__all__ = ["simulate_chain", "chain_weights", "ChainBreakdownError", "UnsupportedEngineError",
           "STATISTICS", "DEFAULT_RECORD"]

DEFAULT_RECORD = ("isometry_gap", "rank_lower_bound", "soft_rank", "row_norm_cv")

# exp(700) < max float64 / e^10: logits scaled by a capped factor stay finite (see _readout_grad).
_LOG_SCALE_CAP = 700.0


def simulate_chain(X, depth, *, trials, rng, weights="haar", norm="rownorm",
                   activation="identity", order="norm_act", gains=None, gain_exponent=None,
                   residual=None, weight_std=None, record_every=1, record=DEFAULT_RECORD,
                   tau=0.5, gradients=False, labels=None, n_out=10, checkpoint_every=None,
                   method="full", backend="numpy", n_singular=10, progress=False) -> dict:
    """Simulate ``trials`` random networks of ``depth`` square layers and record statistics.

    Network (as ``depthcheck.kernels.forward_backward``, all hidden layers d×d with d = X.shape[-2]; seed 001
    eq. (3) for ``weights="haar", norm="rownorm", activation="identity"``)::

        H_0 = X,   A_l = W_l H_{l-1}   (residual=γ: A_l = H_{l-1} + γ W_l H_{l-1}, seed 002 eq. (1))
        norm_act:  H_l = act(g_l · norm(A_l));   act_norm:  H_l = norm(act(g_l · A_l))

    for l = 1..L, with g_l from ``gains`` (one per layer) or g_l = l^(-r) for ``gain_exponent=r``
    (seed 001 §5, activation shaping; bn_orthogonal.md §6.2), default g_l = 1.

    Parameters
    ----------
    X : ``(d, n)`` input shared by all trials, or ``(trials, d, n)``; columns are samples.
    depth : L >= 1 hidden layers.  trials : B >= 1.  rng : ``numpy.random.Generator``.
    weights : ``"haar"`` (Haar O(d): Stewart's Householder construction of ``depthcheck.kernels.random.haar``;
        applied matrix-free, as ``apply_haar`` (~4d²n flops, but a Python loop over d), when
        ``gradients=False``, d >= 64 and n <= d/4, where measured numpy timings favour it;
        otherwise the same W_l is formed by LAPACK orgqr (~(4/3)d³ flops) and multiplied),
        ``"gaussian"`` (i.i.d. N(0, std²)) or
        ``"uniform"`` (i.i.d. uniform[-√3, √3]·std). ``weight_std``: default 1/√d (variance
        preserving); seed 002 uses 1.0 with a residual γ. Not allowed with ``"haar"``.
    norm : ``depthcheck.kernels.nn.norms.NORMS``. ``"none"`` (vanilla chain) with a positively homogeneous
        activation (identity, relu, leaky_relu) divides H by its Frobenius norm after every
        layer (and X at layer 0), which changes the chain only by a scalar, so thousands of
        layers never overflow; bounded activations (tanh, sin, sigmoid) need no rescaling and
        the chain runs unscaled. Either way ``"log_scale"`` = log‖H_l‖_F of the *unrescaled*
        network is returned (Lyapunov growth: ``np.diff(log_scale) / record_every``).
    activation, order : as in ``depthcheck.kernels.nn.network``.
    record : names from ``STATISTICS`` (see ``depthcheck.kernels.chain.statistics``): ``isometry_gap`` (seed
        001 eq. (5); +inf when H is rank deficient, e.g. n > d: allowed, not an error),
        ``rank_lower_bound`` r(H), ``soft_rank`` rank_τ(cH) with ``tau`` and c such that
        tr(c²HHᵀ/n) = d (seed 002's BN scale; c = 1 for bn_nomean + identity), ``row_norm_cv``
        (CV of the row norms of the normalisation's input: A_l for norm_act or norm="none",
        act(g_l A_l) for act_norm; of X at layer 0), ``frobenius_M`` ‖HHᵀ/n‖_F², and
        ``top_singular_values`` (the ``n_singular`` largest). The last two depend on scale: for
        ``norm="none"`` they refer to the rescaled H with ‖H‖_F = 1 (when rescaling applies).
    record_every : statistics are recorded at layers 0, k, 2k, ... <= L (layer 0 = the input
        X; the last layer L only when k divides L). ``out["layers"]`` lists them.
    gradients : also backpropagate a cross-entropy loss (below) and return its weight-gradient
        log-norms.  labels : ``(n,)`` ints in [0, n_out) (shared by all trials), drawn
        uniformly from ``rng`` when None.  n_out : number of classes, <= d.
    checkpoint_every : k_c, default ceil(√L): H is stored every k_c layers in the forward pass
        and each segment is recomputed in the backward pass (results do not depend on k_c).
    method : ``"full"`` (d×d weights applied to H) or ``"reduced"`` (n <= d: W·H replaced by
        an exactly-in-law O(d n²) step, ``depthcheck.kernels.chain.reduced``).
    backend : ``"numpy"`` (the reference, always available), ``"numba"`` (fused CPU kernels)
        or ``"cuda"`` (alias ``"cupy"``; fused CUDA kernels, needs a GPU). The support table of
        every (method, backend) pair is in ``depthcheck.kernels.backends``; a pair that cannot
        run the request raises ``UnsupportedEngineError`` naming what is unsupported (never a
        silent fallback to another engine). ``backend="reduced"`` / ``"reduced_numba"`` are the
        earlier spellings of ``method="reduced"`` with numpy / numba. The fused backends draw
        Philox random numbers: same law as numpy, other samples.
    progress : show a tqdm bar over layers.

    Gradients (seed 001 Fig. 3 / Theorem 5, bn_orthogonal.md §5, §7.3): a readout W_out
    ``(n_out, d)`` with orthonormal rows (a uniform Stiefel frame, transposed), logits
    Z = W_out H_L, loss = mean over the n samples of the softmax cross-entropy on ``labels``.
    ``out["log_grad_norm"][:, j]`` = log‖∂loss/∂W_l‖_F for l = ``out["grad_layers"][j]``, where
    ∂loss/∂W_l = δ_l H_{l-1}ᵀ with δ_l = ∂loss/∂A_l (× γ with a residual, since A_l =
    H_{l-1} + γ W_l H_{l-1}). ``grad_layers`` = layer 1 (seed 001 Fig. 3's W_1) and every
    recorded layer >= 1. The backward signal ∂loss/∂H_l is carried with unit Frobenius norm per
    trial and its log-norm accumulated separately, so neither exploding nor vanishing
    gradients over/underflow; an exactly zero gradient gives -inf (allowed).

    Randomness: ``rng`` is consumed for two 63-bit integers (the root of all weight streams)
    and then, if gradients and labels is None, for the labels; layer l's weights come from
    ``depthcheck.kernels.backends.numpy.layer_generator(root, l)`` (the readout from spawn key 0), so W_l is
    regenerated bit-identically in the backward pass (only one layer's weights, or one
    segment's, exist at any time). The matrix-free and the explicit Haar path apply the same
    W_l (same random numbers), so statistics agree between ``gradients=True`` and ``False`` to
    rounding; the same seed gives identical outputs. ``chain_weights`` returns the matrices for
    an independent check.

    Memory (float64 words, B trials, L layers, width d, batch n): without gradients
    O(B·d·(n + d)) — independent of L (one layer's arrays and one layer's weights) plus the
    recorded statistics O(B·L/k). With gradients O(B·(L/k_c)·d·n) for the checkpoints plus
    O(B·k_c·d·(3n + d)) for one recomputed segment (inputs, activation arguments, norm outputs,
    weights), i.e. O(B·√L·d·(n + d)) with the default k_c = ceil(√L); compute is about 2x the
    forward pass plus the backward pass.

    Returns
    -------
    dict of numpy arrays: ``"layers"`` ``(R,)``; each recorded statistic ``(B, R)``
    (``top_singular_values``: ``(B, R, min(n_singular, d, n))``); ``"log_scale"`` ``(B, R)``
    when ``norm="none"``; with gradients ``"grad_layers"`` ``(G,)``, ``"log_grad_norm"``
    ``(B, G)`` and ``"labels"`` ``(n,)``.

    Raises ``ValueError`` naming the argument for bad input, and ``ChainBreakdownError``
    naming the layer when a statistic is NaN (or a non-φ statistic infinite), a norm meets a
    zero row, or a norm-free layer becomes identically zero.
    """
    spec, X, record, labels, k_c, backend_obj, tau = _validate(
        X, depth, trials, rng, weights, norm, activation, order, gains, gain_exponent, residual,
        weight_std, record_every, record, tau, gradients, labels, n_out, checkpoint_every,
        method, backend, n_singular, progress)
    root = tuple(int(v) for v in rng.integers(0, 2**63 - 1, size=2, dtype=np.int64))
    if gradients and labels is None:
        labels = rng.integers(0, spec.n_out, size=spec.n)

    # A fused engine (numba, cuda, reduced) runs the whole chain itself; the numpy reference
    # runs the per-layer driver below. An engine that cannot run the request refused it in
    # _validate, before any random number was drawn.
    if getattr(backend_obj, "fused", None) and backend_obj.fused(spec, record, gradients):
        return backend_obj.run_fused(spec, X, root, record=record, record_every=record_every,
                                     tau=tau, n_singular=n_singular, gradients=gradients,
                                     labels=labels, checkpoint_every=k_c)
    runner = _Chain(spec, backend_obj, root, record, record_every, tau, n_singular)
    return run_driver(runner, X, gradients=gradients, labels=labels, k_c=k_c, progress=progress)


def run_driver(runner, X, *, gradients, labels, k_c, progress) -> dict:
    """Forward pass (checkpoints every ``k_c`` layers when ``gradients``), then the backward
    pass, under one progress bar; shared by the chain drivers (``_Chain`` and its subclasses)."""
    bar = _progress_bar(progress, runner.spec.depth * (3 if gradients else 1))
    try:
        out = runner.forward(X, checkpoint_every=k_c if gradients else None, bar=bar)
        if gradients:
            out.update(runner.backward(labels, k_c, bar=bar))
            out["labels"] = np.asarray(labels, dtype=np.intp).copy()
    finally:
        if bar is not None:
            bar.close()
    return out


def chain_weights(d, n, depth, *, trials, rng, weights="haar", weight_std=None, n_out=10,
                  labels=None) -> dict:
    """The explicit weights ``simulate_chain(..., gradients=True)`` uses for the same ``rng``
    state: ``{"hidden": [W_1, ..., W_L] each (B, d, d), "readout": (B, n_out, d), "labels": (n,)}``.

    For checking the chain against an explicit network (e.g. ``depthcheck.kernels.forward_backward(X,
    hidden + [readout], labels, loss="xent", ...)``). Stores all L weights: small depths only.
    """
    X = np.zeros((check_positive_int(d, "d"), check_positive_int(n, "n")))
    spec, _, _, labels, _, backend_obj, _ = _validate(
        X, depth, trials, rng, weights, "none", "identity", "norm_act", None, None, None,
        weight_std, 1, (), 0.5, True, labels, n_out, None, "full", "numpy", 1, False)
    root = tuple(int(v) for v in rng.integers(0, 2**63 - 1, size=2, dtype=np.int64))
    if labels is None:
        labels = rng.integers(0, spec.n_out, size=spec.n)
    hidden = [backend_obj.weight(spec, layer_generator(root, l)) for l in range(1, depth + 1)]
    return {"hidden": hidden, "readout": backend_obj.readout(spec, readout_generator(root)),
            "labels": np.asarray(labels, dtype=np.intp)}


# --------------------------------------------------------------------------------------------
def finish_layer(spec: ChainSpec, l: int, out, log_c):
    """Rescale a norm-free layer's output to unit Frobenius norm (accumulating the log-scale)
    or check it is finite; shared by every chain driver. Returns (out with new H, log_c)."""
    Hn = out.H
    if spec.rescale:
        s = _fro(Hn)
        bad = ~(np.isfinite(s) & (s > 0))
        if np.any(bad):
            b = int(np.argmax(bad))
            raise ChainBreakdownError(
                f"layer {l}, trial {b}: the hidden representation has Frobenius norm "
                f"{s[b]!r} (all-zero or overflowing layer); the chain is degenerate")
        Hn = Hn / s[:, None, None]
        log_c = log_c + np.log(s)
    elif not np.all(np.isfinite(Hn)):
        b = int(np.argmax(~np.all(np.isfinite(Hn), axis=(-2, -1))))
        raise ChainBreakdownError(f"layer {l}, trial {b}: non-finite hidden representation")
    return out._replace(H=Hn), log_c


def _fro(A: np.ndarray) -> np.ndarray:
    """Per-trial Frobenius norm of a (B, p, q) stack."""
    return np.sqrt(np.einsum("bij,bij->b", A, A))


def _safe_log(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(x)


def _progress_bar(progress, total):
    if not progress:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, desc="simulate_chain", unit="layer")


class _Chain:
    """Driver: forward pass with recording and checkpoints, then a segmented backward pass."""

    def __init__(self, spec: ChainSpec, backend, root, record, record_every, tau, n_singular):
        self.spec, self.backend, self.root = spec, backend, root
        self.record, self.record_every = record, record_every
        self.tau, self.n_singular = tau, n_singular
        self.checkpoints = {}
        self.H_last = None

    # ---- one layer -------------------------------------------------------------------------
    def layer(self, l, H, log_c, W=None):
        """Layer l applied to H (rescaled by exp(log_c)); returns (LayerOutput, new log_c)."""
        spec = self.spec
        gen = None
        if W is None:
            gen = layer_generator(self.root, l)
            if not spec.matrix_free:  # the backward pass regenerates this very matrix
                W, gen = self.backend.weight(spec, gen), None
        A = self.backend.linear(spec, H, W=W, gen=gen)
        try:
            out = self.backend.nonlinear(spec, l, A)
        except ValueError as exc:
            raise ChainBreakdownError(f"layer {l}: {exc}") from exc
        return finish_layer(spec, l, out, log_c)

    # ---- forward ---------------------------------------------------------------------------
    def forward(self, X, *, checkpoint_every, bar):
        spec = self.spec
        layers = np.arange(0, spec.depth + 1, self.record_every)
        R = layers.size
        out = {"layers": layers}
        for name in self.record:
            k = min(self.n_singular, spec.d, spec.n)
            shape = (spec.trials, R, k) if name == "top_singular_values" else (spec.trials, R)
            out[name] = np.empty(shape)
        if spec.norm == "none":
            out["log_scale"] = np.empty((spec.trials, R))

        H = np.array(np.broadcast_to(X, (spec.trials, spec.d, spec.n)), dtype=np.float64)
        log_c = np.zeros(spec.trials)
        if spec.rescale:
            s = _fro(H)
            if np.any(s == 0):
                raise ValueError("X is identically zero; the chain is undefined")
            H = H / s[:, None, None]
            log_c = np.log(s)
        self._record(out, 0, H, np.broadcast_to(X, H.shape), log_c)
        if checkpoint_every is not None:
            self.checkpoints[0] = (H, log_c)
        for l in range(1, spec.depth + 1):
            o, log_c = self.layer(l, H, log_c)
            H = o.H
            if l % self.record_every == 0:
                self._record(out, l, H, o.pre_norm, log_c)
            if checkpoint_every is not None and l % checkpoint_every == 0 and l < spec.depth:
                self.checkpoints[l] = (H, log_c)
            if bar is not None:
                bar.update(1)
        self.H_last, self.log_c_last = H, log_c
        return out

    def _statistic(self, name, H, pre):
        return compute_statistic(name, H, pre, tau=self.tau, n_singular=self.n_singular)

    def _record(self, out, l, H, pre, log_c):
        j = l // self.record_every
        for name in self.record:
            try:
                v = self._statistic(name, H, pre)
            except ValueError as exc:  # e.g. r(H) = 0/0 for an all-zero H
                raise ChainBreakdownError(f"layer {l}: statistic {name!r}: {exc}") from exc
            allowed_inf = name == "isometry_gap"
            bad = np.isnan(v) | (np.isinf(v) & ~(allowed_inf & (v > 0)))
            if np.any(bad):
                b = int(np.argmax(bad.reshape(bad.shape[0], -1).any(axis=1)))
                raise ChainBreakdownError(
                    f"layer {l}, trial {b}: statistic {name!r} is {v[b]!r} (non-finite); the "
                    f"hidden representation is degenerate")
            out[name][:, j] = v
        if "log_scale" in out:
            out["log_scale"][:, j] = log_c + _safe_log(_fro(H))

    # ---- backward --------------------------------------------------------------------------
    def backward(self, labels, k_c, *, bar):
        spec, be = self.spec, self.backend
        layers = np.arange(0, spec.depth + 1, self.record_every)
        grad_layers = np.array(sorted({1} | {int(l) for l in layers if l >= 1}), dtype=np.intp)
        col = {int(l): j for j, l in enumerate(grad_layers)}
        log_grad = np.empty((spec.trials, grad_layers.size))
        log_gamma = 0.0 if spec.residual is None else math.log(abs(spec.residual))

        dH = self._readout_grad(labels)
        dH, lg = _normalise(dH, np.zeros(spec.trials), spec.depth)
        for s in reversed(range(0, spec.depth, k_c)):
            e = min(s + k_c, spec.depth)
            H, log_c = self.checkpoints.pop(s)
            tape = []
            for l in range(s + 1, e + 1):        # recompute the segment, keeping its weights
                W = be.weight(spec, layer_generator(self.root, l))
                o, log_c_new = self.layer(l, H, log_c, W=W)
                tape.append((H, log_c, W, o))
                H, log_c = o.H, log_c_new
                if bar is not None:
                    bar.update(1)
            for l in range(e, s, -1):
                H_prev, log_c_prev, W, o = tape.pop()
                dA, dH_prev = be.backward(spec, l, W, o, dH)
                if l in col:
                    # ∇W_l = γ δ_l H_{l-1}ᵀ with δ_l = e^{lg} dA and H_{l-1} = e^{log_c} H_prev
                    gn = _fro(dA @ np.swapaxes(H_prev, -1, -2))
                    log_grad[:, col[l]] = lg + log_c_prev + _safe_log(gn) + log_gamma
                dH, lg = _normalise(dH_prev, lg, l - 1)
                if bar is not None:
                    bar.update(1)
        bad = np.isnan(log_grad) | (log_grad == np.inf)
        if np.any(bad):
            b, j = (int(i) for i in np.argwhere(bad)[0])
            raise ChainBreakdownError(f"layer {grad_layers[j]}, trial {b}: log gradient norm is "
                                      f"{log_grad[b, j]!r}")
        return {"grad_layers": grad_layers, "log_grad_norm": log_grad}

    def _readout_grad(self, labels):
        """∂loss/∂H_L for loss = mean_j CE(softmax(W_out H_L[:, j]), labels_j).

        With rescaling the true logits are e^{log_c} W_out Ĥ_L; the factor is capped at e^700.
        Since |W_out Ĥ_L| <= 1 entrywise (‖Ĥ_L‖_F = 1, orthonormal rows), the capped logits are
        finite, and softmax is unchanged in float64 unless two logits differ by < 1e-301.
        """
        spec = self.spec
        W_out = self.backend.readout(spec, readout_generator(self.root))
        Z = W_out @ self.H_last
        if spec.rescale:
            Z = Z * np.exp(np.minimum(self.log_c_last, _LOG_SCALE_CAP))[:, None, None]
        Z = Z - Z.max(axis=-2, keepdims=True)
        with np.errstate(under="ignore"):
            E = np.exp(Z)
        p = E / E.sum(axis=-2, keepdims=True)
        cols = np.arange(spec.n)
        p[:, labels, cols] -= 1.0
        return np.swapaxes(W_out, -1, -2) @ (p / spec.n)


def _normalise(dH, lg, layer):
    """Divide the backward signal by its per-trial Frobenius norm, adding the log to ``lg``.
    An exactly zero signal stays zero with lg = -inf (all earlier gradients are zero)."""
    s = _fro(dH)
    if not np.all(np.isfinite(s)):
        b = int(np.argmax(~np.isfinite(s)))
        raise ChainBreakdownError(f"layer {layer}, trial {b}: the backward signal is not finite")
    pos = s > 0
    dH = dH / np.where(pos, s, 1.0)[:, None, None]
    return dH, lg + _safe_log(s)


# --------------------------------------------------------------------------------------------
def _is_real(v) -> bool:
    return (isinstance(v, numbers.Real) and not isinstance(v, bool)) or (
        isinstance(v, np.ndarray) and v.ndim == 0 and np.issubdtype(v.dtype, np.floating))


def _validate(X, depth, trials, rng, weights, norm, activation, order, gains, gain_exponent,
              residual, weight_std, record_every, record, tau, gradients, labels, n_out,
              checkpoint_every, method, backend, n_singular, progress):
    depth = check_positive_int(depth, "depth")
    trials = check_positive_int(trials, "trials")
    check_generator(rng, "rng")
    check_choice(weights, "weights", WEIGHTS)
    check_choice(norm, "norm", _norms.NORMS)
    check_choice(activation, "activation", _act.ACTIVATIONS)
    check_choice(order, "order", ORDERS)
    method, backend = _engines.resolve(method, backend)
    record_every = check_positive_int(record_every, "record_every")
    n_singular = check_positive_int(n_singular, "n_singular")
    if not isinstance(gradients, (bool, np.bool_)):
        raise ValueError(f"gradients must be True or False, got {gradients!r}")
    if not isinstance(progress, (bool, np.bool_)):
        raise ValueError(f"progress must be True or False, got {progress!r}")

    X = as_float_array(X, "X", ndim=(2, 3), dtype=np.float64)
    if X.ndim == 3 and X.shape[0] != trials:
        raise ValueError(f"X is batched with {X.shape[0]} trials but trials={trials}; pass X of "
                         f"shape (d, n) or (trials, d, n)")
    d, n = X.shape[-2], X.shape[-1]

    if weight_std is not None:
        if weights == "haar":
            raise ValueError("weight_std applies to gaussian/uniform weights only; Haar weights "
                             "are orthogonal (pass weight_std=None)")
        if not _is_real(weight_std) or not np.isfinite(weight_std) or weight_std <= 0:
            raise ValueError(f"weight_std must be a finite positive number, got {weight_std!r}")
        std = float(weight_std)
    else:
        std = 1.0 if weights == "haar" else 1.0 / math.sqrt(d)

    if gains is not None and gain_exponent is not None:
        raise ValueError("give at most one of gains and gain_exponent, not both")
    if gains is not None:
        g = as_float_array(gains, "gains", ndim=1, dtype=np.float64)
        if g.shape[0] != depth:
            raise ValueError(f"gains must hold one gain per layer ({depth}), got {g.shape[0]}")
    elif gain_exponent is not None:
        if not _is_real(gain_exponent) or not np.isfinite(gain_exponent):
            raise ValueError(f"gain_exponent must be a finite real number, got {gain_exponent!r}")
        g = np.arange(1, depth + 1, dtype=np.float64) ** (-float(gain_exponent))
    else:
        g = np.ones(depth)

    if residual is not None:
        if not _is_real(residual) or not np.isfinite(residual) or residual == 0:
            raise ValueError(f"residual must be None or a finite nonzero real γ, got {residual!r}")
        residual = float(residual)

    if isinstance(record, str):
        record = (record,)
    try:
        record = tuple(dict.fromkeys(record))
    except TypeError as exc:
        raise ValueError(f"record must be a sequence of statistic names, got {record!r}") from exc
    for name in record:
        if name not in STATISTICS:
            raise ValueError(f"record: unknown statistic {name!r}; choose from {STATISTICS}")

    if not _is_real(tau) or not (0.0 <= tau < 1.0):
        raise ValueError(f"tau must be a real number in [0, 1), got {tau!r}")
    tau = float(tau)

    n_out = check_positive_int(n_out, "n_out")
    if gradients and n_out > d:
        raise ValueError(f"n_out={n_out} exceeds the width d={d}: the readout needs orthonormal "
                         f"rows (n_out <= d)")
    if labels is not None:
        y = np.asarray(labels)
        if y.shape != (n,):
            raise ValueError(f"labels must have shape (n,) = ({n},), got {y.shape}")
        if y.dtype == bool or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"labels must be integers, got dtype {y.dtype}")
        if np.any(y < 0) or np.any(y >= n_out):
            raise ValueError(f"labels must lie in [0, n_out) = [0, {n_out}), got min {y.min()}, "
                             f"max {y.max()}")
        labels = y.astype(np.intp)

    if checkpoint_every is None:
        k_c = max(1, math.ceil(math.sqrt(depth)))
    else:
        k_c = check_positive_int(checkpoint_every, "checkpoint_every")

    spec = ChainSpec(trials=trials, d=d, n=n, depth=depth, weights=weights, weight_std=std,
                     norm=norm, activation=activation, order=order, gains=g, residual=residual,
                     matrix_free=(weights == "haar" and not gradients and d >= 64
                                  and 4 * n <= d),
                     rescale=(norm == "none" and activation in HOMOGENEOUS_ACTIVATIONS),
                     n_out=n_out)
    engine = _engines.get_engine(method, backend)
    why = engine.unsupported(spec, record, gradients)
    if why is not None:
        raise UnsupportedEngineError(f"method={method!r}, backend={backend!r} cannot run this "
                                     f"request: {why}")
    return spec, X, record, labels, k_c, engine, tau
