"""Stored evidence is reused only when the claim's parameters *and* code are unchanged."""
import shutil
import sys
import textwrap

import pytest

from depthcheck.validation.run import fingerprint, runner

CLAIM_SRC = textwrap.dedent("""
    import numpy as np
    from depthcheck.validation.claims.claim import Claim, Mutation, Sensitivity
    from depthcheck.validation.claims.stats import judge_within, mean_ci

    SCALE = {scale}

    def simulate(cfg, rng, n, backend):
        return {{"x": SCALE * rng.normal(0.0, 1.0, size=n) + cfg["mu"]}}

    def judge(cfg, pred, ev, alpha):
        return judge_within(mean_ci(ev["x"], alpha), None, -0.2, 0.2, alpha=alpha)

    CLAIMS = [Claim(id="mine.mean", title="t", source="s", statement="E X = 0",
                    assumptions="iid", quick={{"mu": 0.0}}, trials=400, chunk=100,
                    predict=lambda cfg: 0.0, simulate=simulate, judge=judge,
                    control={{"mu": 1.0}}, control_description="shifted",
                    sensitivity=Sensitivity(0.4, "mean", "twice the band"),
                    mutations=[Mutation("m", "shifted by 0.4",
                                        transform=lambda c, e: {{"x": e["x"] + 0.4}})])]
""")


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    monkeypatch.syspath_prepend(str(src))

    def write(scale):
        (src / "my_fp_claims.py").write_text(CLAIM_SRC.format(scale=scale))
        sys.modules.pop("my_fp_claims", None)
        fingerprint.code_fingerprint.cache_clear()
    write(1.0)
    yield write
    sys.modules.pop("my_fp_claims", None)
    fingerprint.code_fingerprint.cache_clear()


def test_editing_a_claims_simulate_invalidates_its_evidence(user_module, tmp_path):
    kw = dict(out=tmp_path / "run", modules=["my_fp_claims"], progress=False, figures=False)
    first = runner.run(["mine.mean"], **kw)
    assert first.executed == 8 and not first.stale
    again = runner.run(["mine.mean"], **kw)
    assert again.executed == 0 and again.reused == 8
    user_module(3.0)                                   # the user's edit: every draw tripled
    edited = runner.run(["mine.mean"], **kw)
    assert edited.executed == 8 and edited.reused == 0 and edited.stale == ["mine.mean"]
    assert edited.records[0]["ci"] != first.records[0]["ci"]
    fresh = runner.run(["mine.mean"], fresh=True, **kw)
    assert fresh.executed == 8 and fresh.records == edited.records


def test_package_fingerprint_covers_the_theory_sources(tmp_path, monkeypatch):
    import depthcheck.theory as th
    from pathlib import Path
    copy = tmp_path / "theory"
    shutil.copytree(Path(th.__file__).parent, copy)
    monkeypatch.setattr(fingerprint, "_package_dirs", lambda: [("theory", copy)])
    fingerprint.package_fingerprint.cache_clear()
    before = fingerprint.package_fingerprint()
    iso = copy / "isometry.py"
    iso.write_text(iso.read_text().replace("return", "return 3 *", 1))   # "multiply φ by 3"
    fingerprint.package_fingerprint.cache_clear()
    after = fingerprint.package_fingerprint()
    (copy / "notes.txt").write_text("not python")                   # non-source: ignored
    fingerprint.package_fingerprint.cache_clear()
    assert before != after == fingerprint.package_fingerprint()
    fingerprint.package_fingerprint.cache_clear()


def test_seed_beyond_int64_is_refused_by_the_api(tmp_path):
    with pytest.raises(ValueError, match="seed must be at most 2\\*\\*63 - 1"):
        runner.run(["toy.mean"], seed=2**63, out=tmp_path, modules=["tests.validation.toyclaims"],
                   progress=False)
    assert not (tmp_path / "store.sqlite").exists()
