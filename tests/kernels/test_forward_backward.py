"""Tests for depthcheck.kernels.nn.network: forward/backward of the normalised MLP, by hand.

* gradients vs central finite differences over every norm × activation × order × loss ×
  residual combination (192 cases) and over hypothesis-drawn shapes;
* forward output and gradients vs an independent straightforward implementation written here
  (loops over rows, gradients by the complex step, so they share no code with the engine);
* batched trials vs per-trial calls; closed forms for linear/residual nets; bad input.
"""
import itertools
import math

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st
from scipy.special import logsumexp

from depthcheck.kernels import forward, forward_backward
from depthcheck.kernels.nn.activations import ACTIVATIONS
from depthcheck.kernels.nn.norms import NORMS

LOSSES = ("mse", "xent")
ORDERS = ("norm_act", "act_norm")
RESIDUALS = (None, 0.3)
COMBOS = list(itertools.product(NORMS, ACTIVATIONS, ORDERS, LOSSES, RESIDUALS))
assert len(COMBOS) == 192


# ----------------------------------------------------------------- independent reference
def ref_act(name, x):
    if name == "identity":
        return x
    if name == "relu":
        return np.where(x.real > 0, x, 0)
    if name == "leaky_relu":
        return np.where(x.real > 0, x, 0.01 * x)
    if name == "tanh":
        return np.tanh(x)
    if name == "sin":
        return np.sin(x)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-x))
    raise AssertionError(name)


def ref_norm(kind, A, stats):
    """Row by row; records each row's divisor relative to its size (conditioning)."""
    out = np.empty_like(A)
    n = A.shape[1]
    for i in range(A.shape[0]):
        x = A[i]
        if kind == "none":
            out[i] = x
            continue
        if kind == "bn":
            x = x - sum(x) / n
        s = np.sqrt(sum(x * x) / (1 if kind == "rownorm" else n))
        if s == 0:  # degenerate row: the engine raises; callers resample
            stats["cond"] = 0.0
            out[i] = 0
            continue
        out[i] = x / s
        stats["cond"] = min(stats["cond"], abs(s) / (np.max(np.abs(A[i])) + 1e-300))
    return out


def ref_loss(X, Ws, Y, norm, act, loss, order, gains, residual):
    """Unbatched, complex-step safe. Returns (loss, stats) with the smallest |pre-activation|."""
    stats = {"cond": np.inf, "min_abs_pre": np.inf}
    H = X.astype(complex)
    for l, W in enumerate(Ws[:-1]):
        A = W @ H
        if residual is not None:
            A = H + residual * A
        g = 1.0 if gains is None else gains[l]
        if order == "norm_act":
            P = g * ref_norm(norm, A, stats)
            H = ref_act(act, P)
        else:
            P = g * A
            H = ref_norm(norm, ref_act(act, P), stats)
        stats["min_abs_pre"] = min(stats["min_abs_pre"], np.min(np.abs(P.real)))
    Z = Ws[-1] @ H
    d, n = Z.shape
    if loss == "mse":
        value = sum(((Z - Y) ** 2).ravel()) / (d * n)
    else:
        value = 0
        for j in range(n):
            m = np.max(Z[:, j].real)
            value += m + np.log(sum(np.exp(Z[:, j] - m))) - Z[Y[j], j]
        value /= n
    return value, Z, stats


def complex_step_grads(X, Ws, Y, *args, h=1e-30):
    grads = []
    for i, W in enumerate(Ws):
        G = np.empty(W.shape)
        for idx in np.ndindex(W.shape):
            Wc = [w.astype(complex) for w in Ws]
            Wc[i][idx] += 1j * h
            G[idx] = ref_loss(X, Wc, Y, *args)[0].imag / h
        grads.append(G)
    return grads


def make_case(seed, norm, act, order, loss, residual, dims=None, n=None):
    """A small random network; None when it is degenerate or too close to a kink."""
    rng = np.random.default_rng(seed)
    if n is None:
        n = int(rng.integers(4, 7))
    if dims is None:
        if residual is None:
            dims = [int(v) for v in rng.integers(3, 6, size=4)]
        else:
            d = int(rng.integers(3, 6))
            dims = [d, d, d, int(rng.integers(3, 6))]
    X = rng.standard_normal((dims[0], n))
    Ws = [rng.standard_normal((dims[i + 1], dims[i])) / math.sqrt(dims[i])
          for i in range(len(dims) - 1)]
    gains = rng.uniform(0.5, 1.5, size=len(dims) - 2)
    Y = (rng.standard_normal((dims[-1], n)) if loss == "mse"
         else rng.integers(0, dims[-1], size=n))
    kw = dict(norm=norm, activation=act, loss=loss, order=order, gains=gains, residual=residual)
    _, _, stats = ref_loss(X, Ws, Y, norm, act, loss, order, gains, residual)
    # FD needs smoothness: no relu kink within reach of the step, no near-degenerate row
    if act in ("relu", "leaky_relu") and stats["min_abs_pre"] < 1e-4:
        return None
    if stats["cond"] < 1e-2:
        return None
    return X, Ws, Y, kw


def find_case(base_seed, *combo):
    for k in range(100):
        case = make_case(base_seed * 1000 + k, *combo)
        if case is not None:
            return case
    raise AssertionError("no well-conditioned case found")  # pragma: no cover


def fd_grads(X, Ws, Y, kw, h=1e-6):
    grads = []
    for i, W in enumerate(Ws):
        G = np.empty(W.shape)
        for idx in np.ndindex(W.shape):
            Wp = list(Ws)
            Wm = list(Ws)
            Wp[i] = W.copy()
            Wm[i] = W.copy()
            Wp[i][idx] += h
            Wm[i][idx] -= h
            G[idx] = (forward_backward(X, Wp, Y, **kw)[0] - forward_backward(X, Wm, Y, **kw)[0]) / (2 * h)
        grads.append(G)
    return grads


def rel_err(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300)


# -------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("norm,act,order,loss,residual", COMBOS)
def test_gradients_match_finite_differences(norm, act, order, loss, residual):
    seed = COMBOS.index((norm, act, order, loss, residual))
    X, Ws, Y, kw = find_case(seed, norm, act, order, loss, residual)
    value, grads = forward_backward(X, Ws, Y, **kw)
    assert np.shape(value) == () and np.isfinite(value)
    for W, g, g_fd in zip(Ws, grads, fd_grads(X, Ws, Y, kw)):
        assert g.shape == W.shape
        assert rel_err(g_fd, g) < 1e-6


@pytest.mark.parametrize("norm,act,order,loss,residual", COMBOS)
def test_matches_independent_reference(norm, act, order, loss, residual):
    seed = 7919 + COMBOS.index((norm, act, order, loss, residual))
    X, Ws, Y, kw = find_case(seed, norm, act, order, loss, residual)
    args = (norm, act, loss, order, kw["gains"], residual)
    ref_value, ref_Z, _ = ref_loss(X, Ws, Y, *args)
    Z = forward(X, Ws, norm=norm, activation=act, order=order, gains=kw["gains"],
                residual=residual)
    np.testing.assert_allclose(Z, ref_Z.real, rtol=1e-12, atol=1e-12)
    value, grads = forward_backward(X, Ws, Y, **kw)
    assert value == pytest.approx(ref_value.real, rel=1e-12)
    for g, g_ref in zip(grads, complex_step_grads(X, Ws, Y, *args)):
        assert rel_err(g, g_ref) < 1e-10


@given(seed=st.integers(0, 2 ** 32 - 1), combo=st.sampled_from(COMBOS),
       depth=st.integers(1, 4), width=st.integers(2, 6), n=st.integers(3, 8))
def test_gradients_match_finite_differences_random_shapes(seed, combo, depth, width, n):
    norm, act, order, loss, residual = combo
    rng = np.random.default_rng(seed)
    if residual is None:
        dims = [int(v) for v in rng.integers(2, width + 1, size=depth + 1)]
    else:
        dims = [width] * depth + [int(rng.integers(2, 6))]
    case = make_case(seed, *combo, dims=dims, n=n)
    assume(case is not None)
    X, Ws, Y, kw = case
    try:
        value, grads = forward_backward(X, Ws, Y, **kw)
    except ValueError as exc:  # a hidden row came out constant (e.g. relu then bn)
        assume("degenerate" not in str(exc))
        raise
    # Central FD cannot resolve a gradient below its rounding floor ~ sqrt(k)·eps·|loss|/h
    # (≈ 2e-9·|loss| for k ≤ 36 entries): there the relative error is measured against
    # 1e-2·(1 + |loss|), i.e. an absolute error of 1e-8·(1 + |loss|).
    floor = 1e-2 * (1 + abs(value))
    for g, g_fd in zip(grads, fd_grads(X, Ws, Y, kw)):
        assert np.linalg.norm(g_fd - g) / max(np.linalg.norm(g), floor) < 1e-6


# ---------------------------------------------------------------------------- batching
@given(seed=st.integers(0, 2 ** 32 - 1), combo=st.sampled_from(COMBOS), B=st.integers(1, 4),
       shared_X=st.booleans(), shared_Y=st.booleans())
def test_batched_equals_per_trial(seed, combo, B, shared_X, shared_Y):
    norm, act, order, loss, residual = combo
    rng = np.random.default_rng(seed)
    d, k, n = 4, 3, 5
    dims = [d, d, d, k]
    X = rng.standard_normal((d, n) if shared_X else (B, d, n))
    Ws = [rng.standard_normal((B, dims[i + 1], dims[i])) / 2 for i in range(3)]
    if loss == "mse":
        Y = rng.standard_normal((k, n) if shared_Y else (B, k, n))
    else:
        Y = rng.integers(0, k, size=(n,) if shared_Y else (B, n))
    kw = dict(norm=norm, activation=act, loss=loss, order=order, residual=residual,
              gains=[0.8, 1.3])
    try:
        value, grads = forward_backward(X, Ws, Y, **kw)
    except ValueError as exc:
        assume("degenerate" not in str(exc))
        raise
    assert value.shape == (B,)
    Z = forward(X, Ws, norm=norm, activation=act, order=order, residual=residual, gains=[0.8, 1.3])
    assert Z.shape == (B, k, n)
    for b in range(B):
        Xb = X if shared_X else X[b]
        Yb = Y if shared_Y else Y[b]
        vb, gb = forward_backward(Xb, [W[b] for W in Ws], Yb, **kw)
        assert value[b] == pytest.approx(vb, rel=1e-12, abs=1e-300)
        for g, g1 in zip(grads, gb):
            assert g.shape == Ws[0].shape[:1] + g1.shape
            np.testing.assert_allclose(g[b], g1, rtol=1e-10, atol=1e-13 * np.abs(g1).max())


# ---------------------------------------------------------------------- closed forms
def test_linear_and_residual_networks_closed_form():
    rng = np.random.default_rng(11)
    d, n = 4, 6
    X = rng.standard_normal((d, n))
    W1, W2, W3 = (rng.standard_normal((d, d)) for _ in range(3))
    Z = forward(X, [W1, W2, W3], norm="none", activation="identity")
    np.testing.assert_allclose(Z, W3 @ W2 @ W1 @ X, rtol=1e-12)
    gamma = 0.3
    Zr = forward(X, [W1, W2, W3], norm="none", activation="identity", residual=gamma)
    I = np.eye(d)
    np.testing.assert_allclose(Zr, W3 @ (I + gamma * W2) @ (I + gamma * W1) @ X, rtol=1e-12)
    # mse gradient of a linear net: ∇W3 = (2/(d n)) (Z − Y) (W2 W1 X)ᵀ
    Y = rng.standard_normal((d, n))
    value, grads = forward_backward(X, [W1, W2, W3], Y, norm="none", activation="identity")
    assert value == pytest.approx(np.mean((Z - Y) ** 2), rel=1e-13)
    np.testing.assert_allclose(grads[2], 2 / (d * n) * (Z - Y) @ (W2 @ W1 @ X).T, rtol=1e-12)
    np.testing.assert_allclose(grads[0], 2 / (d * n) * (W3 @ W2).T @ (Z - Y) @ X.T, rtol=1e-12)


def test_single_layer_network_has_no_hidden_layers():
    rng = np.random.default_rng(12)
    X, W, Y = rng.standard_normal((3, 5)), rng.standard_normal((2, 3)), rng.standard_normal((2, 5))
    value, (g,) = forward_backward(X, [W], Y, norm="bn", activation="tanh", gains=[])
    np.testing.assert_allclose(g, 2 / 10 * (W @ X - Y) @ X.T, rtol=1e-13)


def test_bn_network_output_rows_are_normalised():
    # with identity activation the last hidden layer is exactly norm(W H); check via forward
    rng = np.random.default_rng(13)
    d, n = 5, 7
    X = rng.standard_normal((d, n))
    Ws = [rng.standard_normal((d, d)) for _ in range(3)] + [np.eye(d)]
    for norm, check in [("bn", lambda H: (np.allclose(H.mean(1), 0, atol=1e-13)
                                          and np.allclose((H ** 2).mean(1), 1, rtol=1e-13))),
                        ("bn_nomean", lambda H: np.allclose(np.linalg.norm(H, axis=1),
                                                            math.sqrt(n), rtol=1e-13)),
                        ("rownorm", lambda H: np.allclose(np.linalg.norm(H, axis=1), 1,
                                                          rtol=1e-13))]:
        assert check(forward(X, Ws, norm=norm, activation="identity", order="norm_act"))
        assert check(forward(X, Ws, norm=norm, activation="tanh", order="act_norm"))


def test_gain_exponent_equals_explicit_gains():
    rng = np.random.default_rng(14)
    X = rng.standard_normal((4, 6))
    Ws = [rng.standard_normal((4, 4)) for _ in range(4)] + [rng.standard_normal((2, 4))]
    Y = rng.integers(0, 2, size=6)
    r = 0.4
    kw = dict(norm="rownorm", activation="tanh", loss="xent")
    v1, g1 = forward_backward(X, Ws, Y, gain_exponent=r, **kw)
    v2, g2 = forward_backward(X, Ws, Y, gains=[l ** -r for l in range(1, 5)], **kw)
    v0, g0 = forward_backward(X, Ws, Y, **kw)
    assert v1 == v2 and all(np.array_equal(a, b) for a, b in zip(g1, g2))
    assert v1 != pytest.approx(v0)  # the gains do act (negative control)
    v3, _ = forward_backward(X, Ws, Y, gain_exponent=0.0, **kw)
    assert v3 == v0


def test_xent_value_and_stability():
    rng = np.random.default_rng(15)
    X = rng.standard_normal((3, 5))
    Ws = [rng.standard_normal((3, 3)), 400.0 * rng.standard_normal((4, 3))]  # huge logits
    Y = np.array([0, 1, 2, 3, 1])
    value, grads = forward_backward(X, Ws, Y, norm="bn", activation="tanh", loss="xent")
    Z = forward(X, Ws, norm="bn", activation="tanh")
    expected = np.mean(logsumexp(Z, axis=0) - Z[Y, np.arange(5)])
    assert np.isfinite(value) and value == pytest.approx(expected, rel=1e-12)
    assert all(np.all(np.isfinite(g)) for g in grads)
    # float labels with integral values are accepted
    assert forward_backward(X, Ws, Y.astype(float), norm="bn", activation="tanh",
                            loss="xent")[0] == value


def test_degenerate_hidden_batch_raises():
    # positive inputs and negative weights: relu kills every row before bn
    X = np.abs(np.random.default_rng(16).standard_normal((3, 4))) + 0.1
    Ws = [-np.ones((3, 3)), np.ones((2, 3))]
    with pytest.raises(ValueError, match=r"hidden layer 1.*degenerate"):
        forward_backward(X, Ws, np.zeros((2, 4)), norm="bn", activation="relu", order="act_norm")
    with pytest.raises(ValueError, match="degenerate"):
        forward(X, Ws, norm="rownorm", activation="relu", order="act_norm")


# ---------------------------------------------------------------------------- bad input
def _good():
    rng = np.random.default_rng(17)
    X = rng.standard_normal((3, 5))
    Ws = [rng.standard_normal((3, 3)), rng.standard_normal((3, 3)), rng.standard_normal((2, 3))]
    return X, Ws, rng.standard_normal((2, 5))


def _replace(Ws, i, W):
    Ws = list(Ws)
    Ws[i] = W
    return Ws


X0, W0, Y0 = _good()
L0 = np.array([0, 1, 1, 0, 1])
B3 = [np.stack([W] * 3) for W in W0]
BAD = [
    # (X, weights, Y, kwargs, expected name in the message)
    (X0[0], W0, Y0, {}, "X"),
    (X0[None, None], W0, Y0, {}, "X"),
    (np.where(np.eye(3, 5) > 0, np.nan, X0), W0, Y0, {}, "X"),
    (np.stack([X0] * 2), B3, Y0, {}, "X"),  # batch mismatch X (2) vs weights (3)
    (np.stack([X0] * 3), W0, Y0, {}, "weights"),  # batched X, unbatched weights
    (X0, np.stack(W0[:2]), Y0, {}, "weights"),  # an ndarray, not a list
    (X0, [], Y0, {}, "weights"),
    (X0, _replace(W0, 1, W0[1][0]), Y0, {}, r"weights\[1\]"),
    (X0, _replace(W0, 2, np.full((2, 3), np.inf)), Y0, {}, r"weights\[2\]"),
    (X0, _replace(W0, 1, np.ones((3, 4))), Y0, {}, r"weights\[1\]"),  # width mismatch
    (X0, _replace(W0, 0, np.ones((3, 2))), Y0, {}, r"weights\[0\]"),  # vs X rows
    (X0, _replace(B3, 1, W0[1]), Y0, {}, r"weights\[1\]"),  # mixed batched / unbatched
    (X0, _replace(B3, 2, np.stack([W0[2]] * 4)), Y0, {}, r"weights\[2\]"),  # batch sizes
    (X0, W0, Y0[:, :4], {}, "Y"),
    (X0, W0, Y0[None], {}, "Y"),  # batched targets for an unbatched output
    (X0, W0, np.where(np.eye(2, 5) > 0, np.nan, Y0), {}, "Y"),
    (X0, W0, np.array([0, 1, 1, 0, 2]), {"loss": "xent"}, "Y"),
    (X0, W0, np.array([0, 1, -1, 0, 1]), {"loss": "xent"}, "Y"),
    (X0, W0, np.array([0, 1, 0.5, 0, 1]), {"loss": "xent"}, "Y"),
    (X0, W0, np.array([0, 1, np.nan, 0, 1]), {"loss": "xent"}, "Y"),
    (X0, W0, L0.astype(bool), {"loss": "xent"}, "Y"),
    (X0, W0, L0[:4], {"loss": "xent"}, "Y"),
    (X0, W0, Y0, {"loss": "xent"}, "Y"),  # one-hot-like float matrix instead of labels
    (X0, W0, Y0, {"norm": "layernorm"}, "norm"),
    (X0, W0, Y0, {"activation": "gelu"}, "activation"),
    (X0, W0, Y0, {"loss": "hinge"}, "loss"),
    (X0, W0, Y0, {"order": "act_act"}, "order"),
    (X0, W0, Y0, {"gains": [1.0]}, "gains"),
    (X0, W0, Y0, {"gains": [1.0, 2.0, 3.0]}, "gains"),
    (X0, W0, Y0, {"gains": [1.0, np.nan]}, "gains"),
    (X0, W0, Y0, {"gains": [1.0, 1.0], "gain_exponent": 0.5}, "gain_exponent"),
    (X0, W0, Y0, {"gain_exponent": np.inf}, "gain_exponent"),
    (X0, W0, Y0, {"gain_exponent": "0.5"}, "gain_exponent"),
    (X0, W0, Y0, {"residual": np.nan}, "residual"),
    (X0, W0, Y0, {"residual": "big"}, "residual"),
    (np.ones((4, 5)) + np.eye(4, 5), [np.ones((3, 4)), W0[1], W0[2]], Y0, {"residual": 0.3},
     "residual"),
]


def test_good_input_controls():
    # the unmodified inputs of the bad-input table are accepted
    assert forward_backward(X0, W0, L0, loss="xent")[0] > 0
    assert forward_backward(X0, B3, Y0)[0].shape == (3,)  # unbatched X and Y broadcast


@pytest.mark.parametrize("X,weights,Y,kwargs,name", BAD)
def test_bad_input_raises_naming_argument(X, weights, Y, kwargs, name):
    with pytest.raises(ValueError, match=name):
        forward_backward(X, weights, Y, **kwargs)
    if "loss" not in kwargs and name != "Y":  # forward validates the same arguments
        with pytest.raises(ValueError, match=name):
            forward(X, weights, **kwargs)
