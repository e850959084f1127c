"""Benchmark of the exact Weingarten calculus (issue 5): ours vs the naive Gram inverse.

Ours (``depthcheck.theory.weingarten``): character expansion over lambda ⊢ k with zonal spherical
functions from the power-sum expansion of zonal polynomials, timed COLD (all memo tables cleared
before each workload). Baseline (``depthcheck.theory.weingarten_reference``): exact (pseudo-)inverse of the
(2k-1)!! x (2k-1)!! Gram matrix of pairings, fraction-free Bareiss in Python ints; symbolic d via
sympy DomainMatrix over Q(d). The baseline is run for a k only when its predicted time (the
previous k's time times the cubic growth of the matrix size) stays under ``_BASELINE_BUDGET_S``.

Targets (issue 5): all coset types of every degree k <= 7 at one integer d in under 1 s; symbolic
d for k <= 6 in under 5 s. Context only, not re-measured (haarpy is not installed here): the
issue reports about 90 s for all symbolic coset types at k = 6 with haarpy.
"""
from __future__ import annotations

import time

import numpy as np
import sympy

from depthcheck.theory._symmetric_group import partitions
from depthcheck.theory.weingarten import (clear_caches, weingarten_orthogonal, weingarten_orthogonal_table)
from depthcheck.theory.weingarten_reference import weingarten_orthogonal_naive

__all__ = ["bench"]

_BASELINE_BUDGET_S = 30.0
_D_INT = 10


def _time(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        clear_caches()
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _row(workload, ours_s, baseline, baseline_s):
    return {
        "workload": workload,
        "ours_s": ours_s,
        "baseline": baseline,
        "baseline_s": baseline_s,
        "ratio": (baseline_s / ours_s) if (baseline_s is not None and ours_s > 0) else None,
        "gflops": None,
        "floor_s": None,
    }


def _baseline_series(ks, run, budget):
    """Time ``run(k)`` for increasing k while the cubic extrapolation stays within budget."""
    times, last = {}, None
    for k in ks:
        if last is not None:
            k_prev, t_prev = last
            growth = 1.0
            for j in range(k_prev + 1, k + 1):
                growth *= (2 * j - 1) ** 3  # matrix size grows by (2k-1) per degree
            if t_prev * growth > budget:
                break
        t0 = time.perf_counter()
        run(k)
        last = (k, time.perf_counter() - t0)
        times[k] = last[1]
    return times


def bench(quick: bool) -> list[dict]:
    """Rows: integer d per k and total for k <= 7; symbolic d per k and total for k <= 6;
    float evaluation of all k <= 7 coset types over many d at once."""
    repeat = 1 if quick else 3
    budget = 5.0 if quick else _BASELINE_BUDGET_S
    rows = []

    # --- integer d
    naive_int = _baseline_series(range(1, 8), lambda k: weingarten_orthogonal_naive(k, _D_INT),
                                 budget)
    for k in range(1, 8):
        ours = _time(lambda: weingarten_orthogonal_table(k, _D_INT), repeat)
        base = naive_int.get(k)
        label = ("naive Gram inverse, exact" if base is not None else
                 f"naive Gram inverse: not run ((2k-1)!!={_dfact(2 * k - 1)}, predicted > "
                 f"{budget:g} s)")
        rows.append(_row(f"Wg^O all {len(partitions(k))} coset types, k={k}, d={_D_INT}", ours,
                         label, base))
    ours_total = _time(lambda: [weingarten_orthogonal_table(k, _D_INT) for k in range(1, 8)],
                       repeat)
    rows.append(_row(f"Wg^O all coset types k=1..7, d={_D_INT} (target < 1 s)", ours_total,
                     f"naive Gram inverse reaches only k={max(naive_int)} (see rows above)",
                     None))

    # --- symbolic d
    d = sympy.Symbol("d")
    naive_sym = _baseline_series(range(1, 7), lambda k: weingarten_orthogonal_naive(k, d),
                                 budget)
    for k in range(1, 7):
        ours = _time(lambda: weingarten_orthogonal_table(k, d), repeat)
        base = naive_sym.get(k)
        label = ("naive symbolic Gram inverse (sympy DomainMatrix over Q(d))" if base is not None
                 else f"naive symbolic Gram inverse: not run (predicted > {budget:g} s)")
        rows.append(_row(f"Wg^O all coset types, k={k}, symbolic d", ours, label, base))
    ours_total = _time(lambda: [weingarten_orthogonal_table(k, d) for k in range(1, 7)], repeat)
    rows.append(_row("Wg^O all coset types k=1..6, symbolic d (target < 5 s)", ours_total,
                     f"naive symbolic reaches only k={max(naive_sym)}; context: haarpy ~90 s at "
                     f"k=6 (issue 5's figure, not re-measured: haarpy not installed)", None))

    # --- float evaluation over many d at once
    ds = np.arange(1, 1001)
    all_mu = [mu for k in range(1, 8) for mu in partitions(k)]
    weingarten_orthogonal_table(7, _D_INT)  # tables warm: this row times the evaluation only
    t0 = time.perf_counter()
    for mu in all_mu:
        weingarten_orthogonal(mu, ds)
    ours = time.perf_counter() - t0
    n_exact = 50 if quick else 200
    t0 = time.perf_counter()
    for mu in all_mu:
        for x in ds[:n_exact]:
            float(weingarten_orthogonal(mu, int(x)))
    base = (time.perf_counter() - t0) * (len(ds) / n_exact)
    rows.append(_row(f"float Wg^O, all {len(all_mu)} coset types k<=7, {len(ds)} values of d "
                     f"(warm tables)", ours,
                     f"exact Fraction per d, then float (timed on {n_exact} d, scaled)", base))
    return rows


def _dfact(n: int) -> int:
    out = 1
    while n > 1:
        out *= n
        n -= 2
    return out
