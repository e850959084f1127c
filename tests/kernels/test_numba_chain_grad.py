"""Gradients of the fused numba chain (depthcheck.kernels.backends.numba.fused_grad).

Oracles: ``depthcheck.kernels.forward_backward`` (loss="xent") on the explicit weights built from the very
random numbers the kernel draws (``householder_vectors_philox`` -> ``apply_householder_haar``,
``philox.normal_stream`` for gaussian/uniform, ``philox.readout_philox``): log-norms agree to
1e-8; ``simulate_chain(backend="numpy", gradients=True)`` in law (two-sample KS); the
forward-only fused kernel (statistics bit for bit). Compile: ~45 s on a cold numba cache.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from depthcheck.kernels.backends.numba import fused as nc
from depthcheck.kernels.random import philox
from depthcheck.kernels import backends as engines
from depthcheck.kernels.chain.driver import ChainBreakdownError, simulate_chain
from depthcheck.kernels.chain.spec import ChainSpec
from depthcheck.kernels.random.haar import apply_householder_haar
from depthcheck.kernels.nn.network import forward_backward

ALL = ("isometry_gap", "rank_lower_bound", "soft_rank", "row_norm_cv", "frobenius_M",
       "top_singular_values")


def _spec(X, depth, trials, n_out=3, **kw):
    return ChainSpec.from_arguments(X, depth, trials=trials, rng=np.random.default_rng(0), weights=kw.get('weights', 'haar'), norm=kw.get('norm', 'rownorm'), activation=kw.get('activation', 'identity'), order=kw.get('order', 'norm_act'), gains=kw.get('gains'), gain_exponent=kw.get('gain_exponent'), residual=kw.get('residual'), weight_std=kw.get('weight_std'), record_every=1, record=ALL, tau=0.5, gradients=True, labels=None, n_out=n_out, checkpoint_every=None, method='full', backend='numpy', n_singular=10, progress=False)


def _explicit_weights(spec, key, method):
    """W_1..W_L (each (B, d, d)) from the kernel's Philox streams, and the readout."""
    B, d = spec.trials, spec.d
    hidden = []
    for l in range(1, spec.depth + 1):
        if spec.weights == "haar":
            V = np.stack([nc.householder_vectors_philox(key, l, b, d, method) for b in range(B)])
            W = apply_householder_haar(V, np.broadcast_to(np.eye(d), (B, d, d)))
        else:
            z = np.stack([philox.normal_stream(key, l, b, 0, d * d, method)
                          for b in range(B)]).reshape(B, d, d)
            W = spec.weight_std * (z if spec.weights == "gaussian"
                                   else math.sqrt(3.0) * np.vectorize(math.erf)(z / math.sqrt(2)))
        hidden.append(W)
    return hidden, philox.readout_philox(key, B, spec.n_out, d, method)


def _reference_log_grad(spec, X, key, method, labels):
    hidden, readout = _explicit_weights(spec, key, method)
    _, grads = forward_backward(X, hidden + [readout], labels, norm=spec.norm,
                                activation=spec.activation, loss="xent", order=spec.order,
                                gains=spec.gains, residual=spec.residual)
    return np.stack([np.log(np.sqrt(np.sum(g * g, axis=(-2, -1)))) for g in grads[:-1]], axis=1)


EXACT_CASES = [
    # (d, n, L, B, kw): every norm, activation, order; residual; gains; d<n, d>n; weights
    (9, 5, 5, 3, dict()),                                                      # seed 001 eq. (3)
    (6, 9, 4, 2, dict(norm="bn", activation="tanh", gain_exponent=0.4)),       # d < n
    (11, 4, 5, 3, dict(norm="bn_nomean", activation="sin", order="act_norm", residual=0.3)),
    (8, 5, 4, 2, dict(norm="none", activation="relu")),                        # rescaled chain
    (7, 10, 4, 2, dict(norm="none", activation="sigmoid", weights="gaussian")),
    (8, 6, 4, 2, dict(norm="rownorm", activation="leaky_relu", weights="uniform",
                      order="act_norm", residual=-0.7)),
    (10, 6, 5, 2, dict(norm="bn", activation="relu", order="act_norm",
                       gains=[1.3, 0.7, 2.0, 1.1, 0.9])),
    (5, 8, 3, 2, dict(norm="bn", activation="identity", weights="gaussian", weight_std=0.8)),
]


@pytest.mark.parametrize("d,n,L,B,kw", EXACT_CASES)
def test_gradients_equal_forward_backward_on_the_explicit_weights(d, n, L, B, kw):
    method = "box_muller" if d % 2 else "ziggurat"
    key = (987654 + d, 321 + n)
    rng = np.random.default_rng(d * 100 + n)
    X = rng.standard_normal((B, d, n))                                       # per-trial inputs
    labels = rng.integers(0, 3, size=n)
    spec = _spec(X, L, B, **kw)
    ref = _reference_log_grad(spec, X, key, method, labels)
    first = None
    for kc in (1, 2, L, L + 3):                        # must not depend on checkpoint_every
        out = nc.run_fused(spec, X, key, ALL, 1, 0.5, 10, method, 3, gradients=True,
                           labels=labels, checkpoint_every=kc)
        assert list(out["grad_layers"]) == list(range(1, L + 1))
        np.testing.assert_allclose(out["log_grad_norm"], ref, rtol=1e-8, atol=1e-9)
        if first is None:
            first = out
        else:
            for k in first:
                np.testing.assert_array_equal(out[k], first[k], err_msg=f"{k}, k_c={kc}")
    np.testing.assert_array_equal(first["labels"], labels)


def test_grad_layers_follow_record_every_and_shared_input():
    d, n, L = 12, 7, 7
    X = np.random.default_rng(1).standard_normal((d, n))
    labels = np.arange(n) % 4
    out = nc.simulate_chain_numba(X, L, trials=2, rng=np.random.default_rng(2), record_every=3,
                                  gradients=True, labels=labels, n_out=4, residual=0.5,
                                  norm="bn", activation="tanh", checkpoint_every=3)
    assert list(out["grad_layers"]) == [1, 3, 6] and out["log_grad_norm"].shape == (2, 3)
    spec = _spec(X, L, 2, n_out=4, residual=0.5, norm="bn", activation="tanh")
    key = philox.philox_key(np.random.default_rng(2))
    ref = _reference_log_grad(spec, X, key, "ziggurat", labels)
    np.testing.assert_allclose(out["log_grad_norm"], ref[:, [0, 2, 5]], rtol=1e-8, atol=1e-9)


def test_statistics_with_gradients_equal_the_forward_only_kernel():
    d, n, L, B = 10, 6, 9, 3
    X = np.random.default_rng(3).standard_normal((B, d, n))
    for kw in (dict(norm="bn", activation="tanh", gain_exponent=0.3),
               dict(norm="none", activation="relu", weights="gaussian")):
        spec = _spec(X, L, B, **kw)
        a = nc.run_fused(spec, X, (5, 6), ALL, 2, 0.5, 10)
        b = nc.run_fused(spec, X, (5, 6), ALL, 2, 0.5, 10, gradients=True,
                         labels=np.zeros(n, dtype=int), checkpoint_every=4)
        assert set(b) == set(a) | {"grad_layers", "log_grad_norm", "labels"}
        for k in a:
            np.testing.assert_array_equal(b[k], a[k], err_msg=k)


def test_zero_gradient_gives_minus_infinity():
    # one class: softmax ≡ 1, so ∂loss/∂logits = 0 exactly
    X = np.random.default_rng(4).standard_normal((5, 3))
    out = nc.simulate_chain_numba(X, 3, trials=2, rng=np.random.default_rng(5), gradients=True,
                                  n_out=1)
    assert np.all(out["log_grad_norm"] == -np.inf)


def test_driver_hands_gradients_to_the_fused_kernel(monkeypatch):
    X = np.random.default_rng(6).standard_normal((8, 5))
    kw = dict(trials=2, record=ALL, gradients=True, n_out=3, norm="bn", checkpoint_every=2)
    got = simulate_chain(X, 4, rng=np.random.default_rng(7), backend="numba", **kw)
    rng = np.random.default_rng(7)                      # the driver's draws: root, then labels
    root = tuple(int(v) for v in rng.integers(0, 2**63 - 1, size=2, dtype=np.int64))
    labels = rng.integers(0, 3, size=5)
    spec = _spec(X, 4, 2, norm="bn")
    want = nc.run_fused(spec, X, philox.key_from_root(root), ALL, 1, 0.5, 10, gradients=True,
                        labels=labels, checkpoint_every=2)
    assert got.keys() == want.keys()
    for k in want:
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)


# ---------------------------------------------------------------- law
LAW = [(8, 4, 4, dict()), (6, 6, 3, dict(norm="bn", activation="tanh", residual=0.5))]
ALPHA = 1e-5


def test_gradients_match_numpy_chain_in_distribution():
    n_tests = sum(L for (_, _, L, _) in LAW)
    for (d, n, L, kw) in LAW:
        X = np.random.default_rng(d).standard_normal((d, n))
        common = dict(trials=1000, record=("isometry_gap",), gradients=True, n_out=3,
                      labels=np.arange(n) % 3, **kw)
        a = simulate_chain(X, L, rng=np.random.default_rng(1), **common)["log_grad_norm"]
        b = nc.simulate_chain_numba(X, L, rng=np.random.default_rng(2), **common)["log_grad_norm"]
        for j in range(L):
            p = stats.ks_2samp(a[:, j], b[:, j]).pvalue
            assert p > ALPHA / n_tests, (d, n, kw, j, p)


def test_law_check_rejects_gradients_of_another_chain():
    d, n, L, kw = LAW[0]
    X = np.random.default_rng(d).standard_normal((d, n))
    common = dict(trials=1000, record=("isometry_gap",), gradients=True, n_out=3,
                  labels=np.arange(n) % 3)
    a = simulate_chain(X, L, rng=np.random.default_rng(1), **common)["log_grad_norm"]
    b = nc.simulate_chain_numba(X, L, rng=np.random.default_rng(2), weights="gaussian",
                                **common)["log_grad_norm"]
    assert min(stats.ks_2samp(a[:, j], b[:, j]).pvalue for j in range(L)) < 1e-8


# ---------------------------------------------------------------- errors
def test_forward_breakdown_with_gradients_names_the_layer():
    X = np.random.default_rng(9).standard_normal((5, 1))            # one sample: bn undefined
    with pytest.raises(ChainBreakdownError, match="layer 1"):
        nc.simulate_chain_numba(X, 3, trials=2, rng=np.random.default_rng(0), norm="bn",
                                gradients=True, n_out=2)


def test_backward_overflow_is_reported_with_the_layer():
    # sin is bounded, so the forward pass is finite; the gain 1e300 makes δ_2 ~ 1e299 and the
    # signal W_2ᵀ δ_2 at layer 1 overflows (its squared norm is inf): both engines refuse it
    X = np.random.default_rng(10).standard_normal((6, 4))
    kw = dict(trials=2, norm="none", activation="sin", gains=[1.0, 1e300], gradients=True,
              n_out=2)
    for run in (lambda: simulate_chain(X, 2, rng=np.random.default_rng(0), **kw),
                lambda: nc.simulate_chain_numba(X, 2, rng=np.random.default_rng(0), **kw)):
        with pytest.raises(ChainBreakdownError, match="layer 1, trial 0: the backward signal"):
            run()


@pytest.mark.parametrize("kwargs,name", [(dict(n_out=5), "n_out"),
                                         (dict(labels=np.array([0, 1, 7])), "labels"),
                                         (dict(labels=np.array([0, 1])), "labels"),
                                         (dict(checkpoint_every=0), "checkpoint_every")])
def test_bad_gradient_arguments_raise_value_error_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=name):
        nc.simulate_chain_numba(np.ones((4, 3)) + np.eye(4, 3), 2, trials=2,
                                rng=np.random.default_rng(0), gradients=True,
                                **{"n_out": 3, **kwargs})


def test_run_fused_requires_labels_for_gradients():
    X = np.ones((4, 3)) + np.eye(4, 3)
    with pytest.raises(ValueError, match="labels"):
        nc.run_fused(_spec(X, 2, 1), X, (1, 2), ("isometry_gap",), 1, 0.5, 10, gradients=True)
