"""BN residual chains of Daneshmand et al. [1]_: the rank chain, the covariance chain, vanilla
products, QR Lyapunov exponents and the one-step drift of ‖M‖_F².

Recursions (1) (BN chain) and (6) (vanilla chain) of [1]_, Figs. 2, 3a, 3b, 8, 9; the Markov-chain
view is derived in ``docs/derivations/rank_markov.md``.

Lean chains for the Markov-chain experiments (10^4–10^6 cheap steps); every function is
vectorised over a leading trials axis B and draws all randomness from the
``numpy.random.Generator`` it is given. Layout as in the paper: H is (d, n), columns = samples.
The names of norms, activations and statistics are those of the chain engine
(``depthcheck.kernels.simulate_chain``); a name is shared only where the quantity is the same.

Layer (``rank_chain``)::

    A_l     = H_{l-1} + γ W_l H_{l-1}        (γ = inf: A_l = W_l H_{l-1}, no skip connection)
    H_l     = act(norm(A_l))

Norms (``NORMS``, the engine's ``depthcheck.kernels.nn.norms.NORMS``):

* "bn_nomean": [1]_'s Bn(A) = diag(A Aᵀ/n)^{-1/2} A (eq. 2 with α = 1, β = 0), rows of norm √n
  (tr M = d);
* "bn": standard BN without affine: each row's batch mean subtracted first, then as
  "bn_nomean" (the normalisation of the Fig. 2 code of [1]_; needed with ReLU, whose rows would
  otherwise die). A row is refused only when its centred norm is exactly zero (the engine also
  refuses rows whose spread is at rounding level);
* "rownorm": unit row norms diag(A Aᵀ)^{-1/2} A (tr M = d/n), eq. (4) of Meterez et al. [2]_;
* "none": the vanilla net (6), H_l = act(A_l), rescaled by a positive scalar so that
  ‖H_l‖_F² = d n (tr M = d). Statistics are scale invariant except ``frobenius_M``,
  ``top_eigs`` and the soft ranks, which then compare with the BN chain at the same total energy
  (the engine rescales to ‖H_l‖_F = 1 instead: its ``frobenius_M`` differs by (d n)² there).

Activations (``ACTIVATIONS``): "identity" and "relu", the engine's names; the engine's other
activations are refused by name.

Weights: "gaussian" N(0,1), "uniform" U[−√3, √3] (Def. 1 of [1]_, unit variance, symmetric),
"uniform_pos" U[0, 2√3] (the paper's adversarial 'w -> 2|w|' initialisation: unit variance but
mean √3, violating Def. 1); times ``weight_scale`` (the engine's ``weight_std``, whose default is
1/√d rather than 1).

References
----------
.. [1] Daneshmand, Kohler, Bach, Hofmann, Lucchi, "Batch Normalization Provably Avoids Rank
   Collapse for Randomly Initialised Deep Networks", NeurIPS 2020, arXiv:2003.01652.
.. [2] Meterez, Joudaki, Orabona, Immer, Rätsch, Daneshmand, "Towards Training Without Depth
   Limits: Batch Normalization Without Gradient Explosion", ICLR 2024, arXiv:2310.02012.
"""
from __future__ import annotations

import importlib
import math
import numbers

import numpy as np

from depthcheck.kernels.backends import get_rank_engine
from depthcheck.kernels.chain.errors import UnsupportedEngineError
from depthcheck.kernels.nn.activations import ACTIVATIONS as _ENGINE_ACTIVATIONS
from depthcheck.kernels.nn.norms import NORMS as _ENGINE_NORMS
from depthcheck.theory._checks import (as_float_array, check_choice, check_generator, check_positive_int)

__all__ = ["WEIGHT_LAWS", "NORMS", "ACTIVATIONS", "STATISTICS", "sample_weights", "normalise",
           "gaussian_input", "rank_chain", "covariance_chain", "lyapunov_qr", "one_step_drift"]

WEIGHT_LAWS = ("gaussian", "uniform", "uniform_pos")
#: every norm of the chain engine
NORMS = tuple(_ENGINE_NORMS)
#: the subset of the engine's activations implemented here
ACTIVATIONS = ("identity", "relu")
#: statistics ``rank_chain`` can record (see its docstring); "rank_lower_bound" and
#: "frobenius_M" are the engine's statistics of the same names, the others have no engine
#: counterpart (the engine's "soft_rank" rescales H to tr M = d first; "soft_rank_unscaled"
#: does not)
STATISTICS = ("rank_lower_bound", "frobenius_M", "g1", "g2", "offdiag", "soft_rank_unscaled",
              "soft_rank_singular_unscaled", "rank", "top_eigs", "log_sv")
_EIG_STATS = ("soft_rank_unscaled", "soft_rank_singular_unscaled", "top_eigs")
_SQ3 = math.sqrt(3.0)

# Former spellings, refused with the new one (never aliased: "bn" changed meaning).
_RENAMED_STATISTICS = {
    "r": "'rank_lower_bound' (the engine's name)",
    "frob2": "'frobenius_M' (the engine's name)",
    "soft_rank": "'soft_rank_unscaled' (#{λ_i(M) > τ} on H as it is; the engine's 'soft_rank' "
                 "first rescales H to tr M = d, which differs for 'rownorm' and after ReLU)",
    "soft_rank_singular": "'soft_rank_singular_unscaled'",
}
_CENTER_REMOVED = (
    "the center keyword was removed; norms follow the chain engine "
    "(depthcheck.kernels.nn.norms.NORMS): norm='bn' subtracts each row's batch mean (the former "
    "norm='bn', center=True), norm='bn_nomean' is Daneshmand et al.'s Bn without mean "
    "subtraction (the former norm='bn', center=False)")

def _refuse_removed(where: str, removed: dict) -> None:
    """``**removed`` of a public function: the former ``center`` keyword, or a typo."""
    if "center" in removed:
        raise TypeError(f"{where}: {_CENTER_REMOVED}")
    if removed:
        raise TypeError(f"{where}() got unexpected keyword argument(s) {sorted(removed)}")


def _check_activation(activation) -> str:
    if activation == "linear":
        raise ValueError("activation='linear' is now spelled 'identity' (the chain engine's "
                         "name, depthcheck.kernels.nn.activations.ACTIVATIONS)")
    if activation in _ENGINE_ACTIVATIONS and activation not in ACTIVATIONS:
        raise ValueError(f"activation={activation!r} is an activation of the chain engine "
                         f"(depthcheck.kernels.simulate_chain) that rank_chain does not "
                         f"implement; rank_chain implements {ACTIVATIONS}")
    return check_choice(activation, "activation", ACTIVATIONS)


def _check_statistic(name) -> str:
    if isinstance(name, str) and name in _RENAMED_STATISTICS:
        raise ValueError(f"record: statistic {name!r} is now spelled "
                         f"{_RENAMED_STATISTICS[name]}")
    return check_choice(name, "record", STATISTICS)


def _gamma(gamma) -> float:
    if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real) or math.isnan(gamma) \
            or gamma <= 0:
        raise ValueError(f"gamma must be a positive number or inf (no skip connection), "
                         f"got {gamma!r}")
    return float(gamma)


def _positive_float(v, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a finite positive number, got {v!r}")
    return float(v)


def _finite_float(v, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {v!r}")
    return float(v)


def _tau(tau) -> float:
    try:
        t = float(tau)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"tau must be a number in [0, 1), got {tau!r}") from exc
    if not 0.0 <= t < 1.0:
        raise ValueError(f"tau must lie in [0, 1), got {tau!r}")
    return t


def _engine(function: str, backend):
    """None for the numpy reference (this module), else the registered engine of ``function``
    (``depthcheck.kernels.backends.get_rank_engine``: ValueError for an unknown name,
    UnsupportedEngineError for an engine that does not exist or cannot run here)."""
    if isinstance(backend, str) and backend == "numpy":
        return None
    return get_rank_engine(function, backend)


def _drift_engine(backend):
    """None for the numpy reference, else the ``one_step_drift`` of the engine that runs
    ``rank_chain`` for ``backend`` (the registry lists rank_chain's engines; an engine without
    a one-step drift is refused by name)."""
    try:
        chain = _engine("rank_chain", backend)
    except UnsupportedEngineError as exc:
        raise UnsupportedEngineError(f"one_step_drift has no {backend!r} engine ({exc})") \
            from None
    if chain is None:
        return None
    fn = getattr(importlib.import_module(chain.__module__), "one_step_drift_numba", None)
    if fn is None:  # pragma: no cover - every registered rank engine has one
        raise UnsupportedEngineError(f"one_step_drift has no {backend!r} engine")
    return fn


def _sample(rng, shape, law: str, scale: float, mean: float = 0.0) -> np.ndarray:
    if law == "gaussian":
        W = rng.standard_normal(shape)
    elif law == "uniform":
        W = rng.uniform(-_SQ3, _SQ3, shape)
    else:  # uniform_pos
        W = rng.uniform(0.0, 2.0 * _SQ3, shape)
    if scale != 1.0:
        W *= scale
    if mean != 0.0:
        W += mean
    return W


def sample_weights(rng, shape, d, law="gaussian", scale=1.0) -> np.ndarray:
    """i.i.d. weight matrices of shape ``(*shape, d, d)`` with entries of law ``law`` × ``scale``.

    "gaussian": N(0,1); "uniform": U[−√3, √3]; "uniform_pos": U[0, 2√3] (see module doc).
    """
    rng = check_generator(rng)
    d = check_positive_int(d, "d")
    check_choice(law, "weights", WEIGHT_LAWS)
    shape = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
    return _sample(rng, shape + (d, d), law, _positive_float(scale, "scale"))


def _bn(A: np.ndarray, center: bool, unit: bool, where: str) -> np.ndarray:
    if center:
        A = A - A.mean(axis=-1, keepdims=True)
    ms = np.einsum("...ij,...ij->...i", A, A)[..., None]
    if not unit:
        ms = ms / A.shape[-1]
    bad = ~(ms > 0) | ~np.isfinite(ms)
    if np.any(bad):
        idx = np.argwhere(bad[..., 0])[0]
        raise ValueError(f"{where}: row {int(idx[-1])} (trial {tuple(int(i) for i in idx[:-1])})"
                         f" has zero or non-finite norm; the normalisation is undefined (with "
                         f"ReLU use norm='bn', which centres each row, as the paper's Fig. 2 "
                         f"code does)")
    return A / np.sqrt(ms)


#: the norms ``normalise`` applies ("none" is not a normalisation)
_ROW_NORMS = ("bn", "bn_nomean", "rownorm")


def normalise(H, norm) -> np.ndarray:
    """Normalise each row of ``H`` (shape ``(..., d, n)``) over the batch (the last axis).

    Parameters
    ----------
    H : array_like, shape (..., d, n)
    norm : {"bn_nomean", "bn", "rownorm"}
        "bn_nomean": Bn(H) = diag(H Hᵀ/n)^{-1/2} H of [1]_ (eq. 2 with α = 1, β = 0), rows of
        norm √n; "bn": each row's batch mean subtracted first (standard BN without affine, as
        in the Fig. 2 code of [1]_); "rownorm": unit row norms ([2]_ eq. (4)). The engine's
        names (``depthcheck.kernels.nn.norms``); same maps, this module's arithmetic.

    Returns
    -------
    numpy.ndarray
        float64, the shape of ``H``.

    Raises
    ------
    ValueError
        Naming ``norm`` for an unknown norm, ``H`` for bad input, and the row for a row of zero
        norm (after centring).

    References
    ----------
    .. [1] Daneshmand et al. (2020), arXiv:2003.01652, eq. (2) and Fig. 2.
    .. [2] Meterez et al. (2024), arXiv:2310.02012, eq. (4).

    Examples
    --------
    >>> import numpy as np
    >>> from depthcheck.kernels.chain.rank import normalise
    >>> H = normalise(np.array([[1.0, 3.0], [2.0, 2.0]]), "bn_nomean")
    >>> print(np.sum(H * H, axis=-1))
    [2. 2.]
    >>> print(normalise(np.array([[1.0, 3.0]]), "bn"))
    [[-1.  1.]]
    """
    check_choice(norm, "norm", _ROW_NORMS)
    H = as_float_array(H, "H", min_ndim=2).astype(np.float64, copy=False)
    return _bn(H, norm == "bn", norm == "rownorm", "H")


def bn(H, center=False):
    """Removed: "bn" now names the mean-subtracting BN; see :func:`normalise`."""
    raise TypeError("bn() was removed because 'bn' now names the mean-subtracting batch norm "
                    "(the chain engine's name): use normalise(H, 'bn_nomean') for the former "
                    "bn(H) (Daneshmand et al.'s Bn) and normalise(H, 'bn') for the former "
                    "bn(H, center=True)")


def gaussian_input(d, n, trials, rng) -> np.ndarray:
    """Gaussian input batch X (trials, d, n), entries N(0,1) (the inputs of Figs. 2, 3a of
    Daneshmand et al. 2020, arXiv:2003.01652)."""
    rng = check_generator(rng)
    return rng.standard_normal((check_positive_int(trials, "trials"), check_positive_int(d, "d"),
                                check_positive_int(n, "n")))


def _as_batch(X, trials) -> np.ndarray:
    X = as_float_array(X, "X", ndim=(2, 3)).astype(np.float64, copy=True)
    if X.ndim == 2:
        t = 1 if trials is None else check_positive_int(trials, "trials")
        X = np.broadcast_to(X, (t,) + X.shape).copy()
    elif trials is not None and check_positive_int(trials, "trials") != X.shape[0]:
        raise ValueError(f"trials={trials} does not match X.shape[0]={X.shape[0]}")
    return X


class _Recorder:
    """Computes the requested statistics of M = H Hᵀ/n at the recorded layers."""

    def __init__(self, record, B, n_rec, d, n, tau, top_k):
        self.record = tuple(record)
        self.tau = tau
        self.top_k = top_k
        self.out = {}
        for s in self.record:
            if s == "top_eigs":
                self.out[s] = np.empty((B, n_rec, min(top_k, d)))
            elif s == "log_sv":
                self.out[s] = np.empty((B, n_rec, min(top_k, d, n) - 1))
            else:
                self.out[s] = np.empty((B, n_rec))
        self.need_eig = any(s in _EIG_STATS for s in self.record)

    def __call__(self, i, H):
        n = H.shape[-1]
        M = np.matmul(H, H.swapaxes(-1, -2)) / n
        rec, out = self.record, self.out
        if any(s in rec for s in ("rank_lower_bound", "frobenius_M", "g1")):
            rowsq = np.sum(M * M, axis=-1)
            frob2 = rowsq.sum(axis=-1)
            if "frobenius_M" in rec:
                out["frobenius_M"][:, i] = frob2
            if "rank_lower_bound" in rec:
                out["rank_lower_bound"][:, i] = np.trace(M, axis1=-2, axis2=-1) ** 2 / frob2
            if "g1" in rec:
                out["g1"][:, i] = np.sum(rowsq * rowsq, axis=-1)
        if "g2" in rec:
            out["g2"][:, i] = np.sum(np.matmul(M, M) * M, axis=(-2, -1))
        if "offdiag" in rec:
            dg = np.sqrt(np.diagonal(M, axis1=-2, axis2=-1))
            C = M / dg[..., :, None] / dg[..., None, :]
            d = M.shape[-1]
            out["offdiag"][:, i] = (C.sum(axis=(-2, -1)) - d) / (d * (d - 1))
        if self.need_eig:
            lam = np.linalg.eigvalsh(M)[..., ::-1]          # descending
            if "soft_rank_unscaled" in rec:
                out["soft_rank_unscaled"][:, i] = np.sum(lam > self.tau, axis=-1)
            if "soft_rank_singular_unscaled" in rec:
                out["soft_rank_singular_unscaled"][:, i] = np.sum(lam > self.tau ** 2, axis=-1)
            if "top_eigs" in rec:
                out["top_eigs"][:, i] = lam[..., :out["top_eigs"].shape[-1]]
        if "rank" in rec or "log_sv" in rec:
            # singular values of H itself: accurate to ~eps σ_1 each, so ratios down to ~1e-15
            # are resolved (the eigenvalues of M = H Hᵀ/n carry errors of ~eps λ_1, i.e. they
            # lose every σ_k/σ_1 below ~1e-8, and a count on them is rounding noise)
            s = np.linalg.svd(H, compute_uv=False)
        if "rank" in rec:
            # numpy.linalg.matrix_rank(H): σ_k > σ_1 max(d, n) eps
            tol = s[..., :1] * (max(H.shape[-2], n) * np.finfo(float).eps)
            out["rank"][:, i] = np.sum(s > tol, axis=-1)
        if "log_sv" in rec:
            k = out["log_sv"].shape[-1] + 1
            with np.errstate(divide="ignore"):
                out["log_sv"][:, i] = np.log(s[..., 1:k]) - np.log(s[..., :1])


def rank_chain(X, depth, *, rng, trials=None, gamma=math.inf, weights="gaussian",
               weight_scale=1.0, weight_mean=0.0, norm="bn_nomean", activation="identity", burn_in=0,
               record_every=1, record=("rank_lower_bound",), tau=0.5, top_k=10,
               backend="numpy", **removed) -> dict:
    """Run the BN chain (or the vanilla chain) of Daneshmand et al. [1]_ and record statistics.

    Recursion (1) of [1]_ (``norm="bn_nomean"``, ``activation="identity"``):
    H_l = Bn(H_{l-1} + γ W_l H_{l-1}), γ = inf meaning Bn(W_l H_{l-1}); in general
    H_l = act(norm(A_l)). Recursion (6) (``norm="none"``): the vanilla net, rescaled to
    ‖H_l‖_F² = d n. See the module docstring for the norms, activations and weight laws.

    Parameters
    ----------
    X : array_like, shape (d, n) or (B, d, n)
        Input batch; a (d, n) input is broadcast to ``trials`` copies (default 1).
    depth : int
        Layers l = 1..depth are run.
    rng : numpy.random.Generator
    trials : int, optional
        B; must equal ``X.shape[0]`` for a 3-D ``X``.
    gamma : float
        γ > 0 of the residual branch, ``math.inf`` for no skip connection.
    weights : {"gaussian", "uniform", "uniform_pos"}
    weight_scale : float
        Multiplies every weight (the standard deviation for the centred laws).
    weight_mean : float
        Added to every weight after scaling (default 0). A non-zero mean breaks the symmetry
        of the law that Def. 1 and Lemma 4 of [1]_ assume; used to build laws that violate
        the paper's assumptions by a chosen amount.
    norm : {"bn_nomean", "bn", "rownorm", "none"}
        The chain engine's names (``depthcheck.kernels.nn.norms.NORMS``).
    activation : {"identity", "relu"}
        The chain engine's names; its other activations are refused by name.
    burn_in, record_every : int
        Statistics of H_l are recorded at l = burn_in + record_every, burn_in + 2 record_every,
        ... <= depth.
    record : sequence of str
        Statistics (``STATISTICS``) of H_l, with M = H_l H_lᵀ/n:

        * "rank_lower_bound": r(H) = tr(M)²/‖M‖_F² ([1]_ eq. (4)); "frobenius_M": ‖M‖_F² —
          the engine's statistics of the same names (for ``norm="none"`` on H rescaled to
          ‖H‖_F² = d n here, ‖H‖_F = 1 in the engine);
        * "g1": Σ_i ‖M_{i·}‖⁴; "g2": tr M³ (the two sides of [1]_'s regularity constant, Def. 3,
          as reconstructed in ``docs/derivations/rank_markov.md``);
        * "offdiag": mean over i != j of the correlation M_ij/√(M_ii M_jj) ([1]_ Lemma 4);
        * "soft_rank_unscaled": #{λ_i(M) > τ}; "soft_rank_singular_unscaled": #{σ_i/√n > τ} =
          #{λ_i > τ²} ([1]_ eq. (3), both readings of its threshold), on H as it is (tr M = d
          for "bn"/"bn_nomean" without ReLU and for "none", d/n for "rownorm"; the engine's
          "soft_rank" instead rescales H to tr M = d);
        * "rank": the numerical rank of H, #{σ_k(H) > σ_1(H) max(d, n) eps} from an SVD of H
          (``numpy.linalg.matrix_rank`` semantics). Not counted on the eigenvalues of M:
          they carry rounding errors of order eps λ_1, so such a count is rounding noise once
          H is numerically rank deficient (an exact rank-3 matrix would count ~6);
        * "top_eigs": the ``top_k`` largest eigenvalues of M ([1]_ Fig. 3b), shape (B, n_rec, k);
        * "log_sv": log(σ_k(H)/σ_1(H)) for k = 2..top_k from an SVD of H, shape (B, n_rec, k−1).
    tau : float
        τ in [0, 1) of the soft ranks.
    top_k : int
        k >= 2 of "top_eigs" and "log_sv".
    backend : {"numpy", "numba"}
        The engine (``depthcheck.kernels.backends.RANK_ENGINES``): "numpy" is this function's
        reference loop; "numba" the compiled kernel of
        ``depthcheck.kernels.backends.numba.rank`` (parallel over trials, weights from a
        Philox stream keyed by ``rng``: the same law, other random numbers). "cuda" has no
        engine here and raises ``UnsupportedEngineError``.

    Returns
    -------
    dict of numpy.ndarray
        ``"layers"`` (n_rec,) int, and each statistic (B, n_rec[, k]).

    Raises
    ------
    ValueError
        Naming the argument for bad input or a former spelling ("linear", "r", "frob2",
        "soft_rank", "soft_rank_singular": the message gives the new one), and if a row of H
        dies (zero norm) under a normalisation (ReLU without centring) or the vanilla chain
        over/underflows.
    TypeError
        For the removed ``center`` keyword (explaining "bn" / "bn_nomean") or an unknown one.

    References
    ----------
    .. [1] Daneshmand, Kohler, Bach, Hofmann, Lucchi, "Batch Normalization Provably Avoids Rank
       Collapse for Randomly Initialised Deep Networks", NeurIPS 2020, arXiv:2003.01652.

    Examples
    --------
    >>> import numpy as np
    >>> from depthcheck.kernels.chain.rank import gaussian_input, rank_chain
    >>> rng = np.random.default_rng(0)
    >>> out = rank_chain(gaussian_input(8, 8, 4, rng), 50, rng=rng, gamma=0.5,
    ...                  record_every=10, record=("rank_lower_bound", "frobenius_M"))
    >>> print(out["layers"], out["rank_lower_bound"].shape)
    [10 20 30 40 50] (4, 5)
    >>> # tr M = d on the BN chain, so r(H) ‖M‖_F² = d²
    >>> bool(np.allclose(out["rank_lower_bound"] * out["frobenius_M"], 8**2))
    True
    """
    _refuse_removed("rank_chain", removed)
    rng = check_generator(rng)
    X = _as_batch(X, trials)
    B, d, n = X.shape
    depth = check_positive_int(depth, "depth")
    burn_in = check_positive_int(burn_in, "burn_in", minimum=0)
    record_every = check_positive_int(record_every, "record_every")
    g = _gamma(gamma)
    check_choice(weights, "weights", WEIGHT_LAWS)
    scale = _positive_float(weight_scale, "weight_scale")
    mean = _finite_float(weight_mean, "weight_mean")
    check_choice(norm, "norm", NORMS)
    _check_activation(activation)
    tau = _tau(tau)
    top_k = check_positive_int(top_k, "top_k", minimum=2)
    if isinstance(record, str):
        raise ValueError(f"record must be a sequence of statistic names, got the string "
                         f"{record!r}")
    record = tuple(record)
    for s in record:
        _check_statistic(s)
    if burn_in >= depth:
        raise ValueError(f"burn_in={burn_in} must be smaller than depth={depth}")
    layers = np.arange(burn_in + record_every, depth + 1, record_every)
    engine = _engine("rank_chain", backend)
    if engine is not None:
        return engine(X, depth, rng=rng, gamma=g, weights=weights, weight_scale=scale,
                      weight_mean=mean, norm=norm, activation=activation, layers=layers,
                      record=record, tau=tau, top_k=top_k)
    rec = _Recorder(record, B, layers.size, d, n, tau, top_k)
    relu = activation == "relu"
    target = math.sqrt(d * n)

    H = X
    i = 0
    for l in range(1, depth + 1):
        W = _sample(rng, (B, d, d), weights, scale, mean)
        A = np.matmul(W, H)
        if math.isfinite(g):
            A *= g
            A += H
        if norm == "none":
            H = np.maximum(A, 0.0) if relu else A
            fn = np.sqrt(np.einsum("bij,bij->b", H, H))
            if not np.all((fn > 0) & np.isfinite(fn)):
                raise ValueError(f"vanilla chain: H became zero or non-finite at layer {l}")
            H = H * (target / fn)[:, None, None]
        else:
            H = _bn(A, norm == "bn", norm == "rownorm", f"layer {l}")
            if relu:
                H = np.maximum(H, 0.0)
        if i < layers.size and l == layers[i]:
            rec(i, H)
            i += 1
    out = {"layers": layers}
    out.update(rec.out)
    return out


def covariance_chain(M0, depth, *, rng, trials=1, gamma=0.01, weights="gaussian",
                     weight_scale=1.0, burn_in=0, record_every=1, record=("rank_lower_bound",),
                     tau=0.5, top_k=10, backend="numpy") -> dict:
    """The d×d covariance chain of the Fig. 3a/3b code of Daneshmand et al. (2020,
    arXiv:2003.01652): M ← D (I+γW) M (I+γW)ᵀ D, D = diag((I+γW) M (I+γW)ᵀ)^{-1/2}.

    Propagating M itself loses positive semi-definiteness in floating point (rounding in
    D M̃ D accumulates over thousands of steps), so the chain runs on a factor: M0 = F Fᵀ
    (eigen-factor, F d×d), H_0 = √d F, and H ← Bn(H + γWH) (``norm="bn_nomean"``) with n = d
    gives exactly M(H_l) = M_l. ``M0`` must be symmetric PSD (d, d).
    Returns what :func:`rank_chain` returns (statistics of M_l); ``backend`` as there.
    """
    M0 = as_float_array(M0, "M0", ndim=2).astype(np.float64, copy=False)
    d = M0.shape[0]
    if M0.shape != (d, d) or np.max(np.abs(M0 - M0.T)) > 1e-10 * max(1.0, np.max(np.abs(M0))):
        raise ValueError(f"M0 must be a symmetric (d, d) matrix, got shape {M0.shape}")
    lam, V = np.linalg.eigh(M0)
    if lam[0] < -1e-10 * max(lam[-1], 1e-300):
        raise ValueError(f"M0 must be positive semi-definite, smallest eigenvalue {lam[0]:.3g}")
    F = V * np.sqrt(np.clip(lam, 0.0, None))
    return rank_chain(math.sqrt(d) * F, depth, rng=rng, trials=trials, gamma=gamma,
                      weights=weights, weight_scale=weight_scale, norm="bn_nomean",
                      activation="identity", burn_in=burn_in, record_every=record_every,
                      record=record, tau=tau, top_k=top_k, backend=backend)


def lyapunov_qr(d, depth, *, trials, rng, gamma=math.inf, weights="gaussian", sigma=1.0,
                complex=False, burn_in=0, backend="numpy") -> np.ndarray:
    """QR (Benettin) estimate of the Lyapunov spectrum of products of i.i.d. random matrices
    (Lemma 3 of Daneshmand et al. 2020, arXiv:2003.01652, quantified).

    A_l = σ G_l (γ = inf) or I + γ σ G_l, G_l with i.i.d. entries of law ``weights`` (complex:
    standard complex Gaussian, E|g|² = 1, only with "gaussian"). Q_0 = I; A_l Q_{l-1} = Q_l R_l
    (diag R_l > 0 after sign fixing); μ̂_k = (1/(depth − burn_in)) Σ_{l > burn_in} log R_l[k, k].
    The first ``burn_in`` steps let Q align with the Oseledec filtration (removes the O(1/L)
    bias of the initial frame). Returns (trials, d) estimates, decreasing in k on average.
    ``backend``: "numpy" (this loop) or "numba" (``depthcheck.kernels.backends.numba.rank``:
    same law, Philox weights keyed by ``rng``, real products only: ``complex=True`` with
    "numba" raises ``UnsupportedEngineError``).
    References: C. M. Newman, "The distribution of Lyapunov exponents: exact results for
    random matrices", Comm. Math. Phys. 103, 1986 (the Gaussian spectrum); the QR method is
    described in ``docs/derivations/lyapunov.md``.
    """
    rng = check_generator(rng)
    d = check_positive_int(d, "d")
    trials = check_positive_int(trials, "trials")
    depth = check_positive_int(depth, "depth")
    burn_in = check_positive_int(burn_in, "burn_in", minimum=0)
    if burn_in >= depth:
        raise ValueError(f"burn_in={burn_in} must be smaller than depth={depth}")
    g = _gamma(gamma)
    check_choice(weights, "weights", WEIGHT_LAWS)
    s = _positive_float(sigma, "sigma")
    if not isinstance(complex, (bool, np.bool_)):
        raise ValueError(f"complex must be a bool, got {complex!r}")
    if complex and weights != "gaussian":
        raise ValueError("complex=True is only defined for weights='gaussian'")
    engine = _engine("lyapunov_qr", backend)
    if engine is not None:
        if complex:
            raise UnsupportedEngineError(f"lyapunov_qr(complex=True) has no {backend!r} engine "
                                         f"(complex products run on backend='numpy' only)")
        return engine(d, depth, trials=trials, rng=rng, gamma=g, weights=weights, sigma=s,
                      burn_in=burn_in)
    dtype = np.complex128 if complex else np.float64
    Q = np.broadcast_to(np.eye(d, dtype=dtype), (trials, d, d)).copy()
    acc = np.zeros((trials, d))
    eye = np.eye(d)
    for l in range(depth):
        if complex:
            G = (rng.standard_normal((trials, d, d)) + 1j * rng.standard_normal((trials, d, d)))
            G *= s / math.sqrt(2.0)
        else:
            G = _sample(rng, (trials, d, d), weights, s)
        A = G if not math.isfinite(g) else eye + g * G
        Q, R = np.linalg.qr(np.matmul(A, Q))
        if l >= burn_in:
            acc += np.log(np.abs(np.diagonal(R, axis1=-2, axis2=-1)))
    return acc / (depth - burn_in)


def one_step_drift(M, gamma, *, draws, rng, weights="gaussian", weight_scale=1.0,
                   antithetic=True, backend="numpy") -> np.ndarray:
    """Monte Carlo draws of the one-step change of ‖M‖_F² on the BN chain (Lemma 7 of
    Daneshmand et al. 2020, arXiv:2003.01652; derivation in ``docs/derivations/rank_markov.md``).

    M_+(W) = D M̃ D with M̃ = (I+γW) M (I+γW)ᵀ, D = diag(M̃)^{-1/2}. Each draw returns
    ‖M_+(W)‖_F² − ‖M‖_F² or, with ``antithetic`` (default), the pair average
    ½(‖M_+(W)‖² + ‖M_+(−W)‖²) − ‖M‖²: for symmetric laws −W has the law of W, and the pair
    cancels the O(γ) noise term, so draws/γ² have O(1) variance as γ → 0.
    ``M``: (d, d) or a stack (K, d, d) of BN-manifold matrices (unit diagonal, symmetric).
    Returns (draws,) or (draws, K).
    ``backend``: "numpy" (this function) or "numba" (``depthcheck.kernels.backends.numba.rank``:
    parallel over draws, the same law from its own generators keyed by ``rng``); "cuda" raises
    ``UnsupportedEngineError``.
    """
    rng = check_generator(rng)
    M = as_float_array(M, "M", ndim=(2, 3)).astype(np.float64, copy=False)
    if M.shape[-1] != M.shape[-2]:
        raise ValueError(f"M must be square, got shape {M.shape}")
    single = M.ndim == 2
    Ms = M[None] if single else M
    g = _gamma(gamma)
    if not math.isfinite(g):
        raise ValueError("gamma must be finite for the one-step drift (Lemma 7 is a small-γ "
                         "expansion)")
    draws = check_positive_int(draws, "draws")
    check_choice(weights, "weights", WEIGHT_LAWS)
    scale = _positive_float(weight_scale, "weight_scale")
    if antithetic and weights == "uniform_pos":
        raise ValueError("antithetic sampling needs a symmetric weight law; weights='uniform_pos' "
                         "is not symmetric")
    engine = _drift_engine(backend)
    if engine is not None:
        out = engine(Ms, g, draws=draws, rng=rng, weights=weights, weight_scale=scale,
                     antithetic=bool(antithetic))
        return out[:, 0] if single else out
    K, d, _ = Ms.shape
    f0 = np.sum(Ms * Ms, axis=(-2, -1))

    def frob_plus(Mt):
        dg = np.sqrt(np.diagonal(Mt, axis1=-2, axis2=-1))
        C = Mt / dg[..., :, None] / dg[..., None, :]
        return np.sum(C * C, axis=(-2, -1))

    # M̃(±W) = M ± γ(WM + MWᵀ) + γ² W M Wᵀ: the two antithetic partners share both products
    W = _sample(rng, (draws, K, d, d), weights, scale)
    P = np.matmul(W, Ms)
    S = P + P.swapaxes(-1, -2)
    Q = np.matmul(P, W.swapaxes(-1, -2))
    base = Ms + (g * g) * Q
    out = frob_plus(base + g * S)
    if antithetic:
        out = 0.5 * (out + frob_plus(base - g * S))
    out = out - f0
    return out[:, 0] if single else out
