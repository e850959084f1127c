"""Benchmarks: ``python -m depthcheck bench [--quick] [--json FILE] [MODULE ...]``.

Each module in :data:`BENCH_MODULES` exposes ``bench(quick: bool) -> list[dict]``, one row per
workload with the keys of :data:`ROW_KEYS`:

    workload    what was timed (str)
    ours_s      our time in seconds
    baseline    what we compare with (str, e.g. "scipy.stats.ortho_group + matmul")
    baseline_s  the baseline's time in seconds (None if there is none)
    ratio       baseline_s / ours_s (speed-up; None if no baseline)
    gflops      achieved GFLOP/s of our run (None if not meaningful)
    floor_s     a lower bound on the time (e.g. flops / peak or bytes / bandwidth; None if unknown)

A listed module that cannot be imported or lacks ``bench`` is an error, never silently skipped.
"""
from __future__ import annotations

import importlib
import math
import time

__all__ = ["BENCH_MODULES", "ROW_KEYS", "load", "run_benchmarks", "format_rows"]

BENCH_MODULES: list[str] = ["depthcheck.validation.bench.weingarten",
                             "depthcheck.validation.bench.kernels",
                             "depthcheck.validation.bench.rank_chains",
                             "depthcheck.validation.bench.jax_chain"]

ROW_KEYS = ("workload", "ours_s", "baseline", "baseline_s", "ratio", "gflops", "floor_s")


def load(name: str):
    """Import benchmark module ``name`` and return its ``bench`` function."""
    try:
        mod = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            raise ValueError(f"benchmark module {name!r} not found") from exc
        raise
    fn = getattr(mod, "bench", None)
    if not callable(fn):
        raise ValueError(f"benchmark module {name!r} has no bench(quick) function")
    return fn


def run_benchmarks(modules: list[str] | None = None, quick: bool = False,
                   log=None) -> list[dict]:
    """Run every benchmark module (default :data:`BENCH_MODULES`); rows gain a "module" key.

    ``log``: called with one line of progress before and after each module (the full bench
    takes about a quarter of an hour on 2 cores; the command line prints these to stderr)."""
    names = list(BENCH_MODULES if not modules else modules)
    fns = [(n, load(n)) for n in names]  # fail on a missing module before timing anything
    rows = []
    for i, (name, fn) in enumerate(fns, 1):
        if log is not None:
            log(f"bench [{i}/{len(fns)}] {name} ({'quick' if quick else 'full'} sizes) ...")
        t0 = time.perf_counter()
        got = fn(quick)
        if not isinstance(got, list) or not all(isinstance(r, dict) for r in got):
            raise ValueError(f"bench() of {name!r} must return a list of dicts")
        for r in got:
            missing = [k for k in ROW_KEYS if k not in r]
            if missing:
                raise ValueError(f"bench() of {name!r} returned a row without {missing}: {r}")
            rows.append({"module": name, **r})
        if log is not None:
            log(f"bench [{i}/{len(fns)}] {name}: {len(got)} rows in "
                f"{time.perf_counter() - t0:.1f} s")
    return rows


def _cell(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}" if math.isfinite(v) else str(v)
    return str(v)


def format_rows(rows: list[dict]) -> str:
    """Plain-text table of benchmark rows."""
    header = list(ROW_KEYS)
    body = [[_cell(r[k]) for k in header] for r in rows]
    widths = [max(len(x) for x in col) for col in zip(header, *body)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(b) for b in body])
