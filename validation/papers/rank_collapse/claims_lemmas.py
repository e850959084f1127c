"""Claim records for Lemma 3(b), Corollary 15, Lemmas 5 and 6 and Examples 11–12 of Daneshmand et
al. 2020 (arXiv:2003.01652); ``CLAIMS`` in report order and ``NOT_CHECKABLE``.

Constants that are our reading of illegible displays are derived in
``docs/derivations/rank_lemmas.md`` (Lemma 6's threshold, Example 12's spectrum) and
``docs/derivations/rank_markov.md`` (Theorem 14's sharp bound).
"""
from __future__ import annotations

import math

from depthcheck.validation.claims.claim import Claim, Mutation, NotCheckable, Sensitivity
from depthcheck.validation.papers.rank_collapse.corollary15 import _c15_judge, _c15_predict, _c15_simulate
from depthcheck.validation.papers.rank_collapse.figures_lemmas import cor15_figure, lemma5_figure, uniform_collapse_figure
from depthcheck.validation.papers.rank_collapse.lemma3_uniform import _u3_judge, _u3_predict, _u3_rate_off, _u3_simulate
from depthcheck.validation.papers.rank_collapse.lemma5_rank import _l5_drift, _l5_judge, _l5_predict, _l5_simulate
from depthcheck.validation.papers.rank_collapse.lemmas_markov import _e12_judge, _e12_predict, _e12_simulate, _l6_judge, _l6_predict, _l6_simulate

PAPER = "Daneshmand et al. 2020 (arXiv:2003.01652)"
DERIVATIONS = "docs/derivations/rank_lemmas.md"

#: δ of vanilla_uniform_collapse (relative error of the collapse rate)
_U3_DELTA = 0.2

CLAIM_UNIFORM_COLLAPSE = Claim(
    id="rank_collapse.vanilla_uniform_collapse",
    title="Daneshmand et al. 2020, Lemma 3(b): vanilla linear chains with uniform weights "
          "collapse to rank one at their Lyapunov gap",
    source=f"{PAPER}, Lemma 3 (b), Appendix F (Lemma 18 = Bougerol–Lacroix Thm III.3.1)",
    statement=("H_l = (I + γW_l)H_{l−1} (γ = ∞: W_l H_{l−1}), W_l i.i.d. U[−√3, √3]: every limit "
               "point of H_l/‖H_l‖ is rank one. Quantified: the Lyapunov gap μ1 − μ2 of the "
               "products is > 0 and σ2/σ1(H_l) decays like exp(−l(μ1 − μ2)). Checked per (d, γ): "
               "the QR estimate of μ1 − μ2 has lower confidence limit > 0, and the per-layer "
               "slope of log(σ2/σ1) of independent chains divided by −(μ̂1 − μ̂2) lies in "
               "[1 − δ/2, 1 + δ/2]."),
    assumptions=("U[−√3, √3] weights (unit variance, the paper's part (b)); Gaussian inputs with "
                 "N = d; chains rescaled by a scalar (no effect on σ2/σ1); the gap is measured, "
                 "not predicted: Newman's Gaussian formula does not hold for uniform entries at "
                 "small d (uniform gaps 13–14% below it at d = 3, 4; reported in extra); slopes "
                 "fitted after 20% of the depth, which is set so that σ2/σ1 stays resolvable in "
                 "float64"),
    quick={"weights": "uniform", "norm": "none", "delta": _U3_DELTA, "qr_depth": 1500,
           "qr_burn_in": 50, "batch": 32, "burn_frac": 0.2,
           "configs": [{"d": 3, "gamma": "inf", "depth": 45}, {"d": 4, "gamma": "inf", "depth": 75},
                       {"d": 4, "gamma": 0.5, "depth": 85}]},
    full={"qr_depth": 6000, "qr_burn_in": 100, "batch": 64,
          "configs": [{"d": 3, "gamma": "inf", "depth": 45}, {"d": 4, "gamma": "inf", "depth": 75},
                      {"d": 8, "gamma": "inf", "depth": 190}, {"d": 4, "gamma": 0.5, "depth": 85},
                      {"d": 8, "gamma": 0.5, "depth": 200}]},
    trials={"quick": 64, "full": 64}, chunk={"quick": 32, "full": 32},
    predict=_u3_predict,
    simulate=_u3_simulate,
    judge=_u3_judge,
    control={"norm": "bn_nomean"},
    control_description=("the chains run with Bn (recursion (1), Theorem 2) instead of the vanilla "
                         "recursion (6): the rank no longer collapses, the slope of log(σ2/σ1) is "
                         "≈ 0 while the products' gap is unchanged, so rate/gap ≈ 0 FAILs."),
    sensitivity=Sensitivity(
        _U3_DELTA, "relative error of the collapse rate: (−slope of log σ2/σ1)/(μ1 − μ2) − 1",
        "a collapse 20% slower or faster than the Lyapunov gap is what a mis-scaled residual "
        "branch (weights of variance 2/3, e.g. U[−√2, √2] for U[−√3, √3]) does at γ = 0.5; "
        "smaller errors are below the resolution of a 64-trial quick run (half-width ≈ 0.07)."),
    mutations=(
        Mutation("chain_sampler_sqrt2",
                 "the chains draw U[−√2, √2] weights (variance 2/3: √2 typed for √3) while the "
                 "QR spectrum uses the right law; at γ = 0.5 the chains then collapse ≈ 20% "
                 "slower than μ1 − μ2 (at γ = ∞ the scale cancels); must FAIL",
                 overrides={"chain_weight_scale": math.sqrt(2.0 / 3.0)}),
        Mutation("rate_off_by_delta",
                 "evidence transform: every slope × (1 + δ), the false theory 'σ2/σ1 decays at "
                 "(1 + δ)(μ1 − μ2)'; must FAIL",
                 transform=_u3_rate_off)),
    figure=uniform_collapse_figure,
)


_C15_DELTA = 0.2

CLAIM_COR15 = Claim(
    id="rank_collapse.cor15_every_layer",
    title="Daneshmand et al. 2020, Corollary 15: Theorem 14's rank bound holds at every finite "
          "layer, not only on average over depth",
    source=(f"{PAPER}, Corollary 15, Lemma 16, Theorem 14, Figure 8; docs/derivations/"
            f"rank_markov.md §6"),
    statement=("For the linear BN chain H_l = Bn(H_{l−1} + γW_l H_{l−1}) with rank X = d, the "
               "bound of Theorem 14 holds at every finite l. Checked: at layers l = 1 ... depth "
               "(transient and stationary), E r(H_l) over independent chains divided by the "
               "sharp bound (1 + √(1 + 16(1 − β)d))/2 at β = 0.9 (Fig. 8's level) has lower "
               "confidence limit >= 1 − δ/2 (by Lemma 1 then E rank_τ(H_l) >= (1 − τ)² times "
               "it). Reported: Cor. 15 part 1 (numerical rank of every H_l of every chain minus "
               "the bound) and part 2's hypothesis (rank_τ non-increasing in l), which fails."),
    assumptions=("γ = 0.1, U[−√3, √3] weights, Gaussian X with N = d (Theorem 14's setting); "
                 "β = 0.9 as in Fig. 8 (β_ν < 0.9 for d > 10, claim regularity_constant; our "
                 "ergodic estimate at d = 8 is 0.90): the bound decreases in β; the sharp "
                 "constant is our derivation (rank_markov.md §6) and holds up to O(γ), hence the "
                 "margin δ/2; τ = 0.5 for the reported soft ranks; the paper's 'almost surely "
                 "for all finite l' is judged in expectation per layer (r(H_l) fluctuates "
                 "along one chain)"),
    quick={"gamma": 0.1, "weights": "uniform", "widths": [8, 16], "depth": 300,
           "layers": [1, 2, 5, 10, 20, 50, 100, 200, 300], "batch": 2, "monotone_chains": 1,
           "margin": _C15_DELTA / 2, "tau": 0.5, "beta_ref": 0.9},
    full={"widths": [8, 16, 32], "depth": 1000,
          "layers": [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000], "batch": 4,
          "monotone_chains": 2},
    trials={"quick": 64, "full": 64}, chunk={"quick": 32, "full": 8},
    predict=_c15_predict,
    simulate=_c15_simulate,
    judge=_c15_judge,
    control={"weights": "uniform_pos"},
    control_description=("non-centred weights U[0, 2√3] (the paper's adversarial initialisation, "
                         "Def. 1 violated): the chain collapses to rank one within a few layers, "
                         "r(H_l) -> 1, below the bound from l = 2 on."),
    sensitivity=Sensitivity(
        _C15_DELTA, "relative shortfall of E r(H_l) below the sharp bound at a single layer",
        "the stationary E r sits ≈ 8–18% above the bound at β = 0.9; a shortfall of 20% at one "
        "layer is the size of the rank loss that a slight asymmetry of the weights (mean "
        "0.08, 4.6% of their sd) produces, and the smallest the 64-trial quick run resolves "
        "at the Bonferroni level of 18 layers (half-width ≈ 0.08)."),
    mutations=(Mutation(
        "weight_mean_0_08",
        "weights U[−√3, √3] + 0.08 (Def. 1's symmetric law broken by 4.6% of its sd, e.g. an "
        "offset sampler): the stationary r(H_l) drops to 0.75–0.8 of the bound; must FAIL",
        overrides={"weight_mean": 0.08}),),
    figure=cor15_figure,
)


_L5_DELTA = 0.2

CLAIM_LEMMA5 = Claim(
    id="rank_collapse.lemma5_no_collapse",
    title="Daneshmand et al. 2020, Lemma 5: the BN chain keeps rank >= 2 at every layer — no "
          "drift towards rank one",
    source=f"{PAPER}, Lemma 5 and its proof (Appendix D; Lemmas 4, 6, Birkhoff's ergodic theorem)",
    statement=("Weights i.i.d. zero-mean, unit-variance, bounded support, unique invariant law ν of "
               "the chain H_l = Bn(H_{l−1} + γW_l H_{l−1}) (γ = ∞: Bn(W_l H_{l−1})): rank(H_l) "
               ">= 2 almost surely for all l, i.e. ν puts no mass on rank one. Quantified per "
               "(d, γ): after the transient, the collapse rate of log(σ2/σ1)(H_l) in units of the "
               "vanilla products' Lyapunov gap, −slope/(μ̂1 − μ̂2) (= 1 for the vanilla chain, "
               "Lemma 3), lies in [−δ/2, δ/2], and the stationary mean of log(σ2/σ1) has lower "
               "confidence limit above log 1e-8 (numerically rank >= 2). Reported: the smallest "
               "numerical rank and σ2/σ1 over every recorded layer of every chain."),
    assumptions=("U[−√3, √3] weights (bounded support); Gaussian inputs with N = d (rank X = d); "
                 "the paper's proof goes through Lemma 6's sign freezing (small γ); we also check "
                 "γ = 0.5 and γ = ∞ (no skip), where the statement holds as well; uniqueness of "
                 "ν is assumed, not checked; in exact arithmetic rank H_l = d at every finite l, "
                 "so the literal statement is read as its stationary content (no drift to rank "
                 "one, a level away from rounding); slopes fitted on layers burn_in + 1 .. depth; "
                 "log(σ2/σ1) floored at log eps64"),
    quick={"weights": "uniform", "norm": "bn_nomean", "delta": _L5_DELTA, "qr_depth": 600,
           "qr_burn_in": 50, "batch": 4, "depth": 150, "burn_in": 30,
           "configs": [{"d": 4, "gamma": "inf"}, {"d": 4, "gamma": 0.5}, {"d": 8, "gamma": 0.5}]},
    full={"qr_depth": 2000, "qr_burn_in": 100, "batch": 8, "depth": 400, "burn_in": 100,
          "configs": [{"d": 4, "gamma": "inf"}, {"d": 8, "gamma": "inf"}, {"d": 16, "gamma": "inf"},
                      {"d": 4, "gamma": 0.5}, {"d": 8, "gamma": 0.5}, {"d": 16, "gamma": 0.5},
                      {"d": 8, "gamma": 0.2, "depth": 1000, "burn_in": 400}]},
    trials={"quick": 64, "full": 128}, chunk={"quick": 32, "full": 32},
    predict=_l5_predict,
    simulate=_l5_simulate,
    judge=_l5_judge,
    control={"weights": "uniform_pos"},
    control_description=("non-centred weights U[0, 2√3] (the paper's adversarial 'w -> 2|w|' "
                         "initialisation, Def. 1 violated): the BN chain collapses to numerical "
                         "rank one within the transient, log(σ2/σ1) sits at the float64 floor and "
                         "the level statement FAILs."),
    sensitivity=Sensitivity(
        _L5_DELTA, "collapse rate of log(σ2/σ1) per layer in units of the vanilla Lyapunov gap "
        "μ1 − μ2 (0: Lemma 5, 1: vanilla chain)",
        "a BN chain that still collapses at a fifth of the vanilla rate reaches σ2/σ1 < 1e-8 "
        "within ~500–1500 layers at d = 4–8 (the depths of Figs. 2–3), so Lemma 5 would fail at "
        "depths the paper plots; the 64-trial quick run resolves ±0.01–0.04 of the rate."),
    mutations=(
        Mutation("bn_eps_1_25",
                 "Bn computed as A/√(diag(AAᵀ)/n + ε) with ε = 1.25, of the size of the rows' "
                 "variance (1 + γ²d = 2 at d = 4, γ = 0.5; e.g. a stabiliser tuned for "
                 "unnormalised data): Bn then acts almost as a constant rescaling and the chain "
                 "collapses at ≈ 0.45 of the vanilla rate there; must FAIL",
                 overrides={"bn_eps": 1.25}),
        Mutation("slow_collapse_delta",
                 "evidence transform: every slope − δ (μ̂1 − μ̂2), the false theory 'Bn only "
                 "slows the collapse to δ times the vanilla rate'; must FAIL",
                 transform=_l5_drift)),
    figure=lemma5_figure,
)


CLAIM_LEMMA6 = Claim(
    id="rank_collapse.lemma6_rank_one_absorbing",
    title="Daneshmand et al. 2020, Lemma 6: rank one is absorbing for the BN chain; for small γ "
          "its signs, hence M, are frozen",
    source=f"{PAPER}, Lemma 6 and its proof (Appendix D); {DERIVATIONS} §1",
    statement=("If rank H_k = 1 then rank H_l = 1 and |M_ij(H_l)| = 1 for all l >= k; for γ < γ* "
               "= 1/(√3 d) (weights in [−√3, √3]) the sign pattern is frozen, so M(H_l) = "
               "M(H_k). Exact: one step from random exact rank-one states (γ ∈ {0.5, ∞} and "
               "0.95 γ*, with the worst-case W row W_0j = −√3 s_0 s_j) and 50-step paths at "
               "0.5 γ*, errors against tolerance 1e-9."),
    assumptions=("U[−√3, √3] weights (bounded support, as Lemma 5 assumes); the threshold γ* is "
                 "our reading of the proof's illegible condition (sharp: attained by the "
                 "worst-case W); states are exact rank-one matrices in float64 — along long "
                 "paths at larger γ rounding perturbations grow (rank one is repelling, "
                 "Lemma 5, Fig. 3b), so those are checked one step at a time (induction)"),
    quick={"widths": [4, 8, 16], "n": 8, "gammas": [0.5, "inf"], "freeze_factor": 0.95,
           "path_factor": 0.5, "path_depth": 50, "cases": 10, "weights": "uniform", "tol": 1e-9},
    full={"widths": [4, 8, 16, 64], "cases": 40, "path_depth": 200},
    trials={"quick": 8, "full": 32}, chunk={"quick": 8, "full": 8},
    kind="exact",
    predict=_l6_predict,
    simulate=_l6_simulate,
    judge=_l6_judge,
    control={"freeze_factor": 1.05},
    control_description=("γ = 1.05 γ*, just above the threshold: the worst-case W flips the sign "
                         "of row 0 alone, M changes by 2 in that row, and the freezing statement "
                         "is VIOLATED (rank one and |M_ij| = 1 still hold)."),
)


CLAIM_EXAMPLE12 = Claim(
    id="rank_collapse.example12_regularity",
    title="Daneshmand et al. 2020, Examples 11–12 and Prop. 8: the regularity constant of "
          "equal-row-norm spectra (β <= 1; β < 0.9 for large d with one spike of fraction c < 0.9)",
    source=f"{PAPER}, Definition 3, Proposition 8, Examples 11 and 12 (Appendix E); {DERIVATIONS} §2",
    statement=("For M with unit diagonal and equal row norms, Def. 3's Σ_i‖M_i·‖⁴/tr M³ equals "
               "(Σλ²)²/(dΣλ³) (Prop. 8) and is <= 1 with equality iff the non-zero eigenvalues "
               "are equal (Example 11); for M_c = (1 − c)I + c11ᵀ (λ1 = 1 + (d − 1)c, the rest "
               "1 − c) β(d, c) < 0.9 for every d >= d0(c) when c < 0.9 (Example 12). Exact, on "
               "random circulant correlation matrices and random (d, c)."),
    assumptions=("Example 12's spectrum is not legible in the paper; M_c is our reading (one "
                 "large eigenvalue, the rest equal, equal row norms, unit diagonal); β of a law "
                 "concentrated on one matrix; d0(c) from theory.rank_lemmas; c in [0.05, 0.85]"),
    quick={"d_range": [2, 64], "cases": 5, "c_min": 0.05, "c_max": 0.85, "threshold": 0.9,
           "d_check": 100000, "tol": 1e-9},
    full={"d_range": [2, 256], "cases": 10, "d_check": 10000000},
    trials={"quick": 8, "full": 32}, chunk={"quick": 8, "full": 8},
    kind="exact",
    predict=_e12_predict,
    simulate=_e12_simulate,
    judge=_e12_judge,
    control={"c_fixed": 0.95},
    control_description=("a spike carrying 95% of the trace (c = 0.95 >= 0.9): β(d, c) -> 0.95 "
                         "from above, so no width brings it below 0.9 and Example 12's "
                         "statement is VIOLATED."),
)


CLAIMS = [CLAIM_UNIFORM_COLLAPSE, CLAIM_COR15, CLAIM_LEMMA5, CLAIM_LEMMA6, CLAIM_EXAMPLE12]


NOT_CHECKABLE = [
    NotCheckable(
        id="rank_collapse.lemma16_monotone_limit",
        item="Lemma 16: a non-increasing bounded integer sequence is >= its Cesàro limit at "
             "every finite index",
        source=f"{PAPER}, Lemma 16 (Appendix E)",
        why=("a statement about limits of infinite deterministic sequences whose finite content "
             "is the definition of 'non-increasing'; nothing to sample. What matters is its "
             "hypothesis on the chain (rank_τ(H_l) non-increasing), which does not hold: "
             "cor15_every_layer reports the fraction of layers at which rank_τ and the "
             "numerical rank increase, and checks Corollary 15's conclusion per layer"),
        instead=("rank_collapse.cor15_every_layer",)),
]
