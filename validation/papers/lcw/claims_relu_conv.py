"""Claim records of Kutsuna 2020 (arXiv:2403.13833) for ReLU MLPs and a conv layer: the
activation shift with and without LCW (``relu_lcw``, ``conv_lcw``), the training of a deep ReLU
MLP with and without LCW (``relu_train``), of a small conv net with and without LCW kernels
(``conv_train``) and with BN, LCW + BN vs BN (``conv_bn``), and the image benchmarks we cannot
run (``NOT_CHECKABLE``). Derivations: ``docs/derivations/lcw_conv.md``."""
from __future__ import annotations

import math

from depthcheck.validation.claims.claim import Claim, Mutation, NotCheckable, Sensitivity
from depthcheck.validation.papers.lcw.figures_relu_conv import rho_figure, shift_figure
from depthcheck.validation.papers.lcw.conv_bn import conv_bn_judge, conv_bn_simulate
from depthcheck.validation.papers.lcw.conv_lcw import conv_shift_judge, conv_shift_simulate
from depthcheck.validation.papers.lcw.conv_train import conv_train_judge, conv_train_simulate
from depthcheck.validation.papers.lcw.relu_lcw import R_STANDARD, shift_judge, shift_simulate
from depthcheck.validation.papers.lcw.relu_train import relu_train_judge, relu_train_simulate

PAPER = "Kutsuna 2020 (arXiv:2403.13833)"
DERIVATIONS = "docs/derivations/lcw_conv.md"

_SHIFT_SENS = Sensitivity(
    0.1, "shift fraction R (share of the pre-activations' second moment carried by the "
    "per-unit means)",
    "standard weights put 1/π ≈ 0.32 (ReLU MLP, layer 2) to 0.6 (deeper layers, conv) of E z² "
    "into per-unit means; a residual of 0.1 is a third of the effect LCW is claimed to remove, "
    "the size a partly lost zero-sum constraint leaves (mutation); equality bands are ±δ/2.")

RELU_MLP_SHIFT = Claim(
    id="lcw.relu_mlp_shift",
    title="Kutsuna 2020, Sec. 3: activation shift in a deep ReLU MLP, removed by LCW",
    source=f"{PAPER}, abstract and Secs. 3-3.1 (activation shift, W_LC), Sec. 4 (P_γ); "
           f"{DERIVATIONS} §2-3",
    statement=("In a deep ReLU MLP at initialisation the pre-activations of standard-weight "
               "neurons carry neuron-dependent means (activation shift): at layer 2 (inputs "
               "a = relu(z) of centred z) the shift fraction R = Σ_i (mean z_i)² / Σ_i mean "
               "z_i² is 1/π (band ±0.05), and it grows with depth. With LCW in every layer "
               "R stays ≤ 0.1 at every hidden layer 2..L (Bonferroni family of the two "
               "statements)."),
    assumptions=("scikit-learn digits (per-feature standardised, so layer 1 has no shift for "
                 "either kind), random subset per chunk; widths 64 → width × depth → 10, "
                 "biases 0, Gaussian init with E‖w_i‖² = 2 (He gain) for both kinds; the 1/π "
                 "is exact for Gaussian layer-1 pre-activations (digits projections are only "
                 "close to Gaussian); the LCW residual comes from ReLU units whose means differ "
                 "(P_γ holds only approximately in deep layers), it is not predicted to be 0."),
    quick={"depth": 6, "width": 128, "samples": 200, "activation": "relu",
           "gain": math.sqrt(2.0), "band": 0.1, "max_lcw": 0.1},
    full={"depth": 20, "width": 256, "samples": 500},
    trials={"quick": 32, "full": 64}, chunk={"quick": 16, "full": 16},
    predict=lambda cfg: R_STANDARD, simulate=shift_simulate, judge=shift_judge,
    control={"activation": "tanh", "gain": 1.0},
    control_description=("tanh instead of ReLU (odd activation, zero-mean outputs for centred "
                         "inputs): no activation shift arises, the standard layer-2 fraction "
                         "is ≈ 0, not 1/π."),
    sensitivity=_SHIFT_SENS,
    mutations=(Mutation(
        "leaky_constraint",
        "LCW layers whose zero-sum constraint leaks: each hidden row w_i = B_m v_i gets "
        "c_i 1_m/m, c_i ~ N(0, 0.1 g²) (a tenth of a standard row's sum energy), which leaves "
        "R ≈ 0.2 in the deeper layers, δ above the bound; simulated on the claim's streams.",
        overrides={"leak": 0.1}),),
    figure=shift_figure,
)

CONV_SHIFT = Claim(
    id="lcw.conv_shift",
    title="Kutsuna 2020, Sec. 6.2 analogue: LCW kernels remove the activation shift of a conv "
          "layer",
    source=f"{PAPER}, abstract ('fully connected and convolutional layers') and Sec. 6.2; "
           f"{DERIVATIONS} §1, §4",
    statement=("A conv layer whose every output-channel kernel sums to zero over its c·k·k "
               "inputs has no activation shift when its input patches have a common mean: on "
               "non-negative images the first LCW conv layer's shift fraction R (per channel, "
               "over images and positions) is ≤ 0.05 (standard kernels: ≈ 0.5), and the second "
               "conv layer (ReLU inputs whose channel means differ) is reduced to R ≤ 0.2 "
               "(standard ≈ 0.6). Bonferroni family of the two bounds."),
    assumptions=("digits 8×8 scaled to [0, 1] (no download; the paper's image benchmarks are "
                 "out of reach), conv 1 → 16 → 16 channels, 3×3, stride 1, no padding, ReLU, "
                 "no BN (the paper's Sec. 6.2 nets use BN), Gaussian kernels with E‖w‖² = 2 "
                 "for both kinds, LCW w = B_m v over the flattened (channel, row, column) "
                 "kernel (our reading of LCW for conv layers); at initialisation."),
    quick={"convs": [16, 16], "k": 3, "gain": math.sqrt(2.0), "samples": 256,
           "max_lcw": [0.05, 0.2]},
    full={"convs": [32, 32], "samples": 1000},
    trials={"quick": 32, "full": 64}, chunk={"quick": 16, "full": 16},
    predict=lambda cfg: cfg["max_lcw"][0], simulate=conv_shift_simulate, judge=conv_shift_judge,
    control={"arm": "standard"},
    control_description="the judged arm with standard (unconstrained) kernels of the same norm.",
    sensitivity=_SHIFT_SENS,
    mutations=(Mutation(
        "leaky_constraint",
        "LCW kernels whose zero-sum constraint leaks: each kernel gets c_o 1_m/m, c_o ~ N(0, "
        "0.1 g²), which raises the first layer's R from ≈ 0.001 to ≈ 0.1 (about δ above its "
        "bound); simulated on the claim's streams.", overrides={"leak": 0.1}),),
    figure=shift_figure,
)

CONV_TRAINING = Claim(
    id="lcw.conv_training",
    kind="finding",
    title="Kutsuna 2020, Sec. 6.2 analogue (no BN): a small ReLU conv net trains as fast with LCW "
          "kernels as with standard kernels, within δ/2",
    source=f"{PAPER}, abstract ('fully connected and convolutional layers') and Sec. 6.2 (conv "
           f"nets with ReLU trained with LCW); {DERIVATIONS} §1, §5",
    statement=("Finding of this library (the paper states the conv-net effect only with BN): "
               "trained with the same optimiser, data, minibatches and coupled initialisation, "
               "a one-conv-layer ReLU net on digits has a mean training loss over the run whose "
               "paired log-ratio ρ = log(Ā_LCW/Ā_standard) lies within ±δ/2 = ±0.25 (no speed-up "
               "or slow-down by a factor e^0.25 = 1.28 or more). An equivalence PASS means no "
               "difference of that size at these trials, not 'no difference'."),
    assumptions=("digits 8×8 in [0, 1], per-trial random 75 % training split; conv 1 → 16 "
                 "channels, 3×3 valid, ReLU, standard fully connected output 576 → 10; no BN "
                 "(the paper's Sec. 6.2 VGG nets use BN); kernels with E‖w‖² = 2 for both kinds, "
                 "the LCW kernels the zero-sum projection of the standard ones (coupled); SGD "
                 "lr 0.03, momentum 0.9, batch 64, shared by both arms (0.03 and 0.01 were the "
                 "two rates tried: ρ ≈ +0.05 and +0.10, both within the band); Ā = mean of the "
                 "minibatch cross-entropy over steps 0..S."),
    quick={"convs": [16], "k": 3, "gain": math.sqrt(2.0), "lr": 0.03, "momentum": 0.9,
           "batch_size": 64, "steps": 60, "test_fraction": 0.25, "data": "digits",
           "noise_sd": 0.2, "band": 0.25},
    trials={"quick": 16, "full": 64}, chunk={"quick": 8, "full": 16},
    predict=lambda cfg: 0.0, simulate=conv_train_simulate, judge=conv_train_judge,
    control={"data": "mean_coded", "classes": [0, 1]},
    control_description=("digits 0 and 1 replaced by images whose class is only their common "
                         "brightness (y · 1 + 0.2 N(0, I)): a zero-sum kernel cannot see it, so "
                         "the LCW net stays at chance while the standard net learns; ρ must "
                         "leave the band."),
    sensitivity=Sensitivity(
        0.5, "paired log-ratio ρ of the mean training loss over the run (LCW / standard)",
        "the sigmoid MLP of Sec. 6.1 gains ρ ≈ −0.5 from LCW at a comparable budget "
        "(lcw.deep_sigmoid_speed's setting); a band of ±δ/2 = ±0.25 (a factor 1.28 in the "
        "mean training loss) resolves half of that effect in either direction."),
    mutations=(Mutation(
        "lcw_step_size_scaled",
        "the LCW arm's step size ×0.3 (a mis-scaled gradient of the reparametrised kernel "
        "V, e.g. a forgotten factor in B_mᵀ): a pilot moved ρ by ≈ +0.57 ≈ δ; simulated on the "
        "claim's streams.", overrides={"lcw_lr_scale": 0.3}),),
)

RELU_MLP_TRAINING = Claim(
    id="lcw.relu_mlp_training",
    kind="finding",
    title="Kutsuna 2020, Secs. 4 and 6.1 read for ReLU: in a deep ReLU MLP, LCW's effect on the "
          "training speed changes sign with the learning rate",
    source=f"{PAPER}, Sec. 4 (variance analysis), Sec. 6.1 (deep MLPs trained with and without "
           f"LCW; the speed-up is stated for sigmoid); {DERIVATIONS} §3, §6",
    statement=("Finding of this library (the paper states LCW's training speed-up for sigmoid "
               "nets only): trained with the same optimiser, data, minibatches and coupled "
               "initialisation, a deep ReLU MLP on digits is neither uniformly helped nor hurt "
               "by LCW. With ρ = log(Ā_LCW/Ā_standard) (Ā the mean minibatch training loss over "
               "the run), LCW is slower at lr 0.01 (E ρ ≥ 0) and faster at lr 0.03 (E ρ ≤ 0): "
               "Bonferroni family of the two one-sided statements. The sigmoid net of Sec. 6.1 "
               "has ρ < 0 at both rates."),
    assumptions=("scikit-learn digits (per-feature standardised), per-trial random 75 % "
                 "training split; widths 64 → 32 × 10 → 10, biases, LCW in every layer; "
                 "Gaussian init with E‖w_i‖² = 2 (He gain) for both kinds, the LCW weights the "
                 "zero-sum projection of the standard draw (coupled, exact LCW law); SGD, "
                 "momentum 0.9, batch 64, 100 steps; the two rates {0.01, 0.03} fixed a priori "
                 "(0.1 diverges for both kinds); no BN. The sign change is a statement about "
                 "this budget: ρ measures the area under the early training curve."),
    quick={"depth": 10, "width": 32, "activation": "relu", "gain": math.sqrt(2.0),
           "lrs": [0.01, 0.03], "expect": ["slower", "faster"], "momentum": 0.9,
           "batch_size": 64, "steps": 100, "test_fraction": 0.25, "standardise": "feature"},
    trials={"quick": 16, "full": 128}, chunk={"quick": 8, "full": 16},
    predict=lambda cfg: 0.0, simulate=relu_train_simulate, judge=relu_train_judge,
    control={"activation": "sigmoid", "gain": 4.0},
    control_description=("the same net with sigmoid units and gain 4 = 1/σ'(0) (the setting of "
                         "lcw.deep_sigmoid_speed): LCW removes the sigmoid's activation shift "
                         "and is faster at both rates (ρ ≈ −0.05 at lr 0.01, −0.15 at 0.03), so "
                         "the 'slower at lr 0.01' half must FAIL."),
    sensitivity=Sensitivity(
        0.5, "paired log-ratio ρ of the mean training loss over the run (LCW / standard)",
        "the sigmoid MLP of Sec. 6.1 gains ρ ≈ −0.5 from LCW (lcw.deep_sigmoid_speed's "
        "setting); a shift of ρ of that size at either rate reverses the measured sign pattern "
        "(ρ ≈ +0.13 at lr 0.01, −0.15 at 0.03, sd ≈ 0.14 per trial). Quick's 16 trials give "
        "half-widths ≈ 0.24 and may leave the signs unresolved (INCONCLUSIVE); full's 128 give "
        "≈ 0.065."),
    mutations=(Mutation(
        "lcw_step_size_scaled",
        "the LCW arm's step size ×0.3 (a mis-scaled gradient of the reparametrised weights V, "
        "e.g. a forgotten factor in B_mᵀ): a pilot moved ρ at lr 0.03 from −0.15 to +0.35 "
        "(≈ δ), so 'LCW faster at lr 0.03' must FAIL; simulated on the claim's streams.",
        overrides={"lcw_lr_scale": 0.3}),),
    figure=rho_figure,
)

CONV_BN_TRAINING = Claim(
    id="lcw.conv_bn_training",
    kind="finding",
    title="Kutsuna 2020, Sec. 6.2 analogue: with BN, a small ReLU conv net trains as fast with LCW "
          "kernels as without, within δ/2",
    source=f"{PAPER}, abstract ('combined with batch normalization, LCW improves generalization "
           f"performance') and Sec. 6.2 (conv nets with BN, LCW + BN vs BN); {DERIVATIONS} §6",
    statement=("Finding of this library, against the paper's 'LCW + BN trains faster and "
               "generalises better than BN' at this scale: trained with the same optimiser, "
               "data, minibatches and coupled initialisation, a one-conv-layer ReLU net with "
               "per-channel BN on digits has a paired log-ratio ρ = log(Ā_LCW+BN/Ā_BN) of the "
               "mean training loss over the run within ±δ/2 = ±0.1 (no speed-up or slow-down "
               "by a factor e^0.1 = 1.11 or more). The paired final test-accuracy difference is "
               "reported (full mode: −0.0013 [−0.0047, +0.0022] over 64 trials). An equivalence PASS means no "
               "difference of that size at these trials, not 'no difference'."),
    assumptions=("digits 8×8 in [0, 1], per-trial random 75/25 split; conv 1 → 16 channels, "
                 "3×3 valid, BN per channel over images and positions (training mode, "
                 "learnable gain and shift, no eps) before the ReLU, standard fully connected "
                 "output 576 → 10; the paper's Sec. 6.2 nets are VGG-style on CIFAR/SVHN. "
                 "Kernels with E‖w‖² = 2 for both kinds, LCW the zero-sum projection of the "
                 "standard draw (coupled); SGD lr 0.03 (the rate of lcw.conv_training; 0.1 "
                 "gave the same ρ in a pilot), momentum 0.9, batch 64, 40 steps (quick) / 100 "
                 "(full); test accuracy with the test split's batch statistics (no running "
                 "averages)."),
    quick={"convs": [16], "k": 3, "gain": math.sqrt(2.0), "lr": 0.03, "momentum": 0.9,
           "batch_size": 64, "steps": 40, "test_fraction": 0.25, "data": "digits",
           "noise_sd": 0.2, "band": 0.1},
    full={"steps": 100},
    trials={"quick": 12, "full": 64}, chunk={"quick": 6, "full": 16},
    predict=lambda cfg: 0.0, simulate=conv_bn_simulate, judge=conv_bn_judge,
    control={"data": "mean_coded", "classes": [0, 1]},
    control_description=("digits 0 and 1 replaced by images whose class is only their common "
                         "brightness (y · 1 + 0.2 N(0, I)): BN after a zero-sum kernel cannot "
                         "recover it, so LCW + BN stays at chance while BN learns; ρ must leave "
                         "the band."),
    sensitivity=Sensitivity(
        0.2, "paired log-ratio ρ of the mean training loss over the run (LCW+BN / BN)",
        "per-trial ρ has sd ≈ 0.02-0.03 here (BN makes the arms' curves nearly identical), so "
        "a band of ±δ/2 = ±0.1 (a factor 1.11 in the mean training loss) is resolved even at "
        "quick's 12 trials; the LCW + BN gains the paper reports are of this order or larger."),
    mutations=(Mutation(
        "lcw_step_size_scaled",
        "the LCW arm's step size ×0.6 (a mis-scaled gradient of the reparametrised kernel V): "
        "pilots moved ρ by ≈ +0.13 (×0.7) and +0.27 (×0.5), ×0.6 by ≈ δ; simulated on the "
        "claim's streams.", overrides={"lcw_lr_scale": 0.6}),),
    figure=rho_figure,
)

CLAIMS = [RELU_MLP_SHIFT, RELU_MLP_TRAINING, CONV_SHIFT, CONV_TRAINING, CONV_BN_TRAINING]

NOT_CHECKABLE = [
    NotCheckable(
        id="lcw.image_benchmarks",
        item=("Secs. 6.1-6.2: deep MLPs and VGG-style ReLU conv nets with BN trained on the "
              "image benchmarks (CIFAR-10, CIFAR-100, SVHN): training loss and test "
              "loss/accuracy curves, LCW vs standard weights, with and without BN"),
        source=f"{PAPER}, Secs. 6.1-6.2",
        why=("the data sets cannot be downloaded here and VGG-scale training does not fit on 2 "
             "CPU cores; the analogues use scikit-learn's bundled 8×8 digits, small nets and "
             "statements at initialisation or over short training runs"),
        instead=("lcw.relu_mlp_shift", "lcw.relu_mlp_training", "lcw.conv_shift",
                 "lcw.conv_training", "lcw.conv_bn_training",
                 "lcw.deep_sigmoid_speed",
                 "lcw.lcw_bn_accuracy")),
]
