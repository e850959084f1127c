"""depthcheck.kernels.backends.numba.reduced: the transposed layout of the reduced kernels.

The reduced chain keeps its state as Hᵀ (n, d) so that its Grams, its products with the fresh
Gaussian Z and its norm / activation pass run along contiguous columns. These pieces must be
exactly what they replace:

- the row pass on the transposed layout (``_scale_rows_t``) equals the row-at-a-time
  definition ``_rowops.nonlinear_row`` bit for bit, error codes included (hypothesis arrays with
  zero, huge, infinite and NaN rows);
- ``_rows_and_gram``'s two routes (the transposed fast route and the one through the (d, n)
  work arrays and ``trial._nonlinear`` / ``_finish``) give the same H_l, Gram and error, also
  where the Σ H² of the finiteness check overflows or nearly does;
- the vector-Jacobian product on the transposed layout (``_nonlinear_vjp_t``) equals the
  row-at-a-time ``_rowops.nonlinear_vjp_row`` bit for bit, and ``_vjp_t``'s two routes agree;
- ``_grad_norm_t`` (Gram form from the stored Gram of H) equals ``fused_grad._grad_norm``,
  also where cancellation sends both to the d×d product (duplicated columns);
- ``_gram_t`` and the products equal numpy's to rounding (every shape, chunk edges).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

from depthcheck.kernels.backends import _rowops as ro
from depthcheck.kernels.backends.numba import reduced as rd
from depthcheck.kernels.chain.codes import (ACT_CODES, ERR_NONE, ERR_NONFINITE, ERR_NORM_ZERO,
                                            NORM_CODES)

# the row-at-a-time definition and the hypothesis cases (zero, huge, infinite, NaN rows) of
# the (d, n) batched row pass's tests, shared
from .test_trial_rows import _bits, _per_row, row_pass_cases


@settings(max_examples=80, deadline=None)
@row_pass_cases
def test_transposed_row_pass_equals_the_row_at_a_time_definition(A, norm, act, g):
    code, acode = NORM_CODES[norm], ACT_CODES[act]
    e_ref, H_ref, rn_ref = _per_row(A, code, acode, g)
    d, n = A.shape
    At = np.ascontiguousarray(A.T)
    Ht = np.full((n, d), -7.0)
    rn, iv = np.full(d, -1.0), np.empty(d)
    e = rd._scale_rows_t(At, Ht, code, acode, g, rn, iv)
    assert e == e_ref
    if e == ERR_NONE:
        assert np.array_equal(_bits(Ht.T), _bits(H_ref))
        assert np.array_equal(_bits(rn), _bits(rn_ref))
    else:
        assert e == ERR_NORM_ZERO


def _both_routes(A, norm, act, g):
    """(error, Hᵀ, G upper, rn) from ``_rows_and_gram``'s fast and generic routes."""
    d, n = A.shape
    out = []
    for fast in (True, False):
        At = np.ascontiguousarray(A.T)
        Ht = np.full((n, d), -7.0)
        G = np.zeros((n, n))
        rn = np.full(d, -1.0)
        e, ls = rd._rows_and_gram(At, Ht, np.empty((d, n)), np.empty((d, n)), rn, np.empty(d),
                                  G, fast, NORM_CODES[norm], ACT_CODES[act], 0, g, False)
        assert ls == 0.0
        out.append((e, Ht, np.triu(G), rn))
    return out


@pytest.mark.parametrize("norm", ["rownorm", "bn_nomean"])
@pytest.mark.parametrize("act", ["identity", "tanh", "relu"])
def test_fast_and_generic_routes_agree(norm, act):
    rng = np.random.default_rng(3)
    A = rng.standard_normal((300, 7))                     # 300: not a multiple of the chunk
    (e1, H1, G1, r1), (e2, H2, G2, r2) = _both_routes(A, norm, act, 1.3)
    assert e1 == e2 == ERR_NONE
    assert np.array_equal(_bits(H1), _bits(H2))
    assert np.array_equal(_bits(G1), _bits(G2))
    assert np.array_equal(_bits(r1), _bits(r2))
    np.testing.assert_allclose(G1, np.triu(H1 @ H1.T), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("g,expected", [(1e149, ERR_NONE),     # Σ H² ~ 1e301: finite
                                        (1e156, ERR_NONFINITE),  # H² overflows
                                        (1e200, ERR_NONFINITE)])
def test_finiteness_beyond_the_trace_shortcut_is_decided_as_finish(g, expected):
    """rownorm + identity puts every row at norm g: a trace >= 1e300 takes the sequential sum,
    which must decide exactly as ``trial._finish`` (the generic route)."""
    A = np.random.default_rng(4).standard_normal((4096, 8))
    (e1, H1, _, _), (e2, H2, _, _) = _both_routes(A, "rownorm", "identity", g)
    assert e1 == e2 == expected
    if expected == ERR_NONE:
        assert np.array_equal(_bits(H1), _bits(H2))


def test_zero_row_is_reported_on_both_routes():
    A = np.random.default_rng(5).standard_normal((50, 4))
    A[17] = 0.0
    (e1, *_), (e2, *_) = _both_routes(A, "bn_nomean", "tanh", 1.0)
    assert e1 == e2 == ERR_NORM_ZERO


@settings(max_examples=40, deadline=None)
@given(k=st.integers(1, 9), p=st.integers(1, 3 * rd.GRAM_CHUNK + 5), seed=st.integers(0, 99))
def test_gram_t_and_products_equal_numpy(k, p, seed):
    rng = np.random.default_rng(seed)
    Mt = rng.standard_normal((k, p))
    G = np.full((k, k), 5.0)
    rd._gram_t(Mt, G)
    ref = Mt @ Mt.T
    iu = np.triu_indices(k)
    np.testing.assert_allclose(G[iu], ref[iu], rtol=1e-12, atol=1e-12 * p)
    assert np.all(G[np.tril_indices(k, -1)] == 5.0)      # the lower triangle is left alone
    iw, dw, cw = np.empty(8, np.int32), np.empty(2), np.empty(2, np.uint8)
    Q = rng.standard_normal((k, 3))
    out = np.empty((3, p))
    rd._mul_tt(Mt, Q, out, 0.5, iw, dw, cw)                # (0.5 Z Q)ᵀ
    np.testing.assert_allclose(out, 0.5 * (Mt.T @ Q).T, rtol=1e-12, atol=1e-12)
    D = rng.standard_normal((p, 4))
    P = np.empty((k, 4))
    Dt = np.ascontiguousarray(D.T)
    rd._abt(Mt, Dt, P, iw, dw, cw)                         # Zᵀ D from Zᵀ and Dᵀ
    np.testing.assert_allclose(P, Mt @ D, rtol=1e-12, atol=1e-12 * p)
    E = rng.standard_normal((3, p))
    want = E - 2.0 * (Mt.T @ Q).T
    rd._mul_tt(Mt, Q, E, -2.0, iw, dw, cw, 1.0)            # Eᵀ − 2 Z Q, transposed
    np.testing.assert_allclose(E, want, rtol=1e-12, atol=1e-12)


def _vjp_per_row(A, dH, norm, act, g):
    dA = np.empty_like(A)
    y = np.empty(A.shape[1])
    with np.errstate(all="ignore"):
        for i in range(A.shape[0]):
            ro.nonlinear_vjp_row(norm, act, 0, g, A[i], dH[i], dA[i], y)
    return dA


@settings(max_examples=60, deadline=None)
@given(shape=st.tuples(st.integers(1, 40), st.integers(1, 9)), seed=st.integers(0, 999),
       norm=st.sampled_from(["rownorm", "bn_nomean"]), act=st.sampled_from(list(ACT_CODES)),
       g=st.floats(0.1, 3.0), zero_entries=st.booleans())
def test_transposed_vjp_equals_the_row_at_a_time_definition(shape, seed, norm, act, g,
                                                             zero_entries):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal(shape)
    dH = rng.standard_normal(shape)
    if zero_entries and shape[1] > 1:    # signed zeros in y·da (the sums must start from
        A[:, 0] = -0.0                   # 0.0); rows stay nonzero, as after a forward pass
        dH[:, -1] = 0.0
    code, acode = NORM_CODES[norm], ACT_CODES[act]
    ref = _vjp_per_row(A, dH, code, acode, g)
    d, n = shape
    At, dHt = np.ascontiguousarray(A.T), np.ascontiguousarray(dH.T)
    dAt, Yt = np.empty((n, d)), np.empty((n, d))
    w = [np.empty(d) for _ in range(3)]
    rd._nonlinear_vjp_t(At, dHt, dAt, Yt, *w, code, acode, g)
    assert np.array_equal(_bits(dAt.T), _bits(ref))
    dAt2 = np.empty((n, d))
    work = [np.empty((d, n)) for _ in range(4)]
    rd._vjp_t(At, dHt, dAt2, Yt, *work, *w, False, code, acode, 0, g)   # the generic route
    assert np.array_equal(_bits(dAt2), _bits(dAt))


@pytest.mark.parametrize("duplicated", [False, True])
def test_grad_norm_t_equals_the_fused_grad_norm(duplicated):
    from depthcheck.kernels.backends.numba.fused_grad import _grad_norm
    rng = np.random.default_rng(8)
    d, n = 200, 6
    H = rng.standard_normal((d, n))
    dA = rng.standard_normal((d, n))
    if duplicated:                       # ‖dA Hᵀ‖ ~ 0 by cancellation: the d×d product decides
        H[:, 1] = H[:, 0]
        dA[:, 1] = -dA[:, 0]
        H[:, 2:] = 0.0
        dA[:, 2:] = 0.0
    iw, dw, cw = np.empty(8, np.int32), np.empty(2), np.empty(2, np.uint8)
    ref = _grad_norm(dA, H, np.empty((n, n)), np.empty((n, n)), iw, dw, cw)
    Ht, dAt = np.ascontiguousarray(H.T), np.ascontiguousarray(dA.T)
    GH = np.empty((n, n))
    rd._gram_t(Ht, GH)
    got = rd._grad_norm_t(dAt, Ht, GH, np.empty((n, n)), np.empty((d, n)), np.empty((d, n)),
                          iw, dw, cw)
    exact = np.linalg.norm(dA @ H.T)
    assert got == pytest.approx(ref, rel=1e-12, abs=1e-300)
    assert got == pytest.approx(exact, rel=1e-10, abs=1e-13)


def _explicit_product(V, beta, nr):
    """P_0 ⋯ P_{nr-1}, P_j = I − beta_j v_j v_jᵀ with v_j = V[j, j:] (zeros before j)."""
    p = V.shape[1]
    P = np.eye(p)
    for j in range(nr):
        v = np.zeros(p)
        v[j:] = V[j, j:]
        P = P @ (np.eye(p) - beta[j] * np.outer(v, v))
    return P


@settings(max_examples=40, deadline=None)
@given(p=st.integers(1, 40), c=st.integers(1, 6), nr=st.integers(0, 7), seed=st.integers(0, 99),
       transpose=st.booleans())
def test_reflectors_two_at_a_time_equal_the_explicit_product(p, c, nr, seed, transpose):
    """``_apply_reflectors`` (pairs of reflectors per pass) against P = P_0 ⋯ P_{nr-1} formed
    explicitly from ``_house_qr``'s reflectors of a random matrix (an odd count included)."""
    rng = np.random.default_rng(seed)
    nr = min(nr, p, c + 3)
    k = max(nr, 1)
    Mt = rng.standard_normal((k, p))
    V, beta, R = np.zeros((k, p)), np.empty(k), np.empty((k, k))
    if nr > 0:
        rd._house_qr(Mt[:nr].copy(), V[:nr], beta[:nr], R[:nr, :nr])
    P = _explicit_product(V, beta, nr)
    Yt = rng.standard_normal((c, p))
    want = (P.T if transpose else P) @ Yt.T
    rd._apply_reflectors(V, beta, nr, Yt, transpose)
    np.testing.assert_allclose(Yt.T, want, rtol=1e-12, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(d=st.integers(4, 300), n=st.integers(1, 8), inside=st.floats(0.0, 0.999999),
       seed=st.integers(0, 999))
@example(d=200, n=8, inside=0.0, seed=1)       # no cancellation: must be taken
@example(d=200, n=8, inside=0.9, seed=2)       # trace ratio 10: must be refused
@example(d=60, n=4, inside=0.999999, seed=3)   # near-total cancellation
def test_rc_from_the_gram_difference_is_certified(d, n, inside, seed):
    """R_C from δᵀδ − (Q_Zᵀδ)ᵀ(Q_Zᵀδ): taken only when the cancellation test passes, and then
    RᵀR equals CᵀC of the explicitly formed C = δ − Q_Z Q_Zᵀ δ to ~d·eps relative; δ is given
    a share ``inside`` of its energy in span(Z), so heavy cancellation (inside near 1) must be
    refused."""
    n = min(n, d // 2)
    if n == 0:
        return
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((d, n))
    Q, _ = np.linalg.qr(Z)
    D = rng.standard_normal((d, n))
    D_in = Q @ (Q.T @ D)
    D_out = D - D_in
    delta = (np.sqrt(inside) * D_in / np.linalg.norm(D_in)
             + np.sqrt(1 - inside) * D_out / np.linalg.norm(D_out))
    Y = Q.T @ delta
    Gd = np.empty((n, n))
    rd._gram_t(np.ascontiguousarray(delta.T), Gd)
    RC = np.full((n, n), 7.0)
    ok = rd._rc_from_gram_difference(Gd, np.ascontiguousarray(Y), RC, np.empty(8, np.int32),
                                     np.empty(2, np.uint8))
    C = delta - Q @ Y
    trace_ratio = np.trace(delta.T @ delta) / np.trace(C.T @ C)
    if trace_ratio > 1.01 * rd.RC_CANCEL_MAX:
        assert not ok
    if inside == 0.0:
        assert ok
    if ok:
        assert trace_ratio <= 1.01 * rd.RC_CANCEL_MAX
        assert np.all(np.tril(RC, -1) == 0.0) and np.all(np.diag(RC) > 0)
        CtC = C.T @ C
        np.testing.assert_allclose(RC.T @ RC, CtC, rtol=0,
                                   atol=1e-12 * d * np.trace(delta.T @ delta))


@settings(max_examples=60, deadline=None)
@given(p=st.integers(1, 30), c=st.integers(1, 9), seed=st.integers(0, 999),
       degenerate=st.sampled_from(["none", "zero", "duplicate"]))
def test_house_qr_reconstructs_its_matrix(p, c, seed, degenerate):
    """``_house_qr``: M = P_0 ⋯ P_{k-1} [R; 0]
    with R upper trapezoidal, for any shape (c > p included) and rank (zero or duplicated
    columns), and for full rank R's rows agree with numpy's QR up to sign."""
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((p, c))
    if degenerate == "zero" and c > 1:
        M[:, 1] = 0.0
    if degenerate == "duplicate" and c > 2:
        M[:, 2] = M[:, 0]
    k = min(c, p)
    V, beta, R = np.zeros((k, p)), np.empty(k), np.full((k, c), 9.0)
    rd._house_qr(M.T.copy(), V, beta, R)            # a copy: Mt is destroyed
    assert np.all(R[np.tril_indices(k, -1, c)] == 0.0)
    P = _explicit_product(V, beta, k)
    Rfull = np.zeros((p, c))
    Rfull[:k] = R
    scale = max(1.0, np.abs(M).max())
    np.testing.assert_allclose(P @ Rfull, M, rtol=0, atol=1e-12 * scale * p)
    np.testing.assert_allclose(P.T @ P, np.eye(p), rtol=0, atol=1e-12 * p)
    if degenerate == "none":             # full rank: R is unique up to the rows' signs
        Rnp = np.linalg.qr(M, mode="r")[:k]
        np.testing.assert_allclose(np.abs(R), np.abs(Rnp), rtol=0, atol=1e-10 * scale * p)
