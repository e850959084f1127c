"""Pool workers share the CPUs out among numba's prange threads (no oversubscription), and the
numbers do not depend on the thread count."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from depthcheck.validation.run import executors

numba = pytest.importorskip("numba")


@pytest.mark.parametrize("workers,cpus,expected", [(2, 2, 1), (2, 16, 8), (3, 2, 1), (1, 4, 4),
                                                   (4, 1, 1), (2, 0, 1)])
def test_threads_per_worker_share_the_cpus(workers, cpus, expected):
    assert executors.numba_threads_per_worker(workers, cpus) == expected


def _in_thread(fn):
    out = {}

    def target():
        try:
            out["v"] = fn()
        except BaseException as exc:     # re-raised in the test's thread
            out["e"] = exc
    t = threading.Thread(target=target)
    t.start()
    t.join()
    if "e" in out:
        raise out["e"]
    return out["v"]


def test_limit_applies_to_the_calling_thread():
    def limited():
        executors._limit_numba_threads(1)
        return numba.get_num_threads()
    assert _in_thread(limited) == 1
    big = _in_thread(lambda: (executors._limit_numba_threads(10 ** 6), numba.get_num_threads())[1])
    assert big == numba.config.NUMBA_NUM_THREADS      # capped, never an error


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 numba threads")
def test_numba_chains_do_not_depend_on_the_thread_count():
    from depthcheck.kernels.chain.driver import simulate_chain
    from depthcheck.kernels.chain.rank import gaussian_input, rank_chain

    def chains(threads):
        def run():
            executors._limit_numba_threads(threads)
            X = np.random.default_rng(1).standard_normal((8, 8))
            a = simulate_chain(X, 30, trials=6, rng=np.random.default_rng(2), backend="numba",
                               gradients=True, n_out=4)
            Xr = gaussian_input(8, 8, 6, np.random.default_rng(3))
            b = rank_chain(Xr, 40, rng=np.random.default_rng(4), gamma=0.1, weights="uniform",
                           backend="numba", record=("rank_lower_bound",))
            return a, b
        return _in_thread(run)

    (a1, b1), (a2, b2) = chains(1), chains(2)
    assert a1.keys() == a2.keys() and b1.keys() == b2.keys()
    for k in a1:
        np.testing.assert_array_equal(a1[k], a2[k], err_msg=k)
    for k in b1:
        np.testing.assert_array_equal(b1[k], b2[k], err_msg=k)
