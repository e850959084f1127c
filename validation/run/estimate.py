"""``run --estimate``: the planned tasks of a run and the expected time of each claim, from one
pilot chunk per claim.

The pilot is chunk 0 of each claim's own variant, run in this process on the run's engine and
stored in ``DIR/store.sqlite`` exactly as the run would store it (so the run reuses it; a pilot
already in the store is not rerun). A claim's expected time is its pilot's seconds per trial
times the trials of every task the run plans for it (claim, control and simulating mutations,
which cost about what the claim costs). It ignores judging and figures. The pilot runs with the
numba threads a worker of the planned pool gets (the CPUs shared out,
:func:`~depthcheck.validation.run.executors.numba_threads_per_worker`), so on a pool of N
workers the wall time is about the total over N.
"""
from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Iterable

from depthcheck.theory._checks import check_choice, check_positive_int
from depthcheck.validation.run import registry, runner
from depthcheck.validation.run.lock import RunLock
from depthcheck.validation.run.store import Store
from depthcheck.validation.run.executors import _limit_numba_threads, numba_threads_per_worker
from depthcheck.validation.run.tasks import VARIANTS, execute_task

__all__ = ["estimate", "format_estimate"]


def estimate(patterns: Iterable[str] | None = None, *, mode: str = "quick", seed: int = 0,
             out: str | Path | None = None, backend: str = "auto", modules: Iterable[str] = (),
             workers: int = 1) -> list[dict]:
    """One row per selected claim: ``claim``, ``engine``, ``tasks``, ``trials`` (over all its tasks),
    ``pilot_trials``, ``pilot_s`` and ``expected_s``. Arguments as for
    :func:`depthcheck.validation.run.runner.run` (which validates them the same way); the
    pilots run on the numba threads one of ``workers`` pool processes would get."""
    check_choice(mode, "mode", runner.MODES)
    workers = check_positive_int(workers, "workers")
    seed = check_positive_int(seed, "seed", minimum=0)
    if seed > 2**63 - 1:
        raise ValueError(f"seed must be at most 2**63 - 1, got {seed}")
    backend = runner.resolve_backend(backend)
    modules = list(modules)
    table = registry.entries(modules)
    claims = registry.select(patterns, modules)
    refused = [c.id for c in claims if backend != runner.AUTO and backend not in c.backends]
    if refused:
        raise ValueError(f"backend {backend!r} is not supported by {', '.join(refused)}")
    out = Path(runner.default_out(mode, seed) if out is None else out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    with RunLock(out):
        store = Store(out)
        try:
            for c in claims:
                mod = table[c.id][0]
                variants = VARIANTS + tuple(f"mutation:{m.name}" for m in c.mutations
                                            if m.simulates)
                engine = runner.engine_for(c, backend)
                plans = [runner._plan(mod, c, v, mode, seed, engine) for v in variants]
                pilot = plans[0].specs[0]
                stored = store.get(pilot.key)
                if stored is None:
                    t0 = time.perf_counter()
                    with _numba_threads(numba_threads_per_worker(workers)):
                        output = execute_task(pilot)
                    store.put(pilot.key, pilot.n_trials, output.evidence, output.elapsed_s)
                    seconds = output.elapsed_s or (time.perf_counter() - t0)
                else:
                    seconds = stored.elapsed_s
                trials = sum(sum(p.sizes) for p in plans)
                rows.append({"claim": c.id, "engine": engine,
                             "tasks": sum(len(p.specs) for p in plans),
                             "trials": trials, "pilot_trials": pilot.n_trials,
                             "pilot_s": seconds,
                             "expected_s": seconds / pilot.n_trials * trials})
        finally:
            store.close()
    return rows


@contextlib.contextmanager
def _numba_threads(n: int):
    """numba's prange threads of this thread set to ``n`` within the block, then restored."""
    try:
        import numba
    except ImportError:
        yield
        return
    before = numba.get_num_threads()
    _limit_numba_threads(n)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def format_estimate(rows: list[dict], workers: int = 1) -> str:
    """The estimate as a plain-text table with the total (and the wall time on ``workers``)."""
    head = ("claim", "engine", "tasks", "trials", "pilot", "expected")
    body = [(r["claim"], r.get("engine", "?"), str(r["tasks"]), str(r["trials"]),
             f"{r['pilot_s']:.2f} s / {r['pilot_trials']}", f"{r['expected_s']:.1f} s")
            for r in rows]
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
    total = sum(r["expected_s"] for r in rows)
    out = [line(head), line(["-" * w for w in widths])] + [line(b) for b in body]
    out.append(f"\n{sum(r['tasks'] for r in rows)} tasks; expected {total:.0f} s of simulation "
               f"in one process" + (f", about {total / workers:.0f} s wall on {workers} workers"
                                    if workers > 1 else "") +
               " (judging and figures not included; the pilot chunks are stored and reused)")
    return "\n".join(out)
