"""Deep linear networks: layer balance and Saxe et al.'s mode dynamics.

Sources: S. Basu, K. Mukherjee, S. Vasudevan, "Layer Dynamics of Linearised Neural Nets",
arXiv:1904.10689 (2019), key ``basu2019layer``; S. Arora, N. Cohen, E. Hazan, "On the
Optimization of Deep Networks: Implicit Acceleration by Overparameterization", ICML 2018,
arXiv:1802.06509 (``arora2018optimization``); A. M. Saxe, J. L. McClelland, S. Ganguli, "Exact
solutions to the nonlinear dynamics of learning in deep linear neural networks", ICLR 2014,
arXiv:1312.6120 (``saxe2013exact``); S. S. Du, W. Hu, J. D. Lee, "Algorithmic Regularization in
Learning Deep Homogeneous Models: Layers are Automatically Balanced", NeurIPS 2018,
arXiv:1806.00900 (``du2018algorithmic``). Keys refer to ``docs/references.bib``.

Confidence tags: [P] stated in the paper; [STD] a standard result of the cited literature,
re-checked numerically; [D] derived in this repository and checked numerically (Basu et al.'s
formulas are not legible in the text we have, so their equation numbers locate the statement,
not its typography). Derivations: ``docs/derivations/linear_nets.md``.

Network (Basu et al. eq. (3)): f(x) = W_N ⋯ W_1 x, W_j ∈ R^{d_j × d_{j−1}}, no biases; the loss
depends on the weights only through W_e = W_N ⋯ W_1. Gradients G_j = ∂L/∂W_j =
(W_N⋯W_{j+1})ᵀ ∇L¹(W_e) (W_{j−1}⋯W_1)ᵀ (eq. (5)) satisfy, at *every* point,

    W_{j+1}ᵀ G_{j+1} = G_j W_jᵀ                                                    (eq. (7))

(both sides are (W_N⋯W_{j+1})ᵀ ∇L¹ (W_j⋯W_1)ᵀ). Everything below follows from (7).

Layer balance
-------------
Balance matrix D_j = W_{j+1}ᵀ W_{j+1} − W_j W_jᵀ (d_j × d_j), j = 1..N−1.

* Gradient flow (Basu et al. Theorem 1 eq. (6), Lemma 2 eq. (8); Arora et al. 2018 [STD]):
  dD_j/dt = 0, so D_j(t) = C_j := D_j(0); with coupled weight decay λ (dW/dt = −ηλW −
  η∂L/∂W), D_j(t) = e^{−2ηλt} C_j.
* Frobenius consequence (Lemma 2, Cor. 2.1–2.2): tr D_j = ‖W_{j+1}‖_F² − ‖W_j‖_F² = tr C_j for
  all t, hence | ‖W_{j+1}‖_F − ‖W_j‖_F | ≤ √|tr C_j| (from |a − b|² ≤ |a² − b²| for a,b ≥ 0),
  and C_j = 0 (balanced / "orthogonal" init) keeps adjacent norms equal for all t. Du et al.
  prove the same invariance of squared-norm differences for ReLU and leaky-ReLU networks.
* Gradient descent W_j ← (1 − ηλ) W_j − η G_j (eq. (4); λ = 0 for plain GD), derived by
  expanding the product and cancelling the O(η) cross terms with (7) [D]:

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
(Σ_yx − W_e)(W_{j−1}⋯W_1)ᵀ (Basu et al. eq. (14) with η = 1/τ). With a decoupled init
W_j = R_{j+1} diag(a_j) R_jᵀ (R_0 = V, R_N = U, other R_j orthogonal) the modes evolve
independently (Basu et al. eq. (13); Saxe et al. 2013):

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
    """Balance matrix D_j = W_{j+1}ᵀ W_{j+1} − W_j W_jᵀ.

    Constant under gradient flow for a linear net.

    Parameters
    ----------
    W : array_like, shape (..., d_j, d_{j−1})
        W_j.
    W_next : array_like, shape (..., d_{j+1}, d_j)
        W_{j+1}.

    Returns
    -------
    numpy.ndarray, shape (..., d_j, d_j)

    Raises
    ------
    ValueError
        If the shapes are not those of adjacent layers, or an input is not finite.

    References
    ----------
    .. [1] Basu, Mukherjee & Vasudevan (2019), arXiv:1904.10689, Theorem 1 (eq. (6)) and Lemma 2 (eqs. (8)-(9)) [P words, STD formula].
    .. [2] Arora, Cohen & Hazan (2018), arXiv:1802.06509, the balancedness invariance.

    Examples
    --------
    Scalar layers W_1 = 2, W_2 = 3 give D = 9 − 4; equal orthogonal layers are balanced:

    >>> import numpy as np
    >>> from depthcheck.theory.linear_nets import balance_matrix
    >>> print(balance_matrix([[2.0]], [[3.0]]))
    [[5.]]
    >>> Q = np.array([[0.0, -1.0], [1.0, 0.0]])
    >>> print(np.abs(balance_matrix(Q, Q)).max())
    0.0
    """
    W, V = _pair(W, W_next)
    return _T(V) @ V - W @ _T(W)


def balance_matrices(weights) -> list:
    """[D_1, …, D_{N−1}] for ``weights = [W_1, …, W_N]`` (see :func:`balance_matrix`).

    Parameters
    ----------
    weights : list or tuple of array_like
        At least two weight matrices, W_1 first.

    Returns
    -------
    list of numpy.ndarray

    Raises
    ------
    ValueError
        If ``weights`` is not a list/tuple of at least two adjacent matrices.

    References
    ----------
    .. [1] Basu, Mukherjee & Vasudevan (2019), arXiv:1904.10689, Lemma 2 and Corollary 2.1.

    Examples
    --------
    >>> from depthcheck.theory.linear_nets import balance_matrices
    >>> [float(D[0, 0]) for D in balance_matrices([[[1.0]], [[2.0]], [[3.0]]])]   # 4 − 1, 9 − 4
    [3.0, 5.0]
    """
    if not isinstance(weights, (list, tuple)) or len(weights) < 2:
        raise ValueError("weights must be a list of at least two weight matrices")
    return [balance_matrix(weights[j], weights[j + 1]) for j in range(len(weights) - 1)]


def gd_balance_step(D, G, G_next, eta, weight_decay: float = 0.0) -> np.ndarray:
    """Exact one-step update of D_j under (weight-decayed) gradient descent of a linear net.

        D_j(k+1) = (1 − ηλ)² D_j(k) + η² (G_{j+1}ᵀ G_{j+1} − G_j G_jᵀ),

    derived in the module docstring from eq. (7) [D]. Valid for any loss of the end-to-end matrix
    W_e (full batch or minibatch), no activation, no biases.

    Parameters
    ----------
    D : array_like, shape (..., d_j, d_j)
        D_j(k).
    G : array_like
        ∂L/∂W_j at step k.
    G_next : array_like
        ∂L/∂W_{j+1} at step k.
    eta : float
        Step size η >= 0.
    weight_decay : float, optional
        Coupled weight decay λ >= 0.

    Returns
    -------
    numpy.ndarray, shape (..., d_j, d_j)

    Raises
    ------
    ValueError
        If ``eta`` or ``weight_decay`` is negative or not a finite scalar, or the shapes of ``G``
        and ``G_next`` are not those of adjacent layers.

    References
    ----------
    .. [1] Basu, Mukherjee & Vasudevan (2019), arXiv:1904.10689, eqs. (4)-(7) (gradient descent and the identity (7)); the exact discrete update is
       [D], ``docs/derivations/linear_nets.md``.

    Examples
    --------
    Scalar net W_1 = 2, W_2 = 3 with ∇L¹(W_e) = 1: G_1 = 3, G_2 = 2, D = 5. One step of size 0.1
    gives W_1 = 1.7, W_2 = 2.8 and D = 2.8² − 1.7² = 4.95 = 5 + 0.01·(2² − 3²):

    >>> from depthcheck.theory.linear_nets import gd_balance_step
    >>> print(round(float(gd_balance_step([[5.0]], [[3.0]], [[2.0]], 0.1)[0, 0]), 12))
    4.95
    >>> print(round(2.8 ** 2 - 1.7 ** 2, 12))
    4.95
    """
    D = as_float_array(D, "D", min_ndim=2)
    G, Gn = _pair(G, G_next, ("G", "G_next"))
    eta = _nonneg(eta, "eta")
    lam = _nonneg(weight_decay, "weight_decay")
    return (1.0 - eta * lam) ** 2 * D + eta ** 2 * (_T(Gn) @ Gn - G @ _T(G))


def per_layer_lr_balance_step(W, W_next, G, G_next, eta, eta_next) -> np.ndarray:
    """D_j after one GD step with layer-wise step sizes η_j (``eta``) and η_{j+1} (``eta_next``).

        D_j' = (W_{j+1} − η_{j+1}G_{j+1})ᵀ(W_{j+1} − η_{j+1}G_{j+1}) − (W_j − η_j G_j)(W_j − η_j G_j)ᵀ
             = D_j − (η_{j+1} − η_j) S_j + η_{j+1}² G_{j+1}ᵀG_{j+1} − η_j² G_jG_jᵀ   (linear nets),

    S_j = W_{j+1}ᵀG_{j+1} + G_{j+1}ᵀW_{j+1}. Returned from the first (always exact) form; the
    second shows why a per-layer learning rate (a negative control of the balance invariant) drifts
    at O(1) per unit time.

    Parameters
    ----------
    W, W_next : array_like
        W_j and W_{j+1}.
    G, G_next : array_like
        Their gradients.
    eta, eta_next : float
        Step sizes η_j, η_{j+1} >= 0.

    Returns
    -------
    numpy.ndarray, shape (..., d_j, d_j)

    Raises
    ------
    ValueError
        If shapes are not adjacent or a step size is negative or not a finite scalar.

    References
    ----------
    .. [1] Basu, Mukherjee & Vasudevan (2019), arXiv:1904.10689, eq. (4); derivation [D], ``docs/derivations/linear_nets.md``.

    Examples
    --------
    With equal step sizes it reproduces :func:`gd_balance_step` (4.95 in its example); with
    η_2 = 0.2 the layers drift apart: W_2 = 3 − 0.4 = 2.6, D = 2.6² − 1.7² = 3.87:

    >>> from depthcheck.theory.linear_nets import per_layer_lr_balance_step
    >>> args = ([[2.0]], [[3.0]], [[3.0]], [[2.0]])
    >>> print(round(float(per_layer_lr_balance_step(*args, 0.1, 0.1)[0, 0]), 12))
    4.95
    >>> print(round(float(per_layer_lr_balance_step(*args, 0.1, 0.2)[0, 0]), 12))
    3.87
    """
    W, V = _pair(W, W_next)
    G, Gn = _pair(G, G_next, ("G", "G_next"))
    e, en = _nonneg(eta, "eta"), _nonneg(eta_next, "eta_next")
    Vn, Wn = V - en * Gn, W - e * G
    return _T(Vn) @ Vn - Wn @ _T(Wn)


def balance_decay_weight_decay(C, t, eta, weight_decay) -> np.ndarray:
    """Gradient flow with coupled weight decay: D_j(t) = e^{−2ηλt} C_j.

    Parameters
    ----------
    C : array_like
        Initial balance matrix C_j = D_j(0).
    t : array_like
        Time(s) (broadcast against ``C``).
    eta : float
        Learning rate η >= 0.
    weight_decay : float
        λ >= 0.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    ValueError
        If ``eta`` or ``weight_decay`` is negative, or an input is not finite.

    References
    ----------
    .. [1] Arora, Cohen & Hazan (2018), arXiv:1802.06509, the balancedness invariance under weight decay [STD].

    Examples
    --------
    >>> import numpy as np
    >>> from depthcheck.theory.linear_nets import balance_decay_weight_decay
    >>> bool(np.isclose(balance_decay_weight_decay(1.0, 1.0, 0.5, 1.0), np.exp(-1)))   # 2·0.5·1·1
    True
    """
    C = as_float_array(C, "C")
    t = as_float_array(t, "t")
    return np.exp(-2.0 * _nonneg(eta, "eta") * _nonneg(weight_decay, "weight_decay") * t) * C


def frobenius_gap_bound(trace_C) -> np.ndarray:
    """Upper bound √|tr C_j| on | ‖W_{j+1}(t)‖_F − ‖W_j(t)‖_F | for all t under gradient flow.

    A sharp form of Basu et al.'s Lemma 2: tr D_j = ‖W_{j+1}‖_F² − ‖W_j‖_F² = tr C_j is exactly
    conserved, and |a − b|² <= |a² − b²| for a, b >= 0.

    Parameters
    ----------
    trace_C : float or array_like
        tr C_j.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    ValueError
        If ``trace_C`` is not finite.

    References
    ----------
    .. [1] Basu, Mukherjee & Vasudevan (2019), arXiv:1904.10689, Lemma 2 ([P] words; this sharp form [D], ``docs/derivations/linear_nets.md``).

    Examples
    --------
    Norms 3 and 5 have squared difference 16 and differ by 2 <= √16 = 4:

    >>> from depthcheck.theory.linear_nets import frobenius_gap_bound
    >>> print(frobenius_gap_bound(16.0), frobenius_gap_bound(-9.0))
    4.0 3.0
    """
    return np.sqrt(np.abs(as_float_array(trace_C, "trace_C")))


def glorot_balance_trace_mean(widths) -> np.ndarray:
    """E tr C_j under Glorot-normal init, Var W_j = 2/(d_{j−1} + d_j).

    E ‖W_j‖_F² = 2 d_j d_{j−1}/(d_j + d_{j−1}), so E tr C_j = E‖W_{j+1}‖² − E‖W_j‖²; zero iff
    d_{j+1} = d_{j−1}.

    Parameters
    ----------
    widths : sequence of int
        Layer widths d_0, d_1, …, d_N (at least three).

    Returns
    -------
    numpy.ndarray, shape (N − 1,)

    Raises
    ------
    ValueError
        If fewer than three widths are given or a width is not a positive int.

    References
    ----------
    .. [1] Basu, Mukherjee & Vasudevan (2019), arXiv:1904.10689, Corollary 2.3 (Glorot initialisation makes C small) [P words, D formula].
    .. [2] X. Glorot, Y. Bengio, "Understanding the difficulty of training deep feedforward neural
       networks", AISTATS 2010 (the variance 2/(fan_in + fan_out)).

    Examples
    --------
    Widths (1, 1, 3): E‖W_1‖² = 2·1·1/2 = 1 and E‖W_2‖² = 2·3·1/4 = 3/2, so E tr C_1 = 1/2:

    >>> from depthcheck.theory.linear_nets import glorot_balance_trace_mean
    >>> print(glorot_balance_trace_mean([1, 1, 3]), glorot_balance_trace_mean([10, 20, 10]))
    [0.5] [0.]
    """
    d = [check_positive_int(w, f"widths[{i}]") for i, w in enumerate(widths)]
    if len(d) < 3:
        raise ValueError("widths must list at least three layer widths (two weight matrices)")
    e = np.array([2.0 * d[i + 1] * d[i] / (d[i + 1] + d[i]) for i in range(len(d) - 1)])
    return e[1:] - e[:-1]


def mode_ratio(c, a) -> np.ndarray:
    """a_{j+1}/a_j = √(1 + c/a_j²) for a decoupled mode with invariant c = a_{j+1}² − a_j².

    Tends to 1 only as a_j grows.

    Parameters
    ----------
    c : float or array_like
        The invariant c^α.
    a : float or array_like
        Layer strength a_j (non-zero).

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    ValueError
        If ``a`` is zero or c/a² < −1 (no real a_{j+1}).

    References
    ----------
    .. [1] Basu, Mukherjee & Vasudevan (2019), arXiv:1904.10689, Corollary 2.4 and eq. (13) [P words, STD formula].

    Examples
    --------
    >>> from depthcheck.theory.linear_nets import mode_ratio
    >>> print(mode_ratio(3.0, 1.0))                  # a_2² = 1 + 3 = 4
    2.0
    """
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
    """du/dt = (N_l − 1) u^{2 − 2/(N_l−1)} (s − u) / τ for the balanced decoupled mode of a net with
    N_l layers of units.

    Parameters
    ----------
    u : float or array_like
        Mode strength u > 0.
    s : float or array_like
        Singular value s > 0 of Σ_yx for this mode.
    n_layers : int
        N_l >= 2 (layers of units; N_l − 1 weight matrices).
    tau : float, optional
        Time constant τ > 0.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    ValueError
        If ``u`` or ``s`` is not positive, ``n_layers < 2`` or ``tau <= 0``.

    References
    ----------
    .. [1] Saxe, McClelland & Ganguli (2013), arXiv:1312.6120, the deep-network mode equation [STD].
    .. [2] Basu, Mukherjee & Vasudevan (2019), arXiv:1904.10689, eq. (13) with a_j = u^{1/(N_l−1)}.

    Examples
    --------
    Three layers of units, u = 1, s = 2: 2 · 1 · (2 − 1) = 2.

    >>> from depthcheck.theory.linear_nets import saxe_mode_rhs
    >>> print(saxe_mode_rhs(1.0, 2.0, 3))
    2.0
    """
    N = _n_weights(n_layers)
    s, u = _su(s, u, ("s", "u"))
    tau = _pos(tau, "tau")
    return N * u ** (2.0 - 2.0 / N) * (s - u) / tau


def saxe_layer_rhs(a, s, n_layers, tau: float = 1.0) -> np.ndarray:
    """da/dt = (s − a^N) a^{N−1} / τ, N = N_l − 1: eq. (13) with all N layer strengths equal.

    Parameters
    ----------
    a : float or array_like
        Common layer strength a > 0.
    s, n_layers, tau
        As for :func:`saxe_mode_rhs`.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    ValueError
        As :func:`saxe_mode_rhs`.

    References
    ----------
    .. [1] Basu, Mukherjee & Vasudevan (2019), arXiv:1904.10689, eq. (13); Saxe, McClelland & Ganguli (2013), arXiv:1312.6120.

    Examples
    --------
    With u = a² (N_l = 3), du/dt = 2a da/dt, consistent with :func:`saxe_mode_rhs` (2 at u = 1):

    >>> from depthcheck.theory.linear_nets import saxe_layer_rhs
    >>> print(saxe_layer_rhs(1.0, 2.0, 3))           # (2 − 1) · 1
    1.0
    """
    N = _n_weights(n_layers)
    s, a = _su(s, a, ("s", "a"))
    return (s - a ** N) * a ** (N - 1) / _pos(tau, "tau")


def saxe_shallow(t, s, u0, tau: float = 1.0) -> np.ndarray:
    """N_l = 2 (one weight matrix, linear regression): u(t) = s − (s − u0) e^{−t/τ}.

    Parameters
    ----------
    t : array_like
        Times.
    s : float or array_like
        Target singular value s > 0.
    u0 : float or array_like
        Initial strength u0 > 0.
    tau : float, optional
        τ > 0.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    ValueError
        If ``s`` or ``u0`` is not positive or ``tau <= 0``.

    References
    ----------
    .. [1] Saxe, McClelland & Ganguli (2013), arXiv:1312.6120 (the one-layer case of the mode dynamics) [STD].

    Examples
    --------
    >>> import numpy as np
    >>> from depthcheck.theory.linear_nets import saxe_shallow
    >>> print(saxe_shallow(np.log(2.0), 2.0, 1.0))  # half of the gap s − u0 = 1 remains
    1.5
    """
    s, u0 = _su(s, u0)
    t = as_float_array(t, "t")
    return s - (s - u0) * np.exp(-t / _pos(tau, "tau"))


def saxe_two_layer(t, s, u0, tau: float = 1.0) -> np.ndarray:
    """N_l = 3 (two weight matrices, balanced a = b): u(t) = s e^{2st/τ} / (e^{2st/τ} − 1 + s/u0).

    Evaluated in the overflow-free form s / (1 + (s/u0 − 1) e^{−2st/τ}).

    Parameters
    ----------
    t, s, u0, tau
        As for :func:`saxe_shallow`.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    ValueError
        As :func:`saxe_shallow`.

    References
    ----------
    .. [1] Saxe, McClelland & Ganguli (2013), arXiv:1312.6120, the exact solution for a three-layer network [STD].

    Examples
    --------
    s = 1, u0 = 1/2: u(t) = 1/(1 + e^{−2t}), which is 3/4 at t = ln(3)/2:

    >>> import numpy as np
    >>> from depthcheck.theory.linear_nets import saxe_two_layer
    >>> print(np.round(saxe_two_layer([0.0, np.log(3.0) / 2], 1.0, 0.5), 12))
    [0.5  0.75]
    """
    s, u0 = _su(s, u0)
    t = as_float_array(t, "t")
    return s / (1.0 + (s / u0 - 1.0) * np.exp(-2.0 * s * t / _pos(tau, "tau")))


def saxe_trajectory(t, s, u0, n_layers, tau: float = 1.0, rtol: float = 1e-11) -> np.ndarray:
    """u(t) of a balanced decoupled mode for depth N_l.

    Closed forms for N_l = 2, 3; for N_l >= 4 the layer-strength ODE τ da/dt = (s − a^N) a^{N−1}
    is integrated with DOP853 (relative tolerance ``rtol``) and u = a^N returned.

    Parameters
    ----------
    t : array_like, shape (T,)
        Non-decreasing times >= 0.
    s, u0 : float or array_like
        Broadcast to a common shape S.
    n_layers : int
        N_l >= 2.
    tau : float, optional
        τ > 0.
    rtol : float, optional
        Relative tolerance of the ODE solver.

    Returns
    -------
    numpy.ndarray, shape S + (T,)

    Raises
    ------
    ValueError
        If ``t`` is not a non-decreasing array of times >= 0, or as :func:`saxe_mode_rhs`.
    RuntimeError
        If the ODE solver fails.

    References
    ----------
    .. [1] Saxe, McClelland & Ganguli (2013), arXiv:1312.6120; Basu, Mukherjee & Vasudevan (2019), arXiv:1904.10689, eq. (13).

    Examples
    --------
    The ODE (N_l = 4) reaches uf exactly at the time given by the quadrature of
    :func:`saxe_time_to_learn`, an independent computation:

    >>> import numpy as np
    >>> from depthcheck.theory.linear_nets import saxe_trajectory, saxe_time_to_learn
    >>> T = saxe_time_to_learn(0.1, 1.0, 2.0, 4)
    >>> bool(np.isclose(saxe_trajectory([0.0, T], 2.0, 0.1, 4)[-1], 1.0, rtol=1e-8))
    True
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
    """Time for a balanced decoupled mode to grow from u0 to uf (0 < u0 < uf < s).

        t = (τ/(N_l − 1)) ∫_{u0}^{uf} du / ( u^{2 − 2/(N_l−1)} (s − u) )

    Closed forms: N_l = 2: τ ln((s − u0)/(s − uf)); N_l = 3: (τ/(2s)) ln[uf (s − u0) / (u0 (s − uf))];
    otherwise adaptive quadrature in log u.

    Parameters
    ----------
    u0, uf, s : float
        0 < u0 < uf < s.
    n_layers : int
        N_l >= 2.
    tau : float, optional
        τ > 0.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        Unless 0 < u0 < uf < s and τ > 0.

    References
    ----------
    .. [1] Saxe, McClelland & Ganguli (2013), arXiv:1312.6120, learning time of a deep network [STD].

    Examples
    --------
    N_l = 2, s = 2, u0 = 1, uf = 3/2: ln(1/(1/2)) = ln 2. N_l = 3, s = 1, u0 = 1/2, uf = 3/4:
    ½ ln(3) — the time at which :func:`saxe_two_layer` reaches 3/4.

    >>> import numpy as np
    >>> from depthcheck.theory.linear_nets import saxe_time_to_learn
    >>> bool(np.isclose(saxe_time_to_learn(1.0, 1.5, 2.0, 2), np.log(2)))
    True
    >>> bool(np.isclose(saxe_time_to_learn(0.5, 0.75, 1.0, 3), np.log(3) / 2))
    True
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
    """Large-depth approximation u^{2−2/(N_l−1)} ≈ u² of :func:`saxe_time_to_learn`.

    t ≈ (τ/(N_l−1)) [1/(s u0) − 1/(s uf) + s^{−2} ln(uf (s − u0)/(u0 (s − uf)))]; accurate only when
    (2/(N_l−1)) |ln u0| ≪ 1.

    Parameters
    ----------
    u0, uf, s, n_layers, tau
        As for :func:`saxe_time_to_learn`.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        Unless 0 < u0 < uf < s and τ > 0.

    References
    ----------
    .. [1] Saxe, McClelland & Ganguli (2013), arXiv:1312.6120, the large-depth learning time [STD].

    Examples
    --------
    s = 1, u0 = 1/2, uf = 3/4, N_l = 3: ½[2 − 4/3 + ln 3] = 1/3 + ln(3)/2.

    >>> import numpy as np
    >>> from depthcheck.theory.linear_nets import saxe_time_to_learn_deep_approx
    >>> bool(np.isclose(saxe_time_to_learn_deep_approx(0.5, 0.75, 1.0, 3), 1 / 3 + np.log(3) / 2))
    True
    """
    N = _n_weights(n_layers)
    u0, uf, s = (_pos(v, k) for v, k in ((u0, "u0"), (uf, "uf"), (s, "s")))
    if not u0 < uf < s:
        raise ValueError(f"need 0 < u0 < uf < s, got u0={u0}, uf={uf}, s={s}")
    return _pos(tau, "tau") / N * (1 / (s * u0) - 1 / (s * uf)
                                   + math.log(uf * (s - u0) / (u0 * (s - uf))) / s ** 2)


def saxe_gd_map(a, s, n_layers, h) -> np.ndarray:
    """One GD step of a balanced decoupled mode's layer strength, a ← a + h (s − a^N) a^{N−1}.

    Forward Euler of :func:`saxe_layer_rhs` with step h = Δt/τ; exact for the network when the init
    is decoupled and balanced, since GD preserves both.

    Parameters
    ----------
    a : float or array_like
        Layer strength a > 0.
    s : float or array_like
        s > 0.
    n_layers : int
        N_l >= 2.
    h : float
        Step h > 0.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    ValueError
        If ``a``, ``s`` or ``h`` is not positive, or ``n_layers < 2``.

    References
    ----------
    .. [1] Basu, Mukherjee & Vasudevan (2019), arXiv:1904.10689, eqs. (4) and (13); Saxe, McClelland & Ganguli (2013), arXiv:1312.6120.

    Examples
    --------
    >>> from depthcheck.theory.linear_nets import saxe_gd_map
    >>> print(saxe_gd_map(1.0, 2.0, 3, 0.1))       # 1 + 0.1 · (2 − 1) · 1
    1.1
    """
    N = _n_weights(n_layers)
    s, a = _su(s, a, ("s", "a"))
    return a + _pos(h, "h") * (s - a ** N) * a ** (N - 1)


def saxe_gd_trajectory(steps, s, u0, n_layers, h) -> np.ndarray:
    """u_k = a_k^N, k = 0..steps, of the scalar GD recursion :func:`saxe_gd_map`.

    Parameters
    ----------
    steps : int
        Number of steps >= 0.
    s, u0 : float or array_like
        Broadcast to a common shape S (both > 0).
    n_layers : int
        N_l >= 2.
    h : float
        Step h > 0.

    Returns
    -------
    numpy.ndarray, shape S + (steps + 1,)

    Raises
    ------
    ValueError
        As :func:`saxe_gd_map`, or if ``steps`` is not an integer >= 0.

    References
    ----------
    .. [1] Basu, Mukherjee & Vasudevan (2019), arXiv:1904.10689, eq. (4); Saxe, McClelland & Ganguli (2013), arXiv:1312.6120.

    Examples
    --------
    N_l = 3, u0 = 1 (a = 1): one step gives a = 1.1 (:func:`saxe_gd_map`), u = 1.21:

    >>> import numpy as np
    >>> from depthcheck.theory.linear_nets import saxe_gd_trajectory
    >>> print(np.round(saxe_gd_trajectory(1, 2.0, 1.0, 3, 0.1), 12))
    [1.   1.21]
    """
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
