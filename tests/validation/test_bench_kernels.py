"""The kernel bench's rows run against today's engine registry (a bench that crashes is a
benchmark nobody ran): the gradients row swaps the numba entry for the per-layer driver and
restores it, whatever happens."""
import numpy as np
import pytest

from depthcheck.kernels import backends
from depthcheck.validation.bench import kernels as kb


def test_per_layer_engine_is_the_numba_engine_without_its_fused_kernel():
    from depthcheck.kernels.backends.numba.fused import NumbaChainBackend
    eng = kb._per_layer_numba()
    assert isinstance(eng, NumbaChainBackend)
    assert eng.fused(None, ("isometry_gap",), True) is False
    assert NumbaChainBackend.fused(None, ("isometry_gap",), True) is True


def test_gradients_rows_run_and_restore_the_registry():
    before = dict(backends.ENGINES)
    rows = kb._gradients(quick=True, rate=5e10)
    assert backends.ENGINES == before
    assert len(rows) == 2
    for r in rows:
        assert r["ours_s"] > 0 and r["baseline_s"] > 0
        assert r["ratio"] == pytest.approx(r["baseline_s"] / r["ours_s"])
    assert "per-layer" in rows[1]["baseline"]


def test_gradients_row_restores_the_registry_when_the_per_layer_run_fails(monkeypatch):
    before = dict(backends.ENGINES)
    calls = []

    def boom(fn, repeat):
        calls.append(backends.ENGINES[("full", "numba")])
        if len(calls) == 3:          # the third timing is the per-layer driver's
            raise RuntimeError("boom")
        return 1.0, "1 thread"
    monkeypatch.setattr(kb, "_best_threads", boom)
    with pytest.raises(RuntimeError, match="boom"):
        kb._gradients(quick=True, rate=5e10)
    assert calls[2].endswith(":_per_layer_numba") and calls[0] == before[("full", "numba")]
    assert backends.ENGINES == before


def _once(fn, repeat=1):
    import time
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


@pytest.mark.parametrize("module", ["kernels", "rank_chains"])
def test_every_row_of_the_bench_runs_against_todays_code(module, monkeypatch):
    """Each row's workloads run once at quick sizes (the timing loops cut to one call): what
    ``python -m depthcheck bench`` runs cannot drift from the engines it times."""
    import importlib
    from depthcheck.validation import bench as bench_pkg
    m = importlib.import_module(f"depthcheck.validation.bench.{module}")
    monkeypatch.setattr(m, "_best", _once)
    monkeypatch.setattr(m, "_best_threads", lambda fn, repeat: (_once(fn), "1 thread"))
    if hasattr(m, "_cpu_best"):
        monkeypatch.setattr(m, "_cpu_best", _once)
    before = dict(backends.ENGINES)
    rows = m.bench(quick=True)
    assert backends.ENGINES == before
    assert len(rows) >= 10
    for r in rows:
        assert set(bench_pkg.ROW_KEYS) <= set(r), r["workload"]
        assert r["ours_s"] is not None and r["ours_s"] >= 0, r["workload"]
        if r["baseline_s"] is not None:
            assert r["ratio"] == pytest.approx(r["baseline_s"] / r["ours_s"]), r["workload"]
        for k, v in r.items():      # no NaN anywhere in a row
            if isinstance(v, float):
                assert v == v, (r["workload"], k)


@pytest.mark.parametrize("measured,expected", [(46e9, 90e9), (95e9, 95e9)])
def test_floor_rate_is_not_lowered_by_a_slow_threaded_matmul(monkeypatch, measured, expected):
    """The floors' rate R = max(measured threaded matmul, T x one-core rate): a threaded dgemm
    that ran at one core's speed must not halve every floor (and flatter every ratio)."""
    import numba
    monkeypatch.setattr(kb, "_matmul_rate", lambda quick: measured)
    monkeypatch.setattr(kb, "_one_core_rate", lambda: 45e9)
    monkeypatch.setattr(numba, "get_num_threads", lambda: 2)
    rate, got_measured, r1, threads = kb._machine_rate(True)
    assert (rate, got_measured, r1, threads) == (expected, measured, 45e9, 2)
