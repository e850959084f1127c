"""Tests for depthcheck.kernels.nn.training: the generic (S)GD loop and its recorders."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from depthcheck.kernels.nn.training import (NonFiniteLossError, accuracy, accuracy_recorder, balance_matrices, balance_traces, frobenius_norms, grad_norms, make_schedule, train)


def quadratic(A, b):
    """loss = ½ xᵀA x − bᵀx per trial; params [x] with x of shape (B, d, 1)."""
    def f(P, idx):
        x = P[0]
        Ax = A @ x
        loss = 0.5 * np.sum(x * Ax, axis=(-2, -1)) - np.sum(b * x, axis=(-2, -1))
        return loss, [Ax - b]
    return f


def spd(rng, B, d):
    M = rng.standard_normal((B, d, d))
    return M @ np.swapaxes(M, -1, -2) / d + np.eye(d)


def test_gd_reaches_quadratic_minimiser():
    rng = np.random.default_rng(1)
    B, d = 5, 4
    A, b = spd(rng, B, d), rng.standard_normal((B, d, 1))
    x_star = np.linalg.solve(A, b)
    lam_max = np.linalg.eigvalsh(A).max()
    res = train([np.zeros((B, d, 1))], quadratic(A, b), steps=2000, lr=1.0 / lam_max,
                record_every=500)
    np.testing.assert_allclose(res.params[0], x_star, rtol=0, atol=1e-9)
    # the recorded loss decreases to the known minimum −½ bᵀA⁻¹b
    np.testing.assert_allclose(res.history["loss"][-1], -0.5 * np.sum(b * x_star, axis=(1, 2)),
                               rtol=1e-10)
    assert np.all(np.diff(res.history["loss"], axis=0) <= 1e-12)


def test_heavy_ball_momentum_reaches_minimiser():
    rng = np.random.default_rng(2)
    A, b = spd(rng, 3, 5), rng.standard_normal((3, 5, 1))
    res = train([np.zeros((3, 5, 1))], quadratic(A, b), steps=600, lr=0.1, momentum=0.8,
                nesterov=True)
    np.testing.assert_allclose(res.params[0], np.linalg.solve(A, b), atol=1e-9)


def _affine_grad(c):
    """grad = c·p + 1 elementwise (loss ½c p² + p): simple enough to step by hand."""
    def f(P, idx):
        return np.float64(sum(np.sum(0.5 * c * p * p + p) for p in P)), [c * p + 1.0 for p in P]
    return f


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_and_weight_decay_by_hand(nesterov):
    p0 = np.array([[1.0, -2.0]])
    c, lr, mu, lam = 0.5, 0.1, 0.9, 0.01
    res = train([p0], _affine_grad(c), steps=2, lr=lr, momentum=mu, nesterov=nesterov,
                weight_decay=lam)
    # by hand, PyTorch SGD conventions
    g0 = c * p0 + 1 + lam * p0
    v0 = g0
    d0 = g0 + mu * v0 if nesterov else v0
    p1 = p0 - lr * d0
    g1 = c * p1 + 1 + lam * p1
    v1 = mu * v0 + g1
    d1 = g1 + mu * v1 if nesterov else v1
    p2 = p1 - lr * d1
    np.testing.assert_allclose(res.params[0], p2, rtol=1e-15)
    np.testing.assert_array_equal(p0, [[1.0, -2.0]])  # input not modified


def test_lr_scale_and_schedule_by_hand():
    p = [np.array([1.0]), np.array([2.0])]
    sched = lambda t: 1.0 / (t + 1)  # noqa: E731
    res = train(p, _affine_grad(0.0), steps=3, lr=0.3, lr_scale=[1.0, 0.5], schedule=sched)
    total = 0.3 * (1 + 1 / 2 + 1 / 3)  # gradient is constantly 1
    np.testing.assert_allclose(res.params[0], 1.0 - total)
    np.testing.assert_allclose(res.params[1], 2.0 - 0.5 * total)


def test_named_schedules():
    cos = make_schedule("cosine", 100)
    assert cos(0) == 1.0 and abs(cos(50) - 0.5) < 1e-15 and abs(cos(100)) < 1e-15
    cos2 = make_schedule(("cosine", {"min_factor": 0.1}), 100)
    assert abs(cos2(100) - 0.1) < 1e-15
    stp = make_schedule(("step", {"step_size": 10, "gamma": 0.5}), 100)
    assert [stp(t) for t in (0, 9, 10, 25)] == [1.0, 1.0, 0.5, 0.25]
    lin = make_schedule(("linear", {"end_factor": 0.2, "warmup": 4}), 10)
    assert abs(lin(0) - 0.25) < 1e-15 and abs(lin(10) - 0.2) < 1e-15
    assert abs(lin(5) - 0.6) < 1e-15
    for bad in ["exp", ("cosine", {"nope": 1}), ("step", {"gamma": float("nan")}), 3]:
        with pytest.raises(ValueError):
            make_schedule(bad, 10)


def test_history_shapes_and_record_steps():
    rng = np.random.default_rng(3)
    B = 4
    Ws = [rng.standard_normal((B, 5, 3)), rng.standard_normal((B, 4, 5)),
          rng.standard_normal((B, 2, 4))]
    X, Y = rng.standard_normal((3, 7)), rng.standard_normal((2, 7))
    from depthcheck.kernels.nn.network import forward_backward

    def f(P, idx):
        return forward_backward(X, P, Y, norm="none", activation="identity")
    rec = {"fro": frobenius_norms, "bal": balance_matrices, "tr": balance_traces, "g": grad_norms}
    res = train(Ws, f, steps=10, lr=1e-3, record=rec, record_every=3)
    h = res.history
    np.testing.assert_array_equal(h["step"], [0, 3, 6, 9])  # 10 % 3 != 0: no final record
    assert h["loss"].shape == (4, B) and h["fro"].shape == (4, B, 3)
    assert h["bal"].shape == (4, B, 2, 5, 5) and h["tr"].shape == (4, B, 2)
    assert h["g"].shape == (4, B, 3)
    res = train(Ws, f, steps=9, lr=1e-3, record=rec, record_every=3)
    np.testing.assert_array_equal(res.history["step"], [0, 3, 6, 9])  # final state recorded
    # the final record equals a fresh evaluation at the final parameters
    loss_T, grads_T = f(res.params, None)
    np.testing.assert_allclose(res.history["loss"][-1], loss_T)
    np.testing.assert_allclose(res.history["g"][-1],
                               np.stack([np.linalg.norm(G, axis=(1, 2)) for G in grads_T], -1))


@given(st.lists(st.integers(1, 5), min_size=3, max_size=5), st.integers(0, 2 ** 32 - 1))
def test_balance_recorders_match_definition(widths, seed):
    rng = np.random.default_rng(seed)
    Ws = [rng.standard_normal((2, widths[i + 1], widths[i])) for i in range(len(widths) - 1)]
    D = balance_matrices(Ws)
    m = max(widths[1:-1])
    assert D.shape == (2, len(Ws) - 1, m, m)
    for l in range(len(Ws) - 1):
        k = widths[l + 1]
        direct = np.swapaxes(Ws[l + 1], 1, 2) @ Ws[l + 1] - Ws[l] @ np.swapaxes(Ws[l], 1, 2)
        np.testing.assert_allclose(D[:, l, :k, :k], direct, atol=1e-12)
        assert np.all(D[:, l, k:, :] == 0) and np.all(D[:, l, :, k:] == 0)
        np.testing.assert_allclose(np.trace(D[:, l], axis1=1, axis2=2),
                                   balance_traces(Ws)[:, l], atol=1e-10)
    np.testing.assert_allclose(frobenius_norms(Ws), np.stack(
        [np.linalg.norm(W, axis=(1, 2)) ** 2 for W in Ws], -1), rtol=1e-12)


def test_non_finite_loss_names_the_step():
    # p_t = 1 + t under lr 1 and gradient −1: the loss turns NaN once p > 3.5, i.e. at step 3
    with pytest.raises(NonFiniteLossError, match="step 3"):
        train([np.array([1.0])], lambda P, i: (np.nan if P[0][0] > 3.5 else P[0][0], [-np.ones(1)]),
              steps=10, lr=1.0)
    with pytest.raises(NonFiniteLossError, match="gradient of params\\[0\\] at step 0"):
        train([np.array([1.0])], lambda P, i: (1.0, [np.array([np.inf])]), steps=1, lr=1.0)


def test_minibatch_indices_and_sgd_equals_gd_for_full_batch():
    n, d = 20, 3
    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((d, n)), rng.standard_normal(n)
    seen = []

    def f(P, idx):
        cols = np.arange(n) if idx is None else idx
        seen.append(None if idx is None else idx.copy())
        r = P[0] @ X[:, cols] - y[cols]
        return np.mean(r ** 2), [2 * r @ X[:, cols].T / len(cols)]
    res_sgd = train([np.zeros(d)], f, steps=5, lr=0.1, rng=np.random.default_rng(5),
                    n_samples=n, batch_size=n)
    seen_sgd, seen[:] = seen[:], []
    res_gd = train([np.zeros(d)], f, steps=5, lr=0.1)
    np.testing.assert_allclose(res_sgd.params[0], res_gd.params[0], rtol=1e-13)
    assert all(np.array_equal(i, np.arange(n)) for i in seen_sgd)
    seen[:] = []
    train([np.zeros(d)], f, steps=50, lr=0.1, rng=np.random.default_rng(6), n_samples=n,
          batch_size=6)
    assert all(len(i) == 6 and len(set(i.tolist())) == 6 and i.min() >= 0 and i.max() < n
               for i in seen)
    # indices differ across steps and are reproducible from the seed
    first = [i.copy() for i in seen]
    seen[:] = []
    train([np.zeros(d)], f, steps=50, lr=0.1, rng=np.random.default_rng(6), n_samples=n,
          batch_size=6)
    assert all(np.array_equal(a, b) for a, b in zip(first, seen))
    assert len({tuple(i) for i in first}) > 1


def test_sgd_is_unbiased_on_least_squares():
    """Averaged over minibatch draws, one SGD step equals the GD step (the minibatch gradient is
    unbiased when indices are drawn uniformly without replacement)."""
    n, d, m = 12, 3, 4
    rng = np.random.default_rng(7)
    X, y = rng.standard_normal((d, n)), rng.standard_normal(n)
    p0 = rng.standard_normal(d)

    def f(P, idx):
        cols = np.arange(n) if idx is None else idx
        r = P[0] @ X[:, cols] - y[cols]
        return np.mean(r ** 2), [2 * r @ X[:, cols].T / len(cols)]
    gd = train([p0], f, steps=1, lr=0.1).params[0]
    g = np.random.default_rng(8)
    outs = np.array([train([p0], f, steps=1, lr=0.1, rng=g, n_samples=n, batch_size=m).params[0]
                     for _ in range(1500)])
    se = outs.std(axis=0, ddof=1) / math.sqrt(len(outs))
    assert np.all(np.abs(outs.mean(axis=0) - gd) < 5 * se)


def test_accuracy_helpers():
    logits = np.array([[[2.0, 0.0, 1.0], [1.0, 3.0, 0.0]]])  # (B=1, c=2, n=3)
    np.testing.assert_allclose(accuracy(logits, np.array([0, 1, 1])), [2 / 3])
    rec = accuracy_recorder(lambda P, X: P[0] @ X, np.eye(3), np.array([0, 1, 1]))
    np.testing.assert_allclose(rec([logits[0]]), 2 / 3)


def test_bad_arguments_raise_value_error():
    f = _affine_grad(1.0)
    p = [np.ones(2)]
    for kw, name in [(dict(lr=0.0), "lr"), (dict(lr=float("nan")), "lr"),
                     (dict(lr=0.1, momentum=1.0), "momentum"),
                     (dict(lr=0.1, nesterov=True), "nesterov"),
                     (dict(lr=0.1, weight_decay=-1.0), "weight_decay"),
                     (dict(lr=0.1, batch_size=2), "n_samples"),
                     (dict(lr=0.1, batch_size=3, n_samples=2, rng=np.random.default_rng(0)),
                      "batch_size"),
                     (dict(lr=0.1, batch_size=1, n_samples=2, rng=1), "rng"),
                     (dict(lr=0.1, lr_scale=[1.0, 2.0]), "lr_scale"),
                     (dict(lr=0.1, record={"loss": frobenius_norms}), "reserved"),
                     (dict(lr=0.1, record_every=0), "record_every")]:
        with pytest.raises(ValueError, match=name):
            train(p, f, steps=2, **kw)
    with pytest.raises(ValueError, match="params"):
        train([np.array([np.nan])], f, steps=1, lr=0.1)
    with pytest.raises(ValueError, match="gradient 0"):
        train(p, lambda P, i: (0.0, [np.ones(3)]), steps=1, lr=0.1)
