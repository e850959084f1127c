"""Executors: run task specs in this process, on a local process pool or on a Dask cluster,
yielding ``(spec, output or None, exception or None)`` as tasks finish.

Every wait is bounded. A Dask address is first asked for its identity (at most
:data:`CONNECT_TIMEOUT_S`): an address that refuses, stays silent, closes or answers with
anything but a Dask scheduler's identity raises :class:`ExecutorError` at once, without leaving
a client behind. A cluster with no worker for :data:`WORKER_TIMEOUT_S` (none at the start, or
every worker lost during the run) raises :class:`ExecutorError` too; the tasks finished before
stay stored, so rerunning the same command resumes. Pool workers exit when the main process
dies (SIGKILL, SIGTERM): see :func:`_pool_worker_init`.
"""
from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Iterator

from depthcheck.validation.run import tasks
from depthcheck.validation.run.tasks import TaskOutput, TaskSpec

__all__ = ["ExecutorError", "task_stream", "CONNECT_TIMEOUT_S", "WORKER_TIMEOUT_S"]

#: Seconds a Dask scheduler has to answer (connection, handshake and identity).
CONNECT_TIMEOUT_S = 10.0
#: Seconds a Dask cluster may have no worker (at the start, or after losing every worker).
WORKER_TIMEOUT_S = 60.0
#: Seconds between checks of a Dask cluster's workers while no task finishes.
_POLL_S = 1.0
#: Seconds between checks of a pool worker that its parent is alive (fallback of PDEATHSIG).
_PARENT_POLL_S = 0.5


class ExecutorError(RuntimeError):
    """The executor cannot run the tasks: the Dask scheduler cannot be reached or is not a Dask
    scheduler, or the cluster has no worker. Finished tasks are stored before this is raised."""


def task_stream(specs, *, workers: int = 1, scheduler: str | None = None):
    """The stream of finished tasks of ``specs`` on the chosen executor (see module doc)."""
    if scheduler is not None:
        if not isinstance(scheduler, str) or not scheduler.strip():
            raise ValueError(f"scheduler must be the address of a Dask scheduler (e.g. "
                             f"'tcp://host:8786'), got {scheduler!r}")
        return _run_dask(specs, scheduler)
    if workers > 1:
        return _run_pool(specs, workers)
    return _run_inprocess(specs)


def _run_inprocess(specs) -> Iterator[tuple[TaskSpec, TaskOutput | None, BaseException | None]]:
    for s in specs:
        try:
            out = tasks.execute_task(s)
        except Exception as exc:
            yield s, None, exc
        else:
            yield s, out, None


# ------------------------------------------------------------------------------- process pool

def _exit_with_parent(parent_pid: int) -> None:
    """Exit this process when ``parent_pid`` is no longer its parent (the parent died and the
    process was re-parented)."""
    while True:
        if os.getppid() != parent_pid:
            os._exit(1)
        threading.Event().wait(_PARENT_POLL_S)


def _pool_worker_init(parent_pid: int) -> None:
    """Initializer of pool workers: leave Ctrl-C to the main process (it shuts the pool down),
    and never outlive it. On Linux the kernel sends SIGKILL when the parent dies
    (``prctl(PR_SET_PDEATHSIG)``); everywhere, a daemon thread polls ``os.getppid()``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)   # PR_SET_PDEATHSIG = 1
        except (OSError, AttributeError):
            pass                                      # the polling thread still covers it
    if os.getppid() != parent_pid:                    # the parent died before prctl took effect
        os._exit(1)
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True,
                     name="depthcheck-parent-watch").start()


def numba_threads_per_worker(workers: int, cpus: int | None = None) -> int:
    """Threads each of ``workers`` pool processes gives numba's ``prange`` kernels: the CPUs
    shared out (at least 1). Parallelism comes from tasks first: N workers each running
    numba's default of one thread per CPU oversubscribe the machine, and a prange kernel
    then waits for its slowest, descheduled thread."""
    cpus = os.cpu_count() if cpus is None else cpus
    return max(1, (cpus or 1) // max(1, workers))


def _limit_numba_threads(n: int) -> None:
    """Run this thread's numba parallel kernels on ``n`` threads (no-op without numba; the
    numbers do not depend on it: every trial has its own random stream)."""
    try:
        import numba
    except ImportError:
        return
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))


def _pool_worker_init_threads(parent_pid: int, numba_threads: int) -> None:
    _pool_worker_init(parent_pid)
    _limit_numba_threads(numba_threads)


def _run_pool(specs, workers: int):
    ex = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_pool_worker_init_threads,
                             initargs=(os.getpid(), numba_threads_per_worker(workers)))
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


# ------------------------------------------------------------------------------- Dask cluster

async def _identity(address: str, timeout: float) -> dict:
    from distributed.comm import connect
    comm = await connect(address, timeout=timeout)
    try:
        await comm.write({"op": "identity", "reply": True})
        return await comm.read()
    finally:
        comm.abort()


def _check_scheduler(address: str, timeout: float) -> None:
    """Ask ``address`` for its identity within ``timeout`` seconds; raise
    :class:`ExecutorError` unless a Dask scheduler answers."""
    why = None
    try:
        ident = asyncio.run(asyncio.wait_for(_identity(address, timeout), timeout))
    except (asyncio.TimeoutError, TimeoutError):
        why = f"no answer within {timeout:g} s"
    except Exception as exc:    # garbage replies raise ValueError, MemoryError, TypeError...
        why = f"{type(exc).__name__}: {exc}"
    else:
        if not isinstance(ident, dict) or ident.get("type") != "Scheduler":
            kind = ident.get("type") if isinstance(ident, dict) else type(ident).__name__
            why = f"it answered as {kind!r}, not as a Dask scheduler"
    if why is not None:
        raise ExecutorError(f"--scheduler {address!r} is not a reachable Dask scheduler ({why})")


def _n_workers(client, timeout: float) -> int:
    info = client.sync(client.scheduler.identity, callback_timeout=timeout)
    return len(info.get("workers", {}))


def _run_dask(specs, address: str):
    try:
        import dask
        from distributed import Client
        from distributed import as_completed as dask_as_completed
    except ImportError as exc:
        raise RuntimeError("--scheduler needs dask.distributed: pip install 'depthcheck[dist]'"
                           ) from exc
    tmo = CONNECT_TIMEOUT_S
    _check_scheduler(address, tmo)
    with dask.config.set({"distributed.comm.timeouts.connect": f"{tmo}s"}):
        try:
            client = Client(address, set_as_default=False, timeout=tmo)
        except Exception as exc:
            raise ExecutorError(f"cannot connect to the Dask scheduler at {address!r}: "
                                f"{type(exc).__name__}: {exc}") from None
        futs, lost = [], False
        try:
            try:
                client.wait_for_workers(1, timeout=WORKER_TIMEOUT_S)
            except (TimeoutError, asyncio.TimeoutError):
                raise ExecutorError(f"the Dask scheduler at {address!r} has no worker (waited "
                                    f"{WORKER_TIMEOUT_S:g} s)") from None
            by_key = {}
            for s in specs:
                f = client.submit(tasks.execute_task, s, pure=False)
                by_key[f.key] = s
                futs.append(f)
            ac = dask_as_completed(futs, loop=client.loop)
            idle, last_check = 0.0, time.monotonic()
            while not ac.is_empty():
                if not ac.has_ready():
                    time.sleep(0.05)
                    now = time.monotonic()
                    if now - last_check < _POLL_S:
                        continue
                    last_check = now
                    try:
                        n = _n_workers(client, tmo)
                    except Exception as exc:
                        lost = True
                        raise ExecutorError(
                            f"lost the Dask scheduler at {address!r} ({type(exc).__name__}: "
                            f"{exc}); {ac.count()} of {len(futs)} tasks unfinished, the "
                            f"finished ones are stored: rerun the same command to resume"
                            ) from None
                    idle = idle + _POLL_S if n == 0 else 0.0
                    if idle >= WORKER_TIMEOUT_S:
                        raise ExecutorError(
                            f"the Dask cluster at {address!r} has had no worker for "
                            f"{WORKER_TIMEOUT_S:g} s; {ac.count()} of {len(futs)} tasks "
                            f"unfinished, the finished ones are stored: rerun the same command "
                            f"to resume once it has workers")
                    continue
                idle = 0.0
                for f in ac.next_batch(block=False):
                    try:
                        out = f.result()
                    except Exception as exc:
                        yield by_key[f.key], None, exc
                    else:
                        yield by_key[f.key], out, None
        finally:
            if futs and not lost:
                try:
                    client.cancel(futs)
                except Exception:
                    pass
            try:
                client.close(timeout=tmo)
            except Exception:
                pass
