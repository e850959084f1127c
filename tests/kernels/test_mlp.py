"""Tests for depthcheck.kernels.nn.mlp: gradients against central finite differences for every combination of
weights × bias × norm × activation × loss, the LCW constraint, batching, minibatch indices,
initialisation moments, and bad input.

Finite differences run vectorised on the trials axis: for a single parameter set with P entries
we build 2P trials, trial 2j with entry j raised by h and trial 2j+1 lowered by h; one forward
call gives all P central differences (trials never interact, which the batching test checks).
"""
import itertools
import math

import numpy as np
import pytest

from depthcheck.kernels.nn.lcw import lcw_weights
from depthcheck.kernels.nn.mlp import (MLPSpec, accuracy, effective_weights, grad_norm_recorder, init_mlp, layer_grad_norms, make_loss_and_grad, make_mlp, mlp_forward, mlp_loss, mlp_loss_and_grad, mlp_predict)
from depthcheck.kernels.nn.norms import norm_forward


def _perturbed_batch(params, h):
    flat = np.concatenate([p.ravel() for p in params])
    P = flat.size
    batch = np.repeat(flat[None, :], 2 * P, axis=0)
    batch[np.arange(0, 2 * P, 2), np.arange(P)] += h
    batch[np.arange(1, 2 * P, 2), np.arange(P)] -= h
    out, k = [], 0
    for p in params:
        out.append(batch[:, k:k + p.size].reshape((2 * P,) + p.shape))
        k += p.size
    return out


def _fd_relative_error(spec, seed, n=7, h=1e-6):
    rng = np.random.default_rng(seed)
    params = init_mlp(spec, rng, gain=1.5)
    # non-zero biases / affine parameters so that their gradients are exercised
    params = [p + 0.3 * rng.standard_normal(p.shape) for p in params]
    X = rng.standard_normal((spec.widths[0], n))
    if spec.loss == "mse":
        Y = rng.standard_normal((spec.widths[-1], n))
    else:
        Y = rng.integers(0, spec.widths[-1], size=n)
    _, grads = mlp_loss_and_grad(params, X, Y, spec)
    losses = mlp_loss(_perturbed_batch(params, h), X, Y, spec)
    fd = (losses[0::2] - losses[1::2]) / (2 * h)
    g = np.concatenate([gr.ravel() for gr in grads])
    return np.linalg.norm(fd - g) / np.linalg.norm(g)


COMBOS = list(itertools.product(["standard", "lcw"], [True, False], ["bn", "none"],
                                ["sigmoid", "relu", "tanh"], ["mse", "xent"]))


@pytest.mark.parametrize("weights, bias, norm, act, loss", COMBOS)
def test_gradients_match_finite_differences(weights, bias, norm, act, loss):
    spec = MLPSpec((4, 5, 6, 3), act, loss, weights, bias, norm)
    assert _fd_relative_error(spec, seed=hash((weights, bias, norm, act, loss)) % 2**32) < 1e-6


@pytest.mark.parametrize("norm", ["bn", "bn_nomean", "rownorm"])
def test_gradients_affine_norm_and_mixed_weights(norm):
    spec = MLPSpec((5, 6, 4, 4, 2), "tanh", "xent", ("lcw", "standard", "lcw", "lcw"), True,
                   norm, True)
    assert _fd_relative_error(spec, seed=11) < 1e-6


def test_gradients_other_activations_single_layer_and_deep():
    for act in ("identity", "leaky_relu", "sin"):
        assert _fd_relative_error(MLPSpec((3, 4, 2), act, "mse", "lcw"), seed=5) < 1e-6
    assert _fd_relative_error(MLPSpec((3, 2), "sigmoid", "xent", "lcw"), seed=6) < 1e-6
    deep = MLPSpec((6,) + (5,) * 12 + (3,), "sigmoid", "xent", "lcw", True, "none")
    assert _fd_relative_error(deep, seed=8) < 1e-6


def test_loss_values_against_direct_formulas():
    rng = np.random.default_rng(0)
    spec = MLPSpec((3, 4, 3), "tanh", "xent", "standard", True, "none")
    P = init_mlp(spec, rng)
    P = [p + 0.1 * rng.standard_normal(p.shape) for p in P]
    X, y = rng.standard_normal((3, 5)), np.array([0, 2, 1, 1, 0])
    W1, b1, W2, b2 = P
    Z = W2 @ np.tanh(W1 @ X + b1) + b2
    ref = np.mean([-Z[y[j], j] + math.log(np.sum(np.exp(Z[:, j]))) for j in range(5)])
    assert np.isclose(mlp_loss(P, X, y, spec), ref, rtol=1e-13)
    np.testing.assert_allclose(mlp_predict(P, X, spec), Z, rtol=1e-13)
    spec2 = MLPSpec((3, 4, 3), "tanh", "mse", "standard", True, "none")
    Y = rng.standard_normal((3, 5))
    assert np.isclose(mlp_loss(P, X, Y, spec2), np.mean((Z - Y) ** 2), rtol=1e-13)


def test_lcw_layers_use_zero_sum_weights_and_bn_standardises():
    rng = np.random.default_rng(1)
    spec, P = make_mlp((6, 8, 8, 3), rng, trials=4, activation="relu", weights="lcw",
                       norm="bn", norm_affine=True)
    for W in effective_weights(P, spec):
        np.testing.assert_allclose(W.sum(axis=-1), 0.0, atol=1e-13)
    fw = mlp_forward(P, rng.standard_normal((6, 10)), spec)
    assert len(fw.pre) == 3 and len(fw.normed) == 2 and len(fw.hidden) == 3
    # gain 1 / shift 0 at init: the activation input is exactly the BN output
    np.testing.assert_allclose(fw.normed[0], norm_forward("bn", fw.pre[0])[0], atol=1e-12)
    np.testing.assert_allclose(fw.normed[0].mean(axis=-1), 0.0, atol=1e-12)


def test_trials_are_independent_and_batched_x():
    rng = np.random.default_rng(2)
    spec = MLPSpec((4, 5, 3), "sigmoid", "xent", "lcw", True, "bn", True)
    P = init_mlp(spec, rng, trials=3)
    X = rng.standard_normal((3, 4, 9))
    y = rng.integers(0, 3, size=(3, 9))
    loss, grads = mlp_loss_and_grad(P, X, y, spec)
    for t in range(3):
        lt, gt = mlp_loss_and_grad([p[t] for p in P], X[t], y[t], spec)
        assert np.isclose(loss[t], lt, rtol=1e-13)
        for a, b in zip(grads, gt):
            np.testing.assert_allclose(a[t], b, rtol=1e-12, atol=1e-15)


def test_minibatch_idx_equals_column_selection():
    rng = np.random.default_rng(3)
    spec, P = make_mlp((4, 6, 2), rng, trials=2, activation="tanh", loss="mse")
    X, Y = rng.standard_normal((4, 20)), rng.standard_normal((2, 2, 20))
    idx = np.array([3, 7, 8, 15])
    f = make_loss_and_grad(spec, X, Y)
    l1, g1 = f(P, idx)
    l2, g2 = mlp_loss_and_grad(P, X[:, idx], Y[..., idx], spec)
    np.testing.assert_allclose(l1, l2, rtol=1e-14)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a, b, rtol=1e-13)
    assert np.allclose(f(P)[0], mlp_loss(P, X, Y, spec))


def test_init_moments():
    rng = np.random.default_rng(4)
    T, m, n = 400, 30, 20
    for weights, denom in (("standard", m), ("lcw", m - 1)):
        spec = MLPSpec((m, n, 5), "sigmoid", "xent", weights, True, "none")
        P = init_mlp(spec, rng, trials=T)
        # hidden gain 4 = 1/σ'(0): entry variance 16/denom; 5-s.e. tolerance for the variance
        x = P[0].ravel()
        var = 16.0 / denom
        assert abs(x.var() - var) < 5 * var * math.sqrt(2 / x.size)
        assert np.all(P[1] == 0)
        # E‖w_i‖² = 16 for both kinds (LCW rows are orthonormal images of v)
        W = effective_weights(P, spec)[0]
        norms2 = np.sum(W ** 2, axis=-1).ravel()
        assert abs(norms2.mean() - 16) < 5 * 16 * math.sqrt(2 / (denom * norms2.size))
    spec = MLPSpec((10, 10, 10), "relu", "mse", "standard", False, "none")
    Px = init_mlp(spec, rng, trials=2000, init="xavier")
    assert abs(Px[0].var() - 0.1) < 5 * 0.1 * math.sqrt(2 / Px[0].size)


def test_grad_norms_and_accuracy_helpers():
    rng = np.random.default_rng(5)
    spec, P = make_mlp((4, 5, 5, 3), rng, trials=2, weights="lcw")
    X, y = rng.standard_normal((4, 8)), rng.integers(0, 3, size=8)
    loss, grads = mlp_loss_and_grad(P, X, y, spec)
    G = layer_grad_norms(grads, spec)
    assert G.shape == (2, 3)
    np.testing.assert_allclose(G[:, 1], np.linalg.norm(grads[2], axis=(-2, -1)))
    np.testing.assert_allclose(grad_norm_recorder(spec)(P, loss, grads), G)
    logits = np.array([[[2.0, 0.0], [1.0, 3.0]]])
    assert accuracy(logits, np.array([[0, 0]])) == 0.5


def test_training_reduces_loss():
    from depthcheck.kernels.nn.training import train
    rng = np.random.default_rng(6)
    # LCW from the second layer on: an LCW first layer with 2 inputs sees only x_0 − x_1
    spec, P = make_mlp((2, 16, 16, 2), rng, trials=3, activation="sigmoid",
                       weights=("standard", "lcw", "lcw"))
    X = rng.standard_normal((2, 200))
    y = (X[0] * X[1] > 0).astype(int)  # XOR-like, not linearly separable
    res = train(P, make_loss_and_grad(spec, X, y), steps=300, lr=0.5, momentum=0.9)
    assert np.all(res.history["loss"][-1] < 0.5 * res.history["loss"][0])
    assert np.all(accuracy(mlp_predict(res.params, X, spec), y) > 0.9)


@pytest.mark.parametrize("bad, match", [
    (lambda: MLPSpec((3,)), "widths"),
    (lambda: MLPSpec((3, 0, 2)), "widths"),
    (lambda: MLPSpec((3, 2), activation="gelu"), "activation"),
    (lambda: MLPSpec((3, 2), loss="hinge"), "loss"),
    (lambda: MLPSpec((3, 2), weights="haar"), "weights"),
    (lambda: MLPSpec((3, 2, 2), weights=("lcw",)), "weights"),
    (lambda: MLPSpec((1, 2), weights="lcw"), "fan-in"),
    (lambda: MLPSpec((3, 2, 2), norm_affine=True), "norm_affine"),
    (lambda: init_mlp(MLPSpec((3, 2)), 0), "rng"),
    (lambda: init_mlp(MLPSpec((3, 2)), np.random.default_rng(0), init="he"), "init"),
])
def test_bad_spec(bad, match):
    with pytest.raises(ValueError, match=match):
        bad()


def test_bad_call_arguments():
    rng = np.random.default_rng(7)
    spec, P = make_mlp((3, 4, 2), rng, trials=2)
    X, y = rng.standard_normal((3, 5)), np.array([0, 1, 1, 0, 1])
    with pytest.raises(ValueError, match="params must have"):
        mlp_loss_and_grad(P[:-1], X, y, spec)
    with pytest.raises(ValueError, match=r"params\[0\]"):
        mlp_loss_and_grad([P[0][:, :, :2]] + P[1:], X, y, spec)
    with pytest.raises(ValueError, match="rows"):
        mlp_loss_and_grad(P, X[:2], y, spec)
    with pytest.raises(ValueError, match="outside"):
        mlp_loss_and_grad(P, X, y + 1, spec)
    with pytest.raises(ValueError, match="NaN"):
        mlp_loss_and_grad(P, np.where(X > 0, np.nan, X), y, spec)
    with pytest.raises(ValueError, match="idx"):
        mlp_loss_and_grad(P, X, y, spec, idx=np.array([0.5]))
    with pytest.raises(ValueError, match="batch"):
        mlp_loss_and_grad([p[0] for p in P], np.stack([X, X]), np.stack([y, y]), spec)
    bn = MLPSpec((3, 4, 2), "sigmoid", "xent", "standard", False, "bn")
    with pytest.raises(ValueError, match="hidden layer 1"):
        mlp_loss_and_grad(init_mlp(bn, rng), np.ones((3, 5)), y, bn)  # constant rows
