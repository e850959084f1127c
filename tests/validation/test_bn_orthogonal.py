"""Tests of the seed-001 claims (depthcheck.validation.papers.bn_orthogonal) and the image batches
(depthcheck.kernels.data.images): every claim's simulate → judge path at tiny configurations, the controls of
the deterministic claims, the numerical helpers against independent references, and the figures.
"""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from depthcheck.theory import bn_orthogonal as th
from depthcheck.theory.isometry import isometry_gap, row_normalize
from depthcheck.kernels.nn.norms import norm_forward
from depthcheck.validation.papers import bn_orthogonal as B
from depthcheck.validation.papers.bn_orthogonal import _common as BC, bn_jacobian as BJ, \
    bn_lemma as BL, claims as BK, gradients as BG
from depthcheck.kernels.data import images
from depthcheck.validation.claims.claim import ClaimResult, Verdict

CLAIMS = {c.id: c for c in B.CLAIMS}

# Tiny configurations: same code path, seconds in total.
TINY = {
    "bn_orthogonal.isometry_decay": {"trials": 4, "widths": [8, 6], "phi_end": 1e-6,
                                     "record_every": 2, "allow_inf": ["phi_8", "phi_6"]},
    "bn_orthogonal.isometry_decay_authors_C": {"trials": 4, "widths": [8, 6], "violated_widths": [6],
                                               "depth": 20, "record_every": 2,
                                               "allow_inf": ["phi_8", "phi_6"]},
    "bn_orthogonal.isometry_uniform_C": {"trials": 4, "widths": [6, 8], "phi_end": 1e-5,
                                         "record_every": 2, "allow_inf": ["phi_8", "phi_6"]},
    "bn_orthogonal.one_step_orthogonal_identity": {"trials": 20, "d": 6},
    "bn_orthogonal.isometry_plateau_n_lt_d": {"trials": 4, "d": 8, "depth": 40,
                                        "record_every": 2, "window_start": 20},
    "bn_orthogonal.bn_never_decreases_isometry": {"trials": 2, "sizes": [2, 4], "cases": 10,
                                            "allow_inf": BK._lemma_inf_keys([2, 4])},
    "bn_orthogonal.bn_isometry_n_lt_d_finding": {"trials": 2, "cases": 50},
    "bn_orthogonal.one_step_rate": {"trials": 200, "d": 6},
    "bn_orthogonal.bounded_gradients": {"trials": 3, "d": 6, "n": 6, "n_out": 3, "depths": [2, 4, 6],
                                  "window_start": 2},
    "bn_orthogonal.degenerate_input_explodes": {"trials": 3, "d": 6, "n": 6, "n_out": 3, "depths": [2, 4, 6],
                                          "window_start": 2},
    "bn_orthogonal.bounded_gradients_centred": {"trials": 3, "d": 6, "n": 6, "n_out": 3, "depths": [2, 4, 6],
                                          "window_start": 2},
    "bn_orthogonal.bn_jacobian_bounds": {"trials": 3, "d": 4, "n": 4},
    "bn_orthogonal.activation_shaping": {"trials": 3, "d": 6, "n": 6, "n_out": 3, "depths": [2, 4, 6],
                                   "window_start": 2},
    "bn_orthogonal.haar_sampler_moments": {"trials": 1, "d": 3, "samples": 6000, "monomials": 10,
                                           "band": 0.25},
}
DETERMINISTIC = ["bn_orthogonal.bn_never_decreases_isometry", "bn_orthogonal.bn_isometry_n_lt_d_finding",
                 "bn_orthogonal.bn_jacobian_bounds", "bn_orthogonal.one_step_orthogonal_identity"]


def _tiny_cfg(cid, control=False):
    cfg = CLAIMS[cid].config("quick", control)
    cfg.update(TINY[cid])
    cfg.setdefault("trials", CLAIMS[cid].n_trials("quick"))  # the test's trial count rides along
    if control and cid == "bn_orthogonal.degenerate_input_explodes":
        cfg["repeat"] = 1
    return cfg


def _run(cid, control=False, seed=0):
    claim = CLAIMS[cid]
    cfg = _tiny_cfg(cid, control)
    ev = claim.simulate(cfg, np.random.default_rng(seed), cfg["trials"], "numpy")
    pred = claim.predict(cfg)
    v = claim.judge(cfg, pred, ev, 1e-5)
    return cfg, pred, ev, v


@pytest.fixture(scope="module")
def tiny_results():
    return {(cid, c): _run(cid, c) for cid in TINY for c in (False, True)}


# ------------------------------------------------------------------------------ registry shape
def test_claims_are_complete():
    # the claims of claims_lemmas / claims_training have their own tests
    assert set(TINY) <= set(CLAIMS)
    for c in B.CLAIMS:
        assert c.id.startswith("bn_orthogonal.")
        assert c.source.startswith(BK.SEED)
        for mode in ("quick", "full"):
            cfg = c.config(mode)
            ctl = c.config(mode, control=True)
            assert cfg != ctl


@pytest.mark.parametrize("cid", sorted(TINY))
def test_simulate_judge_path(cid, tiny_results):
    cfg, pred, ev, v = tiny_results[(cid, False)]
    assert isinstance(v, Verdict)
    assert v.verdict in ("PASS", "FAIL", "INCONCLUSIVE")
    assert v.extra["statements"] == 1
    assert v.extra["comparisons"] >= 1
    assert v.ci[0] <= v.statistic <= v.ci[1] or v.ci[0] == v.ci[1]
    for k, a in ev.items():
        assert a.shape[0] == cfg["trials"], k
        assert not np.any(np.isnan(a)), k
        if k not in cfg.get("allow_inf", []):
            assert np.all(np.isfinite(a)), k
    _, _, _, vc = tiny_results[(cid, True)]
    assert isinstance(vc, Verdict)


@pytest.mark.parametrize("cid", DETERMINISTIC)
def test_deterministic_claims_pass_and_controls_fail(cid, tiny_results):
    assert tiny_results[(cid, False)][3].verdict == "PASS"
    assert tiny_results[(cid, True)][3].verdict == "FAIL"


def test_haar_sampler_claim_and_control(tiny_results):
    assert tiny_results[("bn_orthogonal.haar_sampler_moments", False)][3].verdict == "PASS"
    assert tiny_results[("bn_orthogonal.haar_sampler_moments", True)][3].verdict == "FAIL"


def test_theorem3_control_fails_even_tiny(tiny_results):
    # Gaussian W: the orthogonal-input ratio is not 1 (a deterministic part of the claim)
    v = tiny_results[("bn_orthogonal.one_step_rate", True)][3]
    assert v.verdict == "FAIL"
    assert tiny_results[("bn_orthogonal.one_step_rate", False)][3].verdict != "FAIL"


def test_simulations_are_deterministic():
    a = _run("bn_orthogonal.isometry_plateau_n_lt_d", seed=3)[2]
    b = _run("bn_orthogonal.isometry_plateau_n_lt_d", seed=3)[2]
    np.testing.assert_array_equal(a["phi"], b["phi"])


def test_decay_predict_matches_theorem1():
    cfg = _tiny_cfg("bn_orthogonal.isometry_decay_authors_C")
    pred = CLAIMS["bn_orthogonal.isometry_decay_authors_C"].predict(cfg)
    X0 = B.fig1_input(8, 8, cfg["f"], BC._input_rng(cfg, 8))
    phi0 = float(isometry_gap(X0))
    assert pred["8"]["phi0"] == pytest.approx(phi0)
    assert pred["8"]["k"] == pytest.approx(cfg["C"] * 64 * (1 + 8 * phi0))
    assert pred["8"]["rate"] == pytest.approx(-math.log(1 - 2 / 10))


def test_decay_judge_fails_on_synthetic_violation():
    """The finding's judge: 'violated' at the violated width and 'holds' elsewhere, both ways."""
    claim = CLAIMS["bn_orthogonal.isometry_decay_authors_C"]
    cfg = _tiny_cfg("bn_orthogonal.isometry_decay_authors_C")
    pred = claim.predict(cfg)
    rng = np.random.default_rng(0)

    def ev(factor):
        out = {}
        for d in (8, 6):
            bound = np.asarray(pred[str(d)]["bound"])
            f = factor[d]
            out[f"phi_{d}"] = f * bound * np.exp(0.01 * rng.standard_normal((40, bound.size)))
        return out
    # d = 6 above its bound (violated), d = 8 below: the finding holds
    assert claim.judge(cfg, pred, ev({6: 3.0, 8: 1 / 3}), 1e-5).verdict == "PASS"
    # both below: the finding (violated at d = 6) FAILs; both above: 'holds at d = 8' FAILs
    assert claim.judge(cfg, pred, ev({6: 1 / 3, 8: 1 / 3}), 1e-5).verdict == "FAIL"
    assert claim.judge(cfg, pred, ev({6: 3.0, 8: 3.0}), 1e-5).verdict == "FAIL"


def test_gradient_judge_modes():
    claim = CLAIMS["bn_orthogonal.bounded_gradients"]
    cfg = dict(_tiny_cfg("bn_orthogonal.bounded_gradients"), depths=[10, 20, 40, 80, 160, 320],
               window_start=10)
    rng = np.random.default_rng(1)
    x = np.asarray(cfg["depths"], float)
    flat = {"log_grad_0": 1.0 + 0.01 * rng.standard_normal((40, 6))}
    steep = {"log_grad_0": 0.05 * x + 0.01 * rng.standard_normal((40, 6))}
    v = claim.judge(cfg, 0.0, flat, 1e-5)
    assert v.verdict == "PASS" and v.extra["comparisons"] == 2
    assert claim.judge(cfg, 0.0, steep, 1e-5).verdict == "FAIL"
    expl = dict(cfg, mode="explodes", delta=0.002)
    assert claim.judge(expl, 0.0, steep, 1e-5).verdict == "PASS"
    assert claim.judge(expl, 0.0, flat, 1e-5).verdict == "FAIL"


# ------------------------------------------------------------------------------ helpers
def test_phi_floor_is_a_lower_bound_for_numerically_singular_matrices():
    rng = np.random.default_rng(0)
    for n in (4, 16, 50):
        Q1 = np.linalg.qr(rng.standard_normal((n, n)))[0]
        Q2 = np.linalg.qr(rng.standard_normal((n, n)))[0]
        s = np.ones(n)
        s[-1] = 1e-9                              # σ_min² = 1e-18: numerically singular Gram
        H = Q1 @ np.diag(s) @ Q2.T
        assert np.isinf(isometry_gap(H))
        lam = s**2
        phi_exact = math.log(lam.mean()) - np.mean(np.log(lam))
        assert phi_exact >= B.phi_floor(n)
    assert B.phi_floor(50) > 0.3                  # informative: far above Theorem 1's bounds


def test_mean_ci_inf():
    est, (lo, hi) = BC._mean_ci_inf(np.array([1.0, np.inf, 2.0]), 1e-3, floor=0.5)
    assert hi == BC._BIG and lo <= est
    est, (lo, hi) = BC._mean_ci_inf(np.array([1.0, 2.0, 3.0]), 1e-3, floor=0.5)
    assert est == pytest.approx(2.0) and hi < BC._BIG


@given(st.integers(2, 7), st.integers(0, 10_000), st.floats(0.0, 3.0))
def test_lemma_a1_log_factor_is_the_exact_identity(d, seed, spread):
    rng = np.random.default_rng(seed)
    H = rng.standard_normal((d, d)) * np.exp(spread * rng.standard_normal((d, 1)))
    if np.linalg.cond(H) > 1e5:
        return
    lhs = isometry_gap(H) - isometry_gap(row_normalize(H))     # log I(Bn(H)) − log I(H)
    # float64 φ via Cholesky of HᵀH is accurate to ~ n·eps·cond(H)² (BL._phi_rounding)
    tol = 1e-12 + BL._phi_rounding(H) + BL._phi_rounding(row_normalize(H))
    assert lhs == pytest.approx(th.lemma_a1_log_factor(H), abs=tol)
    assert th.lemma_a1_log_factor(H) >= -1e-15
    assert th.lemma_a1_log_factor(1e200 * H) == pytest.approx(th.lemma_a1_log_factor(H),
                                                              abs=1e-9)


def test_lemma_a1_log_factor_rejects_zero_row():
    with pytest.raises(ValueError, match="zero row"):
        th.lemma_a1_log_factor(np.array([[1.0, 2.0], [0.0, 0.0]]))


def test_gaussian_second_moment_matches_monte_carlo():
    rng = np.random.default_rng(5)
    d = 6
    X = row_normalize(rng.standard_normal((d, d)))
    lam = np.linalg.eigvalsh(X @ X.T)
    lam = lam * d / lam.sum()
    W = rng.standard_normal((40000, d, d)) / math.sqrt(d)
    a = np.sum((W @ X) ** 2, axis=-1)
    m2 = np.mean(a * a, axis=-1)
    se = m2.std(ddof=1) / math.sqrt(m2.size)
    assert abs(m2.mean() - th.theorem3_second_moment_gaussian(lam)) < 5 * se
    assert abs(m2.mean() - th.theorem3_second_moment(lam)) > 5 * se   # the test has power


def test_small_gap_decay_rate_matches_one_step_monte_carlo():
    """E φ(Bn(WX)) / φ(X) = 1 − 2/(d+2) + O(√φ) for nearly orthogonal X (Haar W)."""
    from depthcheck.kernels.random.haar import sample_orthogonal
    rng = np.random.default_rng(9)
    d = 8
    X = row_normalize(np.eye(d) + 1e-3 * rng.standard_normal((d, d)))
    phi = float(isometry_gap(X))
    W = sample_orthogonal((20000,), d, rng)
    r = isometry_gap(row_normalize(W @ X)) / phi
    pred = math.exp(-float(th.small_gap_decay_rate(d)))
    se = r.std(ddof=1) / math.sqrt(r.size)
    assert abs(r.mean() - pred) < 5 * se + 0.005
    assert abs(r.mean() - (1 - 2 / d)) > 5 * se + 0.01       # 2/(d+2), not 2/d: power


@pytest.mark.parametrize("kind", ["rownorm", "bn_nomean", "bn"])
def test_vjp_jacobian_matches_finite_differences(kind):
    rng = np.random.default_rng(2)
    Z = rng.standard_normal((3, 4))
    J = BJ._vjp_jacobian(kind, Z)
    h = 1e-6
    num = np.empty_like(J)
    for k in range(Z.size):
        E = np.zeros(Z.size)
        E[k] = h
        E = E.reshape(Z.shape)
        num[:, k] = ((norm_forward(kind, Z + E)[0] - norm_forward(kind, Z - E)[0]) / (2 * h)).ravel()
    np.testing.assert_allclose(J, num, atol=1e-8)


def test_gradient_curves_shapes_and_nesting():
    cfg = _tiny_cfg("bn_orthogonal.bounded_gradients")
    a = B.gradient_curves(cfg, np.random.default_rng(4), 3)
    b = B.gradient_curves(cfg, np.random.default_rng(4), 3)
    assert a["log_grad_0"].shape == (3, 3)
    np.testing.assert_array_equal(a["log_grad_0"], b["log_grad_0"])
    assert np.all(np.isfinite(a["log_grad_0"]))


def test_gains_follow_the_authors_indexing():
    g = BG._gains({"activation": "tanh", "gain_exponent": 0.4}, 3)
    np.testing.assert_allclose(g, [2 ** -0.4, 3 ** -0.4, 4 ** -0.4])
    np.testing.assert_array_equal(BG._gains({"activation": "tanh"}, 2), [1.0, 1.0])


# ------------------------------------------------------------------------------ images
@pytest.mark.parametrize("source,p", [("photos", 3072), ("digits", 64)])
def test_image_batch_shape_finite_deterministic(source, p):
    a = images.image_batch(10, np.random.default_rng(1), source=source)
    b = images.image_batch(10, np.random.default_rng(1), source=source)
    c = images.image_batch(10, np.random.default_rng(2), source=source)
    assert a.shape == (p, 10) and a.dtype == np.float64
    assert np.all(np.isfinite(a))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert images.n_features(source) == p
    assert np.isfinite(isometry_gap(a))                       # distinct samples: full rank


def test_image_batch_photos_are_standardised():
    x = images._photos()
    assert x.shape == (2, 3, 427, 640)
    np.testing.assert_allclose(x.mean(axis=(0, 2, 3)), 0.0, atol=1e-10)
    np.testing.assert_allclose(x.std(axis=(0, 2, 3)), 1.0, atol=1e-10)
    assert not x.flags.writeable


def test_image_batch_repeat_makes_degenerate_batch():
    a = images.image_batch(8, np.random.default_rng(3), repeat=2)
    np.testing.assert_array_equal(a[:, :4], a[:, 4:])
    assert np.linalg.matrix_rank(a) == 4
    assert np.isinf(isometry_gap(a))


@pytest.mark.parametrize("kw,match", [({"n": 0}, "n"), ({"repeat": 3}, "repeat"),
                                      ({"source": "cifar"}, "source"),
                                      ({"n": 4000, "source": "digits"}, "digit")])
def test_image_batch_rejects_bad_input(kw, match):
    args = dict(n=8, rng=np.random.default_rng(0))
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        images.image_batch(**args)


def test_image_batch_requires_generator():
    with pytest.raises(ValueError, match="rng"):
        images.image_batch(4, 0)


# ------------------------------------------------------------------------------ figures
@pytest.mark.parametrize("cid", sorted(c.id for c in B.CLAIMS
                                       if c.figure is not None and c.id in TINY))
def test_figures_are_drawn(cid, tiny_results, tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    res = []
    for control in (False, True):
        cfg, pred, ev, v = tiny_results[(cid, control)]
        res.append(ClaimResult(cid, control, cfg, pred, ev, v, cfg["trials"]))
    paths = CLAIMS[cid].figure(res[0].config, res[0], res[1], tmp_path)
    assert paths
    for p in paths:
        assert p.exists() and p.stat().st_size > 1000 and p.suffix == ".png"
    # a missing control result must not break the figure
    assert CLAIMS[cid].figure(res[0].config, res[0], None, tmp_path)
