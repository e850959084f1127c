"""Seed-002 simulations: BN residual chains, the covariance chain, vanilla products, QR Lyapunov.

Source: Daneshmand, Kohler, Bach, Hofmann & Lucchi, "Batch normalization provably avoids rank
collapse for randomly initialised deep networks" (NeurIPS 2020, arXiv:2003.01652), recursion (1)
(BN chain) and (6) (vanilla chain), Figs. 2, 3a, 3b, 8, 9; the Markov-chain view is derived in
``docs/derivations/rank_markov.md``.

Lean, seed-specific chains (the Markov-chain experiments need 10^4–10^6 cheap steps); every
function is vectorised over a leading trials axis B and draws all randomness from the
``numpy.random.Generator`` it is given. Layout as in the paper: H is (d, n), columns = samples.

Layer (``rank_chain``)::

    A_l     = H_{l-1} + γ W_l H_{l-1}        (γ = inf: A_l = W_l H_{l-1}, no skip connection)
    H_l     = act(norm(A_l))

* norm "bn": seed 002's Bn(A) = diag(A Aᵀ/n)^{-1/2} A (rows of norm √n), optionally centring each
  row first (the Fig. 2 code centres; needed with ReLU, whose rows would otherwise die);
  "rownorm": seed 001's unit-row-norm variant diag(A Aᵀ)^{-1/2} A (tr M = d/n);
  "none": the vanilla net (6), H_l = act(A_l), rescaled by a positive scalar so that
  ‖H_l‖_F² = d n (tr M = d) — statistics are scale invariant except the soft rank, which then
  compares with the BN chain at the same total energy.
* weights: "gaussian" N(0,1), "uniform" U[−√3, √3] (Def. 1, unit variance, symmetric),
  "uniform_pos" U[0, 2√3] (the paper's adversarial 'w -> 2|w|' initialisation: unit variance but
  mean √3, violating Def. 1); times ``weight_scale``.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from depthcheck.theory._checks import (as_float_array, check_choice, check_generator, check_positive_int)

__all__ = ["WEIGHT_LAWS", "NORMS", "ACTIVATIONS", "STATISTICS", "sample_weights", "bn",
           "gaussian_input", "rank_chain", "covariance_chain", "lyapunov_qr", "one_step_drift"]

WEIGHT_LAWS = ("gaussian", "uniform", "uniform_pos")
NORMS = ("bn", "rownorm", "none")
ACTIVATIONS = ("linear", "relu")
#: statistics ``rank_chain`` can record (see its docstring)
STATISTICS = ("r", "frob2", "g1", "g2", "offdiag", "soft_rank", "soft_rank_singular", "rank",
              "top_eigs", "log_sv")
_EIG_STATS = ("soft_rank", "soft_rank_singular", "rank", "top_eigs")
_SQ3 = math.sqrt(3.0)


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


def _tau(tau) -> float:
    try:
        t = float(tau)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"tau must be a number in [0, 1), got {tau!r}") from exc
    if not 0.0 <= t < 1.0:
        raise ValueError(f"tau must lie in [0, 1), got {tau!r}")
    return t


def _sample(rng, shape, law: str, scale: float) -> np.ndarray:
    if law == "gaussian":
        W = rng.standard_normal(shape)
    elif law == "uniform":
        W = rng.uniform(-_SQ3, _SQ3, shape)
    else:  # uniform_pos
        W = rng.uniform(0.0, 2.0 * _SQ3, shape)
    if scale != 1.0:
        W *= scale
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
                         f" has zero or non-finite norm; BN is undefined (with ReLU use "
                         f"center=True, as the paper's Fig. 2 code does)")
    return A / np.sqrt(ms)


def bn(H, center=False) -> np.ndarray:
    """Seed 002's Bn(H) = diag(H Hᵀ/n)^{-1/2} H (eq. 2 with α = 1, β = 0), rows of norm √n.

    ``center=True`` subtracts each row's batch mean first (standard BN without affine, as in the
    Fig. 2 code). A row with zero norm (after centring) raises ``ValueError`` naming ``H``.
    """
    H = as_float_array(H, "H", min_ndim=2).astype(np.float64, copy=False)
    return _bn(H, bool(center), False, "H")


def gaussian_input(d, n, trials, rng) -> np.ndarray:
    """Gaussian input batch X (trials, d, n), entries N(0,1) (the paper's Figs. 2, 3a inputs)."""
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
        if any(s in rec for s in ("r", "frob2", "g1")):
            rowsq = np.sum(M * M, axis=-1)
            frob2 = rowsq.sum(axis=-1)
            if "frob2" in rec:
                out["frob2"][:, i] = frob2
            if "r" in rec:
                out["r"][:, i] = np.trace(M, axis1=-2, axis2=-1) ** 2 / frob2
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
            if "soft_rank" in rec:
                out["soft_rank"][:, i] = np.sum(lam > self.tau, axis=-1)
            if "soft_rank_singular" in rec:
                out["soft_rank_singular"][:, i] = np.sum(lam > self.tau ** 2, axis=-1)
            if "rank" in rec:
                # numpy's matrix_rank tolerance on H: σ > σ_max max(d, n) eps, i.e. on λ = σ²/n
                tol = lam[..., :1] * (max(M.shape[-1], n) * np.finfo(float).eps) ** 2
                out["rank"][:, i] = np.sum(lam > tol, axis=-1)
            if "top_eigs" in rec:
                out["top_eigs"][:, i] = lam[..., :out["top_eigs"].shape[-1]]
        if "log_sv" in rec:
            # singular values of H itself: ratios down to ~1e-15 stay accurate (eigvalsh of M
            # would lose them below ~1e-8)
            s = np.linalg.svd(H, compute_uv=False)
            k = out["log_sv"].shape[-1] + 1
            with np.errstate(divide="ignore"):
                out["log_sv"][:, i] = np.log(s[..., 1:k]) - np.log(s[..., :1])


def rank_chain(X, depth, *, rng, trials=None, gamma=math.inf, weights="gaussian",
               weight_scale=1.0, norm="bn", center=False, activation="linear", burn_in=0,
               record_every=1, record=("r",), tau=0.5, top_k=10) -> dict:
    """Run the seed-002 chain for ``depth`` layers and record statistics of H_l.

    Recursion (1) of seed 002 (``norm="bn"``): H_l = act(Bn(H_{l-1} + γ W_l H_{l-1})), γ = inf
    meaning Bn(W_l H_{l-1}); recursion (6) (``norm="none"``): the vanilla net, rescaled to
    ‖H_l‖_F² = d n. See the module docstring for the options.

    ``X``: (d, n) (broadcast to ``trials`` copies) or (B, d, n). Layers l = 1..depth are run;
    statistics of H_l (M = H_l H_lᵀ/n) are recorded at l = burn_in + record_every,
    burn_in + 2 record_every, ... <= depth. Statistics (``STATISTICS``):

    * "r": r(H) = tr(M)²/‖M‖_F² (eq. 4); "frob2": ‖M‖_F²; "g1": Σ_i ‖M_{i·}‖⁴; "g2": tr M³ (Def. 3);
    * "offdiag": mean over i != j of the correlation M_ij/√(M_ii M_jj) (Lemma 4);
    * "soft_rank": #{λ_i(M) > τ}; "soft_rank_singular": #{σ_i/√n > τ} = #{λ_i > τ²} (eq. 3, both
      conventions); "rank": numerical rank (numpy's matrix_rank tolerance);
    * "top_eigs": the ``top_k`` largest eigenvalues of M (Fig. 3b), shape (B, n_rec, k);
    * "log_sv": log(σ_k(H)/σ_1(H)) for k = 2..top_k from an SVD of H, shape (B, n_rec, k−1).

    Returns ``{"layers": (n_rec,) int array, stat: (B, n_rec[, k]) array, ...}``.
    Raises ``ValueError`` naming the argument for bad input, and if a row of H dies (zero norm)
    under BN (ReLU without centring) or the vanilla chain over/underflows.
    """
    rng = check_generator(rng)
    X = _as_batch(X, trials)
    B, d, n = X.shape
    depth = check_positive_int(depth, "depth")
    burn_in = check_positive_int(burn_in, "burn_in", minimum=0)
    record_every = check_positive_int(record_every, "record_every")
    g = _gamma(gamma)
    check_choice(weights, "weights", WEIGHT_LAWS)
    scale = _positive_float(weight_scale, "weight_scale")
    check_choice(norm, "norm", NORMS)
    check_choice(activation, "activation", ACTIVATIONS)
    tau = _tau(tau)
    top_k = check_positive_int(top_k, "top_k", minimum=2)
    record = tuple(record)
    for s in record:
        check_choice(s, "record", STATISTICS)
    if burn_in >= depth:
        raise ValueError(f"burn_in={burn_in} must be smaller than depth={depth}")
    layers = np.arange(burn_in + record_every, depth + 1, record_every)
    rec = _Recorder(record, B, layers.size, d, n, tau, top_k)
    relu = activation == "relu"
    center = bool(center)
    target = math.sqrt(d * n)

    H = X
    i = 0
    for l in range(1, depth + 1):
        W = _sample(rng, (B, d, d), weights, scale)
        A = np.matmul(W, H)
        if math.isfinite(g):
            A *= g
            A += H
        if norm == "none":
            if center:
                A -= A.mean(axis=-1, keepdims=True)
            H = np.maximum(A, 0.0) if relu else A
            fn = np.sqrt(np.einsum("bij,bij->b", H, H))
            if not np.all((fn > 0) & np.isfinite(fn)):
                raise ValueError(f"vanilla chain: H became zero or non-finite at layer {l}")
            H = H * (target / fn)[:, None, None]
        else:
            H = _bn(A, center, norm == "rownorm", f"layer {l}")
            if relu:
                H = np.maximum(H, 0.0)
        if i < layers.size and l == layers[i]:
            rec(i, H)
            i += 1
    out = {"layers": layers}
    out.update(rec.out)
    return out


def covariance_chain(M0, depth, *, rng, trials=1, gamma=0.01, weights="gaussian",
                     weight_scale=1.0, burn_in=0, record_every=1, record=("r",), tau=0.5,
                     top_k=10) -> dict:
    """The d×d covariance chain of the Fig. 3a/3b code: M ← D (I+γW) M (I+γW)ᵀ D,
    D = diag((I+γW) M (I+γW)ᵀ)^{-1/2}.

    Propagating M itself loses positive semi-definiteness in floating point (rounding in
    D M̃ D accumulates over thousands of steps), so the chain runs on a factor: M0 = F Fᵀ (eigen-factor, F d×d), H_0 = √d F, and
    H ← Bn(H + γWH) with n = d gives exactly M(H_l) = M_l. ``M0`` must be symmetric PSD (d, d).
    Returns what :func:`rank_chain` returns (statistics of M_l).
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
                      weights=weights, weight_scale=weight_scale, norm="bn", center=False,
                      activation="linear", burn_in=burn_in, record_every=record_every,
                      record=record, tau=tau, top_k=top_k)


def lyapunov_qr(d, depth, *, trials, rng, gamma=math.inf, weights="gaussian", sigma=1.0,
                complex=False, burn_in=0) -> np.ndarray:
    """QR (Benettin) estimate of the Lyapunov spectrum of products of i.i.d. random matrices.

    A_l = σ G_l (γ = inf) or I + γ σ G_l, G_l with i.i.d. entries of law ``weights`` (complex:
    standard complex Gaussian, E|g|² = 1, only with "gaussian"). Q_0 = I; A_l Q_{l-1} = Q_l R_l
    (diag R_l > 0 after sign fixing); μ̂_k = (1/(depth − burn_in)) Σ_{l > burn_in} log R_l[k, k].
    The first ``burn_in`` steps let Q align with the Oseledec filtration (removes the O(1/L)
    bias of the initial frame). Returns (trials, d) estimates, decreasing in k on average.
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
                   antithetic=True) -> np.ndarray:
    """Monte Carlo draws of the one-step change of ‖M‖_F² on the BN chain (Lemma 7).

    M_+(W) = D M̃ D with M̃ = (I+γW) M (I+γW)ᵀ, D = diag(M̃)^{-1/2}. Each draw returns
    ‖M_+(W)‖_F² − ‖M‖_F² or, with ``antithetic`` (default), the pair average
    ½(‖M_+(W)‖² + ‖M_+(−W)‖²) − ‖M‖²: for symmetric laws −W has the law of W, and the pair
    cancels the O(γ) noise term, so draws/γ² have O(1) variance as γ → 0.
    ``M``: (d, d) or a stack (K, d, d) of BN-manifold matrices (unit diagonal, symmetric).
    Returns (draws,) or (draws, K).
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
