"""The Claim records of Daneshmand et al. 2020 (arXiv:2003.01652): prose, configurations, runner
directives, controls; CLAIMS in report order.

Where a statement rests on our own derivation (the paper's constant is not legible), its text
names the section of ``docs/derivations/rank_markov.md`` that writes the argument out."""
from __future__ import annotations

import math

from depthcheck.validation.claims.claim import Claim
from depthcheck.validation.papers.rank_collapse.centering import _c5_judge, _c5_predict, _c5_simulate
from depthcheck.validation.papers.rank_collapse.figures import _c1_figure, _c4_figure, _c5_figure, _c6_figure, _c7_figure
from depthcheck.validation.papers.rank_collapse.input_degeneracy import _c7_judge, _c7_predict, _c7_simulate
from depthcheck.validation.papers.rank_collapse.lemma1_bounds import _c2_judge, _c2_predict, _c2_simulate
from depthcheck.validation.papers.rank_collapse.lemma7_drift import _c3_judge, _c3_predict, _c3_simulate
from depthcheck.validation.papers.rank_collapse.lyapunov import _c6_judge, _c6_predict, _c6_simulate
from depthcheck.validation.papers.rank_collapse.regularity import _c4_judge, _c4_predict, _c4_simulate
from depthcheck.validation.papers.rank_collapse.sqrt_width import _c1_full_configs, _c1_judge, _c1_predict, _c1_simulate


#: How the claims cite the paper (BibTeX ``daneshmand2020rank`` in docs/references.bib).
PAPER = "Daneshmand et al. 2020 (arXiv:2003.01652)"
#: Where the derivations behind the statements are written out.
DERIVATIONS = "docs/derivations/rank_markov.md"


_C1_QUICK_CONFIGS = [
    {"gamma": "inf", "weights": "gaussian", "activation": "linear", "widths": [8, 16, 32, 64],
     "burn_in": 100, "depth": 400},
    {"gamma": 0.1, "weights": "uniform", "activation": "linear", "widths": [8, 16, 32],
     "burn_in": 400, "depth": 1000},
    {"gamma": "inf", "weights": "uniform", "activation": "relu", "center": True,
     "widths": [8, 16, 32, 64], "burn_in": 100, "depth": 400},
]


CLAIM_SQRT_WIDTH = Claim(
    id="rank_collapse.bn_rank_sqrt_width",
    seed_key="seed002.bn_rank_sqrt_width",  # former id: keeps its random streams
    aliases=("seed002.bn_rank_sqrt_width",),
    title="Daneshmand et al. 2020, Theorem 2: BN chains keep a rank of order √d at any depth "
          "(vanilla chains collapse to rank one)",
    source=f"{PAPER}, Theorem 2 (eq. 5) / Theorem 14, Figures 2 and 3a; {DERIVATIONS} §6",
    statement=("H_{l+1} = Bn(H_l + γ W_l H_l) (γ = ∞: Bn(W_l H_l)), Bn scaling rows to norm √N. "
               "lim_L (1/L) Σ_l rank_τ(H_l) >= (1−τ)² lim_L (1/L) Σ_l r(H_l) = Ω((1−τ)² √d), and "
               "(Thm 14) >= 2(1−τ)²√((1−β)d). Checked: the fitted exponent α of mean r(H) "
               "(linear) and mean rank_τ ∝ d^α has a lower confidence limit >= 1/2 − margin "
               "(an Ω(√d) lower bound allows α > 1/2); the Thm-14 bound with the per-trial "
               "ergodic β̂ holds at every width; for γ <= 0.1 also the sharp form "
               "E r >= (1 + √(1 + 16(1−β)d))/2."),
    assumptions=("Gaussian input X with N = d (rank X = d); i.i.d. symmetric unit-variance "
                 "weights (Gaussian or U[−√3, √3]); τ = 0.5 with the eigen threshold λ_i(M) > τ "
                 "(the printed convention of eq. 3 is not legible); depth averages after a "
                 "burn-in; Theorem 14 "
                 "needs γ small and linear activations — γ = 1, ∞ and ReLU (BN with centring, "
                 "as in the Fig. 2 code; statistics of the post-ReLU H_l, tr M ≈ d/2) are the "
                 "paper's empirical extensions (Fig. 3a, Fig. 2); "
                 "the constants of the bound are our derivation, rank_markov.md §5–6"),
    quick={"norm": "bn", "activations": ["linear", "relu"],
           "tau": 0.5, "margin": 0.05,
           "small_gamma": 0.1, "record_every": 5, "configs": _C1_QUICK_CONFIGS,
           "fig2": {"d": 32, "depth": 500, "every": 10, "weights": "uniform"}},
    full={"norm": "bn", "activations": ["linear", "relu"],
          "tau": 0.5, "margin": 0.05,
          "small_gamma": 0.1, "record_every": 10, "configs": _c1_full_configs(),
          "fig2": {"d": 32, "depth": 5000, "every": 50, "weights": "uniform"}},
    trials={"quick": 32, "full": 20}, chunk={"quick": 32, "full": 2},
    predict=_c1_predict,
    simulate=_c1_simulate,
    judge=_c1_judge,
    control={"norm": "none", "activations": ["linear"]},
    control_description=("vanilla linear chains (no BN, recursion (6), H rescaled by a scalar): "
                          "the rank collapses to one (Lemma 3), so the depth-averaged r and rank_τ "
                          "stop growing with d (exponent ≈ 0) and the exponent statements FAIL. "
                          "(Vanilla ReLU chains of small width die — relu(WH) = 0 — and appear "
                          "only in Fig. 2, at d = 32.)"),
    figure=_c1_figure,
)


CLAIM_LEMMA1 = Claim(
    id="rank_collapse.lemma1_bounds",
    seed_key="seed002.lemma1_bounds",  # former id: keeps its random streams
    aliases=("seed002.lemma1_bounds",),
    title="Daneshmand et al. 2020, Lemma 1: rank(H) >= r(H), and rank_τ(H_l) >= (1−τ)² r(H_l) "
          "along the BN chain",
    source=f"{PAPER}, Lemma 1 (eqs. 3, 4), Appendix proof of Lemma 1; {DERIVATIONS} §1",
    statement=("(1) rank(H) >= r(H) = tr(M)²/‖M‖_F² for every H (Cauchy–Schwarz); (2) for BN "
               "outputs (tr M = d) rank_τ(H) >= (1−τ)² r(H), both for the eigen threshold "
               "λ_i(M) > τ and the singular threshold σ_i/√N > τ. Deterministic: checked at "
               "every layer."),
    assumptions=("part 2 needs rows of norm √N (tr M = d), i.e. this paper's Bn; numerical rank "
                 "with numpy's SVD tolerance; the threshold convention of eq. (3) is not "
                 "legible, so both are checked (rank_markov.md §1)"),
    quick={"norm": "bn", "widths": [8, 32], "depth": 100,
           "taus": [0.0, 0.25, 0.5, 0.9],
           "configs": [{"gamma": "inf", "weights": "gaussian"}, {"gamma": 0.1, "weights": "uniform"}],
           "adversarial_per_width": 4, "tol": 1e-9},
    full={"norm": "bn", "widths": [8, 32, 128], "depth": 1000,
          "taus": [0.0, 0.1, 0.25, 0.5, 0.75, 0.9],
          "configs": [{"gamma": "inf", "weights": "gaussian"}, {"gamma": "inf", "weights": "uniform"},
                      {"gamma": 0.1, "weights": "uniform"}, {"gamma": 0.01, "weights": "gaussian"}],
          "adversarial_per_width": 16, "tol": 1e-9},
    trials={"quick": 16, "full": 64}, chunk=16,
    predict=_c2_predict,
    simulate=_c2_simulate,
    judge=_c2_judge,
    control={"norm": "rownorm"},
    control_description=("the unit-row-norm Bn of Meterez et al. 2024 instead of rows of norm "
                         "√N: "
                         "tr M = 1, so at most one eigenvalue exceeds τ = 0.5 while "
                         "(1−τ)² r(H) > 1 once r > 4; part 2 is violated (part 1 still holds)."),
)


CLAIM_LEMMA7 = Claim(
    id="rank_collapse.lemma7_drift",
    seed_key="seed002.lemma7_drift",  # former id: keeps its random streams
    aliases=("seed002.lemma7_drift",),
    title="Daneshmand et al. 2020, Lemma 7 / Prop. 8: one BN step changes E‖M‖_F² "
          "by 2γ²(d² − ‖M‖² + 4Σ‖M_i‖⁴ − 4tr M³)",
    source=f"{PAPER}, Lemma 7, Proposition 8, Example 9 (Appendix E); {DERIVATIONS} §2–3",
    statement=("E_W‖M_+‖_F² − ‖M‖_F² = γ² c(M) + O(γ³), c(M) = 2(d² − ‖M‖_F² + 4Σ_i‖M_i·‖⁴ − "
               "4 tr M³); with equal row norms c = 2(d² − Σλ² + (4/d)(Σλ²)² − 4Σλ³) (Prop. 8). "
               "Checked: Monte Carlo drift / (γ² c) lies in [1 − band, 1 + band] for a spread "
               "spectrum (c > 0), a nearly collinear M (c < 0, Example 9) and a circulant M "
               "(Prop. 8)."),
    assumptions=("M on the BN manifold (unit diagonal); W i.i.d. zero-mean unit-variance symmetric "
                 "(Gaussian, U[−√3, √3]); small γ; the constants are our derivation "
                 "(rank_markov.md §2–3; the printed form is not legible)"),
    quick={"draws": 1000, "gamma": 0.01, "band": 0.05,
           "laws": ["gaussian", "uniform"], "weight_scale": 1.0, "matrix_seed": 2020,
           "cases": [{"kind": "gaussian", "d": 8, "n": 16},
                     {"kind": "collinear", "d": 8, "n": 16, "eps": 0.3},
                     {"kind": "circulant", "d": 8, "rho": 0.5}]},
    full={"draws": 10000, "gamma": 0.005, "band": 0.02,
          "laws": ["gaussian", "uniform"], "weight_scale": 1.0, "matrix_seed": 2020,
          "cases": [{"kind": "gaussian", "d": 6, "n": 10}, {"kind": "gaussian", "d": 32, "n": 32},
                    {"kind": "collinear", "d": 16, "n": 32, "eps": 0.3},
                    {"kind": "circulant", "d": 16, "rho": 0.5}]},
    trials={"quick": 40, "full": 100}, chunk={"quick": 40, "full": 25},
    predict=_c3_predict,
    simulate=_c3_simulate,
    judge=_c3_judge,
    control={"weight_scale": math.sqrt(2.0)},
    control_description=("weights of variance 2 instead of 1 (Def. 1 violated): the γ² term "
                         "doubles, so measured/predicted ≈ 2, outside the band."),
)


CLAIM_REGULARITY = Claim(
    id="rank_collapse.regularity_constant",
    seed_key="seed002.regularity_constant",  # former id: keeps its random streams
    aliases=("seed002.regularity_constant",),
    title="Daneshmand et al. 2020, Lemmas 10, 13: regularity constant β < 0.9 for d > 10, "
          "decreasing in d; E‖M‖_F² = O(d^{3/2})",
    source=(f"{PAPER}, Definition 3, Lemma 10, Eq. (49), Figure 8; Lemma 13, Figure 9; "
            f"Figure 3b; {DERIVATIONS} §4–5"),
    statement=("β_ν = E_ν[Σ_i‖M_i·‖⁴]/E_ν[tr M³], estimated by ergodic averages along the chain "
               "(Eq. 49), is < 0.9 for d > 10 and decreases with d (Fig. 8); Lemma 13: "
               "E_ν‖M‖_F² <= d(√(1+16(1−β)d) − 1)/(8(1−β)) <= d^{3/2}/(2√(1−β)) (Fig. 9). "
               "Checked: upper CI of β̂ < 0.9 per d > 10; slope of β̂ vs log2 d < 0; "
               "E‖M‖²/bound <= 1 per d; exponent of E‖M‖² vs d <= 3/2 + margin."),
    assumptions=("BN chain without centring, N = d, γ = 0.1, U[−√3, √3] weights (our choice: "
                 "the paper gives no set-up for Figs. 8 and 9); Def. 3 is our reconstruction "
                 "(rank_markov.md §4); Lemma 13's constants are our derivation (rank_markov.md "
                 "§5); ergodic averages after a burn-in, CIs across independent chains"),
    quick={"gamma": 0.1, "weights": "uniform", "widths": [8, 16, 32],
           "burn_in": 400, "depth": 1000, "record_every": 5, "n_blocks": 20,
           "beta_threshold": 0.9, "beta_min_d": 10, "exponent_margin": 0.05,
           "fig3b": {"d": 50, "depth": 100, "gamma": 1.0, "eps": 1e-5, "top_k": 10}},
    full={"gamma": 0.1, "weights": "uniform",
          "widths": [8, 16, 32, 64, 128, 256], "burn_in": 2000, "depth": 22000,
          "record_every": 10, "n_blocks": 50, "beta_threshold": 0.9, "beta_min_d": 10,
          "exponent_margin": 0.05,
          "fig3b": {"d": 50, "depth": 100, "gamma": 1.0, "eps": 1e-5, "top_k": 10}},
    trials={"quick": 32, "full": 20}, chunk={"quick": 32, "full": 2},
    predict=_c4_predict,
    simulate=_c4_simulate,
    judge=_c4_judge,
    control={"weights": "uniform_pos"},
    control_description=("non-centred weights U[0, 2√3] (the paper's adversarial 'w -> 2|w|' "
                         "initialisation, same variance, mean √3): the chain collapses to rank "
                         "one, so β̂ = 1 (Example 11) and the β < 0.9 statements FAIL."),
    figure=_c4_figure,
)


CLAIM_CENTERING = Claim(
    id="rank_collapse.centering_redundant",
    seed_key="seed002.centering_redundant",  # former id: keeps its random streams
    aliases=("seed002.centering_redundant",),
    title="Daneshmand et al. 2020, Lemma 4: E_ν[M_ij] = 0 off the diagonal, so BN's mean "
          "subtraction is redundant",
    source=f"{PAPER}, Lemma 4, Appendix C ('Comment on Bn-centering'), Figures 5, 7",
    statement=("Under the unique invariant law ν, SH has the law of H for every diagonal sign "
               "matrix S, hence E_ν[M_ij] = 0 for i ≠ j; centring the rows does not change the "
               "chain's rank statistics. Checked: the depth-averaged mean off-diagonal "
               "correlation of the uncentred chain, started from an all-positive input, lies in "
               "±band; E r(centred)/E r(uncentred) lies in the ratio band."),
    assumptions=("linear BN chain, N = d, γ = 0.1, U[−√3, √3] weights (symmetric law, Def. 1); "
                 "unique invariant law (assumed by the paper, not proven); Lemma 4's exact "
                 "statement is not legible"),
    quick={"gamma": 0.1, "weights": "uniform", "widths": [16, 32],
           "burn_in": 300, "depth": 800, "record_every": 5, "offdiag_band": 0.02,
           "ratio_band": [0.95, 1.05]},
    full={"gamma": 0.1, "weights": "uniform", "widths": [16, 64, 128],
          "burn_in": 2000, "depth": 12000, "record_every": 10, "offdiag_band": 0.01,
          "ratio_band": [0.97, 1.03]},
    trials=32, chunk={"quick": 32, "full": 4},
    predict=_c5_predict,
    simulate=_c5_simulate,
    judge=_c5_judge,
    control={"weights": "uniform_pos"},
    control_description=("non-symmetric weights U[0, 2√3]: Lemma 4's sign symmetry is gone and "
                         "the positive start is never forgotten (M_ij → 1)."),
    figure=_c5_figure,
)


CLAIM_LYAPUNOV = Claim(
    id="rank_collapse.vanilla_lyapunov",
    seed_key="seed002.vanilla_lyapunov",  # former id: keeps its random streams
    aliases=("seed002.vanilla_lyapunov",),
    title="Vanilla linear nets collapse to rank one at the Lyapunov rate μ2 − μ1 "
          "(Daneshmand et al. 2020, Lemma 3)",
    source=(f"{PAPER}, Lemma 3, Section 3.2 (refs [11], [20]); Newman 1986 (Commun. Math. "
            f"Phys. 103); docs/derivations/lyapunov.md"),
    statement=("Products of d×d N(0,1) matrices: μ_k = ½[log 2 + ψ((d−k+1)/2)]; σ_k/σ_1 of "
               "P_L X decays like exp(L(μ_k − μ_1)); I + γW products also collapse to rank one. "
               "Checked: QR estimates μ̂_k − μ_k within ±band for every k and d; per-layer slope of "
               "log(σ2/σ1) divided by μ2 − μ1 within the ratio band; slope for I + γW < 0."),
    assumptions=("i.i.d. real Gaussian entries of variance 1 (the formula is Gaussian-specific); "
                 "no normalisation (the scale is removed by a scalar, which does not change "
                 "singular value ratios); Lemma 3's residual case has no closed-form rate"),
    quick={"lyap_dims": [2, 4, 8], "lyap_depth": 6000,
           "lyap_burn_in": 50, "band": 0.03, "ratio_dims": [4, 8], "ratio_log_target": 15.0,
           "ratio_batch": 50, "ratio_every": 2, "ratio_band": [0.85, 1.15],
           "residual": [{"d": 4, "gamma": 0.5, "depth": 100}],
           "residual_qr_depth": 2000, "predict_complex": False},
    full={"lyap_dims": [2, 4, 8, 32], "lyap_depth": 40000,
          "lyap_burn_in": 200, "band": 0.01, "ratio_dims": [4, 8, 32], "ratio_log_target": 15.0,
          "ratio_batch": 200, "ratio_every": 2, "ratio_band": [0.9, 1.1],
          "residual": [{"d": 4, "gamma": 0.5, "depth": 100}, {"d": 8, "gamma": 0.5, "depth": 220},
                       {"d": 32, "gamma": 0.1, "depth": 1500}],
          "residual_qr_depth": 20000, "predict_complex": False},
    trials={"quick": 32, "full": 64}, chunk={"quick": 32, "full": 8},
    predict=_c6_predict,
    simulate=_c6_simulate,
    judge=_c6_judge,
    control={"predict_complex": True, "ratio_dims": [4],
             "residual": [{"d": 4, "gamma": 0.5, "depth": 100}]},
    control_description=("the complex-Ginibre formula μ_k = ½ψ(d−k+1) used for real matrices "
                         "(a deliberately wrong law): μ̂ − μ falls outside the band (e.g. by "
                         "≈ 0.15–0.35 at d = 2). The control skips the d = 8 ratio and residual "
                         "runs to save time."),
    figure=_c6_figure,
)


CLAIM_DIGITS = Claim(
    id="rank_collapse.input_degeneracy",
    seed_key="seed002.input_degeneracy",  # former id: keeps its random streams
    aliases=("seed002.input_degeneracy",),
    title="Real image batches are (almost) never rank-degenerate below the data dimension "
          "(Meterez et al. 2024, Table D1)",
    source=("Meterez et al. 2024 (arXiv:2310.02012), Appendix D, Table D1; the input assumption "
            f"rank X = d of {PAPER}, Theorem 2"),
    statement=("Random batches of n images drawn without replacement from a real data set are "
               "full rank (rank = n) while n is below the data's dimension; Table D1 reports the "
               "average rank and the (high) average cosine similarity. Checked on scikit-learn's "
               "digits: the Clopper–Pearson lower limit of P(rank = n) >= 0.95 for each judged n."),
    assumptions=("raw pixel values (0..16), columns = images (64 × n); numerical rank with numpy's "
                 "SVD tolerance; Table D1's batch sizes and values are not legible in the paper's "
                 "text, so the qualitative statement is checked"),
    quick={"sizes": [8, 16, 32, 48, 64],
           "judged_sizes": [8, 16, 32, 48], "min_full_rank_fraction": 0.95, "repeat": 1},
    full={"sizes": [8, 16, 24, 32, 40, 48, 56, 64],
          "judged_sizes": [8, 16, 24, 32, 40, 48], "min_full_rank_fraction": 0.99, "repeat": 1},
    trials={"quick": 500, "full": 5000}, chunk={"quick": 500, "full": 1250},
    predict=_c7_predict,
    simulate=_c7_simulate,
    judge=_c7_judge,
    control={"repeat": 2},
    control_description=("degenerate batches: n/2 distinct images, each twice (the repeated-sample "
                         "batch of Meterez et al. 2024, Fig. 2), so rank <= n/2 < n."),
    figure=_c7_figure,
)


CLAIMS = [CLAIM_SQRT_WIDTH, CLAIM_LEMMA1, CLAIM_LEMMA7, CLAIM_REGULARITY, CLAIM_CENTERING,
          CLAIM_LYAPUNOV, CLAIM_DIGITS]
