"""depthcheck.kernels.backends._rowops: the row algebra compiled into the numba and CUDA kernels.

Oracle: the numpy reference layer (``depthcheck.kernels.nn.norms``, ``depthcheck.kernels.nn.activations``),
run on the same rows; the functions are called as plain Python here (the numba kernels are tested
bit for bit against the numpy layers in test_numba_chain*.py, the CUDA ones in test_cuda_chain*.py).
"""
from __future__ import annotations

import numpy as np
import pytest

from depthcheck.kernels.backends import _rowops as ro
from depthcheck.kernels.chain.codes import ACT_CODES, ERR_BN_VARIANCE, ERR_NORM_ZERO, NORM_CODES
from depthcheck.kernels.nn.activations import activation_derivative, activation_forward
from depthcheck.kernels.nn.norms import norm_backward, norm_forward


@pytest.mark.parametrize("act", list(ACT_CODES))
def test_activation_and_derivative_equal_the_numpy_reference(act):
    x = np.concatenate([np.linspace(-40, 40, 81), [0.0, -1e-300, 1e-300]])
    code = ACT_CODES[act]
    np.testing.assert_allclose([ro.activation(code, v) for v in x], activation_forward(act, x),
                               rtol=1e-15, atol=0)
    # 1 − tanh² cancels for large |x|: math.tanh and np.tanh may differ by an ulp of 1
    np.testing.assert_allclose([ro.activation_derivative(code, v) for v in x],
                               activation_derivative(act, x), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("norm", list(NORM_CODES))
@pytest.mark.parametrize("order", [0, 1])
def test_nonlinear_row_and_its_vjp_equal_the_numpy_layer(norm, order):
    rng = np.random.default_rng(3)
    A, dH = rng.standard_normal((5, 7)), rng.standard_normal((5, 7))
    g, act = 1.3, "tanh"
    if order == 0:
        Y, cache = norm_forward(norm, A)
        H = activation_forward(act, g * Y)
        dA = norm_backward(norm, cache, g * activation_derivative(act, g * Y) * dH)
        pre = A
    else:
        pre = activation_forward(act, g * A)
        H, cache = norm_forward(norm, pre)
        dA = g * activation_derivative(act, g * A) * norm_backward(norm, cache, dH)
    Z, got = A.copy(), np.empty_like(A)
    for i in range(5):
        e, r = ro.nonlinear_row(NORM_CODES[norm], ACT_CODES[act], order, g, Z[i])
        assert e == 0 and np.isclose(r, np.linalg.norm(pre[i]), rtol=1e-15)
        ro.nonlinear_vjp_row(NORM_CODES[norm], ACT_CODES[act], order, g, A[i], dH[i], got[i],
                             np.empty(7))
    np.testing.assert_allclose(Z, H, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(got, dA, rtol=1e-12, atol=1e-14)


def test_degenerate_rows_are_reported():
    assert ro.normalise_row(NORM_CODES["bn"], np.full(4, 2.5))[0] == ERR_BN_VARIANCE
    assert ro.normalise_row(NORM_CODES["rownorm"], np.zeros(4))[0] == ERR_NORM_ZERO
    assert ro.normalise_row(NORM_CODES["bn_nomean"], np.array([np.inf, 1.0]))[0] == ERR_NORM_ZERO
    assert ro.normalise_row(NORM_CODES["bn"], np.array([1.0, 2.0]))[0] == 0
