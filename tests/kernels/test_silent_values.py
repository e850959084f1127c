"""Issue 13, section 2: the engine never returns a silent NaN or a silently wrong value.

Each test failed before its fix (the review's cases: NaN gradients past ~3000 bn layers,
weights x1e200 / logits ~1e300, bn zeros or "zero variance" for huge or tiny rows, accuracy of
NaN logits, complex parameters, mis-shaped gradient norms, unnamed arguments, a None loss).
"""
import warnings

import numpy as np
import pytest

from depthcheck.kernels.nn.mlp import accuracy as mlp_accuracy
from depthcheck.kernels.nn.network import forward, forward_backward
from depthcheck.kernels.nn.norms import norm_backward, norm_forward
from depthcheck.kernels.nn.training import (NonFiniteLossError, accuracy, balance_matrices,
                                            frobenius_norms, grad_norms, train)

RNG = np.random.default_rng(13)
X8 = RNG.standard_normal((8, 16))
Y8 = RNG.integers(0, 4, 16)


# ------------------------------------------------------------------ forward_backward overflow
def test_deep_bn_relu_gradient_overflow_names_the_layer():
    # bn + ReLU with Gaussian weights: the gradient norm grows geometrically with depth and
    # overflows float64 around 3000-4000 layers; before the fix the gradients came back NaN.
    rng = np.random.default_rng(0)
    d = 8
    X = rng.standard_normal((d, 16))
    Y = rng.integers(0, 4, 16)
    Ws = [rng.standard_normal((d, d)) / np.sqrt(d) for _ in range(4000)]
    Ws.append(rng.standard_normal((4, d)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(FloatingPointError, match=r"backward pass overflowed at hidden layer "
                                                     r"\d+ \(weights\[\d+\]\)"):
            forward_backward(X, Ws, Y, loss="xent")


def test_huge_output_weights_mse_raises_instead_of_inf():
    rng = np.random.default_rng(1)
    Ws = [rng.standard_normal((8, 8)) for _ in range(3)] + [rng.standard_normal((4, 8)) * 1e200]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(FloatingPointError, match="loss 'mse' overflowed"):
            forward_backward(X8, Ws, rng.standard_normal((4, 16)), loss="mse")


def test_logits_near_float_max_raise():
    rng = np.random.default_rng(2)
    Ws = [rng.standard_normal((8, 8)) for _ in range(3)] + [rng.standard_normal((4, 8)) * 1e307]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(FloatingPointError, match="xent"):
            forward_backward(X8, Ws, Y8, loss="xent")


def test_logits_1e300_are_finite_and_exact():
    # representable: the softmax cross-entropy of logits ~1e300 is huge but finite
    rng = np.random.default_rng(2)
    Ws = [rng.standard_normal((8, 8)) for _ in range(3)] + [rng.standard_normal((4, 8)) * 1e300]
    loss, grads = forward_backward(X8, Ws, Y8, loss="xent")
    assert np.isfinite(loss) and loss > 1e299
    assert all(np.all(np.isfinite(g)) for g in grads)


@pytest.mark.parametrize("fn", ["forward", "forward_backward"])
def test_unnormalised_overflow_names_hidden_layer_and_trial(fn):
    rng = np.random.default_rng(3)
    Ws = [np.stack([w, w * 1e150]) for w in (rng.standard_normal((8, 8)) for _ in range(3))]
    Ws.append(np.stack([rng.standard_normal((4, 8))] * 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(FloatingPointError, match=r"hidden layer 3 \(weights\[2\]\).*"
                                                     r"trials \[1\]"):
            if fn == "forward":
                forward(X8, Ws, norm="none")
            else:
                forward_backward(X8, Ws, Y8, norm="none", loss="xent")


def test_bn_network_with_huge_weights_is_scale_invariant():
    # bn makes each hidden layer invariant to the scale of its weights: x1e200 used to give a
    # spurious "zero variance" error (C*C overflowed); now the same loss as unscaled weights.
    rng = np.random.default_rng(4)
    Ws = [rng.standard_normal((8, 8)) for _ in range(3)] + [rng.standard_normal((4, 8))]
    ref = forward_backward(X8, Ws, Y8, loss="xent")[0]
    big = forward_backward(X8, [w * 1e200 for w in Ws[:3]] + [Ws[3]], Y8, loss="xent")[0]
    np.testing.assert_allclose(big, ref, rtol=1e-12)


def test_train_reports_forward_backward_overflow_as_non_finite_step():
    rng = np.random.default_rng(5)
    Ws = [rng.standard_normal((8, 8)) * 1e150 for _ in range(3)] + [rng.standard_normal((4, 8))]
    f = lambda P, idx: forward_backward(X8, P, Y8, norm="none", loss="xent")  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(NonFiniteLossError, match=r"step 0: hidden layer 3"):
            train(Ws, f, steps=1, lr=0.1)


# ------------------------------------------------------------------ norm_forward scale
@pytest.mark.parametrize("kind", ["bn", "bn_nomean", "rownorm"])
@pytest.mark.parametrize("scale", [1e-300, 1e-200, 1e-162, 1e154, 1e160, 1e200, 1e300])
def test_norm_of_huge_and_tiny_rows_matches_unit_rows(kind, scale):
    base = np.array([[1.0, -0.5, 0.25, 0.7, -1.3], [0.3, 0.1, -0.2, 2.0, 0.0]])
    Y1, c1 = norm_forward(kind, base)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow / underflow warning either
        Ys, cs = norm_forward(kind, base * scale)
    np.testing.assert_allclose(Ys, Y1, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(cs.scale / scale, c1.scale, rtol=1e-13)
    dY = np.arange(10.0).reshape(2, 5)
    np.testing.assert_allclose(norm_backward(kind, cs, dY) * scale, norm_backward(kind, c1, dY),
                               rtol=1e-12, atol=1e-12)


def test_bn_near_float_max_with_overflowing_mean():
    Z = np.array([[1.7e308, -1.7e308, 1.0e308, 0.0]])
    Y, cache = norm_forward("bn", Z)
    ref, _ = norm_forward("bn", Z / 1e308)
    np.testing.assert_allclose(Y, ref, rtol=1e-13)
    assert np.isfinite(cache.scale).all()


def test_norm_says_underflow_and_overflow():
    with pytest.raises(ValueError, match="underflow"):
        norm_forward("bn", np.array([[1.0, -2.0, 3.0]]) * 5e-324)
    with pytest.raises(ValueError, match="overflow"):
        norm_forward("rownorm", np.full((1, 4), 1.7e308))


def test_bn_constant_huge_row_still_zero_variance():
    with pytest.raises(ValueError, match="zero variance"):
        norm_forward("bn", np.full((1, 5), 1e300))


# ------------------------------------------------------------------ training and recorders
@pytest.mark.parametrize("acc", [accuracy, mlp_accuracy])
def test_accuracy_refuses_nan_logits(acc):
    logits = np.full((3, 4), np.nan)
    with pytest.raises(ValueError, match="logits"):
        acc(logits, np.zeros(4, dtype=int))


@pytest.mark.parametrize("acc", [accuracy, mlp_accuracy])
@pytest.mark.parametrize("labels", [[0, 1, 3, 0], [0, -1, 1, 0], [0.5, 1, 1, 0], [True] * 4])
def test_accuracy_refuses_bad_labels(acc, labels):
    with pytest.raises(ValueError, match="labels"):
        acc(np.eye(3)[:, [0, 1, 2, 0]], np.asarray(labels))


def test_accuracy_still_counts():
    assert accuracy(np.eye(3)[:, [0, 1, 2, 0]], [0, 1, 1, 0]) == 0.75
    assert mlp_accuracy(np.eye(3)[:, [0, 1, 2, 0]], np.array([0.0, 1, 2, 0])) == 1.0


def test_train_refuses_complex_params():
    f = lambda P, idx: (np.sum(np.abs(P[0]) ** 2), [2 * P[0]])  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # before: a ComplexWarning and the imaginary part lost
        with pytest.raises(ValueError, match=r"params\[0\].*complex"):
            train([np.array([1.0 + 2.0j])], f, steps=1, lr=0.1)


def test_train_refuses_complex_gradient():
    f = lambda P, idx: (1.0, [np.array([1.0 + 1.0j])])  # noqa: E731
    with pytest.raises(TypeError, match="gradient 0.*complex"):
        train([np.array([1.0])], f, steps=1, lr=0.1)


def test_train_none_loss_is_a_type_error_not_non_finite():
    with pytest.raises(TypeError, match="loss.*None"):
        train([np.array([1.0])], lambda P, idx: (None, [np.ones(1)]), steps=1, lr=0.1)


def test_grad_norms_batched_loss_needs_batched_gradients():
    with pytest.raises(ValueError, match=r"grads\[0\]"):
        grad_norms(None, np.ones(4), [np.ones((3, 2)), np.ones((2, 2))])
    with pytest.raises(ValueError, match=r"grads\[1\]"):
        grad_norms(None, np.ones(3), [np.ones((3, 2, 2)), np.ones((2, 2))])
    out = grad_norms(None, np.ones(3), [np.ones((3, 2, 2)), np.ones((3, 4, 1))])
    np.testing.assert_allclose(out, np.tile([2.0, 2.0], (3, 1)))


@pytest.mark.parametrize("bad, where", [([np.ones((2, 2)), np.ones(3)], r"params\[1\]"),
                                        ([np.ones((2, 2)), "w"], r"params\[1\]"),
                                        ([np.ones((2, 2)), np.ones((4, 2, 2))], r"params\[1\]"),
                                        (np.ones((2, 2)), "params")])
def test_frobenius_norms_names_the_argument(bad, where):
    with pytest.raises(ValueError, match=where):
        frobenius_norms(bad)
    if isinstance(bad, list):
        with pytest.raises(ValueError, match=where):
            balance_matrices(bad)
