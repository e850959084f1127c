"""Claim records for Theorem 3, Figure 1(iii), Corollary 2.3 and Conjecture 4 of Basu, Mukherjee &
Vasudevan 2019 (arXiv:1904.10689): the maximum rate / minimum convergence time of a deep linear
net, the shape of the bound curve against depth, the Glorot balance gap, and the growth rates of
non-squared ReLU layer norms. Derivations: ``docs/derivations/linear_nets_convergence.md``; theory:
:mod:`depthcheck.theory.convergence_time`."""
from __future__ import annotations

import math

from depthcheck.validation.claims.claim import Claim, Mutation, Sensitivity
from depthcheck.validation.papers.linear_nets.convergence_time import (
    _fig1_judge, _fig1_simulate, _t3_judge, _t3_simulate)
from depthcheck.validation.papers.linear_nets.figures_convergence import (
    _fig1_figure, _gap_figure, _growth_figure, _t3_figure)
from depthcheck.validation.papers.linear_nets.glorot_balance import _gap_judge, _gap_simulate
from depthcheck.validation.papers.linear_nets.relu_growth import _growth_judge, _growth_simulate

PAPER = "Basu et al. 2019 (arXiv:1904.10689)"
DERIVATIONS = "docs/derivations/linear_nets_convergence.md"

DELTA_T3 = 0.5
DELTA_GAP = 0.1
DELTA_RATE = 0.1

CLAIM_T3_RATE = Claim(
    id="linear_nets.theorem3_max_rate",
    kind="finding",
    title="Finding: Theorem 3's maximum rate of the combined strength Π||W_j||_F (eq. 17) is "
          "exceeded near convergence; its minimum time holds below s/2",
    source=f"{PAPER}, Theorem 3 (eqs. 15–18), Figure 1; {DERIVATIONS} §1–2",
    statement=("Theorem 3 (reconstructed, the printed formulas are not legible): with u = Π_j "
               "||W_j||_F, s = ||Σ_yx||_F, δ <= c·min_j||W_j||, the rate obeys du/dt <= F(u) = "
               "N(1+c)^{2(N−1)/N}(s − u)u^{2−2/N}, hence T(u0→uf) >= ∫du/F. Finding: the bound "
               "on the rate is proven only for u <= s/2; the proof's substitution ||Σ_yx − W_e|| "
               "→ s − u is a lower bound, F → 0 as u → s while the network's u passes s, so "
               "max over u ∈ [0.9s, 0.999s] of (du/dt)/F(u) exceeds 1 (the window's end "
               "u = 0.999s included, the rate there interpolated between the bracketing "
               "steps). Judged per depth N = 2–10: mean over trials of its log > 0 (Family "
               "over depths)."),
    assumptions=("whitened inputs, ℓ2 loss (the theorem's eq. 14), Sec. 4 mixture data with a "
                 "N(0,1) teacher, widths 10-8-…-8-3 (ours); a balanced-in-norm init "
                 "(Cor. 2.3, δ = 0 at t = 0): Glorot-normal directions, every ||W_j||_F = "
                 "(0.1 s)^(1/N), so u0 = s/10 at every depth (plain Glorot has u0 > s for "
                 "N >= 4, where the theorem is vacuous); c the smallest admissible value per "
                 "run; gradient-flow rate evaluated exactly along an Euler path (units 1/η): "
                 "steps that move no layer by more than eps of its norm while u < 0.45 s (the "
                 "plateau, which lasts up to ~10³ time units at N = 10), then fixed h; "
                 "quick N = 2, 4, 6, 8, 10, full N = 2–10"),
    quick={"depths": [2, 4, 6, 8, 10], "d_in": 10, "hidden": 8, "d_out": 3,
           "per_cluster": 400, "teacher_scale": 1.0, "init_scale": 0.3, "u0_over_s": 0.1,
           "h": 0.01, "eps": 0.003, "h_plateau": 1.0, "T_max": 1e5, "window": [0.9, 0.999],
           "init": "balanced", "jitter": 0.1, "rank1_s": [1.0, 2.0]},
    full={"depths": [2, 3, 4, 5, 6, 7, 8, 9, 10], "h": 0.005, "eps": 0.001},
    trials={"quick": 32, "full": 64}, chunk={"quick": 16, "full": 16},
    predict=lambda cfg: 0.0,
    simulate=_t3_simulate,
    judge=_t3_judge,
    figure=_t3_figure,
    control={"init": "rank1", "jitter": 0.3},
    control_description=("one aligned mode (rank-one teacher, W_j = a_j r_(j+1) r_jᵀ, layer "
                         "strengths 30 % apart): ||Σ_yx − W_e|| = s − u exactly, the setting "
                         "the proof's substitution describes, so du/dt <= F(u) holds and the "
                         "log rate ratio is < 0"),
    sensitivity=Sensitivity(
        DELTA_T3, "mean log of the largest ratio (du/dt)/F(u) near convergence",
        "a rate within a factor e^{±0.5} of the bound separates 'the bound is exceeded' from "
        "'the bound holds with the slack of a modest imbalance c ≈ 0.2'"),
    mutations=(
        Mutation("single_aligned_mode",
                 "the network simulated as the single balanced aligned mode the proof assumes "
                 "(rank-one teacher and init, layer strengths 10 % apart): the bound holds, "
                 "log rate ratio ≈ −0.1 (N = 2) to −0.5 (N = 10)",
                 overrides={"init": "rank1", "jitter": 0.1}),),
)

CLAIM_GLOROT_GAP = Claim(
    id="linear_nets.glorot_gap",
    kind="finding",
    title="Finding: under Glorot init E||W_(l+1)||² − E||W_l||² = 2d_(l+1)d_l/(d_(l+1)+d_l) − "
          "2d_l d_(l−1)/(d_l+d_(l−1)) ≠ 0 when adjacent widths differ (Cor. 2.3 says C ≈ 0)",
    source=f"{PAPER}, Corollary 2.3, Lemma 2; Glorot & Bengio 2010; {DERIVATIONS} §3",
    statement=("tr C_l = ||W_(l+1)||_F² − ||W_l||_F² at Glorot-normal or Glorot-uniform init has "
               "mean E||W_(l+1)||² − E||W_l||² (zero iff d_(l+1) = d_(l−1)) and variance "
               "Var||W_(l+1)||² + Var||W_l||², Var||W||² = d d' κ σ⁴, κ = 2 (normal), 4/5 "
               "(uniform). Judged: relative error of the simulated mean gap against the exact "
               "mean within ±δ/2, each layer and distribution (Family)."),
    assumptions=("widths 10-8-6-4-3 (the existing claims' choice: the paper's are not legible); "
                 "2000 initialisations per trial and distribution"),
    quick={"widths": [10, 8, 6, 4, 3], "inits": 2000, "gain": 1.0, "delta": DELTA_GAP},
    trials=32, chunk=16,
    predict=lambda cfg: 0.0,
    simulate=_gap_simulate,
    judge=_gap_judge,
    figure=_gap_figure,
    control={"gain": math.sqrt(2.0)},
    control_description=("ReLU gain √2 passed to the Glorot initialiser (variance doubled): the "
                         "gaps double, relative error ≈ 1"),
    sensitivity=Sensitivity(
        DELTA_GAP, "relative error of the mean squared-norm gap against E tr C_l",
        "a 10 % variance error (a mis-set gain) is the smallest miscalibration that changes "
        "the balance constants of Lemma 2 noticeably"),
    mutations=(
        Mutation("gain_ten_percent",
                 "every layer's variance 10 % too large (gain 1.0488): gaps 10 % larger",
                 overrides={"gain": 1.0488}),),
)

CLAIM_RELU_RATE = Claim(
    id="linear_nets.relu_rate_ratio",
    kind="finding",
    title="Finding: in bias-free ReLU nets the non-squared layer norms grow at rates in the ratio "
          "of the norms (Du–Hu–Lee), so Conjecture 4 fails for the output layer",
    source=(f"{PAPER}, eq. (15), Section 3 (eqs. 24–29), Conjecture 4, Figure 2; Du, Hu & Lee "
            f"2018 (arXiv:1806.00900); {DERIVATIONS} §4"),
    statement=("Conjecture 4: for the bias-free ReLU net (24), d||W_j||_F/dt ≈ d||W_(j+1)||_F/dt "
               "for j >= j0 as training proceeds. Since d||W_j||²/dt is the same for every "
               "layer (Du, Hu & Lee), (d||W_(j+1)||/dt)/(d||W_j||/dt) = ||W_j||/||W_(j+1)|| at "
               "every time. Judged (Family): for every adjacent pair the GD log rate ratio "
               "log(Δ||W_(j+1)||/Δ||W_j||) over [T/2, T] equals the norm-ratio value within "
               "±δ/2, and the output pair's log rate ratio is >= δ (He init: ||W_N||² ≈ d_N, "
               "||W_(N−1)||² ≈ 2d_(N−1)), i.e. Conjecture 4 fails there within its setting; "
               "the hidden pairs match from t = 0 because their norms are equal at init."),
    assumptions=("bias-free ReLU MLP, softmax cross-entropy, full-batch GD, He-normal init on "
                 "every layer (gain √2), sklearn digits (pixels/16, a random subset per trial) "
                 "instead of MNIST; full: the paper's 7-layer net, hidden width 100 (input 64); "
                 "quick: hidden 32, 3 hidden layers; rates from norm differences over [T/2, T]"),
    quick={"widths": [64, 32, 32, 32, 10], "n_samples": 200, "T": 5.0, "eta": 0.05,
           "n_records": 10, "output_init": "he", "output_lr": 1.0, "delta": DELTA_RATE},
    full={"widths": [64, 100, 100, 100, 100, 100, 100, 10], "n_samples": 200, "T": 5.0,
          "eta": 0.025, "n_records": 10},
    trials={"quick": 16, "full": 8}, chunk={"quick": 8, "full": 4},
    predict=lambda cfg: 0.0,
    simulate=_growth_simulate,
    judge=_growth_judge,
    figure=_growth_figure,
    control={"output_init": "balanced"},
    control_description=("output layer initialised with the last hidden layer's expected norm "
                         "(gain √(2d_(N−1)/d_N)): the output pair's rates match from t = 0, "
                         "as Conjecture 4 says, and its log rate ratio ≈ 0 < δ"),
    sensitivity=Sensitivity(
        DELTA_RATE, "log rate ratio of adjacent layers' non-squared norm growth",
        "a 10 % mismatch of two layers' growth rates is the size the paper reads off Fig. 2 "
        "as 'similar growth rate'; smaller departures are not visible in its curves"),
    mutations=(
        Mutation("output_lr_ten_percent",
                 "the output layer trained at 1.1·η (a learning-rate multiplier left on a "
                 "parameter group): its squared norm grows 10 % faster, log ratio off by 0.095",
                 overrides={"output_lr": 1.1}),),
)

CLAIM_FIG1_SHARP = Claim(
    id="linear_nets.fig1_bound_sharpening",
    kind="exact",
    title="Basu et al. 2019, Fig. 1(iii): along Theorem 3's bound curve, deeper nets plateau "
          "longer and then rise more sharply (identical s, u0, c); 'smaller nets are slower' "
          "holds only for u0 near s/10",
    source=f"{PAPER}, Theorem 3 (eq. 17), Figure 1(iii); {DERIVATIONS} §5",
    statement=("Fig. 1(iii) plots the bound (17) with identical s, u0, δ, c for N = 2, 3, 4 "
               "and reads: smaller nets have a slower but smoother transition, larger nets "
               "periods of low learning followed by a sharp transition. Judged on the curve "
               "du/dt = F(u) (reconstructed (17), :func:`theorem3_rate_bound`): the transition "
               "fraction (t_0.9 − t_0.1)/t_0.9 (t_x the time to reach x·s) falls by at least "
               "min_sharpening in log per added layer, for every case with u0/s in the range "
               "(a plateau exists only for u0 well below s/10). The 'slower' part is reported, "
               "not judged: it holds only for u0/s ≳ 0.06–0.09."),
    assumptions=("the reconstructed form of (17) (the printed formula is not legible); the "
                 "fraction does not depend on c or on the prefactor N(1+c)^(2(N−1)/N) (a time "
                 "scale); random cases s ∈ [0.5, 2], c ∈ [0, 0.5], u0/s log-uniform in "
                 "[0.001, 0.05]; N = 2–4 (the figure's), full 2–6"),
    quick={"depths": [2, 3, 4], "u0_over_s": [0.001, 0.05], "s_range": [0.5, 2.0],
           "c_max": 0.5, "min_sharpening": 0.01},
    full={"depths": [2, 3, 4, 5, 6]},
    trials={"quick": 20, "full": 200}, chunk={"quick": 10, "full": 50},
    predict=lambda cfg: 0.0,
    simulate=_fig1_simulate,
    judge=_fig1_judge,
    figure=_fig1_figure,
    control={"u0_over_s": [0.09, 0.0999]},
    control_description=("inits just below s/10, where the bound curve has no plateau below "
                         "0.1·s: the fractions are all ≈ 1 and depth sharpens the rise by less "
                         "than min_sharpening, so the statement is VIOLATED (the sharp "
                         "transition needs a small init)"),
)

CLAIMS = [CLAIM_T3_RATE, CLAIM_FIG1_SHARP, CLAIM_GLOROT_GAP, CLAIM_RELU_RATE]
NOT_CHECKABLE: list = []
