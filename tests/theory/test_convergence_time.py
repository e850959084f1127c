import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import integrate

from depthcheck.theory import convergence_time as ct


def test_min_time_is_integral_of_inverse_rate():
    u0, uf, s, c = 0.2, 1.1, 2.0, 0.3
    for N in (2, 3, 5):
        val, _ = integrate.quad(lambda u: 1.0 / ct.theorem3_rate_bound(u, s, N, c), u0, uf,
                                epsrel=1e-11)
        assert math.isclose(ct.theorem3_min_time(u0, uf, s, N, c), val, rel_tol=1e-8)


def test_deep_form_approaches_exact_for_large_depth():
    e = [abs(ct.theorem3_min_time_deep(0.5, 0.9, 1.0, N, 0.0)
             / ct.theorem3_min_time(0.5, 0.9, 1.0, N, 0.0) - 1) for N in (4, 40, 400)]
    assert e[0] > e[1] > e[2] and e[2] < 0.01


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 6), st.floats(0.05, 0.95), st.floats(0.0, 1.0),
       st.lists(st.floats(0.3, 3.0), min_size=6, max_size=6))
def test_rate_bound_holds_below_half_s_for_aligned_mode(N, frac, jit, a):
    # one aligned mode: du/dt = (s − u) u Σ_j u/a_j² exactly; the bound must dominate when
    # u <= s/2 with c = (max a − min a)/min a
    a = np.array(a[:N])
    u = float(np.prod(a))
    s = u / (frac * 0.5)
    rate = (s - u) * u * np.sum(u / a ** 2)
    c = (a.max() - a.min()) / a.min()
    assert rate <= ct.theorem3_rate_bound(u, s, N, c) * (1 + 1e-12)


def test_glorot_moments_by_monte_carlo():
    rng = np.random.default_rng(0)
    for dist in ("normal", "uniform"):
        m, v = ct.glorot_sq_norm_moments(5, 3, dist)
        sd = math.sqrt(2.0 / 8)
        if dist == "normal":
            W = sd * rng.standard_normal((200000, 3, 5))
        else:
            a = math.sqrt(3) * sd
            W = rng.uniform(-a, a, (200000, 3, 5))
        q = np.sum(W ** 2, axis=(1, 2))
        assert abs(q.mean() - m) < 5 * math.sqrt(v / q.size)
        assert abs(q.var() / v - 1) < 0.03


def test_gap_zero_iff_outer_widths_equal():
    m, _ = ct.glorot_gap_moments([7, 3, 7, 5])
    assert m[0] == 0 and m[1] != 0


def test_bad_input():
    with pytest.raises(ValueError, match="u0"):
        ct.theorem3_min_time_deep(1.0, 0.5, 2.0, 3, 0.1)
    with pytest.raises(ValueError, match="c"):
        ct.theorem3_speedup(3, -1.0)
    with pytest.raises(ValueError, match="dist"):
        ct.glorot_sq_norm_moments(2, 2, "cauchy")
