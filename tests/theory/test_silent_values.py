"""Issue 13, section 2 (theory): no silently wrong value, no silent minute-long computation.

Each test failed before its fix.
"""
import time
from fractions import Fraction

import numpy as np
import pytest

from depthcheck.theory.rank import soft_rank
from depthcheck.theory.weingarten import (haar_moment_orthogonal, haar_moment_unitary,
                                          weingarten_orthogonal, weingarten_orthogonal_table,
                                          weingarten_unitary, weingarten_unitary_table)


def test_moment_index_checked_against_every_d_of_an_array():
    # before: index 2 at d = 2 was accepted and returned 0.5 in the d = 2 slot
    with pytest.raises(ValueError, match=r"rows holds index 2.*min\(d\)=2"):
        haar_moment_orthogonal((0, 0, 2, 2), (0, 0, 0, 0), np.array([2, 5]))
    with pytest.raises(ValueError, match=r"i holds index 2.*min\(d\)=2"):
        haar_moment_unitary((2,), (0,), (2,), (0,), [5, 2])
    # within range: agrees with the exact value at each d
    got = haar_moment_orthogonal((0, 0, 1, 1), (0, 0, 0, 0), np.array([2, 5]))
    want = [float(haar_moment_orthogonal((0, 0, 1, 1), (0, 0, 0, 0), d)) for d in (2, 5)]
    np.testing.assert_allclose(got, want, rtol=1e-14)


@pytest.mark.parametrize("d", [2.0 ** 63, [3, 2.0 ** 64], np.array([1e19])])
def test_float_d_beyond_int64_is_refused(d):
    # before: astype(int64) wrapped around and Wg came back 0.0
    with pytest.raises(ValueError, match=r"2\*\*63"):
        weingarten_orthogonal((1,), d)


def test_float_d_below_int64_is_exact_enough():
    d = 2.0 ** 62
    np.testing.assert_allclose(weingarten_orthogonal((1,), d), 1 / d, rtol=1e-15)
    assert weingarten_orthogonal((1,), 2 ** 70) == Fraction(1, 2 ** 70)   # Python int: exact


@pytest.mark.parametrize("tau", ["0.5", False, True, np.bool_(False), 0.5 + 0j, None,
                                 np.array(True), [0.5]])
def test_soft_rank_refuses_non_real_tau(tau):
    with pytest.raises(ValueError, match="tau"):
        soft_rank(np.eye(3), tau)


@pytest.mark.parametrize("tau", [0, 0.5, np.float32(0.5), Fraction(1, 2), np.array(0.5)])
def test_soft_rank_real_tau_still_accepted(tau):
    assert soft_rank(np.diag([2.0, 1.0]), tau) in (1, 2)


@pytest.mark.parametrize("call", [
    lambda **kw: haar_moment_orthogonal((0,) * 12, (0,) * 12, 20, **kw),           # degree 12
    lambda **kw: weingarten_orthogonal_table(11, 20, **kw),                        # k = 11
    lambda **kw: weingarten_orthogonal((11,), 20, **kw),
    lambda **kw: weingarten_unitary((20,), 30, **kw),
    lambda **kw: weingarten_unitary_table(20, 30, **kw),
    lambda **kw: haar_moment_unitary((0,) * 8, (0,) * 8, (0,) * 8, (0,) * 8, 9, **kw),
])
def test_slow_calls_need_opt_in_and_refuse_at_once(call):
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=r"estimated to take about .* s.*allow_slow=True"):
        call()
    assert time.perf_counter() - t0 < 1.0   # refused before any work
    with pytest.raises(ValueError, match="allow_slow must be a bool"):
        call(allow_slow="yes")


def test_fast_calls_need_no_opt_in():
    # the sizes the repository itself uses (degree <= 8 moments, tables up to k = 7)
    assert haar_moment_orthogonal((0,) * 8, (0,) * 8, 4) == haar_moment_orthogonal(
        (0,) * 8, (0,) * 8, 4, allow_slow=True)
    assert len(weingarten_orthogonal_table(7, 10)) == 15
    assert haar_moment_unitary((0, 1), (0, 0), (1, 0), (0, 0), 3) == Fraction(1, 12)


def test_opt_in_runs_the_computation():
    # degree-6 orthogonal table with every index equal: cheap, but forced through the opt-in path
    v = haar_moment_orthogonal((0,) * 6, (0,) * 6, 3, allow_slow=True)
    assert v == Fraction(15, 3 * 5 * 7)   # E[O_11^6] = 15/(d(d+2)(d+4))
