"""Claims: BN with Haar-orthogonal weights (Meterez et al. 2024, arXiv:2310.02012).

Paper: Meterez, Joudaki, Orabona, Immer, Rätsch, Daneshmand, *Towards Training Without Depth
Limits: Batch Normalization Without Gradient Explosion*, ICLR 2024, arXiv:2310.02012 (theorem,
lemma and figure numbers of arXiv v1; BibTeX key ``meterez2024bn`` in ``docs/references.bib``).
The formulas we derived where the paper's display is not legible are written out in
``docs/derivations/isometry_bn.md``; the confidence tags [P] (paper), [S] (secondary sources),
[D] (derived and checked), [U] (unconfirmed) are defined in ``docs/derivations/README.md``.
Predictions come from :mod:`depthcheck.theory.bn_orthogonal` and
:mod:`depthcheck.theory.isometry`, simulations from
:func:`depthcheck.kernels.chain.driver.simulate_chain` (deep chains, gradients in log scale),
:mod:`depthcheck.kernels.random.haar`, :mod:`depthcheck.kernels.nn.norms` and
:mod:`depthcheck.kernels.random.moments`; image batches from :mod:`depthcheck.kernels.data.images`
(scikit-learn's bundled photos / digits, never a download).

Network (eq. 3): X_{l+1} = Bn(W_l X_l), Bn(X) = diag(X Xᵀ)^{-1/2} X (eq. 4), Haar W_l, linear
activation, n = d. Engine names: "rownorm" = the paper's Bn; "bn_nomean" = √n·Bn (the authors'
Fig. 3 code, factor √n); "bn" = standard centred BN without eps/affine (Fig. G6 "with mean
reduction"; also our stand-in for torch's BatchNorm1d at init in Fig. 5, see that claim).

Error budget: every claim here is ONE statement at level ALPHA (``extra["statements"] = 1``):
a claim that compares k intervals (layers, widths, activations, input matrices) gives each the
level ALPHA/k (Bonferroni), so its family-wise false-FAIL rate stays below ALPHA/2 (one-sided
use of two-sided intervals); ``extra["comparisons"] = k``. Deterministic claims (lemmas, exact
Jacobians) have no sampling error and are judged case by case against a rounding tolerance.

Claims (ids ``bn_orthogonal.*``, formerly ``seed001.*``): isometry_decay (Thm 1, Fig. 1),
isometry_plateau_n_lt_d (finding, outside the theorem), bn_never_decreases_isometry (Lemma A.1 /
Lemma 2), bn_isometry_n_lt_d_finding (Lemma A.1 fails for n < d), one_step_rate (Thm 3),
bounded_gradients (Thm 5, Fig. 3), degenerate_input_explodes (Fig. 2), bounded_gradients_centred
(Fig. G6), bn_jacobian_bounds (Lemmas C.4, C.8–C.11), activation_shaping (Sec. 5, Fig. 5),
haar_sampler_moments (the engine's Haar sampler vs exact Weingarten moments).

Layout: one module per claim or tight group of claims (isometry_decay (Thm 1), isometry_plateau (n
< d plateau), bn_lemma (Lemma A.1), bn_lemma_finding (n < d counterexamples), one_step_rate (Thm
3), gradients (Figs. 2, 3, 5, G6: four claims), bn_jacobian (Lemmas C.4, C.8–C.11), haar_moments
(the Haar sampler)) holding predict / simulate / judge; ``_common`` the paper's shared helpers;
``figures`` the figure callbacks; ``claims`` the Claim records (prose, configurations, controls)
and ``CLAIMS`` in report order. Former ids stay accepted as aliases and seed the random streams
(``Claim.seed_key``), so results are unchanged by the renaming.

Corollaries, Theorem 5's scaling and the lemmas (``claims_lemmas``; modules corollaries,
lemmas, theorem5_scaling, hitting_time, figures_lemmas; derivations in
``docs/derivations/bn_lemmas.md``): corollary_a3_rotation (exact, Cor. A.3),
corollary4_one_step_bound (Cor. 4 / Lemma B.2), theorem5_phi0_scaling (finding: E log‖∇W₁‖
grows about linearly in φ0, far below the bound's φ0³), lemma_b1_spectral_bounds (exact, Lemmas
B.1, C.11(ii), B.2), gradient_chain_rule_bound (exact, Lemmas C.2, C.12), hitting_time_bounds
(Lemmas C.5–C.7); Lemma C.3 is listed as not checkable (an existence statement about an
unspecified constant).

Training (``claims_training``; modules _training (SGD by hand, per-trial streams, overflow
censoring), training_depth, weight_orthogonality, explosion_rate, figures_training):
training_depth_independent (Sec. 4 / Fig. 4: SGD steps to a loss do not grow with depth),
middle_layers_stay_orthogonal (Sec. 6 / Fig. 6, App. F), middle_layers_no_rotation_bias
(finding: the middle layers stay orthogonal because they move little, not through
rotation-like updates), explosion_rate_gain (finding, App. E: rate ∝ α² for tanh),
explosion_rate_gain_exponent (finding, App. E: the local-gain law with a gain exponent); the
CIFAR/MNIST runs at depth 1000 and Figs. F1/F2 at 1000 layers are listed as not checkable here.

Public helpers: :func:`fig1_input` (the Fig. 1 input batch), :func:`phi_floor` (a certified
lower bound on φ where it evaluates to +inf) and :func:`gradient_curves` (the Fig. 3 protocol).
"""
from depthcheck.validation.papers.bn_orthogonal._common import fig1_input, phi_floor
from depthcheck.validation.papers.bn_orthogonal.claims import CLAIMS, NOT_CHECKABLE
from depthcheck.validation.papers.bn_orthogonal.gradients import gradient_curves

__all__ = ["CLAIMS", "NOT_CHECKABLE", "fig1_input", "phi_floor", "gradient_curves"]
