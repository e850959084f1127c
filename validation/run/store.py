"""SQLite store of finished tasks: what makes an interrupted run resumable.

One row per finished task, keyed by (claim id, variant, chunk, mode, seed, backend, config hash),
holding the task's evidence as ``.npz`` bytes and its timing. Rows are written by the main
process only, one transaction per task as it finishes, in WAL mode, so a crash or Ctrl-C loses at
most the tasks still running; rerunning the same command skips every stored task.
"""
from __future__ import annotations

import io
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["TaskKey", "StoredTask", "Store", "STORE_NAME", "pack_evidence", "unpack_evidence"]

STORE_NAME = "store.sqlite"

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
    PRIMARY KEY (claim_id, variant, chunk, mode, seed, backend, config_hash)
)
"""


@dataclass(frozen=True)
class TaskKey:
    claim_id: str
    variant: str        # "claim" | "control"
    chunk: int
    mode: str           # "quick" | "full"
    seed: int
    backend: str
    config_hash: str


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


class Store:
    """The task store of one output directory (``DIR/store.sqlite``)."""

    def __init__(self, directory: str | Path):
        self.path = Path(directory) / STORE_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._con = sqlite3.connect(self.path, timeout=60.0)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute("PRAGMA synchronous=NORMAL")
        self._con.execute(_SCHEMA)
        self._con.commit()

    def close(self) -> None:
        self._con.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def put(self, key: TaskKey, n_trials: int, evidence: bytes, elapsed_s: float) -> None:
        """Record a finished task (committed immediately)."""
        with self._con:
            self._con.execute(
                "INSERT OR REPLACE INTO tasks VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (key.claim_id, key.variant, key.chunk, key.mode, key.seed, key.backend,
                 key.config_hash, int(n_trials), sqlite3.Binary(evidence), float(elapsed_s),
                 time.time()))

    def get(self, key: TaskKey) -> StoredTask | None:
        row = self._con.execute(
            "SELECT n_trials, evidence, elapsed_s FROM tasks WHERE claim_id=? AND variant=? AND "
            "chunk=? AND mode=? AND seed=? AND backend=? AND config_hash=?",
            (key.claim_id, key.variant, key.chunk, key.mode, key.seed, key.backend,
             key.config_hash)).fetchone()
        return None if row is None else StoredTask(key, int(row[0]), bytes(row[1]), float(row[2]))

    def has(self, key: TaskKey) -> bool:
        return self._con.execute(
            "SELECT 1 FROM tasks WHERE claim_id=? AND variant=? AND chunk=? AND mode=? AND "
            "seed=? AND backend=? AND config_hash=?",
            (key.claim_id, key.variant, key.chunk, key.mode, key.seed, key.backend,
             key.config_hash)).fetchone() is not None

    def has_other_version(self, key: TaskKey) -> bool:
        """Whether the store holds this task computed with another configuration hash (other
        parameters, chunk layout or code): stale evidence that the runner will not reuse."""
        return self._con.execute(
            "SELECT 1 FROM tasks WHERE claim_id=? AND variant=? AND chunk=? AND mode=? AND "
            "seed=? AND backend=? AND config_hash<>?",
            (key.claim_id, key.variant, key.chunk, key.mode, key.seed, key.backend,
             key.config_hash)).fetchone() is not None

    def count(self) -> int:
        return int(self._con.execute("SELECT COUNT(*) FROM tasks").fetchone()[0])
