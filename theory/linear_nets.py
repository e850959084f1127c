"""Deep linear networks: layer balance and Saxe et al.'s mode dynamics.

Sources: seed ``003_adff57ada98dbb3a.txt`` (Basu, Mukherjee, Vasudevan, "Layer Dynamics of
Linearised Neural Nets", arXiv 1904.10689), formulas as reconstructed in
``shared/research/rank_lnn_lcw.md`` §B; Arora, Cohen, Hazan (2018, arXiv 1802.06509);
Saxe, McClelland, Ganguli (2013, arXiv 1312.6120); Du, Hu, Lee (2018, arXiv 1806.00900).

Network (seed 003 eq. (3)): f(x) = W_N ⋯ W_1 x, W_j ∈ R^{d_j × d_{j−1}}, no biases; the loss
depends on the weights only through W_e = W_N ⋯ W_1. Gradients G_j = ∂L/∂W_j =
(W_N⋯W_{j+1})ᵀ ∇L¹(W_e) (W_{j−1}⋯W_1)ᵀ (eq. (5)) satisfy, at *every* point,

    W_{j+1}ᵀ G_{j+1} = G_j W_jᵀ                                                    (eq. (7))

(both sides are (W_N⋯W_{j+1})ᵀ ∇L¹ (W_j⋯W_1)ᵀ). Everything below follows from (7).

Layer balance
-------------
Balance matrix D_j = W_{j+1}ᵀ W_{j+1} − W_j W_jᵀ (d_j × d_j), j = 1..N−1.

* Gradient flow (Theorem 1 eq. (6), Lemma 2 eq. (8); Arora et al. 2018): dD_j/dt = 0, so
  D_j(t) = C_j := D_j(0); with coupled weight decay λ (dW/dt = −ηλW − η∂L/∂W),
  D_j(t) = e^{−2ηλt} C_j.
* Frobenius consequence (Lemma 2, Cor. 2.1–2.2): tr D_j = ||W_{j+1}||_F² − ||W_j||_F² = tr C_j for
  all t, hence | ||W_{j+1}||_F − ||W_j||_F | ≤ √|tr C_j| (from |a − b|² ≤ |a² − b²| for a,b ≥ 0),
  and C_j = 0 (balanced / "orthogonal" init) keeps adjacent norms equal for all t.
* Gradient descent W_j ← (1 − ηλ) W_j − η G_j (seed eq. (4); λ = 0 for plain GD), derived here by
  expanding the product and cancelling the O(η) cross terms with (7):

      D_j(k+1) = (1 − ηλ)² D_j(k) + η² ( G_{j+1}ᵀ G_{j+1} − G_j G_jᵀ ),          exactly.

  Summing K = T/η steps (λ = 0): D_j(T) − D_j(0) = η Σ_k η (G_{j+1}ᵀG_{j+1} − G_jG_jᵀ)(k)
  = η ∫_0^T (G_{j+1}ᵀG_{j+1} − G_jG_jᵀ) dt + O(η²): the drift at fixed training time T is
  *linear in η* with the gradient-flow integral as its coefficient (O(η) per unit time).
* Per-layer step sizes η_j (not a gradient flow of L): the cross terms no longer cancel,

      D_j(k+1) − D_j(k) = −(η_{j+1} − η_j) S_j + η_{j+1}² G_{j+1}ᵀG_{j+1} − η_j² G_j G_jᵀ,
      S_j = W_{j+1}ᵀG_{j+1} + G_{j+1}ᵀW_{j+1},

  i.e. a drift of order (η_{j+1} − η_j)/η per unit time that does not vanish as η → 0.

Saxe et al. mode dynamics
-------------------------
Whitened inputs (Σ_xx = I), Σ_yx = Σ_α s_α u_α v_αᵀ, gradient flow τ dW_j/dt = (W_N⋯W_{j+1})ᵀ
(Σ_yx − W_e)(W_{j−1}⋯W_1)ᵀ (seed eq. (14) with η = 1/τ). With a decoupled init
W_j = R_{j+1} diag(a_j) R_jᵀ (R_0 = V, R_N = U, other R_j orthogonal) the modes evolve
independently (seed eq. (13); Saxe et al. 2013):

    τ da_j^α/dt = (s_α − Π_k a_k^α) Π_{k≠j} a_k^α,

so (a_{j+1}^α)² − (a_j^α)² = c^α is constant and a_{j+1}/a_j = √(1 + c^α/a_j²) (Cor. 2.4).
With balanced a_j = a for all j and N_l = N + 1 layers of units (N weight matrices), u = a^N:

    τ du/dt = (N_l − 1) u^{2 − 2/(N_l − 1)} (s − u)                                 (Saxe eq. for depth N_l)

(derivation: du/dt = N a^{N−1} da/dt = N a^{2N−2}(s − u)/τ = N u^{2−2/N}(s − u)/τ). Closed forms:
N_l = 2 (one matrix): u(t) = s − (s − u0) e^{−t/τ}; N_l = 3: u(t) = s e^{2st/τ} / (e^{2st/τ} − 1 +
s/u0); in general the time to learn is t(u0 → uf) = (τ/(N_l−1)) ∫_{u0}^{uf} du / (u^{2−2/(N_l−1)}
(s − u)). Assumptions: whitened inputs, exactly decoupled and balanced initialisation, gradient
flow (GD with step h = Δt/τ approximates it with O(h) global error).
"""
from __future__ import annotations

import math

import numpy as np
from scipy import integrate

from depthcheck.theory._checks import as_float_array, check_positive_int

__all__ = [
    "balance_matrix", "balance_matrices", "gd_balance_step", "per_layer_lr_balance_step",
    "balance_decay_weight_decay", "frobenius_gap_bound", "glorot_balance_trace_mean",
    "mode_ratio", "saxe_mode_rhs", "saxe_layer_rhs", "saxe_shallow", "saxe_two_layer",
    "saxe_trajectory", "saxe_time_to_learn", "saxe_time_to_learn_deep_approx", "saxe_gd_map",
    "saxe_gd_trajectory",
]


def _T(a):
    return np.swapaxes(a, -1, -2)


def _pair(W, W_next, names=("W", "W_next")):
    W = as_float_array(W, names[0], min_ndim=2)
    V = as_float_array(W_next, names[1], min_ndim=2)
    if V.shape[-1] != W.shape[-2]:
        raise ValueError(f"{names[1]} has {V.shape[-1]} columns but {names[0]} has "
                         f"{W.shape[-2]} rows; they must be adjacent layers W_{{j+1}} W_j")
    return W, V


# ------------------------------------------------------------------------------ layer balance
def balance_matrix(W, W_next) -> np.ndarray:
    """D_j = W_{j+1}ᵀ W_{j+1} − W_j W_jᵀ (seed 003 eqs. (8)–(9)); ``W`` is W_j ``(…, d_j, d_{j−1})``,
    ``W_next`` is W_{j+1} ``(…, d_{j+1}, d_j)``; returns ``(…, d_j, d_j)``. Constant under gradient
    flow for a linear net (Theorem 1; Arora et al. 2018)."""
    W, V = _pair(W, W_next)
    return _T(V) @ V - W @ _T(W)


def balance_matrices(weights) -> list:
    """[D_1, …, D_{N−1}] for ``weights = [W_1, …, W_N]`` (see ``balance_matrix``)."""
    if not isinstance(weights, (list, tuple)) or len(weights) < 2:
        raise ValueError("weights must be a list of at least two weight matrices")
    return [balance_matrix(weights[j], weights[j + 1]) for j in range(len(weights) - 1)]


def gd_balance_step(D, G, G_next, eta, weight_decay: float = 0.0) -> np.ndarray:
    """Exact one-step update of D_j under (weight-decayed) GD of a linear net (derived in the
    module docstring from eq. (7)):

        D_j(k+1) = (1 − ηλ)² D_j(k) + η² (G_{j+1}ᵀ G_{j+1} − G_j G_jᵀ),

    with ``G`` = ∂L/∂W_j and ``G_next`` = ∂L/∂W_{j+1} evaluated at step k. Valid for any loss of
    the end-to-end matrix W_e (full batch or minibatch), no activation, no biases.
    """
    D = as_float_array(D, "D", min_ndim=2)
    G, Gn = _pair(G, G_next, ("G", "G_next"))
    eta = _nonneg(eta, "eta")
    lam = _nonneg(weight_decay, "weight_decay")
    return (1.0 - eta * lam) ** 2 * D + eta ** 2 * (_T(Gn) @ Gn - G @ _T(G))


def per_layer_lr_balance_step(W, W_next, G, G_next, eta, eta_next) -> np.ndarray:
    """D_j after one GD step with layer-wise step sizes η_j (``eta``) and η_{j+1} (``eta_next``):

        D_j' = (W_{j+1} − η_{j+1}G_{j+1})ᵀ(W_{j+1} − η_{j+1}G_{j+1}) − (W_j − η_j G_j)(W_j − η_j G_j)ᵀ
             = D_j − (η_{j+1} − η_j) S_j + η_{j+1}² G_{j+1}ᵀG_{j+1} − η_j² G_jG_jᵀ   (linear nets),

    S_j = W_{j+1}ᵀG_{j+1} + G_{j+1}ᵀW_{j+1}. Returned from the first (always exact) form; the
    second shows why the control of claim seed003.balance_invariant drifts at O(1) per unit time.
    """
    W, V = _pair(W, W_next)
    G, Gn = _pair(G, G_next, ("G", "G_next"))
    e, en = _nonneg(eta, "eta"), _nonneg(eta_next, "eta_next")
    Vn, Wn = V - en * Gn, W - e * G
    return _T(Vn) @ Vn - Wn @ _T(Wn)


def balance_decay_weight_decay(C, t, eta, weight_decay) -> np.ndarray:
    """Gradient flow with coupled weight decay: D_j(t) = e^{−2ηλt} C_j (Arora et al. 2018, §B.7)."""
    C = as_float_array(C, "C")
    t = as_float_array(t, "t")
    return np.exp(-2.0 * _nonneg(eta, "eta") * _nonneg(weight_decay, "weight_decay") * t) * C


def frobenius_gap_bound(trace_C) -> np.ndarray:
    """Upper bound √|tr C_j| on | ||W_{j+1}(t)||_F − ||W_j(t)||_F | for all t under gradient flow
    (sharp form of seed 003 Lemma 2, [DERIVED] in rank_lnn_lcw.md §B.3)."""
    return np.sqrt(np.abs(as_float_array(trace_C, "trace_C")))


def glorot_balance_trace_mean(widths) -> np.ndarray:
    """E tr C_j under Glorot-normal init, Var W_j = 2/(d_{j−1} + d_j):
    E ||W_j||_F² = 2 d_j d_{j−1}/(d_j + d_{j−1}), so E tr C_j = E||W_{j+1}||² − E||W_j||²
    (rank_lnn_lcw.md §B.3, Cor. 2.3 [DERIVED]; zero iff d_{j+1} = d_{j−1})."""
    d = [check_positive_int(w, f"widths[{i}]") for i, w in enumerate(widths)]
    if len(d) < 3:
        raise ValueError("widths must list at least three layer widths (two weight matrices)")
    e = np.array([2.0 * d[i + 1] * d[i] / (d[i + 1] + d[i]) for i in range(len(d) - 1)])
    return e[1:] - e[:-1]


def mode_ratio(c, a) -> np.ndarray:
    """a_{j+1}/a_j = √(1 + c/a_j²) for a decoupled mode with invariant c = a_{j+1}² − a_j²
    (seed 003 Cor. 2.4); tends to 1 only as a_j grows."""
    c = as_float_array(c, "c")
    a = as_float_array(a, "a")
    if np.any(a == 0):
        raise ValueError("a must be non-zero")
    r2 = 1.0 + c / a ** 2
    if np.any(r2 < 0):
        raise ValueError("c/a² < −1: no real layer strength a_{j+1} matches this invariant")
    return np.sqrt(r2)


# ------------------------------------------------------------------------------ Saxe dynamics
def _n_weights(n_layers):
    N_l = check_positive_int(n_layers, "n_layers", minimum=2)
    return N_l - 1


def _su(s, u, names=("s", "u0")):
    s = as_float_array(s, names[0])
    u = as_float_array(u, names[1])
    if np.any(s <= 0):
        raise ValueError(f"{names[0]} (mode singular values) must be > 0")
    if np.any(u <= 0):
        raise ValueError(f"{names[1]} must be > 0 (a mode strength starting at 0 never grows)")
    return s, u


def saxe_mode_rhs(u, s, n_layers, tau: float = 1.0) -> np.ndarray:
    """du/dt = (N_l − 1) u^{2 − 2/(N_l−1)} (s − u) / τ for the balanced decoupled mode of a net
    with N_l layers of units (Saxe et al. 2013; seed 003 §2, eq. (13) with a_j = u^{1/(N_l−1)})."""
    N = _n_weights(n_layers)
    s, u = _su(s, u, ("s", "u"))
    tau = _pos(tau, "tau")
    return N * u ** (2.0 - 2.0 / N) * (s - u) / tau


def saxe_layer_rhs(a, s, n_layers, tau: float = 1.0) -> np.ndarray:
    """da/dt = (s − a^{N}) a^{N−1} / τ, N = N_l − 1: eq. (13) with all N layer strengths equal."""
    N = _n_weights(n_layers)
    s, a = _su(s, a, ("s", "a"))
    return (s - a ** N) * a ** (N - 1) / _pos(tau, "tau")


def saxe_shallow(t, s, u0, tau: float = 1.0) -> np.ndarray:
    """N_l = 2 (one weight matrix, linear regression): u(t) = s − (s − u0) e^{−t/τ}."""
    s, u0 = _su(s, u0)
    t = as_float_array(t, "t")
    return s - (s - u0) * np.exp(-t / _pos(tau, "tau"))


def saxe_two_layer(t, s, u0, tau: float = 1.0) -> np.ndarray:
    """N_l = 3 (two weight matrices, balanced a = b): u(t) = s e^{2st/τ} / (e^{2st/τ} − 1 + s/u0)
    (Saxe et al. 2013, eq. for a three-layer net; rank_lnn_lcw.md §B.7). Evaluated in the
    overflow-free form s / (1 + (s/u0 − 1) e^{−2st/τ})."""
    s, u0 = _su(s, u0)
    t = as_float_array(t, "t")
    return s / (1.0 + (s / u0 - 1.0) * np.exp(-2.0 * s * t / _pos(tau, "tau")))


def saxe_trajectory(t, s, u0, n_layers, tau: float = 1.0, rtol: float = 1e-11) -> np.ndarray:
    """u(t) of a balanced decoupled mode for depth N_l (module docstring).

    Closed forms for N_l = 2, 3; for N_l ≥ 4 the layer-strength ODE τ da/dt = (s − a^N) a^{N−1}
    is integrated with DOP853 (relative tolerance ``rtol``) and u = a^N returned. ``s`` and
    ``u0`` broadcast to a common shape S; ``t`` is a 1-D non-decreasing array of times ≥ 0.
    Returns shape ``S + t.shape``.
    """
    N = _n_weights(n_layers)
    s, u0 = _su(s, u0)
    s, u0 = np.broadcast_arrays(s, u0)
    t = as_float_array(t, "t", ndim=1)
    if np.any(t < 0) or np.any(np.diff(t) < 0):
        raise ValueError("t must be a non-decreasing array of times >= 0")
    tau = _pos(tau, "tau")
    if N == 1:
        return saxe_shallow(t, s[..., None], u0[..., None], tau)
    if N == 2:
        return saxe_two_layer(t, s[..., None], u0[..., None], tau)
    shape = s.shape
    sf, a0 = s.ravel(), u0.ravel() ** (1.0 / N)

    def rhs(_, a):
        return (sf - a ** N) * a ** (N - 1) / tau

    sol = integrate.solve_ivp(rhs, (0.0, float(t[-1])), a0, method="DOP853", t_eval=t,
                              rtol=rtol, atol=1e-14)
    if not sol.success:  # pragma: no cover - smooth monotone ODE
        raise RuntimeError(f"Saxe ODE integration failed: {sol.message}")
    return (sol.y ** N).reshape(shape + t.shape)


def saxe_time_to_learn(u0, uf, s, n_layers, tau: float = 1.0) -> float:
    """Time for a balanced decoupled mode to grow from u0 to uf (0 < u0 < uf < s):

        t = (τ/(N_l − 1)) ∫_{u0}^{uf} du / ( u^{2 − 2/(N_l−1)} (s − u) )

    (Saxe et al. 2013). Closed forms: N_l = 2: τ ln((s − u0)/(s − uf)); N_l = 3:
    (τ/(2s)) ln[uf (s − u0) / (u0 (s − uf))]; otherwise adaptive quadrature in log u.
    """
    N = _n_weights(n_layers)
    u0, uf, s = (_pos(v, k) for v, k in ((u0, "u0"), (uf, "uf"), (s, "s")))
    if not u0 < uf < s:
        raise ValueError(f"need 0 < u0 < uf < s, got u0={u0}, uf={uf}, s={s}")
    tau = _pos(tau, "tau")
    if N == 1:
        return tau * math.log((s - u0) / (s - uf))
    if N == 2:
        return tau / (2 * s) * math.log(uf * (s - u0) / (u0 * (s - uf)))
    # substitute u = e^x: du/(u^{2-2/N}(s-u)) = e^{x(2/N-1)} dx/(s - e^x); smooth on [ln u0, ln uf]
    f = lambda x: math.exp(x * (2.0 / N - 1.0)) / (s - math.exp(x))  # noqa: E731
    val, err = integrate.quad(f, math.log(u0), math.log(uf), epsabs=0.0, epsrel=1e-12, limit=200)
    return tau / N * val


def saxe_time_to_learn_deep_approx(u0, uf, s, n_layers, tau: float = 1.0) -> float:
    """Large-depth approximation u^{2−2/(N_l−1)} ≈ u² of ``saxe_time_to_learn``:
    t ≈ (τ/(N_l−1)) [1/(s u0) − 1/(s uf) + s^{−2} ln(uf (s − u0)/(u0 (s − uf)))]; accurate only when
    (2/(N_l−1)) |ln u0| ≪ 1 (rank_lnn_lcw.md §B.7)."""
    N = _n_weights(n_layers)
    u0, uf, s = (_pos(v, k) for v, k in ((u0, "u0"), (uf, "uf"), (s, "s")))
    if not u0 < uf < s:
        raise ValueError(f"need 0 < u0 < uf < s, got u0={u0}, uf={uf}, s={s}")
    return _pos(tau, "tau") / N * (1 / (s * u0) - 1 / (s * uf)
                                   + math.log(uf * (s - u0) / (u0 * (s - uf))) / s ** 2)


def saxe_gd_map(a, s, n_layers, h) -> np.ndarray:
    """One GD step of a balanced decoupled mode's layer strength, a ← a + h (s − a^N) a^{N−1}
    (forward Euler of ``saxe_layer_rhs`` with step h = Δt/τ; exact for the network when the init
    is decoupled and balanced, since GD preserves both)."""
    N = _n_weights(n_layers)
    s, a = _su(s, a, ("s", "a"))
    return a + _pos(h, "h") * (s - a ** N) * a ** (N - 1)


def saxe_gd_trajectory(steps, s, u0, n_layers, h) -> np.ndarray:
    """u_k = a_k^N, k = 0..steps, of the scalar GD recursion ``saxe_gd_map``; shape S + (steps+1,)."""
    N = _n_weights(n_layers)
    steps = check_positive_int(steps, "steps", minimum=0)
    s, u0 = _su(s, u0)
    s, u0 = np.broadcast_arrays(s, u0)
    h = _pos(h, "h")
    a = u0 ** (1.0 / N)
    out = np.empty(s.shape + (steps + 1,))
    out[..., 0] = a ** N
    for k in range(steps):
        a = a + h * (s - a ** N) * a ** (N - 1)
        out[..., k + 1] = a ** N
    return out


# ------------------------------------------------------------------------------ helpers
def _pos(v, name) -> float:
    v = _real(v, name)
    if v <= 0:
        raise ValueError(f"{name} must be > 0, got {v}")
    return v


def _nonneg(v, name) -> float:
    v = _real(v, name)
    if v < 0:
        raise ValueError(f"{name} must be >= 0, got {v}")
    return v


def _real(v, name) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {v!r}") from None
    if isinstance(v, bool) or not math.isfinite(f) or np.ndim(v) != 0:
        raise ValueError(f"{name} must be a finite real scalar, got {v!r}")
    return f
