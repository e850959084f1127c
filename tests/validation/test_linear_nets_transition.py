import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from depthcheck.kernels.random.haar import sample_orthogonal
from depthcheck.validation.claims.stats import ALPHA
from depthcheck.validation.papers.linear_nets import claims_transition as ctr
from depthcheck.validation.papers.linear_nets.convergence_time import balanced_norm_init
from depthcheck.validation.papers.linear_nets.transition_sharpness import (
    _sharp_judge, crossing_time, log_burst_ratio, normalised_norm_flow)

CLAIM = ctr.CLAIM_FIG1_TRANSITION


def _aligned_mode(rng, B, widths, a0, s):
    """One balanced aligned mode: W_j = a0 r_(j+1) r_jᵀ, Σ_yx = s r_N r_0ᵀ (u = a0^N)."""
    r = [sample_orthogonal((B,), d, rng)[..., :, :1] for d in widths]
    W = [a0 * r[j + 1] @ np.swapaxes(r[j], -1, -2) for j in range(len(widths) - 1)]
    return W, s * r[-1] @ np.swapaxes(r[0], -1, -2)


def test_flow_follows_logistic_mode_and_burst_ratio():
    # N = 2 aligned balanced mode: du/dt = 2u(s − u), u = a², so r = u/s is logistic:
    # t_x = ln(x(s − u0)/(u0(1 − x)))/(2s), peak dr/dt = s/2 (at r = 1/2)
    rng = np.random.default_rng(0)
    s, u0 = 1.7, 0.01
    W, S = _aligned_mode(rng, 2, [5, 4, 3], math.sqrt(u0), s)
    t, r = normalised_norm_flow(W, S, h=1e-3, eps=0.0, hi=0.9)
    r0 = u0 / s
    for x in (0.1, 0.5, 0.9):
        exact = math.log(x * (1 - r0) / (r0 * (1 - x))) / (2 * s)
        assert np.allclose(crossing_time(t, r, x), exact, rtol=2e-3)
    t9 = math.log(0.9 * (1 - r0) / (r0 * 0.1)) / (2 * s)
    b_exact = math.log((s / 2) * t9 / (0.9 - r0))
    assert np.allclose(log_burst_ratio(t, r, 0.9), b_exact, atol=5e-3)


def test_adaptive_steps_match_fixed_steps():
    # the plateau's long steps (eps control) do not move the statistic beyond Euler error
    rng = np.random.default_rng(1)
    S = rng.standard_normal((3, 3, 10))
    widths = [10, 8, 8, 3]
    W = balanced_norm_init(rng, 3, widths, 0.01 * np.linalg.norm(S, axis=(-2, -1)))
    tf, rf = normalised_norm_flow(W, S, h=2e-3, eps=0.0)
    ta, ra = normalised_norm_flow(W, S, h=0.2, eps=0.01)
    assert np.allclose(crossing_time(tf, rf, 0.9), crossing_time(ta, ra, 0.9), rtol=0.02)
    assert np.allclose(log_burst_ratio(tf, rf), log_burst_ratio(ta, ra), atol=0.1)
    assert len(ta) < len(tf) / 3


@settings(max_examples=20, deadline=None)
@given(st.integers(2, 4), st.floats(0.2, 5.0), st.integers(0, 10_000))
def test_flow_is_equivariant_under_target_scaling(N, lam, seed):
    # S -> λS, W_j -> λ^(1/N) W_j, t -> t/λ^(2−2/N) maps gradient-flow paths (and, with h scaled
    # alike, the Euler paths with relative step control) onto each other: r(t) is unchanged,
    # so the scale-free burst ratio is identical and t_0.9 scales by λ^−(2−2/N) (up to rounding,
    # which the transition out of the plateau amplifies to ~1e-6)
    rng = np.random.default_rng(seed)
    S = rng.standard_normal((2, 3, 6))
    widths = [6] + [5] * (N - 1) + [3]
    W = balanced_norm_init(rng, 2, widths, 0.02 * np.linalg.norm(S, axis=(-2, -1)))
    k = lam ** (2 - 2 / N)
    t1, r1 = normalised_norm_flow(W, S, h=0.2, eps=0.02)
    t2, r2 = normalised_norm_flow([lam ** (1 / N) * w for w in W], lam * S, h=0.2 / k, eps=0.02)
    assert r1.shape == r2.shape and np.allclose(r1, r2, rtol=1e-4, atol=1e-9)
    assert np.allclose(log_burst_ratio(t1, r1), log_burst_ratio(t2, r2), atol=1e-4)
    assert np.allclose(crossing_time(t2, r2, 0.9) * k, crossing_time(t1, r1, 0.9), rtol=1e-5)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0.01, 10.0), min_size=3, max_size=30), st.floats(0.05, 20.0),
       st.floats(0.0, 0.05))
def test_burst_ratio_scale_free_and_nonnegative(incs, a, r0):
    # any increasing curve from r0 to 0.9: b >= 0 (peak >= mean) and b(a·t) = b(t)
    inc = np.array(incs)
    r = np.concatenate([[r0], r0 + (0.9 - r0) * np.cumsum(inc) / inc.sum()])[:, None]
    r[-1] = 0.9  # exactly, not up to the rounding of the cumulative sum
    t = np.linspace(0.0, 3.0, len(r))[:, None]
    b = log_burst_ratio(t, r)
    assert b[0] >= -1e-12
    assert np.allclose(log_burst_ratio(a * t, r), b, atol=1e-10)
    assert np.allclose(crossing_time(a * t, r, 0.9), a * crossing_time(t, r, 0.9))


def test_frozen_trials_do_not_count():
    # a trial that stops early (steps of length 0 after its crossing) keeps its own statistic
    t = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 1.5], [2.0, 2.0]])
    r = np.array([[0.0, 0.0], [0.3, 0.1], [0.95, 0.5], [0.95, 0.9]])
    b = log_burst_ratio(t, r)
    t9 = 1.0 + (0.9 - 0.3) / 0.65
    assert math.isclose(b[0], math.log(0.65 * t9 / 0.9))
    assert math.isclose(b[1], math.log(0.8 * 2.0 / 0.9))


def test_bad_input_raises():
    W, S = _aligned_mode(np.random.default_rng(2), 1, [3, 2, 2], 0.1, 1.0)
    with pytest.raises(ValueError, match="hi"):
        normalised_norm_flow(W, S, h=0.1, eps=0.0, hi=1.0)
    with pytest.raises(ValueError, match="h must"):
        normalised_norm_flow(W, S, h=0.0, eps=0.0)
    with pytest.raises(ValueError, match="lower the init"):
        normalised_norm_flow(W, S, h=0.1, eps=0.0, hi=0.005)
    with pytest.raises(ValueError, match="max_steps"):
        normalised_norm_flow(W, S, h=1e-3, eps=0.0, max_steps=10)
    with pytest.raises(ValueError, match="level"):
        crossing_time(np.zeros((2, 1)), np.array([[0.0], [0.5]]), 0.9)
    cfg = CLAIM.config("quick")
    with pytest.raises(ValueError, match="depths"):
        _sharp_judge(dict(cfg, depths=[3]), 0.25, {}, ALPHA)


def test_simulate_shapes_tiny():
    cfg = dict(CLAIM.config("quick"), depths=[2, 3], per_cluster=20, n_grid=5)
    ev = CLAIM.simulate(cfg, np.random.default_rng(3), 3, "numpy")
    shapes = {"log_burst": (3, 2), "frac": (3, 2), "t_hi": (3, 2), "r0": (3, 2),
              "curve": (3, 2, 5), "u0_over_s": (3,)}
    assert {k: v.shape for k, v in ev.items()} == shapes
    assert all(np.all(np.isfinite(v)) for v in ev.values())
    assert np.allclose(ev["curve"][..., -1], 0.9)
    lo, hi = CLAIM.quick["u0_over_s"]
    assert np.all((ev["u0_over_s"] >= lo) & (ev["u0_over_s"] <= hi))


def test_claim_passes_and_time_scale_mutation_fails_small():
    cfg = CLAIM.config("quick")
    pred = CLAIM.predict(cfg)
    ev = CLAIM.simulate(cfg, np.random.default_rng(4), 48, "numpy")
    assert CLAIM.judge(cfg, pred, ev, ALPHA).verdict == "PASS"
    mut = CLAIM.mutations[0]
    evm = CLAIM.simulate(dict(cfg, **mut.overrides), np.random.default_rng(4), 48, "numpy")
    assert CLAIM.judge(cfg, pred, evm, ALPHA).verdict == "FAIL"
    # the mutation is the N = 2 net with its time axis divided by N/2
    assert np.allclose(np.median(evm["t_hi"][:, 2] * 2), np.median(evm["t_hi"][:, 0]),
                       rtol=0.2)
