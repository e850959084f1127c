"""The command line and the executors fail cleanly (issue 13, section 3): empty values and
out-of-range seeds are refused, file-system and store errors are one message with exit status 3,
a Dask address that is not a scheduler (or a cluster without workers) is exit status 4 within a
bounded time, pool workers die with the main process, and ``--strict`` gates on FAIL."""
import errno
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from depthcheck.validation import bench
from depthcheck.validation.run import cli, executors, registry
from depthcheck.validation.run.store import Store

TOY = "tests.validation.toyclaims"
CLITOY = "tests.validation.test_cli_errors_claims"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _only_toy_claims(monkeypatch):
    """Isolate these tests from the suite's claim modules (their import time and their bugs)."""
    monkeypatch.setattr(registry, "CLAIM_MODULES", [])
    monkeypatch.setattr(registry, "plugin_modules", lambda: [])


def _main(argv, capsys):
    """(exit status, stderr) of ``cli.main(argv)``, whether it returns or argparse exits."""
    try:
        rc = cli.main(argv)
    except SystemExit as exc:
        rc = exc.code
    return rc, capsys.readouterr().err


def _run(out, *extra, claims=("toy.mean",), module=TOY):
    return ["run", *claims, "--module", module, "--out", str(out), "--no-progress",
            "--no-figures", *extra]


def _no_traceback(err):
    assert "Traceback" not in err, err


# --------------------------------------------------------------------- 1. empty and bad values

@pytest.mark.parametrize("argv, what", [
    (["run", ""], "claim id"),
    (["run", "toy.mean", "--out", ""], "--out"),
    (["run", "toy.mean", "--scheduler", ""], "--scheduler"),
    (["run", "toy.mean", "--scheduler", "  "], "--scheduler"),
    (["run", "toy.mean", "--module", ""], "--module"),
    (["report", ""], "DIR"),
    (["bench", "--json", ""], "--json"),
])
def test_empty_values_are_refused(argv, what, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)     # an accepted '' would run or write here
    rc, err = _main(argv, capsys)
    assert rc == 2 and "empty" in err and what in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("seed", [str(2 ** 63), str(2 ** 64 + 5), "-1", "1.5"])
def test_seed_outside_sqlite_integers_is_refused(seed, capsys, tmp_path):
    rc, err = _main(_run(tmp_path / "o", "--seed", seed), capsys)
    assert rc == 2 and "--seed" in err
    assert not (tmp_path / "o").exists()


def test_largest_seed_is_accepted(capsys, tmp_path):
    rc, err = _main(_run(tmp_path, "--seed", str(2 ** 63 - 1)), capsys)
    assert rc == 0, err
    with sqlite3.connect(tmp_path / "store.sqlite") as con:
        assert {s for (s,) in con.execute("SELECT seed FROM tasks")} == {2 ** 63 - 1}


def test_workers_and_max_trials_must_be_positive(capsys, tmp_path):
    assert _main(_run(tmp_path, "--workers", "0"), capsys)[0] == 2
    assert _main(_run(tmp_path, "--max-trials", "-3", "--plan-trials"), capsys)[0] == 2


# --------------------------------------------------------------------- 2. file-system errors

def test_out_that_is_a_file(capsys, tmp_path):
    f = tmp_path / "f"
    f.write_text("not a directory")
    rc, err = _main(_run(f), capsys)
    assert rc == 3 and "is a file, not a directory" in err
    _no_traceback(err)
    rc, err = _main(_run(f / "sub" / "dir"), capsys)
    assert rc == 3 and f"{f} is a file" in err
    assert f.read_text() == "not a directory"


def test_out_on_a_read_only_file_system(capsys, tmp_path, monkeypatch):
    real_open = os.open

    def read_only(path, flags, *a, **k):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)
        return real_open(path, flags, *a, **k)

    monkeypatch.setattr(os, "open", read_only)
    rc, err = _main(_run(tmp_path), capsys)
    assert rc == 3 and "not writable" in err and "Read-only file system" in err
    _no_traceback(err)


def test_out_that_cannot_be_created(capsys, tmp_path, monkeypatch):
    def denied(self, *a, **k):
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", denied)
    rc, err = _main(_run(tmp_path / "new"), capsys)
    assert rc == 3 and "Permission denied" in err and str(tmp_path / "new") in err
    _no_traceback(err)


@pytest.mark.parametrize("exc", [OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)),
                                 sqlite3.OperationalError("database or disk is full")])
def test_disk_full_while_storing_keeps_finished_tasks(exc, capsys, tmp_path, monkeypatch):
    real_put = Store.put
    calls = []

    def put(self, *a, **k):
        if len(calls) == 3:
            raise exc
        calls.append(a)
        return real_put(self, *a, **k)

    monkeypatch.setattr(Store, "put", put)
    rc, err = _main(_run(tmp_path), capsys)
    assert rc == 3, err
    assert ("disk full" in err or "disk is full" in err) and "rerun the same command" in err
    _no_traceback(err)
    with sqlite3.connect(tmp_path / "store.sqlite") as con:
        assert con.execute("SELECT COUNT(*) FROM tasks").fetchone()[0] == 3
    monkeypatch.setattr(Store, "put", real_put)
    assert cli.main(_run(tmp_path)) == 0
    assert "3 reused" in capsys.readouterr().out


# --------------------------------------------------------------------- report errors

@pytest.fixture
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("finished")
    assert cli.main(_run(out)) == 0
    return out


def test_report_on_a_file_or_nothing_is_usage(capsys, tmp_path):
    f = tmp_path / "results.json"
    f.write_text("[]")
    for d in (f, tmp_path / "missing"):
        rc, err = _main(["report", str(d)], capsys)
        assert rc == 2 and str(d) in err
        _no_traceback(err)


@pytest.mark.parametrize("name, text, words", [
    ("results.json", '{"a": 1}', "must be a list of records"),
    ("results.json", '[{"id": "toy.mean"}]', "lacks"),
    ("results.json", "[1, 2]", "must be a list of records"),
    ("results.json", "{not json", "not valid JSON"),
    ("manifest.json", "[]", "manifest.json must be an object"),
])
def test_report_on_a_run_directory_of_the_wrong_schema(name, text, words, finished, capsys):
    (finished / name).write_text(text)
    rc, err = _main(["report", str(finished), "--no-figures"], capsys)
    assert rc == 3 and words in err
    _no_traceback(err)


def test_report_without_its_store_creates_none(finished, capsys):
    (finished / "store.sqlite").unlink()
    for f in finished.glob("store.sqlite-*"):
        f.unlink()
    rc, err = _main(["report", str(finished), "--no-figures"], capsys)
    assert rc == 3 and "store.sqlite is missing" in err
    assert not (finished / "store.sqlite").exists()


def test_report_on_a_corrupt_store(finished, capsys):
    for f in finished.glob("store.sqlite-*"):
        f.unlink()
    (finished / "store.sqlite").write_bytes(b"this is not an SQLite file" * 100)
    rc, err = _main(["report", str(finished), "--no-figures"], capsys)
    assert rc in (2, 3) and "store" in err
    _no_traceback(err)


# --------------------------------------------------------------------- bench --json

@pytest.mark.parametrize("where", ["no_such_dir/bench.json", "a_dir", "a_file/bench.json"])
def test_bench_json_path_is_checked_before_any_benchmark(where, capsys, tmp_path, monkeypatch):
    (tmp_path / "a_dir").mkdir()
    (tmp_path / "a_file").write_text("x")
    ran = []
    monkeypatch.setattr(bench, "run_benchmarks", lambda *a, **k: ran.append(1) or [])
    rc, err = _main(["bench", "--quick", "--json", str(tmp_path / where)], capsys)
    assert rc == 3 and "--json" in err and ran == []
    _no_traceback(err)


# --------------------------------------------------------------------- 3. Dask executors

class _FakeServer:
    """A TCP server on 127.0.0.1 that is not a Dask scheduler: it sends ``garbage``, closes
    each connection at once (``close``) or says nothing (``silent``)."""

    def __init__(self, kind):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.kind, self.conns = kind, []
        self.address = f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            if self.kind == "close":
                c.close()
                continue
            self.conns.append(c)
            if self.kind == "garbage":
                try:
                    c.sendall(b"\xff" * 64 + b"HTTP/1.1 200 OK\r\n\r\nnot dask" * 8)
                except OSError:
                    pass

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.fixture
def fake_server(request):
    s = _FakeServer(request.param)
    yield s
    s.close()


@pytest.mark.parametrize("fake_server", ["garbage", "close", "silent"], indirect=True)
def test_scheduler_that_is_not_dask_fails_promptly(fake_server, capsys, tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr(executors, "CONNECT_TIMEOUT_S", 2.0)
    t0 = time.monotonic()
    rc, err = _main(_run(tmp_path, "--scheduler", fake_server.address), capsys)
    assert rc == 4 and "is not a reachable Dask scheduler" in err and fake_server.address in err
    assert time.monotonic() - t0 < 10
    _no_traceback(err)


@pytest.mark.parametrize("fake_server", ["garbage"], indirect=True)
def test_garbage_scheduler_exits_promptly_without_traceback(fake_server, tmp_path):
    """In a fresh process: no MemoryError/ValueError traceback and no stall at exit."""
    pytest.importorskip("distributed")
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "depthcheck", *_run(tmp_path, "--scheduler",
                                                                 fake_server.address)],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert p.returncode == 4, p.stderr
    assert "is not a reachable Dask scheduler" in p.stderr
    assert "Traceback" not in p.stderr and "Exception ignored" not in p.stderr
    assert time.monotonic() - t0 < 15


def test_cluster_without_workers_fails_promptly(capsys, tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    monkeypatch.setattr(executors, "WORKER_TIMEOUT_S", 1.0)
    with distributed.LocalCluster(n_workers=0, processes=False,
                                  dashboard_address=None) as cluster:
        t0 = time.monotonic()
        rc, err = _main(_run(tmp_path, "--scheduler", cluster.scheduler_address), capsys)
    assert rc == 4 and "has no worker" in err
    assert time.monotonic() - t0 < 10


def test_cluster_that_loses_every_worker_fails_promptly(capsys, tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    monkeypatch.setattr(executors, "WORKER_TIMEOUT_S", 1.0)
    with distributed.LocalCluster(n_workers=1, processes=False, threads_per_worker=1,
                                  dashboard_address=None) as cluster:
        def lose_workers():
            # remove the worker from the scheduler the way a lost machine is removed
            for addr in list(cluster.scheduler.workers):
                cluster.sync(cluster.scheduler.remove_worker, addr, stimulus_id="test-lost",
                             close=False)
        threading.Timer(2.0, lose_workers).start()
        t0 = time.monotonic()
        rc, err = _main(_run(tmp_path, "--scheduler", cluster.scheduler_address,
                             claims=("clitoy.nap",), module=CLITOY), capsys)
        took = time.monotonic() - t0
    assert rc == 4 and "has had no worker" in err and "rerun the same command" in err
    assert took < 15


# --------------------------------------------------------------------- 4. orphaned pool workers

def _children(pid):
    kids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(d.name))
    return kids


def _alive(pid):
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find the workers")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_pool_workers_exit_with_the_main_process(sig, tmp_path):
    p = subprocess.Popen([sys.executable, "-m", "depthcheck",
                          *_run(tmp_path, "--workers", "2", claims=("clitoy.sleepy",),
                                module=CLITOY)],
                         cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        workers, deadline = [], time.monotonic() + 60
        while time.monotonic() < deadline:
            workers = [k for k in _children(p.pid)
                       if b"multiprocessing" in Path(f"/proc/{k}/cmdline").read_bytes()
                       and b"resource_tracker" not in Path(f"/proc/{k}/cmdline").read_bytes()]
            if len(workers) >= 2:
                break
            time.sleep(0.2)
        assert len(workers) >= 2, "the pool did not start"
        time.sleep(1.0)         # the workers have run their initializer and started tasks
        everyone = _children(p.pid)
        os.kill(p.pid, sig)
        p.wait(timeout=10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(_alive(k) for k in everyone):
            time.sleep(0.1)
        assert not [k for k in everyone if _alive(k)], "orphaned pool processes"
    finally:
        if p.poll() is None:
            p.kill()
        for k in _children(p.pid):
            os.kill(k, signal.SIGKILL)


# --------------------------------------------------------------------- 5. --strict

def test_strict_exits_1_on_a_claim_fail(capsys, tmp_path):
    argv = _run(tmp_path, claims=("clitoy.fails",), module=CLITOY)
    rc, err = _main(argv, capsys)
    assert rc == 0, err         # a FAIL is a finding by default
    rc, err = _main(argv + ["--strict"], capsys)
    assert rc == 1 and "FAIL (--strict): clitoy.fails" in err


def test_strict_passes_when_nothing_fails(capsys, tmp_path):
    rc, err = _main(_run(tmp_path, "--strict"), capsys)
    assert rc == 0, err


def test_help_documents_the_exit_statuses():
    text = cli.build_parser().format_help()
    for line in ("3  file-system or store error", "4  executor error", "--strict",
                 "130 interrupted"):
        assert line in text
    run_help = [a for a in cli.build_parser()._subparsers._group_actions[0].choices.items()]
    for name, sub in run_help:
        if name in ("run", "report"):
            assert "3  file-system or store error" in sub.format_help()
        if name == "bench":            # its own statuses: it runs no claim and has no store
            assert "3  --json FILE cannot be written" in sub.format_help()
            assert "130 interrupted" in sub.format_help()
