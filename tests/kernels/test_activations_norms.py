"""Tests for depthcheck.kernels.nn.activations and depthcheck.kernels.nn.norms.

Derivatives are checked against central finite differences (activations) and against Jacobians
built column by column with the complex step from straightforward row-by-row reference
implementations written here (norms); invariants are property-tested with hypothesis.
"""
import math
import warnings

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

from depthcheck.kernels.nn.activations import (ACTIVATIONS, activation_derivative, activation_forward)
from depthcheck.kernels.nn.norms import NORMS, NormCache, norm_backward, norm_forward


# ------------------------------------------------------------------------------ activations
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_derivative_matches_finite_differences(name):
    rng = np.random.default_rng(101)
    x = rng.uniform(-4.0, 4.0, size=(7, 31))
    x = np.where(np.abs(x) < 1e-3, 0.5, x)  # stay away from the relu kink
    h = 1e-6
    fd = (activation_forward(name, x + h) - activation_forward(name, x - h)) / (2 * h)
    d = activation_derivative(name, x)
    assert d.shape == x.shape
    assert np.linalg.norm(fd - d) / np.linalg.norm(d) < 1e-8


def test_activation_values_from_definitions():
    x = np.array([-2.0, -0.5, 0.0, 0.5, 3.0])
    np.testing.assert_array_equal(activation_forward("identity", x), x)
    np.testing.assert_array_equal(activation_forward("relu", x), [0, 0, 0, 0.5, 3.0])
    np.testing.assert_allclose(activation_forward("leaky_relu", x), [-0.02, -0.005, 0, 0.5, 3.0],
                               rtol=1e-15)
    np.testing.assert_allclose(activation_forward("tanh", x), [math.tanh(v) for v in x], rtol=1e-15)
    np.testing.assert_allclose(activation_forward("sin", x), [math.sin(v) for v in x], rtol=1e-15)
    np.testing.assert_allclose(activation_forward("sigmoid", x),
                               [1 / (1 + math.exp(-v)) for v in x], rtol=1e-15)
    # PyTorch's conventions at the kink
    assert activation_derivative("relu", np.array(0.0)) == 0.0
    assert activation_derivative("leaky_relu", np.array(0.0)) == 0.01
    assert activation_derivative("leaky_relu", np.array(-3.0)) == 0.01


def test_sigmoid_tails_accurate_and_warning_free():
    x = np.array([-40.0, 40.0, -700.0, 700.0, -1e4, 1e4])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = activation_forward("sigmoid", x)
        ds = activation_derivative("sigmoid", x)
    assert np.all(np.isfinite(s)) and np.all(np.isfinite(ds)) and np.all(ds >= 0)
    e40 = math.exp(-40.0)
    assert s[0] == pytest.approx(e40 / (1 + e40), rel=1e-13)
    assert 1 - s[1] == pytest.approx(e40, rel=1e-3)  # limited by the spacing of floats near 1
    # σ'(±40) = e^{-40}/(1+e^{-40})²: relative accuracy in both tails (no 1 − σ cancellation)
    assert ds[0] == pytest.approx(e40 / (1 + e40) ** 2, rel=1e-13)
    assert ds[1] == pytest.approx(e40 / (1 + e40) ** 2, rel=1e-13)


def test_activation_bad_input():
    with pytest.raises(ValueError, match="activation"):
        activation_forward("gelu", np.zeros(3))
    with pytest.raises(ValueError, match="activation"):
        activation_derivative("swish", np.zeros(3))
    with pytest.raises(ValueError, match="X"):
        activation_forward("relu", np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="X"):
        activation_derivative("tanh", np.array([np.inf]))


# ------------------------------------------------------------------------------------ norms
def ref_norm(kind, Z):
    """Row-by-row reference (complex-step safe: uses x*x, never abs)."""
    Z = np.asarray(Z)
    out = np.empty_like(Z)
    n = Z.shape[-1]
    for idx in np.ndindex(Z.shape[:-1]):
        x = Z[idx]
        if kind == "none":
            out[idx] = x
        elif kind == "bn":
            c = x - sum(x) / n
            out[idx] = c / np.sqrt(sum(c * c) / n)
        elif kind == "bn_nomean":
            out[idx] = x / np.sqrt(sum(x * x) / n)
        elif kind == "rownorm":
            out[idx] = x / np.sqrt(sum(x * x))
    return out


def complex_step_jacobian(kind, Z, h=1e-30):
    """J[i, k] = ∂ vec(Y)_i / ∂ vec(Z)_k, column by column."""
    z = Z.ravel()
    J = np.empty((z.size, z.size))
    for k in range(z.size):
        zc = z.astype(complex)
        zc[k] += 1j * h
        J[:, k] = ref_norm(kind, zc.reshape(Z.shape)).imag.ravel() / h
    return J


def formula_row_jacobian(kind, x):
    """The docstring's per-row Jacobian matrices, built explicitly."""
    n = x.size
    eye = np.eye(n)
    if kind == "none":
        return eye
    if kind == "bn":
        P = eye - np.ones((n, n)) / n
        px = P @ x
        y = math.sqrt(n) * px / np.linalg.norm(px)
        return (math.sqrt(n) / np.linalg.norm(px)) * (eye - np.outer(y, y) / n) @ P
    s = 1.0 if kind == "rownorm" else math.sqrt(n)
    y = s * x / np.linalg.norm(x)
    return (s / np.linalg.norm(x)) * (eye - np.outer(y, y) / s ** 2)


@pytest.mark.parametrize("kind", NORMS)
def test_norm_forward_matches_reference(kind):
    rng = np.random.default_rng(202)
    Z = rng.standard_normal((3, 4, 7)) * rng.uniform(0.1, 10, size=(3, 4, 1)) + 2.0
    Y, cache = norm_forward(kind, Z)
    assert isinstance(cache, NormCache) and Y.shape == Z.shape
    np.testing.assert_allclose(Y, ref_norm(kind, Z), rtol=1e-13, atol=1e-13)


def test_bn_matches_textbook_batchnorm():
    # standard BN (training mode, biased variance, eps=0, no affine), per feature via np.std
    rng = np.random.default_rng(203)
    Z = rng.standard_normal((5, 9)) * 3 - 1
    Y, _ = norm_forward("bn", Z)
    for i in range(5):
        np.testing.assert_allclose(Y[i], (Z[i] - Z[i].mean()) / Z[i].std(ddof=0), rtol=1e-13)


@pytest.mark.parametrize("kind", NORMS)
def test_norm_backward_matches_complex_step_jacobian(kind):
    rng = np.random.default_rng(204)
    Z = rng.standard_normal((3, 5)) + 0.7
    J = complex_step_jacobian(kind, Z)
    _, cache = norm_forward(kind, Z)
    # the VJP of each unit vector e_i is row i of J
    JT = np.stack([norm_backward(kind, cache, e.reshape(Z.shape)).ravel()
                   for e in np.eye(Z.size)])
    np.testing.assert_allclose(JT, J, rtol=1e-12, atol=1e-12)
    # and the documented per-row formula gives the same block-diagonal Jacobian
    for i in range(Z.shape[0]):
        blk = J[i * 5:(i + 1) * 5, i * 5:(i + 1) * 5]
        np.testing.assert_allclose(formula_row_jacobian(kind, Z[i]), blk, rtol=1e-12, atol=1e-12)
        off = np.delete(J[i * 5:(i + 1) * 5], np.s_[i * 5:(i + 1) * 5], axis=1)
        assert np.all(off == 0)  # rows are normalised independently


@pytest.mark.parametrize("kind", NORMS)
def test_norm_backward_matches_finite_differences_batched(kind):
    rng = np.random.default_rng(205)
    Z = rng.standard_normal((2, 3, 6))
    dY = rng.standard_normal(Z.shape)
    _, cache = norm_forward(kind, Z)
    g = norm_backward(kind, cache, dY)
    h = 1e-6
    fd = np.empty_like(Z)
    for idx in np.ndindex(Z.shape):
        Zp, Zm = Z.copy(), Z.copy()
        Zp[idx] += h
        Zm[idx] -= h
        fd[idx] = np.sum(dY * (norm_forward(kind, Zp)[0] - norm_forward(kind, Zm)[0])) / (2 * h)
    assert np.linalg.norm(fd - g) / np.linalg.norm(g) < 1e-7


shapes = st.tuples(st.integers(0, 3), st.integers(1, 6), st.integers(2, 9))


@given(shape=shapes, seed=st.integers(0, 2 ** 32 - 1), log_scale=st.floats(-6, 6))
def test_norm_invariants(shape, seed, log_scale):
    B, d, n = shape
    full = (d, n) if B == 0 else (B, d, n)
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal(full) * 10.0 ** log_scale + rng.standard_normal(full[:-1] + (1,))
    Zs = Z * rng.uniform(0.1, 10, size=full[:-1] + (1,))  # a positive per-row rescaling
    Y_row, _ = norm_forward("rownorm", Z)
    np.testing.assert_allclose(np.linalg.norm(Y_row, axis=-1), 1.0, rtol=1e-13)
    np.testing.assert_allclose(norm_forward("rownorm", Zs)[0], Y_row, rtol=1e-12, atol=1e-14)
    Y_nm, _ = norm_forward("bn_nomean", Z)
    np.testing.assert_allclose(np.linalg.norm(Y_nm, axis=-1), math.sqrt(n), rtol=1e-13)
    np.testing.assert_allclose(norm_forward("bn_nomean", Zs)[0], Y_nm, rtol=1e-12, atol=1e-13)
    # bn: zero mean, unit biased variance, invariant to per-row shift and positive scale.
    # Centring loses digits: entries of Y carry an error ~ eps·κ, κ = max|x| / std(x) per row.
    shifted = Zs + rng.standard_normal(full[:-1] + (1,))

    def kappa(A):
        C = A - A.mean(axis=-1, keepdims=True)
        return np.max(np.abs(A), axis=-1) / np.sqrt(np.mean(C * C, axis=-1))

    k1, k2 = kappa(Z), kappa(shifted)
    assume(np.all(k1 < 1e8) and np.all(k2 < 1e8))
    tol = 64 * np.finfo(float).eps * np.maximum(k1, k2)
    Y_bn, _ = norm_forward("bn", Z)
    assert np.all(np.abs(Y_bn.mean(axis=-1)) <= tol)
    assert np.all(np.abs(np.mean(Y_bn ** 2, axis=-1) - 1.0) <= tol)
    assert np.all(np.abs(norm_forward("bn", shifted)[0] - Y_bn) <= tol[..., None])
    assert norm_forward("none", Z)[0] is Z or np.array_equal(norm_forward("none", Z)[0], Z)


@given(B=st.integers(1, 4), seed=st.integers(0, 2 ** 32 - 1), kind=st.sampled_from(NORMS))
def test_norm_batched_equals_per_trial(B, seed, kind):
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((B, 3, 5))
    dY = rng.standard_normal(Z.shape)
    Y, cache = norm_forward(kind, Z)
    dZ = norm_backward(kind, cache, dY)
    for b in range(B):
        Yb, cb = norm_forward(kind, Z[b])
        np.testing.assert_allclose(Y[b], Yb, rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(dZ[b], norm_backward(kind, cb, dY[b]), rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("kind", ["rownorm", "bn_nomean", "bn"])
def test_degenerate_rows_raise_not_nan(kind):
    Z = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [4.0, -1.0, 2.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no divide-by-zero RuntimeWarning on the way
        with pytest.raises(ValueError, match=r"degenerate.*row 1"):
            norm_forward(kind, Z)
        # batched: the trial index is reported too
        Zb = np.stack([Z[[0, 2, 2]], Z])
        with pytest.raises(ValueError, match=r"row 1 of trial \(1,\)"):
            norm_forward(kind, Zb)


@pytest.mark.parametrize("value", [0.1, 1.0 / 3.0, -7.3e5, 1e-200])
def test_bn_constant_row_raises(value):
    # a constant row, whose computed mean carries rounding error, is still flagged
    Z = np.vstack([np.linspace(-1, 1, 1001), np.full(1001, value)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"zero variance"):
            norm_forward("bn", Z)
        with pytest.raises(ValueError, match="degenerate"):
            norm_forward("bn", np.ones((2, 1)))  # one sample: no batch variance


def test_bn_tiny_but_genuine_variance_is_fine():
    Z = np.array([[1.0, 1.0 + 1e-9, 1.0 - 1e-9, 1.0]])
    Y, _ = norm_forward("bn", Z)
    assert np.all(np.isfinite(Y))
    np.testing.assert_allclose(np.mean(Y ** 2), 1.0, rtol=1e-12)


def test_norm_bad_input():
    Z = np.ones((2, 3)) + np.eye(2, 3)
    with pytest.raises(ValueError, match="norm kind"):
        norm_forward("layernorm", Z)
    with pytest.raises(ValueError, match="Z"):
        norm_forward("bn", np.ones(3))
    with pytest.raises(ValueError, match="Z"):
        norm_forward("rownorm", np.array([[1.0, np.nan]]))
    _, cache = norm_forward("bn", Z)
    with pytest.raises(ValueError, match="dY"):
        norm_backward("bn", cache, np.ones((2, 4)))
    with pytest.raises(ValueError, match="dY"):
        norm_backward("bn", cache, np.full((2, 3), np.inf))
    with pytest.raises(ValueError, match="cache"):
        norm_backward("rownorm", cache, np.ones((2, 3)))
    with pytest.raises(ValueError, match="cache"):
        norm_backward("bn", (cache.Y, cache.scale), np.ones((2, 3)))
    with pytest.raises(ValueError, match="norm kind"):
        norm_backward("batch", cache, np.ones((2, 3)))
