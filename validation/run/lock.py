"""An exclusive lock on a run directory: one run writes into a ``--out`` at a time.

The lock is ``DIR/run.lock``, held with ``fcntl.flock`` for the whole run and holding the
holder's pid, host, start time (UTC) and command line as JSON. The kernel releases a ``flock``
when its holder dies (``kill -9`` included), so a dead holder never leaves a stale lock; the file
is removed on release. Where ``fcntl`` does not exist the lock is the file itself, created with
``O_CREAT | O_EXCL``; a lock file whose holder pid is dead on this host is stale and is taken
over. A second run into a locked directory raises :class:`DirectoryLockedError` naming the
holder.
"""
from __future__ import annotations

import json
import os
import socket
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

try:
    import fcntl
except ImportError:        # not POSIX: the O_EXCL lock file
    fcntl = None

__all__ = ["LOCK_NAME", "DirectoryLockedError", "RunLock", "holder"]

LOCK_NAME = "run.lock"


class DirectoryLockedError(RuntimeError):
    """Another run holds the directory; ``holder`` describes it."""

    def __init__(self, message: str, holder: str = ""):
        super().__init__(message)
        self.holder = holder


def _describe(info: dict | None, path: Path) -> str:
    if not info:
        return f"another process (it is starting; see {path})"
    cmd = " ".join(info.get("argv") or [])
    return (f"pid {info.get('pid')} on host {info.get('host')} since {info.get('started')}"
            + (f" ({cmd})" if cmd else ""))


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text() or "null")
    except (OSError, ValueError):
        return None


def _pid_alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, ValueError, TypeError):
        return True     # exists but not ours, or unknown: assume alive
    return True


class RunLock:
    """Hold ``DIR/run.lock`` while a run writes into ``DIR`` (a context manager).

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> with RunLock(d):
    ...     try:
    ...         RunLock(d).acquire()
    ...     except DirectoryLockedError as exc:
    ...         print("refused")
    refused
    """

    def __init__(self, directory: str | Path):
        self.path = Path(directory) / LOCK_NAME
        self._fd: int | None = None

    def _info(self) -> bytes:
        return (json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                            "argv": list(sys.argv)}) + "\n").encode()

    def _refuse(self) -> DirectoryLockedError:
        info = None
        for _ in range(20):         # the holder writes its details just after locking
            info = _read(self.path)
            if info:
                break
            time.sleep(0.025)
        who = _describe(info, self.path)
        return DirectoryLockedError(
            f"{self.path.parent} is in use by another depthcheck run: {who}; wait for it to "
            f"finish or choose another --out", who)

    def acquire(self) -> "RunLock":
        """Take the lock or raise :class:`DirectoryLockedError` naming its holder."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if fcntl is None:
            return self._acquire_excl()
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise self._refuse() from None
            # the file may have been released (unlinked) between our open and our flock: then
            # we hold a lock on a dead inode; retry on the current file
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, self._info())
        self._fd = fd
        return self

    def _acquire_excl(self) -> "RunLock":
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                info = _read(self.path)
                stale = (info and info.get("host") == socket.gethostname()
                         and not _pid_alive(info.get("pid")))
                if not stale:
                    raise self._refuse() from None
                self.path.unlink(missing_ok=True)
                continue
            os.write(fd, self._info())
            self._fd = fd
            return self
        raise self._refuse()

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)   # before unlocking: no one locks a dead file
        finally:
            if fcntl is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


def holder(directory: str | Path) -> str | None:
    """Who holds the lock of ``directory`` (a description), or None when no run holds it."""
    path = Path(directory) / LOCK_NAME
    if not path.exists():
        return None
    try:
        probe = RunLock(directory).acquire()
    except DirectoryLockedError as exc:
        return exc.holder
    except OSError:
        return None
    probe.release()
    return None
