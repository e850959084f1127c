"""Claims: activation shift and linearly constrained weights (Kutsuna 2020, arXiv:2403.13833).

Paper: Kutsuna, *Linearly Constrained Weights: Reducing Activation Shift for Faster Training of
Neural Networks*, ECML PKDD 2019 (LNCS 11907, 2020), arXiv:2403.13833 (BibTeX key
``kutsuna2020lcw`` in ``docs/references.bib``). The definitions are the paper's [P]; every
formula checked here is derived in ``docs/derivations/lcw.md`` and checked numerically [D] (the
paper's typeset constants are not legible), and the experiments' depths, widths, data sets and
initialisation are not given in a form we could confirm [U] (tags as defined in
``docs/derivations/README.md``). What is checked here, and why that version:

* ``lcw.activation_shift`` / ``lcw.lcw_no_shift`` (abstract, Sec. 3; lcw.md §1–2): the mean
  pre-activation of every neuron equals γ√m‖w‖cos θ = γ Σ_j w_j for inputs a ~ P_γ; it is 0 for
  LCW weights. Judged per neuron with the exact sampling variance, so the check is as sharp as
  the number of samples allows.
* ``lcw.variance_gains`` (Sec. 4; lcw.md §3): the forward and backward variance gains of
  one FC layer, standard vs LCW, sigmoid and ReLU inputs.
* ``lcw.deep_sigmoid_gradients`` / ``lcw.deep_sigmoid_speed`` /
  ``lcw.lcw_bn_accuracy`` (Sec. 6.1): deep sigmoid MLPs trained by SGD on scikit-learn's
  bundled digits (the paper used image benchmarks we cannot download; depth ≥ 20 in quick mode,
  50 in full mode). Initialisation: Gaussian with E‖w_i‖² = g², g = 4 = 1/σ'(0) for both weight
  kinds (``depthcheck.theory.lcw.init_variance``; lcw.md §5), so standard and LCW nets differ
  only in the direction of their weight vectors. Learning rate and optimiser are fixed a priori (SGD, momentum 0.9,
  lr 0.1 at depth 20, 0.03 at depth 50, minibatch 64) and shared by all arms; they were not
  tuned to make a claim pass (see the note at ``_TRAIN_BASE``).

ReLU and convolutional layers (``claims_relu_conv``; derivations in
``docs/derivations/lcw_conv.md``):

* ``lcw.relu_mlp_shift``: in a deep ReLU MLP on digits the shift fraction R (the share of the
  pre-activations' second moment in per-neuron means) is 1/π for standard weights and small
  (≤ 0.1) with LCW: LCW reduces the shift behind ReLUs but does not remove it.
* ``lcw.conv_shift``: an LCW convolution (each output channel's kernel sums to zero over its
  c·k·k inputs; im2col by hand) removes the shift in the first layer and reduces it in the
  second.
* ``lcw.relu_mlp_training`` (finding): in a deep ReLU MLP, whether LCW speeds up SGD depends
  on the learning rate (slower at 0.01, faster at 0.03; the paper states the speed-up for
  sigmoid nets only).
* ``lcw.conv_training`` (finding): a small conv net on digits trains about as fast with LCW as
  without (equivalence within δ; the paper states the conv-net benefit only with BN).
* ``lcw.conv_bn_training`` (finding): with per-channel BN, LCW + BN and BN alone train at the
  same speed within ±0.1 in log loss on digits (the paper's Sec. 6.2 benefit is not reproduced
  on this one-layer conv net).
* The paper's image benchmarks (CIFAR-10/100, SVHN) are listed as not checkable here.

BN in the trained nets is depthcheck.kernels.nn.norms "bn" with a learnable per-unit gain and
shift, in training mode (batch statistics) throughout: the test accuracy uses the statistics of the test
batch (all held-out images at once) since the engine keeps no running averages.

Layout: one module per claim or tight group of claims (activation_shift (two claims),
variance_gains, deep_sigmoid (three trained-net claims)) holding predict / simulate / judge;
``_common`` the paper's shared helpers; ``figures`` the figure callbacks; ``claims`` the Claim
records (prose, configurations, controls) and ``CLAIMS`` in report order. Former ids stay accepted
as aliases and seed the random streams (``Claim.seed_key``), so results are unchanged by the
renaming.
"""
from depthcheck.validation.papers.lcw.claims import CLAIMS, NOT_CHECKABLE

__all__ = ["CLAIMS", "NOT_CHECKABLE"]
