"""The Claim records of Kutsuna 2020 (arXiv:2403.13833): prose, configurations, runner directives,
controls; CLAIMS in report order.

The formulas the statements check are derived in ``docs/derivations/lcw.md``; each source names
the section."""
from __future__ import annotations

from depthcheck.validation.claims.claim import Claim, Mutation, Sensitivity, Sequential
from depthcheck.validation.papers.lcw import claims_relu_conv as _relu_conv
from depthcheck.validation.papers.lcw.activation_shift import _shift_judge, _shift_predict, _shift_simulate
from depthcheck.validation.papers.lcw.deep_sigmoid import (_acc_judge, _grad_judge, _grad_simulate, _pair_simulate, _speed_judge,
                                                           acc_statement, acc_worse_by_delta, gradients_vanish_by)
from depthcheck.validation.papers.lcw.figures import _acc_figure, _gain_figure, _grad_figure, _noshift_figure, _shift_figure, _speed_figure
from depthcheck.validation.papers.lcw.variance_gains import _gain_judge, _gain_predict, _gain_simulate


#: How the claims cite the paper (BibTeX ``kutsuna2020lcw`` in docs/references.bib).
PAPER = "Kutsuna 2020 (arXiv:2403.13833)"
#: Where the derivations behind the statements are written out.
DERIVATIONS = "docs/derivations/lcw.md"


_SHIFT_SENSITIVITY = Sensitivity(
    {"quick": 0.3, "full": 0.2}, "excess of E z² (mean squared standardised per-neuron error) "
    "over 1",
    "an excess x is a per-neuron bias of energy x·σ_γ²‖w‖²/N: the shift's coefficient γ off by "
    "√(x σ_γ²/(N γ²)) (1.0 % sigmoid, 3.6 % ReLU at x = 0.3, N = 500), or a residual LCW shift "
    "inflating the forward variance gain by x/N = 0.06 %, far below the 2 % per layer that "
    "compounds to an e-fold over the 50-layer nets of Sec. 6; the band is 1 ± δ/2.")


_SHIFT_BASE = {"m": 400, "n": 400, "samples": 500, "activations": ["sigmoid", "relu"],
               "input_scale": 1.0, "gain": 1.0, "input_offset_sd": 0.0, "band": [0.85, 1.15]}


ACTIVATION_SHIFT = Claim(
    id="lcw.activation_shift",
    seed_key="seed000.activation_shift",  # former id: keeps its random streams
    aliases=("seed000.activation_shift",),
    title="Kutsuna 2020, activation shift: mean pre-activation = γ√m‖w‖cos θ",
    source=f"{PAPER}, abstract and Sec. 3 (activation shift); {DERIVATIONS} §1",
    statement=("For a ~ P_γ (E a = γ 1_m) the mean pre-activation of a neuron with weights w is "
               "E[w·a] = γ √m ‖w‖ cos θ_w = γ Σ_j w_j, θ_w the angle between w and 1_m: different "
               "neurons of one layer get different means. Per neuron the sample mean over N "
               "inputs has variance σ_γ²‖w‖²/N, so the standardised errors z_i have E z_i² = 1 "
               "exactly; the statistic is the trial mean of (1/n) Σ_i z_i², predicted 1 "
               "(band ±0.15)."),
    assumptions=("a_j = f(g_j), g_j i.i.d. N(0, 1), f ∈ {sigmoid, relu} (an exact P_γ with "
                 "uncorrelated coordinates; γ, σ_γ² from depthcheck.theory.lcw.activation_moments); fixed "
                 "Gaussian standard weights, m = n = 400, N = 500 samples per trial."),
    quick=dict(_SHIFT_BASE, weights="standard", hypothesis="formula"),
    full=dict(_SHIFT_BASE, m=800, n=800, weights="standard",
              hypothesis="formula", band=[0.9, 1.1]),
    trials={"quick": 64, "full": 128}, chunk={"quick": 16, "full": 32},
    predict=_shift_predict, simulate=_shift_simulate, judge=_shift_judge,
    control={"input_offset_sd": 0.5},
    control_description=("inputs outside P_γ: each coordinate gets its own offset c_j ~ N(0, "
                         "0.5²) before the activation, so coordinate means differ and "
                         "E[w·a] = Σ_j w_j μ_j ≠ γ Σ_j w_j (same code path, same prediction)."),
    sensitivity=_SHIFT_SENSITIVITY,
    mutations=(Mutation(
        "gamma_off_by_delta",
        "inputs with the common mean γ(1 + ε) while the theory uses γ (a mis-computed "
        "activation mean: the shift's coefficient off by ε; ε = 1.0 % for sigmoid, 3.6 % for "
        "ReLU in quick, the size that raises E z² by δ), simulated on the claim's streams.",
        overrides={"gamma_error_deltas": 1.0}),),
    figure=_shift_figure)


LCW_NO_SHIFT = Claim(
    id="lcw.lcw_no_shift",
    seed_key="seed000.lcw_no_shift",  # former id: keeps its random streams
    aliases=("seed000.lcw_no_shift",),
    title="Kutsuna 2020, Sec. 3: LCW removes the activation shift (zero mean pre-activation)",
    source=f"{PAPER}, Sec. 3 and 3.1 (LCW, W_LC = {{w : w·1_m = 0}}); {DERIVATIONS} §1-2",
    statement=("For weights w = B_m v in W_LC the mean pre-activation E[w·a] vanishes for every "
               "a ~ P_γ, whatever γ: measured per-neuron means are consistent with 0 within their "
               "exact sampling error (statistic: trial mean of (1/n) Σ_i z_i², z_i = mean_i / "
               "se_i, predicted 1, band ±0.15)."),
    assumptions=("LCW weights via the Householder basis B_m (depthcheck.kernels.nn.lcw), v i.i.d. Gaussian; "
                 "inputs as in lcw.activation_shift (sigmoid and ReLU, γ = 0.5 and 0.399)."),
    quick=dict(_SHIFT_BASE, weights="lcw", hypothesis="zero"),
    full=dict(_SHIFT_BASE, m=800, n=800, weights="lcw",
              hypothesis="zero", band=[0.9, 1.1]),
    trials={"quick": 64, "full": 128}, chunk={"quick": 16, "full": 32},
    predict=_shift_predict, simulate=_shift_simulate, judge=_shift_judge,
    control={"weights": "standard"},
    control_description=("standard Gaussian weights (not in W_LC) with the same norm: their "
                         "neurons' means γ Σ_j w_j are far from 0."),
    sensitivity=_SHIFT_SENSITIVITY,
    mutations=(Mutation(
        "leaky_constraint",
        "an LCW layer whose zero-sum constraint is implemented wrongly: each w_i = B_m v_i "
        "gets a component c_i 1_m/m, c_i ~ N(0, s² g²), leaving a shift γ c_i with a fraction "
        "s² of the standard-weight shift energy (s² = 1.0e-4 sigmoid, 1.3e-3 ReLU in quick: "
        "the size that raises E z² by δ), simulated on the claim's streams.",
        overrides={"constraint_leak_deltas": 1.0}),),
    figure=_noshift_figure)


_GAIN_BASE = {"m": 256, "n": 256, "samples": 64, "activations": ["sigmoid", "relu"],
              "input_scale": 1.0, "gain": 1.0, "predict_shift": True, "band": [0.9, 1.1]}


VARIANCE_GAINS = Claim(
    id="lcw.variance_gains",
    seed_key="seed000.variance_gains",  # former id: keeps its random streams
    aliases=("seed000.variance_gains",),
    title="Kutsuna 2020, Sec. 4: forward/backward variance gains, standard vs LCW layers",
    source=f"{PAPER}, Sec. 4 and 4.3 (variance analysis); {DERIVATIONS} §3",
    statement=("One FC layer z = W a, δa = Wᵀ δz with inputs a ~ P_γ. Standard weights (i.i.d., "
               "variance σ_w²): forward V(z)/σ_γ² = m σ_w² (1 + γ²/σ_γ²), backward V(δa)/V(δz) = "
               "n σ_w², so the forward chain is amplified (1 + γ²/σ_γ²) times more (m = n). LCW "
               "w = B_m v (variance σ_v²): forward (m − 1) σ_v², backward n (m − 1)/m σ_v², the "
               "same rate. Each of the 6 measured/predicted ratios (forward × {standard, LCW} × "
               "{sigmoid, ReLU}, backward × {standard, LCW}) must lie in [0.9, 1.1]."),
    assumptions=("a_j = f(g_j), g_j i.i.d. N(0, 1) (uncorrelated P_γ; sigmoid γ = 1/2, σ_γ² = "
                 "0.0434; ReLU γ = 0.399, σ_γ² = 0.341); δz i.i.d. N(0, 1) independent of W; "
                 "V(·) is the second moment pooled over neurons and samples (E z = 0 over the "
                 "weight law); m = n = 256, σ_w² = 1/m, σ_v² = 1/(m − 1)."),
    quick=dict(_GAIN_BASE),
    full=dict(_GAIN_BASE, m=512, n=512, samples=128, band=[0.95, 1.05]),
    trials={"quick": 64, "full": 256}, chunk={"quick": 16, "full": 32},
    predict=_gain_predict, simulate=_gain_simulate, judge=_gain_judge,
    control={"predict_shift": False},
    control_description=("the prediction drops the activation-shift term: standard forward gain "
                         "m σ_w² (as if inputs were centred), i.e. symmetric forward/backward "
                         "amplification for standard weights."),
    sensitivity=Sensitivity(
        {"quick": 0.2, "full": 0.1}, "relative error of a variance gain (measured/predicted − 1)",
        "the activation-shift term to be told apart is a factor 1 + γ²/σ_γ² = 1.47 (ReLU) to "
        "6.76 (sigmoid); a per-layer gain error of 10 % compounds to e over 10 layers, so quick "
        "resolves 20 % and full 10 %; the band is 1 ± δ/2."),
    mutations=(Mutation(
        "weight_variance_off_by_delta",
        "every simulated weight variance off by the factor 1 + δ (a mis-scaled initialisation, "
        "e.g. σ_v² = g²/(m − 1) computed with a wrong gain), simulated on the claim's streams; "
        "predictions unchanged.", overrides={"variance_error_deltas": 1.0}),),
    figure=_gain_figure)


_TRAIN_BASE = {"activation": "sigmoid", "gain": 4.0, "momentum": 0.9, "batch_size": 64,
               "test_fraction": 0.25, "standardise": "global"}


# quick: depth 20, width 32, lr 0.1. full: depth 50, width 64, lr 0.03 — lr 0.1 made the LCW net
# (the arm the claims favour) diverge after ~300 steps at depth 50 in a 4-trial probe; 0.03 was
# the one other value tried. Every arm of a claim shares the optimiser settings.
_QUICK = dict(_TRAIN_BASE, depth=20, width=32, lr=0.1)


_FULL = dict(_TRAIN_BASE, depth=50, width=64, lr=0.03)


_LCW = {"weights": "lcw", "norm": "none"}


_STD = {"weights": "standard", "norm": "none"}


_LCW_BN = {"weights": "lcw", "norm": "bn"}


_STD_BN = {"weights": "standard", "norm": "bn"}


DEEP_GRADIENTS = Claim(
    id="lcw.deep_sigmoid_gradients",
    seed_key="seed000.deep_sigmoid_gradients",  # former id: keeps its random streams
    aliases=("seed000.deep_sigmoid_gradients",),
    title="Kutsuna 2020, Sec. 6.1: in a deep sigmoid MLP, LCW gradients do not vanish with depth",
    source=f"{PAPER}, Sec. 4.3 and Sec. 6.1; {DERIVATIONS} §3, §5",
    statement=("In a deep MLP with sigmoid activations, standard weights let the per-layer "
               "gradient norm vanish towards the input (activation shift forces small backward "
               "gains), LCW weights do not. Statistic: per-trial OLS slope of log10 ‖∂L/∂θ_l‖_F "
               "against the layer index l over the hidden-to-hidden layers, averaged over the "
               "SGD steps recorded; LCW claim: slope ≤ 0.05 decades per layer."),
    assumptions=("digits (64 features, 10 classes), per-trial random 75/25 split, global "
                 "standardisation; widths 64 → 32 × 20 → 10 (quick) / 64 × 50 (full); "
                 "biases; Gaussian init with E‖w_i‖² = 16 (g = 1/σ'(0)); SGD, momentum 0.9, "
                 "lr 0.1 (quick) / 0.03 (full), minibatch 64; gradients of the parameters "
                 "actually trained (V for LCW)."),
    quick=dict(_QUICK, steps=60, eval_every=20, max_slope=0.05, record=[],
               arms=[_LCW]),
    full=dict(_FULL, steps=200, eval_every=20, max_slope=0.05, record=[],
              arms=[_LCW]),
    trials=16, chunk=8,
    predict=lambda cfg: cfg["max_slope"], simulate=_grad_simulate, judge=_grad_judge,
    control={"arms": [_STD]},
    control_description=("the same net with standard weights (same norm, E‖w_i‖² = 16): the "
                         "activation shift of sigmoid outputs (γ ≈ 1/2) saturates units and the "
                         "gradients vanish towards the input."),
    sensitivity=Sensitivity(
        0.05, "slope of log10 ‖∂L/∂θ_l‖ per layer beyond the bound max_slope",
        "a vanishing rate of max_slope + δ = 0.1 decades per layer loses 2 decades over the "
        "quick net's 20 layers and 5 over the full net's 50: the failure the paper's Sec. 6.1 "
        "attributes to the activation shift; the interval's half-width is below δ/2."),
    mutations=(Mutation(
        "gradients_vanish",
        "evidence transform (the truth off by δ, exactly calibrated): every layer's gradient "
        "norm scaled by 10^{(max_slope + δ) l}, i.e. gradients vanishing towards the input "
        "max_slope + δ = 0.1 decades per layer faster than measured (a gradient scaled per "
        "layer).", transform=gradients_vanish_by(0.05)),),
    figure=_grad_figure)


_MEAN_CODED = ("the images replaced by inputs whose class lies only along 1_m (x = κ(y − 4.5)/4.5 "
               "· 1_m + N(0, I), κ = 4; same labels and split): an LCW first layer (w·1_m = 0) "
               "is blind to the class, a standard one is not.")


DEEP_SPEED = Claim(
    id="lcw.deep_sigmoid_speed",
    seed_key="seed000.deep_sigmoid_speed",  # former id: keeps its random streams
    aliases=("seed000.deep_sigmoid_speed",),
    title="Kutsuna 2020, Sec. 6.1: in a deep sigmoid MLP, LCW lowers the training loss faster",
    source=f"{PAPER}, Sec. 6.1 (and abstract: 'trained efficiently'); {DERIVATIONS} §5",
    statement=("With the same optimiser, data and minibatches, the LCW sigmoid MLP lowers the "
               "full training cross-entropy faster than the same net with standard weights. "
               "Statistic: per-trial mean over the recorded evaluations (steps 0..S) of "
               "L_standard − L_LCW (the area between the training curves per step, in nats; "
               "no censoring); claim: its mean ≥ δ/2 = 0.2 nats. Steps to a loss of 1.0 "
               "(chance: ln 10 = 2.30) are reported."),
    assumptions=DEEP_GRADIENTS.assumptions + " Training loss evaluated on the whole training "
                "split every eval_every steps.",
    quick=dict(_QUICK, steps=200, eval_every=20, target_loss=1.0, min_advantage=0.2,
               record=["train_loss"], arms=[_LCW, _STD]),
    full=dict(_FULL, steps=800, eval_every=50, target_loss=1.0, min_advantage=0.2,
              record=["train_loss"], arms=[_LCW, _STD]),
    trials={"quick": 12, "full": 16}, chunk={"quick": 6, "full": 8},
    predict=lambda cfg: cfg["min_advantage"], simulate=_pair_simulate, judge=_speed_judge,
    control={"data": "mean_coded", "depth": 2},
    control_description=(_MEAN_CODED + " At depth 2, where the standard net trains within the "
                         "step budget, LCW must then be the slower one (an LCW arm whose "
                         "constraint is lost in training would not FAIL)."),
    sensitivity=Sensitivity(
        0.4, "mean training-loss advantage of LCW over standard weights (nats)",
        "0.4 nats is 17 % of the chance-level loss ln 10 and a small fraction of the "
        "advantage the paper's curves show; a speed-up smaller than δ/2 is within what "
        "optimiser tuning changes. No speed-up at all lies δ/2 below the bound."),
    mutations=(Mutation(
        "lcw_constraint_dropped",
        "the LCW reparametrisation silently not applied (the LCW arm trains standard weights "
        "with the same norm): the truth has no speed-up, δ/2 below the bound; simulated on "
        "the claim's streams.", overrides={"lcw_constraint": "dropped"}),),
    figure=_speed_figure)


LCW_BN_ACCURACY = Claim(
    id="lcw.lcw_bn_accuracy",
    seed_key="seed000.lcw_bn_accuracy",  # former id: keeps its random streams
    aliases=("seed000.lcw_bn_accuracy",),
    title="Kutsuna 2020, Sec. 6.1: LCW + BN generalises better than BN alone (deep sigmoid MLP)",
    source=f"{PAPER}, Sec. 6.1 ('combined with BN, LCW achieves better performance in test "
           f"loss/accuracy')",
    statement=("Trained with the same optimiser, data split and minibatches, the deep sigmoid "
               "MLP with LCW + BN has a higher final test accuracy than with standard weights + "
               "BN. Statistic: mean paired difference of test accuracy over seeds; claim: > 0. "
               "An INCONCLUSIVE means 'not resolved at this power', never 'no difference'."),
    assumptions=DEEP_GRADIENTS.assumptions + " BN (batch statistics, learnable gain/shift) "
                "before every hidden sigmoid; test accuracy on the held-out 25 %.",
    quick=dict(_QUICK, steps=120, eval_every=40, record=["test_acc"], delta=0.2,
               arms=[_LCW_BN, _STD_BN]),
    full=dict(_FULL, steps=800, eval_every=100, record=["test_acc"], delta=0.05,
              arms=[_LCW_BN, _STD_BN]),
    # full: the paired differences' sd (~0.03) and t(α = 1e-5, 23 df) ≈ 6.1 give a half-width
    # of ≈ 0.037 at 24 trials (463 + 473 CPU-s for claim and control in results/reference-full,
    # the full run's longest claim); resolving 0.01 needs ~160 trials (~50 CPU-min for the
    # claim alone, most of the full run's hour): `--until-decided` is that path
    trials={"quick": 8, "full": 24}, chunk={"quick": 4, "full": 4},
    predict=lambda cfg: 0.0, simulate=_pair_simulate, judge=_acc_judge,
    control={"data": "mean_coded"},
    control_description=(_MEAN_CODED + " LCW + BN is then blind (BN acts after the "
                         "constrained layer), standard + BN learns: the same test must FAIL."),
    sensitivity=Sensitivity(
        {"quick": 0.2, "full": 0.05}, "paired test-accuracy difference (LCW+BN − BN)",
        "0.01 (one point of accuracy) is the size of the improvements reported for LCW + BN "
        "over BN, but 160 trials of 800 steps (~50 CPU-min) would be needed to resolve it; the "
        "full run resolves 0.05 in 24 trials, quick's 8 trials only 0.2 (half-width ≈ 0.1): "
        "an INCONCLUSIVE is 'not resolved at this power', never 'no difference'; "
        "`--until-decided` resolves smaller differences."),
    mutations=(Mutation(
        "lcw_bn_worse_by_delta",
        "evidence transform (the truth off by δ, exactly calibrated): LCW + BN's final "
        "accuracies shifted so that the mean paired difference is −δ, with the measured "
        "trial-to-trial spread.", transform=acc_worse_by_delta),),
    sequential=Sequential("acc_diff", acc_statement, support=(-1.0, 1.0)),
    figure=_acc_figure)


CLAIMS = [ACTIVATION_SHIFT, LCW_NO_SHIFT, VARIANCE_GAINS, DEEP_GRADIENTS, DEEP_SPEED,
          LCW_BN_ACCURACY, *_relu_conv.CLAIMS]
#: The paper's statements not checked here, with why (``python -m depthcheck list``).
NOT_CHECKABLE = [*_relu_conv.NOT_CHECKABLE]
