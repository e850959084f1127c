"""Claims: layer dynamics of linear nets (Basu, Mukherjee & Vasudevan 2019, arXiv:1904.10689).

Layer balance, equal growth, Saxe mode dynamics, and the ReLU balance question. Paper: Basu,
Mukherjee, Vasudevan, *Layer Dynamics of Linearised Neural Nets*, arXiv:1904.10689 (BibTeX key
``basu2019layer`` in ``docs/references.bib``); with Arora, Cohen & Hazan 2018
(arXiv:1802.06509), Saxe, McClelland & Ganguli 2014 (arXiv:1312.6120) and Du, Hu & Lee 2018
(arXiv:1806.00900). The arguments behind the exact discrete-time statements are written out in
``docs/derivations/linear_nets.md``; confidence tags ([STD], [D], [U]) as defined in
``docs/derivations/README.md``. The mathematics is in :mod:`depthcheck.theory.linear_nets`;
simulation with :mod:`depthcheck.kernels.nn.training` over the engine's forward/backward
(:func:`depthcheck.kernels.nn.network.forward_backward` for linear nets,
:mod:`depthcheck.kernels.nn.mlp` for ReLU nets with and without biases). Backends: numpy only
(``backend`` is accepted and ignored: these are small sequential training runs).

Claims (ids ``linear_nets.*``, formerly ``seed003.*``):

1. ``balance_invariant`` (statistical, δ = 0.1 in the exponent) — GD drift of the balance
   matrices D_l = W_{l+1}ᵀW_{l+1} − W_lW_lᵀ at a fixed training time T = steps·η shrinks linearly
   in η (exact per-step drift η²(G_{l+1}ᵀG_{l+1} − G_lG_lᵀ), docs/derivations/linear_nets.md §3).
   Control: per-layer learning rates (η, η/2). Mutations: layers 2, 4 at η(1 + 10⁻³); weight decay
   λ = 10⁻⁵.
2. ``equal_growth`` (statistical, upper bound, δ = log10 2) — Cor. 2.2–2.4 / Fig. 1: squared
   layer norms grow by the same amount (Glorot init), stay equal (balanced init), per-mode ratios
   follow √(1 + c/a²) → 1. Control: per-layer learning rates. Mutation: every second layer's
   gradient scaled by 1.1 (growth rates 10 % apart).
3. ``saxe_dynamics`` (statistical, δ = 0.1 in the exponent) — whitened inputs, balanced
   decoupled init: GD mode strengths follow the closed forms for N_l = 3, 5, 10 with an O(h)
   (Euler) error, one :class:`~depthcheck.validation.claims.stats.Family` (each depth at α/3);
   N_l = 2 (a linear ODE, the same error in every trial) is an exact side statement; time to
   learn vs depth. Control: decoupled but unbalanced init. Mutation: the time scale off by
   0.05 %.
4. ``relu_balance`` (finding, δ = 0.2 in the exponent) — Sec. 3 / Conjecture 4 vs Du, Hu & Lee
   (2018): in bias-free ReLU nets trained on digits, ||W_{l+1}||_F² − ||W_l||_F² drifts only by
   O(η), against the paper's claim that the nonlinearity breaks the equal growth; the full
   matrix invariant does not hold. Control: biases switch on, and the weight-only difference
   drifts at O(1). Mutation: biases trained at η/5, labelled bias-free.

Convergence time, initialisation and ReLU growth (``claims_convergence``; derivations in
``docs/derivations/linear_nets_convergence.md``):

* ``linear_nets.theorem3_max_rate`` (finding, Theorem 3, eqs. 16–18; depths 2–10,
  balanced-in-norm init with u0 = s/10): the maximal growth rate of u = Π‖W_j‖_F that the proof
  bounds by (17) is exceeded near convergence (the bound is proven for u ≤ s/2 only); the
  minimum-time bound holds, by a slack that grows to about 4·10³ at N = 10.
* ``linear_nets.fig1_bound_sharpening`` (exact, Fig. 1(iii)): on the bound curve of (17), the
  transition fraction (t₀.₉ − t₀.₁)/t₀.₉ falls with depth (plateaus, then sharp transitions).
* ``linear_nets.glorot_gap`` (finding, Corollary 2.3): under Glorot init the expected
  ||W_{l+1}||² − ||W_l||² equals the exact formula, non-zero when adjacent widths differ.
* ``linear_nets.relu_rate_ratio`` (finding, eq. 15 / Conjecture 4): the non-squared norms of
  adjacent ReLU layers grow at rates in the ratio ‖W_j‖/‖W_{j+1}‖ (Du–Hu–Lee), not 1: equal for
  equal-width hidden layers, about 3× for the 100 → 10 output pair.
* ``linear_nets.fig1_transition_sharpness`` (statistical, Fig. 1(iii) on simulated networks,
  ``claims_transition``): at identical settings, the burst ratio b = log(peak speed of
  ‖W_e‖/‖Σ_yx‖ / its mean speed up to 0.9) rises by at least δ = 0.25 per added layer (N = 2–4
  quick, 2–6 full): plateaus, then sharper transitions. The 10–90 % fraction of the bound curve
  does not fall with depth on the networks (a rank-3 target climbs in steps), and deeper nets
  are slower at identical u0: both reported, not judged.

Shared set-up choices (the paper's Sec. 4 leaves them open: its weight shapes are not legible,
[U]): hidden widths (10, 6, 3) for the "3 layer" and (10, 8, 6, 4, 3) for the "5 layer" net;
Glorot-normal init;
the mixture of ``depthcheck.kernels.data.synthetic.gaussian_mixture`` rescaled so that
λ_max(XXᵀ/n) = 1, targets from ``depthcheck.kernels.data.synthetic.linear_teacher``. The engine's
mse is the mean over the d_out·n entries, so with whitened inputs GD with step η is Euler's
method for Saxe's flow with h = Δt/τ = 2η/d_out.

Layout: one module per claim or tight group of claims (balance, equal_growth, saxe, relu_balance
(claims 1–4)) holding predict / simulate / judge; ``_common`` the paper's shared helpers;
``figures`` the figure callbacks; ``claims`` the Claim records (prose, configurations, controls)
and ``CLAIMS`` in report order. Former ids stay accepted as aliases and seed the random streams
(``Claim.seed_key``), so results are unchanged by the renaming.

Public helpers (the building blocks of the claims, re-exported here): :func:`mixture_problem`,
:func:`sufficient_inputs`, :func:`linear_net_loss`, :func:`glorot_init`, :func:`decoupled_init`,
:func:`balanced_init`, :func:`mode_strengths`, :func:`layer_lr_scale`.
"""
from depthcheck.validation.papers.linear_nets._common import (
    balanced_init, decoupled_init, glorot_init, layer_lr_scale, linear_net_loss, mixture_problem,
    mode_strengths, sufficient_inputs)
from depthcheck.validation.papers.linear_nets.claims import CLAIMS, NOT_CHECKABLE

__all__ = ["CLAIMS", "NOT_CHECKABLE", "mixture_problem", "sufficient_inputs", "linear_net_loss", "glorot_init",
           "decoupled_init", "balanced_init", "mode_strengths", "layer_lr_scale"]
