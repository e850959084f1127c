"""SQLite store of finished tasks: what makes an interrupted run resumable.

One row per finished task, keyed by (claim id, variant, chunk, mode, seed, backend, config hash),
holding the task's evidence as ``.npz`` bytes, the SHA-256 of those bytes, and its timing. Rows
are written by the main process only, one transaction per task as it finishes, in WAL mode, so a
crash or Ctrl-C loses at most the tasks still running; rerunning the same command skips every
stored task.

Nothing stored is trusted blindly:

- every read checks the row's checksum; a row whose evidence no longer matches it (a flipped
  bit) reads as missing, so the runner recomputes that task, and is listed in
  :attr:`Store.corrupt`;
- opening checks that the file is an SQLite database that passes ``PRAGMA quick_check`` and
  holds a known schema (``PRAGMA user_version``, :data:`SCHEMA_VERSION`). A damaged file (zero
  length, truncated, overwritten) is either set aside as ``store.sqlite.corrupt-<UTC time>`` and
  rebuilt empty (``on_corrupt="quarantine"``, what ``run`` does: :attr:`Store.quarantined` says
  where it went) or refused with :class:`StoreCorruptError` naming the file and the recovery
  (``on_corrupt="raise"``, what ``report`` does). Schema 1 (no checksums) is migrated in place:
  rows whose evidence still decodes get their checksum, the others are deleted (recomputed by the
  next run). A newer schema is refused (:class:`StoreVersionError`).
- ``create=False`` opens an existing store only: a missing one raises :class:`StoreMissingError`
  instead of creating an empty store.
"""
from __future__ import annotations

import hashlib
import io
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["TaskKey", "StoredTask", "Store", "STORE_NAME", "SCHEMA_VERSION", "StoreError",
           "StoreMissingError", "StoreCorruptError", "StoreVersionError", "pack_evidence",
           "unpack_evidence", "evidence_checksum"]

STORE_NAME = "store.sqlite"
#: ``PRAGMA user_version`` of the store this code writes; stores of depthcheck 0.2.0 and before
#: have ``user_version`` 0 and no checksum column (schema 1, migrated on opening).
SCHEMA_VERSION = 2

_HEADER = b"SQLite format 3\x00"
_KEY_COLUMNS = ("claim_id", "variant", "chunk", "mode", "seed", "backend", "config_hash")
_WHERE = " AND ".join(f"{c}=?" for c in _KEY_COLUMNS)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    claim_id    TEXT    NOT NULL,
    variant     TEXT    NOT NULL,
    chunk       INTEGER NOT NULL,
    mode        TEXT    NOT NULL,
    seed        INTEGER NOT NULL,
    backend     TEXT    NOT NULL,
    config_hash TEXT    NOT NULL,
    n_trials    INTEGER NOT NULL,
    evidence    BLOB    NOT NULL,
    elapsed_s   REAL    NOT NULL,
    finished_at REAL    NOT NULL,
    checksum    TEXT    NOT NULL,
    PRIMARY KEY (claim_id, variant, chunk, mode, seed, backend, config_hash)
)
"""


class StoreError(RuntimeError):
    """A store that cannot be used as it is; the message names the file and what to do."""


class StoreMissingError(StoreError):
    """The store of a run directory does not exist (and was not to be created)."""


class StoreCorruptError(StoreError):
    """The store file is not a readable SQLite database of tasks."""


class StoreVersionError(StoreError):
    """The store was written by a newer depthcheck (an unknown schema)."""


@dataclass(frozen=True)
class TaskKey:
    claim_id: str
    variant: str        # "claim" | "control" | "mutation:NAME"
    chunk: int
    mode: str           # "quick" | "full"
    seed: int
    backend: str
    config_hash: str

    def values(self) -> tuple:
        return (self.claim_id, self.variant, self.chunk, self.mode, self.seed, self.backend,
                self.config_hash)


@dataclass(frozen=True)
class StoredTask:
    key: TaskKey
    n_trials: int
    evidence: bytes
    elapsed_s: float


def pack_evidence(evidence: dict[str, np.ndarray]) -> bytes:
    """Serialise evidence arrays to ``.npz`` bytes (exact, no pickle)."""
    buf = io.BytesIO()
    np.savez(buf, **evidence)
    return buf.getvalue()


def unpack_evidence(blob: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def evidence_checksum(blob: bytes) -> str:
    """The checksum stored beside an evidence blob: its SHA-256, hexadecimal."""
    return hashlib.sha256(blob).hexdigest()


def _is_corruption(exc: sqlite3.Error) -> bool:
    """Whether SQLite says the file is damaged (not: locked, read-only, unopenable, full)."""
    name = getattr(exc, "sqlite_errorname", "")
    return name in ("SQLITE_NOTADB", "SQLITE_CORRUPT") or any(
        m in str(exc) for m in ("not a database", "malformed"))


def _utc_stamp() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


class Store:
    """The task store of one output directory (``DIR/store.sqlite``).

    Parameters
    ----------
    directory : str or Path
        The run directory.
    create : bool
        Create the directory and an empty store when there is none (``run``); with False a
        missing store raises :class:`StoreMissingError` (``report``).
    on_corrupt : {"quarantine", "raise"}
        What to do with a file that is not a readable store: rename it
        ``store.sqlite.corrupt-<UTC time>`` (with its ``-wal``/``-shm`` files) and start an
        empty one, or raise :class:`StoreCorruptError`.
    """

    def __init__(self, directory: str | Path, *, create: bool = True,
                 on_corrupt: str = "quarantine"):
        if on_corrupt not in ("quarantine", "raise"):
            raise ValueError(f"on_corrupt must be 'quarantine' or 'raise', got {on_corrupt!r}")
        self.path = Path(directory) / STORE_NAME
        #: keys whose stored evidence failed its checksum (read as missing), in order found
        self.corrupt: list[TaskKey] = []
        #: where a damaged store was moved to (``on_corrupt="quarantine"``), and why
        self.quarantined: Path | None = None
        self.quarantine_reason: str | None = None
        #: rows deleted by the migration from schema 1 because their evidence did not decode
        self.migrated_dropped = 0
        if not self.path.exists():
            if not create:
                raise StoreMissingError(
                    f"{self.path} does not exist: the evidence of this run is gone, so nothing "
                    f"can be read from it; rerun `python -m depthcheck run` with the run's "
                    f"claims, mode, seed and backend and --out {self.path.parent} to recompute "
                    f"it")
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._con = None
        why = self._why_corrupt() if self.path.exists() else None
        if why is None:
            try:
                self._open(create)
            except sqlite3.Error as exc:
                self._close_quietly()
                if not _is_corruption(exc):
                    raise StoreError(f"cannot open {self.path}: {exc} (check its permissions, "
                                     f"free space and file system)") from exc
                why = f"SQLite cannot read it ({exc})"
        if why is not None:
            self._close_quietly()
            if on_corrupt == "raise":
                raise StoreCorruptError(
                    f"{self.path} is not a readable depthcheck store: {why}. Recover by "
                    f"rerunning `python -m depthcheck run` with the same options and --out "
                    f"{self.path.parent} (it sets the damaged file aside as "
                    f"{STORE_NAME}.corrupt-<time> and recomputes the evidence), or delete it")
            self._quarantine(why)
            self._open(True)

    # ------------------------------------------------------------------ opening and checking

    def _why_corrupt(self) -> str | None:
        """Why the existing file cannot be a store (None if it may be one)."""
        try:
            with open(self.path, "rb") as f:
                head = f.read(len(_HEADER))
        except OSError as exc:
            raise StoreError(f"cannot read {self.path}: {exc}") from exc
        if not head:
            return "the file is empty (zero length)"
        if head != _HEADER:
            return "the file is not an SQLite database (overwritten?)"
        try:
            con = sqlite3.connect(f"file:{self.path}?mode=rw", uri=True, timeout=60.0)
            try:
                rows = con.execute("PRAGMA quick_check").fetchall()
            finally:
                con.close()
        except sqlite3.Error as exc:
            if not _is_corruption(exc):
                raise StoreError(f"cannot open {self.path}: {exc} (check its permissions, free "
                                 f"space and file system)") from exc
            return f"SQLite reports {exc} (truncated or damaged)"
        if rows != [("ok",)]:
            return f"PRAGMA quick_check reports {'; '.join(str(r[0]) for r in rows[:3])}"
        return None

    def _open(self, create: bool) -> None:
        uri = f"file:{self.path}?mode={'rwc' if create else 'rw'}"
        self._con = sqlite3.connect(uri, uri=True, timeout=60.0)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute("PRAGMA synchronous=NORMAL")
        version = int(self._con.execute("PRAGMA user_version").fetchone()[0])
        tables = {r[0] for r in self._con.execute(
            "SELECT name FROM sqlite_master WHERE type='table'")}
        if version > SCHEMA_VERSION:
            self._close_quietly()
            raise StoreVersionError(
                f"{self.path} has store schema {version}, newer than this depthcheck's "
                f"{SCHEMA_VERSION}: use the depthcheck that wrote it, or another --out")
        if "tasks" in tables and version < SCHEMA_VERSION:
            self._migrate(version)
        elif "tasks" not in tables:
            with self._con:
                self._con.execute(_SCHEMA)
                self._con.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _migrate(self, version: int) -> None:
        """Schema 1 -> 2: add the checksum column; rows whose evidence decodes get the checksum
        of their bytes, the others are deleted (the next run recomputes them)."""
        cols = {r[1] for r in self._con.execute("PRAGMA table_info(tasks)")}
        if version != 0 or cols != {*_KEY_COLUMNS, "n_trials", "evidence", "elapsed_s",
                                    "finished_at"}:
            raise StoreCorruptError(
                f"{self.path} holds a tasks table of unknown layout (schema {version}, columns "
                f"{sorted(cols)}): move it away and rerun to recompute the evidence")
        with self._con:
            self._con.execute("ALTER TABLE tasks ADD COLUMN checksum TEXT NOT NULL DEFAULT ''")
            rows = self._con.execute("SELECT rowid, evidence FROM tasks").fetchall()
            for rowid, blob in rows:
                try:
                    unpack_evidence(bytes(blob))
                except Exception:
                    self._con.execute("DELETE FROM tasks WHERE rowid=?", (rowid,))
                    self.migrated_dropped += 1
                    continue
                self._con.execute("UPDATE tasks SET checksum=? WHERE rowid=?",
                                  (evidence_checksum(bytes(blob)), rowid))
            self._con.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _quarantine(self, why: str) -> None:
        stamp = _utc_stamp()
        target = self.path.with_name(f"{STORE_NAME}.corrupt-{stamp}")
        n = 1
        while target.exists():
            n += 1
            target = self.path.with_name(f"{STORE_NAME}.corrupt-{stamp}-{n}")
        for suffix in ("-wal", "-shm"):
            side = self.path.with_name(STORE_NAME + suffix)
            if side.exists():
                os.replace(side, target.with_name(target.name + suffix))
        os.replace(self.path, target)
        self.quarantined, self.quarantine_reason = target, why

    def _close_quietly(self) -> None:
        if self._con is not None:
            try:
                self._con.close()
            except sqlite3.Error:
                pass
            self._con = None

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ rows

    def _query(self, sql: str, args: tuple):
        try:
            return self._con.execute(sql, args)
        except sqlite3.Error as exc:
            if _is_corruption(exc):
                raise StoreCorruptError(
                    f"{self.path} was damaged while in use ({exc}): rerun the same command to "
                    f"set it aside and recompute the evidence") from exc
            raise StoreError(f"cannot read {self.path}: {exc}") from exc

    def put(self, key: TaskKey, n_trials: int, evidence: bytes, elapsed_s: float) -> None:
        """Record a finished task with the checksum of its evidence (committed at once)."""
        try:
            with self._con:
                self._con.execute(
                    "INSERT OR REPLACE INTO tasks (claim_id, variant, chunk, mode, seed, backend, "
                    "config_hash, n_trials, evidence, elapsed_s, finished_at, checksum) VALUES "
                    "(?,?,?,?,?,?,?,?,?,?,?,?)",
                    (*key.values(), int(n_trials), sqlite3.Binary(evidence), float(elapsed_s),
                     time.time(), evidence_checksum(evidence)))
        except sqlite3.Error as exc:
            cls = StoreCorruptError if _is_corruption(exc) else StoreError
            raise cls(f"cannot write to {self.path} ({exc}); the tasks stored so far are kept: "
                      f"free space or fix the file, then rerun the same command") from exc

    def get(self, key: TaskKey) -> StoredTask | None:
        """The stored task, or None when absent *or corrupt* (its evidence does not match its
        checksum; the key is then appended to :attr:`corrupt`)."""
        row = self._query(f"SELECT n_trials, evidence, elapsed_s, checksum FROM tasks WHERE "
                          f"{_WHERE}", key.values()).fetchone()
        if row is None:
            return None
        blob = bytes(row[1])
        if evidence_checksum(blob) != row[3]:
            if key not in self.corrupt:
                self.corrupt.append(key)
            return None
        return StoredTask(key, int(row[0]), blob, float(row[2]))

    def has(self, key: TaskKey) -> bool:
        """Whether a task is stored with intact evidence (a corrupt row counts as absent)."""
        return self.get(key) is not None

    def has_other_version(self, key: TaskKey) -> bool:
        """Whether the store holds this task computed with another configuration hash (other
        parameters, chunk layout or code): stale evidence that the runner will not reuse."""
        return self._query(
            "SELECT 1 FROM tasks WHERE claim_id=? AND variant=? AND chunk=? AND mode=? AND "
            "seed=? AND backend=? AND config_hash<>?", key.values()).fetchone() is not None

    def count(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM tasks", ()).fetchone()[0])
