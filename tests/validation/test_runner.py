"""Tests of the runner, store, report and CLI on the toy claims of tests.validation.toyclaims."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from depthcheck.validation import bench

from depthcheck.validation.run import cli

from depthcheck.validation.run import registry

from depthcheck.validation.run import runner
from depthcheck.validation.claims.claim import Claim, chunk_sizes, config_hash
from depthcheck.validation.run.store import Store

TOY = "tests.validation.toyclaims"
MODS = [TOY]
GOOD = ["toy.mean", "toy.slope", "toy.broken"]
ROOT = Path(__file__).resolve().parents[2]
KEYS = {"id", "source", "control", "verdict", "statistic", "ci", "prediction", "trials", "config",
        "alpha", "detail", "extra", "status", "title", "module"}


@pytest.fixture(scope="module", autouse=True)
def _only_toy_claims():
    """Isolate these tests from the suite's claim modules (their import time and their bugs)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(registry, "CLAIM_MODULES", [])
        yield


def _run(out, patterns=GOOD, **kw):
    kw.setdefault("progress", False)
    return runner.run(patterns, out=out, modules=MODS, **kw)


def _bytes(out):
    return (Path(out) / "results.json").read_bytes()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted in-process run of the well-behaved toy claims (with figures)."""
    out = tmp_path_factory.mktemp("ref")
    return _run(out)


def test_results_schema_verdicts_and_broken(reference):
    recs = json.loads(_bytes(reference.out))
    assert [(r["id"], r["control"]) for r in recs] == [(i, c) for i in GOOD for c in (False, True)]
    for r in recs:
        assert KEYS <= set(r)
        assert r["verdict"] in ("PASS", "FAIL", "INCONCLUSIVE")
        assert len(r["ci"]) == 2 and r["ci"][0] <= r["statistic"] <= r["ci"][1]
        assert r["alpha"] == 1e-5 and r["trials"] == r["config"]["trials"]
    by = {(r["id"], r["control"]): r for r in recs}
    assert by["toy.mean", False]["verdict"] == "PASS" and by["toy.mean", True]["verdict"] == "FAIL"
    assert by["toy.mean", True]["config"]["mu"] == 0.5
    assert by["toy.mean", False]["status"] == "OK"
    assert by["toy.slope", False]["verdict"] == "PASS" and by["toy.slope", True]["verdict"] == "FAIL"
    # a control that passes marks its claim BROKEN, and the run's exit code says so
    assert by["toy.broken", True]["verdict"] == "PASS"
    assert by["toy.broken", False]["status"] == "BROKEN"
    assert reference.exit_code == 1
    assert reference.executed == 24 and reference.reused == 0


def test_report_and_figures(reference):
    md = (reference.out / "report.md").read_text()
    assert "| claim | verdict | statistic | CI | prediction | trials | control |" in md
    assert "| toy.broken | BROKEN (PASS) |" in md and "FAIL (ok)" in md
    assert "![toy.mean](figures/toy_mean.png)" in md
    assert (reference.out / "figures" / "toy_mean.png").stat().st_size > 1000
    assert "E X = 0 for X ~ N(0, 1)" in md and "draws from N(0.5, 1)" in md
    assert "This run judged 3 statements (budget 100)." in md


def test_rerun_reuses_everything(reference, tmp_path):
    res = _run(reference.out)
    assert res.executed == 0 and res.reused == 24
    assert _bytes(res.out) == _bytes(reference.out)


def test_resume_after_interrupt_is_identical(reference, tmp_path, monkeypatch):
    calls = []
    real = runner.execute_task

    def flaky(spec):
        calls.append(spec)
        if len(calls) == 7:
            raise KeyboardInterrupt
        return real(spec)

    monkeypatch.setattr(runner, "execute_task", flaky)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, figures=False)
    with Store(tmp_path) as s:
        assert s.count() == 6  # every task finished before the interrupt is stored
    assert not (tmp_path / "results.json").exists()
    monkeypatch.setattr(runner, "execute_task", real)
    res = _run(tmp_path, figures=False)
    assert res.executed == 18 and res.reused == 6
    assert _bytes(tmp_path) == _bytes(reference.out)


def test_workers_pool_identical(reference, tmp_path):
    res = _run(tmp_path, workers=2, figures=False)
    assert res.executed == 24
    assert _bytes(tmp_path) == _bytes(reference.out)


def test_dask_local_cluster_identical(reference, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        res = _run(tmp_path, scheduler=cluster.scheduler_address, figures=False)
    assert res.executed == 24
    assert _bytes(tmp_path) == _bytes(reference.out)


def test_results_do_not_depend_on_selection(reference, tmp_path):
    _run(tmp_path, ["toy.mean"], figures=False)
    alone = json.loads(_bytes(tmp_path))
    full = [r for r in json.loads(_bytes(reference.out)) if r["id"] == "toy.mean"]
    assert alone == full


def test_seed_changes_evidence(reference, tmp_path):
    _run(tmp_path, ["toy.mean"], seed=1, figures=False)
    other = json.loads(_bytes(tmp_path))[0]
    ref = json.loads(_bytes(reference.out))[0]
    assert other["statistic"] != ref["statistic"]


def test_chunk_seeds_and_layout():
    a = runner.chunk_seed(0, "toy.mean", "claim", 2, 4).generate_state(4)
    assert np.array_equal(a, runner.chunk_seed(0, "toy.mean", "claim", 2, 9).generate_state(4))
    others = [runner.chunk_seed(0, "toy.mean", "claim", 1, 4), runner.chunk_seed(1, "toy.mean",
              "claim", 2, 4), runner.chunk_seed(0, "toy.mean", "control", 2, 4),
              runner.chunk_seed(0, "toy.slope", "claim", 2, 4)]
    for o in others:
        assert not np.array_equal(a, o.generate_state(4))
    assert chunk_sizes({"trials": 10, "chunk": 4}) == [4, 4, 2]
    assert chunk_sizes({"trials": 10}) == [3, 3, 3, 1]
    assert chunk_sizes({"trials": 1}) == [1]
    assert config_hash({"a": 1, "b": [1, 2]}) == config_hash({"b": [1, 2], "a": 1})


def test_nonfinite_evidence_is_an_error_naming_claim_config_and_seed(tmp_path):
    res = _run(tmp_path, ["toybad.nan"], figures=False)
    claim_rec = res.records[0]
    assert claim_rec["status"] == "ERROR" and claim_rec["verdict"] == "ERROR"
    msg = claim_rec["detail"]
    assert "non-finite evidence 'x'" in msg and "1 NaN" in msg and "toybad.nan" in msg
    assert "SeedSequence(entropy=[0, crc32('toybad.nan')" in msg and '"poison": true' in msg
    assert res.records[1]["verdict"] == "FAIL"  # the clean control still ran
    assert res.exit_code == 1
    assert "toybad.nan [claim]" in (tmp_path / "errors.log").read_text()


def test_allowed_inf_and_simulate_errors(tmp_path):
    res = _run(tmp_path, ["toybad.inf_allowed", "toybad.raises"], figures=False)
    by = {(r["id"], r["control"]): r for r in res.records}
    assert by["toybad.inf_allowed", False]["verdict"] == "PASS"
    assert by["toybad.inf_allowed", True]["verdict"] == "FAIL"
    err = by["toybad.raises", False]
    assert err["status"] == "ERROR" and "ArithmeticError in simulate" in err["detail"]
    assert "toy failure" in err["detail"] and err["ci"] == [None, None]
    assert "Traceback" in (tmp_path / "errors.log").read_text()


def test_registry_selection_and_errors():
    ids = [c.id for c in registry.all_claims(MODS)]
    assert ids[:3] == GOOD
    assert [c.id for c in registry.select(["toy."], MODS)] == GOOD
    assert [c.id for c in registry.select(["toybad.*f*"], MODS)] == ["toybad.inf_allowed"]
    assert registry.module_of("toy.mean", MODS) == TOY
    with pytest.raises(ValueError, match="unknown claim id or prefix 'nope'.*toy.mean"):
        registry.select(["nope"], MODS)
    with pytest.raises(ValueError, match="claim module 'no_such_module_xyz' not found"):
        registry.all_claims(["no_such_module_xyz"])
    with pytest.raises(ValueError, match="defined twice"):
        _dup()


def _dup():
    import types
    mod = types.ModuleType("tests.validation._dup_claims")
    from tests.validation import toyclaims
    mod.CLAIMS = [toyclaims.MEAN]
    sys.modules[mod.__name__] = mod
    try:
        registry.entries([TOY, mod.__name__])
    finally:
        del sys.modules[mod.__name__]


def test_claim_validation():
    from tests.validation.toyclaims import MEAN
    kw = {f: getattr(MEAN, f) for f in MEAN.__dataclass_fields__}
    with pytest.raises(ValueError, match="trials"):
        Claim(**{**kw, "quick": {"mu": 0.0}})
    with pytest.raises(ValueError, match="group.name"):
        Claim(**{**kw, "id": "nodot"})
    with pytest.raises(ValueError, match="control"):
        Claim(**{**kw, "control": {}})
    with pytest.raises(ValueError, match="JSON"):
        Claim(**{**kw, "full": {"trials": 3, "x": object()}})
    assert MEAN.config("quick", control=True)["mu"] == 0.5


def test_run_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="backend"):
        _run(tmp_path, backend="torch")
    with pytest.raises(ValueError, match="exclusive"):
        _run(tmp_path, workers=2, scheduler="tcp://127.0.0.1:1")
    with pytest.raises(ValueError, match="unknown claim"):
        _run(tmp_path, ["nope"])


# --------------------------------------------------------------------------------------- CLI

def test_cli_list_run_report(tmp_path, capsys):
    assert cli.main(["list", "--module", TOY]) == 0
    out = capsys.readouterr().out
    assert "toy.mean" in out and "The mean of N(0, 1) is 0" in out and "[textbook" in out

    rc = cli.main(["run", "toy.mean", "toy.slope", "--module", TOY, "--out", str(tmp_path),
                   "--no-progress", "--seed", "3"])
    out = capsys.readouterr().out
    assert rc == 0  # both claims ran and both controls failed
    assert "toy.mean" in out and "FAIL (ok)" in out and "16 tasks run, 0 reused" in out
    (tmp_path / "report.md").unlink()
    assert cli.main(["report", str(tmp_path)]) == 0
    assert "| toy.slope | PASS |" in (tmp_path / "report.md").read_text()
    assert (tmp_path / "figures" / "toy_mean.png").exists()

    assert cli.main(["run", "toy.broken", "--module", TOY, "--out", str(tmp_path / "b"),
                     "--no-progress", "--no-figures"]) == 1
    assert cli.main(["run", "nope", "--module", TOY, "--out", str(tmp_path / "c")]) == 2
    assert "unknown claim id or prefix 'nope'" in capsys.readouterr().err
    assert cli.main(["report", str(tmp_path / "nothing")]) == 2


def test_cli_bench(tmp_path, capsys):
    assert "depthcheck.validation.bench.weingarten" in bench.BENCH_MODULES
    f = tmp_path / "bench.json"
    assert cli.main(["bench", "--quick", "--json", str(f), TOY]) == 0
    rows = json.loads(f.read_text())
    assert rows[0]["workload"] == "64x64 matmul" and set(bench.ROW_KEYS) <= set(rows[0])
    assert "workload" in capsys.readouterr().out
    assert cli.main(["bench", "no_such_bench_module"]) == 2
    assert "benchmark module 'no_such_bench_module' not found" in capsys.readouterr().err


def test_cli_help_subprocess():
    out = subprocess.run([sys.executable, "-m", "validation", "run", "--help"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0
    for flag in ("--quick", "--full", "--seed", "--out", "--backend", "--workers", "--scheduler",
                 "exit status"):
        assert flag in out.stdout


def test_task_error_survives_pickling():
    import pickle
    e = pickle.loads(pickle.dumps(runner.TaskError("claim x failed", "Traceback: ...")))
    assert isinstance(e, runner.TaskError) and str(e) == "claim x failed"
    assert e.tb == "Traceback: ..."
