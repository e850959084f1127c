"""The public hypothesis strategies produce what they promise."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from depthcheck.kernels.strategies import (ACTIVATIONS, NORMS, ORDERS, batches_with_gram_spectrum, full_rank_batches, haar_matrices, network_specs, seeds)
from depthcheck.theory.isometry import isometry, isometry_gap, row_normalize


@given(full_rank_batches())
def test_full_rank_batches_default(H):
    d, n = H.shape
    assert H.dtype == np.float64 and 1 <= n <= d <= 8
    s = np.linalg.svd(H, compute_uv=False)
    assert s.min() >= 0.1 * (1 - 1e-12) and s.max() <= 1.0 * (1 + 1e-12)


@given(full_rank_batches(d=7, n=3, min_singular=0.5, max_singular=2.0))
def test_full_rank_batches_fixed_shape_and_singular_range(H):
    assert H.shape == (7, 3)
    s = np.linalg.svd(H, compute_uv=False)
    assert 0.5 * (1 - 1e-12) <= s.min() and s.max() <= 2.0 * (1 + 1e-12)


@given(full_rank_batches(n=5, max_d=3))
def test_full_rank_batches_fixed_n_raises_d(H):
    assert H.shape[1] == 5 and H.shape[0] >= 5


eigs = st.lists(st.floats(0.0, 100.0), min_size=1, max_size=6)


@given(st.data())
def test_gram_spectrum_is_exact(data):
    lam = data.draw(eigs)
    H = data.draw(batches_with_gram_spectrum(lam))
    assert H.shape[1] == len(lam) and len(lam) <= H.shape[0] <= len(lam) + 4
    got = np.linalg.eigvalsh(H.T @ H)
    np.testing.assert_allclose(got, np.sort(lam), atol=1e-12 * max(1.0, max(lam)))


@given(batches_with_gram_spectrum(eigs, d=6))
def test_gram_spectrum_accepts_a_strategy_and_fixed_d(H):
    assert H.shape[0] == 6 and 1 <= H.shape[1] <= 6


@given(batches_with_gram_spectrum([1.0, 1.0, 1.0]))
def test_gram_spectrum_isotropic_gives_zero_gap(H):
    assert isometry_gap(H) == pytest.approx(0.0, abs=1e-13)


@given(haar_matrices())
def test_haar_matrices_are_orthogonal(W):
    d = W.shape[0]
    assert W.shape == (d, d) and 1 <= d <= 8
    np.testing.assert_allclose(W.T @ W, np.eye(d), atol=1e-12)


@given(haar_matrices(5, special=True))
def test_haar_matrices_special(W):
    assert W.shape == (5, 5)
    assert np.linalg.det(W) == pytest.approx(1.0, abs=1e-12)


SPEC_KEYS = ("norm", "activation", "order", "residual", "gains")


def _hidden_square(widths):
    return len(set(widths[:-1])) == 1


@given(network_specs())
def test_network_specs_are_valid(spec):
    assert set(spec) == {"widths", "norm", "activation", "order", "residual", "gains"}
    n_hidden = len(spec["gains"])
    assert 1 <= n_hidden <= 4 and len(spec["widths"]) == n_hidden + 2
    assert all(isinstance(w, int) and 2 <= w <= 8 for w in spec["widths"])
    assert _hidden_square(spec["widths"])                      # square by default
    assert spec["norm"] in NORMS and spec["activation"] in ACTIVATIONS
    assert spec["order"] in ORDERS
    assert spec["residual"] is None or 0.1 <= spec["residual"] <= 2.0
    assert all(0.5 <= g <= 2.0 for g in spec["gains"])


@given(network_specs(square=False, max_depth=2, norms=("bn",), activations=("relu",)))
def test_network_specs_non_square_and_restricted(spec):
    assert spec["norm"] == "bn" and spec["activation"] == "relu"
    if spec["residual"] is not None:
        assert _hidden_square(spec["widths"])


@given(network_specs(square=False), seeds())
def test_network_specs_run_through_forward_backward(spec, seed):
    from depthcheck.kernels import forward_backward
    rng = np.random.default_rng(seed)
    w, n = spec["widths"], 64              # a dead relu row has probability ~ d·2^-64
    X = rng.standard_normal((w[0], n))
    weights = [rng.standard_normal((w[i + 1], w[i])) / np.sqrt(w[i]) for i in range(len(w) - 1)]
    Y = rng.standard_normal((w[-1], n))
    loss, grads = forward_backward(X, weights, Y, **{k: spec[k] for k in SPEC_KEYS})
    assert np.isfinite(loss) and [g.shape for g in grads] == [W.shape for W in weights]


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="n"):
        full_rank_batches(d=2, n=3)
    with pytest.raises(ValueError, match="min_singular"):
        full_rank_batches(min_singular=0.0)
    with pytest.raises(ValueError, match="min_singular"):
        full_rank_batches(min_singular=2.0, max_singular=1.0)
    with pytest.raises(ValueError, match="eigenvalues"):
        batches_with_gram_spectrum([1.0, -1.0])
    with pytest.raises(ValueError, match="eigenvalues"):
        batches_with_gram_spectrum([1.0, 2.0, 3.0], d=2)
    with pytest.raises(ValueError, match="d"):
        haar_matrices(0)
    with pytest.raises(ValueError, match="norms"):
        network_specs(norms=("layernorm",))


# The README's example of a user's own property test, kept here so it cannot rot.
@given(full_rank_batches(d=6), haar_matrices(6))
def test_readme_example_gap_is_rotation_invariant(H, W):
    assert abs(isometry_gap(W @ H) - isometry_gap(H)) < 1e-10


@given(batches_with_gram_spectrum(st.lists(st.floats(0.1, 10), min_size=4, max_size=4), d=4))
def test_readme_example_bn_does_not_decrease_isometry(H):   # Lemma A.1 (n = d)
    assert isometry(row_normalize(H)) >= isometry(H) * (1 - 1e-12)
