"""A run directory you can trust: checksummed evidence, damaged stores, locks, narrower reruns
and provenance (issue "A runner you can trust with your evidence", section 1 and provenance).

Every test here failed before the fix it guards."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

import pytest

from depthcheck.validation.run import registry, report, results, runner
from depthcheck.validation.run.lock import LOCK_NAME, DirectoryLockedError, RunLock, holder
from depthcheck.validation.run.provenance import git_state, provenance
from depthcheck.validation.run.store import (SCHEMA_VERSION, STORE_NAME, Store,
                                             StoreCorruptError, StoreMissingError,
                                             StoreVersionError, evidence_checksum)

TOY = "tests.validation.toyclaims"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", autouse=True)
def _only_toy_claims():
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(registry, "CLAIM_MODULES", [])
        mp.setattr(registry, "plugin_modules", lambda: [])
        yield


def _run(out, patterns=("toy.mean",), **kw):
    kw.setdefault("progress", False)
    kw.setdefault("figures", False)
    return runner.run(list(patterns), out=out, modules=[TOY], **kw)


def _bytes(out):
    return (Path(out) / "results.json").read_bytes()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref")
    return _run(out)


def _flip_bit(out, variant="claim", chunk=0, at=0.5):
    con = sqlite3.connect(Path(out) / STORE_NAME)
    with con:
        rowid, blob = con.execute("SELECT rowid, evidence FROM tasks WHERE claim_id='toy.mean' "
                                  "AND variant=? AND chunk=?", (variant, chunk)).fetchone()
        b = bytearray(blob)
        b[int(len(b) * at)] ^= 0x10
        con.execute("UPDATE tasks SET evidence=? WHERE rowid=?", (bytes(b), rowid))
    con.close()


# ------------------------------------------------------------------ checksummed rows

@pytest.mark.parametrize("at", [0.5, 0.99])     # in the data; in the zip directory
def test_flipped_bit_in_stored_evidence_is_recomputed_and_named(reference, tmp_path, at):
    _run(tmp_path)
    _flip_bit(tmp_path, at=at)
    with pytest.warns(runner.RunWarning, match="did not match its checksum.*toy.mean"):
        res = _run(tmp_path)
    assert res.executed == 1 and res.corrupt == ["toy.mean"]
    assert all(r["status"] == "OK" for r in res.records)
    assert _bytes(tmp_path) == _bytes(reference.out)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["store"]["recomputed_corrupt"] == ["toy.mean"]
    again = _run(tmp_path)                       # the recomputed row is whole again
    assert again.executed == 0 and again.corrupt == []


def test_every_row_carries_the_checksum_of_its_evidence(reference):
    con = sqlite3.connect(reference.out / STORE_NAME)
    rows = con.execute("SELECT evidence, checksum FROM tasks").fetchall()
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    con.close()
    assert rows and all(evidence_checksum(bytes(b)) == c for b, c in rows)


def test_report_names_corrupt_evidence(reference, tmp_path):
    _run(tmp_path)
    _flip_bit(tmp_path, variant="control", chunk=1)
    with pytest.raises(RuntimeError, match="corrupt.*checksum.*rerun"):
        report.regenerate(tmp_path, figures=False, modules=[TOY])


def _schema1_copy(src: Path, dst: Path, spoil_one: bool) -> None:
    """A store as depthcheck 0.2.0 wrote it (no checksum column, user_version 0)."""
    dst.mkdir()
    old = sqlite3.connect(dst / STORE_NAME)
    old.execute("""CREATE TABLE tasks (claim_id TEXT NOT NULL, variant TEXT NOT NULL,
        chunk INTEGER NOT NULL, mode TEXT NOT NULL, seed INTEGER NOT NULL, backend TEXT NOT NULL,
        config_hash TEXT NOT NULL, n_trials INTEGER NOT NULL, evidence BLOB NOT NULL,
        elapsed_s REAL NOT NULL, finished_at REAL NOT NULL,
        PRIMARY KEY (claim_id, variant, chunk, mode, seed, backend, config_hash))""")
    new = sqlite3.connect(src / STORE_NAME)
    rows = new.execute("SELECT claim_id, variant, chunk, mode, seed, backend, config_hash, "
                       "n_trials, evidence, elapsed_s, finished_at FROM tasks").fetchall()
    new.close()
    if spoil_one:
        r = list(rows[0])
        r[8] = b"PK" + bytes(len(r[8]) - 2)      # no longer an .npz
        rows[0] = tuple(r)
    with old:
        old.executemany("INSERT INTO tasks VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
    old.close()


def test_store_of_schema_1_is_migrated(reference, tmp_path):
    _schema1_copy(reference.out, tmp_path / "old", spoil_one=True)
    res = _run(tmp_path / "old")
    assert res.executed == 1 and res.reused == reference.executed - 1
    assert _bytes(tmp_path / "old") == _bytes(reference.out)
    con = sqlite3.connect(tmp_path / "old" / STORE_NAME)
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert all(evidence_checksum(bytes(b)) == c
               for b, c in con.execute("SELECT evidence, checksum FROM tasks"))
    con.close()


def test_store_of_a_newer_schema_is_refused(reference, tmp_path):
    _run(tmp_path)
    con = sqlite3.connect(tmp_path / STORE_NAME)
    con.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    con.close()
    with pytest.raises(StoreVersionError, match=f"{STORE_NAME}.*newer.*another --out"):
        _run(tmp_path)


# ------------------------------------------------------------------ a damaged store.sqlite

def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "zero":
        path.write_bytes(b"")
    elif how == "random":
        path.write_bytes(os.urandom(len(data)))
    elif how == "text":
        path.write_text("this is not a database\n" * 50)
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "header_only":
        path.write_bytes(data[:100])


DAMAGE = ["zero", "random", "text", "truncated", "header_only"]


@pytest.mark.parametrize("how", DAMAGE)
def test_damaged_store_is_quarantined_and_rebuilt_by_run(reference, tmp_path, how):
    _run(tmp_path)
    _damage(tmp_path / STORE_NAME, how)
    with pytest.warns(runner.RunWarning, match=f"{STORE_NAME} was damaged.*moved to"):
        res = _run(tmp_path)
    assert res.quarantined is not None and res.quarantined.name.startswith(
        f"{STORE_NAME}.corrupt-")
    assert res.quarantined.exists() and res.executed == reference.executed
    assert _bytes(tmp_path) == _bytes(reference.out)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["store"]["quarantined"] == res.quarantined.name


@pytest.mark.parametrize("how", DAMAGE)
def test_report_on_a_damaged_store_names_the_file_and_the_recovery(tmp_path, how):
    _run(tmp_path)
    _damage(tmp_path / STORE_NAME, how)
    before = (tmp_path / STORE_NAME).read_bytes()
    with pytest.raises(StoreCorruptError) as err:
        report.regenerate(tmp_path, figures=False, modules=[TOY])
    msg = str(err.value)
    assert str(tmp_path / STORE_NAME) in msg and "rerun" in msg
    assert (tmp_path / STORE_NAME).read_bytes() == before       # report changes nothing


def test_report_on_a_deleted_store_creates_nothing(tmp_path):
    _run(tmp_path)
    (tmp_path / STORE_NAME).unlink()
    with pytest.raises(StoreMissingError, match=f"{STORE_NAME} does not exist.*rerun"):
        report.regenerate(tmp_path, figures=False, modules=[TOY])
    assert not (tmp_path / STORE_NAME).exists()
    with pytest.raises(StoreMissingError):
        Store(tmp_path / "nowhere", create=False)
    assert not (tmp_path / "nowhere").exists()


def test_report_on_unreadable_results_is_a_clear_error(tmp_path):
    _run(tmp_path)
    (tmp_path / "results.json").write_text('[{"id": ')
    with pytest.raises(ValueError, match="results.json is not a readable results file"):
        report.regenerate(tmp_path, figures=False, modules=[TOY])


# ------------------------------------------------------------------ the directory lock

def test_a_locked_directory_refuses_a_second_run_naming_the_holder(tmp_path):
    with RunLock(tmp_path):
        info = json.loads((tmp_path / LOCK_NAME).read_text())
        assert info["pid"] == os.getpid() and info["host"] and info["started"]
        with pytest.raises(DirectoryLockedError, match=f"in use by another depthcheck run: "
                                                       f"pid {os.getpid()} on host"):
            _run(tmp_path)
        assert f"pid {os.getpid()}" in holder(tmp_path)
        with pytest.raises(DirectoryLockedError, match="being written by a run"):
            report.regenerate(tmp_path, figures=False, modules=[TOY])
    assert not (tmp_path / LOCK_NAME).exists() and holder(tmp_path) is None
    _run(tmp_path)
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_dead_holder_leaves_no_stale_lock(tmp_path):
    code = ("import sys, time; from depthcheck.validation.run.lock import RunLock; "
            "RunLock(sys.argv[1]).acquire(); print('held', flush=True); time.sleep(60)")
    p = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE,
                         text=True, cwd=ROOT)
    try:
        assert p.stdout.readline().strip() == "held"
        with pytest.raises(DirectoryLockedError, match=f"pid {p.pid}"):
            RunLock(tmp_path).acquire()
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    assert (tmp_path / LOCK_NAME).exists()            # left behind by kill -9 ...
    with RunLock(tmp_path):                           # ... but not held by anyone
        pass


def test_json_is_written_through_unique_temporary_files(tmp_path):
    path = tmp_path / "results.json"
    errors = []

    def writer(k):
        try:
            for i in range(150):
                results.write_json(path, {"writer": k, "i": i, "pad": "x" * 2000})
        except Exception as exc:          # a shared temporary name: FileNotFoundError
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert json.loads(path.read_text())["i"] == 149
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


# ------------------------------------------------------------------ narrower reruns

def test_narrower_rerun_keeps_the_earlier_claims_marked(tmp_path):
    first = _run(tmp_path, ["toy.mean", "toy.slope"], figures=True)
    earlier = {(r["id"], r["control"]): r for r in json.loads(_bytes(tmp_path))}
    run_id = json.loads((tmp_path / "manifest.json").read_text())["run_id"]
    (tmp_path / "figures" / "toy_mean.png").unlink()
    res = _run(tmp_path, ["toy.slope"], figures=True)
    assert res.carried == ["toy.mean"] and [r["id"] for r in res.records] == ["toy.slope"] * 2
    recs = json.loads(_bytes(tmp_path))
    assert [(r["id"], r["control"]) for r in recs] == [
        ("toy.slope", False), ("toy.slope", True), ("toy.mean", False), ("toy.mean", True)]
    for r in recs:
        if r["id"] == "toy.mean":
            mark = r.pop("carried_over")
            assert mark["run_id"] == run_id and mark["date"]
            assert r == earlier[(r["id"], r["control"])]
        else:
            assert "carried_over" not in r
    assert (tmp_path / "figures" / "toy_mean.png").stat().st_size > 1000    # redrawn
    assert "![toy.mean](figures/toy_mean.png)" in (tmp_path / "report.md").read_text()
    assert json.loads((tmp_path / "manifest.json").read_text())["carried_over"] == ["toy.mean"]
    before = _bytes(tmp_path)
    _run(tmp_path, ["toy.slope"])                     # carrying again changes nothing
    assert _bytes(tmp_path) == before
    assert first.exit_code == res.exit_code == 0


def test_rerun_with_another_seed_supersedes_the_earlier_outputs_visibly(tmp_path):
    _run(tmp_path, ["toy.mean", "toy.slope"], figures=True)
    with pytest.warns(runner.RunWarning, match="cannot be merged.*seed 0.*moved to"):
        res = _run(tmp_path, ["toy.slope"], seed=1, figures=True)
    assert res.carried == [] and res.superseded is not None
    assert not (tmp_path / "figures" / "toy_mean.png").exists()
    assert (res.superseded / "figures" / "toy_mean.png").exists()
    assert {r["id"] for r in json.loads(_bytes(tmp_path))} == {"toy.slope"}
    assert json.loads((res.superseded / "manifest.json").read_text())["seed"] == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["superseded"] == res.superseded.relative_to(tmp_path).as_posix()


def test_unreadable_earlier_results_are_superseded_not_a_traceback(tmp_path):
    _run(tmp_path)
    (tmp_path / "results.json").write_text("{ half a file")
    with pytest.warns(runner.RunWarning, match="cannot be merged.*not a readable"):
        res = _run(tmp_path)
    assert res.superseded is not None and res.executed == 0
    assert json.loads(_bytes(tmp_path))[0]["id"] == "toy.mean"


# ------------------------------------------------------------------ provenance

def test_manifest_holds_provenance_and_results_do_not(reference, tmp_path):
    res = _run(tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    p = manifest["provenance"]
    import depthcheck
    import numpy
    import scipy
    assert p["depthcheck"] == depthcheck.__version__
    assert p["libraries"]["numpy"] == numpy.__version__
    assert p["libraries"]["scipy"] == scipy.__version__
    assert "numba" in p["libraries"]
    assert p["python"].endswith(sys.version.split()[0])
    assert datetime.fromisoformat(p["date"]).utcoffset().total_seconds() == 0
    assert p["cpu"]["count"] == os.cpu_count() and p["cpu"]["model"]
    assert p["gpu"] == "none" or (isinstance(p["gpu"], list) and p["gpu"])
    assert p["backend"] == "auto" and p["engines"] == {"toy.mean": "numpy"}
    assert p["argv"] == sys.argv
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                          text=True)
    if head.returncode == 0:
        assert p["git"]["commit"] == head.stdout.strip()
        assert isinstance(p["git"]["dirty"], bool)
    assert _bytes(tmp_path) == _bytes(reference.out)      # results.json stays deterministic
    assert "provenance" not in _bytes(tmp_path).decode()
    assert res.exit_code == 0


def test_git_state_never_fails_outside_a_checkout(tmp_path, monkeypatch):
    assert git_state(tmp_path) is None                  # not a repository
    monkeypatch.setenv("PATH", str(tmp_path))           # no git at all
    assert git_state() is None
    assert provenance("numpy")["git"] is None


def test_a_store_that_cannot_be_opened_is_an_error_not_a_quarantine(tmp_path):
    (tmp_path / STORE_NAME).mkdir()                   # not a file: unreadable, not damaged
    with pytest.raises(RuntimeError, match=f"cannot read .*{STORE_NAME}"):
        _run(tmp_path)
    assert (tmp_path / STORE_NAME).is_dir()
    assert not list(tmp_path.glob(f"{STORE_NAME}.corrupt-*"))
