"""Claims: BN provably avoids rank collapse (Daneshmand et al. 2020, arXiv:2003.01652).

Paper: Daneshmand, Kohler, Bach, Hofmann, Lucchi, *Batch Normalization Provably Avoids Rank
Collapse for Randomly Initialised Deep Networks*, NeurIPS 2020, arXiv:2003.01652 (BibTeX key
``daneshmand2020rank`` in ``docs/references.bib``). The constants we derived where the paper's
display is not legible are written out in ``docs/derivations/rank_markov.md`` (Lemmas 1, 7, 13,
Proposition 8, Definition 3, Theorem 14) and ``docs/derivations/lyapunov.md`` (Lemma 3's
vanilla case); confidence tags [P], [D], [U] as defined in ``docs/derivations/README.md``.
Mathematics in :mod:`depthcheck.theory.rank`, :mod:`depthcheck.theory.rank_markov`,
:mod:`depthcheck.theory.lyapunov`; simulations in :mod:`depthcheck.kernels.chain.rank`.
Backends: ``bn_rank_sqrt_width``, ``lemma1_bounds``, ``lemma7_drift``, ``regularity_constant``,
``centering_redundant`` and ``vanilla_lyapunov`` run their chains on the numpy reference or the
numba engine (``depthcheck.kernels.chain.rank``, ``backend=``), numba by default except
``lemma1_bounds`` (LAPACK-bound: numpy by default); the other claims run on numpy only
(``input_degeneracy`` has no chain).

Claims (ids ``rank_collapse.*``, formerly ``seed002.*``):

Lemmas and corollaries (``claims_lemmas``; derivations in ``docs/derivations/rank_lemmas.md``):
``vanilla_uniform_collapse`` (Lemma 3 for uniform weights), ``cor15_every_layer`` (Corollary 15
at every layer), ``lemma5_no_collapse`` (Lemma 5, stationary reading),
``lemma6_rank_one_absorbing`` and ``example12_regularity`` (exact); Lemma 16 is listed as not
checkable. Training on digits (``claims_training``): ``depth_rank_accuracy`` (Fig. 1, MLP part),
``prop19_gradient_alignment`` (exact, Prop. 19), ``gradient_alignment_mlp`` (Fig. 10 analogue),
``rank_pretraining`` (Sec. 4 / Algorithm 1). Initialisation of BN nets (``claims_bn_init``):
``breaking_bn_mlp`` (Sec. 4 "Breaking batch normalization" / Fig. 6 dashed lines: the
asymmetric init w -> 2|w| collapses the rank and slows SGD) and ``pretraining_vs_bn`` (Fig. 6:
the pre-trained vanilla net against BN, a finding); VGG19 / ResNet-50 on CIFAR-10 (Figs. 5, 7, 10, 13)
are listed as not checkable here, with these MLP analogues.

Kinds (``Claim.kind``): ``lemma1_bounds`` is exact (deterministic inequalities evaluated to
rounding, reported EXACT / VIOLATED with the worst margin); the others are statistical, each
with its δ (``Claim.sensitivity``) and data-side mutations of that size that must FAIL.

1. ``bn_rank_sqrt_width`` — Thm 2 / 14, Fig. 3a: the depth-averaged r(H) and rank_τ(H) of linear
   BN chains grow at least like √d (fitted exponent >= 1/2 − δ/2, δ = 0.1); for γ <= 0.1
   Theorem 14's sharp bound holds (its simple bound is reported, not judged: too loose to
   fail). Post-ReLU r(H) stops growing with width, so its fitted exponent (≈ 0.38 over
   d = 8–64) is a small-width number, reported, not judged. Control: vanilla chains (no BN)
   collapse to rank one. Mutation: the ReLU left on in the linear chains.
2. ``lemma1_bounds`` (exact) — Lemma 1 at every layer: rank(H) >= r(H), rank_τ(H_l) >=
   (1−τ)² r(H_l) (both threshold conventions). Control: unit-row-norm BN (tr M = 1, not d).
3. ``lemma7_drift`` — Lemma 7 / Prop. 8: the Monte Carlo one-step drift of ‖M‖_F² divided by γ²
   matches c(M). Control: weights of variance 2 (Def. 1 violated). Mutation: variance 1 + δ.
4. ``regularity_constant`` — Def. 3 / Lemma 10, Fig. 8; Lemma 13, Fig. 9: β̂ < 0.9 for d > 10 and
   decreasing in d; E‖M‖_F² below Lemma 13's bound and O(d^{3/2}). Also draws Fig. 3b.
   Control: non-centred weights U[0, 2√3] (the paper's adversarial initialisation).
   Mutations: weights of mean 0.05; β̂ put 0.01 above 0.9 (evidence transform).
5. ``centering_redundant`` — Lemma 4 / App. C: off-diagonal entries of M have mean zero under the
   invariant law even from a positive input; centring does not change the depth-averaged rank.
   Control: U[0, 2√3] weights. Mutation: weights of mean 0.025.
6. ``vanilla_lyapunov`` — Lemma 3 quantified (Newman 1986; docs/derivations/lyapunov.md):
   QR-measured Lyapunov exponents of Gaussian products match the digamma formula; σ2/σ1 of
   unnormalised linear nets decays at μ2 − μ1; residual products I + γW also collapse.
   Control: i.i.d. U[−√3, √3] entries (same variance, not Gaussian: another spectrum).
   Mutation: Gaussian entries of standard deviation e^δ (every exponent shifted by δ).
7. ``input_degeneracy`` — Meterez et al. 2024 (arXiv:2310.02012), App. D / Table D1 (the
   input assumption rank X = d of Theorem 2) on scikit-learn's digits: random batches of
   8..48 images are full rank; average cosine similarity reported. Control: batches drawn
   with replacement. Mutation: an off-by-one that repeats an image in a fraction of batches.

The "rank" statistic (numerical rank) is numpy's ``matrix_rank`` of H (singular values of H);
a former count on the eigenvalues of M = H Hᵀ/n over-counted numerically rank-deficient H.

Error rates: a claim that judges K statements spends ``alpha`` in total, each statement's
interval being at level 1 − alpha/K (Bonferroni inside the claim), so every claim counts as one
statement of the suite budget (:mod:`depthcheck.validation.claims.stats`). The claim is PASS
iff every statement passes, FAIL if any fails, INCONCLUSIVE otherwise; ``extra["judged"]``
lists all of them and ``extra["statements"] = 1`` is the claim's share of the suite budget.

Layout: one module per claim or tight group of claims (sqrt_width, lemma1_bounds, lemma7_drift,
regularity, centering, lyapunov, input_degeneracy (claims 1–7 in that order)) holding predict /
simulate / judge; ``_common`` the paper's shared helpers; ``figures`` the figure callbacks;
``claims`` the Claim records (prose, configurations, controls) and ``CLAIMS`` in report order.
Former ids stay accepted as aliases and seed the random streams (``Claim.seed_key``), so results
are unchanged by the renaming.
"""
from depthcheck.validation.papers.rank_collapse.claims import CLAIMS, NOT_CHECKABLE

__all__ = ["CLAIMS", "NOT_CHECKABLE"]
