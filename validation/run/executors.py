"""Executors: run task specs in this process, on a local process pool or on a Dask cluster,
yielding ``(spec, output or None, exception or None)`` as tasks finish."""
from __future__ import annotations

import multiprocessing
import signal
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Iterator

from depthcheck.validation.run import tasks
from depthcheck.validation.run.tasks import TaskOutput, TaskSpec

__all__ = ["task_stream"]


def task_stream(specs, *, workers: int = 1, scheduler: str | None = None):
    """The stream of finished tasks of ``specs`` on the chosen executor (see module doc)."""
    if scheduler:
        return _run_dask(specs, scheduler)
    if workers > 1:
        return _run_pool(specs, workers)
    return _run_inprocess(specs)


def _ignore_sigint():  # pool workers: let the main process handle Ctrl-C and shut them down
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_inprocess(specs) -> Iterator[tuple[TaskSpec, TaskOutput | None, BaseException | None]]:
    for s in specs:
        try:
            out = tasks.execute_task(s)
        except Exception as exc:
            yield s, None, exc
        else:
            yield s, out, None


def _run_pool(specs, workers: int):
    ex = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_ignore_sigint)
    ok = False
    try:
        futs = {ex.submit(tasks.execute_task, s): s for s in specs}
        for f in as_completed(futs):
            try:
                out = f.result()
            except Exception as exc:
                yield futs[f], None, exc
            else:
                yield futs[f], out, None
        ok = True
    finally:
        if ok:
            ex.shutdown(wait=True)
        else:  # interrupted: drop queued tasks and stop the running ones now
            procs = list((getattr(ex, "_processes", None) or {}).values())
            ex.shutdown(wait=False, cancel_futures=True)
            for p in procs:
                p.terminate()


def _run_dask(specs, address: str):
    try:
        from distributed import Client
        from distributed import as_completed as dask_as_completed
    except ImportError as exc:
        raise RuntimeError("--scheduler needs dask.distributed: pip install 'depthcheck[dist]'"
                           ) from exc
    try:
        client = Client(address, set_as_default=False, timeout=30)
    except OSError as exc:
        raise RuntimeError(f"cannot reach the Dask scheduler at {address!r}: {exc}") from exc
    futs = []
    try:
        by_key = {}
        for s in specs:
            f = client.submit(tasks.execute_task, s, pure=False)
            by_key[f.key] = s
            futs.append(f)
        for f in dask_as_completed(futs, loop=client.loop):
            try:
                out = f.result()
            except Exception as exc:
                yield by_key[f.key], None, exc
            else:
                yield by_key[f.key], out, None
    finally:
        if futs:
            client.cancel(futs)
        client.close()
