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
- ``_gram_t`` and the three products equal numpy's to rounding (every shape, chunk edges).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from depthcheck.kernels.backends import _rowops as ro
from depthcheck.kernels.backends.numba import reduced as rd
from depthcheck.kernels.chain.codes import (ACT_CODES, ERR_NONE, ERR_NONFINITE, ERR_NORM_ZERO,
                                            NORM_CODES)

SPECIAL = st.sampled_from([0.0, -0.0, 1e-300, 1e155, -1e160, np.inf, -np.inf, np.nan])
ELEMENTS = st.one_of(st.floats(-1e3, 1e3, allow_nan=False), SPECIAL)


def _bits(x):
    return np.ascontiguousarray(x).view(np.uint64)


def _per_row(A, norm, act, g):
    """The definition: ``nonlinear_row`` on each row of A (d, n), stopping at the first
    failing row."""
    A = A.copy()
    rn = np.full(A.shape[0], -1.0)
    with np.errstate(all="ignore"):
        for i in range(A.shape[0]):
            e, r = ro.nonlinear_row(norm, act, 0, g, A[i])
            rn[i] = r
            if e != ERR_NONE:
                return e, A, rn
    return ERR_NONE, A, rn


@settings(max_examples=80, deadline=None)
@given(A=hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=12),
                    elements=ELEMENTS),
       norm=st.sampled_from(["rownorm", "bn_nomean"]), act=st.sampled_from(list(ACT_CODES)),
       g=st.floats(0.1, 3.0))
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
    C = rng.standard_normal((p, 3))
    want = C - Mt.T @ Q
    rd._mul_t(Mt, Q, C, -1.0, 1.0, iw, dw, cw)             # C − Z Q
    np.testing.assert_allclose(C, want, rtol=1e-12, atol=1e-12)
    D = rng.standard_normal((p, 4))
    P = np.empty((k, 4))
    rd._tmul_t(Mt, D, P, iw, dw, cw)                       # Zᵀ D
    np.testing.assert_allclose(P, Mt @ D, rtol=1e-12, atol=1e-12 * p)
