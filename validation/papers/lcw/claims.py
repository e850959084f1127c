"""The Claim records of Kutsuna 2020 (arXiv:2403.13833): prose, configurations, runner directives,
controls; CLAIMS in report order.

The formulas the statements check are derived in ``docs/derivations/lcw.md``; each source names
the section."""
from __future__ import annotations

from depthcheck.validation.claims.claim import Claim
from depthcheck.validation.papers.lcw.activation_shift import _shift_judge, _shift_predict, _shift_simulate
from depthcheck.validation.papers.lcw.deep_sigmoid import _acc_judge, _grad_judge, _grad_simulate, _pair_simulate, _speed_judge
from depthcheck.validation.papers.lcw.figures import _acc_figure, _gain_figure, _grad_figure, _noshift_figure, _shift_figure, _speed_figure
from depthcheck.validation.papers.lcw.variance_gains import _gain_judge, _gain_predict, _gain_simulate


#: How the claims cite the paper (BibTeX ``kutsuna2020lcw`` in docs/references.bib).
PAPER = "Kutsuna 2020 (arXiv:2403.13833)"
#: Where the derivations behind the statements are written out.
DERIVATIONS = "docs/derivations/lcw.md"


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
    figure=_grad_figure)


DEEP_SPEED = Claim(
    id="lcw.deep_sigmoid_speed",
    seed_key="seed000.deep_sigmoid_speed",  # former id: keeps its random streams
    aliases=("seed000.deep_sigmoid_speed",),
    title="Kutsuna 2020, Sec. 6.1: in a deep sigmoid MLP, LCW reaches a training loss in fewer "
          "steps",
    source=f"{PAPER}, Sec. 6.1 (and abstract: 'trained efficiently'); {DERIVATIONS} §5",
    statement=("With the same optimiser, data and minibatches, the LCW sigmoid MLP reaches full "
               "training cross-entropy ≤ 1.0 (chance: ln 10 = 2.30) in fewer SGD steps than the "
               "same net with standard weights. Statistic: mean over trials of log2(T_standard / "
               "T_LCW), censored runs set to steps + eval_every; claim: > 0."),
    assumptions=DEEP_GRADIENTS.assumptions + " Training loss evaluated on the whole training "
                "split every eval_every steps.",
    quick=dict(_QUICK, steps=200, eval_every=20, target_loss=1.0,
               record=["train_loss"], arms=[_LCW, _STD]),
    full=dict(_FULL, steps=800, eval_every=50, target_loss=1.0,
              record=["train_loss"], arms=[_LCW, _STD]),
    trials={"quick": 12, "full": 16}, chunk={"quick": 6, "full": 8},
    predict=lambda cfg: 0.0, simulate=_pair_simulate, judge=_speed_judge,
    control={"arms": [_STD, _LCW]},
    control_description=("the arms swapped: the same statistic claims that standard weights are "
                         "the faster ones."),
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
               "BN. Statistic: mean paired difference of test accuracy over seeds; claim: > 0."),
    assumptions=DEEP_GRADIENTS.assumptions + " BN (batch statistics, learnable gain/shift) "
                "before every hidden sigmoid; test accuracy on the held-out 25 %.",
    quick=dict(_QUICK, steps=120, eval_every=40, record=["test_acc"],
               arms=[_LCW_BN, _STD_BN]),
    full=dict(_FULL, steps=800, eval_every=100, record=["test_acc"],
              arms=[_LCW_BN, _STD_BN]),
    trials={"quick": 8, "full": 24}, chunk={"quick": 4, "full": 6},
    predict=lambda cfg: 0.0, simulate=_pair_simulate, judge=_acc_judge,
    control={"arms": [_STD, _LCW_BN]},
    control_description=("the claimed-better arm replaced by the standard-weight net without BN "
                         "(which does not train at this depth): the same test must FAIL."),
    figure=_acc_figure)


CLAIMS = [ACTIVATION_SHIFT, LCW_NO_SHIFT, VARIANCE_GAINS, DEEP_GRADIENTS, DEEP_SPEED,
          LCW_BN_ACCURACY]
