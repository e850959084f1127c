"""Deep Monte Carlo chains without storing weights: ``simulate_chain``.

Runs B independent random networks of depth L (thousands of layers) on a shared or per-trial
input, drawing each layer's weights on the fly, and records scale-free statistics of the hidden
representations every k layers, and optionally the log-norm of the loss gradient with respect
to the hidden weights (Meterez et al., arXiv:2310.02012, Fig. 3 / Theorem 5), backpropagated
in log scale.

The arguments are checked once, into a ``depthcheck.kernels.chain.spec.ChainSpec``, which is
all an engine receives; the engines are listed in ``depthcheck.kernels.backends``. The numpy
reference engine's layer is ``depthcheck.kernels.backends.numpy`` (its algebra:
``depthcheck.kernels.nn.layer``), the statistics are ``depthcheck.kernels.chain.statistics``.
"""
from __future__ import annotations

import math

import numpy as np

from depthcheck.theory._checks import check_positive_int
from depthcheck.kernels.chain.codes import LOG_SCALE_CAP
from depthcheck.kernels.chain.errors import (ChainBreakdownError, UnsupportedEngineError,
                                             check_log_grad)
from depthcheck.kernels.chain.spec import ChainSpec
from depthcheck.kernels.chain.statistics import DEFAULT_RECORD, STATISTICS, compute_statistic
from depthcheck.kernels.backends.numpy import layer_generator, readout_generator

__all__ = ["simulate_chain", "chain_weights", "ChainSpec", "ChainBreakdownError",
           "UnsupportedEngineError", "STATISTICS", "DEFAULT_RECORD"]

# LOG_SCALE_CAP (codes.py): logits scaled by a capped factor stay finite (see _readout_grad).


def simulate_chain(X, depth, *, trials, rng, weights="haar", norm="rownorm",
                   activation="identity", order="norm_act", gains=None, gain_exponent=None,
                   residual=None, weight_std=None, record_every=1, record=DEFAULT_RECORD,
                   tau=0.5, gradients=False, labels=None, n_out=10, checkpoint_every=None,
                   method="full", backend="numpy", n_singular=10, progress=False) -> dict:
    """Simulate ``trials`` random networks of ``depth`` square layers and record statistics.

    Network (as ``depthcheck.kernels.forward_backward``, all hidden layers d×d with
    d = ``X.shape[-2]``; Meterez et al. [1]_ eq. (3) for ``weights="haar", norm="rownorm",
    activation="identity"``)::

        H_0 = X,   A_l = W_l H_{l-1}   (residual=γ: A_l = H_{l-1} + γ W_l H_{l-1}, [2]_ eq. (1))
        norm_act:  H_l = act(g_l · norm(A_l));   act_norm:  H_l = norm(act(g_l · A_l))

    for l = 1..L, with g_l from ``gains`` (one per layer) or g_l = l^(-r) for
    ``gain_exponent=r`` (activation shaping, [1]_ Sec. 5 eq. (11)), default g_l = 1.

    Parameters
    ----------
    X : array_like, shape ``(d, n)`` or ``(trials, d, n)``
        Input shared by all trials, or one per trial; columns are the n samples.
    depth : int
        L >= 1 hidden layers.
    trials : int
        B >= 1 independent networks, run vectorised.
    rng : numpy.random.Generator
        Consumed for two 63-bit integers (the root of every weight stream) and then, when
        ``gradients`` and ``labels is None``, for the labels.
    weights : {"haar", "gaussian", "uniform"}
        ``"haar"``: Haar on O(d), Stewart's Householder construction
        (``depthcheck.kernels.random.haar``), applied matrix-free (~4d²n flops, a Python
        loop over d) when ``gradients=False``, d >= 64 and n <= d/4, where measured numpy
        timings favour it, otherwise the same W_l formed by LAPACK orgqr and multiplied;
        ``"gaussian"``: i.i.d. N(0, std²); ``"uniform"``: i.i.d. uniform[-√3, √3]·std.
    norm : str
        One of ``depthcheck.kernels.nn.norms.NORMS``. ``"none"`` (vanilla chain) with a
        positively homogeneous activation (identity, relu, leaky_relu) divides H by its
        Frobenius norm after every layer (and X at layer 0), which changes the chain only by
        a scalar, so thousands of layers never overflow; bounded activations (tanh, sin,
        sigmoid) run unscaled. Either way ``out["log_scale"]`` = log‖H_l‖_F of the
        *unrescaled* network (Lyapunov growth: ``np.diff(log_scale) / record_every``).
    activation : str
        One of ``depthcheck.kernels.nn.activations.ACTIVATIONS``.
    order : {"norm_act", "act_norm"}
        Where the norm sits (``depthcheck.kernels.nn.layer``).
    gains, gain_exponent : array_like of shape ``(depth,)``, float, optional
        Per-layer gains g_l, or r for g_l = l^(-r); at most one of the two.
    residual : float, optional
        γ != 0 of the residual form.
    weight_std : float, optional
        Standard deviation of gaussian/uniform entries, default 1/√d (variance preserving;
        [2]_ uses 1.0 with a residual γ). Not allowed with ``"haar"``.
    record_every : int
        k: statistics are recorded at layers 0, k, 2k, ... <= L (layer 0 = the input X; the
        last layer L only when k divides L). ``out["layers"]`` lists them.
    record : sequence of str
        Names from ``depthcheck.kernels.chain.statistics.STATISTICS``: ``isometry_gap``
        φ(H) ([1]_ eq. (5); +inf when H is rank deficient, e.g. n > d: allowed, not an
        error), ``rank_lower_bound`` r(H) ([2]_ eq. (4)), ``soft_rank`` rank_τ(cH) ([2]_
        eq. (3), with ``tau`` and c such that tr(c²HHᵀ/n) = d), ``row_norm_cv`` (CV of the
        row norms of the normalisation's input: A_l for norm_act or norm="none",
        act(g_l A_l) for act_norm; of X at layer 0), ``frobenius_M`` ‖HHᵀ/n‖_F², and
        ``top_singular_values`` (the ``n_singular`` largest). The last two depend on scale:
        for ``norm="none"`` they refer to the rescaled H with ‖H‖_F = 1.
    tau : float
        Threshold of ``soft_rank``, in [0, 1).
    gradients : bool
        Also backpropagate a cross-entropy loss (Notes) and return the weight-gradient
        log-norms ([1]_ Fig. 3 / Theorem 5).
    labels : array_like of int, shape ``(n,)``, optional
        Classes in [0, n_out) shared by all trials; drawn uniformly from ``rng`` when None.
    n_out : int
        Number of classes of the readout, <= d.
    checkpoint_every : int, optional
        k_c, default ceil(√L): H is stored every k_c layers in the forward pass and each
        segment is recomputed in the backward pass (results do not depend on k_c).
    method : {"full", "reduced"}
        ``"full"`` applies d×d weights; ``"reduced"`` (n <= d, Haar or Gaussian weights)
        replaces W·H by an exactly-in-law O(d n²) step (``depthcheck.kernels.chain.reduced``).
    backend : {"numpy", "numba", "cuda"}
        ``"numpy"`` is the reference (always available), ``"numba"`` fused CPU kernels,
        ``"cuda"`` (alias ``"cupy"``) fused CUDA kernels. The support table of every
        (method, backend) pair is in the docstring of ``depthcheck.kernels.backends``.
        ``"reduced"`` / ``"reduced_numba"`` are the earlier spellings of ``method="reduced"``
        with numpy / numba. The fused backends draw Philox random numbers: same law as numpy,
        other samples.
    n_singular : int
        How many singular values ``top_singular_values`` keeps.
    progress : bool
        Show a tqdm bar over layers.

    Returns
    -------
    dict of numpy.ndarray
        ``"layers"`` ``(R,)``; each recorded statistic ``(B, R)`` (``top_singular_values``:
        ``(B, R, min(n_singular, d, n))``); ``"log_scale"`` ``(B, R)`` when ``norm="none"``;
        with gradients ``"grad_layers"`` ``(G,)``, ``"log_grad_norm"`` ``(B, G)`` and
        ``"labels"`` ``(n,)``.

    Raises
    ------
    ValueError
        Naming the argument, for bad input (``depthcheck.kernels.chain.spec.ChainSpec``).
    UnsupportedEngineError
        When (``method``, ``backend``) has no engine, cannot run on this machine or cannot
        run this request; it names what is unsupported (never a silent fallback).
    ChainBreakdownError
        Naming the layer and trial, when a statistic is NaN (or a statistic other than φ is
        infinite), a norm meets a zero row, or a norm-free layer becomes identically zero.

    See Also
    --------
    chain_weights : the explicit weights of a chain, for an independent check.
    depthcheck.kernels.chain.spec.ChainSpec.from_arguments : the argument checks.

    Notes
    -----
    Gradients ([1]_ Fig. 3 / Theorem 5): a readout W_out ``(n_out, d)`` with orthonormal rows
    (a uniform Stiefel frame, transposed), logits Z = W_out H_L, loss = mean over the n samples
    of the softmax cross-entropy on ``labels``. ``out["log_grad_norm"][:, j]`` =
    log‖∂loss/∂W_l‖_F for l = ``out["grad_layers"][j]``, where ∂loss/∂W_l = δ_l H_{l-1}ᵀ with
    δ_l = ∂loss/∂A_l (× γ with a residual). ``grad_layers`` = layer 1 (the W_1 of [1]_ Fig. 3)
    and every recorded layer >= 1. The backward signal ∂loss/∂H_l is carried with unit
    Frobenius norm per trial and its log-norm accumulated separately, so neither exploding nor
    vanishing gradients over/underflow; an exactly zero gradient gives -inf (allowed).

    Randomness: layer l's weights come from
    ``depthcheck.kernels.backends.numpy.layer_generator(root, l)`` (the readout from spawn
    key 0), so W_l is regenerated bit-identically in the backward pass (only one layer's
    weights, or one segment's, exist at any time). The matrix-free and the explicit Haar path
    apply the same W_l (same random numbers), so statistics agree between ``gradients=True``
    and ``False`` to rounding; the same seed gives identical outputs.

    Memory (float64 words, B trials, L layers, width d, batch n): without gradients
    O(B·d·(n + d)), independent of L, plus the recorded statistics O(B·L/k). With gradients
    O(B·(L/k_c)·d·n) for the checkpoints plus O(B·k_c·d·(3n + d)) for one recomputed segment,
    i.e. O(B·√L·d·(n + d)) with the default k_c; compute is about 2x the forward pass plus
    the backward pass.

    References
    ----------
    .. [1] Meterez, Joudaki, Orabona, Immer, Rätsch, Daneshmand, "Towards Training Without
       Depth Limits: Batch Normalization Without Gradient Explosion", ICLR 2024,
       arXiv:2310.02012: eq. (3) (the chain), eq. (5) (φ), Theorem 1 (φ decays with depth,
       Fig. 1), Theorem 5 (bounded gradients, Fig. 3), Sec. 5 eq. (11) (shaping gains).
    .. [2] Daneshmand, Kohler, Bach, Hofmann, Lucchi, "Batch Normalization Provably Avoids
       Rank Collapse for Randomly Initialised Deep Networks", NeurIPS 2020, arXiv:2003.01652:
       eq. (1) (residual recursion), eqs. (3)-(4) (soft rank, r(H)).

    Examples
    --------
    Theorem 1 of [1]_: with Haar weights and row normalisation the isometry gap of a batch
    decays with depth.

    >>> import numpy as np
    >>> from depthcheck.kernels import simulate_chain
    >>> X = np.random.default_rng(0).standard_normal((16, 4))
    >>> out = simulate_chain(X, 40, trials=3, rng=np.random.default_rng(1), record_every=20)
    >>> out["layers"]
    array([ 0, 20, 40])
    >>> out["isometry_gap"].shape
    (3, 3)
    >>> bool(np.all(out["isometry_gap"][:, -1] < out["isometry_gap"][:, 0]))
    True

    With gradients (log-norms of ∂loss/∂W_l at layer 1 and at the recorded layers):

    >>> g = simulate_chain(X, 40, trials=3, rng=np.random.default_rng(1), record_every=20,
    ...                    gradients=True, n_out=4)
    >>> g["grad_layers"], g["log_grad_norm"].shape
    (array([ 1, 20, 40]), (3, 3))
    >>> bool(np.all(np.isfinite(g["log_grad_norm"])))
    True
    """
    spec = ChainSpec.from_arguments(
        X, depth, trials=trials, rng=rng, weights=weights, norm=norm, activation=activation,
        order=order, gains=gains, gain_exponent=gain_exponent, residual=residual,
        weight_std=weight_std, record_every=record_every, record=record, tau=tau,
        gradients=gradients, labels=labels, n_out=n_out, checkpoint_every=checkpoint_every,
        method=method, backend=backend, n_singular=n_singular, progress=progress)
    return run_spec(spec, rng)


def run_spec(spec: ChainSpec, rng) -> dict:
    """Run the chain described by a validated ``spec`` on its engine, drawing the root of the
    weight streams (and the labels, when needed) from ``rng``."""
    engine = spec.engine()
    root = tuple(int(v) for v in rng.integers(0, 2**63 - 1, size=2, dtype=np.int64))
    if spec.gradients and spec.labels is None:
        spec = spec._replace(labels=rng.integers(0, spec.n_out, size=spec.n))

    # A fused engine (numba, cuda, reduced) runs the whole chain itself; the numpy reference
    # runs the per-layer driver below. An engine that cannot run the request refused it when
    # the spec was built, before any random number was drawn.
    if getattr(engine, "fused", None) and engine.fused(spec, spec.record, spec.gradients):
        return engine.run_fused(spec, spec.X, root, record=spec.record,
                                record_every=spec.record_every, tau=spec.tau,
                                n_singular=spec.n_singular, gradients=spec.gradients,
                                labels=spec.labels, checkpoint_every=spec.checkpoint_every)
    runner = _Chain(spec, engine, root)
    return run_driver(runner, spec.X, gradients=spec.gradients, labels=spec.labels,
                      k_c=spec.checkpoint_every, progress=spec.progress)


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
    """The explicit weights ``simulate_chain(..., gradients=True)`` uses for the same ``rng``.

    For checking the chain against an explicit network (e.g.
    ``depthcheck.kernels.forward_backward(X, hidden + [readout], labels, loss="xent", ...)``).
    Stores all L weights: small depths only.

    Parameters
    ----------
    d, n : int
        Width and batch size of the chain's input X ``(d, n)``.
    depth, trials, rng, weights, weight_std, n_out, labels
        As in ``simulate_chain`` (same checks; ``rng`` is consumed the same way).

    Returns
    -------
    dict
        ``{"hidden": [W_1, ..., W_L] each (B, d, d), "readout": (B, n_out, d),
        "labels": (n,)}``.

    Raises
    ------
    ValueError
        Naming the argument, for bad input.

    References
    ----------
    .. [1] Meterez, Joudaki, Orabona, Immer, Rätsch, Daneshmand, "Towards Training Without
       Depth Limits: Batch Normalization Without Gradient Explosion", ICLR 2024,
       arXiv:2310.02012: eq. (3) (Haar weights), Fig. 3 (the orthonormal readout).

    Examples
    --------
    >>> import numpy as np
    >>> from depthcheck.kernels.chain.driver import chain_weights
    >>> w = chain_weights(5, 3, 2, trials=2, rng=np.random.default_rng(0), n_out=2)
    >>> [W.shape for W in w["hidden"]], w["readout"].shape, w["labels"].shape
    ([(2, 5, 5), (2, 5, 5)], (2, 2, 5), (3,))
    >>> W = w["hidden"][0][0]
    >>> np.allclose(W @ W.T, np.eye(5))
    True
    """
    X = np.zeros((check_positive_int(d, "d"), check_positive_int(n, "n")))
    spec = ChainSpec.from_arguments(X, depth, trials=trials, rng=rng, weights=weights,
                                    norm="none", weight_std=weight_std, record=(),
                                    gradients=True, labels=labels, n_out=n_out)
    engine = spec.engine()
    root = tuple(int(v) for v in rng.integers(0, 2**63 - 1, size=2, dtype=np.int64))
    labels = spec.labels
    if labels is None:
        labels = rng.integers(0, spec.n_out, size=spec.n)
    hidden = [engine.weight(spec, layer_generator(root, l)) for l in range(1, spec.depth + 1)]
    return {"hidden": hidden, "readout": engine.readout(spec, readout_generator(root)),
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

    def __init__(self, spec: ChainSpec, backend, root):
        self.spec, self.backend, self.root = spec, backend, root
        self.record, self.record_every = spec.record, spec.record_every
        self.tau, self.n_singular = spec.tau, spec.n_singular
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
        check_log_grad(log_grad, grad_layers)
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
            Z = Z * np.exp(np.minimum(self.log_c_last, LOG_SCALE_CAP))[:, None, None]
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
