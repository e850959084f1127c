"""The one numpy layer (norm / gain / activation and its VJP): finite differences, and the
network, MLP and chain engines all run it."""
import zlib

import numpy as np
import pytest

from depthcheck.kernels.backends.numpy import NumpyChainBackend
from depthcheck.kernels.chain.spec import ChainSpec
from depthcheck.kernels.nn.activations import ACTIVATIONS
from depthcheck.kernels.nn.layer import (ORDERS, activation_derivative_from_output,
                                         layer_backward, layer_forward)
from depthcheck.kernels.nn.network import forward_backward
from depthcheck.kernels.nn.norms import NORMS


def _loss(A, dH, **kw):
    return np.sum(layer_forward(A, **kw).H * dH)


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("gain", [None, 1.7, "per_unit"])
def test_vjp_matches_central_differences(norm, activation, order, gain):
    rng = np.random.default_rng(zlib.crc32(f"{norm}{activation}{order}{gain}".encode()))
    A = rng.standard_normal((2, 4, 7)) + 0.3
    dH = rng.standard_normal(A.shape)
    g = rng.uniform(0.5, 1.5, (4, 1)) if gain == "per_unit" else gain
    shift = rng.standard_normal((4, 1)) if (gain == "per_unit" and order == "norm_act") else None
    kw = dict(norm=norm, activation=activation, order=order, gain=g, shift=shift)
    out = layer_forward(A, **kw)
    dA, dP = layer_backward(out, dH, activation=activation, order=order, gain=g)
    E = np.zeros_like(A)
    h = 1e-6
    for idx in [(0, 0, 0), (1, 2, 3), (0, 3, 6), (1, 1, 5)]:
        E[idx] = h
        fd = (_loss(A + E, dH, **kw) - _loss(A - E, dH, **kw)) / (2 * h)
        E[idx] = 0.0
        assert abs(fd - dA[idx]) < 1e-6 * (1 + abs(fd)), (idx, fd, dA[idx])
    # dP is the gradient w.r.t. the activation's argument: the shift's gradient is Σ dP
    if shift is not None:
        fd = (_loss(A, dH, **{**kw, "shift": shift + h * np.eye(4)[:, [1]]})
              - _loss(A, dH, **{**kw, "shift": shift - h * np.eye(4)[:, [1]]})) / (2 * h)
        assert abs(fd - dP[:, 1].sum()) < 1e-6 * (1 + abs(fd))


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_derivative_from_output(activation):
    P = np.linspace(-6, 6, 101)
    out = layer_forward(P[None, :], norm="none", activation=activation)
    from_out = activation_derivative_from_output(activation, out.P, out.H)
    from_P = layer_backward(out, np.ones_like(out.H), activation=activation)[0]
    np.testing.assert_allclose(from_out, from_P, rtol=0, atol=1e-15)


def test_shift_needs_norm_act():
    with pytest.raises(ValueError, match="shift"):
        layer_forward(np.ones((2, 3)), norm="none", activation="relu", order="act_norm",
                      shift=np.ones((2, 1)))


def test_network_and_chain_engine_run_this_layer():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, 6))
    W1, W2 = rng.standard_normal((5, 5)), rng.standard_normal((3, 5))
    Y = rng.standard_normal((3, 6))
    kw = dict(norm="bn", activation="tanh", order="act_norm")
    _, grads = forward_backward(X, [W1, W2], Y, gains=[0.7], **kw)
    out = layer_forward(W1 @ X, gain=0.7, **kw)
    dZ = (2.0 / (3 * 6)) * (W2 @ out.H - Y)
    dA, _ = layer_backward(out, W2.T @ dZ, activation="tanh", order="act_norm", gain=0.7)
    np.testing.assert_array_equal(grads[0], dA @ X.T)

    spec = ChainSpec.from_arguments(X, 2, trials=1, rng=rng, gains=[0.7, 1.0], **kw)
    chain = NumpyChainBackend().nonlinear(spec, 1, (W1 @ X)[None])
    np.testing.assert_array_equal(chain.H[0], out.H)
