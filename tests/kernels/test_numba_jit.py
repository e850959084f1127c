"""``njit_noalloc`` (``depthcheck.kernels.backends.numba._jit``): the kernels' inner functions
compiled without numba's runtime (NRT), so without reference counting.

What must hold: (1) such a function cannot allocate, directly or through a helper, nor return
an array it was not given: numba refuses at compile time, so the borrowed-argument rule cannot
be broken at run time; (2) every numba chain engine, whose helpers are now NRT-free, leaves no
live allocation behind (NRT's own allocation counters, with a positive control showing that the
counters see a live array)."""
from __future__ import annotations

import gc

import numpy as np
import pytest
from numba import njit
from numba.core.runtime import _nrt_python, rtsys

from depthcheck.kernels.backends.numba._jit import njit_noalloc
from depthcheck.kernels.chain.driver import simulate_chain
from depthcheck.kernels.chain.rank import rank_chain

REFUSED = "NRT required but not enabled|Only accept returning of array passed"


def test_a_noalloc_function_cannot_allocate():
    @njit_noalloc
    def direct(x):
        y = np.empty(3)
        y[0] = x[0]
        return y[0]

    @njit
    def allocating_helper(x):
        return np.sum(x * 2.0)

    @njit_noalloc
    def through_a_helper(x):
        return allocating_helper(x)

    for fn in (direct, through_a_helper):
        with pytest.raises(Exception, match=REFUSED):
            fn(np.ones(3))


def test_a_noalloc_function_returns_only_arrays_it_was_given():
    @njit_noalloc
    def view(x):
        return x

    @njit_noalloc
    def slice_of(x):
        return x[1:]

    a = np.arange(4.0)
    assert view(a) is not None and np.shares_memory(view(a), a)
    with pytest.raises(Exception, match=REFUSED):
        slice_of(a)


def test_noalloc_options_pass_through():
    @njit_noalloc(error_model="numpy")
    def ratio(x, y):
        return x / y

    assert np.isinf(ratio(1.0, 0.0))            # numpy error model: no ZeroDivisionError


@pytest.fixture
def nrt_stats():
    was = _nrt_python.memsys_stats_enabled()
    _nrt_python.memsys_enable_stats()
    yield
    if not was:
        _nrt_python.memsys_disable_stats()


def _live():
    """(live NRT allocations, live MemInfos) after a garbage collection."""
    gc.collect()
    s = rtsys.get_allocation_stats()
    return s.alloc - s.free, s.mi_alloc - s.mi_free


def test_the_counters_see_a_live_array(nrt_stats):
    """Positive control for the test below: an array numba allocated and Python still holds is
    counted live, and stops being counted when it is released."""
    @njit
    def make(n):
        return np.zeros(n)

    make(2)
    before = _live()
    a = make(5)
    held = _live()
    del a
    assert held[0] == before[0] + 1 and held[1] == before[1] + 1
    assert _live() == before


_RNG = np.random.default_rng(11)
_ENGINES = {
    "fused": lambda: simulate_chain(_RNG.standard_normal((12, 12)), 6, trials=3,
                                    rng=np.random.default_rng(1), backend="numba"),
    "fused_untracked": lambda: simulate_chain(
        _RNG.standard_normal((10, 6)), 6, trials=3, rng=np.random.default_rng(1),
        backend="numba", record=("isometry_gap", "soft_rank", "row_norm_cv")),
    "gradients": lambda: simulate_chain(_RNG.standard_normal((10, 10)), 6, trials=3,
                                        rng=np.random.default_rng(1), backend="numba",
                                        gradients=True, n_out=3),
    "reduced": lambda: simulate_chain(_RNG.standard_normal((40, 4)), 6, trials=3,
                                      rng=np.random.default_rng(1), backend="numba",
                                      method="reduced", gradients=True, n_out=3),
    "rank": lambda: rank_chain(_RNG.standard_normal((8, 8)), 6, trials=3,
                               rng=np.random.default_rng(1), backend="numba",
                               record=("rank_lower_bound", "soft_rank_unscaled")),
}


@pytest.mark.parametrize("engine", sorted(_ENGINES))
def test_chain_engines_leave_no_live_allocation(nrt_stats, engine):
    run = _ENGINES[engine]
    run()                                        # compile (or load) outside the count
    before = _live()
    out = run()
    assert out
    del out
    assert _live() == before
