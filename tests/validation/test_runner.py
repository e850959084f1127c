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

from depthcheck.validation.run import runner, tasks
from depthcheck.validation.claims.claim import Claim, chunk_sizes, config_hash
from depthcheck.validation.run import report, results
from depthcheck.validation.run.store import Store

TOY = "tests.validation.toyclaims"
MODS = [TOY]
GOOD = ["toy.mean", "toy.slope", "toy.broken"]
ROOT = Path(__file__).resolve().parents[2]
#: the real registry, saved before the module fixture isolates these tests from it
_SUITE_MODULES = list(registry.CLAIM_MODULES)
_PLUGIN_MODULES = registry.plugin_modules
KEYS = {"id", "source", "control", "verdict", "statistic", "ci", "prediction", "trials", "chunk",
        "config",
        "alpha", "detail", "extra", "status", "title", "module"}


@pytest.fixture(scope="module", autouse=True)
def _only_toy_claims():
    """Isolate these tests from the suite's claim modules (their import time and their bugs)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(registry, "CLAIM_MODULES", [])
        mp.setattr(registry, "plugin_modules", lambda: [])
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
        assert r["alpha"] == 1e-5
        assert (r["trials"], r["chunk"]) == {"toy.mean": (2000, 500), "toy.slope": (200, 64),
                                             "toy.broken": (400, 100)}[r["id"]]
        assert not {"trials", "chunk", "allow_inf"} & set(r["config"])  # Claim fields, not config
    by = {(r["id"], r["control"]): r for r in recs}
    assert by["toy.mean", False]["verdict"] == "PASS" and by["toy.mean", True]["verdict"] == "FAIL"
    assert by["toy.mean", True]["config"]["mu"] == 0.5
    assert by["toy.mean", False]["status"] == "OK"
    assert by["toy.slope", False]["verdict"] == "PASS" and by["toy.slope", True]["verdict"] == "FAIL"
    # a control that passes marks its claim BROKEN, and the run's exit code says so
    assert by["toy.broken", True]["verdict"] == "PASS"
    assert by["toy.broken", False]["status"] == "BROKEN"
    assert reference.exit_code == 1
    assert reference.executed == 28 and reference.reused == 0


def test_report_and_figures(reference):
    md = (reference.out / "report.md").read_text()
    assert "| claim | verdict | statistic | CI | half-width | delta | prediction | trials | engine | control | mutations |" in md
    assert "| toy.broken | BROKEN (PASS) |" in md and "FAIL (ok)" in md
    assert "![toy.mean](figures/toy_mean.png)" in md
    assert (reference.out / "figures" / "toy_mean.png").stat().st_size > 1000
    assert "E X = 0 for X ~ N(0, 1)" in md and "draws from N(0.5, 1)" in md
    assert "This run judged 3 statements (budget 100)." in md


def test_rerun_reuses_everything(reference, tmp_path):
    res = _run(reference.out)
    assert res.executed == 0 and res.reused == 28
    assert _bytes(res.out) == _bytes(reference.out)


def test_resume_after_interrupt_is_identical(reference, tmp_path, monkeypatch):
    calls = []
    real = runner.execute_task

    def flaky(spec):
        calls.append(spec)
        if len(calls) == 7:
            raise KeyboardInterrupt
        return real(spec)

    monkeypatch.setattr(tasks, "execute_task", flaky)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, figures=False)
    with Store(tmp_path) as s:
        assert s.count() == 6  # every task finished before the interrupt is stored
    assert not (tmp_path / "results.json").exists()
    monkeypatch.setattr(tasks, "execute_task", real)
    res = _run(tmp_path, figures=False)
    assert res.executed == 22 and res.reused == 6
    assert _bytes(tmp_path) == _bytes(reference.out)


def test_workers_pool_identical(reference, tmp_path):
    res = _run(tmp_path, workers=2, figures=False)
    assert res.executed == 28
    assert _bytes(tmp_path) == _bytes(reference.out)


def test_dask_local_cluster_identical(reference, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        res = _run(tmp_path, scheduler=cluster.scheduler_address, figures=False)
    assert res.executed == 28
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
    assert chunk_sizes(10, 4) == [4, 4, 2]
    assert chunk_sizes(10) == [3, 3, 3, 1]
    assert chunk_sizes(1) == [1]
    from tests.validation.toyclaims import MEAN, SLOPE
    assert MEAN.chunk_sizes("quick") == [500] * 4 and MEAN.chunk_sizes("full") == [1000] * 4
    assert SLOPE.chunk_sizes("quick") == [64, 64, 64, 8] and SLOPE.n_trials("full") == 400
    assert config_hash({"a": 1, "b": [1, 2]}) == config_hash({"b": [1, 2], "a": 1})


def test_nonfinite_evidence_is_an_error_naming_claim_config_and_seed(tmp_path):
    res = _run(tmp_path, ["toybad.nan"], figures=False)
    claim_rec = res.records[0]
    assert claim_rec["status"] == "ERROR" and claim_rec["verdict"] == "ERROR"
    msg = claim_rec["detail"]
    assert "non-finite evidence 'x'" in msg and "1 NaN" in msg and "toybad.nan" in msg
    assert "SeedSequence(entropy=[0, crc32('toybad.nan')" in msg and '"poison": true' in msg
    assert "backend numpy" in msg
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
        Claim(**{**kw, "trials": 0})
    with pytest.raises(ValueError, match="exactly the keys"):
        Claim(**{**kw, "trials": {"quick": 3}})
    for key in ("trials", "chunk", "allow_inf"):   # runner directives are fields, not config
        with pytest.raises(ValueError, match="runner directives"):
            Claim(**{**kw, "quick": {**MEAN.quick, key: 3}})
    with pytest.raises(ValueError, match="backends"):
        Claim(**{**kw, "backends": ("torch",)})
    with pytest.raises(ValueError, match="backends"):
        Claim(**{**kw, "backends": "numpy"})
    with pytest.raises(ValueError, match="alias"):
        Claim(**{**kw, "aliases": ("toy.mean",)})
    with pytest.raises(ValueError, match="group.name"):
        Claim(**{**kw, "id": "nodot"})
    with pytest.raises(ValueError, match="control"):
        Claim(**{**kw, "control": {}})
    with pytest.raises(ValueError, match="JSON"):
        Claim(**{**kw, "full": {"x": object()}})
    assert MEAN.config("quick", control=True)["mu"] == 0.5
    # full = quick updated with the overrides in ``full``
    assert MEAN.config("full") == {"mu": 0.0, "band": 0.1}
    assert MEAN.config("full", control=True) == {"mu": 0.5, "band": 0.1}
    assert MEAN.seed_key == "toy.mean" and MEAN.backends == ("numpy",)


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
    assert "toy.mean" in out and "FAIL (ok)" in out and "20 tasks run, 0 reused" in out
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
    out = capsys.readouterr()
    assert "workload" in out.out
    # progress on stderr, one line before and one after each module (the table stays on stdout)
    assert f"bench [1/1] {TOY} (quick sizes) ..." in out.err
    assert f"bench [1/1] {TOY}: {len(rows)} rows in " in out.err
    assert "bench [" not in out.out
    assert cli.main(["bench", "no_such_bench_module"]) == 2
    assert "benchmark module 'no_such_bench_module' not found" in capsys.readouterr().err


def test_cli_help_subprocess():
    out = subprocess.run([sys.executable, "-m", "depthcheck", "run", "--help"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0
    for flag in ("--quick", "--full", "--seed", "--out", "--backend", "--workers", "--scheduler",
                 "exit status"):
        assert flag in out.stdout


def test_bench_help_states_the_bench_exit_statuses_not_the_runs(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "0  every benchmark module ran" in text and "every selected claim ran" not in text
    # the statuses it names are the ones the bench returns
    assert "3  --json FILE cannot be written" in text
    assert cli.main(["bench", "--json", str(tmp_path / "missing" / "b.json"), TOY]) == 3
    assert "2  bad usage: an unknown benchmark module" in text
    assert cli.main(["bench", "no_such_bench_module"]) == 2


def test_task_error_survives_pickling():
    import pickle
    e = pickle.loads(pickle.dumps(runner.TaskError("claim x failed", "Traceback: ...")))
    assert isinstance(e, runner.TaskError) and str(e) == "claim x failed"
    assert e.tb == "Traceback: ..."


# ------------------------------------------------------------- selection, aliases, backends

def test_exact_id_selects_exactly_that_claim_and_prefixes_end_at_dots():
    sel = lambda *p: [c.id for c in registry.select(list(p), MODS)]  # noqa: E731
    assert sel("toy.mean") == ["toy.mean"]
    assert sel("toy") == sel("toy.") == GOOD
    with pytest.raises(ValueError, match="unknown claim id or prefix 'toy.me'"):
        sel("toy.me")                 # not a dot boundary: no silent prefix match
    with pytest.raises(ValueError, match="unknown claim id or prefix 'to'"):
        sel("to")
    assert sel("toy.me*") == ["toy.mean"]
    # former ids (aliases) select like ids, as exact ids, group prefixes and globs
    assert sel("toyold.echo") == sel("toyold") == sel("toyold.*") == ["toyengine.echo"]
    assert registry.module_of("toyold.echo", MODS) == TOY
    assert registry.get_claim(TOY, "toyold.echo").id == "toyengine.echo"


def test_suite_ids_former_ids_and_exact_selection(monkeypatch):
    """The papers' claims are named by paper; their seed00N ids select the same claims."""
    monkeypatch.setattr(registry, "CLAIM_MODULES", _SUITE_MODULES)
    table = registry.entries()
    assert {cid.split(".")[0] for cid in table} == {"bn_orthogonal", "rank_collapse",
                                                   "linear_nets", "lcw"}
    former = {"seed001": "bn_orthogonal", "seed002": "rank_collapse", "seed003": "linear_nets",
              "seed000": "lcw"}
    first_release = {cid for cid, (_, c) in table.items() if c.aliases}
    for cid, (_, c) in table.items():
        if cid in first_release:     # the claims of the first release keep their former ids
            old_group, name = c.seed_key.split(".")
            assert c.aliases == (c.seed_key,) and cid == f"{former[old_group]}.{name}"
        else:                        # claims added later: no former id, seeded by their id
            assert c.aliases == () and c.seed_key == cid
    assert len(first_release) == 31
    sel = lambda p: [c.id for c in registry.select([p])]  # noqa: E731
    ids = [cid for cid in table if cid.startswith("bn_orthogonal.")]
    old_ids = [cid for cid in ids if cid in first_release]
    assert sel("bn_orthogonal.bounded_gradients") == ["bn_orthogonal.bounded_gradients"]
    assert sel("seed001.bounded_gradients") == ["bn_orthogonal.bounded_gradients"]
    assert sel("bn_orthogonal") == ids and sel("seed001") == sel("seed001.*") == old_ids
    assert sel("seed001.bounded_gradients*") == ["bn_orthogonal.bounded_gradients",
                                                "bn_orthogonal.bounded_gradients_centred"]
    # the deep-chain claims of Meterez et al. run on numba, fastest first, CUDA by name
    fig_chains = {f"bn_orthogonal.{n}" for n in (
        "isometry_decay", "isometry_decay_authors_C", "isometry_uniform_C",
        "isometry_plateau_n_lt_d", "bounded_gradients", "bounded_gradients_centred",
        "activation_shaping", "degenerate_input_explodes")}
    assert all(table[c][1].backends == ("numba", "numpy", "cuda") for c in fig_chains)


def test_unsupported_backend_is_refused_by_claim_id(tmp_path, capsys):
    with pytest.raises(ValueError, match=r"backend 'numba' is not supported by the selected "
                                         r"claims toy.mean \(supports numpy\); toy.slope"):
        _run(tmp_path, ["toy.mean", "toy.slope"], backend="numba")
    assert not (tmp_path / "store.sqlite").exists()       # refused before anything ran
    rc = cli.main(["run", "toy.mean", "--module", TOY, "--backend", "cuda", "--out",
                   str(tmp_path / "c"), "--no-progress"])
    assert rc == 2 and "not supported by the selected claim toy.mean" in capsys.readouterr().err
    # cupy is accepted as another name of cuda, and refused the same way
    assert cli.main(["run", "toy.mean", "--module", TOY, "--backend", "cupy", "--out",
                     str(tmp_path / "c")]) == 2
    assert "backend 'cuda'" in capsys.readouterr().err


def test_simulate_receives_the_declared_backend(tmp_path):
    res = _run(tmp_path, ["toyengine.echo"], backend="numba", figures=False)
    assert res.records[0]["verdict"] == "PASS" and res.records[0]["status"] == "OK"
    _, _, results_, _ = results.load_run(tmp_path, MODS)
    assert np.all(results_["toyengine.echo"][0].evidence["backend"] == 1)
    assert json.loads((tmp_path / "manifest.json").read_text())["backend"] == "numba"
    assert runner.resolve_backend("cupy") == "cuda"


def test_auto_runs_each_claim_on_its_fastest_engine_and_says_which(tmp_path):
    """The default backend ("auto") gives toyengine.echo (numpy, numba) the numba engine and
    toy.mean (numpy only) the numpy one; each record, the manifest's engines, the report and
    verdicts.csv name the engine; a named backend still runs every claim on it."""
    res = _run(tmp_path / "auto", ["toyengine.echo", "toy.mean"], figures=False)
    eng = {r["id"]: r["engine"] for r in res.records if not r["control"]}
    assert eng == {"toyengine.echo": "numba", "toy.mean": "numpy"}
    _, _, results_, _ = results.load_run(tmp_path / "auto", MODS)
    assert np.all(results_["toyengine.echo"][0].evidence["backend"] == 1)
    manifest = json.loads((tmp_path / "auto" / "manifest.json").read_text())
    assert manifest["backend"] == "auto"
    assert manifest["provenance"]["engines"] == eng
    md = (tmp_path / "auto" / "report.md").read_text()
    assert "| engine |" in md.replace(" engine |", " engine |") and "| numba |" in md
    csv_text = (tmp_path / "auto" / "verdicts.csv").read_text()
    assert ",numba," in csv_text and ",numpy," in csv_text
    ref = _run(tmp_path / "ref", ["toyengine.echo"], backend="numpy", figures=False)
    assert ref.records[0]["engine"] == "numpy"
    _, _, results_, _ = results.load_run(tmp_path / "ref", MODS)
    assert np.all(results_["toyengine.echo"][0].evidence["backend"] == 0)
    with pytest.raises(ValueError, match="backend"):
        runner.resolve_backend("fastest")


def _write_module(dirpath: Path, name: str, text: str) -> str:
    (dirpath / f"{name}.py").write_text(text)
    return name


def test_seed_key_keeps_a_renamed_claims_numbers(tmp_path, monkeypatch):
    """A claim renamed with seed_key = its former id reproduces the former id's numbers."""
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = _write_module(tmp_path, "renamed_toy_claims", (
        "import dataclasses\n"
        "from tests.validation.toyclaims import MEAN\n"
        "CLAIMS = [dataclasses.replace(MEAN, id='renamed.mean', seed_key='toy.mean',\n"
        "                              aliases=('toy.mean',))]\n"))
    new = runner.run(["renamed.mean"], out=tmp_path / "new", modules=[mod], progress=False,
                     figures=False)
    old = _run(tmp_path / "old", ["toy.mean"], figures=False)
    for a, b in zip(old.records, new.records):
        assert a["id"] == "toy.mean" and b["id"] == "renamed.mean"
        assert (a["statistic"], a["ci"], a["detail"]) == (b["statistic"], b["ci"], b["detail"])


def test_entry_point_group_registers_claim_modules(tmp_path, monkeypatch):
    """A distribution declaring ``[depthcheck.claims]`` in its entry points is discovered."""
    dist = tmp_path / "toyplugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toyplugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[depthcheck.claims]\ntoy = toyplugin_claims\n")
    _write_module(tmp_path, "toyplugin_claims", (
        "import dataclasses\n"
        "from tests.validation.toyclaims import MEAN\n"
        "CLAIMS = [dataclasses.replace(MEAN, id='plugin.mean')]\n"))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "plugin_modules", _PLUGIN_MODULES)
    assert registry.plugin_modules() == ["toyplugin_claims"]
    assert registry.module_of("plugin.mean") == "toyplugin_claims"
    assert [c.id for c in registry.select(["plugin"])] == ["plugin.mean"]
    (dist / "entry_points.txt").write_text("[depthcheck.claims]\ntoy = toyplugin_claims:CLAIMS\n")
    with pytest.raises(ValueError, match="must name a module"):
        registry.plugin_modules()


def test_report_finds_claims_of_extra_modules(tmp_path, monkeypatch, capsys):
    """``report --module``: a run whose recorded module moved is redrawn from --module."""
    monkeypatch.syspath_prepend(str(tmp_path))
    _write_module(tmp_path, "moving_claims", (
        "import dataclasses\n"
        "from tests.validation.toyclaims import MEAN\n"
        "CLAIMS = [dataclasses.replace(MEAN, id='moving.mean')]\n"))
    runner.run(["moving.mean"], out=tmp_path / "run", modules=["moving_claims"],
               progress=False, figures=False)
    recs = json.loads((tmp_path / "run" / "results.json").read_text())
    for r in recs:
        r["module"] = "no_longer_here"
    (tmp_path / "run" / "results.json").write_text(json.dumps(recs))
    assert cli.main(["report", str(tmp_path / "run"), "--no-figures"]) == 2
    assert "pass its module with --module" in capsys.readouterr().err
    assert cli.main(["report", str(tmp_path / "run"), "--no-figures", "--module",
                     "moving_claims"]) == 0
    assert "| moving.mean | PASS |" in (tmp_path / "run" / "report.md").read_text()
