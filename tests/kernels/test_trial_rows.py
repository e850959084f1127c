"""depthcheck.kernels.backends.numba.trial: the batched row pass (``_nonlinear`` for norm_act with
rownorm / bn_nomean) and the finiteness check of ``_finish`` are speed-ups that must not change a
single bit: every fused chain (and so every stored verdict) goes through them.

Oracle: the row-at-a-time definition, ``_rowops.nonlinear_row`` (the code the CUDA kernels
compile), and the sequential sum of squares written here; values compared bit for bit, error
codes exactly, on hypothesis-drawn arrays that include zero, huge, infinite and NaN rows.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from depthcheck.kernels.backends import _rowops as ro
from depthcheck.kernels.backends.numba import trial as tr
from depthcheck.kernels.chain.codes import (ACT_CODES, ERR_NONE, ERR_NONFINITE, ERR_NORM_ZERO,
                                            NORM_CODES)

SPECIAL = st.sampled_from([0.0, -0.0, 1e-300, 1e155, -1e160, np.inf, -np.inf, np.nan])
ELEMENTS = st.one_of(st.floats(-1e3, 1e3, allow_nan=False), SPECIAL)
#: the cases of a row pass (also tests/kernels/test_reduced_layout.py): arrays with zero,
#: huge, infinite and NaN rows, the two batched norms, every activation, a gain
row_pass_cases = given(
    A=hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=12),
                 elements=ELEMENTS),
    norm=st.sampled_from(["rownorm", "bn_nomean"]), act=st.sampled_from(list(ACT_CODES)),
    g=st.floats(0.1, 3.0))


def _per_row(A, norm, act, g):
    """The definition: ``nonlinear_row`` row by row, stopping at the first failing row."""
    A = A.copy()
    rn = np.full(A.shape[0], -1.0)
    with np.errstate(all="ignore"):              # overflow / inf - inf are the point here
        for i in range(A.shape[0]):
            e, r = ro.nonlinear_row(norm, act, 0, g, A[i])
            rn[i] = r
            if e != ERR_NONE:
                return e, A, rn
    return ERR_NONE, A, rn


def _bits(x):
    return np.ascontiguousarray(x).view(np.uint64)


@settings(max_examples=60, deadline=None)
@row_pass_cases
def test_batched_row_pass_equals_the_row_at_a_time_definition(A, norm, act, g):
    code, acode = NORM_CODES[norm], ACT_CODES[act]
    e_ref, H_ref, rn_ref = _per_row(A, code, acode, g)
    H = A.copy()
    rn = np.full(A.shape[0], -1.0)
    e = tr._nonlinear(H, code, acode, 0, g, rn)
    assert e == e_ref
    if e == ERR_NONE:
        assert np.array_equal(_bits(H), _bits(H_ref))
        assert np.array_equal(_bits(rn), _bits(rn_ref))
    else:
        assert e == ERR_NORM_ZERO


def test_batched_row_pass_reports_a_zero_row_and_normalises_rows_of_eight():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((1024, 8))
    H, rn = A.copy(), np.empty(1024)
    assert tr._nonlinear(H, NORM_CODES["rownorm"], ACT_CODES["identity"], 0, 1.0, rn) == ERR_NONE
    np.testing.assert_allclose(np.linalg.norm(H, axis=1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(rn, np.linalg.norm(A, axis=1), rtol=1e-14)
    A[700] = 0.0
    assert tr._nonlinear(A.copy(), NORM_CODES["bn_nomean"], 0, 0, 1.0, rn) == ERR_NORM_ZERO


def _finish_reference(A, H, rescale):
    """``_finish`` as it was written before the four partial sums: one sequential Σ v²."""
    s2 = 0.0
    with np.errstate(all="ignore"):
        for v in A.ravel():
            s2 += v * v
    H[:] = A
    if rescale:
        s = math.sqrt(s2)
        if not (0 < s < np.inf):
            return "rescale", None
        H /= s
        return ERR_NONE, math.log(s)
    return (ERR_NONE if s2 < np.inf else ERR_NONFINITE), 0.0


@settings(max_examples=60, deadline=None)
@given(A=hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=10),
                    elements=ELEMENTS))
def test_finish_without_rescale_copies_and_flags_exactly_the_non_finite_sums(A):
    H = np.full_like(A, 7.0)
    e, ls = tr._finish(A, H, False)
    e_ref, _ = _finish_reference(A, np.empty_like(A), False)
    assert (e, ls) == (e_ref, 0.0)
    assert np.array_equal(_bits(H), _bits(A))


@pytest.mark.parametrize("big", [1e150, 1e153, 9.48e153])
def test_finish_decides_sums_near_overflow_by_the_sequential_sum(big):
    """Finite values whose squares sum to ~1e300..1e308 (or overflow): the partial sums defer to
    the sequential sum, which alone defines the verdict."""
    A = np.full((3, 4), big)
    e_ref, _ = _finish_reference(A, np.empty_like(A), False)
    e, _ = tr._finish(A, np.empty_like(A), False)
    assert e == e_ref
    assert (e == ERR_NONFINITE) == (12 * big * big == math.inf)


@settings(max_examples=60, deadline=None)
@given(shape=hnp.array_shapes(min_dims=2, max_dims=2, max_side=12), seed=st.integers(0, 2**32 - 1),
       norm=st.sampled_from(["rownorm", "bn_nomean"]), act=st.sampled_from(list(ACT_CODES)),
       g=st.floats(0.1, 3.0), scale=st.sampled_from([1e-150, 1.0, 1e150]))
def test_batched_vjp_equals_the_row_at_a_time_definition(shape, seed, norm, act, g, scale):
    """``fused_grad._nonlinear_vjp`` (norm_act, rownorm / bn_nomean: batched) against
    ``_rowops.nonlinear_vjp_row`` row by row, bit for bit (rows that passed the forward: nonzero)."""
    from depthcheck.kernels.backends.numba.fused_grad import _nonlinear_vjp
    rng = np.random.default_rng(seed)
    A = scale * rng.standard_normal(shape)
    dH = rng.standard_normal(shape)
    code, acode = NORM_CODES[norm], ACT_CODES[act]
    ref, Y = np.empty_like(A), np.empty_like(A)
    for i in range(A.shape[0]):
        ro.nonlinear_vjp_row(code, acode, 0, g, A[i], dH[i], ref[i], Y[i])
    dA = np.full_like(A, np.nan)
    _nonlinear_vjp(A, dH, dA, np.empty_like(A), code, acode, 0, g)
    assert np.array_equal(_bits(dA), _bits(ref))
