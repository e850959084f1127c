"""Benchmarks of the rank chains of Daneshmand et al. 2020 (arXiv:2003.01652) on the numba engine
(``depthcheck.kernels.backends.numba.rank``) against the numpy reference
(``depthcheck.kernels.chain.rank``): ``rank_chain`` with the statistics the rank_collapse claims
record, ``lyapunov_qr`` and ``one_step_drift``.

Rows as ``depthcheck.validation.bench.kernels`` (workload, ours_s, baseline, baseline_s,
ratio = baseline_s / ours_s, ...). Both sides run the same request with their own random
numbers (same law). The numpy baseline is timed with BLAS at its default thread count and at
one thread, the faster reported; the numba kernels are loaded (or compiled, on a cold cache)
before timing, and that load time is a row of its own. Best of ``repeat`` runs each: on a
shared, loaded machine single timings are noisy.
"""
from __future__ import annotations

import math
import os
import time

import numpy as np

from depthcheck.validation.bench.kernels import _best, _best_threads, _row

__all__ = ["bench"]

#: the statistics the rank_collapse claims record on the BN chains (bn_rank_sqrt_width)
_CLAIM_RECORD = ("rank_lower_bound", "soft_rank_unscaled", "g1", "g2", "frobenius_M")


def _rank_rows(quick: bool) -> list[dict]:
    from depthcheck.kernels.chain.rank import gaussian_input, rank_chain
    B, L, every = (8, 100, 5) if quick else (32, 400, 5)
    rep = 2 if quick else 3
    rows = []
    for norm, act, law in (("bn", "relu", "uniform"), ("bn_nomean", "identity", "gaussian")):
        for d in (32, 64, 128):
            X = gaussian_input(d, d, B, np.random.default_rng(d))

            def run(backend, X=X, norm=norm, act=act, law=law):
                return rank_chain(X, L, rng=np.random.default_rng(1), gamma=math.inf,
                                  weights=law, norm=norm, activation=act, record_every=every,
                                  record=_CLAIM_RECORD, backend=backend)
            ours = _best(lambda: run("numba"), rep)
            base, how = _best_threads(lambda: run("numpy"), rep)
            rows.append(_row(f"rank_chain {norm}+{act}, {law} weights, γ=∞, d=n={d}, depth {L}, "
                             f"{B} trials, 5 statistics every {every} layers: numba",
                             ours, f"numpy reference rank_chain ({how})", base))
    return rows


def _lyapunov_rows(quick: bool) -> list[dict]:
    from depthcheck.kernels.chain.rank import lyapunov_qr
    B, L = (16, 1000) if quick else (32, 6000)
    rep = 2 if quick else 3
    rows = []
    for d, gamma in ((4, math.inf), (8, math.inf), (32, 0.1)):
        def run(backend, d=d, gamma=gamma):
            return lyapunov_qr(d, L, trials=B, rng=np.random.default_rng(2), gamma=gamma,
                               burn_in=50, backend=backend)
        ours = _best(lambda: run("numba"), rep)
        base, how = _best_threads(lambda: run("numpy"), rep)
        rows.append(_row(f"lyapunov_qr d={d}, γ={'∞' if gamma == math.inf else gamma}, depth "
                         f"{L}, {B} trials: numba (Householder QR per trial, LAPACK from "
                         f"d = 16, prange)", ours,
                         f"numpy reference lyapunov_qr (batched numpy.linalg.qr; {how})", base))
    return rows


def _drift_rows(quick: bool) -> list[dict]:
    from depthcheck.kernels.chain.rank import normalise, one_step_drift
    calls, draws = (10, 1000) if quick else (40, 10000)
    rep = 2 if quick else 3
    rows = []
    for d in (8, 32):
        G = normalise(np.random.default_rng(d).standard_normal((d, 2 * d)), "bn_nomean")
        M = G @ G.T / (2 * d)

        def run(backend, M=M):
            rng = np.random.default_rng(3)
            for _ in range(calls):
                one_step_drift(M, 0.01, draws=draws, rng=rng, weights="uniform",
                               backend=backend)
        ours = _best(lambda: run("numba"), rep)
        base, how = _best_threads(lambda: run("numpy"), rep)
        rows.append(_row(f"one_step_drift d={d}, uniform weights, {calls} calls of {draws} "
                         f"antithetic draws: numba", ours,
                         f"numpy reference one_step_drift ({how})", base))
    return rows


def bench(quick: bool) -> list[dict]:
    """Rows of the rank-chain benchmarks; quick mode shrinks depth and trials (the rows say)."""
    from depthcheck.kernels.chain.rank import lyapunov_qr, one_step_drift, rank_chain
    t0 = time.perf_counter()                 # load (or compile, on a cold cache) the kernels
    rank_chain(np.eye(4) + 1, 2, rng=np.random.default_rng(0), record=_CLAIM_RECORD,
               backend="numba")
    lyapunov_qr(3, 2, trials=1, rng=np.random.default_rng(0), backend="numba")
    one_step_drift(np.eye(3), 0.1, draws=2, rng=np.random.default_rng(0), backend="numba")
    warm = time.perf_counter() - t0
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    rows = [_row(f"machine: rank-chain numba kernels loaded in {warm:.1f} s; 1-min load "
                 f"average {load}", warm, None, None, loadavg=load)]
    return rows + _rank_rows(quick) + _lyapunov_rows(quick) + _drift_rows(quick)
