"""Tests for depthcheck.kernels.nn.lcw (the O(m) LCW reparametrisation) against the dense basis of depthcheck.theory.lcw.

The dense ``zero_sum_basis`` is itself checked from first principles (orthonormal columns,
orthogonal to 1_m, projector I − 11ᵀ/m), so the O(m) products are compared with an
independently validated matrix, and the gradient identity with a finite-difference derivative.
"""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from depthcheck.kernels.nn.lcw import (basis_apply, basis_apply_transpose, lcw_coordinates, lcw_grad, lcw_init, lcw_weights, project_zero_sum)
from depthcheck.theory.lcw import zero_sum_basis

ms = st.integers(min_value=2, max_value=300)


@given(m=ms)
def test_dense_basis_orthonormal_and_orthogonal_to_ones(m):
    B = zero_sum_basis(m)
    assert B.shape == (m, m - 1)
    np.testing.assert_allclose(B.T @ B, np.eye(m - 1), atol=1e-13)
    np.testing.assert_allclose(np.ones(m) @ B, 0.0, atol=1e-13)
    # the range is exactly W_LC: B Bᵀ is the orthogonal projector onto 1_m^⊥
    np.testing.assert_allclose(B @ B.T, np.eye(m) - np.ones((m, m)) / m, atol=1e-13)


def test_dense_basis_small_case_by_hand():
    # m = 2: the unit vector (1, −1)/√2 up to sign
    B = zero_sum_basis(2)
    assert np.allclose(np.abs(B[:, 0]), [1 / math.sqrt(2)] * 2) and B[0, 0] == -B[1, 0]


@given(m=ms, k=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_fast_apply_equals_dense_product(m, k, seed):
    rng = np.random.default_rng(seed)
    B = zero_sum_basis(m)
    V = rng.standard_normal((k, 3, m - 1))
    W = basis_apply(V)
    assert W.shape == (k, 3, m)
    np.testing.assert_allclose(W, V @ B.T, atol=1e-12 * math.sqrt(m))
    G = rng.standard_normal((k, 3, m))
    np.testing.assert_allclose(basis_apply_transpose(G), G @ B, atol=1e-12 * math.sqrt(m))


@given(m=ms, seed=st.integers(0, 2**32 - 1))
def test_other_axis(m, seed):
    rng = np.random.default_rng(seed)
    B = zero_sum_basis(m)
    V = rng.standard_normal((m - 1, 5))
    np.testing.assert_allclose(basis_apply(V, axis=0), B @ V, atol=1e-12 * math.sqrt(m))
    W = rng.standard_normal((2, m, 5))
    np.testing.assert_allclose(basis_apply_transpose(W, axis=1),
                               np.einsum("ji,bjk->bik", B, W), atol=1e-12 * math.sqrt(m))


@given(m=ms, seed=st.integers(0, 2**32 - 1), scale=st.floats(1e-3, 1e3))
def test_lcw_rows_sum_to_zero_and_keep_norm(m, seed, scale):
    V = scale * np.random.default_rng(seed).standard_normal((4, m - 1))
    W = lcw_weights(V)
    tol = 1e-13 * scale * math.sqrt(m) * 4
    np.testing.assert_allclose(W.sum(axis=-1), 0.0, atol=tol)
    np.testing.assert_allclose(np.linalg.norm(W, axis=-1), np.linalg.norm(V, axis=-1),
                               rtol=1e-12)
    # round trip: Bᵀ B = I
    np.testing.assert_allclose(lcw_coordinates(W), V, atol=tol)


@given(m=ms, seed=st.integers(0, 2**32 - 1))
def test_projection(m, seed):
    W = np.random.default_rng(seed).standard_normal((3, m))
    P = project_zero_sum(W)
    np.testing.assert_allclose(lcw_weights(lcw_coordinates(W)), P, atol=1e-12 * math.sqrt(m))
    np.testing.assert_allclose(P.sum(axis=-1), 0.0, atol=1e-12 * m)


def test_gradient_identity_against_finite_differences():
    # L(v) = f(B v) with a nonlinear f; dL/dv must equal Bᵀ dL/dw (seed 000 Sec. 3.1)
    rng = np.random.default_rng(7)
    m = 9
    a, C = rng.standard_normal(m), rng.standard_normal((m, m))

    def loss_w(w):
        return np.sin(w @ a) + 0.5 * w @ C @ w + np.sum(w ** 3)

    def grad_w(w):
        return np.cos(w @ a) * a + 0.5 * (C + C.T) @ w + 3 * w ** 2

    v = rng.standard_normal(m - 1)
    g = lcw_grad(grad_w(lcw_weights(v)))
    h = 1e-6
    fd = np.array([(loss_w(lcw_weights(v + h * e)) - loss_w(lcw_weights(v - h * e))) / (2 * h)
                   for e in np.eye(m - 1)])
    assert np.linalg.norm(fd - g) / np.linalg.norm(g) < 1e-8


def test_apply_is_linear_in_o_of_m_memory():
    # a width far too large for a dense m × m projector (8 GB) is fine in O(m)
    m = 30_000
    v = np.random.default_rng(0).standard_normal(m - 1)
    w = basis_apply(v)
    assert abs(w.sum()) < 1e-9 and np.isclose(np.linalg.norm(w), np.linalg.norm(v))


def test_lcw_init_variance_and_shape():
    rng = np.random.default_rng(3)
    m, n, T = 50, 40, 200
    V = lcw_init(rng, n, m, trials=T, gain=4.0)
    assert V.shape == (T, n, m - 1)
    # E‖w_i‖² = g² = 16; sample mean over T·n rows, s.e. from the chi-square law: 16·√(2/(m−1))
    norms2 = np.sum(lcw_weights(V) ** 2, axis=-1)
    se = 16 * math.sqrt(2 / (m - 1)) / math.sqrt(norms2.size)
    assert abs(norms2.mean() - 16) < 5 * se
    assert lcw_init(rng, 3, 4).shape == (3, 3)


@pytest.mark.parametrize("bad, match", [
    (lambda: basis_apply(np.ones((2, 3)), axis=2), "axis"),
    (lambda: basis_apply_transpose(np.ones((4, 1))), "length >= 2"),
    (lambda: basis_apply(np.array([np.nan, 1.0])), "V contains NaN"),
    (lambda: lcw_init(None, 3, 4), "rng"),
    (lambda: lcw_init(np.random.default_rng(0), 3, 1), "fan_in"),
])
def test_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        bad()
