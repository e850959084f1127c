"""run --estimate: planned tasks and expected time per claim from one stored pilot chunk."""
import pytest

from depthcheck.validation.run import cli, estimate, runner

MODS = ["tests.validation.toyclaims"]


def test_estimate_plans_every_task_and_its_pilot_is_reused(tmp_path):
    rows = estimate.estimate(["toy.mean", "toy.slope"], out=tmp_path, modules=MODS)
    by = {r["claim"]: r for r in rows}
    # toy.mean: claim + control + one simulating mutation, 4 chunks of 500 each
    assert by["toy.mean"]["tasks"] == 12 and by["toy.mean"]["trials"] == 6000
    assert by["toy.mean"]["pilot_trials"] == 500
    assert all(r["expected_s"] >= r["pilot_s"] >= 0 for r in rows)
    again = estimate.estimate(["toy.mean"], out=tmp_path, modules=MODS)   # pilot from the store
    assert again[0]["pilot_s"] == by["toy.mean"]["pilot_s"]
    res = runner.run(["toy.mean", "toy.slope"], out=tmp_path, modules=MODS, progress=False,
                     figures=False)
    assert res.reused == 2                     # the two pilots, not recomputed
    text = estimate.format_estimate(rows, workers=2)
    assert "toy.mean" in text and "on 2 workers" in text


def test_estimate_refuses_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="seed"):
        estimate.estimate(["toy.mean"], seed=2**63, out=tmp_path, modules=MODS)
    with pytest.raises(ValueError, match="not supported"):
        estimate.estimate(["toy.mean"], backend="numba", out=tmp_path, modules=MODS)


def test_cli_estimate_stops_after_the_table(tmp_path, capsys):
    rc = cli.main(["run", "toy.slope", "--module", MODS[0], "--estimate", "--out",
                   str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0 and "expected" in out and "toy.slope" in out
    assert not (tmp_path / "results.json").exists()


def test_pilot_runs_on_the_threads_of_a_pool_worker(tmp_path, monkeypatch):
    numba = pytest.importorskip("numba")
    from depthcheck.validation.run import executors
    seen = []
    real = estimate.execute_task

    def spy(spec):
        seen.append(numba.get_num_threads())
        return real(spec)

    monkeypatch.setattr(estimate, "execute_task", spy)
    before = numba.get_num_threads()
    for workers in (1, 2):
        estimate.estimate(["toy.mean"], out=tmp_path / str(workers), modules=MODS,
                          workers=workers)
    assert seen == [min(executors.numba_threads_per_worker(w), numba.config.NUMBA_NUM_THREADS)
                    for w in (1, 2)]
    assert numba.get_num_threads() == before          # restored after the pilot
    with pytest.raises(ValueError, match="workers"):
        estimate.estimate(["toy.mean"], out=tmp_path / "x", modules=MODS, workers=0)
