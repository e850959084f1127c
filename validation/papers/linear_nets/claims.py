"""The Claim records of Basu, Mukherjee & Vasudevan 2019 (arXiv:1904.10689): prose, configurations,
runner directives, controls; CLAIMS in report order.

Where a statement rests on our own derivation, its text names the section of
``docs/derivations/linear_nets.md`` that writes the argument out."""
from __future__ import annotations

import math

from depthcheck.validation.claims.claim import Claim, Mutation, Sensitivity
from depthcheck.validation.papers.linear_nets import claims_convergence as _convergence
from depthcheck.validation.papers.linear_nets import claims_transition as _transition
from depthcheck.validation.papers.linear_nets.balance import _balance_judge, _balance_simulate
from depthcheck.validation.papers.linear_nets.equal_growth import _growth_judge, _growth_simulate
from depthcheck.validation.papers.linear_nets.figures import _balance_figure, _growth_figure, _relu_figure, _saxe_figure
from depthcheck.validation.papers.linear_nets.relu_balance import _relu_judge, _relu_simulate
from depthcheck.validation.papers.linear_nets.saxe import _saxe_judge, _saxe_simulate


#: How the claims cite the paper (BibTeX ``basu2019layer`` in docs/references.bib).
PAPER = "Basu et al. 2019 (arXiv:1904.10689)"
#: Where the derivations behind the statements are written out.
DERIVATIONS = "docs/derivations/linear_nets.md"


WIDTHS_3 = [10, 6, 3]


WIDTHS_5 = [10, 8, 6, 4, 3]


def _band(delta):
    """The equality band ±δ/2 around an exponent of 1 (the convention of
    :class:`depthcheck.validation.claims.claim.Sensitivity`)."""
    return [1.0 - delta / 2, 1.0 + delta / 2]


#: δ of the exponent claims (balance drift, Saxe's Euler error, ReLU norm-difference drift).
DELTA_BALANCE = 0.1
DELTA_SAXE = 0.1
DELTA_RELU = 0.2
#: δ of equal_growth, in log10 of the geometric-mean relative imbalance: a factor 2 above the
#: tolerance.
DELTA_GROWTH = math.log10(2.0)


CLAIM_BALANCE = Claim(
    id="linear_nets.balance_invariant",
    seed_key="seed003.balance_invariant",  # former id: keeps its random streams
    aliases=("seed003.balance_invariant",),
    title="Basu et al. 2019, Theorem 1: layer balance is invariant under gradient flow; GD "
          "drifts by O(η) at fixed time",
    source=(f"{PAPER}, Theorem 1 (eq. 6), Lemma 2 (eqs. 8–9), Cor. 2.1; Arora et al. 2018 "
            f"(arXiv:1802.06509); {DERIVATIONS} §2–3"),
    statement=("W_{l+1}ᵀW_{l+1} − W_lW_lᵀ = C_l is constant under gradient flow of a deep linear "
               "net. GD step: D_l(k+1) = D_l(k) + η²(G_{l+1}ᵀG_{l+1} − G_lG_lᵀ) exactly, so at "
               "fixed T = kη the drift is η·∫₀ᵀ(G_{l+1}ᵀG_{l+1} − G_lG_lᵀ)dt + O(η²): the fitted "
               "exponent of drift vs η must be 1."),
    assumptions=("linear activations, no biases, full-batch GD, Glorot-normal init, the "
                 "paper's Sec. 4 mixture data (widths 10-8-6-4-3: our choice, the paper's "
                 "shapes are not legible); η small enough for the asymptotic regime"),
    quick={"widths": WIDTHS_5, "per_cluster": 400, "T": 4.0,
           "etas": [0.01, 0.005, 0.0025], "layer_lr": None, "weight_decay": 0.0,
           "band": _band(DELTA_BALANCE)},
    full={"widths": WIDTHS_5, "per_cluster": 400, "T": 10.0,
          "etas": [0.01, 0.005, 0.0025, 0.00125], "layer_lr": None, "weight_decay": 0.0,
          "band": _band(DELTA_BALANCE)},
    trials={"quick": 32, "full": 96}, chunk={"quick": 16, "full": 24},
    predict=lambda cfg: 1.0,
    simulate=_balance_simulate,
    judge=_balance_judge,
    control={"layer_lr": [1.0, 0.5]},
    control_description=("per-layer learning rates (η, η/2, η, η/2): not a gradient flow of L, "
                         "the first-order terms no longer cancel and the drift per unit time is "
                         "O(1), so the exponent is ≈ 0"),
    sensitivity=Sensitivity(
        DELTA_BALANCE, "departure of the fitted exponent of the balance drift vs η from 1",
        "the invariant is claimed exact under the flow, so what matters is an η-independent "
        "drift (a real break of the invariant); over the factor-4 range of η such a drift of "
        "about a tenth of the GD drift at the middle η (≈ 4·10⁻⁵ of Σ_l||C_l||_F over T = 4) "
        "lowers the exponent by 0.1, while the exponent's own O(η) curvature is < 0.01"),
    mutations=(
        Mutation("layer_step_mismatch",
                 "layers 2 and 4 step with η(1 + 10⁻³) (a per-layer step-size multiplier, e.g. "
                 "an 'equalised learning rate' rescaling, 500× smaller than the control's): "
                 "not a gradient flow of L, so the balance drifts at first order, by an "
                 "η-independent ≈ 0.2× the GD drift at the middle η",
                 overrides={"layer_lr": [1.0, 1.001]}),
        Mutation("weight_decay",
                 "coupled L2 weight decay λ = 10⁻⁵ left on (an optimiser default): "
                 "dD_l/dt = −2λD_l, the balance decays by 2λT = 8·10⁻⁵ of itself over T = 4 "
                 "whatever η (≈ 0.3× the GD drift at the middle η)",
                 overrides={"weight_decay": 1e-5})),
    figure=_balance_figure,
)


CLAIM_GROWTH = Claim(
    id="linear_nets.equal_growth",
    seed_key="seed003.equal_growth",  # former id: keeps its random streams
    aliases=("seed003.equal_growth",),
    title="Basu et al. 2019, Cor. 2.1–2.4: adjacent layers' squared norms grow at the same "
          "rate; balanced init keeps them equal",
    source=f"{PAPER}, Cor. 2.1–2.4 and Figure 1; {DERIVATIONS} §2, §4",
    statement=("d||W_{l+1}||_F²/dt = d||W_l||_F²/dt (trace of Thm 1), so the growth is shared and "
               "tr D_l(t) = tr C_l; C_l = 0 (balanced/orthogonal init) gives equal norms for all "
               "t; decoupled modes keep a_{l+1}² − a_l² = c and a_{l+1}/a_l = √(1 + c/a_l²). "
               "Judged: per-trial worst relative imbalance (unshared growth / norm growth, "
               "balanced-init gap / mean norm, ratio error), geometric mean over trials below a "
               "tolerance of 5 % (several times the O(η) discretisation level at the chosen η): "
               "an upper bound on log10 of that geometric mean."),
    assumptions=("linear nets 10-6-3 and 10-8-6-4-3 (our widths: the paper's are not "
                 "legible), Glorot-normal, balanced (rank-3 partial isometries) and decoupled "
                 "unbalanced init; the paper's Sec. 4 mixture data with teacher entries N(0, 1) "
                 "so that the norms grow as in Fig. 1 "
                 "(decoupled group: whitened inputs, teacher U diag(s) Vᵀ); "
                 "full-batch GD with small η (gradient flow gives 0, GD O(η))"),
    quick={"widths_3": WIDTHS_3, "widths_5": WIDTHS_5,
           "per_cluster": 400, "teacher_scale": 1.0, "eta": 0.01, "T": 10.0,
           "record_every": 20, "layer_lr": None, "mode_s": [2.0, 4.0], "mode_a0": 0.4,
           "mode_spread": 0.3, "tolerance": 0.05},
    full={"widths_3": WIDTHS_3, "widths_5": WIDTHS_5,
          "per_cluster": 400, "teacher_scale": 1.0, "eta": 0.0025, "T": 30.0,
          "record_every": 100, "layer_lr": None, "mode_s": [2.0, 4.0], "mode_a0": 0.4,
          "mode_spread": 0.3, "tolerance": 0.05},
    # quick 48 trials (24 before): the half-width of log10 must be below δ/2 = 0.15
    trials={"quick": 48, "full": 64}, chunk={"quick": 24, "full": 16},
    predict=lambda cfg: math.log10(cfg["tolerance"]),
    simulate=_growth_simulate,
    judge=_growth_judge,
    control={"layer_lr": [1.0, 0.5]},
    control_description=("per-layer learning rates (η, η/2, ...): adjacent layers then grow at "
                         "different rates, the growth is no longer shared and balanced init "
                         "becomes unbalanced"),
    sensitivity=Sensitivity(
        DELTA_GROWTH, "log10 of the geometric-mean worst relative imbalance above the "
        "log10 tolerance (log10 0.05)",
        "an imbalance twice the 5 % tolerance, i.e. adjacent layers growing at rates 10 % "
        "apart: the smallest difference that would show as separate curves in the paper's "
        "Fig. 1, and 10× the O(η) level GD reaches (≈ 1 %)"),
    mutations=(
        Mutation("layer_gradient_scaled",
                 "the gradient of every second layer scaled by 1.1 (a per-layer gradient "
                 "scaling, e.g. a fan-in rescaling applied to some layers only): adjacent "
                 "layers grow at rates 10 % apart, imbalance ≈ 2× the tolerance",
                 overrides={"layer_lr": [1.0, 1.1]}),),
    figure=_growth_figure,
)


CLAIM_SAXE = Claim(
    id="linear_nets.saxe_dynamics",
    seed_key="seed003.saxe_dynamics",  # former id: keeps its random streams
    aliases=("seed003.saxe_dynamics",),
    title="Saxe et al. closed-form mode dynamics for deep linear nets (N_l = 2, 3, 5, 10; "
          "Basu et al. 2019, Cor. 2.4, Theorem 3)",
    source=(f"{PAPER}, Cor. 2.4 (eq. 13), eq. 14, Theorem 3; Saxe et al. 2014 "
            f"(arXiv:1312.6120); {DERIVATIONS} §5"),
    statement=("With Σ_xx = I and a balanced decoupled init, each mode u = a^{N_l−1} solves "
               "τ du/dt = (N_l − 1) u^{2−2/(N_l−1)} (s − u) (N_l = 3: u = s e^{2st/τ}/(e^{2st/τ}"
               " − 1 + s/u0)); GD with h = 2η/d_out is Euler's method, so the trajectory error "
               "is O(h): fitted exponent 1 for every depth. Time to learn = (τ/(N_l−1)) "
               "∫ du/(u^{2−2/(N_l−1)}(s − u))."),
    assumptions=("whitened inputs (n = d samples, XXᵀ/n = I), square width-4 layers, teacher "
                 "U diag(s) Vᵀ with s ~ U[1, 2], u0 = 0.05 s per mode, exactly decoupled and "
                 "balanced init (orthogonal frames), full-batch GD on the engine's mse"),
    quick={"depths": [2, 3, 5, 10], "width": 4, "s_range": [1.0, 2.0],
           "u0_frac": 0.05, "T": 4.0, "hs": [0.02, 0.01, 0.005], "n_grid": 41,
           "init": "balanced", "unbalance": 0.3, "lr_factor": 1.0,
           "band": _band(DELTA_SAXE)},
    full={"depths": [2, 3, 5, 10], "width": 4, "s_range": [1.0, 2.0],
          "u0_frac": 0.05, "T": 4.0, "hs": [0.01, 0.005, 0.0025, 0.00125], "n_grid": 81,
          "init": "balanced", "unbalance": 0.3, "lr_factor": 1.0,
          "band": _band(DELTA_SAXE)},
    trials={"quick": 24, "full": 64}, chunk={"quick": 12, "full": 16},
    predict=lambda cfg: 1.0,
    simulate=_saxe_simulate,
    judge=_saxe_judge,
    control={"init": "unbalanced"},
    control_description=("decoupled but unbalanced init (layer strengths a_l = u0^{1/N} e^{0.3 z_l},"
                         " z clipped to ±2 and centred so Π a_l = u0): the balanced-mode ODE no "
                         "longer describes the "
                         "trajectory, the error does not shrink with h (exponent ≈ 0) for N_l ≥ 3"),
    sensitivity=Sensitivity(
        DELTA_SAXE, "departure of the fitted exponent of the GD-vs-closed-form error from 1 "
        "(each N_l ≥ 3)",
        "a closed form that is only approximately right leaves an error that does not vanish "
        "with h; one of about a tenth of the Euler error at the middle h (≈ 10⁻⁴–10⁻³·s) "
        "moves the exponent by 0.1 over the factor-4 range of h, while the exponent's own "
        "O(h) curvature is < 0.01"),
    mutations=(
        Mutation("time_scale_off",
                 "GD steps with η(1 + 5·10⁻⁴) while the closed form is evaluated at "
                 "h = 2η/d_out (a plausible normalisation bug): the modes follow Saxe's closed "
                 "form with τ off by 0.05 %, mode strengths off by ≲ 5·10⁻⁴·s, an error that "
                 "does not shrink with h",
                 overrides={"lr_factor": 1.0005}),),
    # not a mutation: a 'balanced' init with 5–8 % jitter of the layer strengths makes the
    # per-trial exponents heterogeneous (some ≈ 0, some ≈ 1) and comes out INCONCLUSIVE or FAIL
    # depending on the seed; the exponent statement is not powered against small imbalance
    # (the control's 30 % jitter FAILs)
    figure=_saxe_figure,
)


CLAIM_RELU = Claim(
    id="linear_nets.relu_balance",
    seed_key="seed003.relu_balance",  # former id: keeps its random streams
    aliases=("seed003.relu_balance",),
    kind="finding",
    title="Finding: in bias-free ReLU nets ||W_{l+1}||_F² − ||W_l||_F² is conserved by gradient "
          "flow (Du–Hu–Lee), contrary to the symmetry-breaking claim of Basu et al. 2019, "
          "Sec. 3; biases break it",
    source=(f"{PAPER}, Section 3 (eqs. 24–29), Conjecture 4, Figure 2; Du, Hu & Lee 2018 "
            f"(arXiv:1806.00900)"),
    statement=("For positively homogeneous activations each hidden neuron k satisfies "
               "⟨W_l[k,:], G_l[k,:]⟩ = ⟨W_{l+1}[:,k], G_{l+1}[:,k]⟩, so under gradient flow "
               "||W_l[k,:]||² − ||W_{l+1}[:,k]||² and hence ||W_{l+1}||_F² − ||W_l||_F² are "
               "constant; GD drifts by η²(||G_{l+1}||² − ||G_l||²) per step: exponent 1 in η at "
               "fixed T. The paper (Sec. 3) argues the nonlinearity breaks the equal growth of "
               "adjacent layers; within its own setting (eq. 24: bias-free ReLU) this finding "
               "says it does not, for squared Frobenius norms. With biases the weight-only "
               "difference is not conserved (the control)."),
    assumptions=("bias-free ReLU MLP, softmax cross-entropy, sklearn digits (pixels/16, a random "
                 "subset per trial), He init, full-batch GD at fixed T = steps·η"),
    quick={"widths": [64, 24, 24, 24, 10], "n_samples": 200,
           "T": 5.0, "etas": [0.05, 0.025, 0.0125], "bias": False, "bias_init": 0.0,
           "bias_lr": 1.0, "n_records": 40, "band": _band(DELTA_RELU)},
    full={"widths": [64, 100, 100, 100, 100, 100, 100, 10],
          "n_samples": 250, "T": 5.0, "etas": [0.01, 0.005, 0.0025], "bias": False,
          "bias_init": 0.0, "bias_lr": 1.0, "n_records": 50, "band": _band(DELTA_RELU)},
    trials=16, chunk={"quick": 8, "full": 4},
    predict=lambda cfg: 1.0,
    simulate=_relu_simulate,
    judge=_relu_judge,
    control={"bias": True},
    control_description=("biases on (zero init): the symmetry needs the incoming bias scaled "
                         "with the incoming weights, so the weight-only difference drifts by "
                         "−Δ||b_l||² = O(1) (exponent ≈ 0), while the bias-corrected quantity "
                         "stays conserved (reported)"),
    sensitivity=Sensitivity(
        DELTA_RELU, "departure of the fitted exponent of the drift of "
        "||W_{l+1}||_F² − ||W_l||_F² vs η from 1",
        "the paper's alternative is a first-order (η-independent) break of the equal growth; "
        "one of a quarter of the GD drift at the middle η lowers the exponent by 0.2 over the "
        "factor-4 range of η, a break far below what Fig. 2 of the paper could show"),
    mutations=(
        Mutation("slow_biases_mislabelled",
                 "a ReLU net that does have biases (zero init, trained at η/5: e.g. a bias=True "
                 "default with a bias learning-rate multiplier) labelled bias-free: the "
                 "weight-only difference drifts by −Δ||b_l||², independently of η. At η/10 "
                 "(mean exponent ≈ 0.5) the mutated data's spread over trials leaves it "
                 "INCONCLUSIVE on some seeds; η/5 FAILs on every seed checked",
                 overrides={"bias": True, "bias_lr": 0.2}),),
    figure=_relu_figure,
)


CLAIMS = [CLAIM_BALANCE, CLAIM_GROWTH, CLAIM_SAXE, CLAIM_RELU, *_convergence.CLAIMS,
          *_transition.CLAIMS]
#: The paper's statements not checked here, with why (``python -m depthcheck list``).
NOT_CHECKABLE = [*_convergence.NOT_CHECKABLE, *_transition.NOT_CHECKABLE]
