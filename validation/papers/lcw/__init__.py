"""Claims: activation shift and linearly constrained weights (Kutsuna, LCW).

Source: ``shared/seeds/000_69ed445a9063b98b.txt`` (formula-free text of arXiv 2403.13833,
ECML PKDD 2019); formulas restored in ``shared/research/rank_lnn_lcw.md`` part C, where every
formula is [DERIVED+NUM] (derived, checked numerically; the paper's typeset constants are
UNCONFIRMED) and the experiments' depths, widths, data sets and initialisation are UNCONFIRMED
(C.4). What is checked here, and why that version:

* ``lcw.activation_shift`` / ``lcw.lcw_no_shift`` (abstract, Sec. 3, research C.1): the mean
  pre-activation of every neuron equals γ√m‖w‖cos θ = γ Σ_j w_j for inputs a ~ P_γ; it is 0 for
  LCW weights. Judged per neuron with the exact sampling variance, so the check is as sharp as
  the number of samples allows.
* ``lcw.variance_gains`` (Sec. 4, research C.3): the forward and backward variance gains of
  one FC layer, standard vs LCW, sigmoid and ReLU inputs.
* ``lcw.deep_sigmoid_gradients`` / ``lcw.deep_sigmoid_speed`` /
  ``lcw.lcw_bn_accuracy`` (Sec. 6.1): deep sigmoid MLPs trained by SGD on scikit-learn's
  bundled digits (the paper used image benchmarks we cannot download; depth ≥ 20 in quick mode,
  50 in full mode). Initialisation: Gaussian with E‖w_i‖² = g², g = 4 = 1/σ'(0) for both weight
  kinds (``depthcheck.theory.lcw.init_variance``), so standard and LCW nets differ only in the direction of
  their weight vectors. Learning rate and optimiser are fixed a priori (SGD, momentum 0.9,
  lr 0.1 at depth 20, 0.03 at depth 50, minibatch 64) and shared by all arms; they were not
  tuned to make a claim pass (see the note at ``_TRAIN_BASE``).

BN in the trained nets is depthcheck.kernels.nn.norms "bn" with a learnable per-unit gain and shift, in
training mode (batch statistics) throughout: the test accuracy uses the statistics of the test
batch (all held-out images at once) since the engine keeps no running averages.

Layout: one module per claim or tight group of claims (activation_shift (two claims),
variance_gains, deep_sigmoid (three trained-net claims)) holding predict / simulate / judge;
``_common`` the paper's shared helpers; ``figures`` the figure callbacks; ``claims`` the Claim
records (prose, configurations, controls) and ``CLAIMS`` in report order. Former ids stay accepted
as aliases and seed the random streams (``Claim.seed_key``), so results are unchanged by the
renaming.
"""
from depthcheck.validation.papers.lcw.claims import CLAIMS

__all__ = ["CLAIMS"]
