"""depthcheck.kernels.random.householder: compact-WY blocks vs the reflection loop (exact) and Haar moments (law).

Oracles: ``depthcheck.kernels.random.haar.apply_householder_haar`` (one reflection at a time) on the same packed
vectors, explicit products of the reflections, and the exact Haar moments of O(d)
(E[O11²] = 1/d, E[O11⁴] = 3/(d(d+2)), E[O11² O22²] = (d+1)/(d(d-1)(d+2)),
E[O11 O12 O21 O22] = -1/(d(d-1)(d+2))) with 5-sigma tolerances from the standard error.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st
from scipy import stats

import depthcheck.kernels.random.householder as hh
from depthcheck.kernels.random.haar import (apply_haar, apply_householder_haar, haar_householder_vectors)
from depthcheck.kernels.random.householder import (apply_haar_blocked, apply_householder_blocked, householder_unit_vectors, wy_block_factor)

Z_MAX = 5.0
P_MIN = 5.7e-7          # two-sided 5 sigma
N_MC = 20_000


@given(d=st.integers(1, 23), n=st.integers(1, 7), block=st.integers(1, 25),
       batch=st.sampled_from([(), (2,), (2, 3)]), seed=st.integers(0, 2**32 - 1))
def test_blocked_equals_reflection_loop(d, n, block, batch, seed):
    rng = np.random.default_rng(seed)
    V = haar_householder_vectors(batch, d, rng)
    H = rng.standard_normal(batch + (d, n))
    ref = apply_householder_haar(V, H)
    out = apply_householder_blocked(V, H, block=block)
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-12 * max(1.0, np.abs(H).max()))
    back = apply_householder_blocked(V, out, block=block, transpose=True)      # Wᵀ W = I
    np.testing.assert_allclose(back, H, rtol=0, atol=1e-12 * max(1.0, np.abs(H).max()))


@pytest.mark.parametrize("d,block", [(9, 4), (16, 16), (17, 5), (2, 3), (1, 1)])
def test_transpose_is_the_matrix_transpose(d, block):
    rng = np.random.default_rng(d)
    V = haar_householder_vectors((3,), d, rng)
    eye = np.broadcast_to(np.eye(d), (3, d, d))
    W = apply_householder_blocked(V, eye, block=block)
    Wt = apply_householder_blocked(V, eye, block=block, transpose=True)
    np.testing.assert_allclose(Wt, np.swapaxes(W, -1, -2), atol=1e-13)
    np.testing.assert_allclose(W @ Wt, eye, atol=1e-13)


def test_broadcasting_shared_weights_and_shared_input():
    rng = np.random.default_rng(3)
    V1 = haar_householder_vectors((), 6, rng)                   # one W for a batch of H
    H = rng.standard_normal((4, 6, 3))
    np.testing.assert_allclose(apply_householder_blocked(V1, H, block=2),
                               apply_householder_haar(V1, H), atol=1e-13)
    V4 = haar_householder_vectors((4,), 6, rng)                 # a batch of W for one H
    np.testing.assert_allclose(apply_householder_blocked(V4, H[0], block=4),
                               apply_householder_haar(V4, H[0]), atol=1e-13)


def test_zero_vectors_are_identity_reflections_as_in_the_loop():
    rng = np.random.default_rng(4)
    V = haar_householder_vectors((2,), 7, rng)
    V[:, 2:, 2] = 0.0                                           # x_2 = 0: P_2 = I
    H = rng.standard_normal((2, 7, 3))
    np.testing.assert_allclose(apply_householder_blocked(V, H, block=3),
                               apply_householder_haar(V, H), atol=1e-13)


def test_wy_factor_is_the_product_of_reflections():
    rng = np.random.default_rng(5)
    m, b = 9, 4
    U = np.tril(rng.standard_normal((m, b)))
    U /= np.linalg.norm(U, axis=0)
    tau = np.full(b, 2.0)
    T = wy_block_factor(U, tau)
    P = np.eye(m)
    for i in range(b):
        P = P @ (np.eye(m) - 2.0 * np.outer(U[:, i], U[:, i]))
    np.testing.assert_allclose(np.eye(m) - U @ T @ U.T, P, atol=1e-13)
    assert np.allclose(T, np.triu(T))


def test_apply_haar_blocked_shares_the_random_stream_of_apply_haar():
    H = np.random.default_rng(6).standard_normal((3, 11, 4))
    a = apply_haar(H, np.random.default_rng(7))
    b = apply_haar_blocked(H, np.random.default_rng(7), block=4)
    np.testing.assert_allclose(b, a, atol=1e-12)


def _moment_z(O):
    d = O.shape[-1]
    o11, o12, o21, o22 = O[:, 0, 0], O[:, 0, 1], O[:, 1, 0], O[:, 1, 1]
    m4 = 3 / (d * (d + 2))

    def z(x, mean, var=None):
        var = x.var(ddof=1) if var is None else var
        return (x.mean() - mean) / np.sqrt(var / x.size)
    return {
        "E[O11]=0": z(o11, 0.0, 1 / d),
        "E[O11^2]": z(o11**2, 1 / d, m4 - 1 / d**2),
        "E[O11^4]": z(o11**4, m4, 105 / (d * (d + 2) * (d + 4) * (d + 6)) - m4**2),
        "E[O11^2 O22^2]": z(o11**2 * o22**2, (d + 1) / (d * (d - 1) * (d + 2))),
        "E[O11 O12 O21 O22]": z(o11 * o12 * o21 * o22, -1 / (d * (d - 1) * (d + 2))),
    }


def _det_sign_p(O):
    return stats.binomtest(int(np.sum(np.linalg.det(O) < 0)), O.shape[0], 0.5).pvalue


@pytest.mark.parametrize("d,block", [(3, 1), (5, 2)])
def test_blocked_haar_has_exact_haar_moments(d, block):
    W = apply_haar_blocked(np.broadcast_to(np.eye(d), (N_MC, d, d)),
                           np.random.default_rng(100 + d), block=block)
    bad = {k: v for k, v in _moment_z(W).items() if not abs(v) < Z_MAX}
    assert bad == {}
    assert _det_sign_p(W) > P_MIN


def test_moment_check_rejects_a_blocked_variant_without_the_sign_matrix(monkeypatch):
    real = hh.householder_unit_vectors

    def no_sign_fix(vectors):
        U, tau, D = real(vectors)
        return U, tau, np.ones_like(D)                          # forget D (Mezzadri's fix)
    monkeypatch.setattr(hh, "householder_unit_vectors", no_sign_fix)
    d = 4
    W = apply_haar_blocked(np.broadcast_to(np.eye(d), (N_MC, d, d)),
                           np.random.default_rng(9), block=2)
    assert np.allclose(np.swapaxes(W, -1, -2) @ W, np.eye(d), atol=1e-12)   # still orthogonal
    assert _det_sign_p(W) < P_MIN                               # det = (-1)^(d-1) always
    assert any(abs(v) >= Z_MAX for v in _moment_z(W).values())


def test_unit_vectors_and_signs():
    rng = np.random.default_rng(10)
    V = haar_householder_vectors((), 5, rng)
    U, tau, D = householder_unit_vectors(V)
    np.testing.assert_allclose(np.linalg.norm(U[:, :4], axis=0), 1.0, atol=1e-15)
    assert np.all(U[:, 4] == 0) and tau[4] == 0 and np.all(tau[:4] == 2)
    s = np.where(np.diag(V) >= 0, 1.0, -1.0)
    np.testing.assert_array_equal(D, np.r_[-s[:4], s[4]])


@pytest.mark.parametrize("kwargs,name", [
    (dict(vectors=np.zeros((3, 4)), H=np.zeros((3, 2))), "vectors"),
    (dict(vectors=np.zeros((3, 3)), H=np.zeros((4, 2))), "H"),
    (dict(vectors=np.zeros((2, 3, 3)), H=np.zeros((5, 3, 2))), "batch"),
    (dict(vectors=np.zeros((3, 3)), H=np.full((3, 2), np.nan)), "H"),
    (dict(vectors=np.zeros((3, 3)), H=np.zeros((3, 2)), block=0), "block"),
    (dict(vectors=np.zeros((3, 3)), H=np.zeros((3, 2)), transpose="yes"), "transpose"),
])
def test_bad_input_raises_value_error_naming_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        apply_householder_blocked(**kwargs)


def test_apply_haar_blocked_requires_a_generator():
    with pytest.raises(ValueError, match="rng"):
        apply_haar_blocked(np.eye(3), 0)
