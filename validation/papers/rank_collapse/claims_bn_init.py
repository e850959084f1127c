"""Claims of Daneshmand et al. 2020 (arXiv:2003.01652) on BN's initialisation and on pre-training
against BN (Section 4, "Breaking batch normalization" and "Outperforming BN using a pre-training
step"; Figure 6), MLP part, on scikit-learn's bundled digits; CLAIMS in report order.

Simulation and judges in ``bn_init``; figure in ``figures_bn_init``.
"""
from __future__ import annotations

from depthcheck.validation.claims.claim import Claim, Mutation, NotCheckable, Sensitivity
from depthcheck.validation.papers.rank_collapse import bn_init as bi
from depthcheck.validation.papers.rank_collapse.figures_bn_init import fig6_figure

#: How the claims cite the paper (BibTeX ``daneshmand2020rank`` in docs/references.bib).
PAPER = "Daneshmand et al. 2020 (arXiv:2003.01652)"

_DATA = ("data: scikit-learn's bundled digits (64 features, 10 classes; one random 75 % training "
         "split per trial, per-feature z-scores) instead of Fashion-MNIST (no downloads); "
         "ReLU MLPs with biases (the paper's Fig. 6 code uses tanh in its BN net); BN = "
         "PyTorch BatchNorm1d in training mode (batch statistics, learnable gain/shift, eps 0) "
         "before every ReLU; PyTorch's default nn.Linear initialisation (W, b ~ U[−1/√m, "
         "1/√m]) unless said otherwise; plain SGD (no momentum), minibatch 64, the same "
         "minibatches for both arms; r(H) = tr(M)²/‖M‖_F² (eq. (4)) of the last hidden layer "
         "on 128 training images.")

BREAKING_BN = Claim(
    id="rank_collapse.breaking_bn_mlp",
    title="Daneshmand et al. 2020, Sec. 4 'Breaking batch normalization' / Fig. 6 (dashed): a "
          "BN MLP with a non-centred uniform init of the same variance has a far lower rank "
          "and trains far slower",
    source=(f"{PAPER}, Section 4 ('Breaking batch normalization': 'we train two MLPs with "
            f"batchnorm, but change the initialization for the second net from the standard "
            f"PyTorch way ... this small change reduces the rank preserving quality of BN "
            f"significantly, which is reflected in much slower learning behaviour') and "
            f"Figure 6 (dashed lines)"),
    statement=("Two BN ReLU MLPs of the same depth and width, one at PyTorch's initialisation "
               "(W ~ U[−a, a], a = 1/√fan_in), one at the asymmetric initialisation W ~ "
               "U[0, 2a] (w ← 2|w|: the same variance a²/3 about the mean a), trained by SGD "
               "at the same step size on the same minibatches. Two statements at level α/2: "
               "(1) r(H_{L−1}) at initialisation is lower for the asymmetric net by at least "
               "min_rank_gap; (2) its training loss at the end of S SGD steps (mean over the "
               "last `tail` evaluations) is higher by at least δ/2 nats."),
    assumptions=(_DATA + " The paper's Fig. 6 setting is depth 32, width 128, Fashion-MNIST, "
                 "15 epochs, 5 runs; its Fig. 6 code draws the 'bad' BN init as all "
                 "parameters U(0, 0.1), its Fig. 1 code as w ← 2|w| (used here, on every "
                 "weight matrix; biases and BN gain/shift as PyTorch's). Quick: width 32, "
                 "depth 8, 40 steps at step size 0.3, loss averaged over steps 20 and 40, 16 "
                 "trials; full: the paper's depth 32 and width 128, 120 steps (≈ 6 epochs, not "
                 "15: 2 cores) at step size 0.03 (best for depth-32 BN nets on digits, see "
                 "rank_collapse.depth_rank_accuracy), loss averaged over steps 80 and 120, 16 "
                 "trials. Measured: the asymmetric net's r(H) is 1.00 to rounding at "
                 "initialisation and stays 1.00 through training, its loss stays at ≈ ln 10 = "
                 "2.30 nats (chance); a larger step size does not rescue it (quick setting, "
                 "step size 1: 2.19 nats after 80 steps). The effect needs only a small mean: "
                 "W ~ U[−a, a] + s·a at width 32, depth 8 gives r(H) ≈ 1.9 at init and "
                 "+0.23 nats after 80 steps for s = 0.1, r ≈ 1.0 and +1.9 nats for s = 0.3 "
                 "(the common component s·a·Σ_j h_j of every unit outgrows the centred one, "
                 "of size a·‖h‖/√3, once s·√(3m) ≳ 1). Full run (seed 0): r(H) at init "
                 "6.84 (PyTorch init) against 1.00 (asymmetric); loss after 120 steps 0.91 "
                 "against 2.31 nats; excess over steps 80..120 1.25 [1.02, 1.48]."),
    quick={"arms": ["bn", "bn_asym"], "asym_shift": 1.0, "width": 32, "depth": 8,
           "steps": 40, "eval_every": 20, "tail": 2, "batch_size": 64, "lr_grid": [0.3],
           "rank_cols": 128, "delta": 1.0, "min_rank_gap": 1.0},
    full={"width": 128, "depth": 32, "steps": 120, "eval_every": 40, "lr_grid": [0.03]},
    trials=16, chunk={"quick": 8, "full": 4},
    predict=lambda cfg: 0.0, simulate=bi.simulate, judge=bi.breaking_judge,
    control={"arms": ["bn", "bn"]},
    control_description=("both arms BN nets at PyTorch's initialisation (their own initial "
                         "weights): the rank and loss differences are zero up to the spread "
                         "between nets, so both statements FAIL."),
    sensitivity=Sensitivity(
        1.0, "training-loss excess of the asymmetric BN net (nats) in statement (2); "
        "statement (1) is in units of r(H) with its own bound min_rank_gap",
        "the measured excess is 1.82 nats (quick) and 1.25 (full, 120 steps): the asymmetric net stays "
        "at chance while the standard net learns; 1 nat is the smallest excess that still "
        "reads as 'much slower learning' (a net at 1.3 instead of 0.3 nats has left chance "
        "well behind); the intervals' half-widths (0.13 quick, 0.23 full) are below δ/2, so a BN net insensitive to its initialisation, the truth "
        "δ/2 below the bound, FAILs."),
    mutations=(Mutation("centred_back", "simulate override asym_shift 0: the asymmetric "
                        "arm's weights 2|w| centred back to 2|w| − a ~ U[−a, a] (a bug that "
                        "loses the mean; equivalently the landscape-smoothing / step-size "
                        "tuning reading that BN nets train fast whatever their "
                        "initialisation, which the paper argues against)",
                        overrides={"asym_shift": 0.0}),),
    figure=fig6_figure)


PRETRAINING_VS_BN = Claim(
    id="rank_collapse.pretraining_vs_bn",
    kind="finding",
    title="Daneshmand et al. 2020, Sec. 4 / Fig. 6 (finding): on digits, within the steps "
          "run here, the BN MLP trains faster than the rank-pre-trained vanilla MLP",
    source=(f"{PAPER}, Section 4 ('an unsupervised, rank-increasing pre-training allows SGD "
            f"on vanilla networks to outperform Bn networks'), Algorithm 1 (App. G), Figures "
            f"4, 6, 12"),
    statement=("A vanilla ReLU MLP pre-trained by Algorithm 1 (gradient steps minimising "
               "tr(M²)/tr(M)² = 1/r(H_l) layer by layer) and a BN ReLU MLP of the same depth "
               "and width (PyTorch's initialisation), trained by SGD on the same minibatches "
               "at the step size of each arm's grid that gives it the lowest loss. One "
               "statement (against the paper's reading): the pre-trained net's training loss "
               "at the end of S SGD steps (mean over the last `tail` evaluations) exceeds the "
               "BN net's by at least δ/2 nats."),
    assumptions=(_DATA + " The paper compares on CIFAR-10 (Fig. 4, 100 epochs) and "
                 "Fashion-MNIST (Figs. 6, 12; 15 epochs) and reads the pre-trained net as "
                 "faster on deep nets; here the finding is stated only for digits and the "
                 "step counts run. Pre-training as in rank_collapse.rank_pretraining: step "
                 "size 0.1, minibatch 64. Quick: width 32, depth 8, 25 iterations on every "
                 "hidden layer, PyTorch init, 40 SGD steps at step size 0.3 for both arms, "
                 "loss averaged over steps 20 and 40, 16 trials; full: the paper's Fig. 6 "
                 "setting, depth 32, width 128, 75 iterations on every 4th layer (the paper's "
                 "code), vanilla weights N(0, 2/(fan_in + fan_out)) as the paper's Fig. 6 "
                 "code, 160 SGD steps (≈ 8 epochs, not 15: 2 cores), step size 0.1 for the "
                 "pre-trained net (chosen from {0.01, 0.1} by the full run of "
                 "rank_collapse.rank_pretraining) and 0.03 for the BN net (the better of "
                 "{0.03, 0.1} for depth-32 BN nets in rank_collapse.depth_rank_accuracy; a "
                 "BN step size that is not the best only handicaps BN), loss averaged over "
                 "steps 120 and 160, 12 trials. Quick (seed 0): BN 0.37 against 1.58 nats "
                 "after 40 steps, difference over steps 20..40 1.28 [1.07, 1.49]. Full (seed "
                 "0) is NOT resolved: BN 0.74 against 1.31 nats after 160 steps, difference "
                 "over steps 120..160 0.58 [−0.06, 1.22] (per-trial sd 0.29, set by the "
                 "pre-trained net's jumpy SGD at step size 0.1): INCONCLUSIVE, and the "
                 "mutation is INCONCLUSIVE too (half-width 0.64 > δ/2). The sign is that of "
                 "the full run of rank_collapse.rank_pretraining after 320 steps (BN 0.50 ± "
                 "0.05 nats at step size 0.01 against the pre-trained net's 1.33 ± 0.54, mean "
                 "± sd over 8 trials). Resolving δ/2 at depth 32 needs ≈ 24–32 trials and "
                 "320 steps (≈ 10–15 min on one core), over this claim's full budget."),
    quick={"arms": ["bn", "pretrained"], "width": 32, "depth": 8, "init": "pytorch",
           "pre_iters": 25, "pre_lr": 0.1, "pre_every": 1, "steps": 40, "eval_every": 20,
           "tail": 2, "batch_size": 64, "lr_grid": [0.3], "rank_cols": 128, "delta": 1.0},
    full={"width": 128, "depth": 32, "init": "glorot_normal", "pre_iters": 75,
          "pre_every": 4, "steps": 160, "eval_every": 40, "lr_grid": [0.1],
          "lr_grid_bn": [0.03]},
    trials={"quick": 16, "full": 24}, chunk={"quick": 8, "full": 4},
    predict=lambda cfg: 0.0, simulate=bi.simulate, judge=bi.versus_judge,
    control={"arms": ["bn", "bn"]},
    control_description=("both arms BN nets (the pre-trained net replaced by a second BN net "
                         "with its own initial weights): the loss difference is zero up to the "
                         "spread between BN nets, so the statement FAILs."),
    sensitivity=Sensitivity(
        1.0, "training-loss advantage of the BN net over the pre-trained vanilla net (nats)",
        "the same unit as rank_collapse.rank_pretraining: 1 nat separates a net that learns "
        "from one near chance (ln 10 = 2.30); an advantage below 0.5 nats would not overturn "
        "the paper's reading; in quick the interval's half-width (0.21; per-trial sd 0.13) is "
        "below δ/2, so a BN net no better than the pre-trained one, the truth δ/2 below the "
        "bound, FAILs; in full (per-trial sd 0.29, 12 trials) it is not (see assumptions)."),
    mutations=(Mutation("bn_no_better", "evidence transform: the BN arm's losses raised by "
                        "the measured mean difference (a BN net that trains no faster than the "
                        "pre-trained net, the paper's reading at its limit)",
                        transform=bi.bn_no_better),),
    figure=fig6_figure)


CLAIMS = [BREAKING_BN, PRETRAINING_VS_BN]

NOT_CHECKABLE: list[NotCheckable] = []
