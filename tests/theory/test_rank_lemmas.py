"""Tests of depthcheck.theory.rank_lemmas (Lemma 6 threshold, Examples 11-12 closed forms)."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from depthcheck.theory import rank_lemmas as rl


def _beta_direct(M):
    """Definition 3 for a one-matrix law, computed from the matrix (not from eigenvalues)."""
    rows = np.sum(M * M, axis=1)
    return float(np.sum(rows ** 2) / np.trace(M @ M @ M))


@given(st.integers(2, 40), st.floats(0.0, 1.0))
@settings(max_examples=60, deadline=None)
def test_closed_form_matches_matrix_and_eigenvalues(d, c):
    M = rl.example12_matrix(d, c)
    lam = np.linalg.eigvalsh(M)
    assert np.allclose(np.sort(lam)[::-1], rl.example12_spectrum(d, c), atol=1e-10)
    b = float(rl.example12_regularity_constant(d, c))
    assert b == pytest.approx(_beta_direct(M), rel=1e-10)
    assert b <= 1.0 + 1e-12                       # Example 11


def test_example11_equality_cases_and_limit():
    for d in (2, 5, 50):
        assert rl.example12_regularity_constant(d, 0.0) == pytest.approx(1.0)
        assert rl.example12_regularity_constant(d, 1.0) == pytest.approx(1.0)
    for c in (0.2, 0.7):
        assert rl.example12_regularity_constant(10 ** 7, c) == pytest.approx(c, abs=1e-5)


@pytest.mark.parametrize("c", [0.02, 0.1, 0.5, 0.8, 0.89])
def test_min_width_is_the_first_width_below_threshold(c):
    d0 = rl.example12_min_width(c)
    assert rl.example12_regularity_constant(d0, c) < 0.9
    if d0 > 2:
        assert rl.example12_regularity_constant(d0 - 1, c) >= 0.9
    ds = np.arange(d0, d0 + 500)
    assert max(rl.example12_regularity_constant(int(x), c) for x in ds) < 0.9


def test_min_width_refuses_c_at_or_above_threshold_and_zero():
    for c in (0.0, 0.9, 0.95):
        with pytest.raises(ValueError, match="c must"):
            rl.example12_min_width(c)


def test_bad_input_raises():
    with pytest.raises(ValueError, match="c must"):
        rl.example12_regularity_constant(4, 1.5)
    with pytest.raises(ValueError, match="d"):
        rl.example12_matrix(1, 0.5)
    with pytest.raises(ValueError, match="weight_bound"):
        rl.lemma6_sign_freeze_gamma(4, 0.0)


@pytest.mark.parametrize("d", [3, 8])
def test_sign_freeze_threshold_is_sharp(d):
    """Below γ* no W in the support flips a sign of s + γWs; just above it the worst case
    W_0j = −b s_0 s_j flips row 0."""
    b = math.sqrt(3.0)
    g = rl.lemma6_sign_freeze_gamma(d, b)
    rng = np.random.default_rng(0)
    s = rng.choice([-1.0, 1.0], d)
    W = rng.uniform(-b, b, (d, d))
    W[0] = -b * s[0] * s
    assert np.all(np.sign(s + 0.99 * g * W @ s) == s)
    flipped = np.sign(s + 1.01 * g * W @ s) != s
    assert flipped[0] and not flipped[1:].all()
